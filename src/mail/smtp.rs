//! Sending queued messages over SMTP with lettre: pooled connections, every
//! send under a timeout, temporary failures told from permanent ones.

use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use chrono::{DateTime, Utc};
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::{Security, Smtp};
use crate::store::QueuedMail;

/// How long one send may take before it counts as a temporary failure.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth trying again later: a 4xx reply, a refused or dropped connection, a timeout.
    #[error("temporary failure: {0}")]
    Temporary(String),
    /// The server refused the message for good (5xx), or it cannot be built.
    #[error("permanent failure: {0}")]
    Permanent(String),
}

pub struct Sender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Sender {
    pub fn new(cfg: &Smtp) -> Result<Sender> {
        let mut builder = match cfg.security {
            Security::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&cfg.host)
                .with_context(|| format!("SMTP host {}", cfg.host))?,
            Security::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&cfg.host)
                .with_context(|| format!("SMTP host {}", cfg.host))?,
            Security::Plain => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&cfg.host).tls(Tls::None),
        };
        if cfg.security == Security::Tls {
            let params = TlsParameters::new(cfg.host.clone()).context("TLS settings")?;
            builder = builder.tls(Tls::Wrapper(params));
        }
        builder = builder.port(cfg.port).timeout(Some(SEND_TIMEOUT));
        if let (Some(user), Some(secret)) = (&cfg.username, &cfg.password) {
            builder = builder.credentials(Credentials::new(user.clone(), super::read_secret(secret)?));
        }
        let from: Mailbox = cfg.from.parse().map_err(|e| anyhow!("[smtp] from {:?}: {e}", cfg.from))?;
        Ok(Sender { transport: builder.build(), from })
    }

    /// Sends one message, within [`SEND_TIMEOUT`].
    pub async fn send(&self, mail: &QueuedMail, now: DateTime<Utc>) -> Result<(), SendError> {
        let message = build(&self.from, mail, now).map_err(|e| SendError::Permanent(format!("{e:#}")))?;
        match tokio::time::timeout(SEND_TIMEOUT, self.transport.send(message)).await {
            Err(_) => Err(SendError::Temporary(format!("no answer within {}s", SEND_TIMEOUT.as_secs()))),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) if e.is_permanent() => Err(SendError::Permanent(e.to_string())),
            Ok(Err(e)) => Err(SendError::Temporary(e.to_string())),
        }
    }
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
