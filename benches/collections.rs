//! Collections for 10,000 accounts with a year of history each (twelve
//! agreement invoices, eleven paid): evaluating every account's standing
//! from the ledger (loading it and the pure rules), target under one second;
//! and, for the record, a full round that also writes the notices due.
//! Run with `cargo bench --bench collections`.

use std::path::Path;
use std::time::Instant;

use billmail::config::Config;
use billmail::domain::calendar::local_time;
use billmail::domain::collections::evaluate;
use billmail::domain::{AccountId, EmailAddress, UserCounts};
use billmail::engine::{run_billing, run_collections};
use billmail::render::Renderer;
use billmail::store::{AccountImport, Store};
use chrono::{DateTime, Utc};

const ACCOUNTS: usize = 10_000;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let config = Config::parse(include_str!("../examples/billmail.toml"), Path::new(".")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = Store::init(&dir.path().join("b.db")).await.unwrap();
    let rows: Vec<AccountImport> = (0..ACCOUNTS)
        .map(|i| {
            AccountImport::basic(
                i + 2,
                AccountId::parse(&format!("A{i:05}")).unwrap(),
                "remote",
                UserCounts { full_time: (i % 20) as i64 + 1, part_time: 0 },
                EmailAddress::parse(&format!("ap@c{i}.example")).unwrap(),
            )
        })
        .collect();
    let t = Instant::now();
    let start = at("2025-11-02T09:00:00-05:00");
    let mut tx = store.begin().await.unwrap();
    billmail::imports::accounts(&mut tx, &rows, start, start.date_naive()).await.unwrap();
    tx.commit().await.unwrap();
    let renderer = Renderer::new();
    for month in 0..12 {
        let (y, m) = if month == 0 { (2025, 11) } else { (2025 + (10 + month) / 12, (10 + month) % 12 + 1) };
        let now = at(&format!("{y}-{m:02}-15T08:00:00-05:00"));
        run_billing(&config, &store, &renderer, now, true).await.unwrap();
    }
    // every invoice paid but the latest; one account in twenty has not paid the one before either
    sqlx::query(
        "INSERT INTO payments (account_id, amount_cents, currency, method, reference, source, received_on, recorded_at)
         SELECT account_id, total_cents, currency, 'ach', number, 'bank_notice', due_on, created_at FROM invoices
         WHERE period < '2026-11' AND NOT (period = '2026-10' AND CAST(substr(account_id, 2) AS INTEGER) % 20 = 0)",
    )
    .execute(store.pool())
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO allocations (payment_id, invoice_id, amount_cents, created_at)
         SELECT p.id, i.id, p.amount_cents, p.recorded_at FROM payments p JOIN invoices i ON i.number = p.reference",
    )
    .execute(store.pool())
    .await
    .unwrap();
    sqlx::query("UPDATE invoices SET status = 'paid' WHERE id IN (SELECT invoice_id FROM allocations)")
        .execute(store.pool())
        .await
        .unwrap();
    let invoices: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM invoices").fetch_one(store.pool()).await.unwrap();
    println!("setup: {ACCOUNTS} accounts, {invoices} invoices in {:.1} s", t.elapsed().as_secs_f64());

    let now = at("2026-10-20T08:30:00-04:00"); // October's invoice is 20 days late for one account in twenty
    let policy = &config.collections;
    let today = config.schedule.last_send_day(local_time(&now, config.company.timezone));
    let t = Instant::now();
    let ledgers = store.collectables().await.unwrap();
    let steps = ledgers.iter().filter_map(|a| evaluate(today, &a.ledger, policy)).count();
    let eval = t.elapsed();
    println!(
        "evaluate {} accounts (load the ledgers, apply the rules): {:.3} s, {steps} steps due",
        ledgers.len(),
        eval.as_secs_f64()
    );
    println!("  target < 1 s: {}", if eval.as_secs_f64() < 1.0 { "met" } else { "NOT met" });
    let t = Instant::now();
    let report = run_collections(&config, &store, &renderer, now).await.unwrap();
    println!(
        "full round (evaluate, record and queue {} steps' notices): {:.3} s",
        report.lines.len(),
        t.elapsed().as_secs_f64()
    );
}
