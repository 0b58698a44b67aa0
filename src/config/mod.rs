//! The TOML configuration: read with serde (`raw`), then checked into typed
//! settings (`check`) with every problem collected, so `check-config` can
//! report them all at once.

mod check;
mod raw;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::domain::collections::Policy;
use crate::domain::{EmailAddress, Rates, Schedule};

#[derive(Clone, Debug)]
pub struct Config {
    pub company: Company,
    pub database: Database,
    pub imap: Option<Imap>,
    pub smtp: Option<Smtp>,
    pub schedule: Schedule,
    pub collections: Policy,
    pub tiers: BTreeMap<String, Tier>,
    pub trust: Trust,
    pub oauth2: Option<OAuth2>,
    /// A folder of templates that replace the built-in ones of the same name.
    pub templates: Option<PathBuf>,
    /// `[export]`: billmail's lines mapped to the books' items and accounts.
    pub export: Option<crate::export::Mapping>,
    /// `[web]`: the console; None when the section is absent (no listener).
    pub web: Option<Web>,
}

/// `[web]`.
#[derive(Clone, Debug)]
pub struct Web {
    pub listen: std::net::SocketAddr,
    /// How long a login lasts (default 8 hours).
    pub session: std::time::Duration,
    /// `tls_cert` and `tls_key` (PEM): served over HTTPS by billmail itself.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Cookies marked Secure: on with `tls`, and set by hand behind a TLS proxy.
    pub secure_cookies: bool,
}

#[derive(Clone, Debug)]
pub struct Company {
    pub name: String,
    pub timezone: chrono_tz::Tz,
    pub currency: String,
    pub accounting_address: EmailAddress,
    pub services_team_address: Option<EmailAddress>,
    pub invoice_number_format: NumberFormat,
    pub payment_instructions: String,
    /// The postal address on the letterhead, a line each.
    pub address: Vec<String>,
    pub phone: Option<String>,
    /// An image for the letterhead (PNG, JPEG or SVG), resolved against the config's folder.
    pub logo: Option<PathBuf>,
}

impl Company {
    /// The domain of Message-IDs: the accounting address's.
    pub fn mail_domain(&self) -> &str {
        self.accounting_address.domain()
    }
}

#[derive(Clone, Debug)]
pub struct Database {
    /// The SQLite file, resolved against the config file's folder.
    pub path: PathBuf,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Security {
    Tls,
    StartTls,
    Plain,
}

/// Where a secret is read from, when it is needed (never logged, never kept in the config).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Secret {
    File(PathBuf),
    Env(String),
    /// A systemd credential (`LoadCredential=`): `$CREDENTIALS_DIRECTORY/NAME`.
    Credential(String),
}

/// How billmail proves who it is to a mail server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Auth {
    Password(Secret),
    /// SASL XOAUTH2 with a token from `[oauth2]`.
    OAuth2,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Provider {
    Microsoft,
    Google,
}

/// `[oauth2]`: where access tokens for XOAUTH2 come from.
#[derive(Clone, Debug)]
pub struct OAuth2 {
    pub provider: Provider,
    pub client_id: String,
    pub client_secret: Secret,
    /// Google: the stored refresh token. Microsoft uses client credentials.
    pub refresh_token: Option<Secret>,
    pub token_url: String,
    pub scope: String,
}

#[derive(Clone, Debug)]
pub struct Imap {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: String,
    pub auth: Auth,
    /// Extra CA certificates (PEM) trusted for this server, besides the public roots.
    pub ca_file: Option<PathBuf>,
    pub mailbox: String,
    pub processed_folder: String,
    pub review_folder: String,
    pub poll_interval: Duration,
    /// On the first connection to the mailbox, read what arrived since this
    /// date; None: read nothing already there (start at UIDNEXT).
    pub start: Option<chrono::NaiveDate>,
}

#[derive(Clone, Debug)]
pub struct Smtp {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: Option<String>,
    /// None: the server takes mail without logging in (a local relay).
    pub auth: Option<Auth>,
    /// Extra CA certificates (PEM) trusted for this server, besides the public roots.
    pub ca_file: Option<PathBuf>,
    pub from: String,
}

#[derive(Clone, Debug)]
pub struct Tier {
    pub label: String,
    pub rates: Rates,
}

#[derive(Clone, Debug)]
pub struct Trust {
    pub payment_senders: Vec<EmailAddress>,
    pub require_authentication: bool,
    /// billmail checks DKIM signatures itself (DNS).
    pub verify_dkim: bool,
    /// The authserv-ids of the organisation's own receiving servers, whose
    /// `Authentication-Results` may be believed (lower-cased).
    pub authserv_ids: Vec<String>,
    /// DNS servers for DKIM keys; empty: the system's resolver.
    pub dns_servers: Vec<std::net::SocketAddr>,
    /// Domains whose ARC seals may carry a forwarded message's proof
    /// (checked with `verify_dkim`).
    pub arc_sealers: Vec<String>,
    /// Domains besides the SMTP relay's and the company's whose servers may
    /// report our mail undelivered (Google's bounces come from googlemail.com).
    pub bounce_domains: Vec<String>,
}

/// `INV-{year}-{seq:04}`: literal text with a year and a zero-padded
/// sequence number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NumberFormat {
    parts: Vec<Part>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Text(String),
    Year,
    Seq(usize),
}

impl NumberFormat {
    pub fn parse(s: &str) -> Result<NumberFormat, String> {
        let mut parts = Vec::new();
        let mut rest = s;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_string()));
            }
            let close = rest[open..].find('}').ok_or_else(|| format!("unclosed '{{' in {s:?}"))? + open;
            let field = &rest[open + 1..close];
            parts.push(match field {
                "year" => Part::Year,
                "seq" => Part::Seq(0),
                _ => match field.strip_prefix("seq:") {
                    Some(w) if w.len() <= 2 && w.parse::<usize>().is_ok_and(|w| w <= 12) => {
                        Part::Seq(w.parse().unwrap_or(0))
                    }
                    _ => {
                        return Err(format!(
                            "unknown field {{{field}}} in {s:?} (use {{year}} and {{seq}} or {{seq:04}})"
                        ));
                    }
                },
            });
            rest = &rest[close + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        if rest.contains('}') || parts.iter().any(|p| matches!(p, Part::Text(t) if t.contains('}'))) {
            return Err(format!("stray '}}' in {s:?}"));
        }
        // customers and banks write invoice numbers in any case, and the reader
        // matches them upper-cased: a lower-case number would never match
        if parts.iter().any(|p| matches!(p, Part::Text(t) if t.chars().any(|c| c.is_lowercase()))) {
            return Err(format!(
                "{s:?} has lower-case letters: write them in capitals (\"INV-{{year}}-{{seq:04}}\"), as invoice numbers are matched upper-cased"
            ));
        }
        let years = parts.iter().filter(|p| **p == Part::Year).count();
        let seqs = parts.iter().filter(|p| matches!(p, Part::Seq(_))).count();
        if years != 1 || seqs != 1 {
            return Err(format!(
                "{s:?} must hold {{year}} and {{seq}} once each (numbers restart every year, so the year keeps them unique)"
            ));
        }
        Ok(NumberFormat { parts })
    }

    pub fn format(&self, year: i32, seq: i64) -> String {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Text(t) => t.clone(),
                Part::Year => year.to_string(),
                Part::Seq(w) => format!("{seq:0w$}", w = *w),
            })
            .collect()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {problems:?}")]
    Invalid { path: PathBuf, problems: Vec<String> },
}

impl ConfigError {
    pub fn problems(&self) -> Vec<String> {
        match self {
            ConfigError::Read { .. } => vec![self.to_string()],
            ConfigError::Invalid { problems, .. } => problems.clone(),
        }
    }
}

/// Whether the mailbox or SMTP logs in with an OAuth2 token (XOAUTH2).
pub fn logs_in_with_oauth2(imap: Option<&Imap>, smtp: Option<&Smtp>) -> bool {
    imap.is_some_and(|i| i.auth == Auth::OAuth2) || smtp.is_some_and(|s| s.auth == Some(Auth::OAuth2))
}

impl Config {
    /// Whether a login needs the `[oauth2]` token (see [`logs_in_with_oauth2`]).
    pub fn logs_in_with_oauth2(&self) -> bool {
        logs_in_with_oauth2(self.imap.as_ref(), self.smtp.as_ref())
    }

    /// Reads the file. Under systemd (`$STATE_DIRECTORY` set) the database
    /// lives in the state directory unless the config names an absolute path.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Config::load_text(path).map(|(config, _)| config)
    }

    /// As [`Config::load`], with the text read: the daemon keeps it to hand
    /// each cycle's process the configuration it accepted.
    pub fn load_text(path: &Path) -> Result<(Config, String), ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        let config = Config::from_text(path, &text)?;
        Ok((config, text))
    }

    /// The configuration in `text`, read as if it were the file at `path`
    /// (relative paths against its folder, the state directory as
    /// [`Config::load`] does).
    pub fn from_text(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let state = std::env::var_os("STATE_DIRECTORY")
            .and_then(|v| std::env::split_paths(&v).next())
            .filter(|p| !p.as_os_str().is_empty());
        Config::parse_in(text, &base, state.as_deref())
            .map_err(|problems| ConfigError::Invalid { path: path.to_path_buf(), problems })
    }

    /// Parses and validates; relative paths are resolved against `base`.
    pub fn parse(text: &str, base: &Path) -> Result<Config, Vec<String>> {
        Config::parse_in(text, base, None)
    }

    /// As [`Config::parse`], with the database resolved against `state_dir` when given.
    pub fn parse_in(text: &str, base: &Path, state_dir: Option<&Path>) -> Result<Config, Vec<String>> {
        let (raw, unknown) = raw::read(text).map_err(|e| vec![e])?;
        raw.check(base, state_dir, unknown)
    }

    pub fn tier(&self, key: &str) -> Option<&Tier> {
        self.tiers.get(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Money;

    pub(crate) const EXAMPLE: &str = include_str!("../../examples/billmail.toml");

    #[test]
    fn the_example_config_is_valid() {
        let c = Config::parse(EXAMPLE, Path::new("/etc/billmail")).unwrap();
        assert_eq!(c.company.timezone, chrono_tz::America::New_York);
        assert_eq!(c.tiers["hybrid"].rates.full_time, Money::from_cents(8500));
        assert_eq!(c.database.path, Path::new("/etc/billmail/billmail.db"));
        assert_eq!(c.company.invoice_number_format.format(2026, 7), "INV-2026-0007");
    }

    #[test]
    fn invoice_numbers_are_written_in_capitals() {
        let err = NumberFormat::parse("inv-{year}-{seq:04}").unwrap_err();
        assert!(err.contains("lower-case letters"), "{err}");
        assert_eq!(NumberFormat::parse("KRG/{year}/{seq:05}").unwrap().format(2026, 7), "KRG/2026/00007");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let text = r#"
            colour = "blue"
            [company]
            name = "KR Group"
            timezone = "Mars/Olympus"
            accounting_address = "accounting"
            invoice_number_format = "INV-{seq}"
            [schedule]
            agreement_due_day = 0
            send_time = "8am"
            [tiers.hybrid]
            label = "Agreement Hybrid IT"
            [imap]
            host = "imap.example"
            security = "plain"
            username = "u"
            password_env = "P"
        "#;
        let errs = Config::parse(text, Path::new(".")).unwrap_err();
        let all = errs.join("\n");
        for needle in [
            "unknown key \"colour\"",
            "Mars/Olympus",
            "accounting_address",
            "invoice_number_format",
            "agreement_due_day: must be 1-31, got 0",
            "send_time",
            "[tiers.hybrid] full_time_rate: missing",
            "[tiers.hybrid] part_time_rate: missing",
            "plain (unencrypted) is allowed only to a loopback",
        ] {
            assert!(all.contains(needle), "missing {needle:?} in:\n{all}");
        }
    }

    fn with(extra: &str) -> Result<Config, Vec<String>> {
        Config::parse(&format!("{EXAMPLE}\n{extra}"), Path::new("/etc/billmail"))
    }

    #[test]
    fn trust_settings_and_their_mistakes() {
        let c = Config::parse(
            &EXAMPLE.replace(
                "verify_dkim = false",
                "verify_dkim = true\ndns_servers = [\"127.0.0.1:5353\", \"192.0.2.53\"]",
            ),
            Path::new("/etc/billmail"),
        )
        .unwrap();
        assert!(c.trust.verify_dkim);
        assert_eq!(c.trust.authserv_ids, vec!["mx1.krgroup.example".to_string()]);
        assert_eq!(c.trust.dns_servers, vec!["127.0.0.1:5353".parse().unwrap(), "192.0.2.53:53".parse().unwrap()]);
        let errs = Config::parse(
            &EXAMPLE.replace(
                "authserv_ids = [\"mx1.krgroup.example\"]",
                "authserv_ids = [\"mx1 krgroup\"]\ndns_servers = [\"dns.example\"]",
            ),
            Path::new("/etc/billmail"),
        )
        .unwrap_err()
        .join("\n");
        assert!(errs.contains("[trust] authserv_ids: \"mx1 krgroup\" is not an authserv-id"), "{errs}");
        assert!(errs.contains("[trust] dns_servers: \"dns.example\" is not an address"), "{errs}");
        let errs = Config::parse(&EXAMPLE.replace("verify_dkim = false", "verify_dkim = \"yes\""), Path::new("/x"))
            .unwrap_err()
            .join("\n");
        assert!(errs.contains("[trust] verify_dkim: invalid type: string \"yes\", expected a boolean"), "{errs}");
    }

    #[test]
    fn microsoft_365_defaults_and_credentials() {
        let c = with(
            r#"
            [imap]
            host = "outlook.office365.com"
            username = "accounting@krgroup.example"
            auth = "oauth2"
            [smtp]
            host = "smtp.office365.com"
            security = "starttls"
            username = "accounting@krgroup.example"
            auth = "oauth2"
            from = "KR Group Accounting <accounting@krgroup.example>"
            [oauth2]
            provider = "microsoft"
            tenant = "krgroup.onmicrosoft.com"
            client_id = "11111111-2222-3333-4444-555555555555"
            client_secret_credential = "oauth2-client-secret"
            "#,
        )
        .unwrap();
        let o = c.oauth2.unwrap();
        assert_eq!(o.token_url, "https://login.microsoftonline.com/krgroup.onmicrosoft.com/oauth2/v2.0/token");
        assert_eq!(o.scope, "https://outlook.office365.com/.default");
        assert_eq!(o.client_secret, Secret::Credential("oauth2-client-secret".into()));
        assert_eq!(c.imap.unwrap().auth, Auth::OAuth2);
        let smtp = c.smtp.unwrap();
        assert_eq!((smtp.port, smtp.auth), (587, Some(Auth::OAuth2)));
    }

    #[test]
    fn the_provider_examples_are_valid() {
        let m = with(include_str!("../../examples/microsoft365.toml")).unwrap();
        assert_eq!(m.oauth2.unwrap().provider, Provider::Microsoft);
        let g = with(include_str!("../../examples/google.toml")).unwrap();
        let o = g.oauth2.unwrap();
        assert_eq!((o.provider, o.token_url.as_str()), (Provider::Google, "https://oauth2.googleapis.com/token"));
        assert_eq!(o.refresh_token, Some(Secret::Credential("oauth2-refresh-token".into())));
    }

    #[test]
    fn oauth2_mistakes_are_all_reported() {
        let errs = with(
            r#"
            [imap]
            host = "imap.gmail.com"
            username = "accounting@krgroup.example"
            auth = "oauth2"
            password_file = "x"
            [oauth2]
            provider = "google"
            client_id = "id"
            client_secret_file = "a"
            client_secret_env = "B"
            tenant = "t"
            token_url = "http://tokens.example/token"
            "#,
        )
        .unwrap_err()
        .join("\n");
        for needle in [
            "[imap] password_file: not used with auth = \"oauth2\"",
            "[oauth2] client_secret_file: give one of client_secret_file, client_secret_env, client_secret_credential",
            "[oauth2] refresh_token_file: missing",
            "[oauth2] tenant: not used with provider = \"google\"",
            "[oauth2] token_url: \"http://tokens.example/token\" must be an https:// URL",
        ] {
            assert!(errs.contains(needle), "missing {needle:?} in:\n{errs}");
        }
        let missing = with("[imap]\nhost = \"h\"\nusername = \"u\"\nauth = \"oauth2\"\n").unwrap_err().join("\n");
        assert!(missing.contains("[oauth2]: missing"), "{missing}");
        let path =
            with("[imap]\nhost = \"h\"\nusername = \"u\"\npassword_credential = \"/run/x\"\n").unwrap_err().join("\n");
        assert!(path.contains("must be a credential name"), "{path}");
        let local = with(
            "[oauth2]\nprovider = \"microsoft\"\ntenant = \"t\"\nclient_id = \"c\"\nclient_secret_env = \"S\"\ntoken_url = \"http://127.0.0.1:8080/t/token\"\n",
        );
        assert!(local.is_ok(), "{local:?}");
    }

    #[test]
    fn under_systemd_the_database_lives_in_the_state_directory() {
        let c = Config::parse_in(EXAMPLE, Path::new("/etc/billmail"), Some(Path::new("/var/lib/billmail"))).unwrap();
        assert_eq!(c.database.path, Path::new("/var/lib/billmail/billmail.db"));
        let abs = EXAMPLE.replace("url = \"sqlite://billmail.db\"", "url = \"sqlite:///srv/books.db\"");
        let c = Config::parse_in(&abs, Path::new("/etc/billmail"), Some(Path::new("/var/lib/billmail"))).unwrap();
        assert_eq!(c.database.path, Path::new("/srv/books.db"));
    }

    #[test]
    fn unknown_keys_anywhere_and_a_wrong_type_are_named_by_their_place() {
        let errs = with(
            "[imap]\nhost = \"127.0.0.1\"\nsecurity = \"plain\"\nusername = \"u\"\npassword_env = \"P\"\nidle = true\n",
        )
        .unwrap_err()
        .join("\n");
        assert!(errs.contains("[imap]: unknown key \"idle\""), "{errs}");
        let errs = Config::parse(
            &EXAMPLE.replace("label = \"Agreement Hybrid IT\"", "label = \"Agreement Hybrid IT\"\ncolor = 1"),
            Path::new("/x"),
        )
        .unwrap_err()
        .join("\n");
        assert!(errs.contains("[tiers.hybrid]: unknown key \"color\""), "{errs}");
        let errs =
            Config::parse(&EXAMPLE.replace("agreement_due_day = 30", "agreement_due_day = \"30th\""), Path::new("/x"))
                .unwrap_err();
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(errs[0].starts_with("[schedule] agreement_due_day: invalid type: string \"30th\""), "{errs:?}");
        let errs = Config::parse("[company\nname = 1", Path::new("/x")).unwrap_err();
        assert!(errs[0].starts_with("not valid TOML (line 1): "), "{errs:?}");
    }

    #[test]
    fn the_poll_interval_is_a_duration_as_people_write_it() {
        let imap = "[imap]\nhost = \"127.0.0.1\"\nsecurity = \"plain\"\nusername = \"u\"\npassword_env = \"P\"\n";
        let c = with(&format!("{imap}poll_interval = \"1m 30s\"\n")).unwrap();
        assert_eq!(c.imap.unwrap().poll_interval, Duration::from_secs(90));
        assert_eq!(with(imap).unwrap().imap.unwrap().poll_interval, Duration::from_secs(60));
        let errs = with(&format!("{imap}poll_interval = \"soon\"\n")).unwrap_err().join("\n");
        assert!(errs.contains("[imap] poll_interval:"), "{errs}");
    }

    #[test]
    fn number_formats() {
        assert_eq!(NumberFormat::parse("{year}/{seq}").unwrap().format(2027, 12), "2027/12");
        assert!(NumberFormat::parse("INV-{seq:04}").is_err());
        assert!(NumberFormat::parse("INV-{year}-{n}").is_err());
        assert!(NumberFormat::parse("INV-{year-{seq}").is_err());
    }
}
