//! Taking a message in: the same steps for one fetched over IMAP and one
//! given to `billmail ingest`. Deduplicate (Message-ID, else the bytes'
//! SHA-256), store the raw message, read it, decide where it goes, apply
//! what this version applies, and commit it all in one transaction. Moving
//! it in the mailbox happens only after that commit.

use anyhow::Result;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::reading::{Confidence, Kind, ReadError, Reading};
use crate::store::{NewMessage, Store, Tx};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// Handled by billmail: goes to the processed folder.
    Processed,
    /// A person must decide: the review queue and the review folder.
    Review,
    /// Not billing mail: stays where it is, for people.
    Left,
}

impl Disposition {
    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::Processed => "processed",
            Disposition::Review => "review",
            Disposition::Left => "left",
        }
    }
    pub fn parse(s: &str) -> Disposition {
        match s {
            "processed" => Disposition::Processed,
            "review" => Disposition::Review,
            _ => Disposition::Left,
        }
    }
}

/// Where a message came from.
#[derive(Clone, Copy, Debug)]
pub struct Origin<'a> {
    pub folder: Option<&'a str>,
    pub uidvalidity: Option<u32>,
    pub uid: Option<u32>,
}

impl Origin<'_> {
    pub const INGEST: Origin<'static> = Origin { folder: None, uidvalidity: None, uid: None };
}

#[derive(Clone, Debug)]
pub struct Taken {
    pub id: i64,
    pub duplicate: bool,
    /// Already moved to its folder (a duplicate seen again).
    pub moved: bool,
    pub disposition: Disposition,
    pub kind: String,
    pub subject: String,
    pub reasons: Vec<String>,
}

/// Where a reading sends a message, and why (pure). Until billmail applies
/// readings by itself, every billing reading waits for a person.
pub fn decide(reading: &Result<Reading, ReadError>) -> (Disposition, Vec<String>) {
    match reading {
        Err(e) => (Disposition::Review, vec![format!("could not be read as a message: {e}")]),
        Ok(r) => match r.kind {
            Kind::AutoReply | Kind::Bounce => (Disposition::Processed, r.reasons.clone()),
            Kind::Other => (Disposition::Left, vec![]),
            Kind::UserChange | Kind::Payment => {
                let mut reasons = r.reasons.clone();
                if r.confidence == Confidence::High {
                    reasons.push("read with certainty; this version does not yet apply changes by itself".into());
                }
                (Disposition::Review, reasons)
            }
        },
    }
}

/// The key that makes a message the same message when seen again.
pub fn dedupe_key(raw: &[u8], reading: &Result<Reading, ReadError>) -> String {
    match reading.as_ref().ok().and_then(|r| r.message_id.clone()) {
        Some(id) => format!("mid:{id}"),
        None => format!("sha256:{:x}", Sha256::digest(raw)),
    }
}

/// Takes one message in, in its own transaction.
pub async fn take_in(store: &Store, raw: &[u8], origin: Origin<'_>, now: DateTime<Utc>) -> Result<Taken> {
    let mut tx = store.begin().await?;
    let taken = take_in_tx(&mut tx, raw, origin, now).await?;
    tx.commit().await?;
    tracing::info!(message = taken.id, kind = %taken.kind, disposition = taken.disposition.as_str(), "taken in");
    Ok(taken)
}

/// Takes one message in within `tx` (a batch of messages shares one).
pub async fn take_in_tx(tx: &mut Tx, raw: &[u8], origin: Origin<'_>, now: DateTime<Utc>) -> Result<Taken> {
    let reading = crate::reading::read(raw);
    let key = dedupe_key(raw, &reading);
    let (disposition, reasons) = decide(&reading);
    let (kind, from, subject, confidence, json) = match &reading {
        Ok(r) => (
            serde_json::to_value(r.kind)?.as_str().unwrap_or("other").to_string(),
            r.from.clone(),
            r.subject.clone(),
            if r.confidence == Confidence::High { "high" } else { "low" },
            serde_json::to_string(r)?,
        ),
        Err(e) => (
            "unreadable".to_string(),
            String::new(),
            String::new(),
            "low",
            serde_json::json!({ "error": e.to_string() }).to_string(),
        ),
    };
    if let Some(seen) = tx.find_message(&key).await? {
        if let (Some(folder), Some(v), Some(uid)) = (origin.folder, origin.uidvalidity, origin.uid) {
            tx.relocate_message(seen.id, folder, v, uid).await?;
        }
        return Ok(Taken {
            id: seen.id,
            duplicate: true,
            moved: seen.moved_to.is_some(),
            disposition: Disposition::parse(&seen.disposition),
            kind,
            subject,
            reasons: vec![],
        });
    }
    let id = tx
        .insert_message(
            &NewMessage {
                dedupe_key: &key,
                message_id: reading.as_ref().ok().and_then(|r| r.message_id.as_deref()),
                source: if origin.folder.is_some() { "imap" } else { "ingest" },
                folder: origin.folder,
                uidvalidity: origin.uidvalidity,
                uid: origin.uid,
                raw,
                from: &from,
                subject: &subject,
                kind: &kind,
                confidence,
                reading: &json,
                disposition: disposition.as_str(),
            },
            now,
        )
        .await?;
    if let Ok(r) = &reading
        && let Some(b) = &r.bounce
    {
        let why = format!(
            "{}, message {}",
            b.status.as_deref().unwrap_or("delivery failed"),
            b.original_message_id.as_deref().unwrap_or("unknown")
        );
        for addr in &b.failed_recipients {
            tx.flag_bounced(addr, &why, now).await?;
        }
    }
    if disposition == Disposition::Review {
        tx.insert_review(id, &kind, &from, &subject, &reasons, now).await?;
    }
    Ok(Taken { id, duplicate: false, moved: false, disposition, kind, subject, reasons })
}
