//! One instance sends: a second daemon, or a `tick` by hand while the
//! daemon runs, refuses; 900 queued invoices reach their recipient once
//! each through OpenSMTPD and Dovecot.

mod common;

use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::Bm;
use common::mailstack::MailStack;

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A daemon logging to `log` (a file: a pipe nobody reads would fill and
/// stop it).
fn daemon(bm: &Bm, log: &str) -> Daemon {
    Daemon(
        Command::new(env!("CARGO_BIN_EXE_billmail"))
            .args(["run", "--now", "2026-11-15T08:30:00-05:00", "--config"])
            .arg(bm.path("billmail.toml"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(bm.path(log)).unwrap())
            .spawn()
            .unwrap(),
    )
}

#[test]
fn a_second_sender_refuses_and_900_invoices_arrive_once_each() {
    let stack = MailStack::start();
    let bm = Bm::new();
    let mut csv = String::from("id,name,tier,full_time_users,part_time_users,billing_emails\n");
    for i in 0..900 {
        csv.push_str(&format!("C{i:04},Customer {i},remote,3,0,ap@bulk.example\n"));
    }
    bm.import_accounts(&csv, "2026-11-02T09:00:00-05:00").ok();
    // issued while no SMTP is configured: 900 invoices wait in the outbox
    bm.at("2026-11-15T08:00:00-05:00", &["tick"]).ok();
    assert_eq!(bm.outbox().len(), 900);
    let config = std::fs::read_to_string(bm.path("billmail.toml")).unwrap();
    bm.write("billmail.toml", &format!("{config}\n{}", stack.smtp_config()));

    let mut first = daemon(&bm, "first.log");
    // the first holds the lock; a second daemon and a tick by hand refuse
    let lock = format!("{}.lock", bm.path("billmail.db").display());
    let holder = format!("billmail run (pid {})", first.0.id());
    let start = Instant::now();
    while !std::fs::read_to_string(&lock).is_ok_and(|t| t.contains(&holder)) {
        assert!(start.elapsed() < Duration::from_secs(20), "the first daemon did not take the lock");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut second = daemon(&bm, "second.log");
    let start = Instant::now();
    let status = loop {
        if let Some(s) = second.0.try_wait().unwrap() {
            break s;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "a second daemon kept running beside the first");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!status.success());
    let stderr = std::fs::read_to_string(bm.path("second.log")).unwrap();
    assert!(stderr.contains("billmail run (pid") && stderr.contains("is running on this database"), "{stderr}");
    let tick = bm.at("2026-11-15T08:31:00-05:00", &["tick"]).fails();
    assert!(tick.stderr.contains("is running on this database"), "{}", tick.stderr);

    // every invoice arrives, once
    let got = stack.wait_for_long("ap@bulk.example", 900, Duration::from_secs(180));
    let ids: Vec<String> = got
        .iter()
        .map(|m| {
            let text = String::from_utf8_lossy(m);
            text.lines().find(|l| l.to_ascii_lowercase().starts_with("message-id:")).unwrap_or_default().to_string()
        })
        .collect();
    let unique: HashSet<&String> = ids.iter().collect();
    let waiting: Vec<String> = bm
        .outbox()
        .iter()
        .filter(|m| m["state"] != "sent")
        .take(3)
        .map(|m| format!("{} {} {}", m["state"], m["attempts"], m["last_error"]))
        .collect();
    assert_eq!(got.len(), 900, "arrived; not sent: {waiting:?}");
    assert_eq!(unique.len(), 900, "each once");
    assert!(first.0.try_wait().unwrap().is_none(), "the first daemon still runs");
    let _ = Command::new("kill").args(["-TERM", &first.0.id().to_string()]).status();
    let _ = first.0.wait();
    // once it has stopped, a tick by hand may run again and sends nothing twice
    let out = bm.at("2026-11-15T09:00:00-05:00", &["tick"]).ok();
    assert!(out.stdout.contains("outbox: 0 queued, 0 failed"), "{}", out.stdout);
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(stack.inbox("ap@bulk.example").len(), 900);
}

/// The server has accepted a message and the database stays locked longer
/// than its busy timeout (10 s): the sent mark waits the lock out instead of
/// failing, which would leave the row queued to be sent a second time.
#[test]
fn a_sent_mark_outlasts_a_locked_database() {
    let bm = Bm::new();
    bm.import_accounts(common::ACCOUNTS, "2026-11-02T09:00:00-05:00").ok();
    // no mail server: the tick queues the invoices and cannot send them
    bm.at("2026-11-15T08:00:00-05:00", &["tick"]);
    let queued: Vec<i64> =
        bm.outbox().into_iter().filter(|m| m["state"] == "queued").map(|m| m["id"].as_i64().unwrap()).collect();
    assert!(!queued.is_empty());
    let path = bm.path("billmail.db");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    // another process's shell holds the database for 13 s
    let url = format!("sqlite://{}", path.display());
    let holder = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            use sqlx::Connection;
            let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
            sqlx::query("BEGIN EXCLUSIVE").execute(&mut c).await.unwrap();
            tokio::time::sleep(Duration::from_secs(13)).await;
            sqlx::query("ROLLBACK").execute(&mut c).await.unwrap();
        });
    });
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    rt.block_on(async {
        let store = billmail::store::Store::open(&path).await.unwrap();
        billmail::engine::mark_sent(&store, queued[0], chrono::Utc::now()).await.unwrap();
        store.close().await;
    });
    holder.join().unwrap();
    assert!(started.elapsed() > Duration::from_secs(10), "the lock was held past the busy timeout");
    let row = bm.outbox().into_iter().find(|m| m["id"].as_i64() == Some(queued[0])).unwrap();
    assert_eq!(row["state"], "sent", "{row}");
}
