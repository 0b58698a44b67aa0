//! Accounts: counts and their changes, contacts, work entries, summaries and history.

use anyhow::Result;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use rust_decimal::Decimal;
use sqlx::Row;

use super::{LOCAL_FMT, Store, Tx, instant, parse_date};
use crate::domain::book::{PlannedChange, counts_on};
use crate::domain::{AccountId, CountChange, CountDelta, Money, UserCounts};

#[derive(Clone, Debug)]
pub struct AccountSummary {
    pub id: AccountId,
    pub name: String,
    pub tier: String,
    pub counts: UserCounts,
    pub status: String,
    pub status_since: Option<String>,
    pub first_period: String,
    pub billing_emails: Vec<(String, Option<String>)>,
    pub authorized_emails: Vec<(String, Option<String>)>,
    pub balance: Money,
    pub credit: Money,
    pub open_invoices: Vec<super::InvoiceRecord>,
}

/// One entry of an account's history (`accounts history --json` prints it as it is).
#[derive(Clone, Debug, serde::Serialize, sqlx::FromRow)]
pub struct HistoryEntry {
    pub at: String,
    pub kind: String,
    pub detail: String,
}

pub(super) fn change_from_row(r: &sqlx::sqlite::SqliteRow) -> Result<CountChange> {
    Ok(CountChange {
        id: r.get("id"),
        effective: parse_date(r.get("effective_date"))?,
        delta: CountDelta { full_time: r.get("delta_full_time"), part_time: r.get("delta_part_time") },
        reason: r.get("reason"),
        accounted: r.get::<Option<i64>, _>("accounted_invoice_id").is_some(),
    })
}

impl Tx {
    /// The account's id as stored, found whatever the case it is written in
    /// (`acme` is `ACME`): an account code is one account however it is typed.
    pub async fn stored_account_id(&mut self, id: &str) -> Result<Option<AccountId>> {
        Ok(sqlx::query_scalar("SELECT id FROM accounts WHERE id = ? COLLATE NOCASE ORDER BY id LIMIT 1")
            .bind(id)
            .fetch_optional(self.conn())
            .await?)
    }

    pub async fn history(&mut self, account: &AccountId, at: DateTime<Utc>, kind: &str, detail: &str) -> Result<()> {
        sqlx::query("INSERT INTO history (account_id, at, kind, detail) VALUES (?, ?, ?, ?)")
            .bind(account)
            .bind(instant(at))
            .bind(kind)
            .bind(detail)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// The account's recorded count changes, oldest first.
    pub async fn count_changes(&mut self, account: &AccountId) -> Result<Vec<CountChange>> {
        let rows = sqlx::query(
            "SELECT id, effective_date, delta_full_time, delta_part_time, reason, accounted_invoice_id
             FROM count_changes WHERE account_id = ? ORDER BY effective_date, id",
        )
        .bind(account)
        .fetch_all(self.conn())
        .await?;
        rows.iter().map(change_from_row).collect()
    }

    /// Records changes already checked (`domain::book::plan_counts`), each
    /// with its line in the history.
    pub async fn record_count_changes(
        &mut self,
        account: &AccountId,
        planned: &[PlannedChange],
        source: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        for p in planned {
            self.insert_count_change(account, p, source, reason, now).await?;
        }
        Ok(())
    }

    async fn insert_count_change(
        &mut self,
        account: &AccountId,
        p: &PlannedChange,
        source: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let PlannedChange { effective, delta, before, after } = *p;
        sqlx::query(
            "INSERT INTO count_changes (account_id, effective_date, delta_full_time, delta_part_time,
               full_time_after, part_time_after, source, reason, recorded_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(account)
        .bind(effective.format("%Y-%m-%d").to_string())
        .bind(delta.full_time)
        .bind(delta.part_time)
        .bind(after.full_time)
        .bind(after.part_time)
        .bind(source)
        .bind(reason)
        .bind(instant(now))
        .execute(self.conn())
        .await?;
        let detail = format!(
            "{} effective {effective}: full-time {} -> {}, part-time {} -> {} ({reason})",
            delta.describe(),
            before.full_time,
            after.full_time,
            before.part_time,
            after.part_time
        );
        self.history(account, now, "counts", &detail).await
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn add_service(
        &mut self,
        account: &AccountId,
        work_date: NaiveDate,
        engineer: &str,
        hours: Decimal,
        rate: Money,
        currency: &str,
        description: &str,
        now: DateTime<Utc>,
        local_now: NaiveDateTime,
    ) -> Result<i64> {
        let id = sqlx::query(
            "INSERT INTO service_entries (account_id, work_date, engineer, hours, rate_cents, currency, description, recorded_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(account)
        .bind(work_date.to_string())
        .bind(engineer)
        .bind(hours.to_string())
        .bind(rate.cents())
        .bind(currency)
        .bind(description)
        .bind(local_now.format(LOCAL_FMT).to_string())
        .execute(self.conn())
        .await?
        .last_insert_rowid();
        self.history(
            account,
            now,
            "service",
            &format!("work recorded: {work_date}, {engineer}, {hours} h at {rate}: {description}"),
        )
        .await?;
        Ok(id)
    }
}

impl Store {
    /// The account an id typed by a person names, whatever its case and
    /// surrounding spaces (the command line and the console alike).
    pub async fn account_named(&self, id: &str) -> Result<Option<AccountId>> {
        let mut tx = self.begin().await?;
        let found = tx.stored_account_id(id.trim()).await?;
        tx.commit().await?;
        Ok(found)
    }

    pub async fn account_ids(&self) -> Result<Vec<AccountId>> {
        Ok(sqlx::query_scalar("SELECT id FROM accounts ORDER BY id").fetch_all(self.pool()).await?)
    }

    pub async fn account_summary(&self, id: &AccountId, today: NaiveDate) -> Result<Option<AccountSummary>> {
        let pool = self.pool();
        let Some(r) =
            sqlx::query("SELECT id, name, tier, status, status_since, first_period FROM accounts WHERE id = ?")
                .bind(id)
                .fetch_optional(pool)
                .await?
        else {
            return Ok(None);
        };
        let changes: Vec<CountChange> = sqlx::query(
            "SELECT id, effective_date, delta_full_time, delta_part_time, reason, accounted_invoice_id
             FROM count_changes WHERE account_id = ? ORDER BY effective_date, id",
        )
        .bind(id)
        .fetch_all(pool)
        .await?
        .iter()
        .map(change_from_row)
        .collect::<Result<_>>()?;
        let contacts: Vec<(String, String, Option<String>)> =
            sqlx::query_as("SELECT email, role, bounced_at FROM contacts WHERE account_id = ? ORDER BY position")
                .bind(id)
                .fetch_all(pool)
                .await?;
        let open = self.invoices(Some(id), true).await?;
        let balance = open.iter().map(|i| i.balance).sum();
        let credit = credits(pool, Some(id)).await?.into_iter().map(|(_, c)| c).sum();
        Ok(Some(AccountSummary {
            id: r.get("id"),
            name: r.get("name"),
            tier: r.get("tier"),
            counts: counts_on(&changes, today),
            status: r.get("status"),
            status_since: r.get("status_since"),
            first_period: r.get("first_period"),
            billing_emails: contacts.iter().filter(|c| c.1 == "billing").map(|c| (c.0.clone(), c.2.clone())).collect(),
            authorized_emails: contacts
                .iter()
                .filter(|c| c.1 == "authorized")
                .map(|c| (c.0.clone(), c.2.clone()))
                .collect(),
            balance,
            credit,
            open_invoices: open,
        }))
    }

    pub async fn history_of(&self, id: &AccountId) -> Result<Vec<HistoryEntry>> {
        Ok(sqlx::query_as("SELECT at, kind, detail FROM history WHERE account_id = ? ORDER BY id")
            .bind(id)
            .fetch_all(self.pool())
            .await?)
    }
}

/// Unapplied payment money per account.
pub(super) async fn credits<'e, E>(exec: E, account: Option<&AccountId>) -> Result<Vec<(AccountId, Money)>>
where
    E: sqlx::Executor<'e, Database = sqlx::Sqlite>,
{
    let rows: Vec<(AccountId, i64)> = sqlx::query_as(
        "SELECT p.account_id, SUM(p.amount_cents - COALESCE(a.applied, 0))
         FROM payments p
         LEFT JOIN (SELECT payment_id, SUM(amount_cents) AS applied FROM allocations GROUP BY payment_id) a
           ON a.payment_id = p.id
         WHERE (?1 IS NULL OR p.account_id = ?1)
         GROUP BY p.account_id",
    )
    .bind(account)
    .fetch_all(exec)
    .await?;
    Ok(rows.into_iter().map(|(a, c)| (a, Money::from_cents(c))).collect())
}
