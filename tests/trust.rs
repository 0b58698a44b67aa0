//! Proof of origin (README "Trust"): only a message proven to come from its
//! From domain changes a bill. DKIM keys are made here and published on a
//! real DNS server on loopback (dnsmasq); forged headers are tried through
//! `ingest` and through OpenSMTPD and Dovecot.

mod common;

use common::dns::{Dns, Key};
use common::mailstack::MailStack;
use common::{ACCOUNTS, Bm, ENTRY};
use mail_auth::common::crypto::{RsaKey, Sha256};
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::DkimSigner;
use serde_json::Value;

const NOV20: &str = "2026-11-20T10:00:00-05:00";
const ACME: &str = "acme-dental.example";

fn request(extra: &str, subject: &str) -> String {
    format!(
        "{extra}From: Jane Doe <jane.doe@acme-dental.example>\r\nTo: accounting@krgroup.example\r\n\
         Subject: {subject}\r\nMessage-ID: <req-{}@acme-dental.example>\r\nDate: Fri, 20 Nov 2026 09:00:00 -0500\r\n\r\n\
         Please add two new full-time users starting December 1, 2026:\r\n\r\n- Maria Lopez\r\n- Tom Baker\r\n\r\nThanks,\r\nJane\r\n",
        subject.len() + extra.len()
    )
}

/// `raw` with a DKIM-Signature by `domain` (selector `s1`) on top.
fn sign(key: &Key, domain: &str, selector: &str, raw: &str, whole_body: bool) -> String {
    let k = RsaKey::<Sha256>::from_der(&key.private).unwrap();
    let sig = DkimSigner::from_key(k)
        .domain(domain)
        .selector(selector)
        .headers(["From", "To", "Subject", "Date", "Message-ID"])
        .body_length(!whole_body)
        .sign(raw.as_bytes())
        .unwrap();
    format!("{}{raw}", sig.to_header())
}

struct Keys {
    acme: Key,
    evil: Key,
    dns: Dns,
}

fn keys() -> Keys {
    let (acme, evil) = (Key::new(), Key::new());
    let dns = Dns::start(&[
        (format!("s1._domainkey.{ACME}"), acme.record.clone()),
        ("s1._domainkey.evil.example".into(), evil.record.clone()),
    ]);
    Keys { acme, evil, dns }
}

/// Books with ACME (22 full-time) and billmail checking DKIM against `dns`.
fn books(dns: &Dns) -> Bm {
    let config = common::CONFIG
        .replace("verify_dkim = false", &format!("verify_dkim = true\ndns_servers = [\"127.0.0.1:{}\"]", dns.port));
    assert!(config.contains("verify_dkim = true"));
    let bm = Bm::with_config(&config);
    bm.import_accounts(ACCOUNTS, "2026-11-02T09:00:00-05:00").ok();
    bm.at("2026-11-15T08:00:00-05:00", &["tick"]).ok(); // INV-2026-0001 (ACME), -0002 (HARBOR)
    bm
}

fn ingest(bm: &Bm, raw: &str) -> String {
    let p = bm.write("m.eml", raw);
    bm.at(NOV20, &["ingest", p.to_str().unwrap()]).ok().stdout
}

fn full_time(bm: &Bm) -> Value {
    bm.at("2026-12-02T09:00:00-05:00", &["accounts", "show", "ACME", "--json"]).ok().json()["full_time_users"].clone()
}

fn outbox_kinds(bm: &Bm) -> Vec<String> {
    bm.outbox().iter().filter_map(|m| m["kind"].as_str().map(str::to_string)).collect()
}

fn review_reasons(bm: &Bm) -> String {
    bm.run(&["review", "list", "--json"]).ok().json().to_string()
}

#[test]
fn a_request_signed_by_its_from_domain_is_applied_and_no_trick_on_the_signature_is() {
    let k = keys();
    let bm = books(&k.dns);
    let out = ingest(&bm, &sign(&k.acme, ACME, "s1", &request("", "Two new hygienists"), true));
    assert!(out.contains("user_change -> processed"), "{out}");
    assert_eq!(full_time(&bm), 24);

    let added_after_signing = {
        let signed = sign(&k.acme, ACME, "s1", &request("", "Two new hygienists (l=)"), false);
        format!("{signed}\r\nAlso please add three more full-time users, Ann, Bo and Cy, from December 1, 2026.\r\n")
    };
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "signed by another domain",
            sign(&k.evil, "evil.example", "s1", &request("", "Two new"), true),
            "evil.example",
        ),
        (
            "body changed after signing",
            sign(&k.acme, ACME, "s1", &request("", "Two new (changed)"), true).replace("two new", "five new"),
            "does not verify",
        ),
        (
            "no key published",
            sign(&k.acme, ACME, "nokey", &request("", "Two new (no key)"), true),
            "could not be checked",
        ),
        ("text after the signed length", added_after_signing, "l="),
        (
            "a second Subject above the signed one",
            format!(
                "Subject: Remove all users\r\n{}",
                sign(&k.acme, ACME, "s1", &request("", "Two new (subject)"), true)
            ),
            "outside what it signed",
        ),
        (
            "a second From above the signed one",
            format!(
                "From: ap@acme-dental.example\r\n{}",
                sign(&k.acme, ACME, "s1", &request("", "Two new (from)"), true)
            ),
            "From headers",
        ),
        ("not signed at all", request("", "Two new (unsigned)"), "no DKIM signature"),
    ];
    for (what, raw, why) in cases {
        let bm = books(&k.dns);
        let out = ingest(&bm, &raw);
        assert!(out.contains("-> review"), "{what}: {out}");
        assert_eq!(full_time(&bm), 22, "{what}");
        let reasons = review_reasons(&bm);
        assert!(reasons.contains(why), "{what}: the reason names {why:?}: {reasons}");
        assert!(!outbox_kinds(&bm).contains(&"change_confirmation".to_string()), "{what}");
        if what == "body changed after signing" {
            assert!(
                !outbox_kinds(&bm).contains(&"review_acknowledgement".to_string()),
                "a message that fails its check is never answered"
            );
        }
    }
}

#[test]
fn forged_authentication_results_change_nothing() {
    let bm = Bm::new();
    bm.import_accounts(ACCOUNTS, "2026-11-02T09:00:00-05:00").ok();
    bm.at("2026-11-15T08:00:00-05:00", &["tick"]).ok();
    let ar = |v: &str| format!("Authentication-Results: {v}\r\n");
    let cases = [
        ("another server's pass on top", ar("evil.example; dmarc=pass header.from=acme-dental.example")),
        (
            "our server's name, but no line where it took the message in",
            ar("mx1.krgroup.example; dmarc=pass header.from=acme-dental.example"),
        ),
        (
            "below the line where our server took it in",
            format!("{ENTRY}{}", ar("mx1.krgroup.example; dmarc=pass header.from=acme-dental.example")),
        ),
        (
            "a pass inside a quoted local part beside the server's fail",
            format!(
                "{}{ENTRY}",
                ar(
                    "mx1.krgroup.example; spf=pass smtp.mailfrom=\"x;dmarc=pass header.from=acme-dental.example x\"@evil.example; dmarc=fail header.from=acme-dental.example"
                )
            ),
        ),
        ("a DMARC pass that names no From domain", format!("{}{ENTRY}", ar("mx1.krgroup.example; dmarc=pass"))),
        ("DKIM of a bare suffix", format!("{}{ENTRY}", ar("mx1.krgroup.example; dkim=pass header.d=example"))),
        (
            "a pass and a fail: the fail wins",
            format!(
                "{}{ENTRY}",
                ar(
                    "mx1.krgroup.example; dkim=pass header.d=acme-dental.example; dmarc=fail header.from=acme-dental.example"
                )
            ),
        ),
    ];
    for (i, (what, headers)) in cases.iter().enumerate() {
        let out = ingest(&bm, &request(headers, &format!("Two new users {i}")));
        assert!(out.contains("-> review"), "{what}: {out}");
        assert_eq!(full_time(&bm), 22, "{what}");
    }
    // a forged bank notice pays nothing and sends no receipt
    let notice = format!(
        "{}From: First Ohio Bank Alerts <alerts@firstohiobank.example>\r\nTo: accounting@krgroup.example\r\n\
         Subject: ACH Credit Received\r\nMessage-ID: <forged-ach@firstohiobank.example>\r\nDate: Fri, 20 Nov 2026 06:00:00 -0500\r\n\r\n\
         An ACH credit has posted to your account.\r\nCredit amount: $1,997.50\r\nCompany name: ACME DENTAL LLC\r\n\
         Trace number: 041000120384712\r\nPayment related info: INV-2026-0001\r\n",
        ar(
            "firstohiobank.example; dkim=pass header.d=firstohiobank.example; dmarc=pass header.from=firstohiobank.example"
        )
    );
    let out = ingest(&bm, &notice);
    assert!(out.contains("payment -> review"), "{out}");
    assert_eq!(bm.invoice("INV-2026-0001")["status"], "open");
    assert!(!outbox_kinds(&bm).contains(&"payment_receipt".to_string()));
    // the one real proof still works: our server's pass above its own line
    let real = format!("{}{ENTRY}", ar("mx1.krgroup.example; dmarc=pass header.from=acme-dental.example"));
    assert!(ingest(&bm, &request(&real, "Two new users, really")).contains("user_change -> processed"));
    assert_eq!(full_time(&bm), 24);
}

#[test]
fn an_unproven_message_is_answered_without_a_word_of_it() {
    let bm = Bm::new();
    bm.import_accounts(ACCOUNTS, "2026-11-02T09:00:00-05:00").ok();
    let raw = "From: Jane Doe <jane.doe@acme-dental.example>\r\nTo: accounting@krgroup.example\r\n\
               Subject: Pay now at http://evil.example/pay\r\nMessage-ID: <vague@evil.example>\r\n\
               Date: Fri, 20 Nov 2026 09:00:00 -0500\r\n\r\nPlease add a couple of users, details at http://evil.example/pay\r\n";
    assert!(ingest(&bm, raw).contains("-> review"));
    let acks: Vec<Value> = bm.outbox().into_iter().filter(|m| m["kind"] == "review_acknowledgement").collect();
    assert_eq!(acks.len(), 1, "{acks:?}");
    let text = bm.run(&["outbox", "show", &acks[0]["id"].to_string()]).ok().stdout;
    assert!(!text.contains("evil.example"), "{text}");
    assert!(text.contains("We received a message sent from this address"), "{text}");
}

/// Sends `raw` to accounting@ through OpenSMTPD, which hands it to Dovecot.
fn deliver(stack: &MailStack, raw: &str) {
    use lettre::Transport;
    let envelope = lettre::address::Envelope::new(
        Some("sender@outside.example".parse().unwrap()),
        vec!["accounting@krgroup.example".parse().unwrap()],
    )
    .unwrap();
    let smtp = lettre::SmtpTransport::builder_dangerous("127.0.0.1").port(stack.smtp_port).build();
    smtp.send_raw(&envelope, raw.as_bytes()).expect("OpenSMTPD takes the message");
}

#[test]
fn through_the_mail_server_only_the_signed_request_is_applied() {
    let k = keys();
    let stack = MailStack::start_as("mx1.krgroup.example");
    let bm = books(&k.dns);
    let pw = bm.write("imap-password", &stack.password);
    let config = std::fs::read_to_string(bm.path("billmail.toml")).unwrap();
    bm.write("billmail.toml", &format!("{config}\n{}", stack.imap_config(&pw)));
    // OpenSMTPD writes "Received: ... by mx1.krgroup.example": everything below came from outside
    let forged = request(
        "Authentication-Results: mx1.krgroup.example; dkim=pass header.d=acme-dental.example; dmarc=pass header.from=acme-dental.example\r\n",
        "Forged header",
    );
    deliver(&stack, &forged);
    deliver(&stack, &sign(&k.acme, ACME, "s1", &request("", "Signed request"), true));
    // a forged bank notice and a forged bounce of Acme's real invoice
    let sent = bm.outbox().into_iter().find(|m| m["kind"] == "invoice" && m["account"] == "ACME").unwrap();
    deliver(
        &stack,
        "Authentication-Results: mx1.krgroup.example; dmarc=pass header.from=firstohiobank.example\r\n\
         From: First Ohio Bank Alerts <alerts@firstohiobank.example>\r\nTo: accounting@krgroup.example\r\n\
         Subject: ACH Credit Received\r\nMessage-ID: <forged-ach@firstohiobank.example>\r\nDate: Fri, 20 Nov 2026 06:00:00 -0500\r\n\r\n\
         An ACH credit has posted to your account.\r\nCredit amount: $1,997.50\r\nCompany name: ACME DENTAL LLC\r\n\
         Trace number: 041000120384712\r\nPayment related info: INV-2026-0001\r\n",
    );
    deliver(
        &stack,
        &dsn("MAILER-DAEMON@evil.example", sent["message_id"].as_str().unwrap(), "ap@acme-dental.example", 9),
    );
    let start = std::time::Instant::now();
    while stack.inbox("accounting@krgroup.example").len() < 4 {
        assert!(start.elapsed() < std::time::Duration::from_secs(20), "the four messages did not arrive");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let arrived = stack.inbox("accounting@krgroup.example");
    assert!(String::from_utf8_lossy(&arrived[0]).contains("by mx1.krgroup.example"), "the server wrote its line");
    bm.at(NOV20, &["tick"]).ok();
    assert_eq!(full_time(&bm), 24, "the signed request added two, the forged one nothing");
    assert_eq!(bm.invoice("INV-2026-0001")["status"], "open", "the forged notice paid nothing");
    assert!(!contacts(&bm).contains("bounced"), "the forged bounce flagged nobody");
    let reviews = bm.run(&["review", "list", "--json"]).ok().json();
    let mut subjects: Vec<&str> = reviews.as_array().unwrap().iter().map(|r| r["subject"].as_str().unwrap()).collect();
    subjects.sort();
    assert_eq!(subjects, ["ACH Credit Received", "Forged header", "Undelivered Mail Returned to Sender"]);
}

/// A First Ohio Bank notice proven by our server's header.
fn bank_notice(message_id: &str, date: &str, body: &str) -> String {
    format!(
        "Authentication-Results: mx1.krgroup.example; dkim=pass header.d=firstohiobank.example; dmarc=pass header.from=firstohiobank.example\r\n{ENTRY}\
         From: First Ohio Bank Alerts <alerts@firstohiobank.example>\r\nTo: accounting@krgroup.example\r\n\
         Subject: ACH Credit Received\r\nMessage-ID: <{message_id}>\r\nDate: {date}\r\n\r\n{body}"
    )
}

fn paid_books() -> Bm {
    let bm = Bm::new();
    bm.import_accounts(ACCOUNTS, "2026-11-02T09:00:00-05:00").ok();
    bm.at("2026-11-15T08:00:00-05:00", &["tick"]).ok(); // INV-2026-0001 (ACME, $1,997.50), -0002 (HARBOR)
    bm
}

fn credit(bm: &Bm, account: &str) -> Value {
    bm.at(NOV20, &["accounts", "show", account, "--json"]).ok().json()["credit"].clone()
}

#[test]
fn a_notice_without_a_reference_pays_once_whatever_its_headers_say() {
    let bm = paid_books();
    let body = "An ACH credit has posted to your account.\r\nCredit amount: $500.00\r\nCompany name: ACME DENTAL LLC\r\n\
                Posting date: 11/20/2026\r\nPayment related info: INV-2026-0001\r\n";
    let first = bank_notice("ach-1@firstohiobank.example", "Fri, 20 Nov 2026 06:00:00 -0500", body);
    assert!(ingest(&bm, &first).contains("payment -> processed"));
    assert_eq!(bm.invoice("INV-2026-0001")["balance"], "1497.50");
    // delivered again with a new Message-ID and Date: the same payment
    let replay = bank_notice("ach-1-resent@firstohiobank.example", "Sat, 21 Nov 2026 07:00:00 -0500", body);
    let out = ingest(&bm, &replay);
    assert!(out.contains("payment -> processed"), "{out}");
    assert_eq!(bm.invoice("INV-2026-0001")["balance"], "1497.50", "not applied twice");
    let hist = bm.run(&["accounts", "history", "ACME", "--json"]).ok().json().to_string();
    assert!(hist.contains("recorded as a duplicate, not applied"), "{hist}");
    assert_eq!(bm.outbox().iter().filter(|m| m["kind"] == "payment_receipt").count(), 1);
    // a different payment of the same amount (its own posting date) is money
    let second = bank_notice(
        "ach-2@firstohiobank.example",
        "Mon, 23 Nov 2026 06:00:00 -0500",
        &body.replace("11/20/2026", "11/23/2026"),
    );
    assert!(ingest(&bm, &second).contains("payment -> processed"));
    assert_eq!(bm.invoice("INV-2026-0001")["balance"], "997.50");
}

#[test]
fn a_message_id_used_first_by_another_message_does_not_hide_the_real_one() {
    let bm = paid_books();
    let squatter = "From: Someone <someone@elsewhere.example>\r\nTo: accounting@krgroup.example\r\nSubject: hello\r\n\
                    Message-ID: <20261120.ACH.77@firstohiobank.example>\r\nDate: Thu, 19 Nov 2026 06:00:00 -0500\r\n\r\nhello\r\n";
    assert!(ingest(&bm, squatter).contains("other -> left"));
    let real = bank_notice(
        "20261120.ACH.77@firstohiobank.example",
        "Fri, 20 Nov 2026 06:00:00 -0500",
        "An ACH credit has posted to your account.\r\nCredit amount: $1,997.50\r\nCompany name: ACME DENTAL LLC\r\n\
         Trace number: 041000120384712\r\nPayment related info: INV-2026-0001\r\n",
    );
    let out = ingest(&bm, &real);
    assert!(out.contains("payment -> processed"), "{out}");
    assert_eq!(bm.invoice("INV-2026-0001")["status"], "paid");
    // and the real one delivered again is the one seen before
    assert!(ingest(&bm, &real).contains("already taken in"));
}

#[test]
fn one_customers_payer_naming_anothers_invoice_goes_to_review_naming_both() {
    let bm = paid_books();
    let notice = bank_notice(
        "ach-x@firstohiobank.example",
        "Fri, 20 Nov 2026 06:00:00 -0500",
        "An ACH credit has posted to your account.\r\nCredit amount: $550.00\r\nCompany name: ACME DENTAL LLC\r\n\
         Trace number: 041000120384799\r\nPayment related info: INV-2026-0002\r\n",
    );
    let out = ingest(&bm, &notice);
    assert!(out.contains("payment -> review"), "{out}");
    assert!(out.contains("ACME") && out.contains("HARBOR"), "both named: {out}");
    assert_eq!(bm.invoice("INV-2026-0002")["status"], "open");
    assert_eq!(credit(&bm, "ACME"), "0.00");
    assert_eq!(credit(&bm, "HARBOR"), "0.00");
}

/// A delivery failure report on `original` for `rcpt`, from `reporter`.
fn dsn(reporter: &str, original: &str, rcpt: &str, n: u32) -> String {
    format!(
        "From: Mail Delivery System <{reporter}>\r\nTo: accounting@krgroup.example\r\nSubject: Undelivered Mail Returned to Sender\r\n\
         Message-ID: <dsn-{n}@report.example>\r\nDate: Tue, 17 Nov 2026 06:00:00 -0500\r\nAuto-Submitted: auto-replied\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n\
         --B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n\
         --B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example\r\n\r\n\
         Final-Recipient: rfc822; {rcpt}\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n\
         --B\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: KR Group Accounting <accounting@krgroup.example>\r\n\
         To: {rcpt}\r\nSubject: Invoice\r\nMessage-ID: {original}\r\n\r\n--B--\r\n"
    )
}

fn contacts(bm: &Bm) -> String {
    bm.run(&["accounts", "contacts", "ACME"]).ok().stdout
}

#[test]
fn only_a_report_on_mail_billmail_sent_from_a_server_that_carried_it_flags_an_address() {
    let bm = paid_books();
    let invoice = bm.outbox().into_iter().find(|m| m["kind"] == "invoice" && m["account"] == "ACME").unwrap();
    let sent = invoice["message_id"].as_str().unwrap().to_string();
    assert!(sent.len() > 40, "our Message-IDs carry a random part: {sent}");
    let forged = [
        ("from a stranger's server", dsn("MAILER-DAEMON@evil.example", &sent, "ap@acme-dental.example", 1)),
        (
            "on a message billmail never sent",
            dsn(
                "MAILER-DAEMON@mx1.krgroup.example",
                "<invoice.inv-2026-0001.1795186800@krgroup.example>",
                "ap@acme-dental.example",
                2,
            ),
        ),
        (
            "for someone the message was not sent to",
            dsn("MAILER-DAEMON@mx1.krgroup.example", &sent, "billing@harborview.example", 3),
        ),
    ];
    for (what, raw) in &forged {
        let out = ingest(&bm, raw);
        assert!(out.contains("bounce -> review"), "{what}: {out}");
        assert!(!contacts(&bm).contains("bounced"), "{what}: {}", contacts(&bm));
    }
    // a customer's own message titled like a bounce is not swallowed
    let own = "From: Jane Doe <jane.doe@acme-dental.example>\r\nTo: accounting@krgroup.example\r\n\
               Subject: Returned mail: see transcript for details\r\nMessage-ID: <own-1@acme-dental.example>\r\n\
               Date: Tue, 17 Nov 2026 09:00:00 -0500\r\n\r\nOur invoice mail came back, can you check the address?\r\n";
    assert!(!ingest(&bm, own).contains("-> processed"));
    assert!(!contacts(&bm).contains("bounced"));

    // the relay's report on the real invoice flags the address that failed, and only it
    let out = ingest(&bm, &dsn("MAILER-DAEMON@mx1.krgroup.example", &sent, "ap@acme-dental.example", 4));
    assert!(out.contains("bounce -> processed"), "{out}");
    let listed = contacts(&bm);
    assert!(listed.contains("ap@acme-dental.example  bounced"), "{listed}");
    assert!(!listed.contains("jane.doe@acme-dental.example  bounced"), "{listed}");
    let shown = bm.at(NOV20, &["accounts", "show", "ACME", "--json"]).ok().json();
    assert!(shown["billing_emails"][0]["bounced_at"].is_string(), "visible in accounts show: {shown}");
    // restored by hand ...
    assert!(
        bm.run(&["accounts", "contacts", "ACME", "--restore", "AP@acme-dental.example"])
            .ok()
            .stdout
            .contains("restored")
    );
    assert!(!contacts(&bm).contains("bounced"));
    assert!(
        bm.run(&["accounts", "contacts", "ACME", "--restore", "ap@acme-dental.example"])
            .fails()
            .stderr
            .contains("not a flagged contact")
    );
    // ... or by a proven message from the address
    ingest(
        &bm,
        &dsn("MAILER-DAEMON@mx1.krgroup.example", &sent, "ap@acme-dental.example", 5).replace("dsn-5", "dsn-5b"),
    );
    assert!(contacts(&bm).contains("ap@acme-dental.example  bounced"));
    let proven = format!(
        "Authentication-Results: mx1.krgroup.example; dmarc=pass header.from=acme-dental.example\r\n{ENTRY}\
         From: AP <ap@acme-dental.example>\r\nTo: accounting@krgroup.example\r\nSubject: Our mailbox works again\r\n\
         Message-ID: <ap-back@acme-dental.example>\r\nDate: Wed, 18 Nov 2026 09:00:00 -0500\r\n\r\nHello, we fixed our mailbox.\r\n"
    );
    ingest(&bm, &proven);
    assert!(!contacts(&bm).contains("bounced"), "{}", contacts(&bm));
    let hist = bm.run(&["accounts", "history", "ACME", "--json"]).ok().json().to_string();
    assert!(hist.contains("restored (a proven message from it"), "{hist}");
}

#[test]
fn a_customer_cannot_forward_another_customers_request_or_pick_who_hears_of_it() {
    let bm = paid_books();
    let proof = |domain: &str| {
        format!("Authentication-Results: mx1.krgroup.example; dmarc=pass header.from={domain}\r\n{ENTRY}")
    };
    let forward = |from: &str, domain: &str, id: &str| {
        format!(
            "{}From: {from}\r\nTo: accounting@krgroup.example\r\nSubject: FW: Two new hygienists\r\nMessage-ID: <{id}>\r\n\
             Date: Fri, 20 Nov 2026 09:00:00 -0500\r\n\r\nPlease see below.\r\n\r\n\
             ---------- Forwarded message ---------\r\nFrom: Jane Doe <jane.doe@acme-dental.example>\r\n\
             Date: Thu, 19 Nov 2026 16:00:00 -0500\r\nSubject: Two new hygienists\r\nTo: accounting@krgroup.example\r\n\r\n\
             Please add two new full-time users starting December 1, 2026: Maria Lopez and Tom Baker.\r\n\r\nJane\r\n",
            proof(domain)
        )
    };
    // Harborview's contact forwarding Acme's request: neither account changes
    let out =
        ingest(&bm, &forward("Billing <billing@harborview.example>", "harborview.example", "fw-h@harborview.example"));
    assert!(out.contains("-> review"), "{out}");
    assert!(out.contains("only the services team forwards for customers"), "{out}");
    let show = |id: &str| bm.at("2026-12-02T09:00:00-05:00", &["accounts", "show", id, "--json"]).ok().json();
    assert_eq!(show("HARBOR")["full_time_users"], 10);
    assert_eq!(show("ACME")["full_time_users"], 22);
    // the services team may; the confirmation goes to the team and Acme's own contact
    let out =
        ingest(&bm, &forward("Dana <managed-services@krgroup.example>", "krgroup.example", "fw-t@krgroup.example"));
    assert!(out.contains("user_change -> processed"), "{out}");
    assert_eq!(show("ACME")["full_time_users"], 24);
    let confirmation = bm.outbox().into_iter().find(|m| m["kind"] == "change_confirmation").unwrap();
    assert_eq!(
        confirmation["to"],
        serde_json::json!(["managed-services@krgroup.example", "jane.doe@acme-dental.example"])
    );
}

#[test]
fn an_address_read_from_a_forwarded_text_is_mailed_nothing_unless_it_is_the_accounts_contact() {
    let bm = paid_books();
    // Harborview's contact forwards a message "from" Acme's Jane about Harborview's own users
    let raw = format!(
        "Authentication-Results: mx1.krgroup.example; dmarc=pass header.from=harborview.example\r\n{ENTRY}\
         From: Billing <billing@harborview.example>\r\nTo: accounting@krgroup.example\r\nSubject: FW: users\r\n\
         Message-ID: <fw-x@harborview.example>\r\nDate: Fri, 20 Nov 2026 09:00:00 -0500\r\n\r\nSee below.\r\n\r\n\
         ---------- Forwarded message ---------\r\nFrom: Jane Doe <jane.doe@acme-dental.example>\r\n\
         Date: Thu, 19 Nov 2026 16:00:00 -0500\r\nSubject: users\r\nTo: billing@harborview.example\r\n\r\n\
         Please add two new full-time users starting December 1, 2026: Maria Lopez and Tom Baker.\r\n"
    );
    assert!(ingest(&bm, &raw).contains("-> review"));
    // a person vouches for it: Harborview's count changes, and only Harborview hears of it
    let items = bm.run(&["review", "list", "--json"]).ok().json();
    let id = items.as_array().unwrap().last().unwrap()["id"].to_string();
    assert!(bm.at(NOV20, &["review", "approve", &id]).ok().stdout.contains("user change applied to HARBOR"));
    let confirmation = bm.outbox().into_iter().find(|m| m["kind"] == "change_confirmation").unwrap();
    assert_eq!(confirmation["to"], serde_json::json!(["billing@harborview.example"]));
    assert_eq!(confirmation["cc"], serde_json::json!(["managed-services@krgroup.example"]));
}

#[test]
fn while_every_billing_address_bounced_notices_go_to_accounting_and_the_history_says_so() {
    let bm = paid_books();
    let invoice = bm.outbox().into_iter().find(|m| m["kind"] == "invoice" && m["account"] == "ACME").unwrap();
    let sent = invoice["message_id"].as_str().unwrap().to_string();
    for (n, rcpt) in [(1, "ap@acme-dental.example"), (2, "jane.doe@acme-dental.example")] {
        assert!(ingest(&bm, &dsn("MAILER-DAEMON@mx1.krgroup.example", &sent, rcpt, n)).contains("bounce -> processed"));
    }
    bm.at("2026-12-01T08:00:00-05:00", &["tick"]).ok();
    let reminders: Vec<Value> =
        bm.outbox().into_iter().filter(|m| m["kind"] == "reminder" && m["account"] == "ACME").collect();
    assert_eq!(reminders.len(), 1, "{reminders:?}");
    assert_eq!(reminders[0]["to"], serde_json::json!(["accounting@krgroup.example"]));
    let hist = bm.run(&["accounts", "history", "ACME", "--json"]).ok().json().to_string();
    assert!(
        hist.contains("reminder 1 sent to accounting@krgroup.example (every billing address bounced: to pass on)"),
        "{hist}"
    );
    // and a person is asked to pass it on
    let items = bm.run(&["review", "list", "--json"]).ok().json();
    let item = items.as_array().unwrap().iter().find(|i| i["kind"] == "reminder").expect("a review item").clone();
    assert_eq!(item["outbox"], reminders[0]["id"]);
    assert!(item["reasons"].to_string().contains("every billing address of ACME bounced"), "{item}");
    let shown = bm.run(&["review", "show", &item["id"].to_string()]).ok().stdout;
    assert!(shown.contains("Payment reminder: Acme Dental is 1 day past due"), "{shown}");
    assert!(bm.at(NOV20, &["review", "approve", &item["id"].to_string()]).ok().stdout.contains("passed on by hand"));
    // January's invoice goes the same way
    bm.at("2026-12-15T08:00:00-05:00", &["tick"]).ok();
    let items = bm.run(&["review", "list", "--json"]).ok().json();
    let invoice =
        items.as_array().unwrap().iter().find(|i| i["kind"] == "invoice").expect("the invoice waits too").clone();
    assert!(invoice["subject"].as_str().unwrap().contains("INV-2026-"), "{invoice}");
    let sent: Vec<Value> = bm.outbox().into_iter().filter(|m| m["id"] == invoice["outbox"]).collect();
    assert_eq!(sent[0]["to"], serde_json::json!(["accounting@krgroup.example"]));
}

/// `original` as a forwarder passes it on: a footer added to its body (which
/// breaks the sender's signature) and an ARC set by `sealer` recording that
/// the signature held when it arrived.
fn forwarded_and_sealed(original: &str, sealer: &str, key: &Key) -> String {
    use mail_auth::arc::ArcSealer;
    use mail_auth::{ArcOutput, AuthenticatedMessage, AuthenticationResults, DkimOutput};
    let arrived = AuthenticatedMessage::parse(original.as_bytes()).unwrap();
    let signature = arrived.dkim_headers[0].header.as_ref().unwrap();
    let checked = DkimOutput::pass().with_signature(signature);
    let results = AuthenticationResults::new("mx.forwarder.example").with_dkim_result(&checked, "acme-dental.example");
    let modified = format!("{original}--\r\nPassed on by the forwarder\r\n");
    let message = AuthenticatedMessage::parse(modified.as_bytes()).unwrap();
    let set = ArcSealer::from_key(RsaKey::<Sha256>::from_der(&key.private).unwrap())
        .domain(sealer)
        .selector("s1")
        .headers(["From", "To", "Subject", "Date", "Message-ID", "DKIM-Signature"])
        .seal(&message, &results, &ArcOutput::default())
        .unwrap();
    format!("{}{modified}", set.to_header())
}

#[test]
fn a_listed_arc_sealer_carries_the_proof_of_a_message_a_forwarder_changed() {
    let acme = Key::new();
    let fwd = Key::new();
    let dns = Dns::start(&[
        (format!("s1._domainkey.{ACME}"), acme.record.clone()),
        ("s1._domainkey.forwarder.example".into(), fwd.record.clone()),
        ("s1._domainkey.evil.example".into(), fwd.record.clone()),
    ]);
    let original = sign(&acme, ACME, "s1", &request("", "Two new (forwarded)"), true);
    let listed = |bm: &Bm| {
        let config = std::fs::read_to_string(bm.path("billmail.toml")).unwrap();
        bm.write(
            "billmail.toml",
            &config.replace("verify_dkim = true", "verify_dkim = true\narc_sealers = [\"forwarder.example\"]"),
        );
    };
    // sealed by a listed sealer: the broken signature is vouched for
    let bm = books(&dns);
    listed(&bm);
    let out = ingest(&bm, &forwarded_and_sealed(&original, "forwarder.example", &fwd));
    assert!(out.contains("user_change -> processed"), "{out}");
    assert_eq!(full_time(&bm), 24);
    // the same, with no sealer listed: the broken signature decides
    let bm = books(&dns);
    let out = ingest(&bm, &forwarded_and_sealed(&original, "forwarder.example", &fwd));
    assert!(out.contains("-> review") && out.contains("does not verify"), "{out}");
    // sealed by someone not listed
    let bm = books(&dns);
    listed(&bm);
    let out = ingest(&bm, &forwarded_and_sealed(&original, "evil.example", &fwd));
    assert!(out.contains("-> review") && out.contains("not a listed sealer"), "{out}");
    // a seal over a message changed after sealing proves nothing
    let bm = books(&dns);
    listed(&bm);
    let tampered = forwarded_and_sealed(&original, "forwarder.example", &fwd).replace("two new", "nine new");
    assert!(ingest(&bm, &tampered).contains("-> review"));
    assert_eq!(full_time(&bm), 22);
}
