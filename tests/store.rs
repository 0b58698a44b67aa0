//! Guarantees that belong to the database, not to the calendar.

use std::path::Path;

use billmail::config::Config;
use billmail::domain::{AccountId, EmailAddress, UserCounts};
use billmail::engine::plan;
use billmail::store::{AccountImport, IssueItem, Store};
use chrono::{DateTime, Utc};

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

#[tokio::test]
async fn a_duplicate_invoice_cannot_exist_and_takes_no_number() {
    let config = Config::parse(include_str!("../examples/billmail.toml"), Path::new(".")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = Store::init(&dir.path().join("b.db")).await.unwrap();
    let now = at("2026-11-02T09:00:00-05:00");
    let row = AccountImport::basic(
        2,
        AccountId::parse("ACME").unwrap(),
        "hybrid",
        UserCounts { full_time: 2, part_time: 1 },
        EmailAddress::parse("ap@acme.example").unwrap(),
    );
    let mut tx = store.begin().await.unwrap();
    billmail::imports::accounts(&mut tx, &[row], now, now.date_naive()).await.unwrap();
    tx.commit().await.unwrap();

    // two planners that both think December is due (as two racing ticks would)
    let tick = at("2026-11-15T08:00:00-05:00");
    let mut books = store.load_books(&config.tiers).await.unwrap();
    let drafts = plan(&config, &mut books, tick).drafts;
    assert_eq!(drafts.len(), 1);
    let fmt = &config.company.invoice_number_format;
    for expect_new in [true, false] {
        let item = IssueItem {
            account: &AccountId::parse("ACME").unwrap(),
            draft: &drafts[0].2,
            tier_label: None,
            users: &[],
            credit_from: vec![],
        };
        let mut tx = store.begin().await.unwrap();
        let out = tx.insert_invoices(&[item], "USD", fmt, tick).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(out[0].is_some(), expect_new);
    }
    // the unique key holds even against a direct insert
    let dup = sqlx::query(
        "INSERT INTO invoices (number, account_id, kind, period, issued_on, due_on, currency, total_cents, created_at)
         VALUES ('X-1', 'ACME', 'agreement', '2026-12', '2026-11-15', '2026-11-30', 'USD', 1, 'now')",
    )
    .execute(store.pool())
    .await;
    assert!(dup.unwrap_err().to_string().contains("UNIQUE"));
    // the skipped duplicate consumed no number: the next invoice is 0002
    let mut books = store.load_books(&config.tiers).await.unwrap();
    let later = plan(&config, &mut books, at("2026-12-15T08:00:00-05:00")).drafts;
    let item = IssueItem {
        account: &AccountId::parse("ACME").unwrap(),
        draft: &later[0].2,
        tier_label: None,
        users: &[],
        credit_from: vec![],
    };
    let mut tx = store.begin().await.unwrap();
    let out = tx.insert_invoices(&[item], "USD", fmt, tick).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(out[0].as_ref().unwrap().1, "INV-2026-0002");
}
