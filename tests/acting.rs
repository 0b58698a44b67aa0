//! Acting on mail, through `billmail ingest`: what is applied alone, what
//! waits for a person, what is answered, and what never is.

mod common;

use common::{ACCOUNTS, Bm};
use serde_json::Value;

const NOV20: &str = "2026-11-20T10:00:00-05:00";

fn mail(from: &str, subject: &str, id: &str, auth: Option<&str>, extra: &str, body: &str) -> String {
    // our server's results stand above the Received line where it took the message in
    let auth = auth
        .map(|a| format!("Authentication-Results: mx1.krgroup.example; {a}\r\n{}", common::ENTRY))
        .unwrap_or_default();
    format!(
        "{auth}From: {from}\r\nTo: accounting@krgroup.example\r\nSubject: {subject}\r\nMessage-ID: <{id}>\r\n\
         Date: Fri, 20 Nov 2026 09:00:00 -0500\r\n{extra}\r\n{body}\r\n"
    )
}

fn ingest(bm: &Bm, name: &str, raw: &str) -> String {
    let p = bm.write(name, raw);
    bm.at(NOV20, &["ingest", p.to_str().unwrap()]).ok().stdout
}

fn setup() -> Bm {
    let bm = Bm::new();
    bm.import_accounts(ACCOUNTS, "2026-11-02T09:00:00-05:00").ok();
    bm.at("2026-11-15T08:00:00-05:00", &["tick"]).ok(); // December invoices: INV-2026-0001 (ACME), -0002 (HARBOR)
    bm
}

fn show(bm: &Bm, id: &str) -> Value {
    bm.at(NOV20, &["accounts", "show", id, "--json"]).ok().json()
}

fn outbox_of(bm: &Bm, kind: &str) -> Vec<Value> {
    bm.outbox().into_iter().filter(|m| m["kind"] == kind).collect()
}

const ACME_AUTH: &str = "dkim=pass header.d=acme-dental.example; dmarc=pass header.from=acme-dental.example";
const ADD_TWO: &str =
    "Please add two new full-time users starting December 1, 2026:\r\n\r\n- Maria Lopez\r\n- Tom Baker\r\n";

#[test]
fn a_certain_request_from_a_contact_is_applied_and_confirmed() {
    let bm = setup();
    let out = ingest(
        &bm,
        "a.eml",
        &mail(
            "Jane Doe <jane.doe@acme-dental.example>",
            "Add two users",
            "a1@acme-dental.example",
            Some(ACME_AUTH),
            "",
            ADD_TWO,
        ),
    );
    assert!(out.contains("user_change -> processed"), "{out}");
    let acme = bm.at("2026-12-02T09:00:00-05:00", &["accounts", "show", "ACME", "--json"]).ok().json();
    assert_eq!(acme["full_time_users"], 24);
    let confirmations = outbox_of(&bm, "change_confirmation");
    assert_eq!(confirmations.len(), 1);
    assert_eq!(confirmations[0]["to"], serde_json::json!(["jane.doe@acme-dental.example"]));
    assert_eq!(confirmations[0]["cc"], serde_json::json!(["managed-services@krgroup.example"]));
    let id = confirmations[0]["id"].to_string();
    let text = bm.run(&["outbox", "show", &id]).ok().stdout;
    assert!(text.contains("Subject: Re: Add two users"), "{text}");
    for needle in ["22", "24", "December 1, 2026", "Maria Lopez", "January 2027"] {
        assert!(text.contains(needle), "{needle} in {text}");
    }
    // December is invoiced already (on November 15th): January's invoice adjusts for it
    assert!(
        text.contains(
            "December 2026 is already invoiced, so your next agreement invoice (January 2027) bills the new counts \
             and adds a prorated adjustment for the days from December 1, 2026."
        ),
        "{text}"
    );
    let hist = bm.run(&["accounts", "history", "ACME", "--json"]).ok().json();
    assert!(
        hist.as_array()
            .unwrap()
            .iter()
            .any(|h| h["detail"].as_str().unwrap().contains("email from jane.doe@acme-dental.example"))
    );
    // the January invoice prorates nothing (December 1 was the start of an invoiced month: a full month's adjustment)
    bm.at("2026-12-15T08:00:00-05:00", &["tick"]).ok();
    let jan = bm.invoices().into_iter().find(|i| i["account"] == "ACME" && i["period"] == "2027-01").unwrap();
    let doc = bm.invoice(jan["number"].as_str().unwrap());
    assert_eq!(doc["lines"][0]["quantity"], "24");
    assert_eq!(doc["lines"][2]["amount"], "170.00"); // 2 x 85.00 for all 31 days of December
}

#[test]
fn forged_or_unauthenticated_or_unknown_senders_change_nothing() {
    let bm = setup();
    let forged = mail(
        "Jane Doe <jane.doe@acme-dental.example>",
        "Add two users",
        "f1@evil.example",
        Some("dkim=fail; dmarc=fail header.from=acme-dental.example"),
        "",
        ADD_TWO,
    );
    assert!(ingest(&bm, "f.eml", &forged).contains("-> review"));
    let bare =
        mail("Jane Doe <jane.doe@acme-dental.example>", "Add two users", "f2@acme-dental.example", None, "", ADD_TWO);
    assert!(ingest(&bm, "b.eml", &bare).contains("-> review"));
    let stranger =
        mail("Bob <bob@acme-dental.example>", "Add two users", "s1@acme-dental.example", Some(ACME_AUTH), "", ADD_TWO);
    assert!(ingest(&bm, "s.eml", &stranger).contains("-> review"));
    assert_eq!(show(&bm, "ACME")["full_time_users"], 22);
    assert!(outbox_of(&bm, "change_confirmation").is_empty());
    // a known contact's unproven message is answered without quoting it; a
    // failed check of origin (possibly forged) and strangers get nothing
    let acks = outbox_of(&bm, "review_acknowledgement");
    assert_eq!(acks.len(), 1, "{acks:?}");
    assert_eq!(acks[0]["to"], serde_json::json!(["jane.doe@acme-dental.example"]));
    assert_eq!(acks[0]["subject"], "Your message to KR Group Accounting");
    assert_eq!(acks[0]["in_reply_to"], Value::Null);
    let overview = bm.run(&["status", "--json"]).ok().json();
    assert_eq!(overview["review_open"], 3);
    assert!(overview["last_intake"]["detail"].as_str().unwrap().starts_with("ingested message #3"), "{overview}");
    // a person approves the unauthenticated one after a phone call
    let items = bm.run(&["review", "list", "--json"]).ok().json();
    let id = items.as_array().unwrap().iter().find(|i| i["message"] == 2).unwrap()["id"].to_string();
    assert!(bm.at(NOV20, &["review", "approve", &id]).ok().stdout.contains("user change applied to ACME"));
    assert_eq!(
        bm.at("2026-12-02T09:00:00-05:00", &["accounts", "show", "ACME", "--json"]).ok().json()["full_time_users"],
        24
    );
    // approved once, applied once: a second approval says the first
    let twice = bm.at(NOV20, &["review", "approve", &id]).fails().stderr;
    assert!(twice.contains(&format!("review item #{id} was already approved at ")), "{twice}");
    assert_eq!(
        bm.at("2026-12-02T09:00:00-05:00", &["accounts", "show", "ACME", "--json"]).ok().json()["full_time_users"],
        24
    );
    // the stranger's request cannot be applied even when approved: nobody is known to ask
    let sid = items.as_array().unwrap().iter().find(|i| i["message"] == 3).unwrap()["id"].to_string();
    assert!(bm.at(NOV20, &["review", "approve", &sid]).fails().stderr.contains("not a billing or authorized contact"));
}

#[test]
fn the_services_team_forwards_for_a_customer() {
    let bm = setup();
    let fwd = mail(
        "Dana <managed-services@krgroup.example>",
        "FW: New staff",
        "fw1@krgroup.example",
        Some("dkim=pass header.d=krgroup.example; dmarc=pass header.from=krgroup.example"),
        "",
        "For billing.\r\n\r\n-----Original Message-----\r\nFrom: Michael Chen <billing@harborview.example>\r\nSent: Thursday, November 19, 2026 4:51 PM\r\nSubject: New staff\r\n\r\nPlease add one part-time user, Ann Lee, starting December 1, 2026.\r\n",
    );
    let out = ingest(&bm, "fw.eml", &fwd);
    assert!(out.contains("-> processed"), "{out}");
    assert_eq!(
        bm.at("2026-12-02T09:00:00-05:00", &["accounts", "show", "HARBOR", "--json"]).ok().json()["part_time_users"],
        1
    );
    let c = outbox_of(&bm, "change_confirmation");
    assert_eq!(c[0]["to"], serde_json::json!(["managed-services@krgroup.example", "billing@harborview.example"]));
}

const BANK_AUTH: &str = "dkim=pass header.d=firstohiobank.example; dmarc=pass header.from=firstohiobank.example";

fn notice(id: &str, amount: &str, reference: &str) -> String {
    mail(
        "First Ohio Bank <alerts@firstohiobank.example>",
        "ACH Credit Received",
        id,
        Some(BANK_AUTH),
        "",
        &format!(
            "An ACH credit has been posted to your account.\r\n\r\nAmount:          ${amount}\r\nOriginator:      ACME DENTAL LLC\r\nTrace Number:    {reference}\r\nAddenda:         INV-2026-0001\r\n"
        ),
    )
}

#[test]
fn a_trusted_bank_notice_pays_once_and_is_receipted() {
    let bm = setup();
    let out = ingest(&bm, "n1.eml", &notice("n1@firstohiobank.example", "1,997.50", "021000028765432"));
    assert!(out.contains("payment -> processed"), "{out}");
    let acme = show(&bm, "ACME");
    assert_eq!(acme["balance"], "0.00");
    assert_eq!(bm.invoice("INV-2026-0001")["status"], "paid");
    let receipts = outbox_of(&bm, "payment_receipt");
    assert_eq!(receipts.len(), 1);
    assert_eq!(receipts[0]["to"], serde_json::json!(["ap@acme-dental.example", "jane.doe@acme-dental.example"]));
    let text = bm.run(&["outbox", "show", &receipts[0]["id"].to_string()]).ok().stdout;
    assert!(text.contains("$1,997.50 applied to invoice INV-2026-0001"), "{text}");
    // the same notice again, and the same payment under a new Message-ID: applied once
    assert!(
        ingest(&bm, "n1b.eml", &notice("n1@firstohiobank.example", "1,997.50", "021000028765432"))
            .contains("already taken in")
    );
    ingest(&bm, "n2.eml", &notice("n2@firstohiobank.example", "1,997.50", "021000028765432"));
    assert_eq!(show(&bm, "ACME")["credit"], "0.00", "not applied twice");
    assert_eq!(outbox_of(&bm, "payment_receipt").len(), 1);
}

#[test]
fn claims_and_untrusted_notices_never_mark_anything_paid() {
    let bm = setup();
    let claim = mail(
        "Jane Doe <jane.doe@acme-dental.example>",
        "Payment sent - INV-2026-0001",
        "c1@acme-dental.example",
        Some(ACME_AUTH),
        "",
        "We sent payment for INV-2026-0001 today via ACH in the amount of $1,997.50.",
    );
    assert!(ingest(&bm, "c.eml", &claim).contains("payment -> review"));
    let fake_bank = notice("x1@phish.example", "1,997.50", "999")
        .replace("alerts@firstohiobank.example", "alerts@first-ohio-bank.example");
    assert!(ingest(&bm, "x.eml", &fake_bank).contains("-> review"));
    assert_eq!(show(&bm, "ACME")["balance"], "1997.50");
    assert_eq!(bm.invoice("INV-2026-0001")["status"], "open");
    let hist = bm.run(&["accounts", "history", "ACME", "--json"]).ok().json();
    assert!(hist.as_array().unwrap().iter().any(|h| h["kind"] == "claim"));
    let reasons = bm.run(&["review", "list", "--json"]).ok().json();
    assert!(reasons.to_string().contains("not a trusted payment sender"));
    // a clerk who approves the customer's claim vouches for it: the payment
    // is recorded as the review's, not as a bank's
    let claim_item =
        reasons.as_array().unwrap().iter().find(|i| i["subject"] == "Payment sent - INV-2026-0001").unwrap();
    let out = bm.at(NOV20, &["review", "approve", &claim_item["id"].to_string()]).ok().stdout;
    assert!(out.contains("payment recorded for ACME"), "{out}");
    let hist = bm.run(&["accounts", "history", "ACME", "--json"]).ok().json();
    let recorded: Vec<&str> = hist
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["kind"] == "payment")
        .map(|h| h["detail"].as_str().unwrap())
        .collect();
    assert!(recorded.iter().any(|d| d.contains("(review, received")), "{recorded:?}");
    assert!(!recorded.iter().any(|d| d.contains("bank_notice")), "{recorded:?}");
}

#[test]
fn machines_are_never_answered_and_people_at_most_three_times_a_day() {
    let bm = setup();
    let ooo = mail(
        "Jane Doe <jane.doe@acme-dental.example>",
        "Automatic reply: Invoice",
        "o1@acme-dental.example",
        Some(ACME_AUTH),
        "Auto-Submitted: auto-replied\r\n",
        "I am out of the office.",
    );
    assert!(ingest(&bm, "o.eml", &ooo).contains("auto_reply -> processed"));
    let ours = mail(
        "KR Group Accounting <accounting@krgroup.example>",
        "Invoice INV-2026-0009",
        "k1@krgroup.example",
        None,
        "X-Billmail-Kind: invoice\r\nAuto-Submitted: auto-generated\r\n",
        "Please add two users (a quote).",
    );
    ingest(&bm, "k.eml", &ours);
    for i in 0..4 {
        let vague = mail(
            "Jane Doe <jane.doe@acme-dental.example>",
            &format!("more seats {i}"),
            &format!("v{i}@acme-dental.example"),
            Some(ACME_AUTH),
            "",
            "Can you add a couple of users next month?",
        );
        ingest(&bm, &format!("v{i}.eml"), &vague);
    }
    assert_eq!(outbox_of(&bm, "review_acknowledgement").len(), 3);
    let phish = mail(
        "Security Team <security@acme-dental-billing.example>",
        "Verify your account",
        "p1@phish.example",
        None,
        "",
        "Your mailbox will be closed. Click here to verify your password and payment details.",
    );
    assert!(ingest(&bm, "p.eml", &phish).contains("other -> left"));
    assert_eq!(show(&bm, "ACME")["full_time_users"], 22);
}

#[test]
fn a_change_with_its_new_total_is_applied_only_when_both_agree_with_the_books() {
    // ACME has 22 full-time users: removing one makes 21
    let bm = setup();
    let agree = "Please remove Tom Baker, he left last week. That makes 21 full-time users.\r\n";
    let out = ingest(
        &bm,
        "t1.eml",
        &mail(
            "Jane Doe <jane.doe@acme-dental.example>",
            "Remove one",
            "t1@acme-dental.example",
            Some(ACME_AUTH),
            "",
            agree,
        ),
    );
    assert!(out.contains("user_change -> processed"), "{out}");
    assert_eq!(show(&bm, "ACME")["full_time_users"], 21);
    // removing one more and saying the total is 25 cannot both be right
    let disagree = "Please remove Maria Lopez, she left last week. That makes 25 full-time users.\r\n";
    let out = ingest(
        &bm,
        "t2.eml",
        &mail(
            "Jane Doe <jane.doe@acme-dental.example>",
            "Remove one",
            "t2@acme-dental.example",
            Some(ACME_AUTH),
            "",
            disagree,
        ),
    );
    assert!(out.contains("-> review"), "{out}");
    assert_eq!(show(&bm, "ACME")["full_time_users"], 21);
    let items = bm.run(&["review", "list", "--json"]).ok().json();
    assert!(items.to_string().contains("says the new total is 25, but the account has 21"), "{items}");
    // review show puts under each figure the sentence it was read from
    let id = items.as_array().unwrap().last().unwrap()["id"].to_string();
    let shown = bm.run(&["review", "show", &id]).ok().stdout;
    let expect = "  -1 full-time\n      read from (text/plain): \"Please remove Maria Lopez, she left last week.\"\n  \
                  new total full-time: 25\n      read from (text/plain): \"That makes 25 full-time users.\"";
    assert!(shown.contains(expect), "{shown}");
}

#[test]
fn changes_on_different_dates_are_each_applied_from_their_own_date() {
    // ACME has 22 full-time and 3 part-time users; December is invoiced
    let bm = setup();
    let body = "Two changes for December:\r\n\r\n\
                - Add: Maria Lopez, full-time, starts Tuesday 12/8\r\n\
                - Remove: Tom Baker, part-time, his last day is Tuesday 12/22\r\n\r\n\
                Please reflect these on our next invoice.\r\n";
    let raw = mail(
        "Jane Doe <jane.doe@acme-dental.example>",
        "Staff changes",
        "dates@acme-dental.example",
        Some(ACME_AUTH),
        "",
        body,
    );
    let p = bm.write("dates.eml", &raw);
    let read = bm.run(&["parse", p.to_str().unwrap(), "--json"]).ok().json();
    assert_eq!(read["confidence"], "high", "{read}");
    assert_eq!(read["user_change"]["effective_date"], Value::Null);
    let adj = read["user_change"]["adjustments"].as_array().unwrap().clone();
    assert_eq!(
        adj.iter()
            .map(|a| (
                a["user_type"].as_str().unwrap(),
                a["delta"].as_i64().unwrap(),
                a["effective_date"].as_str().unwrap()
            ))
            .collect::<Vec<_>>(),
        [("full_time", 1, "2026-12-08"), ("part_time", -1, "2026-12-22")]
    );
    let out = ingest(&bm, "dates2.eml", &raw);
    assert!(out.contains("user_change -> processed"), "{out}");
    let acme = bm.at("2026-12-23T09:00:00-05:00", &["accounts", "show", "ACME", "--json"]).ok().json();
    assert_eq!((acme["full_time_users"].as_i64(), acme["part_time_users"].as_i64()), (Some(23), Some(2)));
    // between the two dates only the first change has taken effect
    let mid = bm.at("2026-12-10T09:00:00-05:00", &["accounts", "show", "ACME", "--json"]).ok().json();
    assert_eq!((mid["full_time_users"].as_i64(), mid["part_time_users"].as_i64()), (Some(23), Some(3)), "{mid}");
    let confirmation = outbox_of(&bm, "change_confirmation");
    let id = confirmation[0]["id"].to_string();
    let text = bm.run(&["outbox", "show", &id]).ok().stdout;
    for needle in ["December 8, 2026", "December 22, 2026", "take effect on their own dates"] {
        assert!(text.contains(needle), "{needle} in {text}");
    }
    // the January invoice prorates each from its own date
    bm.at("2026-12-15T08:00:00-05:00", &["tick"]).ok();
    let jan = bm.invoices().into_iter().find(|i| i["account"] == "ACME" && i["period"] == "2027-01").unwrap();
    let doc = bm.invoice(jan["number"].as_str().unwrap());
    let lines = doc["lines"].as_array().unwrap();
    let adjustments: Vec<&Value> = lines.iter().skip(2).collect();
    assert_eq!(adjustments.len(), 2, "{doc:#}");
    // December 8 to 31 and December 22 to 31, each at its own type's price
    for (line, from, days, quantity) in
        [(adjustments[0], "2026-12-08", 31 - 8 + 1, "1"), (adjustments[1], "2026-12-22", 31 - 22 + 1, "-1")]
    {
        assert!(line["description"].as_str().unwrap().contains(from), "{line}");
        assert_eq!(line["proration"]["days"], days, "{line}");
        assert_eq!(line["quantity"], quantity, "{line}");
    }
    assert_eq!(adjustments[0]["unit_price"], lines[0]["unit_price"]);
    assert_eq!(adjustments[1]["unit_price"], lines[1]["unit_price"]);
}

#[test]
fn a_refused_later_date_undoes_the_earlier_one() {
    // ACME has 3 part-time users: removing four on the second date is refused,
    // and the first date's addition is not left behind
    let bm = setup();
    let body = "Changes:\r\n\r\n\
                - Add: Maria Lopez, full-time, starts Tuesday 12/8\r\n\
                - Remove: four part-time users, their last day is Tuesday 12/22\r\n\r\n\
                Please reflect these on our next invoice.\r\n";
    let raw = mail(
        "Jane Doe <jane.doe@acme-dental.example>",
        "Staff changes",
        "refused@acme-dental.example",
        Some(ACME_AUTH),
        "",
        body,
    );
    let p = bm.write("refused.eml", &raw);
    let read = bm.run(&["parse", p.to_str().unwrap(), "--json"]).ok().json();
    assert_eq!(read["confidence"], "high", "{read}");
    let out = ingest(&bm, "refused2.eml", &raw);
    assert!(out.contains("-> review"), "{out}");
    let acme = bm.at("2026-12-23T09:00:00-05:00", &["accounts", "show", "ACME", "--json"]).ok().json();
    assert_eq!((acme["full_time_users"].as_i64(), acme["part_time_users"].as_i64()), (Some(22), Some(3)));
    assert!(outbox_of(&bm, "change_confirmation").is_empty());
}
