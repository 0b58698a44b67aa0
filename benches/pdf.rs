//! Invoice PDFs: 1,000 made one after another on one core, from the
//! built-in template (an agreement invoice with an adjustment line and
//! named users, a service invoice with time entries), against a baseline
//! measured in the same run: a one-line Typst document made the same way,
//! the floor of what any PDF costs here. Targets (issue 16): at least 50
//! invoice PDFs a second, and a daemon idling under 20 MiB after it sent
//! them: the PDFs are made in a `billmail pdf-worker` child that ends with
//! the round, so the process that asked for them grows by nearly nothing
//! (the daemon's own figure is `MAIL_BENCH=idle cargo bench --bench mail`).
//! Run with `cargo bench --bench pdf`.

use std::time::Instant;

use billmail::config::Config;
use billmail::pdf::PdfTemplate;
use billmail::render::{InvoiceDoc, Renderer};

const N: usize = 1_000;

/// The resident memory of this process, in MiB (Linux).
fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb / 1024.0
}

/// The largest resident memory of a child this process waited for, in MiB.
fn children_peak_mib() -> f64 {
    // SAFETY: getrusage fills the struct it is given and has no other effect.
    let usage = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut u);
        u
    };
    usage.ru_maxrss as f64 / 1024.0
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("billmail.toml");
    std::fs::write(&path, include_str!("../examples/billmail.toml")).unwrap();
    let config = Config::load(&path).unwrap();
    // as the billmail binary does: PDFs are made in a `billmail pdf-worker`
    billmail::pdf::make_in_child(env!("CARGO_BIN_EXE_billmail").into());
    let renderer = Renderer::new();
    let samples = InvoiceDoc::samples();
    let docs: Vec<InvoiceDoc> = (0..N)
        .map(|i| {
            let mut d = samples[if i % 3 == 2 { 2 } else { 0 }].clone();
            d.number = format!("INV-2026-{:04}", i + 1);
            d.account_name = format!("Customer {i}");
            d
        })
        .collect();
    let before = rss_mib();

    // a round of one: what starting the worker costs
    let t = Instant::now();
    renderer.invoice_pdf(&config.company, &docs[0]).unwrap();
    renderer.finish_pdfs();
    let first = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let mut bytes = 0;
    let mut during = 0.0;
    for (i, d) in docs.iter().enumerate() {
        bytes += renderer.invoice_pdf(&config.company, d).unwrap().len();
        if i == 99 {
            during = rss_mib();
        }
    }
    renderer.finish_pdfs();
    let took = t.elapsed().as_secs_f64();
    let after = rss_mib();
    // the floor: a one-line document made in this process
    let floor = PdfTemplate::new("#let d = json(bytes(sys.inputs.data))\n#d.n", None);
    let t = Instant::now();
    for i in 0..N / 4 {
        floor
            .render(&serde_json::json!({ "n": i }), "floor", chrono::NaiveDate::from_ymd_opt(2026, 11, 15).unwrap())
            .unwrap();
    }
    let floor_each = t.elapsed().as_secs_f64() / (N / 4) as f64;
    drop(floor);
    let after_floor = rss_mib();

    let rate = N as f64 / took;
    println!(
        "pdf: {N} invoice PDFs in {took:.2} s, made in a billmail pdf-worker: {rate:.0} per second (target: at least 50)"
    );
    println!(
        "  {:.1} ms each, {:.1}x the one-line baseline made in process ({:.1} ms); {} KiB each on average; a round of one PDF {:.0} ms (the worker's start)",
        took * 1e3 / N as f64,
        took / N as f64 / floor_each,
        floor_each * 1e3,
        bytes / N / 1024,
        first * 1e3
    );
    // what sending PDFs adds to a daemon
    let grown = after - before;
    println!(
        "  this process: {before:.1} MiB before the rounds, {during:.1} MiB during one, {after:.1} MiB after: {grown:+.1} MiB (target: a daemon idle under 20 MiB, so growth near 0)"
    );
    println!(
        "  the worker's peak resident memory {:.1} MiB; the baseline, made in this process, left it at {after_floor:.1} MiB (Typst kept in memory)",
        children_peak_mib()
    );
    if rate < 50.0 || grown >= 2.0 {
        println!("  TARGET MISSED");
    }
}
