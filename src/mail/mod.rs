//! The mail edges: SMTP delivery of the outbox (and, later, IMAP intake).

pub mod imap;
pub mod smtp;

use anyhow::{Context, Result, bail};

use crate::config::Secret;

/// Reads a password from its file (trailing newline dropped) or variable.
/// The value is never logged.
pub fn read_secret(secret: &Secret) -> Result<String> {
    match secret {
        Secret::File(p) => {
            let s =
                std::fs::read_to_string(p).with_context(|| format!("cannot read the password file {}", p.display()))?;
            Ok(s.trim_end_matches(['\n', '\r']).to_string())
        }
        Secret::Env(name) => match std::env::var(name) {
            Ok(v) if !v.is_empty() => Ok(v),
            _ => bail!("the environment variable {name} (the password) is not set"),
        },
    }
}
