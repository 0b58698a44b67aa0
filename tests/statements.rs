//! Monthly statements of account over two months: partial payments, an
//! overpayment held as credit and then applied, an account that owes
//! nothing (no statement), each statement once, with figures that add up.

mod common;

use billmail::domain::Money;
use common::Bm;
use serde_json::Value;

const ACCOUNTS: &str = "\
id,name,tier,full_time_users,part_time_users,billing_emails
ACME,Acme Dental,hybrid,22,3,ap@acme-dental.example
HARBOR,Harborview Law,remote,10,0,billing@harborview.example
PAID,Paid Up Inc,remote,2,0,ap@paidup.example
";

fn money(v: &Value) -> Money {
    Money::parse(v.as_str().unwrap()).unwrap()
}

fn usd(m: Money) -> String {
    m.display_in("USD")
}

fn total_of(bm: &Bm, account: &str, period: &str) -> (String, Money) {
    let inv = bm
        .invoices()
        .into_iter()
        .find(|i| i["account"] == account && i["period"] == period)
        .unwrap_or_else(|| panic!("{account} has an invoice for {period}"));
    (inv["number"].as_str().unwrap().to_string(), money(&inv["total"]))
}

fn pay(bm: &Bm, at: &str, account: &str, amount: Money, invoice: Option<&str>) {
    let amount = amount.to_string();
    let mut args = vec!["payments", "record", "--account", account, "--amount", &amount, "--method", "ach"];
    if let Some(n) = invoice {
        args.extend(["--invoice", n]);
    }
    bm.at(at, &args).ok();
}

fn statement(bm: &Bm, account: &str, month: &str) -> Value {
    bm.run(&["statement", account, "--month", month, "--format", "json"]).ok().json()["statement"].clone()
}

fn statements_queued(bm: &Bm) -> Vec<Value> {
    bm.outbox().into_iter().filter(|m| m["kind"] == "statement").collect()
}

#[test]
fn statements_go_out_on_the_first_to_accounts_with_a_balance_once_with_the_right_figures() {
    let bm = Bm::new();
    bm.import_accounts(ACCOUNTS, "2026-11-02T09:00:00-05:00").ok();
    bm.at("2026-11-15T08:00:00-05:00", &["tick"]).ok();
    let (acme1, acme_dec) = total_of(&bm, "ACME", "2026-12");
    let (_, harbor_dec) = total_of(&bm, "HARBOR", "2026-12");
    let (paid1, paid_dec) = total_of(&bm, "PAID", "2026-12");
    // ACME pays part; PAID pays in full; HARBOR pays twice over (the rest is credit)
    let part = Money::from_cents(100_000);
    pay(&bm, "2026-11-20T10:00:00-05:00", "ACME", part, Some(&acme1));
    pay(&bm, "2026-11-20T10:00:00-05:00", "PAID", paid_dec, Some(&paid1));
    pay(&bm, "2026-11-25T10:00:00-05:00", "HARBOR", harbor_dec + harbor_dec, None);

    // the day before the statement day: nothing
    bm.at("2026-11-30T12:00:00-05:00", &["tick"]).ok();
    assert!(statements_queued(&bm).is_empty());

    // December 1st: November's statements, to ACME (owes) and HARBOR (credit), not PAID
    bm.at("2026-12-01T08:00:00-05:00", &["tick"]).ok();
    let queued = statements_queued(&bm);
    let mut to: Vec<&str> = queued.iter().map(|m| m["account"].as_str().unwrap()).collect();
    to.sort();
    assert_eq!(to, ["ACME", "HARBOR"], "{queued:?}");
    assert_eq!(queued[0]["to"][0].as_str().map(|a| a.ends_with(".example")), Some(true));

    let s = statement(&bm, "ACME", "2026-11");
    assert_eq!(s["opening"], usd(Money::ZERO));
    assert_eq!(s["activity"].as_array().unwrap().len(), 2, "the invoice and the payment: {s}");
    assert_eq!(s["activity"][0]["amount"], usd(acme_dec));
    assert_eq!(s["activity"][1]["amount"], usd(Money::ZERO - part));
    assert_eq!(s["closing"], usd(acme_dec - part));
    assert_eq!(s["open"][0]["number"], acme1.as_str());
    assert_eq!(s["open"][0]["balance"], usd(acme_dec - part));
    assert_eq!(s["open"][0]["days_past_due"], 0, "due on the 30th: not past due at the month's end");
    assert_eq!(s["aging"][0], usd(acme_dec - part));
    assert_eq!(s["owes"], true);

    let h = statement(&bm, "HARBOR", "2026-11");
    assert_eq!(h["closing"], usd(Money::ZERO - harbor_dec));
    assert_eq!(h["owes"], false);
    assert_eq!(h["has_credit"], true);
    assert_eq!(h["credit"], usd(harbor_dec));
    assert!(h["open"].as_array().unwrap().is_empty(), "{h}");

    // once: a later tick, and a tick after a crash-free restart, queue none again
    bm.at("2026-12-01T09:00:00-05:00", &["tick"]).ok();
    bm.at("2026-12-02T09:00:00-05:00", &["tick"]).ok();
    assert_eq!(statements_queued(&bm).len(), 2);
    let history = bm.run(&["accounts", "history", "ACME"]).ok().stdout;
    assert!(history.contains("statement for November 2026 sent to ap@acme-dental.example"), "{history}");

    // December: January's invoices (HARBOR's paid from its credit); ACME pays some of the old one late
    bm.at("2026-12-15T08:00:00-05:00", &["tick"]).ok();
    let (acme2, acme_jan) = total_of(&bm, "ACME", "2027-01");
    let (_, harbor_jan) = total_of(&bm, "HARBOR", "2027-01");
    assert_eq!(harbor_jan, harbor_dec, "the same users, the same fee");
    let late = Money::from_cents(50_000);
    pay(&bm, "2026-12-20T10:00:00-05:00", "ACME", late, Some(&acme1));

    bm.at("2027-01-01T08:00:00-05:00", &["tick"]).ok();
    let queued = statements_queued(&bm);
    let december: Vec<&str> = queued.iter().skip(2).map(|m| m["account"].as_str().unwrap()).collect();
    // HARBOR's credit paid its January invoice: it owes nothing and holds nothing;
    // PAID has not paid January's yet (due December 30th)
    assert_eq!(december, ["ACME", "PAID"]);
    let (_, paid_jan) = total_of(&bm, "PAID", "2027-01");
    let p = statement(&bm, "PAID", "2026-12");
    assert_eq!(
        (p["opening"].as_str(), p["closing"].as_str()),
        (Some(usd(Money::ZERO).as_str()), Some(usd(paid_jan).as_str()))
    );
    assert_eq!(p["open"][0]["days_past_due"], 1);
    let s = statement(&bm, "ACME", "2026-12");
    let opening = acme_dec - part;
    assert_eq!(s["opening"], usd(opening));
    let closing = opening + acme_jan - late;
    assert_eq!(s["closing"], usd(closing));
    let open: Vec<(&str, i64)> = s["open"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["number"].as_str().unwrap(), o["days_past_due"].as_i64().unwrap()))
        .collect();
    assert_eq!(open, [(acme1.as_str(), 31), (acme2.as_str(), 1)]);
    assert_eq!(s["aging"][2], usd(acme_dec - part - late), "31-60 days");
    assert_eq!(s["aging"][1], usd(acme_jan), "1-30 days");
    // every activity row's balance follows from the one before
    let rows = s["activity"].as_array().unwrap();
    assert_eq!(rows.last().unwrap()["balance"], usd(closing));

    // the statement as text and as a PDF
    let text = bm.run(&["statement", "ACME", "--month", "2026-12"]).ok().stdout;
    assert!(text.starts_with("Subject: Statement of account from KR Group: Acme Dental, December 2026"), "{text}");
    assert!(text.contains(&format!("Balance on December 31, 2026: {}", usd(closing))), "{text}");
    let pdf = bm.path("statement.pdf");
    bm.run(&["statement", "ACME", "--month", "2026-12", "--format", "pdf", "--output", pdf.to_str().unwrap()]).ok();
    common::pdf::assert_archival(&pdf, "STMT-ACME-2026-12");
    common::pdf::assert_in_order(
        &common::pdf::text(&pdf),
        &[
            "Statement",
            "December 2026",
            "Acme Dental",
            "Opening balance",
            &usd(opening),
            "Closing balance",
            &usd(closing),
        ],
    );
    assert!(bm.run(&["statement", "NOPE", "--month", "2026-12"]).fails().stderr.contains("no account \"NOPE\""));
}
