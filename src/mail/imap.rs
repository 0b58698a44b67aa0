//! The mailbox over IMAP with async-imap: connect and log in, the server's
//! folder layout, and the verbs intake uses ([`MailSource`]): select, search,
//! sizes, `BODY.PEEK[]` (or the header alone over the size limit), move
//! (UID MOVE, or COPY + \Deleted + UID EXPUNGE); IDLE. What is taken in and
//! when it is moved is decided in `intake`.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use async_imap::Session;
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use secrecy::ExposeSecret;
use tokio::net::TcpStream;

use super::folders::{self, Layout};
use crate::config::{Auth, Imap, Security};
use crate::inbox::{Disposition, Fetched, MailSource, Search, Selected, over_limit, uid_set};
use crate::mail::oauth2::TokenSource;

/// Every network step is bounded by this.
pub const IO_TIMEOUT: Duration = Duration::from_secs(60);
pub trait Stream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + std::fmt::Debug {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + std::fmt::Debug> Stream for T {}

pub struct Mailbox {
    session: Session<Box<dyn Stream>>,
    /// What was learnt of the server at login, kept across IDLE.
    pub server: Server,
}

/// The server as found at login: what it can do and where the folders are.
pub struct Server {
    can_move: bool,
    uidplus: bool,
    can_idle: bool,
    /// The server's separator and personal namespace.
    pub layout: Layout,
    /// What the server can do, as it said (for `check-config --online`).
    pub capabilities: Vec<String>,
    folders: Folders,
    /// The destination folders as the config writes them (created on open).
    processed_folder: String,
    review_folder: String,
}

/// The config's folders as the server spells them.
#[derive(Clone, Debug)]
struct Folders {
    mailbox: String,
    processed: String,
    review: String,
}

impl Folders {
    fn of(cfg: &Imap, layout: &Layout) -> Folders {
        Folders {
            mailbox: layout.server_name(&cfg.mailbox),
            processed: layout.server_name(&cfg.processed_folder),
            review: layout.server_name(&cfg.review_folder),
        }
    }
    fn for_disposition(&self, d: Disposition) -> &str {
        match d {
            Disposition::Review => &self.review,
            _ => &self.processed,
        }
    }
}

/// The personal namespace and separator: NAMESPACE (RFC 2342) where the
/// server offers it, else the separator `LIST "" ""` gives and no prefix.
///
/// NAMESPACE is spoken on the raw connection: imap-proto 0.17 (under
/// async-imap) cannot parse its answer and would leave the session unusable.
/// Between commands async-imap holds no unread bytes, so the exchange is
/// safe there.
async fn discover_layout(session: &mut Session<Box<dyn Stream>>, namespace: bool) -> Result<Layout> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    if namespace {
        let raw = session.get_mut();
        timed("NAMESPACE", async {
            raw.write_all(b"bmns1 NAMESPACE\r\n").await?;
            raw.flush().await
        })
        .await?;
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        // the tagged answer, whole: nothing of it may be left for async-imap
        let done = |got: &[u8]| {
            (got.starts_with(b"bmns1 ") || memchr::memmem::find(got, b"\r\nbmns1 ").is_some()) && got.ends_with(b"\r\n")
        };
        while !done(&got) {
            let n = timed("NAMESPACE", raw.read(&mut buf)).await?;
            if n == 0 || got.len() > 64 * 1024 {
                bail!("IMAP NAMESPACE: the connection closed");
            }
            got.extend_from_slice(&buf[..n]);
        }
        let text = String::from_utf8_lossy(&got);
        if let Some((prefix, separator)) = text.lines().find_map(folders::parse_namespace) {
            return Ok(Layout { prefix, separator });
        }
    }
    let names: Vec<Option<String>> = timed("LIST", async {
        let s = session.list(Some(""), Some("")).await?;
        s.map_ok(|n| n.delimiter().map(str::to_string)).try_collect::<Vec<_>>().await
    })
    .await?;
    let separator = names.into_iter().flatten().next().and_then(|d| d.chars().next());
    Ok(Layout { prefix: String::new(), separator })
}

/// Why a wait for new mail ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Woken {
    NewMail,
    Timeout,
}

async fn timed<T, E: std::fmt::Display>(what: &str, f: impl std::future::Future<Output = Result<T, E>>) -> Result<T> {
    match tokio::time::timeout(IO_TIMEOUT, f).await {
        Err(_) => bail!("IMAP {what}: no answer within {}s", IO_TIMEOUT.as_secs()),
        Ok(Err(e)) => bail!("IMAP {what}: {e}"),
        Ok(Ok(v)) => Ok(v),
    }
}

async fn tls(tcp: TcpStream, host: &str, ca_file: Option<&std::path::Path>) -> Result<Box<dyn Stream>> {
    let name = tokio_rustls::rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(|e| anyhow!("{host:?} is not a TLS server name: {e}"))?;
    let stream = timed("TLS handshake", super::tls_connector(ca_file)?.connect(name, tcp)).await?;
    Ok(Box::new(stream))
}

/// How to log in with a password: AUTHENTICATE PLAIN where the greeting
/// offers it (it carries any password, UTF-8 included) or forbids LOGIN,
/// else LOGIN.
#[derive(Debug, PartialEq, Eq)]
pub enum PasswordLogin {
    Login,
    Plain,
}

pub fn password_login(greeting_capabilities: &[String]) -> PasswordLogin {
    let has = |c: &str| greeting_capabilities.iter().any(|g| g.eq_ignore_ascii_case(c));
    if has("AUTH=PLAIN") || has("LOGINDISABLED") { PasswordLogin::Plain } else { PasswordLogin::Login }
}

/// The capabilities a greeting lists (`* OK [CAPABILITY …] …`), if any.
fn greeting_capabilities(greeting: &async_imap::imap_proto::Response<'_>) -> Vec<String> {
    use async_imap::imap_proto::{Capability, Response, ResponseCode};
    match greeting {
        Response::Data { outcome, .. } => match &outcome.code {
            Some(ResponseCode::Capabilities(caps)) => caps
                .iter()
                .map(|c| match c {
                    Capability::Imap4rev1 => "IMAP4rev1".to_string(),
                    Capability::Auth(a) => format!("AUTH={a}"),
                    Capability::Atom(a) => a.to_string(),
                })
                .collect(),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// A SASL mechanism with an initial response (PLAIN, XOAUTH2): the response
/// first; to any further challenge (XOAUTH2's JSON error status) an empty
/// answer, as the mechanisms ask, keeping what the server said.
struct InitialResponse {
    initial: Option<String>,
    said: Arc<std::sync::Mutex<Option<String>>>,
}

impl InitialResponse {
    fn new(initial: String) -> InitialResponse {
        InitialResponse { initial: Some(initial), said: Arc::default() }
    }
}

impl async_imap::Authenticator for InitialResponse {
    type Response = String;

    fn process(&mut self, challenge: &[u8]) -> String {
        match self.initial.take() {
            Some(first) => first,
            None => {
                if let Ok(mut said) = self.said.lock() {
                    *said = Some(String::from_utf8_lossy(challenge).chars().take(300).collect());
                }
                String::new()
            }
        }
    }
}

impl Mailbox {
    /// Connects and logs in (TLS, STARTTLS, or plain to a loopback address),
    /// with a password or, for `auth = "oauth2"`, a token from `tokens`.
    pub async fn connect(cfg: &Imap, tokens: Option<&TokenSource>, now: DateTime<Utc>) -> Result<Mailbox> {
        let secret = match &cfg.auth {
            Auth::Password(s) => super::read_secret(s)?,
            Auth::OAuth2 => {
                let tokens = tokens.ok_or_else(|| anyhow!("[imap] auth = \"oauth2\" needs an [oauth2] section"))?;
                tokens.token(now).await?
            }
        };
        let tcp = timed("connect", TcpStream::connect((cfg.host.as_str(), cfg.port)))
            .await
            .with_context(|| format!("reaching {}:{}", cfg.host, cfg.port))?;
        // commands go out whole at once, not held back waiting for an ACK
        tcp.set_nodelay(true).context("TCP_NODELAY")?;
        let ca = cfg.ca_file.as_deref();
        let mut caps = Vec::new();
        let stream: Box<dyn Stream> = match cfg.security {
            Security::Tls => tls(tcp, &cfg.host, ca).await?,
            Security::Plain => Box::new(tcp),
            Security::StartTls => {
                let mut client = async_imap::Client::new(tcp);
                let greeting = timed("greeting", client.read_response()).await?;
                caps = greeting.as_ref().map(|g| greeting_capabilities(g.parsed())).unwrap_or_default();
                timed("STARTTLS", client.run_command_and_check_ok("STARTTLS", None)).await?;
                tls(client.into_inner(), &cfg.host, ca).await?
            }
        };
        let mut client = async_imap::Client::new(stream);
        if cfg.security != Security::StartTls {
            let greeting = timed("greeting", client.read_response()).await?;
            caps = greeting.as_ref().map(|g| greeting_capabilities(g.parsed())).unwrap_or_default();
        }
        let mut session = match &cfg.auth {
            Auth::Password(_) => {
                let how = password_login(&caps);
                let attempt = match how {
                    PasswordLogin::Plain => {
                        // no authorization identity, the username, the password
                        let plain = InitialResponse::new(format!("\0{}\0{}", cfg.username, secret.expose_secret()));
                        tokio::time::timeout(IO_TIMEOUT, client.authenticate("PLAIN", plain)).await
                    }
                    PasswordLogin::Login => {
                        tokio::time::timeout(IO_TIMEOUT, client.login(&cfg.username, secret.expose_secret())).await
                    }
                };
                match attempt {
                    Err(_) => bail!("IMAP login: no answer within {}s", IO_TIMEOUT.as_secs()),
                    Ok(Err((e, _))) => bail!("IMAP login ({how:?}) as {} refused: {e}", cfg.username),
                    Ok(Ok(s)) => {
                        tracing::debug!(mechanism = ?how, user = %cfg.username, "IMAP login");
                        s
                    }
                }
            }
            Auth::OAuth2 => {
                let sasl = InitialResponse::new(super::oauth2::xoauth2(&cfg.username, secret.expose_secret()));
                let said = sasl.said.clone();
                match tokio::time::timeout(IO_TIMEOUT, client.authenticate("XOAUTH2", sasl)).await {
                    Err(_) => bail!("IMAP AUTHENTICATE: no answer within {}s", IO_TIMEOUT.as_secs()),
                    Ok(Err((e, _))) => {
                        if let Some(t) = tokens {
                            t.forget().await;
                        }
                        let detail =
                            said.lock().ok().and_then(|s| s.clone()).map(|s| format!(" ({s})")).unwrap_or_default();
                        let provider = tokens.map(TokenSource::provider).unwrap_or(crate::config::Provider::Microsoft);
                        bail!(
                            "IMAP XOAUTH2 as {} refused: {e}{detail}; {}",
                            cfg.username,
                            super::oauth2::refused_hint(provider)
                        )
                    }
                    Ok(Ok(s)) => s,
                }
            }
        };
        let caps = timed("CAPABILITY", session.capabilities()).await?;
        let capabilities: Vec<String> = caps
            .iter()
            .map(|c| match c {
                async_imap::types::Capability::Imap4rev1 => "IMAP4rev1".to_string(),
                async_imap::types::Capability::Auth(a) => format!("AUTH={a}"),
                async_imap::types::Capability::Atom(a) => a.to_string(),
            })
            .collect();
        let layout = discover_layout(&mut session, caps.has_str("NAMESPACE")).await?;
        tracing::debug!(prefix = %layout.prefix, separator = ?layout.separator, "IMAP folders");
        let server = Server {
            can_move: caps.has_str("MOVE"),
            uidplus: caps.has_str("UIDPLUS"),
            can_idle: caps.has_str("IDLE"),
            folders: Folders::of(cfg, &layout),
            layout,
            capabilities,
            processed_folder: cfg.processed_folder.clone(),
            review_folder: cfg.review_folder.clone(),
        };
        Ok(Mailbox { session, server })
    }

    /// The server's names of the folders `cfg` names, and whether each
    /// exists: what `check-config --online` shows; changes nothing.
    pub async fn describe_folders(&mut self, cfg: &Imap) -> Result<Vec<(String, String, bool)>> {
        let mut out = Vec::new();
        for name in [&cfg.mailbox, &cfg.processed_folder, &cfg.review_folder] {
            let server = self.server.layout.server_name(name);
            let exists = self.exists(&server).await?;
            out.push((name.clone(), server, exists));
        }
        Ok(out)
    }

    async fn exists(&mut self, server_name: &str) -> Result<bool> {
        let existing: Vec<String> = timed("LIST", async {
            let s = self.session.list(Some(""), Some(server_name)).await?;
            s.map_ok(|n| n.name().to_string()).try_collect::<Vec<_>>().await
        })
        .await?;
        Ok(existing.iter().any(|n| n == server_name))
    }

    /// Creates the folder written `name` in the config, its parents first,
    /// and subscribes to each, so mail clients show them.
    async fn ensure_folder(&mut self, name: &str) -> Result<()> {
        for server in self.server.layout.with_parents(name) {
            if !self.exists(&server).await? {
                timed("CREATE", self.session.create(&server)).await.with_context(|| format!("creating {server:?}"))?;
                if let Err(e) = timed("SUBSCRIBE", self.session.subscribe(&server)).await {
                    tracing::warn!(folder = %server, error = %e, "could not subscribe");
                }
            }
        }
        Ok(())
    }

    /// One batch's messages, in UID order, each with the size it had when
    /// only its header was fetched (over the limit) or `None` when whole.
    async fn fetch_batch(&mut self, batch: &[(u32, u32)]) -> Result<Vec<Fetched>> {
        let mut fetched = Vec::with_capacity(batch.len());
        let (large, whole): (Vec<_>, Vec<_>) = batch.iter().partition(|(_, size)| over_limit(*size));
        for (items, header_only) in [(whole, false), (large, true)] {
            if items.is_empty() {
                continue;
            }
            let set = uid_set(&items.iter().map(|(u, _)| *u).collect::<Vec<_>>());
            let query = if header_only { "(UID BODY.PEEK[HEADER])" } else { "(UID BODY.PEEK[])" };
            let got: Vec<(u32, Vec<u8>)> = timed("UID FETCH", async {
                let s = self.session.uid_fetch(&set, query).await?;
                s.try_filter_map(|f| async move {
                    let part = if header_only { f.header() } else { f.body() };
                    Ok(f.uid.zip(part.map(<[u8]>::to_vec)))
                })
                .try_collect()
                .await
            })
            .await?;
            for (uid, raw) in got {
                let size = items.iter().find(|(u, _)| *u == uid).map_or(0, |(_, size)| *size as usize);
                let too_large = header_only.then_some(size);
                if header_only {
                    tracing::warn!(uid, size, "over the message size limit: only its header is taken in, for review");
                }
                fetched.push(Fetched { uid, raw, too_large });
            }
        }
        fetched.sort_by_key(|f| f.uid);
        Ok(fetched)
    }

    /// Moves a set of messages with one command (or COPY + \Deleted + UID EXPUNGE).
    async fn move_uids(&mut self, uids: &[u32], to: &str) -> Result<()> {
        if uids.is_empty() {
            return Ok(());
        }
        let set = uid_set(uids);
        if self.server.can_move {
            timed("UID MOVE", self.session.uid_mv(&set, to)).await?;
        } else {
            timed("UID COPY", self.session.uid_copy(&set, to)).await?;
            timed("UID STORE", async {
                let s = self.session.uid_store(&set, "+FLAGS.SILENT (\\Deleted)").await?;
                s.try_collect::<Vec<_>>().await
            })
            .await?;
            if self.server.uidplus {
                timed("UID EXPUNGE", async {
                    let s = self.session.uid_expunge(&set).await?;
                    s.try_collect::<Vec<_>>().await
                })
                .await?;
            }
        }
        Ok(())
    }

    pub fn can_idle(&self) -> bool {
        self.server.can_idle
    }

    /// Waits in IDLE on the selected mailbox for new mail, at most `limit`
    /// (callers keep it under 25 minutes), then ends IDLE. The session comes
    /// back ready for the next command. Only a message arriving (`EXISTS`,
    /// `RECENT`) wakes it: the `EXPUNGE`s of the cycle's own moves, made on
    /// another connection, and flag changes are passed over, and the
    /// server's keepalives (`* OK Still here`) keep it waiting to `limit`.
    pub async fn idle(self, limit: Duration) -> Result<(Mailbox, Woken)> {
        use async_imap::imap_proto::{MailboxDatum, Response};
        let Mailbox { session, server } = self;
        let mut handle = session.idle();
        timed("IDLE", handle.init()).await?;
        let deadline = tokio::time::Instant::now() + limit;
        let woken = loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                break Woken::Timeout;
            }
            // the wait ends after `left` without a word from the server, or
            // at the deadline when keepalives came; a dead connection then
            // fails the DONE below
            let (wait, _stop) = handle.wait_with_timeout(left);
            match tokio::time::timeout(left, wait).await {
                Err(_) => break Woken::Timeout,
                Ok(Err(e)) => bail!("IMAP IDLE: {e}"),
                Ok(Ok(async_imap::extensions::idle::IdleResponse::NewData(data))) => {
                    if matches!(data.parsed(), Response::MailboxData(MailboxDatum::Exists(_) | MailboxDatum::Recent(_)))
                    {
                        break Woken::NewMail;
                    }
                }
                Ok(Ok(_)) => break Woken::Timeout,
            }
        };
        let session = timed("DONE", handle.done()).await?;
        Ok((Mailbox { session, server }, woken))
    }

    async fn uid_search(&mut self, query: &str) -> Result<Vec<u32>> {
        let mut found: Vec<u32> = timed("UID SEARCH", self.session.uid_search(query)).await?.into_iter().collect();
        found.sort_unstable();
        Ok(found)
    }

    pub async fn logout(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(5), self.session.logout()).await;
    }
}

impl MailSource for Mailbox {
    async fn open(&mut self) -> Result<Selected> {
        let (processed, review) = (self.server.processed_folder.clone(), self.server.review_folder.clone());
        self.ensure_folder(&processed).await?;
        self.ensure_folder(&review).await?;
        let mb = timed("SELECT", self.session.select(&self.server.folders.mailbox)).await?;
        let uidvalidity = mb
            .uid_validity
            .ok_or_else(|| anyhow!("the server gave no UIDVALIDITY for {}", self.server.folders.mailbox))?;
        Ok(Selected { uidvalidity, uidnext: mb.uid_next })
    }

    async fn search(&mut self, which: Search) -> Result<Vec<u32>> {
        match which {
            Search::All => self.uid_search("ALL").await,
            Search::Since(date) => self.uid_search(&format!("SINCE {}", date.format("%-d-%b-%Y"))).await,
            // `n:*` always matches the newest message, even at or below n
            Search::After(last) => Ok(self
                .uid_search(&format!("UID {}:*", last.saturating_add(1)))
                .await?
                .into_iter()
                .filter(|u| *u > last)
                .collect()),
        }
    }

    async fn sizes(&mut self, uids: &[u32]) -> Result<Vec<(u32, u32)>> {
        if uids.is_empty() {
            return Ok(vec![]);
        }
        let set = uid_set(uids);
        let mut sized: Vec<(u32, u32)> = timed("UID FETCH", async {
            let s = self.session.uid_fetch(&set, "(UID RFC822.SIZE)").await?;
            s.try_filter_map(|f| async move { Ok(f.uid.map(|u| (u, f.size.unwrap_or(0)))) }).try_collect().await
        })
        .await?;
        sized.sort_unstable();
        Ok(sized)
    }

    async fn fetch(&mut self, batch: &[(u32, u32)]) -> Result<Vec<Fetched>> {
        self.fetch_batch(batch).await
    }

    async fn move_to(&mut self, uids: &[u32], to: Disposition) -> Result<String> {
        let folder = self.server.folders.for_disposition(to).to_string();
        self.move_uids(uids, &folder).await?;
        Ok(folder)
    }
}

#[cfg(test)]
mod tests {
    use super::{PasswordLogin, password_login};

    fn caps(c: &[&str]) -> Vec<String> {
        c.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn plain_where_offered_or_login_is_forbidden_else_login() {
        assert_eq!(password_login(&caps(&["IMAP4rev1", "AUTH=PLAIN", "AUTH=LOGIN"])), PasswordLogin::Plain);
        assert_eq!(password_login(&caps(&["IMAP4rev1", "STARTTLS", "LOGINDISABLED"])), PasswordLogin::Plain);
        assert_eq!(password_login(&caps(&["IMAP4rev1", "AUTH=XOAUTH2"])), PasswordLogin::Login);
        // Exchange and Gmail greet without capabilities
        assert_eq!(password_login(&[]), PasswordLogin::Login);
    }
}
