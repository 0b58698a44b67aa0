//! The transactional outbox: every outgoing message, rendered, before it is sent.

use anyhow::Result;
use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{Store, Tx, instant};

#[derive(Clone, Debug)]
pub struct NewMail {
    pub kind: String,
    pub account: Option<String>,
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

#[derive(Clone, Debug)]
pub struct OutboxRecord {
    pub id: i64,
    pub kind: String,
    pub account: Option<String>,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub subject: String,
    pub message_id: String,
    pub state: String,
    pub attempts: i64,
    pub next_attempt_at: String,
    pub last_error: Option<String>,
    pub created_at: String,
    pub sent_at: Option<String>,
}

fn split(s: &str) -> Vec<String> {
    s.split(',').map(str::trim).filter(|x| !x.is_empty()).map(String::from).collect()
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

    pub async fn queue_mail(&mut self, mail: &NewMail, now: DateTime<Utc>) -> Result<i64> {
        let id = sqlx::query(
            "INSERT INTO outbox (kind, account_id, invoice_id, to_addrs, cc_addrs, subject, body_text, body_html,
               message_id, in_reply_to, references_hdr, next_attempt_at, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&mail.kind)
        .bind(&mail.account)
        .bind(mail.invoice_id)
        .bind(mail.to.join(", "))
        .bind(mail.cc.join(", "))
        .bind(&mail.subject)
        .bind(&mail.text)
        .bind(&mail.html)
        .bind(&mail.message_id)
        .bind(&mail.in_reply_to)
        .bind(&mail.references)
        .bind(instant(now))
        .bind(instant(now))
        .execute(self.conn())
        .await?
        .last_insert_rowid();
        Ok(id)
    }
}

impl Store {
    pub async fn outbox(&self) -> Result<Vec<OutboxRecord>> {
        let rows = sqlx::query(
            "SELECT id, kind, account_id, to_addrs, cc_addrs, subject, message_id, state, attempts, next_attempt_at,
                    last_error, created_at, sent_at FROM outbox ORDER BY id",
        )
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .iter()
            .map(|r| OutboxRecord {
                id: r.get("id"),
                kind: r.get("kind"),
                account: r.get("account_id"),
                to: split(r.get("to_addrs")),
                cc: split(r.get("cc_addrs")),
                subject: r.get("subject"),
                message_id: r.get("message_id"),
                state: r.get("state"),
                attempts: r.get("attempts"),
                next_attempt_at: r.get("next_attempt_at"),
                last_error: r.get("last_error"),
                created_at: r.get("created_at"),
                sent_at: r.get("sent_at"),
            })
            .collect())
    }

    /// The full text of one outgoing message (for `outbox show`).
    pub async fn outbox_bodies(&self, id: i64) -> Result<Option<(String, String, String)>> {
        Ok(sqlx::query_as("SELECT subject, body_text, body_html FROM outbox WHERE id = ?")
            .bind(id)
            .fetch_optional(self.pool())
            .await?)
    }
}
