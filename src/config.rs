//! The TOML configuration, validated into typed settings. Every problem is
//! collected, so `check-config` can report them all at once.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::NaiveTime;
use toml::{Table, Value};

use crate::domain::collections::Policy;
use crate::domain::{EmailAddress, Money, Rates, Schedule};

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

impl Config {
    /// Reads the file. Under systemd (`$STATE_DIRECTORY` set) the database
    /// lives in the state directory unless the config names an absolute path.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let state = std::env::var_os("STATE_DIRECTORY")
            .and_then(|v| std::env::split_paths(&v).next())
            .filter(|p| !p.as_os_str().is_empty());
        Config::parse_in(&text, &base, state.as_deref())
            .map_err(|problems| ConfigError::Invalid { path: path.to_path_buf(), problems })
    }

    /// Parses and validates; relative paths are resolved against `base`.
    pub fn parse(text: &str, base: &Path) -> Result<Config, Vec<String>> {
        Config::parse_in(text, base, None)
    }

    /// As [`Config::parse`], with the database resolved against `state_dir` when given.
    pub fn parse_in(text: &str, base: &Path, state_dir: Option<&Path>) -> Result<Config, Vec<String>> {
        let root: Table = match text.parse::<Table>() {
            Ok(t) => t,
            Err(e) => return Err(vec![format!("not valid TOML: {}", e.message().trim())]),
        };
        let mut v = Validator { errors: Vec::new() };
        v.unknown(
            &root,
            "",
            &[
                "company",
                "database",
                "imap",
                "smtp",
                "oauth2",
                "schedule",
                "collections",
                "tiers",
                "trust",
                "templates",
            ],
        );
        let company = v.company(&root);
        let database = v.database(&root, state_dir.unwrap_or(base));
        let imap = v.imap(&root, base);
        let smtp = v.smtp(&root, base);
        let oauth2 = v.oauth2(&root, base);
        let templates = v.templates(&root, base);
        let wants_oauth = imap.as_ref().is_some_and(|i| i.auth == Auth::OAuth2)
            || smtp.as_ref().is_some_and(|s| s.auth == Some(Auth::OAuth2));
        if wants_oauth && oauth2.is_none() && !root.contains_key("oauth2") {
            v.errors.push("[oauth2]: missing, but auth = \"oauth2\" is set for the mailbox or SMTP".into());
        }
        let schedule = v.schedule(&root);
        let collections = v.collections(&root);
        let tiers = v.tiers(&root);
        let trust = v.trust(&root);
        if !v.errors.is_empty() {
            return Err(v.errors);
        }
        Ok(Config {
            company: company.expect("validated"),
            database,
            imap,
            smtp,
            schedule,
            collections,
            tiers,
            trust,
            oauth2,
            templates,
        })
    }

    pub fn tier(&self, key: &str) -> Option<&Tier> {
        self.tiers.get(key)
    }
}

/// The keys `[imap]` and `[smtp]` share: where the server is and how to log in.
const CONNECTION: &[&str] = &[
    "host",
    "port",
    "security",
    "ca_file",
    "username",
    "auth",
    "password_file",
    "password_env",
    "password_credential",
];

struct Validator {
    errors: Vec<String>,
}

fn name(section: &str, key: &str) -> String {
    if section.is_empty() { key.to_string() } else { format!("[{section}] {key}") }
}

impl Validator {
    fn err(&mut self, section: &str, key: &str, msg: impl std::fmt::Display) {
        self.errors.push(format!("{}: {msg}", name(section, key)));
    }

    fn unknown(&mut self, t: &Table, section: &str, known: &[&str]) {
        for k in t.keys() {
            if !known.contains(&k.as_str()) {
                let place = if section.is_empty() { "top level".to_string() } else { format!("[{section}]") };
                self.errors.push(format!("{place}: unknown key {k:?}"));
            }
        }
    }

    fn table<'a>(&mut self, root: &'a Table, section: &str, required: bool) -> Option<&'a Table> {
        match root.get(section) {
            Some(Value::Table(t)) => Some(t),
            Some(_) => {
                self.errors.push(format!("[{section}]: must be a table"));
                None
            }
            None => {
                if required {
                    self.errors.push(format!("[{section}]: missing"));
                }
                None
            }
        }
    }

    fn string(&mut self, t: &Table, section: &str, key: &str, required: bool) -> Option<String> {
        match t.get(key) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                self.err(section, key, "must be a string");
                None
            }
            None => {
                if required {
                    self.err(section, key, "missing");
                }
                None
            }
        }
    }

    fn nonempty(&mut self, t: &Table, section: &str, key: &str) -> Option<String> {
        let s = self.string(t, section, key, true)?;
        if s.trim().is_empty() {
            self.err(section, key, "must not be empty");
            return None;
        }
        Some(s)
    }

    fn int(&mut self, t: &Table, section: &str, key: &str, range: (i64, i64), default: i64) -> i64 {
        match t.get(key) {
            None => default,
            Some(Value::Integer(i)) if (range.0..=range.1).contains(i) => *i,
            Some(Value::Integer(i)) => {
                self.err(section, key, format!("must be {}-{}, got {i}", range.0, range.1));
                default
            }
            Some(_) => {
                self.err(section, key, "must be a whole number");
                default
            }
        }
    }

    /// A list of strings (absent: empty).
    fn strings(&mut self, t: &Table, section: &str, key: &str) -> Vec<String> {
        match t.get(key) {
            None => Vec::new(),
            Some(Value::Array(a)) if a.iter().all(Value::is_str) => {
                a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect()
            }
            Some(_) => {
                self.err(section, key, "must be a list of strings");
                Vec::new()
            }
        }
    }

    /// A list of domain names, lower-cased (absent: empty).
    fn domains(&mut self, t: &Table, section: &str, key: &str) -> Vec<String> {
        let mut out = Vec::new();
        for d in self.strings(t, section, key) {
            let d = d.trim().trim_start_matches('@').to_ascii_lowercase();
            if d.is_empty() || !d.contains('.') || d.contains(|c: char| c.is_whitespace() || c == '@') {
                self.err(section, key, format!("{d:?} is not a domain"));
            } else {
                out.push(d);
            }
        }
        out
    }

    fn boolean(&mut self, t: &Table, section: &str, key: &str, default: bool) -> bool {
        match t.get(key) {
            None => default,
            Some(Value::Boolean(b)) => *b,
            Some(_) => {
                self.err(section, key, "must be true or false");
                default
            }
        }
    }

    fn email(&mut self, t: &Table, section: &str, key: &str, required: bool) -> Option<EmailAddress> {
        let s = self.string(t, section, key, required)?;
        match EmailAddress::parse(&s) {
            Ok(e) => Some(e),
            Err(e) => {
                self.err(section, key, e);
                None
            }
        }
    }

    fn money(&mut self, t: &Table, section: &str, key: &str) -> Option<Money> {
        let s = match t.get(key) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Integer(i)) => i.to_string(),
            Some(_) => {
                self.err(section, key, "must be an amount in quotes, like \"85.00\"");
                return None;
            }
            None => {
                self.err(section, key, "missing");
                return None;
            }
        };
        match Money::parse(&s).map_err(|e| e.to_string()).and_then(|m| crate::domain::limits::price(m, "the amount")) {
            Ok(m) => Some(m),
            Err(e) => {
                self.err(section, key, e);
                None
            }
        }
    }

    fn company(&mut self, root: &Table) -> Option<Company> {
        const S: &str = "company";
        let t = self.table(root, S, true)?;
        self.unknown(
            t,
            S,
            &[
                "name",
                "timezone",
                "currency",
                "accounting_address",
                "services_team_address",
                "invoice_number_format",
                "payment_instructions",
            ],
        );
        let name = self.nonempty(t, S, "name");
        let timezone = self.string(t, S, "timezone", true).and_then(|tz| match tz.parse::<chrono_tz::Tz>() {
            Ok(z) => Some(z),
            Err(_) => {
                self.err(S, "timezone", format!("{tz:?} is not an IANA timezone (like \"America/New_York\")"));
                None
            }
        });
        let currency = self.string(t, S, "currency", false).unwrap_or_else(|| "USD".into());
        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
            self.err(S, "currency", format!("{currency:?} is not an ISO 4217 code like \"USD\""));
        }
        let accounting = self.email(t, S, "accounting_address", true);
        let services = self.email(t, S, "services_team_address", false);
        let fmt = self.string(t, S, "invoice_number_format", false).unwrap_or_else(|| "INV-{year}-{seq:04}".into());
        let fmt = match NumberFormat::parse(&fmt) {
            Ok(f) => Some(f),
            Err(e) => {
                self.err(S, "invoice_number_format", e);
                None
            }
        };
        let instructions = self.string(t, S, "payment_instructions", false).unwrap_or_default();
        Some(Company {
            name: name?,
            timezone: timezone?,
            currency,
            accounting_address: accounting?,
            services_team_address: services,
            invoice_number_format: fmt?,
            payment_instructions: instructions.trim().to_string(),
        })
    }

    fn database(&mut self, root: &Table, base: &Path) -> Database {
        const S: &str = "database";
        let default = Database { path: base.join("billmail.db") };
        let Some(t) = self.table(root, S, false) else { return default };
        self.unknown(t, S, &["url"]);
        let Some(url) = self.string(t, S, "url", false) else { return default };
        match url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
            Some(p) if !p.is_empty() && !p.contains('?') => Database { path: base.join(p) },
            _ => {
                self.err(S, "url", format!("{url:?} is not a SQLite URL like \"sqlite://billmail.db\""));
                default
            }
        }
    }

    fn endpoint(&mut self, t: &Table, section: &str) -> (String, u16, Security) {
        let host = self.nonempty(t, section, "host").unwrap_or_default();
        let security = match self.string(t, section, "security", false).as_deref() {
            None | Some("tls") => Security::Tls,
            Some("starttls") => Security::StartTls,
            Some("plain") => Security::Plain,
            Some(other) => {
                self.err(section, "security", format!("{other:?} is not one of tls, starttls, plain"));
                Security::Tls
            }
        };
        let default_port = match (section, security) {
            ("imap", Security::Tls) => 993,
            ("imap", _) => 143,
            (_, Security::Tls) => 465,
            _ => 587,
        };
        let port = self.int(t, section, "port", (1, 65535), default_port) as u16;
        if security == Security::Plain && !host.is_empty() && !is_loopback(&host) {
            self.err(
                section,
                "security",
                format!("plain (unencrypted) is allowed only to a loopback address, not {host:?}"),
            );
        }
        (host, port, security)
    }

    /// `NAME_file`, `NAME_env` or `NAME_credential`: exactly one when required, at most one otherwise.
    fn secret(&mut self, t: &Table, section: &str, name: &str, base: &Path, required: bool) -> Option<Secret> {
        let keys = [format!("{name}_file"), format!("{name}_env"), format!("{name}_credential")];
        let given: Vec<(usize, String)> =
            keys.iter().enumerate().filter_map(|(i, k)| self.string(t, section, k, false).map(|v| (i, v))).collect();
        match given.as_slice() {
            [] => {
                if required {
                    self.err(section, &keys[0], format!("missing (or {} or {})", keys[1], keys[2]));
                }
                None
            }
            [(i, v)] if v.trim().is_empty() => {
                self.err(section, &keys[*i], "must not be empty");
                None
            }
            [(0, f)] => Some(Secret::File(base.join(f))),
            [(1, e)] => Some(Secret::Env(e.clone())),
            [(_, c)] if c.contains('/') => {
                self.err(
                    section,
                    &keys[2],
                    format!("{c:?} must be a credential name (as in LoadCredential=NAME:…), not a path"),
                );
                None
            }
            [(_, c)] => Some(Secret::Credential(c.clone())),
            _ => {
                self.err(section, &keys[0], format!("give one of {}, {}, {}", keys[0], keys[1], keys[2]));
                None
            }
        }
    }

    /// `ca_file`: a PEM file holding at least one certificate.
    fn ca_file(&mut self, t: &Table, section: &str, base: &Path) -> Option<PathBuf> {
        let path = base.join(self.string(t, section, "ca_file", false)?);
        match std::fs::read_to_string(&path) {
            Ok(pem) if pem.contains("-----BEGIN CERTIFICATE-----") => Some(path),
            Ok(_) => {
                self.err(section, "ca_file", format!("{} holds no PEM certificate", path.display()));
                None
            }
            Err(e) => {
                self.err(section, "ca_file", format!("cannot read {}: {e}", path.display()));
                None
            }
        }
    }

    /// `auth = "password"` (the default; needs a password) or `"oauth2"`.
    fn auth(&mut self, t: &Table, section: &str, base: &Path, required: bool) -> Option<Auth> {
        match self.string(t, section, "auth", false).as_deref() {
            None | Some("password") => self.secret(t, section, "password", base, required).map(Auth::Password),
            Some("oauth2") => {
                for k in ["password_file", "password_env", "password_credential"] {
                    if t.contains_key(k) {
                        self.err(section, k, "not used with auth = \"oauth2\" (the token comes from [oauth2])");
                    }
                }
                Some(Auth::OAuth2)
            }
            Some(other) => {
                self.err(section, "auth", format!("{other:?} is not one of password, oauth2"));
                None
            }
        }
    }

    fn oauth2(&mut self, root: &Table, base: &Path) -> Option<OAuth2> {
        const S: &str = "oauth2";
        let t = self.table(root, S, false)?;
        self.unknown(
            t,
            S,
            &[
                "provider",
                "tenant",
                "client_id",
                "client_secret_file",
                "client_secret_env",
                "client_secret_credential",
                "refresh_token_file",
                "refresh_token_env",
                "refresh_token_credential",
                "token_url",
                "scope",
            ],
        );
        let provider = match self.string(t, S, "provider", true).as_deref() {
            Some("microsoft") => Some(Provider::Microsoft),
            Some("google") => Some(Provider::Google),
            Some(other) => {
                self.err(S, "provider", format!("{other:?} is not one of microsoft, google"));
                None
            }
            None => None,
        };
        let client_id = self.nonempty(t, S, "client_id");
        let client_secret = self.secret(t, S, "client_secret", base, true);
        let tenant = self.string(t, S, "tenant", false);
        let refresh_token = self.secret(t, S, "refresh_token", base, provider == Some(Provider::Google));
        let (default_url, default_scope) = match provider? {
            Provider::Microsoft => {
                let tenant = match tenant {
                    Some(x) if !x.is_empty() && x.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b)) => {
                        x
                    }
                    Some(x) => {
                        self.err(S, "tenant", format!("{x:?} is not a tenant id or domain"));
                        return None;
                    }
                    None => {
                        self.err(
                            S,
                            "tenant",
                            "missing: the directory (tenant) id or domain, from the app registration",
                        );
                        return None;
                    }
                };
                if refresh_token.is_some() {
                    self.err(S, "refresh_token_file", "not used with provider = \"microsoft\" (client credentials)");
                }
                (
                    format!("https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"),
                    "https://outlook.office365.com/.default",
                )
            }
            Provider::Google => {
                if tenant.is_some() {
                    self.err(S, "tenant", "not used with provider = \"google\"");
                }
                ("https://oauth2.googleapis.com/token".to_string(), "https://mail.google.com/")
            }
        };
        let token_url = self.string(t, S, "token_url", false).unwrap_or(default_url);
        let allowed = reqwest::Url::parse(&token_url).is_ok_and(|u| {
            let host = u.host_str().unwrap_or("").trim_start_matches('[').trim_end_matches(']');
            !host.is_empty() && (u.scheme() == "https" || (u.scheme() == "http" && is_loopback(host)))
        });
        if !allowed {
            self.err(
                S,
                "token_url",
                format!("{token_url:?} must be an https:// URL (http:// only to a loopback address)"),
            );
        }
        let scope = self.string(t, S, "scope", false).unwrap_or_else(|| default_scope.into());
        Some(OAuth2 {
            provider: provider?,
            client_id: client_id?,
            client_secret: client_secret?,
            refresh_token,
            token_url,
            scope,
        })
    }

    fn templates(&mut self, root: &Table, base: &Path) -> Option<PathBuf> {
        const S: &str = "templates";
        let t = self.table(root, S, false)?;
        self.unknown(t, S, &["dir"]);
        let dir = base.join(self.nonempty(t, S, "dir")?);
        if !dir.is_dir() {
            self.err(S, "dir", format!("{} is not a folder", dir.display()));
            return None;
        }
        Some(dir)
    }

    fn imap(&mut self, root: &Table, base: &Path) -> Option<Imap> {
        const S: &str = "imap";
        let t = self.table(root, S, false)?;
        self.unknown(
            t,
            S,
            &[CONNECTION, &["mailbox", "processed_folder", "review_folder", "poll_interval", "start"]].concat(),
        );
        let (host, port, security) = self.endpoint(t, S);
        let username = self.nonempty(t, S, "username").unwrap_or_default();
        let auth = self.auth(t, S, base, true);
        let ca_file = self.ca_file(t, S, base);
        let mailbox = self.string(t, S, "mailbox", false).unwrap_or_else(|| "INBOX".into());
        let processed_folder =
            self.string(t, S, "processed_folder", false).unwrap_or_else(|| "Billing/Processed".into());
        let review_folder = self.string(t, S, "review_folder", false).unwrap_or_else(|| "Billing/Review".into());
        let poll = self.string(t, S, "poll_interval", false).unwrap_or_else(|| "60s".into());
        let poll_interval = match parse_duration(&poll) {
            Some(d) if d >= Duration::from_secs(1) => d,
            _ => {
                self.err(S, "poll_interval", format!("{poll:?} is not a duration like \"60s\", \"5m\""));
                Duration::from_secs(60)
            }
        };
        let start = self.string(t, S, "start", false).and_then(|d| {
            match chrono::NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d") {
                Ok(date) => Some(date),
                Err(_) => {
                    self.err(S, "start", format!("{d:?} is not a date like \"2026-12-01\""));
                    None
                }
            }
        });
        for (key, name) in
            [("mailbox", &mailbox), ("processed_folder", &processed_folder), ("review_folder", &review_folder)]
        {
            if name.trim_matches('/').is_empty() || name.split('/').any(|p| p.is_empty() || p.contains(['*', '%', '"']))
            {
                self.err(S, key, format!("{name:?} is not a folder name like \"Billing/Processed\""));
            }
        }
        Some(Imap {
            host,
            port,
            security,
            username,
            auth: auth?,
            ca_file,
            mailbox,
            processed_folder,
            review_folder,
            poll_interval,
            start,
        })
    }

    fn smtp(&mut self, root: &Table, base: &Path) -> Option<Smtp> {
        const S: &str = "smtp";
        let t = self.table(root, S, false)?;
        self.unknown(t, S, &[CONNECTION, &["from"]].concat());
        let (host, port, security) = self.endpoint(t, S);
        let username = self.string(t, S, "username", false);
        let auth = self.auth(t, S, base, username.is_some());
        let ca_file = self.ca_file(t, S, base);
        if username.is_none() && auth.is_some() {
            self.err(S, "username", "missing: logging in (a password or auth = \"oauth2\") needs the username");
        }
        let from = self.nonempty(t, S, "from");
        Some(Smtp { host, port, security, username, auth, ca_file, from: from? })
    }

    fn schedule(&mut self, root: &Table) -> Schedule {
        const S: &str = "schedule";
        let d = Schedule::default();
        let Some(t) = self.table(root, S, false) else { return d };
        self.unknown(
            t,
            S,
            &[
                "agreement_invoice_day",
                "agreement_due_day",
                "recurring_invoice_day",
                "service_due_days",
                "send_time",
                "prorate",
            ],
        );
        let send_time = match self.string(t, S, "send_time", false) {
            None => d.send_time,
            Some(s) => NaiveTime::parse_from_str(&s, "%H:%M").unwrap_or_else(|_| {
                self.err(S, "send_time", format!("{s:?} is not a local time like \"08:00\""));
                d.send_time
            }),
        };
        Schedule {
            agreement_invoice_day: self.int(t, S, "agreement_invoice_day", (1, 31), 15) as u32,
            agreement_due_day: self.int(t, S, "agreement_due_day", (1, 31), 30) as u32,
            recurring_invoice_day: self.int(t, S, "recurring_invoice_day", (1, 31), 5) as u32,
            service_due_days: self.int(t, S, "service_due_days", (0, 365), 30) as u32,
            send_time,
            prorate: self.boolean(t, S, "prorate", true),
        }
    }

    fn collections(&mut self, root: &Table) -> Policy {
        const S: &str = "collections";
        let mut c = Policy {
            reminder_days: vec![1, 7, 14],
            credit_hold_after_days: 15,
            service_hold_after_days: 30,
            claim_grace_days: 5,
        };
        let Some(t) = self.table(root, S, false) else { return c };
        self.unknown(t, S, &["reminder_days", "credit_hold_after_days", "service_hold_after_days", "claim_grace_days"]);
        match t.get("reminder_days") {
            None => {}
            Some(Value::Array(a)) => {
                let days: Vec<u32> = a
                    .iter()
                    .filter_map(|v| v.as_integer())
                    .filter(|i| (1..=365).contains(i))
                    .map(|i| i as u32)
                    .collect();
                if days.len() != a.len() || days.windows(2).any(|w| w[0] >= w[1]) {
                    self.err(S, "reminder_days", "must be increasing whole numbers of days, 1-365");
                } else {
                    c.reminder_days = days;
                }
            }
            Some(_) => self.err(S, "reminder_days", "must be a list like [1, 7, 14]"),
        }
        c.credit_hold_after_days = self.int(t, S, "credit_hold_after_days", (1, 365), 15) as u32;
        c.service_hold_after_days = self.int(t, S, "service_hold_after_days", (1, 365), 30) as u32;
        c.claim_grace_days = self.int(t, S, "claim_grace_days", (0, 60), 5) as u32;
        c
    }

    fn tiers(&mut self, root: &Table) -> BTreeMap<String, Tier> {
        let mut out = BTreeMap::new();
        let Some(t) = self.table(root, "tiers", true) else { return out };
        if t.is_empty() {
            self.errors.push("[tiers]: at least one tier is needed".into());
        }
        for (key, v) in t {
            let s = format!("tiers.{key}");
            let Value::Table(tt) = v else {
                self.errors.push(format!("[{s}]: must be a table with label, full_time_rate and part_time_rate"));
                continue;
            };
            self.unknown(tt, &s, &["label", "full_time_rate", "part_time_rate"]);
            let label = self.nonempty(tt, &s, "label");
            let ft = self.money(tt, &s, "full_time_rate");
            let pt = self.money(tt, &s, "part_time_rate");
            if let (Some(label), Some(full_time), Some(part_time)) = (label, ft, pt) {
                out.insert(key.clone(), Tier { label, rates: Rates { full_time, part_time } });
            }
        }
        out
    }

    fn trust(&mut self, root: &Table) -> Trust {
        const S: &str = "trust";
        let mut trust = Trust {
            payment_senders: Vec::new(),
            require_authentication: true,
            verify_dkim: false,
            authserv_ids: Vec::new(),
            dns_servers: Vec::new(),
            bounce_domains: Vec::new(),
            arc_sealers: Vec::new(),
        };
        let Some(t) = self.table(root, S, false) else { return trust };
        self.unknown(
            t,
            S,
            &[
                "payment_senders",
                "require_authentication",
                "verify_dkim",
                "authserv_ids",
                "dns_servers",
                "bounce_domains",
                "arc_sealers",
            ],
        );
        for id in self.strings(t, S, "authserv_ids") {
            let id = id.trim().to_ascii_lowercase();
            if id.is_empty() || id.contains(|c: char| c.is_whitespace() || c == ';' || c == '"') {
                self.err(S, "authserv_ids", format!("{id:?} is not an authserv-id (a host name like mx.example.com)"));
            } else {
                trust.authserv_ids.push(id);
            }
        }
        trust.bounce_domains = self.domains(t, S, "bounce_domains");
        trust.arc_sealers = self.domains(t, S, "arc_sealers");
        for s in self.strings(t, S, "dns_servers") {
            let parsed = s
                .parse::<std::net::SocketAddr>()
                .or_else(|_| s.parse::<IpAddr>().map(|ip| std::net::SocketAddr::new(ip, 53)));
            match parsed {
                Ok(a) => trust.dns_servers.push(a),
                Err(_) => self.err(
                    S,
                    "dns_servers",
                    format!("{s:?} is not an address like \"192.0.2.53\" or \"127.0.0.1:5353\""),
                ),
            }
        }
        trust.verify_dkim = self.boolean(t, S, "verify_dkim", false);
        match t.get("payment_senders") {
            None => {}
            Some(Value::Array(a)) => {
                for v in a {
                    match v.as_str().map(EmailAddress::parse) {
                        Some(Ok(e)) => trust.payment_senders.push(e),
                        Some(Err(e)) => self.err(S, "payment_senders", e),
                        None => self.err(S, "payment_senders", "must be a list of addresses"),
                    }
                }
            }
            Some(_) => self.err(S, "payment_senders", "must be a list of addresses"),
        }
        trust.require_authentication = self.boolean(t, S, "require_authentication", true);
        trust
    }
}

fn is_loopback(host: &str) -> bool {
    host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// `90s`, `5m`, `1h`, or plain seconds.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num.parse().ok()?;
    let secs = match unit.trim() {
        "" | "s" => n,
        "m" | "min" => n * 60,
        "h" => n * 3600,
        _ => return None,
    };
    Some(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const EXAMPLE: &str = include_str!("../examples/billmail.toml");

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
        assert!(errs.contains("[trust] verify_dkim: must be true or false"), "{errs}");
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
        let m = with(include_str!("../examples/microsoft365.toml")).unwrap();
        assert_eq!(m.oauth2.unwrap().provider, Provider::Microsoft);
        let g = with(include_str!("../examples/google.toml")).unwrap();
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
    fn number_formats() {
        assert_eq!(NumberFormat::parse("{year}/{seq}").unwrap().format(2027, 12), "2027/12");
        assert!(NumberFormat::parse("INV-{seq:04}").is_err());
        assert!(NumberFormat::parse("INV-{year}-{n}").is_err());
        assert!(NumberFormat::parse("INV-{year-{seq}").is_err());
    }
}
