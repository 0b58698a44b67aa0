//! What intake needs from a mailbox, as protocol verbs: the seam between
//! `intake` (which decides) and `mail::imap` (which speaks IMAP). Neither
//! imports the other; both import this. Tests drive intake through an
//! in-memory [`MailSource`] without a server.

use anyhow::Result;
use chrono::NaiveDate;

/// Where a taken-in message goes.
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

/// The watched folder as selected: its UIDVALIDITY and UIDNEXT.
#[derive(Clone, Copy, Debug)]
pub struct Selected {
    pub uidvalidity: u32,
    pub uidnext: Option<u32>,
}

/// Which UIDs of the selected folder to list.
#[derive(Clone, Copy, Debug)]
pub enum Search {
    All,
    /// Arrived on or after this day (the server's INTERNALDATE).
    Since(NaiveDate),
    /// UIDs greater than this one.
    After(u32),
}

/// One fetched message.
#[derive(Debug)]
pub struct Fetched {
    pub uid: u32,
    /// The whole message, or only its header when it is over the limit.
    pub raw: Vec<u8>,
    /// Set (to the whole size) when only the header was fetched.
    pub too_large: Option<usize>,
}

/// A mailbox as intake uses it. Implemented over IMAP by
/// `mail::imap::Mailbox` and in memory by tests.
// Used only through generics inside billmail, on one task: no `Send` bound.
#[allow(async_fn_in_trait)]
pub trait MailSource {
    /// Creates the processed and review folders when missing and selects the
    /// watched folder.
    async fn open(&mut self) -> Result<Selected>;
    /// UIDs of the selected folder, ascending.
    async fn search(&mut self, which: Search) -> Result<Vec<u32>>;
    /// `(uid, size)` of each UID (RFC822.SIZE), ascending.
    async fn sizes(&mut self, uids: &[u32]) -> Result<Vec<(u32, u32)>>;
    /// The messages of a batch, ascending; one over [`over_limit`] as its
    /// header alone.
    async fn fetch(&mut self, batch: &[(u32, u32)]) -> Result<Vec<Fetched>>;
    /// Moves the messages to the folder for `to` (never [`Disposition::Left`]);
    /// returns that folder's name as recorded in the books.
    async fn move_to(&mut self, uids: &[u32], to: Disposition) -> Result<String>;
}

/// Messages fetched and taken in per transaction.
pub const BATCH: usize = 50;
/// UIDs named in one command (sizes asked, messages moved). Every command
/// costs the server a fixed amount of work besides its messages: on Dovecot
/// (Maildir) 20 moves of 50 messages took 0.30 s and one move of 1,000 took
/// 0.11 s. 500 UIDs that are not adjacent still fit the shortest command
/// line servers accept (8 KiB).
pub const SET: usize = 500;

/// An IMAP sequence set of ascending UIDs, adjacent ones as ranges:
/// `[1, 2, 3, 7, 9, 10]` is `1:3,7,9:10`.
pub fn uid_set(uids: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < uids.len() {
        let mut j = i;
        while j + 1 < uids.len() && uids[j + 1] == uids[j] + 1 {
            j += 1;
        }
        if !out.is_empty() {
            out.push(',');
        }
        if j > i {
            out.push_str(&format!("{}:{}", uids[i], uids[j]));
        } else {
            out.push_str(&uids[i].to_string());
        }
        i = j + 1;
    }
    out
}
/// The most mail (by the server's RFC822.SIZE) one batch holds in memory;
/// a single message over it is a batch of its own.
pub const BATCH_BYTES: u64 = 32 * 1024 * 1024;

/// Whether a message of `size` bytes (the server's RFC822.SIZE) is over the
/// limit, so only its header is fetched.
pub fn over_limit(size: u32) -> bool {
    size as usize > crate::reading::MAX_MESSAGE_BYTES
}

/// `(uid, size)` pairs in order, cut into batches of at most [`BATCH`]
/// messages and [`BATCH_BYTES`] (a message over the size limit counts only as
/// its header, a few KB).
pub fn by_size(sized: &[(u32, u32)]) -> Vec<Vec<(u32, u32)>> {
    let mut batches: Vec<Vec<(u32, u32)>> = Vec::new();
    let mut total = 0u64;
    for &(uid, size) in sized {
        let weight = if over_limit(size) { 64 * 1024 } else { u64::from(size) };
        match batches.last_mut() {
            Some(last) if total + weight <= BATCH_BYTES && last.len() < BATCH => {
                last.push((uid, size));
                total += weight;
            }
            _ => {
                batches.push(vec![(uid, size)]);
                total = weight;
            }
        }
    }
    batches
}

/// Where a first connection starts: the last UID it will not read, and how
/// many messages it leaves for people. `all` is every UID in the folder,
/// `since` those from `[imap] start` on (when it is set).
pub fn first_day(all: &[u32], since: Option<&[u32]>, uidnext: Option<u32>) -> (u32, usize) {
    let newest = all.iter().copied().max().unwrap_or(0);
    let before = match since {
        Some(found) => found.iter().min().map(|u| u - 1).unwrap_or(newest),
        None => uidnext.map(|n| n.saturating_sub(1)).unwrap_or(newest).max(newest),
    };
    let left = all.iter().filter(|u| **u <= before).count();
    (before, left)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_sets_name_adjacent_uids_as_ranges() {
        assert_eq!(uid_set(&[1, 2, 3, 7, 9, 10]), "1:3,7,9:10");
        assert_eq!(uid_set(&[42]), "42");
        assert_eq!(uid_set(&[]), "");
        assert_eq!(uid_set(&(1..=500).collect::<Vec<_>>()), "1:500");
        // the longest a set of SET UIDs can be, none adjacent: under 8 KiB
        let apart: Vec<u32> = (0..SET as u32).map(|i| u32::MAX - 2 * i).rev().collect();
        assert!(uid_set(&apart).len() < 8 * 1024, "{}", uid_set(&apart).len());
    }

    #[test]
    fn batches_hold_at_most_batch_bytes_and_a_large_message_counts_as_its_header() {
        let mb = |n: u32| n * 1024 * 1024;
        let over = (crate::reading::MAX_MESSAGE_BYTES + 1) as u32;
        let sized = [(1, mb(20)), (2, mb(10)), (3, mb(5)), (4, over), (5, 100), (6, mb(24)), (7, mb(4))];
        let uids: Vec<Vec<u32>> = by_size(&sized).iter().map(|b| b.iter().map(|(u, _)| *u).collect()).collect();
        assert_eq!(uids, [vec![1, 2], vec![3, 4, 5, 6], vec![7]]);
        let one_big = by_size(&[(9, mb(40))]);
        assert_eq!(one_big, [vec![(9, mb(40))]], "a message over BATCH_BYTES is a batch of its own");
        assert!(u64::from(mb(30)) <= BATCH_BYTES);
        assert!(by_size(&[]).is_empty());
        assert!(over_limit(over) && !over_limit(mb(24)));
    }

    #[test]
    fn a_batch_holds_at_most_fifty_messages() {
        let many: Vec<(u32, u32)> = (1..=120).map(|u| (u, 100)).collect();
        let lens: Vec<usize> = by_size(&many).iter().map(Vec::len).collect();
        assert_eq!(lens, vec![50, 50, 20]);
    }

    #[test]
    fn a_first_day_leaves_what_is_there_or_starts_at_the_start_date() {
        assert_eq!(first_day(&[3, 4, 9], None, Some(12)), (11, 3));
        assert_eq!(first_day(&[3, 4, 9], Some(&[4, 9]), Some(12)), (3, 1));
        assert_eq!(first_day(&[3, 4, 9], Some(&[]), Some(12)), (9, 3));
        assert_eq!(first_day(&[], None, None), (0, 0));
    }
}
