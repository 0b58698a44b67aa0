//! Sending queued messages over SMTP with lettre's connection: one
//! connection per delivery round with `TCP_NODELAY`, every send under a
//! timeout, temporary failures told from permanent ones.

use std::time::Duration;

use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use chrono::{DateTime, Utc};
use lettre::Message;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream, Certificate, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use secrecy::{ExposeSecret, SecretString};
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::ServerName;

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
    /// The password login, when `[smtp]` has one.
    password: Option<Credentials>,
    /// The XOAUTH2 token `prepare` fetched (OAuth2 only).
    token: tokio::sync::Mutex<Option<SecretString>>,
    /// The open connection, kept for the rest of a delivery round, and the
    /// token it logged in with.
    conn: tokio::sync::Mutex<Option<(AsyncSmtpConnection, Option<SecretString>)>>,
    hello: ClientId,
    from: Mailbox,
}

/// A TLS connection as lettre takes one (lettre has no implicit-TLS
/// connector over a socket of our own).
#[derive(Debug)]
struct TlsTcp(tokio_rustls::client::TlsStream<TcpStream>);

impl tokio::io::AsyncRead for TlsTcp {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for TlsTcp {
    fn poll_write(self: Pin<&mut Self>, cx: &mut TaskContext<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }
}

impl AsyncTokioStream for TlsTcp {
    fn peer_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.0.get_ref().0.peer_addr()
    }
}

/// The settings for STARTTLS: the public roots and `ca_file`.
/// A token as text, where it is compared or handed to a login.
fn exposed(token: &Option<SecretString>) -> Option<&str> {
    token.as_ref().map(ExposeSecret::expose_secret)
}

fn starttls_parameters(cfg: &Smtp) -> Result<TlsParameters> {
    let mut params = TlsParameters::builder(cfg.host.clone());
    if let Some(path) = &cfg.ca_file {
        let pem = std::fs::read(path).with_context(|| format!("cannot read the CA file {}", path.display()))?;
        let cert = Certificate::from_pem(&pem).map_err(|e| anyhow!("the CA file {}: {e}", path.display()))?;
        params = params.add_root_certificate(cert);
    }
    params.build_rustls().context("TLS settings")
}

impl Sender {
    /// For `auth = "oauth2"`, `tokens` gives the tokens (shared with the mailbox).
    pub fn new(cfg: &Smtp, tokens: Option<Arc<TokenSource>>) -> Result<Sender> {
        let password = match (&cfg.username, &cfg.auth) {
            (Some(user), Some(Auth::Password(secret))) => {
                Some(Credentials::new(user.clone(), super::read_secret(secret)?.expose_secret().to_string()))
            }
            (_, Some(Auth::OAuth2)) if tokens.is_none() => {
                bail!("[smtp] auth = \"oauth2\" needs an [oauth2] section")
            }
            _ => None,
        };
        let from: Mailbox = cfg.from.parse().map_err(|e| anyhow!("[smtp] from {:?}: {e}", cfg.from))?;
        if cfg.security != Security::Plain {
            // a bad CA file is a configuration error, found now rather than at the first send
            starttls_parameters(cfg)?;
            super::tls_connector(cfg.ca_file.as_deref())?;
        }
        Ok(Sender {
            cfg: cfg.clone(),
            tokens,
            password,
            token: tokio::sync::Mutex::new(None),
            conn: tokio::sync::Mutex::new(None),
            hello: ClientId::default(),
            from,
        })
    }

    /// Makes sure the sender can log in at `now`: with OAuth2, fetches a
    /// token when the cached one is running out. An error means nothing can
    /// be sent this round.
    pub async fn prepare(&self, now: DateTime<Utc>) -> Result<()> {
        let (Some(tokens), Some(Auth::OAuth2)) = (&self.tokens, &self.cfg.auth) else { return Ok(()) };
        *self.token.lock().await = Some(tokens.token(now).await?);
        Ok(())
    }

    /// After an authentication refusal: the next round fetches a new token.
    async fn refused(&self) {
        if let Some(t) = &self.tokens {
            t.forget().await;
        }
    }

    /// A new connection, encrypted as configured and logged in. The socket
    /// has `TCP_NODELAY`: the message's last line (`.`) leaves at once
    /// instead of waiting for the server to acknowledge the body, so the
    /// moment between the server accepting a message and billmail recording
    /// it (a crash there sends it twice) is one round trip, not ~45 ms of
    /// Nagle and delayed ACK per message.
    async fn open(&self, token: Option<&str>) -> Result<AsyncSmtpConnection, SendError> {
        let unavailable = |what: &str, e: &dyn std::fmt::Display| SendError::Unavailable(format!("{what}: {e}"));
        let host = self.cfg.host.as_str();
        let tcp = TcpStream::connect((host, self.cfg.port))
            .await
            .map_err(|e| unavailable(&format!("connecting to {host}:{}", self.cfg.port), &e))?;
        tcp.set_nodelay(true).map_err(|e| unavailable("TCP_NODELAY", &e))?;
        let mut conn = match self.cfg.security {
            Security::Tls => {
                let name = ServerName::try_from(self.cfg.host.clone())
                    .map_err(|e| SendError::Unavailable(format!("{host:?} is not a TLS server name: {e}")))?;
                let connector = super::tls_connector(self.cfg.ca_file.as_deref())
                    .map_err(|e| SendError::Unavailable(format!("{e:#}")))?;
                let tls = connector.connect(name, tcp).await.map_err(|e| unavailable("TLS handshake", &e))?;
                AsyncSmtpConnection::connect_with_transport(Box::new(TlsTcp(tls)), &self.hello).await
            }
            _ => AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &self.hello).await,
        }
        .map_err(|e| unavailable("SMTP greeting", &e))?;
        if self.cfg.security == Security::StartTls {
            let params = starttls_parameters(&self.cfg).map_err(|e| SendError::Unavailable(format!("{e:#}")))?;
            conn.starttls(params, &self.hello).await.map_err(|e| unavailable("STARTTLS", &e))?;
        }
        let login = match (token, &self.password) {
            (Some(token), _) => {
                let user = self.cfg.username.clone().unwrap_or_default();
                Some((Credentials::new(user, token.to_string()), vec![Mechanism::Xoauth2]))
            }
            // PLAIN where offered, else LOGIN
            (None, Some(password)) => Some((password.clone(), vec![Mechanism::Plain, Mechanism::Login])),
            (None, None) => None,
        };
        if let Some((credentials, mechanisms)) = login
            && let Err(e) = conn.auth(&mechanisms, &credentials).await
        {
            conn.abort().await;
            if is_auth_refusal(&e, token.is_some()) {
                self.refused().await;
                let hint = match (token, &self.tokens) {
                    (Some(_), Some(t)) => format!("; {}", super::oauth2::refused_hint(t.provider())),
                    _ => "; check [smtp] username and password".into(),
                };
                return Err(SendError::Unavailable(format!("the SMTP server refused the login: {e}{hint}")));
            }
            return Err(unavailable("SMTP login", &e));
        }
        Ok(conn)
    }

    /// Sends one message, within [`SEND_TIMEOUT`], over the round's
    /// connection (opened on the first send, checked with NOOP before each
    /// later one, as lettre's pool did).
    pub async fn send(&self, mail: &QueuedMail, now: DateTime<Utc>) -> Result<(), SendError> {
        let message = build(&self.from, mail, now).map_err(|e| SendError::Permanent(format!("{e:#}")))?;
        let envelope = message.envelope().clone();
        let body = message.formatted();
        let token = self.token.lock().await.clone();
        let mut slot = self.conn.lock().await;
        let attempt = async {
            let reusable = match slot.as_mut() {
                Some((conn, with)) if exposed(with) == exposed(&token) && !conn.has_broken() => {
                    conn.test_connected().await
                }
                _ => false,
            };
            if !reusable {
                if let Some((mut old, _)) = slot.take() {
                    old.abort().await;
                }
                *slot = Some((self.open(exposed(&token)).await?, token.clone()));
            }
            let Some((conn, _)) = slot.as_mut() else { unreachable!("a connection was just opened") };
            conn.send(&envelope, &body).await.map(drop).map_err(classify)
        };
        let result = match tokio::time::timeout(SEND_TIMEOUT, attempt).await {
            Err(_) => Err(SendError::Unavailable(format!("no answer within {}s", SEND_TIMEOUT.as_secs()))),
            Ok(r) => r,
        };
        if result.is_err() {
            // lettre has already closed a connection that failed; a timed-out one is dropped
            *slot = None;
        }
        result
    }

    /// Ends the round's connection politely (QUIT), if one is open.
    pub async fn close(&self) {
        if let Some((mut conn, _)) = self.conn.lock().await.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), conn.quit()).await;
        }
    }
}

/// What a failed send means for this message and the rest.
fn classify(e: lettre::transport::smtp::Error) -> SendError {
    if e.is_permanent() {
        SendError::Permanent(e.to_string())
    } else if e.is_transient() || e.is_client() {
        SendError::Temporary(e.to_string())
    } else {
        SendError::Unavailable(e.to_string())
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

/// The message as it goes out: text and HTML parts (and the kept PDF, if any), the stored Message-ID,
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
    let body = match (&mail.attachment_name, &mail.attachment) {
        (Some(name), Some(bytes)) => {
            let pdf = ContentType::parse("application/pdf").expect("a valid content type");
            MultiPart::mixed().multipart(body).singlepart(Attachment::new(name.clone()).body(bytes.clone(), pdf))
        }
        _ => body,
    };
    let mut message = b.multipart(body).context("building the message")?;
    let headers = message.headers_mut();
    headers.insert_raw(raw("Auto-Submitted", "auto-generated"));
    headers.insert_raw(raw("X-Billmail-Kind", &mail.kind));
    Ok(message)
}
