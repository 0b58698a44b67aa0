//! What the web console reads and writes besides the books: its users,
//! sessions and login attempts, and the long lists read a page at a time
//! (one statement each, so a page of 10,000 accounts costs one page).

use anyhow::{Result, bail};
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::Row;

use super::invoices::{INVOICE_SELECT, invoice_from_row};
use super::{InvoiceRecord, OutboxRecord, ReviewRecord, Store, instant, parse_date};
use crate::domain::{AccountId, Money, UserCounts};

/// Each open invoice's balance (what was paid on it, summed once), leaving
/// out those with nothing owed: the aging report's rows.
const OPEN: &str = "WITH open AS (
    SELECT i.account_id, i.due_on, i.total_cents - COALESCE(paid.cents, 0) AS cents FROM invoices i
    LEFT JOIN (SELECT invoice_id, SUM(amount_cents) AS cents FROM allocations GROUP BY invoice_id) paid
      ON paid.invoice_id = i.id
    WHERE i.status = 'open' AND i.total_cents - COALESCE(paid.cents, 0) <> 0)";

const OUTBOX_SELECT: &str = "SELECT id, kind, account_id, to_addrs, cc_addrs, subject, message_id, in_reply_to, state,
    attempts, next_attempt_at, last_error, created_at, sent_at, attachment_name AS attachment FROM outbox";

/// A console user as listed (`users list`).
#[derive(Clone, Debug, serde::Serialize, sqlx::FromRow)]
pub struct WebUser {
    pub name: String,
    pub role: String,
    pub created_at: String,
}

/// A live session: who, with which role, and the token its forms carry.
#[derive(Clone, Debug)]
pub struct WebSession {
    pub user: String,
    pub role: String,
    pub csrf: String,
}

/// One row of the accounts list.
#[derive(Clone, Debug)]
pub struct AccountRow {
    pub id: AccountId,
    pub name: String,
    pub tier: String,
    pub status: String,
    pub counts: UserCounts,
    pub balance: Money,
    /// The due date of the oldest open invoice.
    pub oldest_due: Option<NaiveDate>,
}

/// Which invoices a list shows.
#[derive(Clone, Debug, Default)]
pub struct InvoiceFilter {
    pub account: Option<AccountId>,
    /// `YYYY-MM`: invoices for that period.
    pub period: Option<String>,
    /// `agreement`, `recurring` or `service`.
    pub kind: Option<String>,
    /// `open`, `paid` or `void`.
    pub status: Option<String>,
}

impl Store {
    pub async fn add_web_user(&self, name: &str, role: &str, hash: &str, now: DateTime<Utc>) -> Result<()> {
        let done = sqlx::query(
            "INSERT INTO web_users (name, role, password_hash, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
        )
        .bind(name)
        .bind(role)
        .bind(hash)
        .bind(instant(now))
        .execute(self.pool())
        .await?
        .rows_affected();
        if done != 1 {
            bail!("a user {name:?} already exists (remove it first to change its password or role)");
        }
        Ok(())
    }

    /// Removes the user and ends its sessions; false when there was none.
    pub async fn remove_web_user(&self, name: &str) -> Result<bool> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM web_sessions WHERE user_name = ?").bind(name).execute(&mut *tx).await?;
        let n = sqlx::query("DELETE FROM web_users WHERE name = ?").bind(name).execute(&mut *tx).await?.rows_affected();
        tx.commit().await?;
        Ok(n == 1)
    }

    pub async fn web_users(&self) -> Result<Vec<WebUser>> {
        Ok(sqlx::query_as("SELECT name, role, created_at FROM web_users ORDER BY name").fetch_all(self.pool()).await?)
    }

    /// The user's role and password hash.
    pub async fn web_user(&self, name: &str) -> Result<Option<(String, String)>> {
        Ok(sqlx::query_as("SELECT role, password_hash FROM web_users WHERE name = ?")
            .bind(name)
            .fetch_optional(self.pool())
            .await?)
    }

    pub async fn insert_session(
        &self,
        token_hash: &str,
        user: &str,
        csrf: &str,
        now: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> Result<()> {
        // sessions that ended are of no use to anyone: dropped as new ones start
        sqlx::query("DELETE FROM web_sessions WHERE expires_at <= ?").bind(instant(now)).execute(self.pool()).await?;
        sqlx::query(
            "INSERT INTO web_sessions (token_hash, user_name, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(token_hash)
        .bind(user)
        .bind(csrf)
        .bind(instant(now))
        .bind(instant(expires))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The session with this token hash, if it has not expired.
    pub async fn session(&self, token_hash: &str, now: DateTime<Utc>) -> Result<Option<WebSession>> {
        let row: Option<(String, String, String)> = sqlx::query_as(
            "SELECT s.user_name, u.role, s.csrf FROM web_sessions s JOIN web_users u ON u.name = s.user_name
             WHERE s.token_hash = ? AND s.expires_at > ?",
        )
        .bind(token_hash)
        .bind(instant(now))
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|(user, role, csrf)| WebSession { user, role, csrf }))
    }

    pub async fn end_session(&self, token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM web_sessions WHERE token_hash = ?").bind(token_hash).execute(self.pool()).await?;
        Ok(())
    }

    pub async fn record_login(&self, user: &str, remote: &str, ok: bool, now: DateTime<Utc>) -> Result<()> {
        sqlx::query("INSERT INTO web_logins (at, user_name, remote, ok) VALUES (?, ?, ?, ?)")
            .bind(instant(now))
            .bind(user)
            .bind(remote)
            .bind(ok as i64)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Failed logins since `since` for this user name or from this address.
    pub async fn failed_logins(&self, user: &str, remote: &str, since: DateTime<Utc>) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM web_logins WHERE ok = 0 AND at > ? AND (user_name = ? OR remote = ?)",
        )
        .bind(instant(since))
        .bind(user)
        .bind(remote)
        .fetch_one(self.pool())
        .await?)
    }

    /// A page of accounts whose id or name contains `search`, of one
    /// status if given, by id; and how many match in all.
    pub async fn account_rows(
        &self,
        search: &str,
        status: Option<&str>,
        today: NaiveDate,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<AccountRow>, i64)> {
        let like = format!("%{}%", search.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
        const WHERE: &str =
            "WHERE (a.id LIKE ?1 ESCAPE '\\' OR a.name LIKE ?1 ESCAPE '\\') AND (?2 IS NULL OR a.status = ?2)";
        let total: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM accounts a {WHERE}"))
            .bind(&like)
            .bind(status)
            .fetch_one(self.pool())
            .await?;
        let sql = format!(
            "SELECT a.id, a.name, a.tier, a.status,
               COALESCE((SELECT SUM(delta_full_time) FROM count_changes c WHERE c.account_id = a.id AND c.effective_date <= ?3), 0) AS ft,
               COALESCE((SELECT SUM(delta_part_time) FROM count_changes c WHERE c.account_id = a.id AND c.effective_date <= ?3), 0) AS pt,
               COALESCE((SELECT SUM(i.total_cents
                          - COALESCE((SELECT SUM(amount_cents) FROM allocations WHERE invoice_id = i.id), 0))
                         FROM invoices i WHERE i.account_id = a.id AND i.status = 'open'), 0) AS balance,
               (SELECT MIN(due_on) FROM invoices i WHERE i.account_id = a.id AND i.status = 'open') AS oldest_due
             FROM accounts a {WHERE} ORDER BY a.id LIMIT ?4 OFFSET ?5"
        );
        let rows = sqlx::query(&sql)
            .bind(&like)
            .bind(status)
            .bind(today.to_string())
            .bind(limit)
            .bind(offset)
            .fetch_all(self.pool())
            .await?;
        let rows = rows
            .iter()
            .map(|r| {
                Ok(AccountRow {
                    id: r.get("id"),
                    name: r.get("name"),
                    tier: r.get("tier"),
                    status: r.get("status"),
                    counts: UserCounts { full_time: r.get("ft"), part_time: r.get("pt") },
                    balance: Money::from_cents(r.get("balance")),
                    oldest_due: r.get::<Option<&str>, _>("oldest_due").map(parse_date).transpose()?,
                })
            })
            .collect::<Result<_>>()?;
        Ok((rows, total))
    }

    /// A page of invoices, newest first; and how many match in all.
    pub async fn invoice_page(&self, f: &InvoiceFilter, offset: i64, limit: i64) -> Result<(Vec<InvoiceRecord>, i64)> {
        const WHERE: &str = "WHERE (?1 IS NULL OR i.account_id = ?1) AND (?2 IS NULL OR i.period = ?2)
             AND (?3 IS NULL OR i.kind = ?3) AND (?4 IS NULL OR i.status = ?4)";
        let total: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM invoices i {WHERE}"))
            .bind(&f.account)
            .bind(&f.period)
            .bind(&f.kind)
            .bind(&f.status)
            .fetch_one(self.pool())
            .await?;
        let rows =
            sqlx::query(&format!("{INVOICE_SELECT} {WHERE} ORDER BY i.issued_on DESC, i.id DESC LIMIT ?5 OFFSET ?6"))
                .bind(&f.account)
                .bind(&f.period)
                .bind(&f.kind)
                .bind(&f.status)
                .bind(limit)
                .bind(offset)
                .fetch_all(self.pool())
                .await?;
        Ok((rows.iter().map(invoice_from_row).collect::<Result<_>>()?, total))
    }

    /// A page of review items (open ones, or all), oldest first; and how many in all.
    pub async fn review_page(&self, open_only: bool, offset: i64, limit: i64) -> Result<(Vec<ReviewRecord>, i64)> {
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM review_items WHERE (?1 = 0 OR state = 'open')")
            .bind(open_only as i64)
            .fetch_one(self.pool())
            .await?;
        let rows = sqlx::query_as(
            "SELECT * FROM review_items WHERE (?1 = 0 OR state = 'open') ORDER BY id LIMIT ?2 OFFSET ?3",
        )
        .bind(open_only as i64)
        .bind(limit)
        .bind(offset)
        .fetch_all(self.pool())
        .await?;
        Ok((rows, total))
    }

    /// Who decided a review item (None: undecided, or decided before names were kept).
    pub async fn review_decided_by(&self, id: i64) -> Result<Option<String>> {
        Ok(sqlx::query_scalar("SELECT decided_by FROM review_items WHERE id = ?")
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .flatten())
    }

    /// Outgoing messages that failed, newest first (at most `limit`).
    pub async fn failed_mail(&self, limit: i64) -> Result<Vec<OutboxRecord>> {
        Ok(sqlx::query_as(&format!("{OUTBOX_SELECT} WHERE state = 'failed' ORDER BY id DESC LIMIT ?"))
            .bind(limit)
            .fetch_all(self.pool())
            .await?)
    }

    /// A page of outgoing messages, newest first; and how many in all.
    pub async fn outbox_page(&self, offset: i64, limit: i64) -> Result<(Vec<OutboxRecord>, i64)> {
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox").fetch_one(self.pool()).await?;
        let rows = sqlx::query_as(&format!("{OUTBOX_SELECT} ORDER BY id DESC LIMIT ? OFFSET ?"))
            .bind(limit)
            .bind(offset)
            .fetch_all(self.pool())
            .await?;
        Ok((rows, total))
    }

    /// Payments received on or after `since`: (date, amount).
    pub async fn payments_since(&self, since: NaiveDate) -> Result<Vec<(NaiveDate, Money)>> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT received_on, amount_cents FROM payments WHERE received_on >= ? ORDER BY received_on",
        )
        .bind(since.to_string())
        .fetch_all(self.pool())
        .await?;
        rows.into_iter().map(|(d, c)| Ok((parse_date(&d)?, Money::from_cents(c)))).collect()
    }

    /// What is owed on each open invoice of these accounts, for the aging
    /// report: (account, its name, due date, balance), by account.
    pub async fn open_balances(
        &self,
        accounts: Option<&[AccountId]>,
    ) -> Result<Vec<(AccountId, String, NaiveDate, Money)>> {
        let only = accounts
            .map(|a| serde_json::to_string(&a.iter().map(AccountId::as_str).collect::<Vec<_>>()))
            .transpose()?;
        let rows: Vec<(AccountId, String, String, i64)> = sqlx::query_as(&format!(
            "{OPEN} SELECT o.account_id, a.name, o.due_on, o.cents FROM open o JOIN accounts a ON a.id = o.account_id
             WHERE ?1 IS NULL OR o.account_id IN (SELECT value FROM json_each(?1)) ORDER BY o.account_id"
        ))
        .bind(only)
        .fetch_all(self.pool())
        .await?;
        rows.into_iter().map(|(a, n, d, c)| Ok((a, n, parse_date(&d)?, Money::from_cents(c)))).collect()
    }

    /// What is owed in all, per due date: the aging report's totals.
    pub async fn open_by_due(&self) -> Result<Vec<(NaiveDate, Money)>> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as(&format!("{OPEN} SELECT due_on, SUM(cents) FROM open GROUP BY due_on"))
                .fetch_all(self.pool())
                .await?;
        rows.into_iter().map(|(d, c)| Ok((parse_date(&d)?, Money::from_cents(c)))).collect()
    }

    /// The accounts that owe the most, largest first (at most `n`).
    pub async fn largest_balances(&self, n: i64) -> Result<Vec<AccountId>> {
        Ok(sqlx::query_scalar(&format!(
            "{OPEN} SELECT account_id FROM open GROUP BY account_id ORDER BY SUM(cents) DESC, account_id LIMIT ?"
        ))
        .bind(n)
        .fetch_all(self.pool())
        .await?)
    }

    /// A page of the accounts with something owed, by id; and how many in all.
    pub async fn owing_accounts(&self, offset: i64, limit: i64) -> Result<(Vec<AccountId>, i64)> {
        let total: i64 = sqlx::query_scalar(&format!("{OPEN} SELECT COUNT(DISTINCT account_id) FROM open"))
            .fetch_one(self.pool())
            .await?;
        let ids = sqlx::query_scalar(&format!(
            "{OPEN} SELECT DISTINCT account_id FROM open ORDER BY account_id LIMIT ? OFFSET ?"
        ))
        .bind(limit)
        .bind(offset)
        .fetch_all(self.pool())
        .await?;
        Ok((ids, total))
    }

    /// The PDF an invoice's email carried, once made (the newest, if it was sent again).
    pub async fn invoice_attachment(&self, invoice_id: i64) -> Result<Option<Vec<u8>>> {
        Ok(sqlx::query_scalar(
            "SELECT attachment FROM outbox WHERE invoice_id = ? AND attachment IS NOT NULL ORDER BY id DESC LIMIT 1",
        )
        .bind(invoice_id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// An account's payments, newest first: (id, received, amount, method, reference, source).
    pub async fn payments_of(&self, account: &AccountId) -> Result<Vec<PaymentRow>> {
        Ok(sqlx::query_as(
            "SELECT id, received_on, amount_cents, method, reference, source FROM payments
             WHERE account_id = ? ORDER BY received_on DESC, id DESC",
        )
        .bind(account)
        .fetch_all(self.pool())
        .await?)
    }
}

/// A payment as an account page lists it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct PaymentRow {
    pub id: i64,
    pub received_on: String,
    pub amount_cents: i64,
    pub method: String,
    pub reference: Option<String>,
    pub source: String,
}
