//! A real Dovecot + OpenSMTPD stack on loopback (scripts/mailstack.sh), and
//! reading what arrived over IMAP.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures::TryStreamExt;

/// OpenSMTPD's queue and control socket are per machine: one stack at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

pub struct MailStack {
    pub dir: tempfile::TempDir,
    pub imap_port: u16,
    pub smtp_port: u16,
    /// Dovecot's submission service: wants a login, relays through OpenSMTPD.
    pub submission_port: u16,
    /// IMAP and submission over TLS from the first byte.
    pub imaps_port: u16,
    pub submissions_port: u16,
    /// The CA (PEM) that signed the servers' certificate, for localhost and 127.0.0.1.
    pub tls_ca: PathBuf,
    pub password: String,
    /// `slash`, `maildir` or `courier` (scripts/mailstack.sh IMAP_LAYOUT).
    pub layout: String,
    _guard: MutexGuard<'static, ()>,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/mailstack.sh")
}

/// Stops whatever of a stack in `dir` is running; never fails (for cleanup).
fn stop(dir: &Path) {
    let _ = Command::new("bash").arg(script()).args(["stop", dir.to_str().unwrap()]).output();
}

fn run_script(args: &[&str]) {
    run_script_with(args, &[]);
}

fn run_script_with(args: &[&str], env: &[(&str, &str)]) {
    let out = Command::new("bash").arg(script()).args(args).envs(env.iter().copied()).output().expect("bash runs");
    assert!(
        out.status.success(),
        "mailstack.sh {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl MailStack {
    pub fn start() -> MailStack {
        MailStack::start_with(&[])
    }

    /// A stack whose Dovecot also takes XOAUTH2/OAUTHBEARER logins, checking
    /// each token at `introspection_url`.
    pub fn start_with_oauth(introspection_url: &str) -> MailStack {
        MailStack::start_with(&[("OAUTH_INTROSPECTION_URL", introspection_url)])
    }

    /// A stack whose OpenSMTPD writes `by HOST` in its Received lines, as
    /// the organisation's receiving server does.
    pub fn start_as(host: &str) -> MailStack {
        MailStack::start_with(&[("SMTPD_HOSTNAME", host)])
    }

    /// A stack whose Dovecot has the folder layout `layout` (`slash`,
    /// `maildir`, `courier`).
    pub fn start_with_layout(layout: &str) -> MailStack {
        MailStack::start_with(&[("IMAP_LAYOUT", layout)])
    }

    fn start_with(env: &[(&str, &str)]) -> MailStack {
        let guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        let layout =
            env.iter().find(|(k, _)| *k == "IMAP_LAYOUT").map(|(_, v)| v.to_string()).unwrap_or("slash".into());
        let dir = tempfile::tempdir().unwrap();
        // a port taken by another process between its choice and the
        // server's bind fails the start; new ports are chosen on the next try
        let mut tries = 0;
        loop {
            tries += 1;
            let started = std::panic::catch_unwind(|| run_script_with(&["start", dir.path().to_str().unwrap()], env));
            match started {
                Ok(()) => break,
                Err(e) => {
                    // what did start (Dovecot, say) must not outlive the failure
                    stop(dir.path());
                    if tries == 3 {
                        std::panic::resume_unwind(e);
                    }
                    eprintln!("mail stack did not start (try {tries} of 3); trying again on other ports");
                }
            }
        }
        let env = std::fs::read_to_string(dir.path().join("mailstack.env")).unwrap();
        let get = |k: &str| {
            env.lines()
                .find_map(|l| l.strip_prefix(&format!("{k}=")))
                .unwrap_or_else(|| panic!("{k} in env"))
                .to_string()
        };
        MailStack {
            imap_port: get("IMAP_PORT").parse().unwrap(),
            smtp_port: get("SMTP_PORT").parse().unwrap(),
            submission_port: get("SUBMISSION_PORT").parse().unwrap(),
            imaps_port: get("IMAPS_PORT").parse().unwrap(),
            submissions_port: get("SUBMISSIONS_PORT").parse().unwrap(),
            tls_ca: PathBuf::from(get("TLS_CA")),
            password: get("MAIL_PASSWORD"),
            layout,
            dir,
            _guard: guard,
        }
    }

    pub fn stop_smtp(&self) {
        run_script(&["stop-smtp", self.dir.path().to_str().unwrap()]);
    }

    pub fn restart_imap(&self) {
        run_script(&["restart-imap", self.dir.path().to_str().unwrap()]);
    }

    pub fn start_smtp(&self) {
        run_script(&["start-smtp", self.dir.path().to_str().unwrap()]);
    }

    /// The `[smtp]` section for a billmail config that sends through this stack.
    pub fn smtp_config(&self) -> String {
        format!(
            "[smtp]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"plain\"\nfrom = \"KR Group Accounting <accounting@krgroup.example>\"\n",
            self.smtp_port
        )
    }

    /// The `[imap]` section for reading accounting@'s mailbox; the password
    /// goes in `password_file`. Tests put mail in before billmail's first
    /// connection, as mail arriving after the install: `start` has billmail
    /// read it (without it a first connection leaves what is there).
    pub fn imap_config(&self, password_file: &Path) -> String {
        format!("{}start = \"2026-01-01\"\n", self.imap_config_from_now(password_file))
    }

    /// The `[imap]` section with no `start`: a first connection reads only
    /// what arrives after it.
    pub fn imap_config_from_now(&self, password_file: &Path) -> String {
        format!(
            "[imap]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"plain\"\nusername = \"accounting@krgroup.example\"\npassword_file = \"{}\"\n",
            self.imap_port,
            password_file.display()
        )
    }

    /// The `[imap]` section pointed at a loopback port where nothing listens:
    /// the IMAP server, stopped, as billmail sees it (this stack's Dovecot
    /// keeps delivering the mail billmail sends).
    pub fn imap_config_unreachable(&self, password_file: &Path) -> String {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        self.imap_config(password_file).replace(&format!("port = {}", self.imap_port), &format!("port = {closed}"))
    }

    /// A folder written `a/b` as this stack's Dovecot names it.
    pub fn server_folder(&self, name: &str) -> String {
        if name == "INBOX" {
            return name.into();
        }
        match self.layout.as_str() {
            "maildir" => name.replace('/', "."),
            "courier" => format!("INBOX.{}", name.replace('/', ".")),
            _ => name.into(),
        }
    }

    /// Puts a message into `user`'s `folder`, as delivery would.
    pub fn append(&self, user: &str, folder: &str, raw: &[u8]) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let mut session = login(self.imap_port, user, &self.password).await;
            session.append(self.server_folder(folder), None, None, raw).await.unwrap();
            let _ = session.logout().await;
        });
    }

    /// Puts many messages into `user`'s `folder` over one session, each with
    /// its arrival date (`INTERNALDATE`, like `"20-Nov-2026 09:00:00 -0500"`)
    /// when given.
    pub fn append_many(&self, user: &str, folder: &str, msgs: &[(Vec<u8>, Option<String>)]) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let mut session = login(self.imap_port, user, &self.password).await;
            let folder = self.server_folder(folder);
            for (raw, date) in msgs {
                let date = date.as_ref().map(|d| format!("\"{d}\""));
                session.append(&folder, None, date.as_deref(), raw).await.unwrap();
            }
            let _ = session.logout().await;
        });
    }

    /// (UID, seen) of every message in a folder of `user` (empty when the folder does not exist).
    pub fn folder(&self, user: &str, folder: &str) -> Vec<(u32, bool)> {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let mut session = login(self.imap_port, user, &self.password).await;
            let Ok(mb) = session.examine(self.server_folder(folder)).await else { return vec![] };
            let mut out = Vec::new();
            if mb.exists > 0 {
                let fetches: Vec<_> = session.fetch("1:*", "(UID FLAGS)").await.unwrap().try_collect().await.unwrap();
                for f in fetches {
                    let seen = f.flags().any(|fl| matches!(fl, async_imap::types::Flag::Seen));
                    out.push((f.uid.unwrap(), seen));
                }
            }
            let _ = session.logout().await;
            out
        })
    }

    /// Gives `user`'s INBOX a new UIDVALIDITY, as a server rebuild would.
    pub fn reset_uidvalidity(&self, user: &str, value: u32) {
        let conf = self.dir.path().join("dovecot/dovecot.conf");
        let out = Command::new("doveadm")
            .arg("-c")
            .arg(conf)
            .args(["mailbox", "update", "-u", user, "--uid-validity", &value.to_string(), "INBOX"])
            .output()
            .unwrap();
        assert!(out.status.success(), "doveadm: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// Every message in `user`'s INBOX, fetched with BODY.PEEK[].
    pub fn inbox(&self, user: &str) -> Vec<Vec<u8>> {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(fetch_all(self.imap_port, user, &self.password))
    }

    /// Waits (up to 15 s) until `user` has at least `n` messages, and returns them.
    pub fn wait_for(&self, user: &str, n: usize) -> Vec<Vec<u8>> {
        self.wait_for_long(user, n, Duration::from_secs(15))
    }

    /// Waits up to `limit` until `user` has at least `n` messages (counted,
    /// not fetched, while waiting), and returns them.
    pub fn wait_for_long(&self, user: &str, n: usize, limit: Duration) -> Vec<Vec<u8>> {
        let start = Instant::now();
        while self.folder_count(user, "INBOX") < n && start.elapsed() < limit {
            std::thread::sleep(Duration::from_millis(500));
        }
        self.inbox(user)
    }

    /// How many messages `user`'s `folder` holds (0 when it does not exist).
    pub fn folder_count(&self, user: &str, folder: &str) -> usize {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let mut session = login(self.imap_port, user, &self.password).await;
            let n = session.examine(self.server_folder(folder)).await.map(|mb| mb.exists as usize).unwrap_or(0);
            let _ = session.logout().await;
            n
        })
    }
}

impl Drop for MailStack {
    fn drop(&mut self) {
        stop(self.dir.path());
    }
}

/// A logged-in IMAP session on the local Dovecot.
pub async fn login(port: u16, user: &str, password: &str) -> async_imap::Session<tokio::net::TcpStream> {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.expect("IMAP reachable");
    let mut client = async_imap::Client::new(tcp);
    client.read_response().await.expect("greeting");
    client.login(user, password).await.map_err(|e| e.0).expect("login")
}

pub async fn fetch_all(port: u16, user: &str, password: &str) -> Vec<Vec<u8>> {
    let mut session = login(port, user, password).await;
    let mailbox = session.select("INBOX").await.expect("select");
    let mut out = Vec::new();
    if mailbox.exists > 0 {
        let fetches: Vec<_> =
            session.fetch("1:*", "BODY.PEEK[]").await.expect("fetch").try_collect().await.expect("fetched");
        for f in fetches {
            out.push(f.body().expect("body").to_vec());
        }
    }
    let _ = session.logout().await;
    out
}
