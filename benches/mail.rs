//! Mail benchmarks on the local Dovecot + OpenSMTPD (needs root; starts
//! its own stack with scripts/mailstack.sh). Each against a baseline in the
//! same run:
//! - intake of 5,000 messages, against the sum of what it cannot avoid,
//!   measured in the same run on the same messages: a bare `UID FETCH 1:*
//!   BODY.PEEK[]`, the reader's `read` of each, and one SQLite commit of
//!   the raw messages per batch of 50 (target: within 2x of that sum, and at
//!   least 2,000 messages/s);
//! - delivery of 1,000 queued invoices: billmail's outbox delivery against a
//!   bare lettre connection (`TCP_NODELAY`) sending the same messages
//!   (target: within 1.5x), and lettre's pooled transport for reference;
//! - an idle `billmail run` connected to the mailbox for 60 s, after it has
//!   issued and sent 300 invoices with their PDFs: resident memory (target
//!   < 20 MiB, Typst's caches freed) and CPU (target < 0.5 s), with what
//!   of it is heap and what the executable's pages, and whether its cycles
//!   ran in `cycle-worker` children (making PDFs in `pdf-worker`s of their
//!   own) that are gone at idle
//!   (`IDLE_SMAPS=FILE` keeps the daemon's `/proc/PID/smaps` at that moment);
//!
//! - peak memory of a `billmail tick` taking in 21 messages of 24 MiB and one
//!   over the size limit (target < 256 MiB), against a tick of small ones.
//!
//! `MAIL_BENCH=intake,delivery,idle,large` picks parts. Run with `cargo bench --bench mail`.

#[path = "../tests/common/procs.rs"]
#[allow(dead_code)]
mod procs;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use billmail::config::Config;
use billmail::domain::{AccountId, EmailAddress, UserCounts};
use billmail::engine::{deliver, run_billing};
use billmail::mail::imap::Mailbox;
use billmail::mail::smtp::{Sender, build};
use billmail::render::Renderer;
use billmail::store::{AccountImport, Store};
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use lettre::AsyncTransport;

const ACCOUNTING: &str = "accounting@krgroup.example";

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

struct Stack {
    dir: tempfile::TempDir,
    imap: u16,
    smtp: u16,
    password: String,
}

impl Stack {
    fn start() -> Stack {
        let dir = tempfile::tempdir().unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/mailstack.sh");
        let ok = Command::new("bash").arg(&script).args(["start", dir.path().to_str().unwrap()]).status().unwrap();
        assert!(ok.success(), "the mail stack starts (as root, with the packages)");
        let env = std::fs::read_to_string(dir.path().join("mailstack.env")).unwrap();
        let get = |k: &str| env.lines().find_map(|l| l.strip_prefix(&format!("{k}="))).unwrap().to_string();
        Stack {
            imap: get("IMAP_PORT").parse().unwrap(),
            smtp: get("SMTP_PORT").parse().unwrap(),
            password: get("MAIL_PASSWORD"),
            dir,
        }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/mailstack.sh");
        let _ = Command::new("bash").arg(script).args(["stop", self.dir.path().to_str().unwrap()]).status();
    }
}

fn config(stack: &Stack, dir: &Path, imap: bool, smtp: bool) -> Config {
    let pw = dir.join("pw");
    std::fs::write(&pw, &stack.password).unwrap();
    let mut text = include_str!("../examples/billmail.toml").to_string();
    if imap {
        text.push_str(&format!(
            "\n[imap]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"plain\"\nusername = \"{ACCOUNTING}\"\npassword_file = \"{}\"\nstart = \"2026-01-01\"\n",
            stack.imap,
            pw.display()
        ));
    }
    if smtp {
        text.push_str(&format!(
            "\n[smtp]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"plain\"\nfrom = \"KR Group Accounting <{ACCOUNTING}>\"\n",
            stack.smtp
        ));
    }
    std::fs::write(dir.join("billmail.toml"), &text).unwrap();
    Config::parse(&text, dir).unwrap()
}

async fn imap_session(stack: &Stack) -> async_imap::Session<tokio::net::TcpStream> {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", stack.imap)).await.unwrap();
    let mut client = async_imap::Client::new(tcp);
    client.read_response().await.unwrap();
    client.login(ACCOUNTING, &stack.password).await.map_err(|e| e.0).unwrap()
}

/// The corpus messages, each given a Message-ID of its own.
fn messages(n: usize) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    files.sort();
    let bodies: Vec<String> = files.iter().map(|p| std::fs::read_to_string(p).unwrap()).collect();
    (0..n)
        .map(|i| {
            let m = &bodies[i % bodies.len()];
            let rest: String = m
                .lines()
                .filter(|l| !l.to_ascii_lowercase().starts_with("message-id:"))
                .map(|l| format!("{l}\r\n"))
                .collect();
            format!("Message-ID: <bench-{i}@bench.example>\r\n{rest}").into_bytes()
        })
        .collect()
}

async fn intake(stack: &Stack) {
    let n = 5_000;
    let mut s = imap_session(stack).await;
    let t = Instant::now();
    for m in messages(n) {
        s.append("INBOX", None, None, &m).await.unwrap();
    }
    println!("intake: {n} messages appended in {:.1} s", t.elapsed().as_secs_f64());
    s.select("INBOX").await.unwrap();
    let t = Instant::now();
    let fetched: Vec<_> = s.uid_fetch("1:*", "BODY.PEEK[]").await.unwrap().try_collect().await.unwrap();
    let bare = t.elapsed();
    assert_eq!(fetched.len(), n);
    let _ = s.logout().await;
    let raws: Vec<Vec<u8>> = fetched.iter().map(|f| f.body().unwrap().to_vec()).collect();
    // the reader on each message
    let t = Instant::now();
    for raw in &raws {
        std::hint::black_box(billmail::reading::read(raw).ok());
    }
    let reading = t.elapsed();
    // one SQLite commit of the raw messages per batch, in a database of its own
    let scratch = tempfile::tempdir().unwrap();
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(scratch.path().join("s.db"))
        .create_if_missing(true)
        .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal);
    let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
    sqlx::query("CREATE TABLE m (id INTEGER PRIMARY KEY, raw BLOB NOT NULL)").execute(&pool).await.unwrap();
    let t = Instant::now();
    for chunk in raws.chunks(billmail::inbox::BATCH) {
        let mut tx = pool.begin().await.unwrap();
        for raw in chunk {
            sqlx::query("INSERT INTO m (raw) VALUES (?)").bind(raw).execute(&mut *tx).await.unwrap();
        }
        tx.commit().await.unwrap();
    }
    let commits = t.elapsed();
    let floor = bare + reading + commits;

    let dir = tempfile::tempdir().unwrap();
    let cfg = config(stack, dir.path(), true, false);
    let (store, _) = Store::init(&dir.path().join("b.db")).await.unwrap();
    let imap = cfg.imap.clone().unwrap();
    let t = Instant::now();
    let mut mb = Mailbox::connect(&imap, None, chrono::Utc::now()).await.unwrap();
    let renderer = Renderer::new();
    let actor = billmail::intake::Actor { config: &cfg, renderer: &renderer, dkim: None };
    let stop = tokio_util::sync::CancellationToken::new();
    let report =
        billmail::intake::from_source(&mut mb, &actor, &store, at("2026-11-17T09:00:00-05:00"), &stop).await.unwrap();
    mb.logout().await;
    let full = t.elapsed();
    assert_eq!(report.taken.len(), n);
    let rate = n as f64 / full.as_secs_f64();
    let ratio = full.as_secs_f64() / floor.as_secs_f64();
    let line = |what: &str, d: Duration| {
        println!("  {what:<44} {:>7.3} s  {:>8.0} messages/s", d.as_secs_f64(), n as f64 / d.as_secs_f64());
    };
    line("bare UID FETCH 1:* BODY.PEEK[]", bare);
    line("the reader's read of each", reading);
    line("one SQLite commit of the raw per 50", commits);
    line("sum: what intake cannot avoid", floor);
    line("billmail intake (read, prove, store, move)", full);
    println!(
        "  ratio {ratio:.2}x of the sum (target <= 2x); throughput target >= 2000 messages/s: {}",
        if rate >= 2000.0 && ratio <= 2.0 { "met" } else { "NOT met" }
    );
}

async fn delivery(stack: &Stack) {
    let n = 1_000;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(stack, dir.path(), false, true);
    let (store, _) = Store::init(&dir.path().join("b.db")).await.unwrap();
    let rows: Vec<AccountImport> = (0..n)
        .map(|i| {
            AccountImport::basic(
                i + 2,
                AccountId::parse(&format!("D{i:04}")).unwrap(),
                "hybrid",
                UserCounts { full_time: 5, part_time: 1 },
                EmailAddress::parse(&format!("ap@d{}.example", i % 10)).unwrap(),
            )
        })
        .collect();
    let imported = at("2026-11-02T09:00:00-05:00");
    let mut tx = store.begin().await.unwrap();
    billmail::imports::accounts(&mut tx, &rows, imported, imported.date_naive()).await.unwrap();
    tx.commit().await.unwrap();
    let now = at("2026-11-15T08:00:00-05:00");
    let renderer = Renderer::new();
    run_billing(&cfg, &store, &renderer, now, false).await.unwrap();
    // each invoice's PDF made and kept first (as the first attempt would), so
    // every way of sending below sends the same messages (`cargo bench --bench pdf` times the PDFs)
    for m in store.due_mail(now, 10_000).await.unwrap() {
        let (inv, lines) = store.invoice_by_id(m.invoice_id.unwrap()).await.unwrap().unwrap();
        let doc = billmail::render::InvoiceDoc::of(&inv, lines, vec![]);
        let pdf = renderer.invoice_pdf(&cfg.company, &doc).unwrap();
        store.keep_attachment(m.id, &doc.pdf_name(), &pdf).await.unwrap();
    }
    let pdfs = billmail::engine::Pdfs { renderer: &renderer, company: &cfg.company };
    let queued = store.due_mail(now, 10_000).await.unwrap();
    assert_eq!(queued.len(), n);
    let smtp = cfg.smtp.clone().unwrap();
    let from: lettre::message::Mailbox = smtp.from.parse().unwrap();

    let mut best_bare = Duration::MAX;
    let mut best_pooled = Duration::MAX;
    let mut best_full = Duration::MAX;
    for _round in 0..2 {
        // the floor: one lettre connection on a TCP_NODELAY socket, each message sent over it
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", stack.smtp)).await.unwrap();
        tcp.set_nodelay(true).unwrap();
        let hello = lettre::transport::smtp::extension::ClientId::default();
        let mut conn =
            lettre::transport::smtp::client::AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &hello)
                .await
                .unwrap();
        let t = Instant::now();
        for m in &queued {
            let message = build(&from, m, now).unwrap();
            conn.send(message.envelope(), &message.formatted()).await.unwrap();
        }
        best_bare = best_bare.min(t.elapsed());
        let _ = conn.quit().await;

        // for reference: lettre's pooled transport, as billmail sent before (Nagle on)
        if _round == 0 {
            let transport = lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::builder_dangerous("127.0.0.1")
                .port(stack.smtp)
                .build();
            let t = Instant::now();
            for m in &queued {
                transport.send(build(&from, m, now).unwrap()).await.unwrap();
            }
            best_pooled = best_pooled.min(t.elapsed());
        }

        sqlx::query("UPDATE outbox SET state = 'queued', attempts = 0, sent_at = NULL")
            .execute(store.pool())
            .await
            .unwrap();
        let sender = Sender::new(&smtp, None).unwrap();
        let t = Instant::now();
        let d = deliver(&store, &sender, pdfs, now).await.unwrap();
        best_full = best_full.min(t.elapsed());
        assert_eq!(d.sent.len(), n);
    }
    let ratio = best_full.as_secs_f64() / best_bare.as_secs_f64();
    let line = |what: &str, d: Duration| {
        println!("  {what:<44} {:>7.3} s  {:>8.0} messages/s", d.as_secs_f64(), n as f64 / d.as_secs_f64());
    };
    println!("delivery: {n} invoices through the local OpenSMTPD (best of 2 rounds each)");
    line("lettre's pooled transport (reference)", best_pooled);
    line("bare lettre connection, TCP_NODELAY", best_bare);
    line("billmail delivery (claim, send, record)", best_full);
    println!(
        "  ratio {ratio:.2}x of the bare connection (target <= 1.5x): {}",
        if ratio <= 1.5 { "met" } else { "NOT met" }
    );
}

/// Runs `billmail tick` to the end; its peak resident memory in MiB.
#[allow(clippy::zombie_processes)] // reaped by wait4, which also gives its rusage
fn tick_peak_mib(config: &Path) -> f64 {
    let child = Command::new(env!("CARGO_BIN_EXE_billmail"))
        .args(["tick", "--now", "2026-11-17T09:00:00-05:00", "--config"])
        .arg(config)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid, and wait4 fills it for our own child
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    assert!(pid > 0 && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "the tick succeeds");
    usage.ru_maxrss as f64 / 1024.0
}

/// Peak memory of a tick taking in 21 messages of 24 MiB (504 MiB of mail)
/// and one of 30 MiB (over the limit), against a tick taking in 21 small
/// ones, each on a mailbox of its own.
fn large(stack: &Stack, rt: &tokio::runtime::Runtime) {
    let mib = 1024 * 1024;
    let message = |i: usize, size: usize| {
        let mut m = format!(
            "From: Jane <jane@acme.example>\r\nTo: {ACCOUNTING}\r\nSubject: scans {i}\r\nMessage-ID: <large-{i}-{size}@acme.example>\r\n\
             Date: Tue, 17 Nov 2026 10:00:00 -0500\r\nContent-Type: text/plain\r\n\r\nThe scans are below.\r\n"
        )
        .into_bytes();
        while m.len() < size {
            m.extend_from_slice(b"scan data scan data scan data scan data scan data scan data scan data\r\n");
        }
        m
    };
    let mut peaks = Vec::new();
    for (label, sizes) in [
        ("21 small messages", vec![2_000; 21]),
        ("21 of 24 MiB and one of 30 MiB", {
            let mut v = vec![24 * mib; 21];
            v.push(30 * mib);
            v
        }),
    ] {
        // a fresh mailbox: what is there is taken away first
        rt.block_on(async {
            let mut s = imap_session(stack).await;
            s.select("INBOX").await.unwrap();
            s.run_command_and_check_ok("UID STORE 1:* +FLAGS.SILENT (\\Deleted)").await.ok();
            s.expunge().await.unwrap().try_collect::<Vec<_>>().await.unwrap();
            for (i, size) in sizes.iter().enumerate() {
                s.append("INBOX", None, None, message(i, *size)).await.unwrap();
            }
            let _ = s.logout().await;
        });
        let dir = tempfile::tempdir().unwrap();
        let _ = config(stack, dir.path(), true, false);
        let cfg = dir.path().join("billmail.toml");
        let init = Command::new(env!("CARGO_BIN_EXE_billmail")).args(["init", "--config"]).arg(&cfg).status();
        assert!(init.unwrap().success());
        let peak = tick_peak_mib(&cfg);
        println!("  {label:<36} peak resident memory {peak:>7.1} MiB");
        peaks.push(peak);
    }
    let ratio = peaks[1] / peaks[0];
    println!(
        "  ratio {ratio:.1}x of the small tick; target: peak < 256 MiB (was 734 MB when messages were held whole): {}",
        if peaks[1] < 256.0 { "met" } else { "NOT met" }
    );
}

fn proc_stats(pid: u32) -> (u64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let rss_kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap().split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    (rss_kb, ticks as f64 / 100.0)
}

fn idle(stack: &Stack) {
    let dir = tempfile::tempdir().unwrap();
    let _ = config(stack, dir.path(), true, true);
    let cfg = dir.path().join("billmail.toml");
    let bin = env!("CARGO_BIN_EXE_billmail");
    let run = |args: &[&str]| {
        let out = Command::new(bin).args(args).arg("--config").arg(&cfg).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    run(&["init"]);
    // 300 customers whose December invoices the daemon's first cycle issues
    // and sends, each with its PDF: the idle memory is measured after that work
    let n: usize = std::env::var("IDLE_INVOICES").ok().and_then(|v| v.parse().ok()).unwrap_or(300);
    let mut csv = String::from("id,name,tier,full_time_users,part_time_users,billing_emails\n");
    for i in 0..n {
        csv.push_str(&format!("I{i:04},Customer {i},hybrid,5,1,ap@d{}.example\n", i % 10));
    }
    std::fs::write(dir.path().join("accounts.csv"), csv).unwrap();
    let accounts = dir.path().join("accounts.csv");
    run(&["accounts", "import", accounts.to_str().unwrap(), "--now", "2026-11-02T09:00:00-05:00"]);
    let mut child = Command::new(bin)
        .args(["run", "--now", "2026-11-15T08:00:00-05:00", "--config"])
        .arg(&cfg)
        .env("BILLMAIL_LOG", "warn")
        .spawn()
        .unwrap();
    let start = Instant::now();
    let (mut cycles_seen, mut workers_seen) = (0, 0);
    let sent = loop {
        let (cycles, pdfs) = workers(child.id());
        cycles_seen = cycles_seen.max(cycles);
        workers_seen = workers_seen.max(pdfs);
        let outbox: serde_json::Value = serde_json::from_str(&run(&["outbox", "list", "--json"])).unwrap();
        let sent = outbox.as_array().unwrap().iter().filter(|m| m["state"] == "sent").count();
        if sent >= n || start.elapsed() > Duration::from_secs(300) {
            break sent;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    let busy = start.elapsed();
    std::thread::sleep(Duration::from_secs(5));
    let (_, cpu_start) = proc_stats(child.id());
    std::thread::sleep(Duration::from_secs(60));
    let (rss_kb, cpu_end) = proc_stats(child.id());
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    let field = |name: &str| -> f64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
            / 1024.0
    };
    let (anon, file) = (field("RssAnon:"), field("RssFile:"));
    let (cycles_left, workers_left) = workers(child.id());
    if let Ok(to) = std::env::var("IDLE_SMAPS") {
        std::fs::copy(format!("/proc/{}/smaps", child.id()), to).unwrap();
    }
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let _ = child.wait();
    let cpu = cpu_end - cpu_start;
    let rss_mib = rss_kb as f64 / 1024.0;
    println!(
        "idle: billmail run connected to the mailbox (IDLE), 60 s after it issued and sent {sent} invoices with their PDFs ({:.1} s) and 5 s more",
        busy.as_secs_f64()
    );
    println!(
        "  resident memory {rss_mib:.1} MiB (target < 20): {}; CPU {cpu:.2} s (target < 0.5): {}",
        if rss_mib < 20.0 { "met" } else { "NOT met" },
        if cpu < 0.5 { "met" } else { "NOT met" }
    );
    println!(
        "  of it {anon:.1} MiB anonymous (heap), {file:.1} MiB the binary's pages; seen while sending: cycle-workers {cycles_seen}, pdf-workers {workers_seen}; left at idle: {cycles_left} and {workers_left}"
    );
}

/// How many `billmail cycle-worker` children `pid` has now, and how many
/// `billmail pdf-worker`s under it or under them.
fn workers(pid: u32) -> (usize, usize) {
    let cycles = procs::children_running(pid, "cycle-worker");
    let pdfs = std::iter::once(pid).chain(cycles.iter().copied());
    let pdfs = pdfs.map(|p| procs::children_running(p, "pdf-worker").len()).sum();
    (cycles.len(), pdfs)
}

fn main() {
    let parts = std::env::var("MAIL_BENCH").unwrap_or_else(|_| "intake,delivery,idle,large".into());
    let stack = Stack::start();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    if parts.contains("intake") {
        rt.block_on(intake(&stack));
    }
    if parts.contains("delivery") {
        rt.block_on(delivery(&stack));
    }
    if parts.contains("idle") {
        idle(&stack);
    }
    if parts.contains("large") {
        println!("large: intake of large messages by `billmail tick`");
        large(&stack, &rt);
    }
}
