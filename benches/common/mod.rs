//! What the benches share: a book of 10,000 accounts, each on an agreement
//! with one recurring subscription, ready to be invoiced.
#![allow(dead_code)]

use std::path::Path;

use billmail::config::Config;
use billmail::domain::calendar::local_time;
use billmail::domain::{AccountId, EmailAddress, Money, UserCounts};
use billmail::store::{AccountImport, Store, SubscriptionImport};
use chrono::{DateTime, Utc};

pub const ACCOUNTS: usize = 10_000;

pub fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

pub async fn seeded(dir: &Path, config: &Config) -> Store {
    let (store, _) = Store::init(&dir.join("billmail.db")).await.unwrap();
    let now = at("2026-11-02T09:00:00-05:00");
    let tiers = ["hybrid", "remote", "inclusive"];
    let rows: Vec<AccountImport> = (0..ACCOUNTS)
        .map(|i| {
            AccountImport::basic(
                i + 2,
                AccountId::parse(&format!("A{i:05}")).unwrap(),
                tiers[i % 3],
                UserCounts { full_time: (i % 40) as i64 + 1, part_time: (i % 7) as i64 },
                EmailAddress::parse(&format!("ap@customer{i}.example")).unwrap(),
            )
        })
        .collect();
    let mut tx = store.begin().await.unwrap();
    billmail::imports::accounts(&mut tx, &rows, now, now.date_naive()).await.unwrap();
    let subs: Vec<SubscriptionImport> = rows
        .iter()
        .map(|r| SubscriptionImport {
            line: r.line,
            account: r.id.clone(),
            product: "Office 365 Business Premium".into(),
            quantity: r.counts.full_time,
            unit_price: Money::from_cents(2200),
        })
        .collect();
    billmail::imports::subscriptions(&mut tx, &subs, "USD", now, local_time(&now, config.company.timezone))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    store
}
