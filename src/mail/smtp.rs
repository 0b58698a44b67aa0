//! Sending queued messages over SMTP with lettre: pooled connections, every
//! send under a timeout, temporary failures told from permanent ones.

use std::time::Duration;

use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use chrono::{DateTime, Utc};
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::{Auth, Security, Smtp};
use crate::mail::oauth2::TokenSource;
use crate::store::QueuedMail;

/// How long one send may take before it counts as a temporary failure.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth trying again later: a 4xx reply to this message.
    #[error("temporary failure: {0}")]
    Temporary(String),
    /// The server cannot be used now (refused or dropped connection, TLS,
    /// a timeout, a refused login): this message and the rest wait.
    #[error("server unavailable: {0}")]
    Unavailable(String),
    /// The server refused the message for good (5xx), or it cannot be built.
    #[error("permanent failure: {0}")]
    Permanent(String),
}

impl SendError {
    /// What the server (or the attempt) said, without the kind.
    pub fn reason(&self) -> &str {
        match self {
            SendError::Temporary(r) | SendError::Unavailable(r) | SendError::Permanent(r) => r,
        }
    }
}

pub struct Sender {
    cfg: Smtp,
    tokens: Option<Arc<TokenSource>>,
    /// The pooled transport, and the token it logs in with (OAuth2 only):
    /// built again when the token is replaced.
    transport: tokio::sync::Mutex<(AsyncSmtpTransport<Tokio1Executor>, Option<String>)>,
    from: Mailbox,
}

fn transport(cfg: &Smtp, credentials: Option<(Credentials, Mechanism)>) -> Result<AsyncSmtpTransport<Tokio1Executor>> {
    let mut builder = match cfg.security {
        Security::Tls => {
            AsyncSmtpTransport::<Tokio1Executor>::relay(&cfg.host).with_context(|| format!("SMTP host {}", cfg.host))?
        }
        Security::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&cfg.host)
            .with_context(|| format!("SMTP host {}", cfg.host))?,
        Security::Plain => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&cfg.host).tls(Tls::None),
    };
    if cfg.security != Security::Plain {
        let mut params = TlsParameters::builder(cfg.host.clone());
        if let Some(path) = &cfg.ca_file {
            let pem = std::fs::read(path).with_context(|| format!("cannot read the CA file {}", path.display()))?;
            let cert = Certificate::from_pem(&pem).map_err(|e| anyhow!("the CA file {}: {e}", path.display()))?;
            params = params.add_root_certificate(cert);
        }
        let params = params.build_rustls().context("TLS settings")?;
        builder = builder.tls(match cfg.security {
            Security::Tls => Tls::Wrapper(params),
            _ => Tls::Required(params),
        });
    }
    builder = builder.port(cfg.port).timeout(Some(SEND_TIMEOUT));
    if let Some((credentials, mechanism)) = credentials {
        builder = builder.credentials(credentials).authentication(vec![mechanism]);
    }
    Ok(builder.build())
}

impl Sender {
    /// For `auth = "oauth2"`, `tokens` gives the tokens (shared with the mailbox).
    pub fn new(cfg: &Smtp, tokens: Option<Arc<TokenSource>>) -> Result<Sender> {
        let credentials = match (&cfg.username, &cfg.auth) {
            (Some(user), Some(Auth::Password(secret))) => {
                // PLAIN where offered, else LOGIN: lettre picks the first the server has
                Some((Credentials::new(user.clone(), super::read_secret(secret)?), Mechanism::Plain))
            }
            (_, Some(Auth::OAuth2)) if tokens.is_none() => {
                bail!("[smtp] auth = \"oauth2\" needs an [oauth2] section")
            }
            _ => None,
        };
        let from: Mailbox = cfg.from.parse().map_err(|e| anyhow!("[smtp] from {:?}: {e}", cfg.from))?;
        let built = transport(cfg, credentials)?;
        Ok(Sender { cfg: cfg.clone(), tokens, transport: tokio::sync::Mutex::new((built, None)), from })
    }

    /// Makes sure the transport can log in at `now`: with OAuth2, fetches a
    /// token when the cached one is running out and builds the pool again
    /// with it. An error means nothing can be sent this round.
    pub async fn prepare(&self, now: DateTime<Utc>) -> Result<()> {
        let (Some(tokens), Some(Auth::OAuth2)) = (&self.tokens, &self.cfg.auth) else { return Ok(()) };
        let token = tokens.token(now).await?;
        let mut current = self.transport.lock().await;
        if current.1.as_deref() != Some(token.as_str()) {
            let user = self.cfg.username.clone().unwrap_or_default();
            let built = transport(&self.cfg, Some((Credentials::new(user, token.clone()), Mechanism::Xoauth2)))?;
            *current = (built, Some(token));
        }
        Ok(())
    }

    /// After an authentication refusal: the next round fetches a new token.
    async fn refused(&self) {
        if let Some(t) = &self.tokens {
            t.forget().await;
        }
    }

    /// Sends one message, within [`SEND_TIMEOUT`].
    pub async fn send(&self, mail: &QueuedMail, now: DateTime<Utc>) -> Result<(), SendError> {
        let message = build(&self.from, mail, now).map_err(|e| SendError::Permanent(format!("{e:#}")))?;
        let transport = self.transport.lock().await.0.clone();
        let oauth = self.cfg.auth == Some(Auth::OAuth2);
        match tokio::time::timeout(SEND_TIMEOUT, transport.send(message)).await {
            Err(_) => Err(SendError::Unavailable(format!("no answer within {}s", SEND_TIMEOUT.as_secs()))),
            Ok(Ok(_)) => Ok(()),
            // a refused login is the account's trouble, not the message's: try again later
            Ok(Err(e)) if is_auth_refusal(&e, oauth) => {
                self.refused().await;
                let hint = match (&self.cfg.auth, &self.tokens) {
                    (Some(Auth::OAuth2), Some(t)) => format!("; {}", super::oauth2::refused_hint(t.provider())),
                    _ => "; check [smtp] username and password".into(),
                };
                Err(SendError::Unavailable(format!("the SMTP server refused the login: {e}{hint}")))
            }
            Ok(Err(e)) if e.is_permanent() => Err(SendError::Permanent(e.to_string())),
            Ok(Err(e)) if e.is_transient() => Err(SendError::Temporary(e.to_string())),
            Ok(Err(e)) if e.is_client() => Err(SendError::Temporary(e.to_string())),
            Ok(Err(e)) => Err(SendError::Unavailable(e.to_string())),
        }
    }
}

/// 535 (authentication failed) or 534/530 (authentication required or too
/// weak); with XOAUTH2, a refusal comes as a 334 error challenge, which lettre
/// reports as a client error about the challenge.
fn is_auth_refusal(e: &lettre::transport::smtp::Error, oauth: bool) -> bool {
    if oauth && e.is_client() && e.to_string().contains("challenge") {
        return true;
    }
    e.status().is_some_and(|c| ["530", "534", "535"].contains(&c.to_string().as_str()))
}

fn raw(name: &'static str, value: &str) -> HeaderValue {
    HeaderValue::new(HeaderName::new_from_ascii_str(name), value.to_string())
}

/// The message as it goes out: text and HTML parts, the stored Message-ID,
/// `Auto-Submitted`, `X-Billmail-Kind`, and threading headers when it answers one.
pub fn build(from: &Mailbox, mail: &QueuedMail, now: DateTime<Utc>) -> Result<Message> {
    let mut b = Message::builder()
        .from(from.clone())
        .subject(mail.subject.clone())
        .message_id(Some(mail.message_id.clone()))
        .date(now.into());
    for to in &mail.to {
        b = b.to(to.parse().map_err(|e| anyhow!("recipient {to:?}: {e}"))?);
    }
    for cc in &mail.cc {
        b = b.cc(cc.parse().map_err(|e| anyhow!("copy recipient {cc:?}: {e}"))?);
    }
    if let Some(r) = &mail.in_reply_to {
        b = b.in_reply_to(r.clone());
    }
    if let Some(r) = &mail.references {
        b = b.references(r.clone());
    }
    let body = MultiPart::alternative()
        .singlepart(SinglePart::builder().header(ContentType::TEXT_PLAIN).body(mail.text.clone()))
        .singlepart(SinglePart::builder().header(ContentType::TEXT_HTML).body(mail.html.clone()));
    let mut message = b.multipart(body).context("building the message")?;
    let headers = message.headers_mut();
    headers.insert_raw(raw("Auto-Submitted", "auto-generated"));
    headers.insert_raw(raw("X-Billmail-Kind", &mail.kind));
    Ok(message)
}
