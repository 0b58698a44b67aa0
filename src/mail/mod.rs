//! The mail edges: SMTP delivery of the outbox (and, later, IMAP intake).

pub mod folders;
pub mod imap;
pub mod oauth2;
pub mod smtp;

use anyhow::{Context, Result, bail};

use std::sync::Arc;

use crate::config::{Config, Secret};

/// The token source for `[oauth2]`, shared by the mailbox and SMTP, if configured.
pub fn token_source(config: &Config) -> Result<Option<Arc<oauth2::TokenSource>>> {
    config.oauth2.as_ref().map(|o| oauth2::TokenSource::new(o).map(Arc::new)).transpose()
}

/// Reads a secret from its file (trailing newline dropped), variable, or
/// systemd credential. The value is never logged.
pub fn read_secret(secret: &Secret) -> Result<String> {
    let text = match secret {
        Secret::Env(name) => {
            return match std::env::var(name) {
                Ok(v) if !v.is_empty() => Ok(v),
                _ => bail!("the environment variable {name} (a secret) is not set"),
            };
        }
        Secret::File(p) => {
            std::fs::read_to_string(p).with_context(|| format!("cannot read the secret file {}", p.display()))?
        }
        Secret::Credential(name) => {
            let Some(dir) = std::env::var_os("CREDENTIALS_DIRECTORY") else {
                bail!(
                    "the credential {name:?} is read from systemd's $CREDENTIALS_DIRECTORY, which is not set (run under billmail.service, or use a *_file setting)"
                )
            };
            // LoadCredential=billmail:/etc/billmail/credentials loads each file as billmail_FILE
            let dir = std::path::Path::new(&dir);
            let prefixed = dir.join(format!("billmail_{name}"));
            let p = if prefixed.exists() { prefixed } else { dir.join(name) };
            std::fs::read_to_string(&p).with_context(|| {
                format!(
                    "cannot read the credential {name:?} ({}): put it in /etc/billmail/credentials/{name}",
                    p.display()
                )
            })?
        }
    };
    Ok(text.trim_end_matches(['\n', '\r']).to_string())
}
