//! The outbox: what is due is sent over one connection per round, each row
//! claimed before it is sent and marked right after; temporary failures
//! retried with a doubling delay, on billmail's clock.

use anyhow::Result;
use chrono::{DateTime, Utc};

use crate::config::Company;
use crate::mail::smtp::{SendError, Sender};
use crate::render::{InvoiceDoc, Renderer};
use crate::store::{QueuedMail, Store};

/// What makes the PDFs that invoice emails carry.
#[derive(Clone, Copy)]
pub struct Pdfs<'a> {
    pub renderer: &'a Renderer,
    pub company: &'a Company,
}

/// Makes the PDF of the invoice or statement a queued message carries, once, before its
/// first attempt, and keeps it with the message: a retry sends the same
/// bytes. It is made here, when the outbox sends, and not while a billing
/// cycle holds its transaction. A PDF that cannot be made leaves the
/// message unsent (an error for the round, tried again next round).
async fn attach_pdf(store: &Store, pdfs: Pdfs<'_>, mail: &mut QueuedMail) -> Result<()> {
    if mail.attachment.is_some() {
        return Ok(());
    }
    let missing = |what: &str, id: i64| anyhow::anyhow!("outbox {}: its {what} #{id} is not in the books", mail.id);
    let (name, pdf) = match (mail.statement_id, mail.invoice_id) {
        (Some(id), _) => {
            let data = store.statement_data(id).await?.ok_or_else(|| missing("statement", id))?;
            let name = format!("{}.pdf", data["statement"]["number"].as_str().unwrap_or("statement"));
            (name, pdfs.renderer.statement_pdf(pdfs.company, &data)?)
        }
        (None, Some(id)) => {
            let (inv, lines) = store.invoice_by_id(id).await?.ok_or_else(|| missing("invoice", id))?;
            let doc = InvoiceDoc::of(&inv, lines, store.time_entries(id).await?);
            (doc.pdf_name(), pdfs.renderer.invoice_pdf(pdfs.company, &doc)?)
        }
        (None, None) => return Ok(()),
    };
    store.keep_attachment(mail.id, &name, &pdf).await?;
    mail.attachment_name = Some(name);
    mail.attachment = Some(pdf);
    Ok(())
}

/// Attempts after which a message that keeps failing temporarily is marked failed.
pub const MAX_ATTEMPTS: i64 = 10;

/// Wait before the next try after `attempt` temporary failures: 1, 2, 4, …
/// minutes, at most an hour (on billmail's clock, so `tick --now` later retries).
pub fn retry_delay(attempt: i64) -> chrono::Duration {
    let minutes = 1i64 << (attempt.clamp(1, 7) - 1);
    chrono::Duration::minutes(minutes.min(60))
}

/// What one delivery round did.
#[derive(Debug, Default)]
pub struct Delivery {
    pub sent: Vec<(i64, String)>,
    pub retrying: Vec<(i64, String, DateTime<Utc>)>,
    pub failed: Vec<(i64, String)>,
    /// The server could not be used (unreachable, or the login refused); the rest waits for the next round.
    pub unreachable: Option<String>,
}

impl Delivery {
    /// The round's trouble in one line, if it had any (for `billmail status`).
    pub fn problem(&self) -> Option<String> {
        let mut parts = Vec::new();
        if let Some(e) = &self.unreachable {
            parts.push(format!("the SMTP server cannot be used now: {e}"));
        }
        for (id, e) in &self.failed {
            parts.push(format!("outgoing message #{id} failed: {e}"));
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}

/// Records that the server accepted outbox row `id`. The mail is out: the
/// mark must be written, so a busy database (held by an admin's shell, a
/// backup) is waited out, for up to nine minutes, inside the row's
/// ten-minute lease, during which no sender takes the row again. Giving up
/// sooner would send the message a second time.
pub async fn mark_sent(store: &Store, id: i64, now: DateTime<Utc>) -> Result<()> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(9 * 60);
    let mut wait = std::time::Duration::from_millis(200);
    loop {
        match store.mail_sent(id, now).await {
            Ok(()) => return Ok(()),
            Err(e) if crate::store::is_temporary(&e) && std::time::Instant::now() < deadline => {
                tracing::warn!(outbox = id, error = %format!("{e:#}"), "sent, but the database is busy: recording it again");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(std::time::Duration::from_secs(10));
            }
            Err(e) => return Err(e.context(format!("outbox {id} was sent but could not be marked sent"))),
        }
    }
}

/// Sends every queued message that is due, over one connection that is
/// closed (QUIT) when the round ends. Each attempt is counted before it is
/// made and each result recorded right after, so a crash can cause at most
/// one duplicate: a message the server accepted just before the crash.
pub async fn deliver(store: &Store, sender: &Sender, pdfs: Pdfs<'_>, now: DateTime<Utc>) -> Result<Delivery> {
    let round = deliver_due(store, sender, pdfs, now).await;
    sender.close().await;
    // the PDFs of the round are made: their worker ends, and Typst leaves memory with it
    pdfs.renderer.finish_pdfs();
    round
}

async fn deliver_due(store: &Store, sender: &Sender, pdfs: Pdfs<'_>, now: DateTime<Utc>) -> Result<Delivery> {
    let mut d = Delivery::default();
    if store.next_mail_attempt().await?.is_none_or(|next| next > now) {
        return Ok(d);
    }
    if let Err(e) = sender.prepare(now).await {
        // no login possible (an OAuth2 token refused): nothing is attempted
        d.unreachable = Some(format!("{e:#}"));
        return Ok(d);
    }
    loop {
        let due = store.due_mail(now, 200).await?;
        if due.is_empty() {
            break;
        }
        for mut m in due {
            // claimed first: no two senders ever send one row
            if !store.claim_mail(m.id, Utc::now() + chrono::Duration::minutes(10)).await? {
                continue;
            }
            let attempt = m.attempts + 1;
            // never sent without its PDF: a PDF not made is a temporary failure, retried like one
            let outcome = match attach_pdf(store, pdfs, &mut m).await {
                Err(e) => Err(SendError::Temporary(format!("the PDF attachment could not be made: {e:#}"))),
                Ok(()) => sender.send(&m, now).await,
            };
            match outcome {
                Ok(()) => {
                    mark_sent(store, m.id, now).await?;
                    tracing::info!(outbox = m.id, kind = %m.kind, to = %m.to.join(", "), "sent");
                    d.sent.push((m.id, m.subject));
                }
                Err(SendError::Permanent(e)) => {
                    store.mail_failed(m.id, &e).await?;
                    tracing::warn!(outbox = m.id, error = %e, "refused for good");
                    d.failed.push((m.id, e));
                }
                Err(SendError::Temporary(e) | SendError::Unavailable(e)) if attempt >= MAX_ATTEMPTS => {
                    let why = format!("gave up after {attempt} attempts: {e}");
                    store.mail_failed(m.id, &why).await?;
                    d.failed.push((m.id, why));
                }
                Err(err @ (SendError::Temporary(_) | SendError::Unavailable(_))) => {
                    // Unavailable: the server (or the login) is the trouble, so the rest waits for the next round
                    let whole_round = matches!(err, SendError::Unavailable(_));
                    let e = err.reason().to_string();
                    let next = now + retry_delay(attempt);
                    store.mail_retry(m.id, next, &e).await?;
                    tracing::warn!(outbox = m.id, error = %e, %next, whole_round, "will retry");
                    d.retrying.push((m.id, e.clone(), next));
                    if whole_round {
                        d.unreachable = Some(e);
                        return Ok(d);
                    }
                }
            }
        }
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::retry_delay;

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        let m: Vec<i64> = (1..=9).map(|a| retry_delay(a).num_minutes()).collect();
        assert_eq!(m, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
    }
}
