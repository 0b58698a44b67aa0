//! The clock: a moment before the last cycle runs nothing scheduled and
//! says so; a cycle that would issue invoices more than 62 days back needs
//! `--catch-up`.

mod common;

use common::{ACCOUNTS, Bm};

#[test]
fn a_clock_set_back_runs_nothing_scheduled_and_says_so() {
    let bm = Bm::new();
    bm.import_accounts(ACCOUNTS, "2026-11-02T09:00:00-05:00").ok();
    bm.at("2026-11-15T08:00:00-05:00", &["tick"]).ok();
    // Dec 16: 16 days past due, a credit hold for both accounts
    bm.at("2026-12-16T08:00:00-05:00", &["tick"]).ok();
    let notices = |bm: &Bm| bm.outbox().iter().filter(|m| m["kind"] != "invoice").count();
    let before = notices(&bm);
    assert!(before > 0);
    // a --now before that: no hold released and imposed again
    let out = bm.at("2026-11-20T08:00:00-05:00", &["tick"]).ok();
    assert!(out.stdout.contains("is before the last cycle"), "{}", out.stdout);
    assert_eq!(notices(&bm), before, "nothing scheduled ran");
    let status = bm.at("2026-12-16T08:05:00-05:00", &["status", "--json"]).ok().json();
    assert!(status["last_error"]["detail"].as_str().unwrap().contains("before the last cycle"), "{status}");
    assert_eq!(status["last_cycle"]["at"], "2026-12-16T13:00:00Z", "the last cycle stays where it was");
    // and the clock moving on again works as before
    let out = bm.at("2026-12-17T08:00:00-05:00", &["tick"]).ok();
    assert!(!out.stdout.contains("before the last cycle"), "{}", out.stdout);
}

#[test]
fn more_than_62_days_of_invoices_at_once_needs_catch_up() {
    let bm = Bm::new();
    bm.import_accounts(ACCOUNTS, "2026-11-02T09:00:00-05:00").ok();
    bm.at("2026-11-15T08:00:00-05:00", &["tick"]).ok();
    let out = bm.at("9999-12-31T08:00:00-05:00", &["tick"]).fails();
    assert!(out.stderr.contains("more than 62 days back") && out.stderr.contains("--catch-up"), "{}", out.stderr);
    assert_eq!(bm.invoices().len(), 2, "nothing issued");
    // a real outage, asked for by a person
    let out = bm.at("2027-03-16T08:00:00-05:00", &["tick", "--catch-up"]).ok();
    assert!(out.stdout.contains("issued"), "{}", out.stdout);
    let months: Vec<String> = bm
        .invoices()
        .iter()
        .filter(|i| i["account"] == "ACME")
        .map(|i| i["period"].as_str().unwrap().to_string())
        .collect();
    for m in ["2026-12", "2027-01", "2027-02", "2027-03", "2027-04"] {
        assert!(months.contains(&m.to_string()), "{m} in {months:?}");
    }
}
