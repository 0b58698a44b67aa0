//! Collections over simulated months: `tick --now` day by day.

mod common;

use chrono::{Duration, NaiveDate};
use common::{ACCOUNTS, Bm};
use serde_json::Value;

fn day(d: NaiveDate) -> String {
    format!("{}T08:00:00-05:00", d.format("%Y-%m-%d"))
}

fn ticks(bm: &Bm, from: &str, to: &str) {
    let mut d = NaiveDate::parse_from_str(from, "%Y-%m-%d").unwrap();
    let end = NaiveDate::parse_from_str(to, "%Y-%m-%d").unwrap();
    while d <= end {
        bm.at(&day(d), &["tick"]).ok();
        d += Duration::days(1);
    }
}

fn kinds(bm: &Bm, to: &str) -> Vec<String> {
    bm.outbox()
        .into_iter()
        .filter(|m| m["to"].as_array().unwrap().iter().any(|t| t == to))
        .map(|m| m["kind"].as_str().unwrap().to_string())
        // the collections notices: invoices and the monthly statements have tests of their own
        .filter(|k| k != "invoice" && k != "statement")
        .collect()
}

fn setup() -> Bm {
    let bm = Bm::new();
    // one customer, so the ledger is easy to follow
    bm.import_accounts(&ACCOUNTS.lines().take(2).collect::<Vec<_>>().join("\n"), "2026-11-02T09:00:00-05:00").ok();
    bm.at("2026-11-15T08:00:00-05:00", &["tick"]).ok(); // December's invoice, due November 30
    bm
}

fn status(bm: &Bm, at: &str) -> Value {
    bm.at(at, &["accounts", "show", "ACME", "--json"]).ok().json()
}

#[test]
fn paid_on_time_means_no_notice_even_at_half_past_eleven_on_the_due_date() {
    let bm = setup();
    bm.at(
        "2026-11-30T23:30:00-05:00",
        &["payments", "record", "--account", "ACME", "--amount", "1997.50", "--method", "ach"],
    )
    .ok();
    ticks(&bm, "2026-12-01", "2026-12-20");
    assert!(kinds(&bm, "ap@acme-dental.example").is_empty(), "{:?}", kinds(&bm, "ap@acme-dental.example"));
    assert_eq!(status(&bm, "2026-12-20T09:00:00-05:00")["status"], "active");
}

#[test]
fn never_paid_reminders_then_credit_hold_then_service_hold_then_released() {
    let bm = setup();
    ticks(&bm, "2026-12-01", "2027-01-14");
    let customer = kinds(&bm, "ap@acme-dental.example");
    assert_eq!(customer, ["reminder", "reminder", "reminder", "credit_hold", "service_hold"], "{customer:?}");
    let team = kinds(&bm, "managed-services@krgroup.example");
    assert_eq!(team, ["credit_hold", "service_hold"]);
    let s = status(&bm, "2027-01-14T09:00:00-05:00");
    assert_eq!(s["status"], "service_hold");
    assert_eq!(s["status_since"], "2027-01-14");
    let overview = bm.at("2027-01-14T09:00:00-05:00", &["status", "--json"]).ok().json();
    assert_eq!(
        overview["on_hold"],
        serde_json::json!([{"account": "ACME", "status": "service_hold", "since": "2027-01-14"}])
    );
    assert!(overview["last_cycle"]["at"].as_str().unwrap().starts_with("2027-01-14T13:00:00"), "{overview}");
    let text = bm.at("2027-01-14T09:00:00-05:00", &["status"]).ok().stdout;
    assert!(text.contains("on hold:      ACME (service_hold since 2027-01-14)"), "{text}");
    // partly paid: the hold stays
    bm.at(
        "2027-01-15T10:00:00-05:00",
        &["payments", "record", "--account", "ACME", "--amount", "500", "--method", "wire"],
    )
    .ok();
    ticks(&bm, "2027-01-16", "2027-01-16");
    assert_eq!(status(&bm, "2027-01-16T09:00:00-05:00")["status"], "service_hold");
    // everything paid: released, and both told
    let owed = status(&bm, "2027-01-16T09:00:00-05:00")["balance"].as_str().unwrap().to_string();
    bm.at(
        "2027-01-16T10:00:00-05:00",
        &["payments", "record", "--account", "ACME", "--amount", &owed, "--method", "wire"],
    )
    .ok();
    ticks(&bm, "2027-01-17", "2027-01-18");
    assert_eq!(status(&bm, "2027-01-18T09:00:00-05:00")["status"], "active");
    assert_eq!(kinds(&bm, "ap@acme-dental.example").last().unwrap(), "hold_released");
    assert_eq!(kinds(&bm, "managed-services@krgroup.example").last().unwrap(), "hold_released");
    let team_release = bm
        .outbox()
        .into_iter()
        .rfind(|m| m["kind"] == "hold_released" && m["to"][0] == "managed-services@krgroup.example")
        .unwrap();
    let text = bm.run(&["outbox", "show", &team_release["id"].to_string()]).ok().stdout;
    assert!(text.contains("Restore now: help-desk support, antivirus, anti-spam and DNS filtering"), "{text}");
    let hist = bm.run(&["accounts", "history", "ACME", "--json"]).ok().json();
    let statuses: Vec<&str> = hist
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["kind"] == "status")
        .map(|h| h["detail"].as_str().unwrap())
        .collect();
    assert_eq!(statuses.len(), 3, "{statuses:?}");
    let notices = hist.as_array().unwrap().iter().filter(|h| h["kind"] == "notice").count();
    assert_eq!(notices, 3 + 3 + 2, "three reminders, three hold notices, and the statements of November and December");
}

#[test]
fn paid_after_the_second_reminder_no_hold() {
    let bm = setup();
    ticks(&bm, "2026-12-01", "2026-12-08");
    bm.at(
        "2026-12-08T12:00:00-05:00",
        &["payments", "record", "--account", "ACME", "--amount", "1997.50", "--method", "check"],
    )
    .ok();
    // (January's invoice falls due on the 30th: stop before it is late)
    ticks(&bm, "2026-12-09", "2026-12-30");
    assert_eq!(kinds(&bm, "ap@acme-dental.example"), ["reminder", "reminder"]);
    assert_eq!(status(&bm, "2026-12-30T09:00:00-05:00")["status"], "active");
}

#[test]
fn a_week_of_downtime_sends_one_credit_hold_notice_and_no_burst() {
    let bm = setup();
    ticks(&bm, "2026-12-01", "2026-12-02");
    ticks(&bm, "2026-12-20", "2026-12-21"); // down from the 3rd to the 19th
    assert_eq!(kinds(&bm, "ap@acme-dental.example"), ["reminder", "credit_hold"]);
    assert_eq!(status(&bm, "2026-12-21T09:00:00-05:00")["status_since"], "2026-12-15", "dated when it began");
}

#[test]
fn reminders_thread_under_the_invoice() {
    let bm = setup();
    ticks(&bm, "2026-12-01", "2026-12-07");
    let invoice = bm.outbox().into_iter().find(|m| m["kind"] == "invoice").unwrap();
    let reminders: Vec<Value> = bm.outbox().into_iter().filter(|m| m["kind"] == "reminder").collect();
    assert_eq!(reminders.len(), 2);
    // the first follows the invoice; the second follows the first
    assert_eq!(reminders[0]["in_reply_to"], invoice["message_id"]);
    assert_eq!(reminders[1]["in_reply_to"], reminders[0]["message_id"]);
    let text = bm.run(&["outbox", "show", &reminders[1]["id"].to_string()]).ok().stdout;
    for needle in ["7 days late", "INV-2026-0001", "$1,997.50", "credit hold", "First Ohio Bank"] {
        assert!(text.contains(needle), "{needle} in {text}");
    }
}

#[test]
fn a_claim_pauses_escalation_for_the_grace_period_once() {
    let bm = setup();
    ticks(&bm, "2026-12-01", "2026-12-12");
    let claim = "Authentication-Results: mx1.krgroup.example; dmarc=pass header.from=acme-dental.example\r\nReceived: from mail.sender.example (mail.sender.example [203.0.113.10])\r\n\tby mx1.krgroup.example (Postfix) with ESMTPS; Mon, 16 Nov 2026 09:00:00 -0500\r\n\
From: Jane Doe <jane.doe@acme-dental.example>\r\nTo: accounting@krgroup.example\r\nSubject: Paid INV-2026-0001\r\n\
Message-ID: <claim-1@acme-dental.example>\r\nDate: Sun, 13 Dec 2026 09:00:00 -0500\r\n\r\n\
We sent payment for INV-2026-0001 today via ACH in the amount of $1,997.50.\r\n";
    let p = bm.write("claim.eml", claim);
    assert!(
        bm.at("2026-12-13T09:00:00-05:00", &["ingest", p.to_str().unwrap()]).ok().stdout.contains("payment -> review")
    );
    ticks(&bm, "2026-12-13", "2026-12-17");
    assert_eq!(status(&bm, "2026-12-17T09:00:00-05:00")["status"], "active", "paused while the claim is fresh");
    ticks(&bm, "2026-12-18", "2026-12-18");
    let s = status(&bm, "2026-12-18T09:00:00-05:00");
    assert_eq!(s["status"], "credit_hold", "the money never came");
    assert_eq!(s["status_since"], "2026-12-15");
    assert_eq!(
        kinds(&bm, "ap@acme-dental.example").iter().filter(|k| *k == "reminder").count(),
        2,
        "no reminder while paused"
    );
}

#[test]
fn a_hold_blocks_new_purchases_unless_overridden_but_not_removals() {
    let bm = setup();
    ticks(&bm, "2026-12-15", "2026-12-15"); // on credit hold from the 15th
    let at = "2026-12-16T10:00:00-05:00";
    let work = [
        "service",
        "add",
        "--account",
        "ACME",
        "--date",
        "2026-12-16",
        "--engineer",
        "Sam",
        "--hours",
        "1",
        "--rate",
        "145",
        "--description",
        "Printer",
    ];
    let refused = bm.at(at, &work).fails();
    assert!(refused.stderr.contains("ACME is on credit hold since 2026-12-15"), "{}", refused.stderr);
    let mut with_override = work.to_vec();
    with_override.push("--override-hold");
    bm.at(at, &with_override).ok();
    let subs = bm.write("subs.csv", "account,product,quantity,unit_price\nACME,Backup,2,45.50\n");
    assert!(bm.at(at, &["subscriptions", "import", subs.to_str().unwrap()]).fails().stderr.contains("line 2"));
    let hist = bm.run(&["accounts", "history", "ACME", "--json"]).ok().json();
    assert!(hist.as_array().unwrap().iter().any(|h| h["kind"] == "override"));
    // emailed additions wait for a person; removals still apply
    let mail = |id: &str, body: &str| {
        format!(
            "Authentication-Results: mx1.krgroup.example; dmarc=pass header.from=acme-dental.example\r\nReceived: from mail.sender.example (mail.sender.example [203.0.113.10])\r\n\tby mx1.krgroup.example (Postfix) with ESMTPS; Mon, 16 Nov 2026 09:00:00 -0500\r\n\
From: Jane Doe <jane.doe@acme-dental.example>\r\nTo: accounting@krgroup.example\r\nSubject: Users\r\n\
Message-ID: <{id}@acme-dental.example>\r\nDate: Wed, 16 Dec 2026 09:00:00 -0500\r\n\r\n{body}\r\n"
        )
    };
    let add = bm.write("add.eml", &mail("h1", "Please add Tom Baker as a full-time user starting January 1, 2027."));
    let out = bm.at(at, &["ingest", add.to_str().unwrap()]).ok().stdout;
    assert!(out.contains("-> review") && out.contains("on hold"), "{out}");
    let remove =
        bm.write("rm.eml", &mail("h2", "Please remove Kevin Marsh (full-time) as of January 1, 2027; he left."));
    assert!(bm.at(at, &["ingest", remove.to_str().unwrap()]).ok().stdout.contains("-> processed"));
    assert_eq!(
        bm.at("2027-01-02T09:00:00-05:00", &["accounts", "show", "ACME", "--json"]).ok().json()["full_time_users"],
        21
    );
}

/// A hold placed by hand stays until a person lifts it, and the customer is
/// told why; a release by hand holds the rules off until the day given.
#[test]
fn holds_by_hand_are_told_with_the_reason_and_the_rules_respect_them() {
    let bm = setup();
    bm.at(
        "2026-11-20T10:00:00-05:00",
        &["payments", "record", "--account", "ACME", "--amount", "1997.50", "--method", "ach"],
    )
    .ok();
    // nothing is owed; a clerk places a credit hold anyway
    let out = bm
        .at(
            "2026-11-21T10:00:00-05:00",
            &[
                "accounts",
                "hold",
                "acme",
                "--standing",
                "credit_hold",
                "--reason",
                "the card on file was declined twice",
            ],
        )
        .ok();
    assert!(out.stdout.contains("placed by hand by cli"), "{}", out.stdout);
    assert_eq!(status(&bm, "2026-11-21T11:00:00-05:00")["status"], "credit_hold");
    let notice = bm.outbox().into_iter().find(|m| m["kind"] == "credit_hold").expect("a credit hold notice");
    let text = bm.run(&["outbox", "show", &notice["id"].to_string()]).ok().stdout;
    assert!(
        text.contains("placed by our accounting") && text.contains("the card on file was declined twice"),
        "{text}"
    );
    assert!(!text.contains("days late"), "{text}");
    // the rules would lift it (nothing is past due): not one placed by hand
    ticks(&bm, "2026-11-22", "2026-11-30");
    assert_eq!(status(&bm, "2026-11-30T12:00:00-05:00")["status"], "credit_hold");
    // a second hold of the same kind changes nothing and says so
    let again =
        bm.at("2026-11-30T12:00:00-05:00", &["accounts", "hold", "ACME", "--standing", "credit_hold", "--reason", "x"]);
    assert!(again.fails().stderr.contains("already on credit hold"));

    // released by hand until January 20: January's invoice goes unpaid, no hold until then
    let release = ["accounts", "release", "ACME", "--until", "2027-01-20", "--reason", "card replaced; paying by ACH"];
    bm.at("2026-12-01T10:00:00-05:00", &release).ok();
    assert_eq!(status(&bm, "2026-12-01T11:00:00-05:00")["status"], "active");
    let released = bm.outbox().into_iter().find(|m| m["kind"] == "hold_released").expect("a release notice");
    let text = bm.run(&["outbox", "show", &released["id"].to_string()]).ok().stdout;
    assert!(text.contains("released by") && text.contains("card replaced; paying by ACH"), "{text}");
    assert!(!text.contains("payment has arrived"), "{text}");
    let history = bm.run(&["accounts", "history", "ACME"]).ok().stdout;
    assert!(history.contains("no automatic hold before 2027-01-20"), "{history}");
    ticks(&bm, "2026-12-15", "2027-01-19"); // January's invoice due December 30, never paid
    assert_eq!(status(&bm, "2027-01-19T12:00:00-05:00")["status"], "active");
    assert!(!kinds(&bm, "ap@acme-dental.example").contains(&"reminder".to_string()));
    ticks(&bm, "2027-01-20", "2027-01-20");
    assert_eq!(status(&bm, "2027-01-20T12:00:00-05:00")["status"], "credit_hold", "the rules again");
}
