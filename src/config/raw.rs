//! The config file as written: serde structs, every key optional so that a
//! missing one is reported by [`super::check`] with the others. Unknown keys
//! are collected (`serde_ignored`), not refused one at a time; a value of the
//! wrong type stops the reading with the key's path (`serde_path_to_error`).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RawConfig {
    pub company: Option<RawCompany>,
    pub database: Option<RawDatabase>,
    pub imap: Option<RawImap>,
    pub smtp: Option<RawSmtp>,
    pub oauth2: Option<RawOAuth2>,
    pub schedule: RawSchedule,
    pub collections: RawCollections,
    pub tiers: Option<BTreeMap<String, RawTier>>,
    pub trust: RawTrust,
    pub templates: Option<RawTemplates>,
    pub export: Option<RawExport>,
    pub web: Option<RawWeb>,
}

/// `[web]`: the console for the accounting staff.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RawWeb {
    pub listen: Option<String>,
    #[serde(with = "humantime_serde")]
    pub session: Option<Duration>,
    pub tls_cert: Option<String>,
    pub tls_key: Option<String>,
    pub secure_cookies: Option<bool>,
}

/// `[export]`: where billmail's lines go in the accounting system.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RawExport {
    pub receivables_account: Option<String>,
    pub deposit_account: Option<String>,
    pub date_format: Option<String>,
    pub xero_tax_type: Option<String>,
    pub full_time: Option<RawTarget>,
    pub part_time: Option<RawTarget>,
    pub adjustment: Option<RawTarget>,
    pub service: Option<RawTarget>,
    pub products: BTreeMap<String, RawTarget>,
}

/// An item and its income account: `{ item = "...", account = "4000" }`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RawTarget {
    pub item: Option<String>,
    pub account: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RawCompany {
    pub name: Option<String>,
    pub timezone: Option<String>,
    pub currency: Option<String>,
    pub accounting_address: Option<String>,
    pub services_team_address: Option<String>,
    pub invoice_number_format: Option<String>,
    pub payment_instructions: Option<String>,
    pub address: Option<String>,
    pub phone: Option<String>,
    pub logo: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RawDatabase {
    pub url: Option<String>,
}

/// Where a secret is: one of `NAME_file`, `NAME_env`, `NAME_credential`.
#[derive(Default)]
pub struct RawSecret<'a> {
    pub file: Option<&'a str>,
    pub env: Option<&'a str>,
    pub credential: Option<&'a str>,
}

/// The keys `[imap]` and `[smtp]` share: where the server is and how to log in.
pub struct RawConnection<'a> {
    pub host: Option<&'a str>,
    pub port: Option<i64>,
    pub security: Option<&'a str>,
    pub ca_file: Option<&'a str>,
    pub username: Option<&'a str>,
    pub auth: Option<&'a str>,
    pub password: RawSecret<'a>,
}

// The same keys in both sections, written out in each (not `#[serde(flatten)]`,
// under which unknown keys would go unreported).
macro_rules! section_with_connection {
    ($(#[$doc:meta])* $name:ident { $($(#[$fattr:meta])* $field:ident: $ty:ty,)* }) => {
        $(#[$doc])*
        #[derive(Deserialize, Default)]
        #[serde(default)]
        pub struct $name {
            pub host: Option<String>,
            pub port: Option<i64>,
            pub security: Option<String>,
            pub ca_file: Option<String>,
            pub username: Option<String>,
            pub auth: Option<String>,
            pub password_file: Option<String>,
            pub password_env: Option<String>,
            pub password_credential: Option<String>,
            $($(#[$fattr])* pub $field: $ty,)*
        }

        impl $name {
            pub fn connection(&self) -> RawConnection<'_> {
                RawConnection {
                    host: self.host.as_deref(),
                    port: self.port,
                    security: self.security.as_deref(),
                    ca_file: self.ca_file.as_deref(),
                    username: self.username.as_deref(),
                    auth: self.auth.as_deref(),
                    password: RawSecret {
                        file: self.password_file.as_deref(),
                        env: self.password_env.as_deref(),
                        credential: self.password_credential.as_deref(),
                    },
                }
            }
        }
    };
}

section_with_connection!(RawImap {
    mailbox: Option<String>,
    processed_folder: Option<String>,
    review_folder: Option<String>,
    #[serde(with = "humantime_serde")]
    poll_interval: Option<Duration>,
    start: Option<String>,
});

section_with_connection!(RawSmtp {
    from: Option<String>,
});

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RawOAuth2 {
    pub provider: Option<String>,
    pub tenant: Option<String>,
    pub client_id: Option<String>,
    pub client_secret_file: Option<String>,
    pub client_secret_env: Option<String>,
    pub client_secret_credential: Option<String>,
    pub refresh_token_file: Option<String>,
    pub refresh_token_env: Option<String>,
    pub refresh_token_credential: Option<String>,
    pub token_url: Option<String>,
    pub scope: Option<String>,
}

impl RawOAuth2 {
    pub fn client_secret(&self) -> RawSecret<'_> {
        RawSecret {
            file: self.client_secret_file.as_deref(),
            env: self.client_secret_env.as_deref(),
            credential: self.client_secret_credential.as_deref(),
        }
    }

    pub fn refresh_token(&self) -> RawSecret<'_> {
        RawSecret {
            file: self.refresh_token_file.as_deref(),
            env: self.refresh_token_env.as_deref(),
            credential: self.refresh_token_credential.as_deref(),
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RawSchedule {
    pub agreement_invoice_day: Option<i64>,
    pub agreement_due_day: Option<i64>,
    pub recurring_invoice_day: Option<i64>,
    pub service_due_days: Option<i64>,
    pub send_time: Option<String>,
    pub prorate: Option<bool>,
    pub statement_day: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RawCollections {
    pub reminder_days: Option<Vec<i64>>,
    pub credit_hold_after_days: Option<i64>,
    pub service_hold_after_days: Option<i64>,
    pub claim_grace_days: Option<i64>,
}

/// A rate as written: `"85.00"` (the documented form) or a whole `85`.
#[derive(Deserialize)]
#[serde(untagged)]
pub enum RawAmount {
    Text(String),
    Whole(i64),
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RawTier {
    pub label: Option<String>,
    pub full_time_rate: Option<RawAmount>,
    pub part_time_rate: Option<RawAmount>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RawTrust {
    pub payment_senders: Vec<String>,
    pub require_authentication: Option<bool>,
    pub verify_dkim: Option<bool>,
    pub authserv_ids: Vec<String>,
    pub dns_servers: Vec<String>,
    pub bounce_domains: Vec<String>,
    pub arc_sealers: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RawTemplates {
    pub dir: Option<String>,
}

/// Reads `text` as TOML into the raw settings; `Err` is the one problem
/// that stopped it (not TOML, or a value of the wrong type, with its key).
/// Unknown keys are returned beside, one problem each.
pub fn read(text: &str) -> Result<(RawConfig, Vec<String>), String> {
    let mut unknown = Vec::new();
    let de = toml::Deserializer::new(text);
    let mut note = |path: serde_ignored::Path<'_>| unknown.push(unknown_key(&keys(&path).join(".")));
    let ignored = serde_ignored::Deserializer::new(de, &mut note);
    let raw = serde_path_to_error::deserialize::<_, RawConfig>(ignored).map_err(|e| {
        let place: Vec<String> = e
            .path()
            .iter()
            .filter_map(|seg| match seg {
                serde_path_to_error::Segment::Map { key } => Some(key.clone()),
                serde_path_to_error::Segment::Seq { index } => Some(index.to_string()),
                _ => None,
            })
            .collect();
        let inner = e.into_inner();
        let message = inner.message().trim().replace('\n', " ");
        let line = inner.span().map(|at| text.bytes().take(at.start).filter(|b| *b == b'\n').count() + 1);
        match place.split_last() {
            None => match line {
                Some(n) => format!("not valid TOML (line {n}): {message}"),
                None => format!("not valid TOML: {message}"),
            },
            Some((key, [])) => format!("{key}: {message}"),
            Some((key, section)) => format!("[{}] {key}: {message}", section.join(".")),
        }
    })?;
    Ok((raw, unknown))
}

/// The table keys along `path` (`trust`, `colour`), without serde's steps
/// through an `Option`.
fn keys(path: &serde_ignored::Path<'_>) -> Vec<String> {
    use serde_ignored::Path;
    match path {
        Path::Root => Vec::new(),
        Path::Map { parent, key } => {
            let mut k = keys(parent);
            k.push(key.clone());
            k
        }
        Path::Seq { parent, index } => {
            let mut k = keys(parent);
            k.push(index.to_string());
            k
        }
        Path::Some { parent } | Path::NewtypeStruct { parent } | Path::NewtypeVariant { parent } => keys(parent),
    }
}

/// `trust.colour` -> `[trust]: unknown key "colour"`.
fn unknown_key(path: &str) -> String {
    match path.rsplit_once('.') {
        Some((section, key)) => format!("[{section}]: unknown key {key:?}"),
        None => format!("top level: unknown key {path:?}"),
    }
}
