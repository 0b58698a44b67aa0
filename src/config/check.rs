//! From the raw settings to the typed [`Config`]: every value checked, every
//! problem collected (one line each, naming the section and key), so that
//! `check-config` reports them all at once.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{NaiveDate, NaiveTime};

use super::raw::{
    RawAmount, RawConfig, RawConnection, RawExport, RawImap, RawOAuth2, RawSecret, RawSmtp, RawTarget, RawTrust, RawWeb,
};
use super::{
    Auth, Company, Config, Database, Imap, NumberFormat, OAuth2, Provider, Secret, Security, Smtp, Tier, Trust, Web,
};
use crate::domain::collections::Policy;
use crate::domain::{EmailAddress, Money, Rates, Schedule};
use crate::export::{DateStyle, Mapping, Target};

/// The problems found so far.
struct Problems(Vec<String>);

impl Problems {
    fn at(&mut self, section: &str, key: &str, msg: impl std::fmt::Display) {
        self.0.push(format!("[{section}] {key}: {msg}"));
    }

    fn section(&mut self, section: &str, msg: impl std::fmt::Display) {
        self.0.push(format!("[{section}]: {msg}"));
    }

    /// `value`, or "missing" / "must not be empty".
    fn nonempty(&mut self, section: &str, key: &str, value: Option<&str>) -> Option<String> {
        match value {
            None => {
                self.at(section, key, "missing");
                None
            }
            Some(v) if v.trim().is_empty() => {
                self.at(section, key, "must not be empty");
                None
            }
            Some(v) => Some(v.to_string()),
        }
    }

    /// A whole number within `range`, `default` when absent.
    fn int(&mut self, section: &str, key: &str, value: Option<i64>, range: (i64, i64), default: i64) -> i64 {
        match value {
            None => default,
            Some(i) if (range.0..=range.1).contains(&i) => i,
            Some(i) => {
                self.at(section, key, format!("must be {}-{}, got {i}", range.0, range.1));
                default
            }
        }
    }

    fn email(&mut self, section: &str, key: &str, value: Option<&str>, required: bool) -> Option<EmailAddress> {
        let Some(s) = value else {
            if required {
                self.at(section, key, "missing");
            }
            return None;
        };
        EmailAddress::parse(s).map_err(|e| self.at(section, key, e)).ok()
    }

    /// Lower-cased domain names.
    fn domains(&mut self, section: &str, key: &str, list: &[String]) -> Vec<String> {
        let mut out = Vec::new();
        for d in list {
            let d = d.trim().trim_start_matches('@').to_ascii_lowercase();
            if d.is_empty() || !d.contains('.') || d.contains(|c: char| c.is_whitespace() || c == '@') {
                self.at(section, key, format!("{d:?} is not a domain"));
            } else {
                out.push(d);
            }
        }
        out
    }

    fn money(&mut self, section: &str, key: &str, value: Option<&RawAmount>) -> Option<Money> {
        let text = match value {
            Some(RawAmount::Text(s)) => s.clone(),
            Some(RawAmount::Whole(i)) => i.to_string(),
            None => {
                self.at(section, key, "missing");
                return None;
            }
        };
        Money::parse(&text)
            .map_err(|e| e.to_string())
            .and_then(|m| crate::domain::limits::price(m, "the amount"))
            .map_err(|e| self.at(section, key, e))
            .ok()
    }

    /// `NAME_file`, `NAME_env` or `NAME_credential`: exactly one when
    /// required, at most one otherwise.
    fn secret(&mut self, section: &str, name: &str, s: &RawSecret<'_>, base: &Path, required: bool) -> Option<Secret> {
        let keys = [format!("{name}_file"), format!("{name}_env"), format!("{name}_credential")];
        let given: Vec<(usize, &str)> =
            [s.file, s.env, s.credential].iter().enumerate().filter_map(|(i, v)| v.map(|v| (i, v))).collect();
        match given.as_slice() {
            [] => {
                if required {
                    self.at(section, &keys[0], format!("missing (or {} or {})", keys[1], keys[2]));
                }
                None
            }
            [(i, v)] if v.trim().is_empty() => {
                self.at(section, &keys[*i], "must not be empty");
                None
            }
            [(0, f)] => Some(Secret::File(base.join(f))),
            [(1, e)] => Some(Secret::Env(e.to_string())),
            [(_, c)] if c.contains('/') => {
                self.at(
                    section,
                    &keys[2],
                    format!("{c:?} must be a credential name (as in LoadCredential=NAME:…), not a path"),
                );
                None
            }
            [(_, c)] => Some(Secret::Credential(c.to_string())),
            _ => {
                self.at(section, &keys[0], format!("give one of {}, {}, {}", keys[0], keys[1], keys[2]));
                None
            }
        }
    }
}

impl RawConfig {
    /// The typed settings, or every problem found. Relative paths are
    /// resolved against `base`, the database against `state_dir` when given.
    pub fn check(self, base: &Path, state_dir: Option<&Path>, unknown: Vec<String>) -> Result<Config, Vec<String>> {
        let mut p = Problems(unknown);
        let company = company(&mut p, &self, base);
        let database = database(&mut p, &self, state_dir.unwrap_or(base));
        let imap = self.imap.as_ref().and_then(|i| imap(&mut p, i, base));
        let smtp = self.smtp.as_ref().and_then(|s| smtp(&mut p, s, base));
        let oauth2 = self.oauth2.as_ref().and_then(|o| oauth2(&mut p, o, base));
        if super::logs_in_with_oauth2(imap.as_ref(), smtp.as_ref()) && self.oauth2.is_none() {
            p.section("oauth2", "missing, but auth = \"oauth2\" is set for the mailbox or SMTP");
        }
        let templates = self.templates.as_ref().and_then(|t| {
            let dir = base.join(p.nonempty("templates", "dir", t.dir.as_deref())?);
            if !dir.is_dir() {
                p.at("templates", "dir", format!("{} is not a folder", dir.display()));
                return None;
            }
            Some(dir)
        });
        let schedule = schedule(&mut p, &self);
        let collections = collections(&mut p, &self);
        let tiers = tiers(&mut p, &self);
        let trust = trust(&mut p, &self.trust);
        let export = self.export.as_ref().and_then(|e| export(&mut p, e));
        let web = self.web.as_ref().and_then(|w| web(&mut p, w, base));
        match company {
            Some(company) if p.0.is_empty() => Ok(Config {
                company,
                database,
                imap,
                smtp,
                schedule,
                collections,
                tiers,
                trust,
                oauth2,
                templates,
                export,
                web,
            }),
            _ => Err(p.0),
        }
    }
}

fn company(p: &mut Problems, raw: &RawConfig, base: &Path) -> Option<Company> {
    const S: &str = "company";
    let Some(c) = &raw.company else {
        p.section(S, "missing");
        return None;
    };
    let name = p.nonempty(S, "name", c.name.as_deref());
    let timezone = match c.timezone.as_deref() {
        None => {
            p.at(S, "timezone", "missing");
            None
        }
        Some(tz) => tz
            .parse::<chrono_tz::Tz>()
            .map_err(|_| p.at(S, "timezone", format!("{tz:?} is not an IANA timezone (like \"America/New_York\")")))
            .ok(),
    };
    let currency = c.currency.clone().unwrap_or_else(|| "USD".into());
    if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
        p.at(S, "currency", format!("{currency:?} is not an ISO 4217 code like \"USD\""));
    }
    let accounting = p.email(S, "accounting_address", c.accounting_address.as_deref(), true);
    let services = p.email(S, "services_team_address", c.services_team_address.as_deref(), false);
    let format = c.invoice_number_format.as_deref().unwrap_or("INV-{year}-{seq:04}");
    let format = NumberFormat::parse(format).map_err(|e| p.at(S, "invoice_number_format", e)).ok();
    let logo = c.logo.as_deref().and_then(|l| {
        let path = base.join(l);
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or_default().to_ascii_lowercase();
        if !["png", "jpg", "jpeg", "svg"].contains(&ext.as_str()) {
            p.at(S, "logo", format!("{l:?} is not a .png, .jpg or .svg file"));
            return None;
        }
        match std::fs::metadata(&path) {
            Ok(m) if m.is_file() && m.len() <= 2 << 20 => Some(path),
            Ok(m) if m.is_file() => {
                p.at(
                    S,
                    "logo",
                    format!("{} is {} bytes; a letterhead logo must be at most 2 MiB", path.display(), m.len()),
                );
                None
            }
            Ok(_) => {
                p.at(S, "logo", format!("{} is not a file", path.display()));
                None
            }
            Err(e) => {
                p.at(S, "logo", format!("cannot read {}: {e}", path.display()));
                None
            }
        }
    });
    let lines = |s: Option<&str>| -> Vec<String> {
        s.unwrap_or_default().lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect()
    };
    Some(Company {
        name: name?,
        timezone: timezone?,
        currency,
        accounting_address: accounting?,
        services_team_address: services,
        invoice_number_format: format?,
        payment_instructions: c.payment_instructions.as_deref().unwrap_or_default().trim().to_string(),
        address: lines(c.address.as_deref()),
        phone: c.phone.as_deref().map(str::trim).filter(|x| !x.is_empty()).map(String::from),
        logo,
    })
}

fn database(p: &mut Problems, raw: &RawConfig, base: &Path) -> Database {
    let default = Database { path: base.join("billmail.db") };
    let Some(url) = raw.database.as_ref().and_then(|d| d.url.as_deref()) else { return default };
    match url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
        Some(path) if !path.is_empty() && !path.contains('?') => Database { path: base.join(path) },
        _ => {
            p.at("database", "url", format!("{url:?} is not a SQLite URL like \"sqlite://billmail.db\""));
            default
        }
    }
}

fn is_loopback(host: &str) -> bool {
    host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Host, port (by default the one for the security) and security.
fn endpoint(p: &mut Problems, section: &str, c: &RawConnection<'_>) -> (String, u16, Security) {
    let host = p.nonempty(section, "host", c.host).unwrap_or_default();
    let security = match c.security {
        None | Some("tls") => Security::Tls,
        Some("starttls") => Security::StartTls,
        Some("plain") => Security::Plain,
        Some(other) => {
            p.at(section, "security", format!("{other:?} is not one of tls, starttls, plain"));
            Security::Tls
        }
    };
    let default_port = match (section, security) {
        ("imap", Security::Tls) => 993,
        ("imap", _) => 143,
        (_, Security::Tls) => 465,
        _ => 587,
    };
    let port = p.int(section, "port", c.port, (1, 65535), default_port) as u16;
    if security == Security::Plain && !host.is_empty() && !is_loopback(&host) {
        p.at(section, "security", format!("plain (unencrypted) is allowed only to a loopback address, not {host:?}"));
    }
    (host, port, security)
}

/// `ca_file`: a PEM file holding at least one certificate.
fn ca_file(p: &mut Problems, section: &str, c: &RawConnection<'_>, base: &Path) -> Option<PathBuf> {
    let path = base.join(c.ca_file?);
    match std::fs::read_to_string(&path) {
        Ok(pem) if pem.contains("-----BEGIN CERTIFICATE-----") => Some(path),
        Ok(_) => {
            p.at(section, "ca_file", format!("{} holds no PEM certificate", path.display()));
            None
        }
        Err(e) => {
            p.at(section, "ca_file", format!("cannot read {}: {e}", path.display()));
            None
        }
    }
}

/// `auth = "password"` (the default; needs a password) or `"oauth2"`.
fn auth(p: &mut Problems, section: &str, c: &RawConnection<'_>, base: &Path, required: bool) -> Option<Auth> {
    match c.auth {
        None | Some("password") => p.secret(section, "password", &c.password, base, required).map(Auth::Password),
        Some("oauth2") => {
            for (key, given) in [
                ("password_file", c.password.file),
                ("password_env", c.password.env),
                ("password_credential", c.password.credential),
            ] {
                if given.is_some() {
                    p.at(section, key, "not used with auth = \"oauth2\" (the token comes from [oauth2])");
                }
            }
            Some(Auth::OAuth2)
        }
        Some(other) => {
            p.at(section, "auth", format!("{other:?} is not one of password, oauth2"));
            None
        }
    }
}

fn imap(p: &mut Problems, raw: &RawImap, base: &Path) -> Option<Imap> {
    const S: &str = "imap";
    let c = raw.connection();
    let (host, port, security) = endpoint(p, S, &c);
    let username = p.nonempty(S, "username", c.username).unwrap_or_default();
    let auth = auth(p, S, &c, base, true);
    let ca_file = ca_file(p, S, &c, base);
    let mailbox = raw.mailbox.clone().unwrap_or_else(|| "INBOX".into());
    let processed_folder = raw.processed_folder.clone().unwrap_or_else(|| "Billing/Processed".into());
    let review_folder = raw.review_folder.clone().unwrap_or_else(|| "Billing/Review".into());
    let poll_interval = raw.poll_interval.unwrap_or(Duration::from_secs(60));
    if poll_interval < Duration::from_secs(1) {
        p.at(S, "poll_interval", "must be at least \"1s\"");
    }
    let start = raw.start.as_deref().and_then(|d| {
        NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d")
            .map_err(|_| p.at(S, "start", format!("{d:?} is not a date like \"2026-12-01\"")))
            .ok()
    });
    for (key, name) in
        [("mailbox", &mailbox), ("processed_folder", &processed_folder), ("review_folder", &review_folder)]
    {
        if name.trim_matches('/').is_empty()
            || name.split('/').any(|part| part.is_empty() || part.contains(['*', '%', '"']))
        {
            p.at(S, key, format!("{name:?} is not a folder name like \"Billing/Processed\""));
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

fn smtp(p: &mut Problems, raw: &RawSmtp, base: &Path) -> Option<Smtp> {
    const S: &str = "smtp";
    let c = raw.connection();
    let (host, port, security) = endpoint(p, S, &c);
    let username = c.username.map(str::to_string);
    let auth = auth(p, S, &c, base, username.is_some());
    let ca_file = ca_file(p, S, &c, base);
    if username.is_none() && auth.is_some() {
        p.at(S, "username", "missing: logging in (a password or auth = \"oauth2\") needs the username");
    }
    let from = p.nonempty(S, "from", raw.from.as_deref());
    Some(Smtp { host, port, security, username, auth, ca_file, from: from? })
}

fn oauth2(p: &mut Problems, raw: &RawOAuth2, base: &Path) -> Option<OAuth2> {
    const S: &str = "oauth2";
    let provider = match raw.provider.as_deref() {
        Some("microsoft") => Some(Provider::Microsoft),
        Some("google") => Some(Provider::Google),
        Some(other) => {
            p.at(S, "provider", format!("{other:?} is not one of microsoft, google"));
            None
        }
        None => {
            p.at(S, "provider", "missing");
            None
        }
    };
    let client_id = p.nonempty(S, "client_id", raw.client_id.as_deref());
    let client_secret = p.secret(S, "client_secret", &raw.client_secret(), base, true);
    let refresh_token = p.secret(S, "refresh_token", &raw.refresh_token(), base, provider == Some(Provider::Google));
    let (default_url, default_scope) = match provider? {
        Provider::Microsoft => {
            let tenant = match raw.tenant.as_deref() {
                Some(x) if !x.is_empty() && x.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b)) => x,
                Some(x) => {
                    p.at(S, "tenant", format!("{x:?} is not a tenant id or domain"));
                    return None;
                }
                None => {
                    p.at(S, "tenant", "missing: the directory (tenant) id or domain, from the app registration");
                    return None;
                }
            };
            if refresh_token.is_some() {
                p.at(S, "refresh_token_file", "not used with provider = \"microsoft\" (client credentials)");
            }
            (
                format!("https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"),
                "https://outlook.office365.com/.default",
            )
        }
        Provider::Google => {
            if raw.tenant.is_some() {
                p.at(S, "tenant", "not used with provider = \"google\"");
            }
            ("https://oauth2.googleapis.com/token".to_string(), "https://mail.google.com/")
        }
    };
    let token_url = raw.token_url.clone().unwrap_or(default_url);
    let allowed = reqwest::Url::parse(&token_url).is_ok_and(|u| {
        let host = u.host_str().unwrap_or("").trim_start_matches('[').trim_end_matches(']');
        !host.is_empty() && (u.scheme() == "https" || (u.scheme() == "http" && is_loopback(host)))
    });
    if !allowed {
        p.at(S, "token_url", format!("{token_url:?} must be an https:// URL (http:// only to a loopback address)"));
    }
    let scope = raw.scope.clone().unwrap_or_else(|| default_scope.into());
    Some(OAuth2 {
        provider: provider?,
        client_id: client_id?,
        client_secret: client_secret?,
        refresh_token,
        token_url,
        scope,
    })
}

fn schedule(p: &mut Problems, raw: &RawConfig) -> Schedule {
    const S: &str = "schedule";
    let d = Schedule::default();
    let r = &raw.schedule;
    let send_time = match r.send_time.as_deref() {
        None => d.send_time,
        Some(s) => NaiveTime::parse_from_str(s, "%H:%M").unwrap_or_else(|_| {
            p.at(S, "send_time", format!("{s:?} is not a local time like \"08:00\""));
            d.send_time
        }),
    };
    Schedule {
        agreement_invoice_day: p.int(S, "agreement_invoice_day", r.agreement_invoice_day, (1, 31), 15) as u32,
        agreement_due_day: p.int(S, "agreement_due_day", r.agreement_due_day, (1, 31), 30) as u32,
        recurring_invoice_day: p.int(S, "recurring_invoice_day", r.recurring_invoice_day, (1, 31), 5) as u32,
        service_due_days: p.int(S, "service_due_days", r.service_due_days, (0, 365), 30) as u32,
        send_time,
        prorate: r.prorate.unwrap_or(true),
        statement_day: p.int(S, "statement_day", r.statement_day, (1, 28), 1) as u32,
    }
}

fn collections(p: &mut Problems, raw: &RawConfig) -> Policy {
    const S: &str = "collections";
    let r = &raw.collections;
    let mut reminder_days = vec![1, 7, 14];
    if let Some(days) = &r.reminder_days {
        if days.iter().all(|d| (1..=365).contains(d)) && days.windows(2).all(|w| w[0] < w[1]) {
            reminder_days = days.iter().map(|d| *d as u32).collect();
        } else {
            p.at(S, "reminder_days", "must be increasing whole numbers of days, 1-365");
        }
    }
    Policy {
        reminder_days,
        credit_hold_after_days: p.int(S, "credit_hold_after_days", r.credit_hold_after_days, (1, 365), 15) as u32,
        service_hold_after_days: p.int(S, "service_hold_after_days", r.service_hold_after_days, (1, 365), 30) as u32,
        claim_grace_days: p.int(S, "claim_grace_days", r.claim_grace_days, (0, 60), 5) as u32,
    }
}

fn tiers(p: &mut Problems, raw: &RawConfig) -> BTreeMap<String, Tier> {
    let mut out = BTreeMap::new();
    let Some(tiers) = &raw.tiers else {
        p.section("tiers", "missing");
        return out;
    };
    if tiers.is_empty() {
        p.section("tiers", "at least one tier is needed");
    }
    for (key, t) in tiers {
        let s = format!("tiers.{key}");
        let label = p.nonempty(&s, "label", t.label.as_deref());
        let full_time = p.money(&s, "full_time_rate", t.full_time_rate.as_ref());
        let part_time = p.money(&s, "part_time_rate", t.part_time_rate.as_ref());
        if let (Some(label), Some(full_time), Some(part_time)) = (label, full_time, part_time) {
            out.insert(key.clone(), Tier { label, rates: Rates { full_time, part_time } });
        }
    }
    out
}

fn web(p: &mut Problems, r: &RawWeb, base: &Path) -> Option<Web> {
    const S: &str = "web";
    let listen = p.nonempty(S, "listen", r.listen.as_deref()).and_then(|l| {
        l.trim()
            .parse::<std::net::SocketAddr>()
            .map_err(|_| p.at(S, "listen", format!("{l:?} is not an address and port like \"127.0.0.1:8025\"")))
            .ok()
    });
    let session = r.session.unwrap_or(std::time::Duration::from_secs(8 * 3600));
    if session < std::time::Duration::from_secs(60) || session > std::time::Duration::from_secs(31 * 24 * 3600) {
        p.at(S, "session", "must be between 1 minute and 31 days");
    }
    let file = |p: &mut Problems, key: &str, v: &str| -> Option<PathBuf> {
        let path = base.join(v);
        match std::fs::metadata(&path) {
            Ok(m) if m.is_file() => Some(path),
            _ => {
                p.at(S, key, format!("{} cannot be read", path.display()));
                None
            }
        }
    };
    let tls = match (r.tls_cert.as_deref(), r.tls_key.as_deref()) {
        (None, None) => Some(None),
        (Some(c), Some(k)) => match (file(p, "tls_cert", c), file(p, "tls_key", k)) {
            (Some(c), Some(k)) => Some(Some((c, k))),
            _ => None,
        },
        (Some(_), None) => {
            p.at(S, "tls_key", "missing (tls_cert is set)");
            None
        }
        (None, Some(_)) => {
            p.at(S, "tls_cert", "missing (tls_key is set)");
            None
        }
    };
    let tls = tls?;
    let secure_cookies = r.secure_cookies.unwrap_or(tls.is_some());
    Some(Web { listen: listen?, session, tls, secure_cookies })
}

fn export(p: &mut Problems, r: &RawExport) -> Option<Mapping> {
    const S: &str = "export";
    let receivables = p.nonempty(S, "receivables_account", r.receivables_account.as_deref());
    let deposit = p.nonempty(S, "deposit_account", r.deposit_account.as_deref());
    let date_style = match r.date_format.as_deref() {
        None => Some(DateStyle::Us),
        Some(s) => DateStyle::parse(s).or_else(|| {
            p.at(S, "date_format", format!("{s:?} is not one of \"MM/DD/YYYY\", \"DD/MM/YYYY\", \"YYYY-MM-DD\""));
            None
        }),
    };
    let tax = match r.xero_tax_type.as_deref() {
        None => Some("Tax Exempt".to_string()),
        v => p.nonempty(S, "xero_tax_type", v),
    };
    let mut target = |key: &str, t: Option<&RawTarget>| -> Option<Target> {
        let Some(t) = t else {
            p.at(S, key, "missing (a table: { item = \"...\", account = \"...\" })");
            return None;
        };
        let item = p.nonempty(S, &format!("{key}.item"), t.item.as_deref());
        let account = p.nonempty(S, &format!("{key}.account"), t.account.as_deref());
        Some(Target { item: item?, account: account? })
    };
    let full_time = target("full_time", r.full_time.as_ref());
    let part_time = target("part_time", r.part_time.as_ref());
    let adjustment = target("adjustment", r.adjustment.as_ref());
    let service = target("service", r.service.as_ref());
    let mut products = BTreeMap::new();
    for (name, t) in &r.products {
        if let Some(t) = target(&format!("products.{name:?}"), Some(t)) {
            products.insert(name.clone(), t);
        }
    }
    if r.products.is_empty() {
        p.at(S, "products", "missing (a table of product names, \"*\" for any other, each { item, account })");
    }
    Some(Mapping {
        receivables_account: receivables?,
        deposit_account: deposit?,
        date_style: date_style?,
        xero_tax_type: tax?,
        full_time: full_time?,
        part_time: part_time?,
        adjustment: adjustment?,
        service: service?,
        products,
    })
}

fn trust(p: &mut Problems, r: &RawTrust) -> Trust {
    const S: &str = "trust";
    let mut authserv_ids = Vec::new();
    for id in &r.authserv_ids {
        let id = id.trim().to_ascii_lowercase();
        if id.is_empty() || id.contains(|c: char| c.is_whitespace() || c == ';' || c == '"') {
            p.at(S, "authserv_ids", format!("{id:?} is not an authserv-id (a host name like mx.example.com)"));
        } else {
            authserv_ids.push(id);
        }
    }
    let mut dns_servers = Vec::new();
    for s in &r.dns_servers {
        match s.parse::<SocketAddr>().or_else(|_| s.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 53))) {
            Ok(a) => dns_servers.push(a),
            Err(_) => {
                p.at(S, "dns_servers", format!("{s:?} is not an address like \"192.0.2.53\" or \"127.0.0.1:5353\""))
            }
        }
    }
    let payment_senders = r
        .payment_senders
        .iter()
        .filter_map(|a| EmailAddress::parse(a).map_err(|e| p.at(S, "payment_senders", e)).ok())
        .collect();
    Trust {
        payment_senders,
        require_authentication: r.require_authentication.unwrap_or(true),
        verify_dkim: r.verify_dkim.unwrap_or(false),
        authserv_ids,
        dns_servers,
        bounce_domains: p.domains(S, "bounce_domains", &r.bounce_domains),
        arc_sealers: p.domains(S, "arc_sealers", &r.arc_sealers),
    }
}
