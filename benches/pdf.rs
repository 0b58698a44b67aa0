//! Invoice PDFs: 1,000 made one after another on one core, from the
//! built-in template (an agreement invoice with an adjustment line and
//! named users, a service invoice with time entries), against a baseline
//! measured in the same run: a one-line Typst document made the same way,
//! the floor of what any PDF costs here. Targets (issue 16): at least 50
//! invoice PDFs a second, and the process's resident memory after the run
//! under 20 MiB above what it was before (Typst's caches are freed after
//! every document). Run with `cargo bench --bench pdf`.

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

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("billmail.toml");
    std::fs::write(&path, include_str!("../examples/billmail.toml")).unwrap();
    let config = Config::load(&path).unwrap();
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

    let floor = PdfTemplate::new("#let d = json(bytes(sys.inputs.data))\n#d.n", None);
    let t = Instant::now();
    for i in 0..N / 4 {
        floor
            .render(&serde_json::json!({ "n": i }), "floor", chrono::NaiveDate::from_ymd_opt(2026, 11, 15).unwrap())
            .unwrap();
    }
    let floor_each = t.elapsed().as_secs_f64() / (N / 4) as f64;

    let t = Instant::now();
    let mut bytes = 0;
    let mut after_100 = 0.0;
    for (i, d) in docs.iter().enumerate() {
        bytes += renderer.invoice_pdf(&config.company, d).unwrap().len();
        if i == 99 {
            after_100 = rss_mib();
        }
    }
    let took = t.elapsed().as_secs_f64();
    let after = rss_mib();
    let rate = N as f64 / took;
    println!("pdf: {N} invoice PDFs in {took:.2} s: {rate:.0} per second (target: at least 50)");
    println!(
        "  {:.1} ms each, {:.1}x the one-line baseline ({:.1} ms); {} KiB each on average",
        took * 1e3 / N as f64,
        took / N as f64 / floor_each,
        floor_each * 1e3,
        bytes / N / 1024
    );
    println!(
        "  resident memory {before:.1} MiB before, {after_100:.1} MiB after 100, {after:.1} MiB after {N}: {:+.1} MiB (target: under 20)",
        after - before
    );
    if rate < 50.0 || after - before >= 20.0 {
        println!("  TARGET MISSED");
    }
}
