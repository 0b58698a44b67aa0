//! Mail out through real servers: OpenSMTPD delivering into Dovecot on
//! loopback, read back over IMAP.

mod common;

use common::mailstack::MailStack;
use common::{ACCOUNTS, Bm};
use mail_parser::{MessageParser, MimeHeaders};

const NOV2: &str = "2026-11-02T09:00:00-05:00";
const NOV15: &str = "2026-11-15T08:00:00-05:00";

fn billmail_with(stack: &MailStack) -> Bm {
    let bm = Bm::with_config(&format!("{}\n{}", common::CONFIG, stack.smtp_config()));
    bm.import_accounts(ACCOUNTS, NOV2).ok();
    bm
}

#[test]
fn invoices_arrive_once_with_both_parts_and_the_headers() {
    let stack = MailStack::start();
    let bm = billmail_with(&stack);
    let out = bm.at(NOV15, &["tick"]).ok();
    assert!(out.stdout.contains("sent #1"), "{}", out.stdout);
    let outbox = bm.outbox();
    assert!(outbox.iter().all(|m| m["state"] == "sent" && m["attempts"] == 1), "{outbox:?}");

    for (user, number) in [
        ("ap@acme-dental.example", "INV-2026-0001"),
        ("jane.doe@acme-dental.example", "INV-2026-0001"),
        ("billing@harborview.example", "INV-2026-0002"),
    ] {
        let msgs = stack.wait_for(user, 1);
        assert_eq!(msgs.len(), 1, "{user} has one invoice");
        let m = MessageParser::default().parse(&msgs[0]).unwrap();
        assert!(m.subject().unwrap().contains(number));
        assert_eq!(m.header_raw("X-Billmail-Kind").map(str::trim), Some("invoice"));
        assert_eq!(m.header_raw("Auto-Submitted").map(str::trim), Some("auto-generated"));
        let id = m.message_id().unwrap();
        assert!(id.ends_with("@krgroup.example"), "{id}");
        let stored = outbox.iter().find(|o| o["subject"].as_str().unwrap().contains(number)).unwrap();
        assert_eq!(stored["message_id"], format!("<{id}>"));
        assert_eq!(m.root_part().content_type().unwrap().subtype(), Some("mixed"));
        assert!(m.body_text(0).unwrap().contains(number));
        // the invoice as a PDF: PDF/A, titled with its number, its total in its text
        let pdf = m.attachments().find(|a| a.attachment_name() == Some(&format!("{number}.pdf"))).expect("the PDF");
        assert_eq!(pdf.content_type().map(|c| (c.ctype(), c.subtype())), Some(("application", Some("pdf"))));
        let file = bm.path(&format!("{user}.pdf"));
        std::fs::write(&file, pdf.contents()).unwrap();
        common::pdf::assert_archival(&file, number);
        let total = bm.invoice(number)["total"].as_str().unwrap().to_string();
        let shown = common::pdf::text(&file);
        assert!(shown.contains(number) && shown.contains(&total[total.len() - 3..]), "{shown}");
        assert!(m.body_html(0).unwrap().contains("<!DOCTYPE html>"));
        assert_eq!(m.from().unwrap().first().unwrap().address(), Some("accounting@krgroup.example"));
    }

    // a second tick sends nothing
    let again = bm.at(NOV15, &["tick"]).ok();
    assert!(!again.stdout.contains("sent #"), "{}", again.stdout);
    std::thread::sleep(std::time::Duration::from_secs(1));
    assert_eq!(stack.inbox("ap@acme-dental.example").len(), 1);
    assert_eq!(stack.inbox("billing@harborview.example").len(), 1);
}

#[test]
fn an_smtp_outage_keeps_mail_queued_and_it_is_delivered_once_later() {
    let stack = MailStack::start();
    let bm = billmail_with(&stack);
    stack.stop_smtp();
    let out = bm.at(NOV15, &["tick"]).ok();
    assert!(out.stdout.contains("will retry #1"), "{}", out.stdout);
    let outbox = bm.outbox();
    assert!(outbox.iter().all(|m| m["state"] == "queued"), "{outbox:?}");
    assert_eq!(outbox[0]["attempts"], 1);
    assert!(outbox[0]["last_error"].as_str().is_some());

    // thirty seconds later the retry is not due yet: nothing is tried
    bm.at("2026-11-15T08:00:30-05:00", &["tick"]).ok();
    assert_eq!(bm.outbox()[0]["attempts"], 1);

    // the PDF was made before the first attempt and is kept: the retry sends those bytes
    let kept =
        common::sql(bm.db(), "SELECT attachment_name, length(attachment), hex(attachment) FROM outbox WHERE id = 1");
    assert!(kept.starts_with("INV-2026-0001.pdf|"), "{kept}");
    assert_eq!(bm.outbox()[0]["attachment"], "INV-2026-0001.pdf");
    let shown = bm.run(&["outbox", "show", "1"]).ok().stdout;
    assert!(shown.lines().nth(1).is_some_and(|l| l.starts_with("Attachment: INV-2026-0001.pdf (")), "{shown}");
    let templates = bm.path("changed");
    std::fs::create_dir(&templates).unwrap();
    std::fs::write(
        templates.join("invoice.typ"),
        "#let d = json(bytes(sys.inputs.data))\nChanged: #d.invoice.number\n",
    )
    .unwrap();
    let changed =
        format!("{}\n[templates]\ndir = \"changed\"\n", std::fs::read_to_string(bm.path("billmail.toml")).unwrap());
    bm.write("billmail.toml", &changed);

    stack.start_smtp();
    let later = bm.at("2026-11-15T09:00:00-05:00", &["tick"]).ok();
    assert!(later.stdout.contains("sent #1"), "{}", later.stdout);
    assert!(bm.outbox().iter().all(|m| m["state"] == "sent"));
    assert_eq!(stack.wait_for("ap@acme-dental.example", 1).len(), 1);
    assert_eq!(stack.wait_for("billing@harborview.example", 1).len(), 1);
    std::thread::sleep(std::time::Duration::from_secs(1));
    let got = stack.inbox("ap@acme-dental.example");
    assert_eq!(got.len(), 1, "delivered once");
    let m = MessageParser::default().parse(&got[0]).unwrap();
    let sent: String = m.attachments().next().unwrap().contents().iter().map(|b| format!("{b:02X}")).collect();
    assert_eq!(kept.rsplit('|').next().unwrap(), sent, "the kept PDF, not one made again with the new template");
}

#[test]
fn a_refused_recipient_is_marked_failed_and_shown() {
    let stack = MailStack::start();
    let bm = Bm::with_config(&format!("{}\n{}", common::CONFIG, stack.smtp_config()));
    bm.import_accounts(
        "id,name,tier,full_time_users,part_time_users,billing_emails\nGONE,Gone Co,remote,3,0,ap@reject.example\n",
        NOV2,
    )
    .ok();
    let out = bm.at(NOV15, &["tick"]).ok();
    assert!(out.stdout.contains("FAILED #1"), "{}", out.stdout);
    let outbox = bm.outbox();
    assert_eq!(outbox[0]["state"], "failed");
    assert_eq!(outbox[0]["attempts"], 1);
    assert!(bm.run(&["outbox", "list"]).ok().stdout.contains("failed"));
    // a failed message is not tried again by later cycles
    bm.at("2026-11-15T12:00:00-05:00", &["tick"]).ok();
    assert_eq!(bm.outbox()[0]["attempts"], 1);
}

#[test]
fn a_credit_hold_reaches_the_customer_threaded_and_the_services_team() {
    let stack = MailStack::start();
    let bm = billmail_with(&stack);
    bm.at(NOV15, &["tick"]).ok();
    // nobody pays; the next cycle runs on December 20th
    let out = bm.at("2026-12-20T08:30:00-05:00", &["tick"]).ok();
    assert!(out.stdout.contains("collections: ACME credit hold from 2026-12-15"), "{}", out.stdout);
    let kind_of = |raw: &Vec<u8>| {
        let m = MessageParser::default().parse(raw).unwrap();
        (
            m.header_raw("X-Billmail-Kind").unwrap_or("").trim().to_string(),
            m.message_id().unwrap_or("").to_string(),
            m.in_reply_to().as_text().unwrap_or("").to_string(),
            m.body_text(0).unwrap_or_default().to_string(),
        )
    };
    // December's invoice (Nov 15), January's (Dec 15, issued by this cycle)
    // and the hold notice; the mail server may deliver them in any order
    let customer: Vec<_> = stack.wait_for("ap@acme-dental.example", 3).iter().map(kind_of).collect();
    let invoice =
        customer.iter().find(|m| m.0 == "invoice" && m.3.contains("INV-2026-0001")).expect("the overdue invoice");
    let hold = customer.iter().find(|m| m.0 == "credit_hold").expect("the credit-hold notice");
    assert_eq!(hold.2, invoice.1, "threaded under the invoice");
    assert!(
        hold.3.contains("services keep running") || hold.3.contains("Everything you have keeps running"),
        "{}",
        hold.3
    );
    let team: Vec<_> = stack.wait_for("managed-services@krgroup.example", 1).iter().map(kind_of).collect();
    assert!(team.iter().any(|m| m.0 == "credit_hold" && m.3.contains("Do not take new purchases")), "{team:?}");
}

#[test]
fn a_message_that_gave_up_goes_out_once_after_outbox_retry() {
    let stack = MailStack::start();
    let bm = Bm::with_config(&format!("{}\n{}", common::CONFIG, stack.smtp_config()));
    bm.import_accounts(
        "id,name,tier,full_time_users,part_time_users,billing_emails\nONE,One Co,remote,3,0,ap@one.example\n",
        NOV2,
    )
    .ok();
    stack.stop_smtp();
    // ten cycles an hour apart, each finding the server down: then it gives up
    let start = chrono::DateTime::parse_from_rfc3339(NOV15).unwrap();
    let mut last = String::new();
    for k in 0..10 {
        let at = (start + chrono::Duration::minutes(61 * k)).to_rfc3339();
        last = bm.at(&at, &["tick"]).ok().stdout;
    }
    assert!(last.contains("FAILED #1"), "{last}");
    assert_eq!(bm.outbox()[0]["state"], "failed");
    assert_eq!(bm.outbox()[0]["attempts"], 10);

    let status = bm.at("2026-11-15T20:00:00-05:00", &["status", "--json"]).ok().json();
    assert_eq!(status["outbox"]["failed"], 1);
    assert_eq!(status["outbox"]["queued"], 0);
    let error = status["last_error"]["detail"].as_str().unwrap();
    assert!(error.contains("#1 failed") && error.contains("gave up after 10 attempts"), "{error}");
    let text = bm.at("2026-11-15T20:00:00-05:00", &["status"]).ok().stdout;
    assert!(text.contains("1 failed (see `billmail outbox list`; `billmail outbox retry ID`)"), "{text}");

    // nothing but a failed message can be retried
    let missing = bm.run(&["outbox", "retry", "99"]).fails();
    assert!(missing.stderr.contains("no outgoing message #99"), "{}", missing.stderr);

    stack.start_smtp();
    let retry = bm.at("2026-11-15T20:00:00-05:00", &["outbox", "retry", "1"]).ok();
    assert!(retry.stdout.contains("queued again (it had failed after 10 attempt(s))"), "{}", retry.stdout);
    let m = &bm.outbox()[0];
    assert_eq!((m["state"].as_str(), m["attempts"].as_i64()), (Some("queued"), Some(0)));
    assert!(m["last_error"].as_str().unwrap().contains("queued again by hand"), "{m}");
    let twice = bm.at("2026-11-15T20:00:00-05:00", &["outbox", "retry", "1"]).fails();
    assert!(twice.stderr.contains("already queued"), "{}", twice.stderr);

    let out = bm.at("2026-11-15T20:01:00-05:00", &["tick"]).ok();
    assert!(out.stdout.contains("sent #1"), "{}", out.stdout);
    assert_eq!(stack.wait_for("ap@one.example", 1).len(), 1);
    let sent = bm.at("2026-11-15T20:02:00-05:00", &["outbox", "retry", "1"]).fails();
    assert!(sent.stderr.contains("was sent at") && sent.stderr.contains("not sent twice"), "{}", sent.stderr);
    bm.at("2026-11-15T21:00:00-05:00", &["tick"]).ok();
    std::thread::sleep(std::time::Duration::from_secs(1));
    assert_eq!(stack.inbox("ap@one.example").len(), 1, "delivered once");
    let status = bm.at("2026-11-15T21:00:00-05:00", &["status", "--json"]).ok().json();
    assert_eq!((status["outbox"]["failed"].as_i64(), status["outbox"]["queued"].as_i64()), (Some(0), Some(0)));
    assert!(status["last_cycle"]["detail"].as_str().unwrap().contains("0 failed"), "{status}");
}

#[test]
fn with_the_mailbox_down_invoices_and_collections_still_run_and_tick_names_the_mailbox() {
    let stack = MailStack::start();
    let pw_dir = tempfile::tempdir().unwrap();
    let pw = pw_dir.path().join("imap-password");
    std::fs::write(&pw, &stack.password).unwrap();
    let imap = stack.imap_config_unreachable(&pw);
    let bm = Bm::with_config(&format!("{}\n{}\n{imap}", common::CONFIG, stack.smtp_config()));
    bm.import_accounts(ACCOUNTS, NOV2).ok();

    // the 15th: December's invoices go out though the mailbox cannot be read
    let out = bm.at(NOV15, &["tick"]).fails();
    assert_eq!(out.code, 1);
    assert!(out.stdout.contains("issued INV-2026-0001 ACME"), "{}", out.stdout);
    assert!(out.stdout.contains("sent #1"), "{}", out.stdout);
    assert!(out.stderr.contains("billmail: the mailbox: cannot reach the mailbox"), "{}", out.stderr);
    assert!(!out.stderr.contains("billing"), "only the mailbox failed: {}", out.stderr);
    assert_eq!(stack.wait_for("ap@acme-dental.example", 1).len(), 1);

    // nobody pays; on December 20th collections run, the mailbox still down
    let out = bm.at("2026-12-20T08:30:00-05:00", &["tick"]).fails();
    assert!(out.stdout.contains("collections: ACME credit hold from 2026-12-15"), "{}", out.stdout);
    assert!(out.stderr.contains("billmail: the mailbox:"), "{}", out.stderr);
    let customer = stack.wait_for("ap@acme-dental.example", 3);
    let kinds: Vec<String> = customer
        .iter()
        .map(|raw| {
            MessageParser::default().parse(raw).unwrap().header_raw("X-Billmail-Kind").unwrap_or("").trim().to_string()
        })
        .collect();
    assert!(kinds.iter().any(|k| k == "credit_hold"), "{kinds:?}");

    // status says the cycle ran and why the mailbox was not read
    let status = bm.at("2026-12-20T08:35:00-05:00", &["status", "--json"]).ok().json();
    assert_eq!(status["last_cycle"]["at"], "2026-12-20T13:30:00Z", "{status}");
    let error = status["last_error"]["detail"].as_str().unwrap();
    assert!(error.starts_with("mailbox: cannot reach the mailbox"), "{error}");
    let text = bm.at("2026-12-20T08:35:00-05:00", &["status"]).ok().stdout;
    assert!(text.contains("last error:") && text.contains("cannot reach the mailbox"), "{text}");
}

#[test]
fn a_statement_reaches_the_customer_with_its_pdf() {
    let stack = MailStack::start();
    let bm = billmail_with(&stack);
    bm.at(NOV15, &["tick"]).ok();
    bm.at("2026-12-01T08:00:00-05:00", &["tick"]).ok();
    // the invoice, the first reminder (a day late) and November's statement
    let got = stack.wait_for("ap@acme-dental.example", 3);
    let statement = got
        .iter()
        .map(|raw| MessageParser::default().parse(raw).unwrap())
        .find(|m| m.header_raw("X-Billmail-Kind").map(str::trim) == Some("statement"))
        .expect("a statement");
    assert!(statement.subject().unwrap().contains("Statement of account"), "{:?}", statement.subject());
    assert!(statement.body_text(0).unwrap().contains("for November 2026"));
    let pdf = statement.attachments().next().expect("its PDF");
    assert_eq!(pdf.attachment_name(), Some("STMT-ACME-2026-11.pdf"));
    let file = bm.path("statement.pdf");
    std::fs::write(&file, pdf.contents()).unwrap();
    common::pdf::assert_archival(&file, "STMT-ACME-2026-11");
    let total = bm.invoice("INV-2026-0001")["total"].as_str().unwrap().to_string();
    let shown = common::pdf::text(&file);
    assert!(shown.contains("INV-2026-0001") && shown.contains(&total[total.len() - 3..]), "{shown}");
}
