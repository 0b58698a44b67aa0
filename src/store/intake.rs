//! Messages taken in, the review queue, and IMAP high-water marks.

use std::collections::HashMap;

use anyhow::{Result, bail};
use chrono::{DateTime, Utc};
use sqlx::{QueryBuilder, Row, Sqlite};

use super::{Store, Tx, instant};
use crate::domain::manual::ReviewState;
use crate::domain::{AccountId, InvoiceNumber};

/// A message to store, with what was read from it.
#[derive(Clone, Debug)]
pub struct NewMessage<'a> {
    pub dedupe_key: &'a str,
    pub message_id: Option<&'a str>,
    pub source: &'a str,
    pub folder: Option<&'a str>,
    pub uidvalidity: Option<u32>,
    pub uid: Option<u32>,
    pub raw: &'a [u8],
    pub from: &'a str,
    pub subject: &'a str,
    pub kind: &'a str,
    pub confidence: &'a str,
    pub reading: &'a str,
    pub disposition: &'a str,
}

#[derive(Clone, Debug)]
pub struct StoredMessage {
    pub id: i64,
    pub disposition: String,
    pub moved_to: Option<String>,
}

/// A review item for a message, the way [`Tx::insert_review`] writes one.
#[derive(Clone, Debug)]
pub struct NewReview<'a> {
    pub message: i64,
    pub kind: &'a str,
    pub from: &'a str,
    pub subject: &'a str,
    pub reasons: &'a [String],
}

/// Statements that name many rows at once (`IN (...)`, `VALUES ...`) name at
/// most this many: at 14 values a row (a message) 2,800 bound values, well
/// under SQLite's limit of 32,766.
const ROWS_PER_STATEMENT: usize = 200;

/// A message over this many bytes is stored by a statement of its own
/// (see [`Tx::insert_messages`]).
const ALONE_BYTES: usize = 1024 * 1024;

/// `WITH e(v) AS (VALUES (?), (?), ...) ` over `values`: a per-row
/// question asked of each value in one statement, with the same SQL as the
/// question asked of one.
fn with_values<'a>(values: &[&'a str]) -> QueryBuilder<'a, Sqlite> {
    let mut q = QueryBuilder::new("WITH e(v) AS (VALUES ");
    let mut list = q.separated(", ");
    for v in values {
        list.push("(").push_bind_unseparated(*v).push_unseparated(")");
    }
    q.push(") ");
    q
}

/// An item of the review queue (`review list --json` prints it as it is).
#[derive(Clone, Debug, serde::Serialize, sqlx::FromRow)]
pub struct ReviewRecord {
    pub id: i64,
    /// The received message it is about, or
    #[sqlx(rename = "message_id")]
    pub message: Option<i64>,
    /// billmail's own notice it is about (sent to accounting to pass on).
    #[sqlx(rename = "outbox_id")]
    pub outbox: Option<i64>,
    pub kind: String,
    #[sqlx(rename = "from_addr")]
    pub from: String,
    pub subject: String,
    /// Stored as a JSON array.
    #[sqlx(json)]
    pub reasons: Vec<String>,
    pub state: String,
    pub created_at: String,
    pub decided_at: Option<String>,
    pub decision_reason: Option<String>,
    /// Who decided it: a console user's name, or `cli`.
    pub decided_by: Option<String>,
}

impl Tx {
    pub async fn find_message(&mut self, dedupe_key: &str) -> Result<Option<StoredMessage>> {
        let row = sqlx::query("SELECT id, disposition, moved_to FROM messages WHERE dedupe_key = ?")
            .bind(dedupe_key)
            .fetch_optional(self.conn())
            .await?;
        Ok(row.map(|r| StoredMessage {
            id: r.get("id"),
            disposition: r.get("disposition"),
            moved_to: r.get("moved_to"),
        }))
    }

    /// The stored messages among `keys`, by their dedupe key: what
    /// [`Tx::find_message`] says of each, in one statement per
    /// [`ROWS_PER_STATEMENT`] keys.
    pub async fn messages_keyed(&mut self, keys: &[&str]) -> Result<HashMap<String, StoredMessage>> {
        let mut found = HashMap::new();
        for chunk in keys.chunks(ROWS_PER_STATEMENT) {
            let mut q =
                QueryBuilder::new("SELECT dedupe_key, id, disposition, moved_to FROM messages WHERE dedupe_key IN (");
            let mut list = q.separated(", ");
            for k in chunk {
                list.push_bind(*k);
            }
            q.push(")");
            for r in q.build().fetch_all(self.conn()).await? {
                let stored =
                    StoredMessage { id: r.get("id"), disposition: r.get("disposition"), moved_to: r.get("moved_to") };
                found.insert(r.get("dedupe_key"), stored);
            }
        }
        Ok(found)
    }

    pub async fn insert_message(&mut self, m: &NewMessage<'_>, now: DateTime<Utc>) -> Result<i64> {
        Ok(sqlx::query(
            "INSERT INTO messages (dedupe_key, message_id, source, folder, uidvalidity, uid, raw, from_addr, subject,
               kind, confidence, reading, disposition, received_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(m.dedupe_key)
        .bind(m.message_id)
        .bind(m.source)
        .bind(m.folder)
        .bind(m.uidvalidity.map(i64::from))
        .bind(m.uid.map(i64::from))
        .bind(m.raw)
        .bind(m.from)
        .bind(m.subject)
        .bind(m.kind)
        .bind(m.confidence)
        .bind(m.reading)
        .bind(m.disposition)
        .bind(instant(now))
        .execute(self.conn())
        .await?
        .last_insert_rowid())
    }

    /// Where a message already stored now sits in the mailbox (after a UIDVALIDITY change).
    pub async fn relocate_message(&mut self, id: i64, folder: &str, uidvalidity: u32, uid: u32) -> Result<()> {
        sqlx::query("UPDATE messages SET folder = ?, uidvalidity = ?, uid = ? WHERE id = ?")
            .bind(folder)
            .bind(i64::from(uidvalidity))
            .bind(i64::from(uid))
            .bind(id)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Stores messages as [`Tx::insert_message`] does each, in one statement
    /// per [`ROWS_PER_STATEMENT`]; their ids, in the order given. Their
    /// dedupe keys must differ. A message over [`ALONE_BYTES`] is stored by a
    /// statement of its own: in a statement of many rows its bytes took
    /// 30 to 50 MiB more at the peak of a tick of 24 MiB messages
    /// (`MAIL_BENCH=large cargo bench --bench mail`: 205 and 226 MiB against
    /// 176), and one statement more is nothing beside such a message.
    pub async fn insert_messages(&mut self, ms: &[NewMessage<'_>], now: DateTime<Utc>) -> Result<Vec<i64>> {
        let mut ids = Vec::with_capacity(ms.len());
        let mut small = 0;
        for (i, m) in ms.iter().enumerate() {
            if m.raw.len() > ALONE_BYTES {
                ids.extend(self.insert_rows(&ms[small..i], now).await?);
                ids.push(self.insert_message(m, now).await?);
                small = i + 1;
            }
        }
        ids.extend(self.insert_rows(&ms[small..], now).await?);
        Ok(ids)
    }

    /// Small messages stored together: one statement per [`ROWS_PER_STATEMENT`].
    async fn insert_rows(&mut self, ms: &[NewMessage<'_>], now: DateTime<Utc>) -> Result<Vec<i64>> {
        let mut ids = Vec::with_capacity(ms.len());
        let received = instant(now);
        for chunk in ms.chunks(ROWS_PER_STATEMENT) {
            let mut q = QueryBuilder::new(
                "INSERT INTO messages (dedupe_key, message_id, source, folder, uidvalidity, uid, raw, from_addr, subject,
                   kind, confidence, reading, disposition, received_at) ",
            );
            q.push_values(chunk, |mut row, m| {
                row.push_bind(m.dedupe_key)
                    .push_bind(m.message_id)
                    .push_bind(m.source)
                    .push_bind(m.folder)
                    .push_bind(m.uidvalidity.map(i64::from))
                    .push_bind(m.uid.map(i64::from))
                    .push_bind(m.raw)
                    .push_bind(m.from)
                    .push_bind(m.subject)
                    .push_bind(m.kind)
                    .push_bind(m.confidence)
                    .push_bind(m.reading)
                    .push_bind(m.disposition)
                    .push_bind(received.clone());
            });
            // RETURNING gives the rows in no set order: each id is matched by its key
            q.push(" RETURNING dedupe_key, id");
            let rows: HashMap<String, i64> = q.build_query_as().fetch_all(self.conn()).await?.into_iter().collect();
            for m in chunk {
                match rows.get(m.dedupe_key) {
                    Some(id) => ids.push(*id),
                    None => bail!("the message {} was not stored", m.dedupe_key),
                }
            }
        }
        Ok(ids)
    }

    /// Opens review items as [`Tx::insert_review`] does each, in one
    /// statement per [`ROWS_PER_STATEMENT`] items.
    pub async fn insert_reviews(&mut self, items: &[NewReview<'_>], now: DateTime<Utc>) -> Result<()> {
        let created = instant(now);
        for chunk in items.chunks(ROWS_PER_STATEMENT) {
            let mut q = QueryBuilder::new(
                "INSERT INTO review_items (message_id, kind, from_addr, subject, reasons, created_at) ",
            );
            let mut reasons = Vec::with_capacity(chunk.len());
            for item in chunk {
                reasons.push(serde_json::to_string(item.reasons)?);
            }
            q.push_values(chunk.iter().zip(reasons), |mut row, (item, reasons)| {
                row.push_bind(item.message)
                    .push_bind(item.kind)
                    .push_bind(item.from)
                    .push_bind(item.subject)
                    .push_bind(reasons)
                    .push_bind(created.clone());
            });
            q.build().execute(self.conn()).await?;
        }
        Ok(())
    }

    pub async fn insert_review(
        &mut self,
        message: i64,
        kind: &str,
        from: &str,
        subject: &str,
        reasons: &[String],
        now: DateTime<Utc>,
    ) -> Result<i64> {
        Ok(sqlx::query(
            "INSERT INTO review_items (message_id, kind, from_addr, subject, reasons, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(message)
        .bind(kind)
        .bind(from)
        .bind(subject)
        .bind(serde_json::to_string(reasons)?)
        .bind(instant(now))
        .execute(self.conn())
        .await?
        .last_insert_rowid())
    }

    /// Flags every contact with this address as bounced; returns the accounts.
    pub async fn flag_bounced(&mut self, email: &str, why: &str, now: DateTime<Utc>) -> Result<Vec<AccountId>> {
        let accounts: Vec<AccountId> = sqlx::query_scalar(
            "UPDATE contacts SET bounced_at = ? WHERE email = ? AND bounced_at IS NULL RETURNING account_id",
        )
        .bind(instant(now))
        .bind(email)
        .fetch_all(self.conn())
        .await?;
        let mut unique = accounts.clone();
        unique.sort();
        unique.dedup();
        for a in &unique {
            self.history(a, now, "bounce", &format!("mail to {email} bounced ({why}); the address is flagged")).await?;
        }
        Ok(unique)
    }

    /// Clears the bounce flag of `email` on `account`; false when it had none.
    pub async fn restore_contact(
        &mut self,
        account: &AccountId,
        email: &str,
        why: &str,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let n = sqlx::query(
            "UPDATE contacts SET bounced_at = NULL WHERE account_id = ? AND lower(email) = ? AND bounced_at IS NOT NULL",
        )
        .bind(account)
        .bind(email.to_ascii_lowercase())
        .execute(self.conn())
        .await?
        .rows_affected();
        if n > 0 {
            self.history(account, now, "bounce", &format!("{email} restored ({why}); mail goes to it again")).await?;
        }
        Ok(n > 0)
    }

    /// Accounts where `email` is a flagged contact.
    pub async fn flagged_accounts_of(&mut self, email: &str) -> Result<Vec<AccountId>> {
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT account_id FROM contacts WHERE lower(email) = ? AND bounced_at IS NOT NULL ORDER BY account_id",
        )
        .bind(email.to_ascii_lowercase())
        .fetch_all(self.conn())
        .await?)
    }

    /// (email, role, bounced_at) of an account's contacts, in their order.
    pub async fn contacts_of(&mut self, account: &AccountId) -> Result<Vec<(String, String, Option<String>)>> {
        Ok(sqlx::query_as("SELECT email, role, bounced_at FROM contacts WHERE account_id = ? ORDER BY role, position")
            .bind(account)
            .fetch_all(self.conn())
            .await?)
    }

    pub async fn set_folder_mark(&mut self, folder: &str, uidvalidity: u32, last_uid: u32) -> Result<()> {
        sqlx::query(
            "INSERT INTO imap_folders (folder, uidvalidity, last_seen_uid) VALUES (?, ?, ?)
             ON CONFLICT (folder) DO UPDATE SET uidvalidity = excluded.uidvalidity, last_seen_uid = excluded.last_seen_uid",
        )
        .bind(folder)
        .bind(i64::from(uidvalidity))
        .bind(i64::from(last_uid))
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// The first connection to `folder`: when, and what it left for people.
    pub async fn record_start(
        &mut self,
        folder: &str,
        left: usize,
        since: Option<chrono::NaiveDate>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        sqlx::query("UPDATE imap_folders SET started_at = ?, left_at_start = ?, start_since = ? WHERE folder = ?")
            .bind(instant(now))
            .bind(left as i64)
            .bind(since.map(|d| d.to_string()))
            .bind(folder)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// A review item's state, for `domain::manual::decide`.
    pub async fn review_state(&mut self, id: i64) -> Result<Option<ReviewState>> {
        let row: Option<(String, Option<String>, Option<String>)> =
            sqlx::query_as("SELECT state, decided_at, decision_reason FROM review_items WHERE id = ?")
                .bind(id)
                .fetch_optional(self.conn())
                .await?;
        Ok(row.map(|(state, decided_at, decision)| ReviewState { state, decided_at, decision }))
    }

    /// Rejects an open review item (`domain::manual::decide` said it may be).
    pub async fn reject_review(&mut self, id: i64, reason: &str, by: &str, now: DateTime<Utc>) -> Result<()> {
        let n = sqlx::query(
            "UPDATE review_items SET state = 'rejected', decided_at = ?, decision_reason = ?, decided_by = ? WHERE id = ? AND state = 'open'",
        )
        .bind(instant(now))
        .bind(reason)
        .bind(by)
        .bind(id)
        .execute(self.conn())
        .await?
        .rows_affected();
        if n != 1 {
            bail!("review item #{id} changed while it was being rejected");
        }
        Ok(())
    }
}

impl Store {
    pub async fn folder_mark(&self, folder: &str) -> Result<Option<(u32, u32)>> {
        let row: Option<(i64, i64)> =
            sqlx::query_as("SELECT uidvalidity, last_seen_uid FROM imap_folders WHERE folder = ?")
                .bind(folder)
                .fetch_optional(self.pool())
                .await?;
        Ok(row.map(|(v, u)| (v as u32, u as u32)))
    }

    /// Each folder's first connection: (folder, when, messages left, since).
    pub async fn folder_starts(&self) -> Result<Vec<(String, String, i64, Option<String>)>> {
        Ok(sqlx::query_as(
            "SELECT folder, started_at, left_at_start, start_since FROM imap_folders WHERE started_at IS NOT NULL ORDER BY folder",
        )
        .fetch_all(self.pool())
        .await?)
    }

    /// Messages of this folder whose move was decided but not yet done.
    pub async fn pending_moves(&self, folder: &str, uidvalidity: u32) -> Result<Vec<(i64, u32, String)>> {
        let rows: Vec<(i64, i64, String)> = sqlx::query_as(
            "SELECT id, uid, disposition FROM messages
             WHERE source = 'imap' AND folder = ? AND uidvalidity = ? AND moved_to IS NULL AND disposition != 'left'
             ORDER BY uid",
        )
        .bind(folder)
        .bind(i64::from(uidvalidity))
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(|(id, uid, d)| (id, uid as u32, d)).collect())
    }

    /// Records messages as moved to `to`, in one statement (a move names up
    /// to [`crate::inbox::SET`] of them).
    pub async fn mark_moved(&self, ids: &[i64], to: &str) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut q = sqlx::QueryBuilder::new("UPDATE messages SET moved_to = ");
        q.push_bind(to).push(" WHERE id IN (");
        let mut list = q.separated(", ");
        for id in ids {
            list.push_bind(*id);
        }
        q.push(")");
        q.build().execute(self.pool()).await?;
        Ok(())
    }

    pub async fn reviews(&self, open_only: bool) -> Result<Vec<ReviewRecord>> {
        Ok(sqlx::query_as("SELECT * FROM review_items WHERE (?1 = 0 OR state = 'open') ORDER BY id")
            .bind(open_only as i64)
            .fetch_all(self.pool())
            .await?)
    }

    /// A review item with the stored reading and the raw message.
    pub async fn review(&self, id: i64) -> Result<Option<(ReviewRecord, String, Vec<u8>)>> {
        let Some(item): Option<ReviewRecord> =
            sqlx::query_as("SELECT * FROM review_items WHERE id = ?").bind(id).fetch_optional(self.pool()).await?
        else {
            return Ok(None);
        };
        let (reading, raw): (String, Vec<u8>) = match (item.message, item.outbox) {
            (Some(m), _) => {
                sqlx::query_as("SELECT reading, raw FROM messages WHERE id = ?").bind(m).fetch_one(self.pool()).await?
            }
            (None, o) => {
                let (to, subject, text): (String, String, String) =
                    sqlx::query_as("SELECT to_addrs, subject, body_text FROM outbox WHERE id = ?")
                        .bind(o)
                        .fetch_one(self.pool())
                        .await?;
                ("{}".into(), format!("To: {to}\nSubject: {subject}\n\n{text}").into_bytes())
            }
        };
        Ok(Some((item, reading, raw)))
    }

    pub async fn message_count(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM messages").fetch_one(self.pool()).await?)
    }
}

/// Lookups and writes for acting on a reading, inside the intake transaction.
impl Tx {
    /// Accounts whose billing or authorized contacts include `email`.
    pub async fn accounts_of_contact(&mut self, email: &str) -> Result<Vec<AccountId>> {
        Ok(sqlx::query_scalar("SELECT DISTINCT account_id FROM contacts WHERE email = ? ORDER BY account_id")
            .bind(email.to_ascii_lowercase())
            .fetch_all(self.conn())
            .await?)
    }

    /// [`Tx::accounts_of_contact`] of each address (lowercase), in one
    /// statement per [`ROWS_PER_STATEMENT`]; every address given has an entry.
    pub async fn accounts_of_contacts(&mut self, emails: &[&str]) -> Result<HashMap<String, Vec<AccountId>>> {
        self.accounts_of_each(emails, "SELECT DISTINCT e.v, c.account_id FROM e JOIN contacts c ON c.email = e.v").await
    }

    /// [`Tx::flagged_accounts_of`] of each address (lowercase), as
    /// [`Tx::accounts_of_contacts`] does.
    pub async fn flagged_accounts_of_each(&mut self, emails: &[&str]) -> Result<HashMap<String, Vec<AccountId>>> {
        self.accounts_of_each(
            emails,
            "SELECT DISTINCT e.v, c.account_id FROM e JOIN contacts c ON lower(c.email) = e.v AND c.bounced_at IS NOT NULL",
        )
        .await
    }

    /// The accounts `select` (rows of address and account, over the
    /// addresses as `e(v)`) gives each address, in account order.
    async fn accounts_of_each(&mut self, emails: &[&str], select: &str) -> Result<HashMap<String, Vec<AccountId>>> {
        let lower: Vec<String> = emails.iter().map(|e| e.to_ascii_lowercase()).collect();
        let lower: Vec<&str> = lower.iter().map(String::as_str).collect();
        let mut found: HashMap<String, Vec<AccountId>> = lower.iter().map(|e| (e.to_string(), Vec::new())).collect();
        for chunk in lower.chunks(ROWS_PER_STATEMENT) {
            let mut q = with_values(chunk);
            q.push(select);
            let rows: Vec<(String, AccountId)> = q.build_query_as().fetch_all(self.conn()).await?;
            for (email, account) in rows {
                found.entry(email).or_default().push(account);
            }
        }
        for accounts in found.values_mut() {
            accounts.sort();
        }
        Ok(found)
    }

    /// [`Tx::standing`] of each account, by one statement per
    /// [`ROWS_PER_STATEMENT`]; an account not in the books is not named.
    pub async fn standings(
        &mut self,
        accounts: &[AccountId],
    ) -> Result<HashMap<AccountId, crate::domain::collections::Standing>> {
        let mut found = HashMap::new();
        for chunk in accounts.chunks(ROWS_PER_STATEMENT) {
            let mut q = QueryBuilder::new("SELECT id, status FROM accounts WHERE id IN (");
            let mut list = q.separated(", ");
            for a in chunk {
                list.push_bind(a.as_str());
            }
            q.push(")");
            let rows: Vec<(AccountId, String)> = q.build_query_as().fetch_all(self.conn()).await?;
            found.extend(rows.into_iter().map(|(a, s)| (a, crate::domain::collections::Standing::parse(&s))));
        }
        Ok(found)
    }

    pub async fn accounts_by_payer(&mut self, payer: &str) -> Result<Vec<AccountId>> {
        Ok(sqlx::query_scalar("SELECT DISTINCT account_id FROM payer_names WHERE lower(name) = lower(?)")
            .bind(payer.trim())
            .fetch_all(self.conn())
            .await?)
    }

    /// Automatic answers sent (or queued) to `email` since `since`.
    pub async fn answers_since(&mut self, email: &str, since: DateTime<Utc>) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM outbox WHERE kind IN ('change_confirmation', 'payment_receipt', 'review_acknowledgement')
             AND (',' || replace(to_addrs, ' ', '') || ',') LIKE ('%,' || ? || ',%') AND created_at >= ?",
        )
        .bind(email)
        .bind(instant(since))
        .fetch_one(self.conn())
        .await?)
    }

    /// [`Tx::answers_since`] for each address (as written), in one
    /// statement per [`ROWS_PER_STATEMENT`]; every address given has an entry.
    pub async fn answers_since_each(&mut self, emails: &[&str], since: DateTime<Utc>) -> Result<HashMap<String, i64>> {
        let mut found = HashMap::new();
        for chunk in emails.chunks(ROWS_PER_STATEMENT) {
            let mut q = with_values(chunk);
            q.push(
                "SELECT e.v, (SELECT COUNT(*) FROM outbox
                   WHERE kind IN ('change_confirmation', 'payment_receipt', 'review_acknowledgement')
                   AND (',' || replace(to_addrs, ' ', '') || ',') LIKE ('%,' || e.v || ',%') AND created_at >= ",
            );
            q.push_bind(instant(since)).push(") FROM e");
            let rows: Vec<(String, i64)> = q.build_query_as().fetch_all(self.conn()).await?;
            found.extend(rows);
        }
        Ok(found)
    }

    pub async fn payment_seen(&mut self, account: &AccountId, reference: &str, amount_cents: i64) -> Result<bool> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM payments WHERE account_id = ? AND reference = ? AND amount_cents = ?",
        )
        .bind(account)
        .bind(reference)
        .bind(amount_cents)
        .fetch_one(self.conn())
        .await?;
        Ok(n > 0)
    }

    /// The recipients (To and Cc) of the message billmail queued with this
    /// Message-ID; None when it queued no such message.
    pub async fn sent_recipients(&mut self, message_id: &str) -> Result<Option<Vec<String>>> {
        let id = format!("<{}>", message_id.trim().trim_matches(['<', '>']));
        let row: Option<(String, String)> =
            sqlx::query_as("SELECT to_addrs, cc_addrs FROM outbox WHERE message_id = ?")
                .bind(&id)
                .fetch_optional(self.conn())
                .await?;
        Ok(row.map(|(to, cc)| {
            to.split(',')
                .chain(cc.split(','))
                .map(|a| a.trim().to_ascii_lowercase())
                .filter(|a| !a.is_empty())
                .collect()
        }))
    }

    /// A payment with this identity (`payment_identity` in intake) exists.
    pub async fn payment_identity_seen(&mut self, identity: &str) -> Result<bool> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM payments WHERE identity = ?")
            .bind(identity)
            .fetch_one(self.conn())
            .await?;
        Ok(n > 0)
    }

    pub async fn set_payment_identity(&mut self, payment: i64, identity: &str) -> Result<()> {
        sqlx::query("UPDATE payments SET identity = ? WHERE id = ?")
            .bind(identity)
            .bind(payment)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    pub async fn link_payment(&mut self, payment: i64, message: i64) -> Result<()> {
        sqlx::query("UPDATE payments SET message_id = ? WHERE id = ?")
            .bind(message)
            .bind(payment)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn insert_claim(
        &mut self,
        account: Option<&AccountId>,
        message: i64,
        amount_cents: Option<i64>,
        currency: Option<&str>,
        method: &str,
        reference: Option<&str>,
        invoices: &[InvoiceNumber],
        claimed_on: chrono::NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<i64> {
        let id = sqlx::query(
            "INSERT INTO claims (account_id, message_id, amount_cents, currency, method, reference, invoice_numbers, claimed_on, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(account)
        .bind(message)
        .bind(amount_cents)
        .bind(currency)
        .bind(method)
        .bind(reference)
        .bind(serde_json::to_string(invoices)?)
        .bind(claimed_on.to_string())
        .bind(instant(now))
        .execute(self.conn())
        .await?
        .last_insert_rowid();
        if let Some(a) = account {
            let amount = amount_cents
                .map(|c| crate::domain::Money::from_cents(c).to_string())
                .unwrap_or_else(|| "an amount not given".into());
            self.history(a, now, "claim", &format!("customer says {amount} was paid by {method}; waits for the money"))
                .await?;
        }
        Ok(id)
    }

    pub async fn set_disposition(&mut self, message: i64, disposition: &str) -> Result<()> {
        sqlx::query("UPDATE messages SET disposition = ? WHERE id = ?")
            .bind(disposition)
            .bind(message)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Name and billing addresses of an account.
    pub async fn account_contact(&mut self, account: &AccountId) -> Result<(String, Vec<String>)> {
        let name: String =
            sqlx::query_scalar("SELECT name FROM accounts WHERE id = ?").bind(account).fetch_one(self.conn()).await?;
        let billing: Vec<String> = sqlx::query_scalar(
            "SELECT email FROM contacts WHERE account_id = ? AND role = 'billing' AND bounced_at IS NULL ORDER BY position",
        )
        .bind(account)
        .fetch_all(self.conn())
        .await?;
        Ok((name, billing))
    }

    /// The latest month an agreement invoice was issued for, and the first month billed.
    pub async fn agreement_months(&mut self, account: &AccountId) -> Result<(Option<String>, String)> {
        let last: Option<String> =
            sqlx::query_scalar("SELECT MAX(period) FROM invoices WHERE account_id = ? AND kind = 'agreement'")
                .bind(account)
                .fetch_one(self.conn())
                .await?;
        let first: String = sqlx::query_scalar("SELECT first_period FROM accounts WHERE id = ?")
            .bind(account)
            .fetch_one(self.conn())
            .await?;
        Ok((last, first))
    }

    pub async fn open_review_of_message(&mut self, message: i64) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar("SELECT id FROM review_items WHERE message_id = ? AND state = 'open'")
            .bind(message)
            .fetch_optional(self.conn())
            .await?)
    }

    /// Closes an open item as approved (`domain::manual::decide` said it
    /// may be); gives the message it is about, if it is about a received one
    /// (None: one of billmail's own notices).
    pub async fn approve_review(
        &mut self,
        id: i64,
        decision: &str,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<i64>> {
        let row: Option<(Option<i64>,)> = sqlx::query_as(
            "UPDATE review_items SET state = 'approved', decided_at = ?, decision_reason = ?, decided_by = ? WHERE id = ? AND state = 'open' RETURNING message_id",
        )
        .bind(instant(now))
        .bind(decision)
        .bind(by)
        .bind(id)
        .fetch_optional(self.conn())
        .await?;
        row.map(|(m,)| m).ok_or_else(|| anyhow::anyhow!("review item #{id} changed while it was being approved"))
    }

    /// A review item about billmail's own notice `outbox`, which could go
    /// only to accounting.
    pub async fn insert_notice_review(
        &mut self,
        outbox: i64,
        kind: &str,
        subject: &str,
        reasons: &[String],
        now: DateTime<Utc>,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO review_items (outbox_id, kind, from_addr, subject, reasons, created_at) VALUES (?, ?, 'billmail', ?, ?, ?)",
        )
        .bind(outbox)
        .bind(kind)
        .bind(subject)
        .bind(serde_json::to_string(reasons)?)
        .bind(instant(now))
        .execute(self.conn())
        .await?;
        Ok(())
    }

    pub async fn message_raw(&mut self, message: i64) -> Result<Vec<u8>> {
        Ok(sqlx::query_scalar("SELECT raw FROM messages WHERE id = ?").bind(message).fetch_one(self.conn()).await?)
    }
}
