//! Billing throughput: 10,000 accounts, each with an agreement and a
//! recurring-charges invoice due (20,000 invoices): load, build, render,
//! store and queue, against a baseline measured in the same run that
//! inserts the same invoice, line and outbox rows without building or
//! rendering anything. Target: at least 5,000 invoices/s and within 3× of
//! the baseline. Run with `cargo bench --bench billing`.

use std::path::Path;
use std::time::Instant;

use billmail::config::Config;
use billmail::engine::{plan, run_billing};
use billmail::render::Renderer;
use billmail::store::{IssueItem, NewMail};

mod common;

use common::{ACCOUNTS, at, seeded};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let config = Config::parse(include_str!("../examples/billmail.toml"), Path::new(".")).unwrap();
    let now = at("2026-12-05T08:00:00-05:00");
    let renderer = Renderer::new();

    // baseline: the same rows, nothing built or rendered
    let dir = tempfile::tempdir().unwrap();
    let store = seeded(dir.path(), &config).await;
    let mut books = store.load_books(&config.tiers).await.unwrap();
    let drafts = plan(&config, &mut books, now).drafts;
    let text = "x".repeat(1500);
    let html = "x".repeat(4000);
    let t = Instant::now();
    for chunk in drafts.chunks(500) {
        let mut tx = store.begin().await.unwrap();
        let items: Vec<IssueItem> = chunk
            .iter()
            .map(|(i, _, draft)| IssueItem {
                account: &books[*i].account.id,
                draft,
                tier_label: None,
                users: &[],
                credit_from: vec![],
            })
            .collect();
        let stored = tx.insert_invoices(&items, "USD", &config.company.invoice_number_format, now).await.unwrap();
        let mails: Vec<NewMail> = items
            .iter()
            .zip(stored)
            .map(|(item, done)| {
                let (id, number) = done.unwrap();
                NewMail {
                    kind: "invoice".into(),
                    account: Some(item.account.clone()),
                    invoice_id: Some(id),
                    to: vec![format!("ap@{}.example", item.account)],
                    cc: vec![],
                    subject: number.clone(),
                    text: text.clone(),
                    html: html.clone(),
                    message_id: format!("<{number}@bench.example>"),
                    in_reply_to: None,
                    references: None,
                }
            })
            .collect();
        tx.queue_mails(&mails, now).await.unwrap();
        tx.commit().await.unwrap();
    }
    let baseline = t.elapsed();
    let n = drafts.len();
    store.close().await;

    // billmail: load, plan, build, render, store, queue
    let dir = tempfile::tempdir().unwrap();
    let store = seeded(dir.path(), &config).await;
    let t = Instant::now();
    let issued = run_billing(&config, &store, &renderer, now, false).await.unwrap();
    let full = t.elapsed();
    assert_eq!(issued.len(), n, "both runs issue the same invoices");
    assert_eq!(n, 2 * ACCOUNTS);
    store.close().await;

    let rate = n as f64 / full.as_secs_f64();
    let ratio = full.as_secs_f64() / baseline.as_secs_f64();
    println!("billing {n} invoices for {ACCOUNTS} accounts (agreement + recurring):");
    println!(
        "  baseline (same rows, no build/render): {:>8.3} s  {:>8.0} invoices/s",
        baseline.as_secs_f64(),
        n as f64 / baseline.as_secs_f64()
    );
    println!("  billmail (load, build, render, store): {:>8.3} s  {:>8.0} invoices/s", full.as_secs_f64(), rate);
    println!(
        "  ratio {ratio:.2}x (target <= 3x); throughput target >= 5000 invoices/s: {}",
        if rate >= 5000.0 && ratio <= 3.0 { "met" } else { "NOT met" }
    );
}
