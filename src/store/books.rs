//! The books as the calendar and the invoice builders see them: every
//! account's plain data, loaded in a few queries.

use std::collections::{BTreeMap, HashMap};

use anyhow::{Result, anyhow};
use sqlx::Row;

use super::accounts::{change_from_row, credits};
use super::{Store, parse_date, parse_decimal, parse_local};
use crate::config::Tier;
use crate::domain::{
    Account, AccountId, Book, EmailAddress, Issued, Money, Month, Rates, ServiceEntry, Subscription,
    SubscriptionVersion, UserType,
};

impl Store {
    /// Every account's book, as the calendar and builders need it.
    pub async fn load_books(&self, tiers: &BTreeMap<String, Tier>) -> Result<Vec<Book>> {
        let pool = self.pool();
        let mut books: BTreeMap<String, Book> = BTreeMap::new();
        for r in sqlx::query(
            "SELECT id, name, tier, full_time_rate_cents, part_time_rate_cents, first_period FROM accounts ORDER BY id",
        )
        .fetch_all(pool)
        .await?
        {
            // read back through the store's one decoding of an id (store/types.rs)
            let id: AccountId = r.try_get("id")?;
            let tier_key: String = r.get("tier");
            let tier = tiers
                .get(&tier_key)
                .ok_or_else(|| anyhow!("account {id} is on tier {tier_key:?}, which the config no longer has"))?;
            let rates = Rates {
                full_time: r
                    .get::<Option<i64>, _>("full_time_rate_cents")
                    .map(Money::from_cents)
                    .unwrap_or(tier.rates.full_time),
                part_time: r
                    .get::<Option<i64>, _>("part_time_rate_cents")
                    .map(Money::from_cents)
                    .unwrap_or(tier.rates.part_time),
            };
            let first: String = r.get("first_period");
            let account = Account {
                id: id.clone(),
                name: r.get("name"),
                tier: tier_key,
                tier_label: tier.label.clone(),
                rates,
                first_period: Month::parse(&first).ok_or_else(|| anyhow!("stored period {first:?} is malformed"))?,
                billing_emails: vec![],
                authorized_emails: vec![],
                payer_names: vec![],
            };
            books.insert(
                id.as_str().to_string(),
                Book {
                    account,
                    changes: vec![],
                    subscriptions: vec![],
                    services: vec![],
                    issued: Issued::default(),
                    credit: Money::ZERO,
                    users: vec![],
                },
            );
        }
        for r in sqlx::query(
            "SELECT account_id, email, role FROM contacts WHERE bounced_at IS NULL ORDER BY account_id, position",
        )
        .fetch_all(pool)
        .await?
        {
            if let Some(b) = books.get_mut(r.get::<&str, _>("account_id")) {
                let e = EmailAddress::parse(r.get("email")).map_err(|e| anyhow!(e))?;
                if r.get::<&str, _>("role") == "billing" {
                    b.account.billing_emails.push(e);
                } else {
                    b.account.authorized_emails.push(e);
                }
            }
        }
        for r in sqlx::query(
            "SELECT account_id, id, effective_date, delta_full_time, delta_part_time, reason, accounted_invoice_id
             FROM count_changes ORDER BY account_id, effective_date, id",
        )
        .fetch_all(pool)
        .await?
        {
            if let Some(b) = books.get_mut(r.get::<&str, _>("account_id")) {
                b.changes.push(change_from_row(&r)?);
            }
        }
        let mut subs: HashMap<i64, (String, Subscription)> = HashMap::new();
        for r in sqlx::query("SELECT id, account_id, product FROM subscriptions").fetch_all(pool).await? {
            let id: i64 = r.get("id");
            subs.insert(id, (r.get("account_id"), Subscription { id, product: r.get("product"), versions: vec![] }));
        }
        for r in sqlx::query(
            "SELECT subscription_id, quantity, unit_price_cents, effective_at FROM subscription_versions
             ORDER BY effective_at, id",
        )
        .fetch_all(pool)
        .await?
        {
            if let Some((_, s)) = subs.get_mut(&r.get::<i64, _>("subscription_id")) {
                s.versions.push(SubscriptionVersion {
                    effective_at: parse_local(r.get("effective_at"))?,
                    quantity: r.get("quantity"),
                    unit_price: Money::from_cents(r.get("unit_price_cents")),
                });
            }
        }
        let mut subs: Vec<_> = subs.into_values().collect();
        subs.sort_by(|a, b| (&a.0, &a.1.product).cmp(&(&b.0, &b.1.product)));
        for (acct, s) in subs {
            if let Some(b) = books.get_mut(&acct) {
                b.subscriptions.push(s);
            }
        }
        for r in sqlx::query(
            "SELECT id, account_id, work_date, engineer, hours, rate_cents, description, recorded_at
             FROM service_entries WHERE invoice_id IS NULL ORDER BY id",
        )
        .fetch_all(pool)
        .await?
        {
            if let Some(b) = books.get_mut(r.get::<&str, _>("account_id")) {
                b.services.push(ServiceEntry {
                    id: r.get("id"),
                    work_date: parse_date(r.get("work_date"))?,
                    engineer: r.get("engineer"),
                    hours: parse_decimal(r.get("hours"))?,
                    rate: Money::from_cents(r.get("rate_cents")),
                    description: r.get("description"),
                    recorded_at: parse_local(r.get("recorded_at"))?,
                    invoiced: false,
                });
            }
        }
        for r in sqlx::query("SELECT account_id, kind, period FROM invoices").fetch_all(pool).await? {
            if let Some(b) = books.get_mut(r.get::<&str, _>("account_id")) {
                let period: &str = r.get("period");
                match r.get::<&str, _>("kind") {
                    "agreement" => {
                        b.issued.agreement.extend(Month::parse(period));
                    }
                    "recurring" => {
                        b.issued.recurring.extend(Month::parse(period));
                    }
                    _ => {
                        b.issued.service.insert(parse_date(period)?);
                    }
                }
            }
        }
        for (acct, credit) in credits(pool, None).await? {
            if let Some(b) = books.get_mut(acct.as_str()) {
                b.credit = credit;
            }
        }
        for r in sqlx::query("SELECT account_id, name, user_type FROM named_users ORDER BY account_id, user_type, name")
            .fetch_all(pool)
            .await?
        {
            if let Some(b) = books.get_mut(r.get::<&str, _>("account_id")) {
                let t = UserType::parse(r.get("user_type")).ok_or_else(|| anyhow!("stored user type malformed"))?;
                b.users.push((r.get("name"), t));
            }
        }
        Ok(books.into_values().collect())
    }
}
