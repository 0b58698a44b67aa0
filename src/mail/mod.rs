//! The mail edges: SMTP delivery of the outbox (and, later, IMAP intake).

pub mod folders;
pub mod imap;
pub mod oauth2;
pub mod smtp;

use anyhow::{Context, Result, anyhow, bail};

use std::sync::Arc;

use secrecy::SecretString;

use crate::config::{Config, Secret};

/// The token source for `[oauth2]`, shared by the mailbox and SMTP, if configured.
pub fn token_source(config: &Config) -> Result<Option<Arc<oauth2::TokenSource>>> {
    config.oauth2.as_ref().map(|o| oauth2::TokenSource::new(o).map(Arc::new)).transpose()
}

/// Reads a secret from its file (trailing newline dropped), variable, or
/// systemd credential. The value is never logged: it is a `SecretString`,
/// exposed only where it is handed to a login.
pub fn read_secret(secret: &Secret) -> Result<SecretString> {
    let text = match secret {
        Secret::Env(name) => {
            return match std::env::var(name) {
                Ok(v) if !v.is_empty() => Ok(v.into()),
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
    Ok(text.trim_end_matches(['\n', '\r']).into())
}

/// The public roots, and the certificates of `ca_file` when given.
pub(crate) fn tls_connector(ca_file: Option<&std::path::Path>) -> Result<tokio_rustls::TlsConnector> {
    use tokio_rustls::rustls::pki_types::{CertificateDer, pem::PemObject};
    let mut roots = tokio_rustls::rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_file {
        let pem = std::fs::read(path).with_context(|| format!("cannot read the CA file {}", path.display()))?;
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.map_err(|e| anyhow!("the CA file {}: {e}", path.display()))?;
            roots.add(cert).map_err(|e| anyhow!("the CA file {}: {e}", path.display()))?;
        }
    }
    let config = tokio_rustls::rustls::ClientConfig::builder_with_provider(crate::tls_provider())
        .with_safe_default_protocol_versions()
        .context("TLS versions")?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}
