//! Any real mailbox, from its first day: Dovecot laid out as Exchange and
//! Gmail are (separator `/`), as Dovecot's Maildir++ default (`.`), and as
//! Courier and cPanel (`.` under `INBOX.`); and a mailbox that already holds
//! years of mail when billmail first connects.

mod common;

use common::mailstack::MailStack;
use common::{ACCOUNTS, Bm, corpus};

const ACCOUNTING: &str = "accounting@krgroup.example";

fn message(n: usize, subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: Jane Doe <jane.doe@acme-dental.example>\r\nTo: accounting@krgroup.example\r\nSubject: {subject}\r\n\
         Message-ID: <m{n}@acme-dental.example>\r\nDate: Tue, 17 Nov 2026 10:00:00 -0500\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

/// Books reading `stack` from its first connection on (no `start`).
fn books(stack: &MailStack) -> Bm {
    let bm = Bm::new();
    let pw = bm.write("imap-password", &stack.password);
    bm.write(
        "billmail.toml",
        &format!("{}\n{}\n{}", common::CONFIG, stack.imap_config_from_now(&pw), stack.smtp_config()),
    );
    bm.import_accounts(ACCOUNTS, "2026-11-02T09:00:00-05:00").ok();
    bm
}

#[test]
fn on_each_kind_of_server_the_first_try_works() {
    for layout in ["slash", "maildir", "courier"] {
        let stack = MailStack::start_with_layout(layout);
        let bm = books(&stack);
        // what billmail would use there, changing nothing
        let online = bm.run(&["check-config", "--online"]).ok().stdout;
        let (sep, processed) = match layout {
            "slash" => ("\"/\"", "\"Billing/Processed\""),
            "maildir" => ("\".\"", "\"Billing.Processed\""),
            _ => ("\".\"", "\"INBOX.Billing.Processed\""),
        };
        assert!(online.contains(&format!("separator {sep}")), "{layout}: {online}");
        assert!(online.contains(processed) && online.contains("will be created"), "{layout}: {online}");
        assert!(online.contains("IDLE yes") && online.contains("MOVE yes"), "{layout}: {online}");
        assert!(stack.folder(ACCOUNTING, "Billing/Processed").is_empty());

        // the first connection, on an empty mailbox; then mail arrives
        let first = bm.at("2026-11-02T09:30:00-05:00", &["tick"]).ok().stdout;
        assert!(
            first.contains("first connection: 0 messages already in the mailbox left for people"),
            "{layout}: {first}"
        );
        stack.append(ACCOUNTING, "INBOX", &message(1, "Question", "Why did our invoice go up this month?"));
        stack.append(ACCOUNTING, "INBOX", &corpus("112-")); // an out-of-office reply
        stack.append(
            ACCOUNTING,
            "INBOX",
            &message(
                3,
                "Paid INV-2026-0001",
                "We sent payment for INV-2026-0001 today via ACH in the amount of $1,997.50.",
            ),
        );
        let out = bm.at("2026-11-15T08:00:00-05:00", &["tick"]).ok().stdout;
        assert!(out.contains("intake: 1 processed, 1 to review, 1 left for people"), "{layout}: {out}");
        let inbox = stack.folder(ACCOUNTING, "INBOX");
        assert_eq!(inbox.len(), 1, "{layout}: the question stays");
        assert!(!inbox[0].1, "{layout}: unread");
        assert_eq!(stack.folder(ACCOUNTING, "Billing/Processed").len(), 1, "{layout}");
        assert_eq!(stack.folder(ACCOUNTING, "Billing/Review").len(), 1, "{layout}");
        assert_eq!(stack.wait_for("ap@acme-dental.example", 1).len(), 1, "{layout}: the invoice arrives");
        let online = bm.run(&["check-config", "--online"]).ok().stdout;
        assert!(online.contains(processed) && online.contains(": exists"), "{layout}: {online}");
    }
}

#[test]
fn a_mailbox_with_years_of_mail_is_left_for_people_on_the_first_day() {
    let stack = MailStack::start();
    let bm = books(&stack);
    let old: Vec<(Vec<u8>, Option<String>)> =
        (0..5000).map(|n| (message(n, &format!("Old request {n}"), "Please add one full-time user."), None)).collect();
    stack.append_many(ACCOUNTING, "INBOX", &old);
    let first = bm.at("2026-11-17T09:00:00-05:00", &["tick"]).ok().stdout;
    assert!(
        first.contains("intake: 0 processed, 0 to review, 0 left for people (first connection: 5000 messages already in the mailbox left for people)"),
        "{first}"
    );
    assert_eq!(bm.run(&["review", "list", "--json"]).ok().json().as_array().unwrap().len(), 0);
    let acme = bm.at("2026-12-02T09:00:00-05:00", &["accounts", "show", "ACME", "--json"]).ok().json();
    assert_eq!(acme["full_time_users"], 22, "no old request applied");
    let inbox = stack.folder(ACCOUNTING, "INBOX");
    assert_eq!(inbox.len(), 5000);
    assert!(inbox.iter().all(|(_, seen)| !seen), "nothing read");
    let status = bm.at("2026-11-17T09:01:00-05:00", &["status"]).ok().stdout;
    assert!(status.contains("5000 messages already there left for people"), "{status}");
    // the next message to arrive is taken in
    stack.append(ACCOUNTING, "INBOX", &message(9999, "A question", "Why did our invoice go up?"));
    let next = bm.at("2026-11-17T10:00:00-05:00", &["tick"]).ok().stdout;
    assert!(next.contains("intake: 0 processed, 0 to review, 1 left for people"), "{next}");
}

#[test]
fn start_reads_what_arrived_since_a_date() {
    let stack = MailStack::start();
    let bm = books(&stack);
    let config = std::fs::read_to_string(bm.path("billmail.toml")).unwrap();
    bm.write("billmail.toml", &config.replace("[imap]\n", "[imap]\nstart = \"2026-11-15\"\n"));
    let arrived = |n: usize, date: &str| (message(n, &format!("Question {n}"), "Why?"), Some(date.to_string()));
    stack.append_many(
        ACCOUNTING,
        "INBOX",
        &[
            arrived(1, "01-Oct-2026 09:00:00 -0400"),
            arrived(2, "14-Nov-2026 09:00:00 -0500"),
            arrived(3, "15-Nov-2026 09:00:00 -0500"),
            arrived(4, "16-Nov-2026 09:00:00 -0500"),
        ],
    );
    let first = bm.at("2026-11-17T09:00:00-05:00", &["tick"]).ok().stdout;
    assert!(
        first.contains("2 left for people (first connection: 2 messages already in the mailbox left for people)"),
        "{first}"
    );
    let status = bm.at("2026-11-17T09:01:00-05:00", &["status", "--json"]).ok().json();
    assert_eq!(status["mailbox_starts"][0]["since"], "2026-11-15", "{status}");
}
