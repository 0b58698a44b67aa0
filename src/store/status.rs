//! What `billmail status` reports: the last events the program recorded,
//! and counts read from the books.

use anyhow::{Result, bail};
use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{Store, instant};
use crate::domain::AccountId;
use crate::domain::manual::Outgoing;

/// The kinds of event kept in `run_events` (the latest of each).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// The mailbox was read (or a message was ingested).
    Intake,
    /// A full cycle finished: billing, collections, the outbox.
    Cycle,
    /// Something failed.
    Error,
}

impl Event {
    fn as_str(self) -> &'static str {
        match self {
            Event::Intake => "intake",
            Event::Cycle => "cycle",
            Event::Error => "error",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recorded {
    pub at: String,
    pub detail: String,
}

#[derive(Clone, Debug)]
pub struct Hold {
    pub account: AccountId,
    pub status: String,
    pub since: Option<String>,
}

#[derive(Clone, Debug)]
pub struct StatusReport {
    pub last_intake: Option<Recorded>,
    pub last_cycle: Option<Recorded>,
    pub last_error: Option<Recorded>,
    pub queued: i64,
    pub failed: i64,
    pub next_attempt_at: Option<String>,
    pub review_open: i64,
    pub holds: Vec<Hold>,
    pub accounts: i64,
}

impl Store {
    /// Replaces the latest event of its kind. Never fails the caller's work:
    /// a status line is not worth losing a cycle over, so errors are logged.
    pub async fn record_event(&self, event: Event, now: DateTime<Utc>, detail: &str) {
        let res = sqlx::query(
            "INSERT INTO run_events (event, at, detail) VALUES (?, ?, ?)
             ON CONFLICT (event) DO UPDATE SET at = excluded.at, detail = excluded.detail",
        )
        .bind(event.as_str())
        .bind(instant(now))
        .bind(detail)
        .execute(self.pool())
        .await;
        if let Err(e) = res {
            tracing::warn!(error = %e, event = event.as_str(), "cannot record the event for `billmail status`");
        }
    }

    /// The moment the last cycle acted at.
    pub async fn last_cycle_at(&self) -> Result<Option<DateTime<Utc>>> {
        let at: Option<String> =
            sqlx::query_scalar("SELECT at FROM run_events WHERE event = 'cycle'").fetch_optional(self.pool()).await?;
        Ok(at.and_then(|a| DateTime::parse_from_rfc3339(&a).ok()).map(|t| t.with_timezone(&Utc)))
    }

    pub async fn status(&self) -> Result<StatusReport> {
        let mut events = std::collections::HashMap::new();
        for r in sqlx::query("SELECT event, at, detail FROM run_events").fetch_all(self.pool()).await? {
            events.insert(r.get::<String, _>("event"), Recorded { at: r.get("at"), detail: r.get("detail") });
        }
        let (queued, failed, next) = self.outbox_counts().await?;
        let review_open: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM review_items WHERE state = 'open'").fetch_one(self.pool()).await?;
        let accounts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM accounts").fetch_one(self.pool()).await?;
        let holds = sqlx::query("SELECT id, status, status_since FROM accounts WHERE status <> 'active' ORDER BY id")
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| Hold { account: r.get("id"), status: r.get("status"), since: r.get("status_since") })
            .collect();
        Ok(StatusReport {
            last_intake: events.remove("intake"),
            last_cycle: events.remove("cycle"),
            last_error: events.remove("error"),
            queued,
            failed,
            next_attempt_at: next,
            review_open,
            holds,
            accounts,
        })
    }

    /// An outgoing message's state, for `domain::manual::retry`.
    pub async fn outgoing(&self, id: i64) -> Result<Option<Outgoing>> {
        let row: Option<(String, i64, Option<String>, Option<String>)> =
            sqlx::query_as("SELECT state, attempts, last_error, sent_at FROM outbox WHERE id = ?")
                .bind(id)
                .fetch_optional(self.pool())
                .await?;
        Ok(row.map(|(state, attempts, last_error, sent_at)| Outgoing { state, attempts, sent_at, last_error }))
    }

    /// Queues a failed message again (`domain::manual::retry` said it may
    /// be), due at `now`, with a fresh count of attempts; `was` is what it
    /// had been, kept in its last error for whoever looks later.
    pub async fn requeue_mail(&self, id: i64, was: &Outgoing, now: DateTime<Utc>) -> Result<()> {
        let note = format!(
            "queued again by hand at {} after {} attempt(s); last error: {}",
            instant(now),
            was.attempts,
            was.last_error.as_deref().unwrap_or_default()
        );
        let n = sqlx::query(
            "UPDATE outbox SET state = 'queued', attempts = 0, next_attempt_at = ?, last_error = ? WHERE id = ? AND state = 'failed'",
        )
        .bind(instant(now))
        .bind(note)
        .bind(id)
        .execute(self.pool())
        .await?
        .rows_affected();
        if n != 1 {
            bail!("outgoing message #{id} changed while it was being queued again");
        }
        Ok(())
    }
}
