//! Crash safety: `billmail tick` killed with SIGKILL at random moments,
//! during intake and during sending, many times over. Afterwards every
//! message is taken in exactly once and in the right folder, no invoice is
//! lost, and duplicate deliveries are counted (the only acceptable one: a
//! kill between the server accepting a message and billmail recording it).
//! The delays come from a seed printed with any failure.

mod common;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::mailstack::MailStack;
use common::{Bm, Rng};

const ACCOUNTING: &str = "accounting@krgroup.example";

fn seed() -> u64 {
    std::env::var("CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1
    })
}

/// Runs `tick --now now`, killing it after `kill_after` if given. True when it was killed.
fn tick(bm: &Bm, now: &str, kill_after: Option<Duration>) -> bool {
    let mut child = Command::new(env!("CARGO_BIN_EXE_billmail"))
        .args(["tick", "--now", now, "--config"])
        .arg(bm.path("billmail.toml"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let Some(after) = kill_after else {
        assert!(child.wait().unwrap().success(), "a tick without a kill succeeds");
        return false;
    };
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        if start.elapsed() >= after {
            let _ = child.kill(); // SIGKILL
            let _ = child.wait();
            return true;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn message(i: usize) -> Vec<u8> {
    let (subject, body, extra) = match i % 3 {
        0 => (format!("Add a user {i}"), format!("Please add Ann Lee{i} as a full-time user starting December 1."), ""),
        1 => (
            format!("Automatic reply: Invoice {i}"),
            "I am out of the office until Monday.".to_string(),
            "Auto-Submitted: auto-replied\r\n",
        ),
        _ => (format!("Lunch {i}"), "Are we still on for lunch on Friday?".to_string(), ""),
    };
    format!(
        "From: Person {i} <p{i}@customer.example>\r\nTo: {ACCOUNTING}\r\nSubject: {subject}\r\nMessage-ID: <crash-{i}@customer.example>\r\n\
         Date: Tue, 17 Nov 2026 10:00:00 -0500\r\n{extra}\r\n{body}\r\n"
    )
    .into_bytes()
}

#[test]
fn killed_during_intake_every_message_is_still_taken_in_once() {
    let seed = seed();
    let mut rng = Rng(seed);
    let stack = MailStack::start();
    let bm = Bm::new();
    let pw = bm.write("imap-password", &stack.password);
    bm.write("billmail.toml", &format!("{}\n{}", common::CONFIG, stack.imap_config(&pw)));
    let n = 150;
    for i in 0..n {
        stack.append(ACCOUNTING, "INBOX", &message(i));
    }
    let mut kills = 0;
    for _ in 0..20 {
        if tick(&bm, "2026-11-17T09:00:00-05:00", Some(Duration::from_millis(5 + rng.below(120)))) {
            kills += 1;
        }
    }
    tick(&bm, "2026-11-17T09:30:00-05:00", None);
    assert!(kills >= 3, "the kills must land during intake to prove anything (seed {seed}, {kills} kills)");
    let ctx = format!("seed {seed}, {kills} kills");
    let reviews = bm.run(&["review", "list", "--json"]).ok().json();
    assert_eq!(reviews.as_array().unwrap().len(), n / 3, "each request queued once ({ctx})");
    assert_eq!(stack.folder(ACCOUNTING, "Billing/Review").len(), n / 3, "{ctx}");
    assert_eq!(stack.folder(ACCOUNTING, "Billing/Processed").len(), n / 3, "{ctx}");
    let inbox = stack.folder(ACCOUNTING, "INBOX");
    assert_eq!(inbox.len(), n / 3, "{ctx}");
    assert!(inbox.iter().all(|(_, seen)| !seen), "left unread ({ctx})");
    eprintln!("intake: {kills} kills (seed {seed}); every message taken in once");
}

/// How many outbox rows are sent.
fn sent(bm: &Bm) -> usize {
    bm.outbox().iter().filter(|m| m["state"] == "sent").count()
}

#[test]
fn killed_during_sending_no_invoice_is_lost_and_duplicates_are_counted() {
    let seed = seed();
    let mut rng = Rng(seed);
    let stack = MailStack::start();
    let bm = Bm::with_config(&format!("{}\n{}", common::CONFIG, stack.smtp_config()));
    let accounts = 500;
    let mut csv = String::from("id,name,tier,full_time_users,part_time_users,billing_emails\n");
    for i in 0..accounts {
        csv.push_str(&format!("C{i:03},Customer {i},remote,{},0,ap@c{i:03}.example\n", i % 9 + 1));
    }
    bm.import_accounts(&csv, "2026-11-02T09:00:00-05:00").ok();
    let mut kills = 0;
    // kills that landed while messages were going out: the round sent some
    // and left some unsent
    let mut while_sending = 0;
    let mut before = 0;
    for round in 0..20 {
        // the first round issues and sends; later ones only send what is left
        let killed = tick(
            &bm,
            &format!("2026-11-15T08:{:02}:00-05:00", round),
            Some(Duration::from_millis(30 + rng.below(400))),
        );
        let after = sent(&bm);
        if killed {
            kills += 1;
            if after > before && after < accounts {
                while_sending += 1;
            }
        }
        before = after;
    }
    tick(&bm, "2026-11-15T12:00:00-05:00", None);
    let ctx = format!("seed {seed}, {kills} kills");
    let outbox = bm.outbox();
    assert_eq!(outbox.len(), accounts, "one invoice each, none lost ({ctx})");
    assert!(outbox.iter().all(|m| m["state"] == "sent"), "all sent ({ctx}): {outbox:?}");
    let mut per_box: BTreeMap<String, usize> = BTreeMap::new();
    for i in 0..accounts {
        let user = format!("ap@c{i:03}.example");
        let got = stack.wait_for(&user, 1).len();
        per_box.insert(user, got);
    }
    std::thread::sleep(Duration::from_secs(1));
    let missing: Vec<_> = per_box.iter().filter(|(_, n)| **n == 0).collect();
    assert!(missing.is_empty(), "invoices lost ({ctx}): {missing:?}");
    let duplicates: usize = per_box.values().map(|n| n - 1).sum();
    // each kill can interrupt at most one message between acceptance and recording
    assert!(duplicates <= kills, "{duplicates} duplicates from {kills} kills ({ctx})");
    eprintln!(
        "sending: {kills} kills (seed {seed}), {while_sending} while messages were going out; \
         {duplicates} duplicate deliveries, none lost"
    );
}
