//! Crash safety: `billmail tick` killed with SIGKILL at random moments,
//! during intake (timed from what its log says of the pass, so that the
//! kills land in it however fast this machine is) and during sending, many
//! times over. Afterwards every message is taken in exactly once and in
//! the right folder, no invoice is lost, and duplicate deliveries are
//! counted (the only acceptable one: a kill between the server accepting a
//! message and billmail recording it). The delays come from a seed printed
//! with any failure.

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

/// When a tick is killed (SIGKILL).
#[derive(Clone, Copy)]
enum Kill {
    /// this long after it started, wherever it is then
    At(Duration),
    /// this long after the `nth` log line that holds `what`
    After { what: &'static str, nth: usize, delay: Duration },
}

/// Its log lines by which a tick's intake pass is followed.
const LOGGED_IN: &str = "IMAP login"; // the pass begins
const TAKEN_IN: &str = "taken in"; // a message's batch is committed
const PASS_DONE: &str = "intake processed="; // the pass is over

/// What became of a tick.
struct Ticked {
    killed: bool,
    /// killed after it logged in and before it logged the end of its pass
    in_pass: bool,
    /// messages it logged as taken in for the first time
    taken_in: usize,
}

/// Runs `tick --now now`, killing it as `kill` says.
fn tick(bm: &Bm, now: &str, kill: Option<Kill>) -> Ticked {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_billmail"))
        .args(["tick", "--now", now, "--config"])
        .arg(bm.path("billmail.toml"))
        .env("BILLMAIL_LOG", "info,billmail::mail::imap=debug")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // the log is read as it is written, so that a kill can follow it
    let (lines_tx, lines) = std::sync::mpsc::channel::<String>();
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let start = Instant::now();
    let mut log = Vec::new();
    // lines seen so far that hold what an `After` kill waits for
    let mut awaited = 0;
    let mut deadline = match kill {
        Some(Kill::At(after)) => Some(start + after),
        _ => None,
    };
    let killed = loop {
        // a line is acted on as soon as it is written: a batch takes only
        // milliseconds
        if let Ok(line) = lines.recv_timeout(Duration::from_millis(1)) {
            if let (Some(Kill::After { what, nth, delay }), None) = (kill, deadline)
                && line.contains(what)
            {
                awaited += 1;
                if awaited >= nth {
                    deadline = Some(Instant::now() + delay);
                }
            }
            log.push(line);
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let _ = child.kill();
            let _ = child.wait();
            break true;
        }
        if let Some(status) = child.try_wait().unwrap() {
            assert!(kill.is_some() || status.success(), "a tick without a kill succeeds");
            break false;
        }
    };
    reader.join().unwrap();
    log.extend(lines.try_iter());
    let has = |what: &str| log.iter().any(|l| l.contains(what));
    Ticked {
        killed,
        in_pass: killed && has(LOGGED_IN) && !has(PASS_DONE),
        taken_in: log.iter().filter(|l| l.contains(TAKEN_IN)).count(),
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
    // Mail keeps coming: whenever the inbox holds nothing more to take in
    // or move, three more batches of 50 arrive. A third of the messages stay
    // in the inbox, so more than that there is work for the pass.
    let group = 150;
    let mut n = 0;
    let work_left = |n: usize| stack.folder(ACCOUNTING, "INBOX").len() > n / 3;
    let (mut kills, mut landed, mut logged) = (0, 0, 0);
    for _ in 0..60 {
        if landed >= 6 {
            break;
        }
        if !work_left(n) {
            let msgs: Vec<_> = (n..n + group).map(|i| (message(i), None)).collect();
            stack.append_many(ACCOUNTING, "INBOX", &msgs);
            n += group;
        }
        // timed from the pass's start, or just after a message still left
        // is taken in, or (now and then) from the process's start, so that
        // kills land before, between and after batches whatever this
        // machine's speed
        let kill = match rng.below(3) {
            0 => Kill::After { what: LOGGED_IN, nth: 1, delay: Duration::from_millis(rng.below(200)) },
            1 => Kill::After {
                what: TAKEN_IN,
                nth: 1 + rng.below(n.saturating_sub(logged).max(1) as u64) as usize,
                delay: Duration::ZERO,
            },
            _ => Kill::At(Duration::from_millis(5 + rng.below(150))),
        };
        let t = tick(&bm, "2026-11-17T09:00:00-05:00", Some(kill));
        logged += t.taken_in;
        kills += usize::from(t.killed);
        landed += usize::from(t.in_pass);
    }
    tick(&bm, "2026-11-17T09:30:00-05:00", None);
    assert!(
        landed >= 3,
        "the kills must land during intake to prove anything (seed {seed}, {landed} of {kills} kills)"
    );
    let ctx = format!("seed {seed}, {kills} kills");
    let reviews = bm.run(&["review", "list", "--json"]).ok().json();
    assert_eq!(reviews.as_array().unwrap().len(), n / 3, "each request queued once ({ctx})");
    assert_eq!(stack.folder(ACCOUNTING, "Billing/Review").len(), n / 3, "{ctx}");
    assert_eq!(stack.folder(ACCOUNTING, "Billing/Processed").len(), n / 3, "{ctx}");
    let inbox = stack.folder(ACCOUNTING, "INBOX");
    assert_eq!(inbox.len(), n / 3, "{ctx}");
    assert!(inbox.iter().all(|(_, seen)| !seen), "left unread ({ctx})");
    eprintln!(
        "intake: {n} messages, {kills} kills (seed {seed}), {landed} during a pass with work to do; every message taken in once"
    );
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
            Some(Kill::At(Duration::from_millis(30 + rng.below(400)))),
        )
        .killed;
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
