//! One pass over a mailbox: the messages after the folder's mark, in
//! batches; each batch proven, taken in and committed in one transaction
//! with the new mark, then moved. A move left undone by a crash is finished
//! first on the next pass. Any error from the books rolls the batch back:
//! nothing of it is recorded, the mark stays, nothing is moved.

use anyhow::{Context, Result, anyhow};
use chrono::{DateTime, Utc};
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

use super::{Actor, Arrived, Origin, Read, Taken, prove, read_message, take_all_in_tx};
use crate::inbox::{self, Disposition, MailSource, Search};
use crate::store::Store;
use crate::trust::Proof;

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
    let mut pending = Moves::default();
    for (id, uid, disposition) in store.pending_moves(folder, validity).await? {
        pending.add(Disposition::parse(&disposition), uid, id);
    }
    pending.send(source).await.record(store).await?;

    // sizes first: a batch holds at most BATCH_BYTES of mail in memory, and
    // a message over the limit is fetched as its header alone
    let uids = source.search(Search::After(last)).await?;
    let mut sized = Vec::with_capacity(uids.len());
    for chunk in uids.chunks(inbox::SET) {
        sized.extend(source.sizes(chunk).await?);
    }
    // The mail server's work is done while billmail takes batches in: one
    // side fetches, proves and reads batches ahead (the reading on a thread
    // of its own) and moves what the other side has committed; the other
    // takes each batch in and commits it. The queue between them is bounded
    // in batches and in bytes. (Measured with `MAIL_BENCH=intake cargo bench
    // --bench mail`: Dovecot's moves and fetches were about a third of
    // intake's time when they waited their turn, and reading about a
    // quarter; a move of 500 messages, about 40 ms, stalled the taking in
    // while only one batch was ready.)
    let batches = inbox::by_size(&sized);
    let (ready_tx, ready_rx) = mpsc::channel(AHEAD_BATCHES);
    let (taken_tx, taken_rx) = mpsc::unbounded_channel();
    let (moved_tx, mut moved_rx) = mpsc::unbounded_channel();
    let books = BooksSide { actor, store, folder, validity, now, stop };
    let (mail, taken) = tokio::join!(
        mail_side(source, actor, &batches, stop, ready_tx, taken_rx, moved_tx),
        books.take_all(last, ready_rx, taken_tx, &mut moved_rx, &mut report)
    );
    // what the server moved is recorded as moved, whatever else failed
    while let Ok(moved) = moved_rx.try_recv() {
        moved.record(store).await?;
    }
    last = taken?;
    mail?;
    if last > 0 || report.resynced {
        let mut tx = store.begin().await?;
        tx.set_folder_mark(folder, validity, last).await?;
        tx.commit().await?;
    }
    Ok(report)
}

/// Batches fetched ahead of the one being taken in: at most this many,
/// and at most [`inbox::BATCH_BYTES`] of mail between them.
const AHEAD_BATCHES: usize = 8;

/// A batch fetched and made ready, with its share of the bytes allowed
/// ahead (given back when it is taken up).
type Ready = Result<(Ahead, OwnedSemaphorePermit)>;

/// A fetched batch as handed to the books side: being read on a thread of
/// its own, or (a large one) to be read in its turn.
enum Ahead {
    Reading(tokio::task::JoinHandle<Result<(Vec<inbox::Fetched>, Vec<Read>)>>),
    Unread(Vec<inbox::Fetched>),
}

impl Ahead {
    /// The batch and, when it was read ahead, its readings.
    async fn ready(self) -> Result<(Vec<inbox::Fetched>, Option<Vec<Read>>)> {
        match self {
            Ahead::Reading(reading) => {
                let (fetched, reads) = reading.await.context("reading a batch of messages")??;
                Ok((fetched, Some(reads)))
            }
            Ahead::Unread(fetched) => Ok((fetched, None)),
        }
    }
}

/// The mailbox's side of a pass: fetches each batch and makes it ready
/// ([`read_ahead`]), handing it over in order, and moves the messages the
/// books side has committed, [`inbox::SET`] at a time between fetches and
/// the rest once the books side is done. Stops fetching at `stop`, at the
/// first error (handed over in the batch's place) and at the first move
/// the server refuses (handed over with what it moved).
async fn mail_side<S: MailSource>(
    source: &mut S,
    actor: &Actor<'_>,
    batches: &[Vec<(u32, u32)>],
    stop: &CancellationToken,
    ready: mpsc::Sender<Ready>,
    mut taken: mpsc::UnboundedReceiver<Moves>,
    moved: mpsc::UnboundedSender<Moved>,
) -> Result<()> {
    let room = Arc::new(Semaphore::new(AHEAD_KIB as usize));
    let mut moves = Moves::default();
    let mut refused = false;
    for batch in batches {
        while let Ok(m) = taken.try_recv() {
            moves.extend(m);
        }
        if moves.len() >= inbox::SET {
            let done = std::mem::take(&mut moves).send(source).await;
            refused = done.refused.is_some();
            moved.send(done).ok();
            if refused {
                break;
            }
        }
        if stop.is_cancelled() {
            break;
        }
        let bytes: u64 = batch.iter().map(|(_, size)| u64::from(*size)).sum();
        let share = (bytes / 1024).clamp(1, AHEAD_KIB) as u32;
        let permit = room.clone().acquire_many_owned(share).await.context("the queue of batches read ahead")?;
        let prepared = match source.fetch(batch).await {
            Ok(fetched) => Ok(read_ahead(actor, fetched).await),
            Err(e) => Err(e),
        };
        let failed = prepared.is_err();
        if ready.send(prepared.map(|ahead| (ahead, permit))).await.is_err() || failed {
            break;
        }
    }
    drop(ready);
    // (a crash before these are made leaves them recorded as pending: the
    // next pass makes them first)
    while let Some(m) = taken.recv().await {
        moves.extend(m);
    }
    if !refused {
        moved.send(moves.send(source).await).ok();
    }
    Ok(())
}

/// Bytes of mail allowed ahead of the batch being taken in, in KiB.
const AHEAD_KIB: u64 = inbox::BATCH_BYTES / 1024;

/// The books' side of a pass: what each batch is taken in with.
struct BooksSide<'a, 'c> {
    actor: &'a Actor<'c>,
    store: &'a Store,
    folder: &'a str,
    validity: u32,
    now: DateTime<Utc>,
    stop: &'a CancellationToken,
}

impl BooksSide<'_, '_> {
    /// Takes in each batch handed over, in order, and hands back its
    /// messages to move; records what the mail side moved between batches.
    /// Says the folder's new mark.
    async fn take_all(
        &self,
        mut last: u32,
        mut ready: mpsc::Receiver<Ready>,
        taken: mpsc::UnboundedSender<Moves>,
        moved: &mut mpsc::UnboundedReceiver<Moved>,
        report: &mut IntakeReport,
    ) -> Result<u32> {
        while let Some(prepared) = ready.recv().await {
            while let Ok(m) = moved.try_recv() {
                m.record(self.store).await?;
            }
            let (ahead, permit) = prepared?;
            drop(permit);
            let (fetched, reads) = ahead.ready().await?;
            let taken_now = take_batch(
                self.actor,
                self.store,
                self.folder,
                self.validity,
                last,
                &fetched,
                reads,
                self.now,
                self.stop,
            )
            .await?;
            let mut moves = Moves::default();
            for (uid, taken) in &taken_now {
                last = last.max(*uid);
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
                // a message already moved once (seen again after a
                // UIDVALIDITY change, or put back by a person) is not moved
                // again
                if !taken.moved {
                    moves.add(taken.disposition, *uid, taken.id);
                }
            }
            report.taken.extend(taken_now.into_iter().map(|(_, t)| t));
            taken.send(moves).ok();
            if self.stop.is_cancelled() {
                break;
            }
        }
        Ok(last)
    }
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

    fn extend(&mut self, other: Moves) {
        self.processed.extend(other.processed);
        self.review.extend(other.review);
    }

    fn len(&self) -> usize {
        self.processed.len() + self.review.len()
    }

    /// Moves them, at most [`inbox::SET`] per command, stopping at the first
    /// command the server refuses; says what the server moved, for the books.
    async fn send<S: MailSource>(mut self, source: &mut S) -> Moved {
        let mut moved = Moved::default();
        for (to, items) in [(Disposition::Processed, &mut self.processed), (Disposition::Review, &mut self.review)] {
            items.sort_unstable();
            for chunk in items.chunks(inbox::SET) {
                let uids: Vec<u32> = chunk.iter().map(|(u, _)| *u).collect();
                match source.move_to(&uids, to).await {
                    Ok(folder) => moved.done.push((chunk.iter().map(|(_, id)| *id).collect(), folder)),
                    Err(error) => {
                        moved.refused = Some(error);
                        return moved;
                    }
                }
            }
        }
        moved
    }
}

/// What the server moved (each command's messages, by their ids in the
/// books, with the folder), and the command it refused, if any.
#[derive(Default)]
struct Moved {
    done: Vec<(Vec<i64>, String)>,
    refused: Option<anyhow::Error>,
}

impl Moved {
    /// Records what the server moved; then reports a refused move.
    async fn record(self, store: &Store) -> Result<()> {
        for (ids, folder) in &self.done {
            store.mark_moved(ids, folder).await?;
        }
        self.refused.map_or(Ok(()), Err)
    }
}

/// A batch of at most this many bytes is read ahead (see [`read_ahead`]).
/// Reading ahead holds two batches' readings at once: for a batch of large
/// messages that doubled the peak memory of a tick (`MAIL_BENCH=large cargo
/// bench --bench mail`: 191 and 232 MiB against 140), and the time it saves
/// is in batches of many small messages.
const READ_AHEAD_BYTES: u64 = inbox::BATCH_BYTES / 8;

/// A fetched batch made ready to take in, when it is small: each message
/// proven (which may wait on DNS), then read on a thread of its own, which
/// runs beside the books side's work and the mail side's next fetch and
/// moves. A large one is proven and read in its turn, by [`take_batch`].
async fn read_ahead(actor: &Actor<'_>, fetched: Vec<inbox::Fetched>) -> Ahead {
    let bytes: u64 = fetched.iter().map(|f| f.raw.len() as u64).sum();
    if bytes > READ_AHEAD_BYTES {
        return Ahead::Unread(fetched);
    }
    let proofs = proven(actor, &fetched).await;
    Ahead::Reading(tokio::task::spawn_blocking(move || read_all(&fetched, &proofs).map(|reads| (fetched, reads))))
}

/// Each message read, with what proves its origin.
fn read_all(fetched: &[inbox::Fetched], proofs: &[Proof]) -> Result<Vec<Read>> {
    fetched.iter().zip(proofs).map(|(f, p)| read_message(&f.raw, p, f.too_large)).collect()
}

/// What proves each message's origin.
async fn proven(actor: &Actor<'_>, fetched: &[inbox::Fetched]) -> Vec<Proof> {
    let mut proofs = Vec::with_capacity(fetched.len());
    for f in fetched {
        proofs.push(prove(actor, &f.raw).await);
    }
    proofs
}

/// Takes in and commits one prepared batch with the folder's new mark: all
/// of it or, on any error from the books, none of it. Stops after the
/// message in hand once `stop` is cancelled.
#[allow(clippy::too_many_arguments)]
async fn take_batch(
    actor: &Actor<'_>,
    store: &Store,
    folder: &str,
    validity: u32,
    mut last: u32,
    fetched: &[inbox::Fetched],
    reads: Option<Vec<Read>>,
    now: DateTime<Utc>,
    stop: &CancellationToken,
) -> Result<Vec<(u32, Taken)>> {
    let reads = match reads {
        Some(reads) => reads,
        None => read_all(fetched, &proven(actor, fetched).await)?,
    };
    let arrived: Vec<Arrived> = fetched
        .iter()
        .zip(reads)
        .map(|(f, read)| Arrived {
            raw: &f.raw,
            origin: Origin {
                folder: Some(folder),
                uidvalidity: Some(validity),
                uid: Some(f.uid),
                too_large: f.too_large,
            },
            read,
        })
        .collect();
    let mut tx = store.begin().await?;
    let taken = take_all_in_tx(&mut tx, actor, arrived, now, Some(stop)).await?;
    let taken_now: Vec<(u32, Taken)> = fetched.iter().map(|f| f.uid).zip(taken).collect();
    last = taken_now.iter().map(|(uid, _)| *uid).fold(last, u32::max);
    tx.set_folder_mark(folder, validity, last).await?;
    tx.commit().await?;
    Ok(taken_now)
}
