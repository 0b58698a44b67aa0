//! What collections needs from the books, and the changes it makes.

use std::collections::BTreeMap;

use anyhow::Result;
use chrono::{DateTime, NaiveDate, Utc};

use super::{Store, Tx, instant, parse_date};
use crate::domain::AccountId;
use crate::domain::collections::{ByHand, Ledger, Standing};

/// An account as collections sees it.
#[derive(Clone, Debug)]
pub struct Collectable {
    pub account: AccountId,
    pub name: String,
    pub ledger: Ledger,
}

impl Store {
    pub async fn collectables(&self) -> Result<Vec<Collectable>> {
        self.collectables_of(None).await
    }

    /// One account as collections sees it.
    pub async fn collectable(&self, account: &AccountId) -> Result<Option<Collectable>> {
        Ok(self.collectables_of(Some(account)).await?.into_iter().next())
    }

    async fn collectables_of(&self, only: Option<&AccountId>) -> Result<Vec<Collectable>> {
        let pool = self.pool();
        let mut out: BTreeMap<String, Collectable> = BTreeMap::new();
        // id, name, standing, and what a person decided of its hold
        type Row = (AccountId, String, String, Option<String>, Option<String>);
        let accounts: Vec<Row> = sqlx::query_as(
            "SELECT id, name, status, hold_by_hand, hold_by_hand_until FROM accounts WHERE ?1 IS NULL OR id = ?1 ORDER BY id",
        )
        .bind(only)
        .fetch_all(pool)
        .await?;
        for (id, name, status, hand, until) in accounts {
            let by_hand = match (hand.as_deref(), until) {
                (Some("held"), _) => Some(ByHand::Held),
                (Some("released"), Some(u)) => Some(ByHand::ReleasedUntil(parse_date(&u)?)),
                _ => None,
            };
            let ledger = Ledger {
                unpaid: vec![],
                claims: vec![],
                standing: Standing::parse(&status),
                reminded: vec![],
                by_hand,
            };
            out.insert(id.as_str().to_string(), Collectable { account: id, name, ledger });
        }
        let unpaid: Vec<(String, i64, String)> = sqlx::query_as(
            "SELECT i.account_id, i.id, i.due_on FROM invoices i WHERE i.status = 'open'
               AND i.total_cents > COALESCE((SELECT SUM(amount_cents) FROM allocations WHERE invoice_id = i.id), 0)
               AND (?1 IS NULL OR i.account_id = ?1)",
        )
        .bind(only)
        .fetch_all(pool)
        .await?;
        for (a, id, due) in unpaid {
            if let Some(c) = out.get_mut(&a) {
                c.ledger.unpaid.push((id, parse_date(&due)?));
            }
        }
        let claims: Vec<(String, String)> =
            sqlx::query_as("SELECT account_id, claimed_on FROM claims WHERE account_id IS NOT NULL AND (?1 IS NULL OR account_id = ?1)")
                .bind(only)
                .fetch_all(pool)
                .await?;
        for (a, d) in claims {
            if let Some(c) = out.get_mut(&a) {
                c.ledger.claims.push(parse_date(&d)?);
            }
        }
        let reminded: Vec<(String, i64, i64)> = sqlx::query_as(
            "SELECT i.account_id, r.invoice_id, r.stage FROM reminders r JOIN invoices i ON i.id = r.invoice_id
             WHERE ?1 IS NULL OR i.account_id = ?1",
        )
        .bind(only)
        .fetch_all(pool)
        .await?;
        for (a, id, stage) in reminded {
            if let Some(c) = out.get_mut(&a) {
                c.ledger.reminded.push((id, stage as usize));
            }
        }
        Ok(out.into_values().collect())
    }
}

impl Tx {
    /// Marks what a person decided of the account's hold (`accounts hold`,
    /// `accounts release`, the console).
    pub async fn set_by_hand(&mut self, account: &AccountId, mark: ByHand) -> Result<()> {
        let (hand, until) = match mark {
            ByHand::Held => ("held", None),
            ByHand::ReleasedUntil(u) => ("released", Some(u.to_string())),
        };
        sqlx::query("UPDATE accounts SET hold_by_hand = ?, hold_by_hand_until = ? WHERE id = ?")
            .bind(hand)
            .bind(until)
            .bind(account)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// The account's standing and since when.
    pub async fn standing(&mut self, account: &AccountId) -> Result<(Standing, Option<String>)> {
        let row: Option<(String, Option<String>)> =
            sqlx::query_as("SELECT status, status_since FROM accounts WHERE id = ?")
                .bind(account)
                .fetch_optional(self.conn())
                .await?;
        Ok(row.map(|(s, since)| (Standing::parse(&s), since)).unwrap_or((Standing::Active, None)))
    }

    /// The latest quantity of an account's subscription to `product`, if any.
    pub async fn subscription_quantity(&mut self, account: &AccountId, product: &str) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar(
            "SELECT v.quantity FROM subscription_versions v JOIN subscriptions s ON s.id = v.subscription_id
             WHERE s.account_id = ? AND s.product = ? ORDER BY v.effective_at DESC, v.id DESC LIMIT 1",
        )
        .bind(account)
        .bind(product)
        .fetch_optional(self.conn())
        .await?)
    }

    pub async fn record_reminder(&mut self, invoice: i64, stage: usize, now: DateTime<Utc>) -> Result<()> {
        sqlx::query("INSERT INTO reminders (invoice_id, stage, sent_at) VALUES (?, ?, ?)")
            .bind(invoice)
            .bind(stage as i64)
            .bind(instant(now))
            .execute(self.conn())
            .await?;
        Ok(())
    }

    pub async fn set_standing(
        &mut self,
        account: &AccountId,
        to: Standing,
        since: NaiveDate,
        why: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let since_text = (to != Standing::Active).then(|| since.to_string());
        sqlx::query("UPDATE accounts SET status = ?, status_since = ?, updated_at = ? WHERE id = ?")
            .bind(to.as_str())
            .bind(since_text)
            .bind(instant(now))
            .bind(account)
            .execute(self.conn())
            .await?;
        self.history(account, now, "status", why).await
    }

    /// The Message-ID of the latest message sent to an account about
    /// collections, or of the invoice's own mail: what a notice follows.
    pub async fn thread_for(
        &mut self,
        account: &AccountId,
        invoice: Option<i64>,
        team: Option<&str>,
    ) -> Result<Option<String>> {
        let last: Option<String> = sqlx::query_scalar(
            "SELECT message_id FROM outbox WHERE account_id = ?1 AND kind IN ('reminder', 'credit_hold', 'service_hold', 'hold_released')
             AND (?2 IS NULL OR to_addrs != ?2) ORDER BY id DESC LIMIT 1",
        )
        .bind(account)
        .bind(team)
        .fetch_optional(self.conn())
        .await?;
        if last.is_some() {
            return Ok(last);
        }
        Ok(match invoice {
            Some(i) => {
                sqlx::query_scalar("SELECT message_id FROM outbox WHERE invoice_id = ? ORDER BY id LIMIT 1")
                    .bind(i)
                    .fetch_optional(self.conn())
                    .await?
            }
            None => None,
        })
    }
}
