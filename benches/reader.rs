//! Reader throughput on one core: the public corpus (or tests/corpus when it
//! is absent) read over and over, against a bare mail-parser parse of the
//! same messages in the same run. Targets: at least 10,000 messages/s and
//! within 5× of the bare parse. Run with `cargo bench --bench reader`.
//! `READER_EACH=1` reads each message 200 times in a row instead and prints
//! its time against its bare parse, slowest first (which messages cost
//! most, with the pattern tables kept in the CPU's cache). `READER_DIR=D`
//! reads the `.eml` files of folder D instead.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

fn load() -> Vec<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let shared = root.join("../shared/corpus/messages");
    // READER_DIR: another folder of .eml files (for a look at one kind of message)
    let dir = match std::env::var_os("READER_DIR") {
        Some(d) => d.into(),
        None if shared.is_dir() => shared,
        None => root.join("tests/corpus"),
    };
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    files.sort();
    println!("corpus: {} messages from {}", files.len(), dir.display());
    files.into_iter().map(|p| std::fs::read(p).unwrap()).collect()
}

/// Messages per second over at least `min` of repeated passes.
fn rate(msgs: &[Vec<u8>], min: Duration, f: impl Fn(&[u8])) -> f64 {
    let start = Instant::now();
    let mut n = 0usize;
    while start.elapsed() < min {
        for m in msgs {
            f(m);
        }
        n += msgs.len();
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// `passes` passes over the corpus, in a function of its own so that a
/// profiler can count it alone (`--toggle-collect=reader::steady*`).
#[inline(never)]
fn steady(msgs: &[Vec<u8>], passes: usize) {
    for _ in 0..passes {
        for m in msgs {
            let _ = black_box(billmail::reading::read(black_box(m)));
        }
    }
}

/// The same for a bare mail-parser parse.
#[inline(never)]
fn steady_bare(msgs: &[Vec<u8>], passes: usize) {
    for _ in 0..passes {
        for m in msgs {
            black_box(mail_parser::MessageParser::default().parse(black_box(m)));
        }
    }
}

fn main() {
    let msgs = load();
    // warm up both paths (regexes compile on first use)
    for m in &msgs {
        let _ = billmail::reading::read(m);
    }
    let window = Duration::from_secs(1);
    if std::env::var_os("READER_EACH").is_some() {
        let mut v: Vec<(f64, f64, usize, usize)> = msgs
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let t = Instant::now();
                for _ in 0..200 {
                    let _ = black_box(billmail::reading::read(black_box(m)));
                }
                let r = t.elapsed().as_secs_f64() / 200.0 * 1e6;
                let t = Instant::now();
                for _ in 0..200 {
                    black_box(mail_parser::MessageParser::default().parse(black_box(m)));
                }
                let b = t.elapsed().as_secs_f64() / 200.0 * 1e6;
                (r, b, i, m.len())
            })
            .collect();
        let tr: f64 = v.iter().map(|x| x.0).sum();
        let tb: f64 = v.iter().map(|x| x.1).sum();
        println!("total reader {tr:.0} us, bare {tb:.0} us, ratio {:.2}", tr / tb);
        v.sort_by(|a, b| b.0.total_cmp(&a.0));
        for (r, b, i, len) in v {
            println!("{i:3} {len:6} B reader {r:7.1} us bare {b:6.1} us ({:.1}x)", r / b);
        }
        return;
    }
    if let Some(passes) = std::env::var("READER_PASSES").ok().and_then(|p| p.parse().ok()) {
        // for profiling the reader alone, after the warm-up, a fixed amount of work
        if std::env::var_os("READER_BARE").is_some() {
            steady_bare(&msgs, passes);
        } else {
            steady(&msgs, passes);
        }
        return;
    }
    if std::env::var_os("READER_ONLY").is_some() {
        // for profiling the reader alone
        let r = rate(&msgs, window * 3, |m| {
            let _ = black_box(billmail::reading::read(black_box(m)));
        });
        println!("  billmail reader: {r:.0} messages/s");
        return;
    }
    // alternate short rounds of each, so that a slow spell of the machine
    // falls on both; the medians are reported
    let rounds = 11;
    let mut bares = Vec::new();
    let mut readers = Vec::new();
    let mut ratios = Vec::new();
    for _ in 0..rounds {
        let b = rate(&msgs, window / 2, |m| {
            black_box(mail_parser::MessageParser::default().parse(black_box(m)));
        });
        let r = rate(&msgs, window / 2, |m| {
            let _ = black_box(billmail::reading::read(black_box(m)));
        });
        bares.push(b);
        readers.push(r);
        ratios.push(b / r);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (bare, reader, ratio) = (median(&mut bares), median(&mut readers), median(&mut ratios));
    println!("  rounds: {rounds} of {:.1} s each way; medians:", window.as_secs_f64() / 2.0);
    println!("  bare mail-parser parse: {bare:>10.0} messages/s");
    println!("  billmail reader:        {reader:>10.0} messages/s");
    println!(
        "  ratio {ratio:.2}x (target <= 5x); throughput target >= 10000 messages/s: {}",
        if reader >= 10_000.0 && ratio <= 5.0 { "met" } else { "NOT met" }
    );
}
