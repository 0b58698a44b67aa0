//! The intake loop over an in-memory mailbox (no server): what a pass takes,
//! commits and moves, and that a failure of the books during a batch rolls
//! the whole batch back, with nothing marked taken and nothing moved.

mod common;

use std::collections::BTreeMap;

use anyhow::Result;
use billmail::config::Config;
use billmail::inbox::{Disposition, Fetched, MailSource, Search, Selected};
use billmail::intake::{Actor, from_source};
use billmail::render::Renderer;
use billmail::store::Store;
use chrono::{DateTime, Utc};
use common::{ACCOUNTS, Bm, ENTRY};
use tokio_util::sync::CancellationToken;

/// A mailbox in memory: the watched folder's messages by UID, every move
/// asked of it, and how many move commands asked them.
struct Memory {
    validity: u32,
    folder: BTreeMap<u32, Vec<u8>>,
    moved: Vec<(u32, Disposition)>,
    move_commands: usize,
    /// The server refuses moves (a full quota, a dropped connection) from
    /// this move command on.
    refuse_from: Option<usize>,
}

impl Memory {
    fn new(messages: &[String]) -> Memory {
        let folder = messages.iter().enumerate().map(|(i, m)| (i as u32 + 1, m.as_bytes().to_vec())).collect();
        Memory { validity: 7, folder, moved: Vec::new(), move_commands: 0, refuse_from: None }
    }
}

impl MailSource for Memory {
    async fn open(&mut self) -> Result<Selected> {
        let next = self.folder.keys().max().map_or(1, |u| u + 1);
        Ok(Selected { uidvalidity: self.validity, uidnext: Some(next) })
    }
    async fn search(&mut self, which: Search) -> Result<Vec<u32>> {
        Ok(match which {
            Search::All | Search::Since(_) => self.folder.keys().copied().collect(),
            Search::After(last) => self.folder.keys().copied().filter(|u| *u > last).collect(),
        })
    }
    async fn sizes(&mut self, uids: &[u32]) -> Result<Vec<(u32, u32)>> {
        Ok(uids.iter().filter_map(|u| self.folder.get(u).map(|m| (*u, m.len() as u32))).collect())
    }
    async fn fetch(&mut self, batch: &[(u32, u32)]) -> Result<Vec<Fetched>> {
        Ok(batch
            .iter()
            .filter_map(|(u, _)| self.folder.get(u).map(|m| Fetched { uid: *u, raw: m.clone(), too_large: None }))
            .collect())
    }
    async fn move_to(&mut self, uids: &[u32], to: Disposition) -> Result<String> {
        if self.refuse_from.is_some_and(|n| self.move_commands >= n) {
            anyhow::bail!("UID MOVE: NO [OVERQUOTA] quota exceeded");
        }
        self.move_commands += 1;
        for u in uids {
            self.folder.remove(u);
            self.moved.push((*u, to));
        }
        Ok(format!("Billing/{}", to.as_str()))
    }
}

const NOV2: &str = "2026-11-02T09:00:00-05:00";

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-20T10:00:00-05:00").unwrap().with_timezone(&Utc)
}

fn mail(id: &str, subject: &str, body: &str) -> String {
    format!(
        "Authentication-Results: mx1.krgroup.example; dkim=pass header.d=acme-dental.example; dmarc=pass header.from=acme-dental.example\r\n{ENTRY}\
         From: Jane Doe <jane.doe@acme-dental.example>\r\nTo: accounting@krgroup.example\r\nSubject: {subject}\r\n\
         Message-ID: <{id}@acme-dental.example>\r\nDate: Fri, 20 Nov 2026 09:00:00 -0500\r\n\r\n{body}\r\n"
    )
}

fn messages() -> Vec<String> {
    vec![
        mail("q1", "Question", "Why did our invoice go up this month?"),
        mail(
            "a1",
            "Add two users",
            "Please add two new full-time users starting December 1, 2026:\r\n\r\n- Maria Lopez\r\n- Tom Baker",
        ),
        mail("r1", "Remove one", "Please remove one part-time user, Ann Lee, effective December 1, 2026."),
    ]
}

/// An installation with accounts, reading a mailbox from its first message,
/// and what intake is given.
struct Installed {
    _bm: Bm,
    config: Config,
    store: Store,
    renderer: Renderer,
}

impl Installed {
    async fn new() -> Installed {
        let bm = Bm::new();
        let pw = bm.write("imap-password", "secret\n");
        let imap = format!(
            "[imap]\nhost = \"127.0.0.1\"\nport = 1\nsecurity = \"plain\"\nusername = \"accounting@krgroup.example\"\n\
             password_file = \"{}\"\nstart = \"2026-01-01\"\n",
            pw.display()
        );
        bm.write("billmail.toml", &format!("{}\n{imap}", common::CONFIG));
        bm.import_accounts(ACCOUNTS, NOV2).ok();
        let config = Config::load(&bm.path("billmail.toml")).unwrap();
        let store = Store::open(&config.database.path).await.unwrap();
        Installed { _bm: bm, config, store, renderer: Renderer::new() }
    }

    /// One pass over `mailbox` at `now()`.
    async fn pass(&self, mailbox: &mut Memory) -> anyhow::Result<billmail::intake::IntakeReport> {
        let actor = Actor { config: &self.config, renderer: &self.renderer, dkim: None };
        from_source(mailbox, &actor, &self.store, now(), &CancellationToken::new()).await
    }
}

async fn count(store: &Store, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}")).fetch_one(store.pool()).await.unwrap()
}

#[tokio::test]
async fn a_pass_takes_in_commits_and_moves_each_message() {
    let books = Installed::new().await;
    let store = &books.store;
    let mut mailbox = Memory::new(&messages());

    let report = books.pass(&mut mailbox).await.unwrap();
    assert_eq!((report.processed, report.review, report.left), (2, 0, 1), "{}", report.summary());
    assert_eq!(mailbox.moved, vec![(2, Disposition::Processed), (3, Disposition::Processed)]);
    assert_eq!(mailbox.folder.keys().copied().collect::<Vec<_>>(), vec![1], "the question stays for people");
    assert_eq!(store.folder_mark("INBOX").await.unwrap(), Some((7, 3)));

    // a second pass finds nothing new
    let again = books.pass(&mut mailbox).await.unwrap();
    assert_eq!((again.processed, again.review, again.left), (0, 0, 0));
    assert_eq!(count(store, "messages").await, 3);
}

#[tokio::test]
async fn a_failure_of_the_books_rolls_the_batch_back_and_nothing_is_marked_taken() {
    let books = Installed::new().await;
    let store = &books.store;
    let changes_before = count(store, "count_changes").await;
    // the failing seam: the disk gives out when the second message's change
    // is written (after the first message was stored in the same batch)
    sqlx::query(
        "CREATE TRIGGER disk_gives_out BEFORE INSERT ON count_changes WHEN NEW.source = 'email'
         BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END",
    )
    .execute(store.pool())
    .await
    .unwrap();
    let mut mailbox = Memory::new(&messages());

    let err = books.pass(&mut mailbox).await.unwrap_err();
    assert!(format!("{err:#}").contains("disk I/O error"), "{err:#}");
    assert!(mailbox.moved.is_empty(), "nothing is moved: {:?}", mailbox.moved);
    assert_eq!(mailbox.folder.len(), 3);
    for table in ["messages", "review_items", "outbox"] {
        assert_eq!(count(store, table).await, 0, "nothing of the batch is recorded in {table}");
    }
    assert_eq!(count(store, "count_changes").await, changes_before);
    assert_eq!(
        store.folder_mark("INBOX").await.unwrap(),
        Some((7, 0)),
        "the mark stays before the batch: every message is read again"
    );

    // the disk is back: the next pass takes the whole batch in, once
    sqlx::query("DROP TRIGGER disk_gives_out").execute(store.pool()).await.unwrap();
    let report = books.pass(&mut mailbox).await.unwrap();
    assert_eq!((report.processed, report.review, report.left), (2, 0, 1), "{}", report.summary());
    assert_eq!(count(store, "messages").await, 3);
    assert_eq!(count(store, "count_changes").await, changes_before + 2);
    assert_eq!(store.folder_mark("INBOX").await.unwrap(), Some((7, 3)));
}

#[tokio::test]
async fn a_refused_change_goes_to_review_and_the_batch_goes_on() {
    let books = Installed::new().await;
    // ACME has 3 part-time users: removing five would leave a negative count
    let mut mailbox = Memory::new(&[
        mail("r5", "Remove five", "Please remove five part-time users effective December 1, 2026."),
        mail("a1", "Add one", "Please add one new full-time user, Maria Lopez, starting December 1, 2026."),
    ]);
    let report = books.pass(&mut mailbox).await.unwrap();
    assert_eq!((report.processed, report.review), (1, 1), "{}", report.summary());
    assert_eq!(mailbox.moved, vec![(2, Disposition::Processed), (1, Disposition::Review)]);
    let reasons: String =
        sqlx::query_scalar("SELECT reasons FROM review_items").fetch_one(books.store.pool()).await.unwrap();
    assert!(reasons.contains("would leave 22 full-time and -2 part-time users"), "{reasons}");
}

#[tokio::test]
async fn many_messages_move_in_few_commands_and_a_refused_move_is_made_on_the_next_pass() {
    let books = Installed::new().await;
    let store = &books.store;
    let many: Vec<String> = (0..120)
        .map(|i| mail(&format!("add{i}"), "Add one", "Please add one new full-time user starting December 1, 2026."))
        .collect();
    let mut mailbox = Memory::new(&many);
    mailbox.refuse_from = Some(0);
    let err = books.pass(&mut mailbox).await.unwrap_err();
    assert!(format!("{err:#}").contains("OVERQUOTA"), "{err:#}");
    // every batch was committed: the messages are taken, once, and waiting to be moved
    assert_eq!(count(store, "messages").await, 120);
    assert_eq!(store.folder_mark("INBOX").await.unwrap(), Some((7, 120)));
    assert_eq!(store.pending_moves("INBOX", 7).await.unwrap().len(), 120);
    assert_eq!(mailbox.folder.len(), 120);

    mailbox.refuse_from = None;
    let report = books.pass(&mut mailbox).await.unwrap();
    assert_eq!((report.processed, report.review, report.left), (0, 0, 0), "nothing is taken twice");
    assert_eq!(mailbox.moved.len(), 120);
    assert_eq!(mailbox.move_commands, 1, "120 messages (three batches) move in one command");
    assert!(mailbox.folder.is_empty());
    assert!(store.pending_moves("INBOX", 7).await.unwrap().is_empty());
    assert_eq!(count(store, "messages").await, 120);
}

#[tokio::test]
async fn moves_made_while_later_batches_are_taken_in_are_recorded_and_a_move_refused_midway_is_made_next_time() {
    let books = Installed::new().await;
    let store = &books.store;
    // 1,100 messages: 22 batches; the first 500 move while later batches
    // are taken in, the next 500 are refused
    let many: Vec<String> = (0..1100)
        .map(|i| mail(&format!("add{i}"), "Add one", "Please add one new full-time user starting December 1, 2026."))
        .collect();
    let mut mailbox = Memory::new(&many);
    mailbox.refuse_from = Some(1);
    let err = books.pass(&mut mailbox).await.unwrap_err();
    assert!(format!("{err:#}").contains("OVERQUOTA"), "{err:#}");
    assert_eq!(mailbox.moved.len(), 500, "the first move command was made");
    let moved: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM messages WHERE moved_to IS NOT NULL")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(moved, 500, "and recorded, though a later move failed");
    // the second move is asked once batches 11 to 20 are committed; the
    // batches already fetched beside it may be taken in too (whole batches,
    // each with its mark), none after the books side hears of the refusal
    let taken = count(store, "messages").await;
    assert!((1000..=1100).contains(&taken) && taken % 50 == 0, "{taken} taken");
    assert_eq!(store.folder_mark("INBOX").await.unwrap(), Some((7, taken as u32)));
    assert_eq!(store.pending_moves("INBOX", 7).await.unwrap().len() as i64, taken - 500);

    mailbox.refuse_from = None;
    let report = books.pass(&mut mailbox).await.unwrap();
    assert_eq!(report.processed as i64, 1100 - taken, "the rest, taken now");
    assert_eq!(mailbox.moved.len(), 1100);
    assert!(mailbox.folder.is_empty());
    assert!(store.pending_moves("INBOX", 7).await.unwrap().is_empty());
    let mut uids: Vec<u32> = mailbox.moved.iter().map(|m| m.0).collect();
    uids.sort_unstable();
    uids.dedup();
    assert_eq!(uids.len(), 1100, "each message moved once");
}
