//! Mail in: messages taken from accounting@'s mailbox on a real Dovecot, or
//! given to `billmail ingest`, stored once and sent to the right folder.

mod common;

use common::mailstack::MailStack;
use common::{ACCOUNTS, Bm, corpus};

const NOV2: &str = "2026-11-02T09:00:00-05:00";
const ACCOUNTING: &str = "accounting@krgroup.example";

const WITH_BAYSIDE: &str = "BAYSIDE,Bayside Courier,remote,5,0,billing@baysidecourier.example,,,\n";

fn billmail_reading(stack: &MailStack) -> Bm {
    let bm = Bm::new();
    let pw = bm.write("imap-password", &format!("{}\n", stack.password));
    bm.write("billmail.toml", &format!("{}\n{}", common::CONFIG, stack.imap_config(&pw)));
    bm.import_accounts(&format!("{ACCOUNTS}{WITH_BAYSIDE}"), NOV2).ok();
    bm
}

/// A message of our own with no corpus dependency: a question, for people.
const QUESTION: &[u8] = b"From: Paul <paul@riverbend.example>\r\nTo: accounting@krgroup.example\r\nSubject: Question\r\nMessage-ID: <q1@riverbend.example>\r\nDate: Tue, 17 Nov 2026 10:00:00 -0500\r\n\r\nWhy did our invoice go up this month?\r\n";

#[test]
fn each_message_is_stored_once_and_lands_in_the_right_folder() {
    let stack = MailStack::start();
    let bm = billmail_reading(&stack);
    stack.append(ACCOUNTING, "INBOX", &corpus("102-")); // a user change (two typed users)
    stack.append(ACCOUNTING, "INBOX", &corpus("112-")); // an out-of-office reply
    stack.append(ACCOUNTING, "INBOX", &corpus("124-")); // a bounce of a message billmail never sent
    stack.append(ACCOUNTING, "INBOX", QUESTION); // for people
    let out = bm.at("2026-11-17T09:00:00-05:00", &["tick"]).ok();
    assert!(out.stdout.contains("intake: 1 processed, 2 to review, 1 left for people"), "{}", out.stdout);

    let inbox = stack.folder(ACCOUNTING, "INBOX");
    assert_eq!(inbox.len(), 1, "only the question stays: {inbox:?}");
    assert!(!inbox[0].1, "and it is still unread");
    assert_eq!(stack.folder(ACCOUNTING, "Billing/Processed").len(), 1);
    assert_eq!(stack.folder(ACCOUNTING, "Billing/Review").len(), 2);
    assert!(stack.folder(ACCOUNTING, "Billing/Review").iter().all(|(_, seen)| !seen), "moved, not read");

    let review = bm.run(&["review", "list", "--json"]).ok().json();
    let items = review.as_array().unwrap();
    assert_eq!(items.len(), 2);
    let bounce = items.iter().find(|i| i["kind"] == "bounce").expect("the bounce waits for a person");
    assert!(bounce["reasons"].to_string().contains("names no message billmail sent"), "{bounce}");
    let request = items.iter().find(|i| i["kind"] == "user_change").unwrap();
    assert_eq!(request["from"], "gliu@northgate-cpa.example");
    // a stranger, and no proof of origin: a person decides
    let reasons: Vec<&str> = request["reasons"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
    assert!(reasons.iter().any(|r| r.contains("not a billing or authorized contact")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("not proven to come from northgate-cpa.example")), "{reasons:?}");

    // a second cycle takes in nothing again
    let again = bm.at("2026-11-17T09:05:00-05:00", &["tick"]).ok();
    assert!(again.stdout.contains("intake: 0 processed, 0 to review, 0 left for people"), "{}", again.stdout);
    assert_eq!(bm.run(&["review", "list", "--json"]).ok().json().as_array().unwrap().len(), 2);
    assert_eq!(stack.folder(ACCOUNTING, "INBOX").len(), 1);
}

#[test]
fn a_bounce_flags_the_billing_contact() {
    let stack = MailStack::start();
    let bm = billmail_reading(&stack);
    // the invoice billmail sent, and the relay's report that it bounced
    bm.at("2026-11-15T08:00:00-05:00", &["tick"]).ok();
    let invoice = bm.outbox().into_iter().find(|m| m["to"] == serde_json::json!(["billing@baysidecourier.example"]));
    let sent_id = invoice.expect("Bayside's invoice")["message_id"].as_str().unwrap().to_string();
    let report = String::from_utf8(corpus("125-"))
        .unwrap()
        .replace("<invoice-INV-2026-0159.20261115060048@krgroup.example>", &sent_id);
    assert!(report.contains(&sent_id));
    stack.append(ACCOUNTING, "INBOX", report.as_bytes());
    bm.at("2026-11-17T09:00:00-05:00", &["tick"]).ok();
    let show = bm.run(&["accounts", "show", "BAYSIDE", "--json"]).ok().json();
    assert!(show["billing_emails"][0]["bounced_at"].is_string(), "{show:#}");
    assert!(bm.run(&["accounts", "show", "BAYSIDE"]).ok().stdout.contains("BOUNCED"));
    let hist = bm.run(&["accounts", "history", "BAYSIDE", "--json"]).ok().json();
    assert!(hist.as_array().unwrap().iter().any(|h| h["kind"] == "bounce"));
    // accounting is told
    let notices: Vec<_> = bm.outbox().into_iter().filter(|m| m["kind"] == "bounce_notice").collect();
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0]["to"], serde_json::json!(["accounting@krgroup.example"]));
    let text = bm.run(&["outbox", "show", &notices[0]["id"].to_string()]).ok().stdout;
    assert!(text.contains("billing@baysidecourier.example") && text.contains("BAYSIDE"), "{text}");
}

#[test]
fn a_uidvalidity_change_acts_on_nothing_twice() {
    let stack = MailStack::start();
    let bm = billmail_reading(&stack);
    stack.append(ACCOUNTING, "INBOX", &corpus("102-"));
    stack.append(ACCOUNTING, "INBOX", QUESTION);
    bm.at("2026-11-17T09:00:00-05:00", &["tick"]).ok();
    stack.reset_uidvalidity(ACCOUNTING, 4242);
    stack.append(ACCOUNTING, "INBOX", &corpus("106-"));
    let out = bm.at("2026-11-17T10:00:00-05:00", &["tick"]).ok();
    assert!(out.stdout.contains("UIDVALIDITY changed"), "{}", out.stdout);
    assert!(out.stdout.contains("1 to review"), "{}", out.stdout);
    let items = bm.run(&["review", "list", "--json"]).ok().json();
    assert_eq!(items.as_array().unwrap().len(), 2, "the first request is not queued twice");
    let inbox = stack.folder(ACCOUNTING, "INBOX");
    assert_eq!(inbox.len(), 1, "{inbox:?}");
    assert!(!inbox[0].1);
}

#[test]
fn ingest_takes_a_message_in_once() {
    let bm = Bm::new();
    bm.import_accounts(&format!("{ACCOUNTS}{WITH_BAYSIDE}"), NOV2).ok();
    let file = bm.write("msg.eml", std::str::from_utf8(&corpus("102-")).unwrap());
    let first = bm.run(&["ingest", file.to_str().unwrap()]).ok();
    assert!(first.stdout.contains("user_change -> review"), "{}", first.stdout);
    let second = bm.run(&["ingest", file.to_str().unwrap()]).ok();
    assert!(second.stdout.contains("already taken in"), "{}", second.stdout);
    assert_eq!(bm.run(&["review", "list", "--json"]).ok().json().as_array().unwrap().len(), 1);
    // standard input, as an MTA pipe alias gives it
    let bounce = corpus("124-");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_billmail"))
        .args(["ingest", "-", "--config"])
        .arg(bm.path("billmail.toml"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), &bounce).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    // a report on a message billmail never sent flags nobody: a person looks
    assert!(String::from_utf8_lossy(&out.stdout).contains("bounce -> review"));
    let empty = bm.write("empty.eml", "");
    assert!(bm.run(&["ingest", empty.to_str().unwrap()]).fails().stderr.contains("empty"));
    // review items can be closed with a reason, once
    bm.run(&["review", "reject", "1", "--reason", "duplicate of a phone call"]).ok();
    let again = bm.run(&["review", "reject", "1", "--reason", "again"]).fails().stderr;
    assert!(again.contains("review item #1 was already rejected at "), "{again}");
    assert!(again.contains("(duplicate of a phone call); it is decided once"), "{again}");
    assert!(bm.run(&["review", "approve", "1"]).fails().stderr.contains("was already rejected"));
    assert!(bm.run(&["review", "reject", "99", "--reason", "x"]).fails().stderr.contains("no review item #99"));
    bm.run(&["review", "reject", "2", "--reason", "not our message"]).ok();
    assert!(bm.run(&["review", "list"]).ok().stdout.contains("nothing waits"));
}

#[test]
fn a_request_through_the_mailbox_is_applied_and_the_confirmation_arrives_threaded() {
    let stack = MailStack::start();
    let bm = Bm::new();
    let pw = bm.write("imap-password", &stack.password);
    bm.write("billmail.toml", &format!("{}\n{}\n{}", common::CONFIG, stack.imap_config(&pw), stack.smtp_config()));
    bm.import_accounts(ACCOUNTS, NOV2).ok();
    let request = b"Authentication-Results: mx1.krgroup.example; dkim=pass header.d=acme-dental.example; dmarc=pass header.from=acme-dental.example\r\nReceived: from mail.sender.example (mail.sender.example [203.0.113.10])\r\n\tby mx1.krgroup.example (Postfix) with ESMTPS; Mon, 16 Nov 2026 09:00:00 -0500\r\n\
From: Jane Doe <jane.doe@acme-dental.example>\r\nTo: accounting@krgroup.example\r\nSubject: One more hygienist\r\n\
Message-ID: <e2e-1@acme-dental.example>\r\nDate: Tue, 17 Nov 2026 09:00:00 -0500\r\n\r\n\
Please add Maria Lopez as a full-time user starting December 1, 2026.\r\n\r\nThanks,\r\nJane\r\n";
    stack.append(ACCOUNTING, "INBOX", request);
    let out = bm.at("2026-11-17T09:30:00-05:00", &["tick"]).ok();
    assert!(out.stdout.contains("user_change \"One more hygienist\" -> processed"), "{}", out.stdout);
    assert_eq!(stack.folder(ACCOUNTING, "Billing/Processed").len(), 1);
    assert!(stack.folder(ACCOUNTING, "INBOX").is_empty());
    let acme = bm.at("2026-12-01T09:00:00-05:00", &["accounts", "show", "ACME", "--json"]).ok().json();
    assert_eq!(acme["full_time_users"], 23);
    // the confirmation went out over SMTP and arrived, threaded to the request
    // (Jane is also a billing contact: December's invoice, due since the 15th, came in the same cycle)
    let got = stack.wait_for("jane.doe@acme-dental.example", 2);
    let parsed: Vec<_> = got.iter().map(|raw| mail_parser::MessageParser::default().parse(raw).unwrap()).collect();
    let kinds: Vec<_> =
        parsed.iter().map(|m| m.header_raw("X-Billmail-Kind").unwrap_or("").trim().to_string()).collect();
    assert_eq!(kinds.iter().filter(|k| *k == "change_confirmation").count(), 1, "{kinds:?}");
    let m = parsed
        .iter()
        .find(|m| m.header_raw("X-Billmail-Kind").is_some_and(|k| k.trim() == "change_confirmation"))
        .unwrap();
    assert_eq!(m.subject(), Some("Re: One more hygienist"));
    assert_eq!(m.in_reply_to().as_text(), Some("e2e-1@acme-dental.example"));
    assert_eq!(m.header_raw("X-Billmail-Kind").map(str::trim), Some("change_confirmation"));
    assert!(m.body_text(0).unwrap().contains("22      23"), "{}", m.body_text(0).unwrap());
    // the services team got its copy
    assert_eq!(stack.wait_for("managed-services@krgroup.example", 1).len(), 1);
}

#[test]
fn ingest_asks_the_mta_to_retry_while_the_database_is_locked() {
    let bm = Bm::new();
    bm.import_accounts(ACCOUNTS, NOV2).ok();
    let file = bm.write("msg.eml", std::str::from_utf8(QUESTION).unwrap());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let db = format!("sqlite://{}", bm.path("billmail.db").display());
    let mut holder = rt.block_on(async {
        use sqlx::Connection;
        let mut c = sqlx::SqliteConnection::connect(&db).await.unwrap();
        sqlx::query("BEGIN EXCLUSIVE").execute(&mut c).await.unwrap();
        c
    });
    // EX_TEMPFAIL: an MTA pipe keeps the message and tries again later
    let out = bm.run(&["ingest", file.to_str().unwrap()]);
    assert_eq!(out.code, 75, "{}", out.stderr);
    rt.block_on(async {
        sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();
    });
    assert!(bm.run(&["ingest", file.to_str().unwrap()]).ok().stdout.contains("-> left"));
    // bad input is still a plain failure
    let empty = bm.write("empty.eml", "");
    assert_eq!(bm.run(&["ingest", empty.to_str().unwrap()]).code, 1);
}

/// A message over the size limit, file or pipe, is refused before it is held
/// whole or stored: the MTA returns it to its sender with the reason.
#[test]
fn ingest_refuses_a_message_over_the_size_limit_and_stores_nothing() {
    let bm = Bm::new();
    bm.import_accounts(ACCOUNTS, NOV2).ok();
    let limit = billmail::reading::MAX_MESSAGE_BYTES;
    let mut big = b"From: a@b.example\r\nSubject: big\r\nDate: Wed, 11 Nov 2026 09:00:00 -0500\r\n\r\n".to_vec();
    big.resize(limit + 1000, b'x');
    let file = bm.path("big.eml");
    std::fs::write(&file, &big).unwrap();
    let out = bm.run(&["ingest", file.to_str().unwrap()]).fails();
    assert!(out.stderr.contains(&format!("over the {limit}-byte limit; not taken in")), "{}", out.stderr);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_billmail"))
        .args(["ingest", "-", "--config"])
        .arg(bm.path("billmail.toml"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // the reader stops one byte over the limit: the rest of the pipe may be refused
    let _ = std::io::Write::write_all(child.stdin.as_mut().unwrap(), &big);
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not taken in"));
    // nothing was stored: the status counts no message taken in
    let status = bm.run(&["status", "--json"]).ok().json();
    assert!(!status.to_string().contains("big"), "{status}");
    assert_eq!(bm.run(&["review", "list", "--json"]).ok().json().as_array().unwrap().len(), 0);
}

/// A message in the mailbox over the size limit is fetched as its header
/// alone (never held whole), stored as that header, never read (its subject
/// asks for a change that must not be applied) and moved to review with the
/// reason; the mail around it is taken in as usual.
#[test]
fn a_mailbox_message_over_the_size_limit_is_taken_in_as_its_header_for_review() {
    let stack = MailStack::start();
    let bm = billmail_reading(&stack);
    let limit = billmail::reading::MAX_MESSAGE_BYTES;
    let mut big = b"From: Jane Doe <jane.doe@acme-dental.example>\r\nTo: accounting@krgroup.example\r\n\
        Subject: Please add 3 full-time users\r\nMessage-ID: <big-1@acme-dental.example>\r\n\
        Date: Tue, 17 Nov 2026 10:00:00 -0500\r\nContent-Type: text/plain\r\n\r\nPlease add 3 full-time users.\r\n"
        .to_vec();
    while big.len() < limit + 4096 {
        big.extend_from_slice(b"attached scan data attached scan data attached scan data attached scan data\r\n");
    }
    stack.append(ACCOUNTING, "INBOX", QUESTION);
    stack.append(ACCOUNTING, "INBOX", &big);
    let out = bm.at("2026-11-17T09:00:00-05:00", &["tick"]).ok();
    assert!(out.stdout.contains("intake: 0 processed, 1 to review, 1 left for people"), "{}", out.stdout);
    let review = bm.run(&["review", "list", "--json"]).ok().json();
    let items = review.as_array().unwrap();
    assert_eq!(items.len(), 1, "{review}");
    assert_eq!(items[0]["from"], "jane.doe@acme-dental.example", "the header names the sender");
    assert!(items[0]["reasons"].to_string().contains(&format!("over the {limit}-byte limit")), "{review}");
    assert_eq!(stack.folder(ACCOUNTING, "Billing/Review").len(), 1, "a person finds it whole in the review folder");
    assert_eq!(stack.folder(ACCOUNTING, "INBOX").len(), 1, "the question stays");
    let accounts = bm.run(&["accounts", "show", "ACME", "--json"]).ok().json();
    assert_eq!(accounts["full_time_users"], 22, "nothing applied: {accounts}");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let db = format!("sqlite://{}", bm.path("billmail.db").display());
    let stored: Vec<i64> = rt.block_on(async {
        use sqlx::Connection;
        let mut c = sqlx::SqliteConnection::connect(&db).await.unwrap();
        sqlx::query_scalar("SELECT length(raw) FROM messages WHERE kind = 'unreadable'")
            .fetch_all(&mut c)
            .await
            .unwrap()
    });
    assert_eq!(stored.len(), 1);
    assert!(stored[0] < 4096, "only the header is stored: {stored:?}");
}
