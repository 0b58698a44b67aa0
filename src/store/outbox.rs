//! The transactional outbox: every outgoing message, rendered, before it is sent.

use anyhow::Result;
use chrono::{DateTime, Utc};

use super::{Store, Tx, instant};
use crate::domain::AccountId;

#[derive(Clone, Debug)]
pub struct NewMail {
    pub kind: String,
    pub account: Option<AccountId>,
    pub invoice_id: Option<i64>,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub message_id: String,
    pub in_reply_to: Option<String>,
    pub references: Option<String>,
}

/// Addresses as the outbox keeps them: one column, comma-separated.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct Addresses(pub Vec<String>);

impl From<String> for Addresses {
    fn from(column: String) -> Addresses {
        Addresses(column.split(',').map(str::trim).filter(|x| !x.is_empty()).map(String::from).collect())
    }
}

impl std::ops::Deref for Addresses {
    type Target = Vec<String>;
    fn deref(&self) -> &Vec<String> {
        &self.0
    }
}

impl<'a> IntoIterator for &'a Addresses {
    type Item = &'a String;
    type IntoIter = std::slice::Iter<'a, String>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// An outgoing message as recorded (`outbox list --json` prints it as it is).
#[derive(Clone, Debug, serde::Serialize, sqlx::FromRow)]
pub struct OutboxRecord {
    pub id: i64,
    pub kind: String,
    #[sqlx(rename = "account_id")]
    pub account: Option<AccountId>,
    #[sqlx(rename = "to_addrs", try_from = "String")]
    pub to: Addresses,
    #[sqlx(rename = "cc_addrs", try_from = "String")]
    pub cc: Addresses,
    pub subject: String,
    pub message_id: String,
    pub in_reply_to: Option<String>,
    pub state: String,
    pub attempts: i64,
    pub next_attempt_at: String,
    pub last_error: Option<String>,
    pub created_at: String,
    pub sent_at: Option<String>,
    /// The attached file's name, once made (an invoice's or a statement's PDF).
    pub attachment: Option<String>,
}

/// A message due to be sent, with everything needed to send it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct QueuedMail {
    pub id: i64,
    pub kind: String,
    #[sqlx(rename = "to_addrs", try_from = "String")]
    pub to: Addresses,
    #[sqlx(rename = "cc_addrs", try_from = "String")]
    pub cc: Addresses,
    pub subject: String,
    #[sqlx(rename = "body_text")]
    pub text: String,
    #[sqlx(rename = "body_html")]
    pub html: String,
    pub message_id: String,
    pub in_reply_to: Option<String>,
    #[sqlx(rename = "references_hdr")]
    pub references: Option<String>,
    pub attempts: i64,
    /// The invoice it carries (its PDF is made before the first attempt).
    pub invoice_id: Option<i64>,
    /// The statement it carries (its PDF is made the same way).
    pub statement_id: Option<i64>,
    pub attachment_name: Option<String>,
    pub attachment: Option<Vec<u8>>,
}

impl Tx {
    /// Queues several messages with one statement per few hundred.
    pub async fn queue_mails(&mut self, mails: &[NewMail], now: DateTime<Utc>) -> Result<()> {
        for chunk in mails.chunks(400) {
            let one = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
            let sql = format!(
                "INSERT INTO outbox (kind, account_id, invoice_id, to_addrs, cc_addrs, subject, body_text, body_html,
                   message_id, in_reply_to, references_hdr, next_attempt_at, created_at) VALUES {}",
                vec![one; chunk.len()].join(", ")
            );
            let mut q = sqlx::query(&sql);
            for m in chunk {
                q = q
                    .bind(&m.kind)
                    .bind(&m.account)
                    .bind(m.invoice_id)
                    .bind(m.to.join(", "))
                    .bind(m.cc.join(", "))
                    .bind(&m.subject)
                    .bind(&m.text)
                    .bind(&m.html)
                    .bind(&m.message_id)
                    .bind(&m.in_reply_to)
                    .bind(&m.references)
                    .bind(instant(now))
                    .bind(instant(now));
            }
            q.execute(self.conn()).await?;
        }
        Ok(())
    }

    /// The id of the queued message with this Message-ID.
    pub async fn outbox_id(&mut self, message_id: &str) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT id FROM outbox WHERE message_id = ?")
            .bind(message_id)
            .fetch_one(self.conn())
            .await?)
    }

    /// Queues one message; returns its id.
    pub async fn queue_mail(&mut self, mail: &NewMail, now: DateTime<Utc>) -> Result<i64> {
        self.queue_mails(std::slice::from_ref(mail), now).await?;
        self.outbox_id(&mail.message_id).await
    }
}

impl Store {
    /// Queued messages whose next attempt is due at `now`, oldest first.
    pub async fn due_mail(&self, now: DateTime<Utc>, limit: i64) -> Result<Vec<QueuedMail>> {
        Ok(sqlx::query_as(
            "SELECT id, kind, to_addrs, cc_addrs, subject, body_text, body_html, message_id, in_reply_to,
                    references_hdr, attempts, invoice_id, statement_id, attachment_name, attachment
             FROM outbox WHERE state = 'queued' AND next_attempt_at <= ? ORDER BY id LIMIT ?",
        )
        .bind(instant(now))
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }

    /// How many messages are queued and failed, and when the earliest queued one is next due.
    pub async fn outbox_counts(&self) -> Result<(i64, i64, Option<String>)> {
        Ok(sqlx::query_as(
            "SELECT COALESCE(SUM(state = 'queued'), 0), COALESCE(SUM(state = 'failed'), 0),
                    MIN(CASE WHEN state = 'queued' THEN next_attempt_at END) FROM outbox",
        )
        .fetch_one(self.pool())
        .await?)
    }

    /// When the earliest queued message is next due, if any.
    pub async fn next_mail_attempt(&self) -> Result<Option<DateTime<Utc>>> {
        let next: Option<String> = sqlx::query_scalar("SELECT MIN(next_attempt_at) FROM outbox WHERE state = 'queued'")
            .fetch_one(self.pool())
            .await?;
        Ok(next.and_then(|s| DateTime::parse_from_rfc3339(&s).ok()).map(|t| t.with_timezone(&Utc)))
    }

    /// Counts an attempt before it is made (so a crash mid-send is seen).
    /// Claims a queued message for one sending attempt: counts the attempt
    /// and leases the row until `lease_until` (the machine's clock), unless
    /// another sender holds a lease on it. False: not ours to send.
    pub async fn claim_mail(&self, id: i64, lease_until: DateTime<Utc>) -> Result<bool> {
        let n = sqlx::query(
            "UPDATE outbox SET attempts = attempts + 1, lease_until = ?1
             WHERE id = ?2 AND state = 'queued' AND (lease_until IS NULL OR lease_until < ?3)",
        )
        .bind(instant(lease_until))
        .bind(id)
        .bind(instant(Utc::now()))
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Frees every lease: called by the one process that holds the instance
    /// lock, when it starts, since no other sender can be alive.
    pub async fn release_leases(&self) -> Result<()> {
        sqlx::query("UPDATE outbox SET lease_until = NULL WHERE lease_until IS NOT NULL").execute(self.pool()).await?;
        Ok(())
    }

    pub async fn mail_sent(&self, id: i64, now: DateTime<Utc>) -> Result<()> {
        sqlx::query(
            "UPDATE outbox SET state = 'sent', sent_at = ?, last_error = NULL, lease_until = NULL WHERE id = ?",
        )
        .bind(instant(now))
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Keeps the attachment made for a queued message: every attempt,
    /// this one and any retry, sends these bytes.
    pub async fn keep_attachment(&self, id: i64, name: &str, bytes: &[u8]) -> Result<()> {
        sqlx::query("UPDATE outbox SET attachment_name = ?, attachment = ? WHERE id = ? AND attachment IS NULL")
            .bind(name)
            .bind(bytes)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn mail_retry(&self, id: i64, next: DateTime<Utc>, error: &str) -> Result<()> {
        sqlx::query("UPDATE outbox SET next_attempt_at = ?, last_error = ?, lease_until = NULL WHERE id = ?")
            .bind(instant(next))
            .bind(error)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn mail_failed(&self, id: i64, error: &str) -> Result<()> {
        sqlx::query("UPDATE outbox SET state = 'failed', last_error = ?, lease_until = NULL WHERE id = ?")
            .bind(error)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn outbox(&self) -> Result<Vec<OutboxRecord>> {
        Ok(sqlx::query_as(
            "SELECT id, kind, account_id, to_addrs, cc_addrs, subject, message_id, in_reply_to, state, attempts,
                    next_attempt_at, last_error, created_at, sent_at, attachment_name AS attachment
             FROM outbox ORDER BY id",
        )
        .fetch_all(self.pool())
        .await?)
    }

    /// The full text of one outgoing message (for `outbox show`), and its
    /// attachment's name and size once made.
    pub async fn outbox_bodies(
        &self,
        id: i64,
    ) -> Result<Option<(String, String, String, Option<String>, Option<i64>)>> {
        Ok(sqlx::query_as(
            "SELECT subject, body_text, body_html, attachment_name, length(attachment) FROM outbox WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?)
    }
}
