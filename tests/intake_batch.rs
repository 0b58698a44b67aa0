//! A batch of messages taken in together leaves the books exactly as the
//! same messages taken in one at a time, each in its own transaction: the
//! batch's shared lookups and its messages stored together change nothing
//! but the number of statements. Real SQLite, no mail server.

mod common;

use billmail::config::Config;
use billmail::intake::{Actor, Arrived, Origin, prove, read_message, take_all_in_tx, take_in_tx};
use billmail::render::Renderer;
use billmail::store::Store;
use billmail::trust::Proof;
use chrono::{DateTime, Utc};
use common::{ACCOUNTS, Bm, Rng, corpus};

const NOV2: &str = "2026-11-02T09:00:00-05:00";
const WITH_BAYSIDE: &str = "BAYSIDE,Bayside Courier,remote,5,0,billing@baysidecourier.example,,,\n";

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// `raw` with its From and Message-ID replaced.
fn sent_by(raw: &[u8], from: &str, id: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(raw);
    let mut out = String::new();
    let mut in_header = true;
    let mut skipping = false;
    for line in text.split_inclusive('\n') {
        if in_header && line.trim_end().is_empty() {
            in_header = false;
        }
        if in_header {
            let lower = line.to_ascii_lowercase();
            if skipping && (line.starts_with(' ') || line.starts_with('\t')) {
                continue;
            }
            skipping = false;
            if lower.starts_with("from:") {
                out.push_str(&format!("From: {from}\r\n"));
                skipping = true;
                continue;
            }
            if lower.starts_with("message-id:") {
                out.push_str(&format!("Message-ID: <{id}>\r\n"));
                skipping = true;
                continue;
            }
        }
        out.push_str(line);
    }
    out.into_bytes()
}

/// `row` with the random part of billmail's own Message-IDs
/// (`<...1794924000.d9fc70133dd36e66@krgroup.example>`) blanked: two runs
/// never make the same one.
fn without_nonces(row: String) -> String {
    let mut out = row.clone();
    for (at, _) in row.match_indices('@') {
        let Some(start) = at.checked_sub(17) else { continue };
        let before = &row.as_bytes()[start..at];
        if before[0] == b'.' && before[1..].iter().all(u8::is_ascii_hexdigit) {
            out.replace_range(start + 1..at, &"x".repeat(16));
        }
    }
    out
}

/// Every row of every table of the books, each as SQLite quotes its values.
async fn rows_of(path: &std::path::Path) -> Vec<(String, Vec<String>)> {
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(path);
    let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations' ORDER BY name",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let mut all = Vec::new();
    for t in tables {
        let columns: Vec<String> =
            sqlx::query_scalar(&format!("SELECT name FROM pragma_table_info('{t}')")).fetch_all(&pool).await.unwrap();
        let quoted: Vec<String> = columns.iter().map(|c| format!("quote(\"{c}\")")).collect();
        let select = format!("SELECT {} FROM \"{t}\" ORDER BY rowid", quoted.join(" || '|' || "));
        let rows: Vec<String> = sqlx::query_scalar(&select).fetch_all(&pool).await.unwrap();
        all.push((t, rows.into_iter().map(without_nonces).collect()));
    }
    pool.close().await;
    all
}

#[tokio::test(flavor = "current_thread")]
async fn a_batch_leaves_the_books_as_the_same_messages_taken_one_at_a_time() {
    let bm = Bm::new();
    bm.import_accounts(&format!("{ACCOUNTS}{WITH_BAYSIDE}"), NOV2).ok();
    // December's invoices issued (and waiting in the outbox): payments and
    // bounces have something to name
    bm.at("2026-11-15T08:00:00-05:00", &["tick"]).ok();
    let outbox = bm.outbox();
    let bayside = outbox.iter().find(|m| m["to"] == serde_json::json!(["billing@baysidecourier.example"])).unwrap();
    let bayside_sent = bayside["message_id"].as_str().unwrap().to_string();

    let config = Config::load(&bm.path("billmail.toml")).unwrap();
    let renderer = Renderer::for_config(&config).unwrap();
    let actor = Actor { config: &config, renderer: &renderer, dkim: None };

    // the messages, each with the proof it is taken in with
    let mut messages: Vec<(Vec<u8>, Proof)> = Vec::new();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<_> = ["tests/corpus", "examples/mail"]
        .iter()
        .flat_map(|d| std::fs::read_dir(dir.join(d)).unwrap().flatten().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    files.sort();
    for (i, f) in files.iter().enumerate() {
        let raw = std::fs::read(f).unwrap();
        let proof = prove(&actor, &raw).await;
        messages.push((raw.clone(), proof));
        // the same words from a proven billing contact: changes applied or
        // refused, answers sent until the day's limit, payments claimed
        messages.push((
            sent_by(&raw, "Jane Doe <jane.doe@acme-dental.example>", &format!("jane-{i}@acme")),
            Proof::pass("test"),
        ));
    }
    // Bayside's invoice bounces (its address is flagged), then a proven
    // message from that address shows it works again
    let report = String::from_utf8(corpus("125-"))
        .unwrap()
        .replace("<invoice-INV-2026-0159.20261115060048@krgroup.example>", &bayside_sent);
    messages.push((report.into_bytes(), Proof::none("test")));
    let from_bayside = sent_by(&corpus("104-"), "billing@baysidecourier.example", "bayside-1@bayside");
    messages.push((from_bayside.clone(), Proof::pass("test")));
    messages
        .push((sent_by(&corpus("104-"), "billing@baysidecourier.example", "bayside-2@bayside"), Proof::pass("test")));
    // an order that mixes them, the same every run
    let mut rng = Rng(0x5eed);
    for i in (1..messages.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        messages.swap(i, j);
    }
    // and the bounce before the proven message that lifts its flag
    let report_at = messages.iter().position(|(raw, _)| raw.windows(11).any(|w| w == b"Undelivered")).unwrap();
    let bayside_at = messages.iter().position(|(raw, _)| raw == &from_bayside).unwrap();
    if report_at > bayside_at {
        messages.swap(report_at, bayside_at);
    }
    // a stranger's message delivered twice in a row: the second finds the
    // first though neither has been written on its own
    let twice = sent_by(&corpus("103-"), "someone@stranger.example", "twice@stranger.example");
    messages.insert(10, (twice.clone(), Proof::none("test")));
    messages.insert(11, (twice, Proof::none("test")));
    // a message, then one reusing its Message-ID with other words, twice:
    // the third finds the second under the key that tells them apart
    let question = corpus("102-");
    let other_words = format!("{}\nAnother thing entirely.\n", String::from_utf8(question.clone()).unwrap());
    for (i, raw) in
        [question.clone(), other_words.clone().into_bytes(), other_words.into_bytes()].into_iter().enumerate()
    {
        messages.insert(20 + i, (raw, Proof::none("test")));
    }
    // a message over a megabyte among small ones: stored by a statement of its own
    let large = format!(
        "{}\n{}",
        String::from_utf8(sent_by(&corpus("103-"), "someone@stranger.example", "large@stranger.example")).unwrap(),
        "The minutes of the last meeting follow.\n".repeat(30_000)
    );
    assert!(large.len() > 1024 * 1024);
    messages.insert(30, (large.into_bytes(), Proof::none("test")));
    assert!(messages.len() >= 80);

    let now = at("2026-11-17T09:00:00-05:00");
    let origin =
        |i: usize| Origin { folder: Some("INBOX"), uidvalidity: Some(7), uid: Some(i as u32 + 1), too_large: None };
    let books = bm.path("billmail.db");
    let (one_by_one, together) = (bm.path("one-by-one.db"), bm.path("together.db"));
    std::fs::copy(&books, &one_by_one).unwrap();
    std::fs::copy(&books, &together).unwrap();

    let store = Store::open(&one_by_one).await.unwrap();
    let mut singly = Vec::new();
    for (i, (raw, proof)) in messages.iter().enumerate() {
        let mut tx = store.begin().await.unwrap();
        singly.push(take_in_tx(&mut tx, &actor, raw, proof, origin(i), now).await.unwrap());
        tx.commit().await.unwrap();
    }
    store.close().await;

    let store = Store::open(&together).await.unwrap();
    let arrived: Vec<Arrived> = messages
        .iter()
        .enumerate()
        .map(|(i, (raw, proof))| Arrived { raw, origin: origin(i), read: read_message(raw, proof, None).unwrap() })
        .collect();
    let mut tx = store.begin().await.unwrap();
    let batch = take_all_in_tx(&mut tx, &actor, arrived, now, None).await.unwrap();
    tx.commit().await.unwrap();
    store.close().await;

    // what was taken in says the same
    assert_eq!(batch.len(), singly.len());
    for (b, s) in batch.iter().zip(&singly) {
        assert_eq!(
            (b.id, b.duplicate, b.moved, b.disposition, &b.kind, &b.subject, &b.reasons),
            (s.id, s.duplicate, s.moved, s.disposition, &s.kind, &s.subject, &s.reasons)
        );
    }
    // the mix this test means to hold: every way a message goes
    let count = |f: &dyn Fn(&billmail::intake::Taken) -> bool| singly.iter().filter(|t| f(t)).count();
    use billmail::intake::Disposition;
    assert!(count(&|t| t.duplicate) >= 2, "duplicates");
    assert!(count(&|t| t.disposition == Disposition::Processed && !t.duplicate) >= 5, "processed");
    assert!(count(&|t| t.disposition == Disposition::Review) >= 20, "to review");
    assert!(count(&|t| t.disposition == Disposition::Left) >= 1, "left");

    // and the books are the same, row for row
    let (a, b) = (rows_of(&one_by_one).await, rows_of(&together).await);
    for ((table, one), (_, other)) in a.iter().zip(&b) {
        // each differing row from where it starts to differ
        let differ: Vec<(&str, &str)> = one
            .iter()
            .zip(other)
            .filter(|(x, y)| x != y)
            .take(2)
            .map(|(x, y)| {
                let from = x.char_indices().zip(y.chars()).find(|((_, c), d)| c != d).map_or(0, |((i, _), _)| i);
                let from = x.floor_char_boundary(from.saturating_sub(40));
                (&x[from..], &y[from.min(y.len())..])
            })
            .collect();
        assert!(
            differ.is_empty() && one.len() == other.len(),
            "{table} differs ({} rows one by one, {} together): {differ:#?}",
            one.len(),
            other.len()
        );
    }
    let rows = |t: &str| a.iter().find(|(n, _)| n == t).map_or(0, |(_, r)| r.len());
    assert_eq!(rows("messages"), singly.iter().filter(|t| !t.duplicate).count());
    assert!(rows("review_items") >= 20);
    assert!(rows("claims") >= 10, "customers' claims of payment, from strangers and from the contact");
    // the billing contact who wrote dozens of times: each change confirmed,
    // and told a person will look at most as often as the day's answers allow
    let outbox_rows = &b.iter().find(|(n, _)| n == "outbox").unwrap().1;
    let to_jane = |kind: &str| {
        outbox_rows
            .iter()
            .filter(|r| r.contains(&format!("|'{kind}'|")) && r.contains("|'jane.doe@acme-dental.example'|"))
            .count()
    };
    assert!(to_jane("change_confirmation") >= 5);
    let acknowledged = to_jane("review_acknowledgement");
    assert!((1..=billmail::acting::ANSWERS_PER_SENDER_PER_DAY as usize).contains(&acknowledged), "{acknowledged}");
    let outbox = rows("outbox");
    assert!(outbox > bm.outbox().len(), "answers and notices were queued: {outbox}");
}
