//! `billmail run` against real servers: ready once the mailbox was tried, new
//! mail taken in as it arrives (IDLE), the IMAP server restarted under it,
//! invoices going out while the mailbox is down, and a clean stop on SIGTERM.

mod common;

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::mailstack::MailStack;
use common::procs::{alive, children_running};
use common::{ACCOUNTS, Bm};

const ACCOUNTING: &str = "accounting@krgroup.example";
const NOV2: &str = "2026-11-02T09:00:00-05:00";

fn message(n: u32) -> Vec<u8> {
    format!(
        "From: Grace Liu <gliu@northgate-cpa.example>\r\nTo: accounting@krgroup.example\r\nSubject: New staff {n}\r\n\
         Message-ID: <daemon-{n}@northgate-cpa.example>\r\nDate: Tue, 24 Nov 2026 10:00:00 -0500\r\n\r\n\
         Please add Aaron Fox{n} as a full-time user starting December 1.\r\n"
    )
    .into_bytes()
}

fn wait_until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `billmail run` from `now` with its config in `bm`, telling `sock` (systemd's notify socket).
fn run_from(bm: &Bm, now: &str, sock: &Path, stderr: Stdio) -> Daemon {
    let child = Command::new(env!("CARGO_BIN_EXE_billmail"))
        .args(["run", "--now", now, "--config"])
        .arg(bm.path("billmail.toml"))
        .env("NOTIFY_SOCKET", sock)
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap();
    Daemon(child)
}

fn notifications(sock: &UnixDatagram) -> Vec<String> {
    let mut out = Vec::new();
    let mut buf = [0u8; 512];
    while let Ok(n) = sock.recv(&mut buf) {
        out.push(String::from_utf8_lossy(&buf[..n]).to_string());
    }
    out
}

#[test]
fn the_daemon_takes_mail_in_as_it_arrives_survives_a_restart_and_stops_cleanly() {
    let stack = MailStack::start();
    let bm = Bm::new();
    let pw = bm.write("imap-password", &stack.password);
    // a long poll interval: only IDLE can explain a quick pickup
    let imap = stack.imap_config(&pw).replace("security = \"plain\"", "security = \"plain\"\npoll_interval = \"10m\"");
    bm.write("billmail.toml", &format!("{}\n{}", common::CONFIG, imap));
    bm.import_accounts(ACCOUNTS, "2026-11-02T09:00:00-05:00").ok();

    let sock_path = bm.path("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    let mut daemon = run_from(&bm, "2026-11-24T10:00:00-05:00", &sock_path, Stdio::piped());

    let mut seen = Vec::new();
    wait_until("READY", Duration::from_secs(20), || {
        seen.extend(notifications(&sock));
        seen.iter().any(|n| n.contains("READY=1"))
    });

    let reviews = || bm.run(&["review", "list", "--json"]).ok().json().as_array().unwrap().len();
    stack.append(ACCOUNTING, "INBOX", &message(1));
    wait_until("the first message", Duration::from_secs(20), || reviews() == 1);

    stack.restart_imap();
    stack.append(ACCOUNTING, "INBOX", &message(2));
    wait_until("the message after the restart", Duration::from_secs(60), || reviews() == 2);
    assert_eq!(stack.folder(ACCOUNTING, "Billing/Review").len(), 2);

    let pid = daemon.0.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let start = Instant::now();
    let status = loop {
        if let Some(s) = daemon.0.try_wait().unwrap() {
            break s;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "the daemon did not stop");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status:?}");
    seen.extend(notifications(&sock));
    assert!(seen.iter().any(|n| n.contains("STOPPING=1")), "{seen:?}");
    let mut stderr = String::new();
    std::io::Read::read_to_string(daemon.0.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(stderr.contains("mailbox reached"), "{stderr}");
    assert!(!stderr.contains("secret"), "no password in the log");
}

/// `billmail` with the environment systemd gives billmail.service.
fn as_the_unit(bm: &Bm, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_billmail"));
    c.args(args)
        .env("BILLMAIL_CONFIG", bm.path("etc/billmail.toml"))
        .env("STATE_DIRECTORY", bm.path("state"))
        .env("CREDENTIALS_DIRECTORY", bm.path("credentials"))
        .env("JOURNAL_STREAM", "8:12345");
    c
}

fn ok(mut c: Command) -> String {
    let out = c.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn under_systemd_it_keeps_its_books_in_the_state_directory_pings_the_watchdog_and_reloads_on_sighup() {
    let stack = MailStack::start();
    let bm = Bm::new();
    for d in ["etc", "state", "credentials"] {
        std::fs::create_dir(bm.path(d)).unwrap();
    }
    // LoadCredential=billmail:/etc/billmail/credentials gives billmail_<file>
    bm.write("credentials/billmail_imap-password", &format!("{}\n", stack.password));
    let imap = stack
        .imap_config(Path::new("unused"))
        .replace("password_file = \"unused\"", "password_credential = \"imap-password\"");
    let config = format!("{}\n{imap}", common::CONFIG);
    bm.write("etc/billmail.toml", &config);
    ok(as_the_unit(&bm, &["init"]));
    assert!(bm.path("state/billmail.db").exists(), "the database is in the state directory");
    bm.write("accounts.csv", ACCOUNTS);
    ok(as_the_unit(&bm, &["accounts", "import", bm.path("accounts.csv").to_str().unwrap(), "--now", NOV2]));
    // invoices issued while no SMTP is configured wait in the outbox
    ok(as_the_unit(&bm, &["tick", "--now", "2026-11-15T08:00:00-05:00"]));

    let sock_path = bm.path("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    let log = std::fs::File::create(bm.path("daemon.log")).unwrap();
    // the daemon's clock starts where the tick left off, whatever today's date
    // is on the machine (on the real clock the invoices would be overdue and
    // reminders would go out beside them)
    let child = as_the_unit(&bm, &["run", "--now", "2026-11-15T09:00:00-05:00"])
        .env("NOTIFY_SOCKET", &sock_path)
        .env("WATCHDOG_USEC", "2000000")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let mut daemon = Daemon(child);
    let mut seen = Vec::new();
    wait_until("READY and a watchdog ping", Duration::from_secs(20), || {
        seen.extend(notifications(&sock));
        seen.iter().any(|n| n.contains("READY=1")) && seen.iter().any(|n| n.contains("WATCHDOG=1"))
    });
    let hup = |pid: u32| assert!(Command::new("kill").args(["-HUP", &pid.to_string()]).status().unwrap().success());
    let log = || std::fs::read_to_string(bm.path("daemon.log")).unwrap();

    // a broken config is refused and the daemon carries on with the one it has
    bm.write("etc/billmail.toml", &format!("{config}\n[smtp]\nhost = \"127.0.0.1\"\n"));
    hup(daemon.0.id());
    wait_until("the refusal", Duration::from_secs(20), || log().contains("reload refused"));
    assert!(log().contains("[smtp] from: missing"), "{}", log());
    assert!(daemon.0.try_wait().unwrap().is_none(), "still running");
    // and so is one whose template does not parse: found by building what
    // a cycle needs, which the daemon has a child do
    std::fs::create_dir(bm.path("etc/templates")).unwrap();
    bm.write("etc/templates/reminder.txt.j2", "Dear {% if %}\n");
    bm.write("etc/billmail.toml", &format!("{config}\n[templates]\ndir = \"templates\"\n"));
    hup(daemon.0.id());
    wait_until("the second refusal", Duration::from_secs(20), || log().matches("reload refused").count() >= 2);
    assert!(log().contains("reminder.txt.j2"), "{}", log());
    assert!(daemon.0.try_wait().unwrap().is_none(), "still running");

    // a good one takes effect: with SMTP now configured, the waiting invoices go out
    bm.write("etc/billmail.toml", &format!("{config}\n{}", stack.smtp_config()));
    hup(daemon.0.id());
    wait_until("the reload", Duration::from_secs(20), || log().contains("configuration reloaded"));
    // the next cycle sends them; on a loaded machine that can take a while
    let long = Duration::from_secs(60);
    assert_eq!(stack.wait_for_long("ap@acme-dental.example", 1, long).len(), 1, "sent after the reload");
    assert_eq!(stack.wait_for_long("billing@harborview.example", 1, long).len(), 1);
    seen.extend(notifications(&sock));
    assert!(seen.iter().filter(|n| n.contains("RELOADING=1")).count() >= 2, "{seen:?}");
    let status = ok(as_the_unit(&bm, &["status", "--json"]));
    assert!(status.contains("reload refused, the running configuration stays"), "the refusal is on record: {status}");

    assert!(Command::new("kill").args(["-TERM", &daemon.0.id().to_string()]).status().unwrap().success());
    let start = Instant::now();
    while daemon.0.try_wait().unwrap().is_none() {
        assert!(start.elapsed() < Duration::from_secs(20), "the daemon did not stop");
        std::thread::sleep(Duration::from_millis(100));
    }
    // journal lines carry their level; the password is nowhere
    let text = log();
    assert!(text.lines().all(|l| l.starts_with('<')), "{text}");
    assert!(text.contains("<6> INFO") && text.contains("<3>ERROR"), "{text}");
    assert!(!text.contains(&stack.password), "{text}");
}

#[test]
fn with_the_mailbox_down_the_daemon_still_issues_and_sends_and_status_says_why() {
    let stack = MailStack::start();
    let bm = Bm::new();
    let pw = bm.write("imap-password", &stack.password);
    let imap = stack.imap_config_unreachable(&pw);
    bm.write("billmail.toml", &format!("{}\n{}\n{imap}", common::CONFIG, stack.smtp_config()));
    bm.import_accounts(ACCOUNTS, NOV2).ok();

    let sock_path = bm.path("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    let _daemon = run_from(&bm, "2026-11-15T08:00:00-05:00", &sock_path, Stdio::null());
    let mut seen = Vec::new();
    wait_until("READY", Duration::from_secs(20), || {
        seen.extend(notifications(&sock));
        seen.iter().any(|n| n.contains("READY=1"))
    });
    assert!(seen.iter().any(|n| n.contains("STATUS=mailbox unreachable")), "{seen:?}");
    assert_eq!(stack.wait_for("ap@acme-dental.example", 1).len(), 1, "the invoice went out");
    assert_eq!(stack.wait_for("billing@harborview.example", 1).len(), 1);
    let status = bm.run(&["status", "--json"]).ok().json();
    let error = status["last_error"]["detail"].as_str().unwrap_or_default();
    assert!(error.starts_with("mailbox: cannot reach the mailbox"), "{status}");
    assert!(status["last_cycle"].is_object(), "the cycles ran: {status}");
    assert_eq!(bm.invoices().len(), 2);
}

#[test]
fn each_cycle_runs_in_a_child_that_dies_with_the_daemon_and_a_restart_sends_each_invoice_once() {
    let stack = MailStack::start();
    let bm = Bm::new();
    let pw = bm.write("imap-password", &stack.password);
    // an SMTP server that takes the connection and never says a word: the
    // cycle's sending waits on it
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let held = std::thread::spawn(move || silent.accept().map(|(s, _)| s));
    let stalled = stack.smtp_config().replace(&format!("port = {}", stack.smtp_port), &format!("port = {silent_port}"));
    bm.write("billmail.toml", &format!("{}\n{}\n{stalled}", common::CONFIG, stack.imap_config(&pw)));
    bm.import_accounts(ACCOUNTS, NOV2).ok();

    let sock_path = bm.path("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    let mut daemon = run_from(&bm, "2026-11-15T08:00:00-05:00", &sock_path, Stdio::null());
    wait_until("the invoices issued", Duration::from_secs(60), || bm.invoices().len() == 2);
    let held = held.join().unwrap().expect("the cycle connected to the silent server");
    let workers = children_running(daemon.0.id(), "cycle-worker");
    assert_eq!(workers.len(), 1, "the cycle is a child of the daemon: {workers:?}");
    assert!(alive(workers[0]));

    // the daemon killed outright: its cycle goes with it, at once, so no
    // cycle of the old start can send beside the next start's
    daemon.0.kill().unwrap();
    daemon.0.wait().unwrap();
    wait_until("the cycle's end", Duration::from_secs(5), || !alive(workers[0]));
    drop(held);

    // started again with a server that answers, each invoice goes out once
    bm.write("billmail.toml", &format!("{}\n{}\n{}", common::CONFIG, stack.imap_config(&pw), stack.smtp_config()));
    let _daemon = run_from(&bm, "2026-11-15T08:05:00-05:00", &sock_path, Stdio::null());
    assert_eq!(stack.wait_for("ap@acme-dental.example", 1).len(), 1);
    assert_eq!(stack.wait_for("billing@harborview.example", 1).len(), 1);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(stack.folder("ap@acme-dental.example", "INBOX").len(), 1, "sent once");
    assert_eq!(stack.folder("billing@harborview.example", "INBOX").len(), 1, "sent once");
    assert_eq!(bm.invoices().len(), 2, "issued once");
}

#[test]
fn a_config_a_cycle_could_not_use_stops_the_daemon_at_start_and_names_the_file() {
    let bm = Bm::new();
    std::fs::create_dir(bm.path("templates")).unwrap();
    bm.write("templates/reminder.txt.j2", "Dear {% if %}\n");
    bm.write("billmail.toml", &format!("{}\n[templates]\ndir = \"templates\"\n", common::CONFIG));
    let run = bm.run(&["run", "--now", NOV2]).fails();
    let said = run.failures().join("\n");
    assert!(said.contains("reminder.txt.j2"), "{}", run.stderr);
    assert!(bm.invoices().is_empty());
}
