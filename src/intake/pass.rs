//! One pass over a mailbox: the messages after the folder's mark, in
//! batches; each batch proven, taken in and committed in one transaction
//! with the new mark, then moved. A move left undone by a crash is finished
//! first on the next pass. Any error from the books rolls the batch back:
//! nothing of it is recorded, the mark stays, nothing is moved.

use anyhow::{Result, anyhow};
use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use super::{Actor, Origin, Taken, prove, take_in_tx};
use crate::inbox::{self, Disposition, MailSource, Search};
use crate::store::Store;

#[derive(Debug, Default)]
pub struct IntakeReport {
    pub processed: usize,
    pub review: usize,
    pub left: usize,
    pub duplicates: usize,
    pub resynced: bool,
    /// The first connection to the mailbox: how many messages already there
    /// were left for people.
    pub first_day: Option<usize>,
    pub taken: Vec<Taken>,
}

impl IntakeReport {
    /// One line: what this pass over the mailbox did.
    pub fn summary(&self) -> String {
        format!(
            "{} processed, {} to review, {} left for people{}{}{}",
            self.processed,
            self.review,
            self.left,
            if self.duplicates > 0 { format!(", {} seen before", self.duplicates) } else { String::new() },
            if self.resynced { " (the mailbox's UIDVALIDITY changed; read again)" } else { "" },
            match self.first_day {
                Some(n) => format!(" (first connection: {n} messages already in the mailbox left for people)"),
                None => String::new(),
            }
        )
    }

    fn count(&mut self, taken: &Taken) {
        if taken.duplicate {
            self.duplicates += 1;
            return;
        }
        match taken.disposition {
            Disposition::Processed => self.processed += 1,
            Disposition::Review => self.review += 1,
            Disposition::Left => self.left += 1,
        }
    }
}

/// Takes in every new message of `[imap] mailbox` through `source`, stopping
/// after the message in hand once `stop` is cancelled (what was taken in is
/// committed and moved).
pub async fn from_source<S: MailSource>(
    source: &mut S,
    actor: &Actor<'_>,
    store: &Store,
    now: DateTime<Utc>,
    stop: &CancellationToken,
) -> Result<IntakeReport> {
    let cfg = actor.config.imap.as_ref().ok_or_else(|| anyhow!("no [imap] section"))?;
    let folder = cfg.mailbox.as_str();
    let selected = source.open().await?;
    let validity = selected.uidvalidity;
    let mut report = IntakeReport::default();
    let mut last = match store.folder_mark(folder).await? {
        Some((v, last)) if v == validity => last,
        Some(_) => {
            tracing::warn!(%folder, "UIDVALIDITY changed: reading the folder again; seen messages are recognised");
            report.resynced = true;
            0
        }
        None => {
            // the first connection: what is already there is for people,
            // unless [imap] start asks for what arrived since a date
            let all = source.search(Search::All).await?;
            let since = match cfg.start {
                Some(date) => Some(source.search(Search::Since(date)).await?),
                None => None,
            };
            let (last, left) = inbox::first_day(&all, since.as_deref(), selected.uidnext);
            let mut tx = store.begin().await?;
            tx.set_folder_mark(folder, validity, last).await?;
            tx.record_start(folder, left, cfg.start, now).await?;
            tx.commit().await?;
            tracing::info!(%folder, left, from_uid = last + 1, "first connection: messages already there are left for people");
            report.first_day = Some(left);
            last
        }
    };

    // moves decided before a crash
    let mut moves = Moves::default();
    for (id, uid, disposition) in store.pending_moves(folder, validity).await? {
        moves.add(Disposition::parse(&disposition), uid, id);
    }
    moves.flush(source, store).await?;

    // sizes first: a batch holds at most BATCH_BYTES of mail in memory, and
    // a message over the limit is fetched as its header alone
    let uids = source.search(Search::After(last)).await?;
    let mut sized = Vec::with_capacity(uids.len());
    for chunk in uids.chunks(inbox::SET) {
        sized.extend(source.sizes(chunk).await?);
    }
    for batch in inbox::by_size(&sized) {
        if stop.is_cancelled() {
            break;
        }
        let fetched = source.fetch(&batch).await?;
        // proof of origin may wait on DNS: found before the transaction
        let mut proofs = Vec::with_capacity(fetched.len());
        for f in &fetched {
            proofs.push(prove(actor, &f.raw).await);
        }
        // the batch is taken in and committed together; moved after the commit
        let mut tx = store.begin().await?;
        let mut taken_now = Vec::with_capacity(fetched.len());
        for (f, proof) in fetched.iter().zip(&proofs) {
            if stop.is_cancelled() {
                break;
            }
            let origin =
                Origin { folder: Some(folder), uidvalidity: Some(validity), uid: Some(f.uid), too_large: f.too_large };
            let taken = take_in_tx(&mut tx, actor, &f.raw, proof, origin, now).await?;
            last = last.max(f.uid);
            taken_now.push((f.uid, taken));
        }
        tx.set_folder_mark(folder, validity, last).await?;
        tx.commit().await?;
        for (uid, taken) in &taken_now {
            report.count(taken);
            if !taken.duplicate {
                tracing::info!(
                    message = taken.id,
                    uid,
                    kind = %taken.kind,
                    disposition = taken.disposition.as_str(),
                    subject = %taken.subject,
                    "taken in"
                );
            }
            // a message already moved once (seen again after a UIDVALIDITY
            // change, or put back by a person) is not moved again
            if !taken.moved {
                moves.add(taken.disposition, *uid, taken.id);
            }
        }
        report.taken.extend(taken_now.into_iter().map(|(_, t)| t));
        if moves.len() >= inbox::SET {
            moves.flush(source, store).await?;
        }
    }
    // (a crash before this leaves the moves recorded as pending: the next
    // pass makes them first)
    moves.flush(source, store).await?;
    if last > 0 || report.resynced {
        let mut tx = store.begin().await?;
        tx.set_folder_mark(folder, validity, last).await?;
        tx.commit().await?;
    }
    Ok(report)
}

/// Messages taken in and committed, waiting to be moved to their folders:
/// moved together, a few commands for many messages.
#[derive(Default)]
struct Moves {
    processed: Vec<(u32, i64)>,
    review: Vec<(u32, i64)>,
}

impl Moves {
    /// A message (its UID and its id in the books) for the folder of `to`;
    /// one left for people stays where it is.
    fn add(&mut self, to: Disposition, uid: u32, id: i64) {
        match to {
            Disposition::Processed => self.processed.push((uid, id)),
            Disposition::Review => self.review.push((uid, id)),
            Disposition::Left => {}
        }
    }

    fn len(&self) -> usize {
        self.processed.len() + self.review.len()
    }

    /// Moves them, at most [`inbox::SET`] per command, each command's
    /// messages recorded as moved once the server has moved them.
    async fn flush<S: MailSource>(&mut self, source: &mut S, store: &Store) -> Result<()> {
        for (to, items) in [(Disposition::Processed, &mut self.processed), (Disposition::Review, &mut self.review)] {
            items.sort_unstable();
            for chunk in items.chunks(inbox::SET) {
                let uids: Vec<u32> = chunk.iter().map(|(u, _)| *u).collect();
                let folder = source.move_to(&uids, to).await?;
                store.mark_moved(&chunk.iter().map(|(_, id)| *id).collect::<Vec<_>>(), &folder).await?;
            }
            items.clear();
        }
        Ok(())
    }
}
