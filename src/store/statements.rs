//! Statements of account: every account's invoices and payments as a
//! statement reads them, the statements sent, and the months done.

use std::collections::BTreeMap;

use anyhow::Result;
use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{Store, Tx, instant, parse_date};
use crate::domain::import::PostalAddress;
use crate::domain::statement::{LedgerInvoice, LedgerPayment};
use crate::domain::{AccountId, Money, Month};

/// One account's invoices (not void) and payments, for its statements.
#[derive(Clone, Debug, Default)]
pub struct Ledger {
    pub name: String,
    pub address: PostalAddress,
    pub invoices: Vec<LedgerInvoice>,
    pub payments: Vec<LedgerPayment>,
}

impl Store {
    /// Every account's ledger, with each amount applied to an invoice dated
    /// by the company's calendar (`tz`).
    pub async fn ledgers(&self, tz: chrono_tz::Tz) -> Result<BTreeMap<AccountId, Ledger>> {
        let mut out: BTreeMap<AccountId, Ledger> = BTreeMap::new();
        for r in sqlx::query(
            "SELECT id, name, address_line1, address_line2, city, state, postal_code, country FROM accounts",
        )
        .fetch_all(self.pool())
        .await?
        {
            let address: PostalAddress = sqlx::FromRow::from_row(&r)?;
            out.insert(r.get("id"), Ledger { name: r.get("name"), address, ..Ledger::default() });
        }
        let mut applied: BTreeMap<i64, Vec<(chrono::NaiveDate, Money)>> = BTreeMap::new();
        for r in sqlx::query(
            "SELECT l.invoice_id, l.amount_cents, l.created_at FROM allocations l
             JOIN invoices i ON i.id = l.invoice_id WHERE i.status != 'void'",
        )
        .fetch_all(self.pool())
        .await?
        {
            let at = DateTime::parse_from_rfc3339(r.get("created_at"))?.with_timezone(&tz).date_naive();
            applied.entry(r.get("invoice_id")).or_default().push((at, Money::from_cents(r.get("amount_cents"))));
        }
        for r in sqlx::query(
            "SELECT id, account_id, number, issued_on, due_on, total_cents FROM invoices WHERE status != 'void' ORDER BY id",
        )
        .fetch_all(self.pool())
        .await?
        {
            out.entry(r.get("account_id")).or_default().invoices.push(LedgerInvoice {
                number: r.get("number"),
                issued: parse_date(r.get("issued_on"))?,
                due: parse_date(r.get("due_on"))?,
                total: Money::from_cents(r.get("total_cents")),
                applied: applied.remove(&r.get::<i64, _>("id")).unwrap_or_default(),
            });
        }
        for r in sqlx::query(
            "SELECT account_id, received_on, method, reference, amount_cents FROM payments ORDER BY received_on, id",
        )
        .fetch_all(self.pool())
        .await?
        {
            out.entry(r.get("account_id")).or_default().payments.push(LedgerPayment {
                received: parse_date(r.get("received_on"))?,
                method: r.get("method"),
                reference: r.get("reference"),
                amount: Money::from_cents(r.get("amount_cents")),
            });
        }
        Ok(out)
    }

    /// Whether every statement of `month` has been queued.
    pub async fn statement_month_done(&self, month: Month) -> Result<bool> {
        Ok(sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM statement_months WHERE month = ?)")
            .bind(month.to_string())
            .fetch_one(self.pool())
            .await?)
    }

    /// The accounts that have a statement for `month` already.
    pub async fn statements_of(&self, month: Month) -> Result<Vec<AccountId>> {
        Ok(sqlx::query_scalar("SELECT account_id FROM statements WHERE month = ?")
            .bind(month.to_string())
            .fetch_all(self.pool())
            .await?)
    }

    /// The statement sent to `account` for `month`, as it was sent.
    pub async fn sent_statement(&self, account: &AccountId, month: Month) -> Result<Option<serde_json::Value>> {
        let id: Option<i64> = sqlx::query_scalar("SELECT id FROM statements WHERE account_id = ? AND month = ?")
            .bind(account)
            .bind(month.to_string())
            .fetch_optional(self.pool())
            .await?;
        match id {
            Some(id) => self.statement_data(id).await,
            None => Ok(None),
        }
    }

    /// A statement's stored data.
    pub async fn statement_data(&self, id: i64) -> Result<Option<serde_json::Value>> {
        let data: Option<String> =
            sqlx::query_scalar("SELECT data FROM statements WHERE id = ?").bind(id).fetch_optional(self.pool()).await?;
        Ok(data.map(|d| serde_json::from_str(&d)).transpose()?)
    }
}

impl Tx {
    /// Records an account's statement for `month` with its data; `None`
    /// when it has one already (it is sent once).
    pub async fn record_statement(
        &mut self,
        account: &AccountId,
        month: Month,
        data: &serde_json::Value,
        now: DateTime<Utc>,
    ) -> Result<Option<i64>> {
        let id = sqlx::query_scalar(
            "INSERT INTO statements (account_id, month, data, created_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (account_id, month) DO NOTHING RETURNING id",
        )
        .bind(account)
        .bind(month.to_string())
        .bind(data.to_string())
        .bind(instant(now))
        .fetch_optional(self.conn())
        .await?;
        Ok(id)
    }

    /// The outbox message that carries statement `statement`.
    pub async fn link_statement(&mut self, outbox: i64, statement: i64) -> Result<()> {
        sqlx::query("UPDATE outbox SET statement_id = ? WHERE id = ?")
            .bind(statement)
            .bind(outbox)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Records that every statement of `month` is queued.
    pub async fn statement_month_done(&mut self, month: Month, now: DateTime<Utc>) -> Result<()> {
        sqlx::query("INSERT OR IGNORE INTO statement_months (month, done_at) VALUES (?, ?)")
            .bind(month.to_string())
            .bind(instant(now))
            .execute(self.conn())
            .await?;
        Ok(())
    }
}
