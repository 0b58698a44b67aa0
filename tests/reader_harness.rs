//! The reader on mail it was not written against: every corpus message it
//! reads right, re-wrapped as other clients and people send it (forwarded
//! by Outlook, Gmail and Apple Mail, answered top- and bottom-posted above
//! or below an older message full of numbers, re-encoded as
//! quoted-printable, base64, windows-1252 or HTML only, with a signature
//! and a legal disclaimer full of numbers appended), must give the same
//! reading or `low`. And requests built from parts (verb, count as digits
//! or words, type, names, date phrase) must be read as their known answer.

use std::path::{Path, PathBuf};

use base64::Engine;
use billmail::reading::{Confidence, Kind, Reading, read};
use mail_parser::{MessageParser, PartType};
use proptest::prelude::*;
use serde_json::Value;

/// Every corpus folder: the repository's own, and `../shared/corpus/*` when present.
fn folders() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = vec![root.join("tests/corpus")];
    if let Ok(shared) = std::fs::read_dir(root.join("../shared/corpus")) {
        let mut dirs: Vec<PathBuf> = shared.map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
        dirs.sort();
        out.extend(dirs);
    }
    out
}

/// (name, raw message, expected answer) of every corpus message.
fn corpus() -> Vec<(String, Vec<u8>, Value)> {
    let mut out = Vec::new();
    for dir in folders() {
        let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect();
        names.sort();
        for eml in names {
            let exp = eml.with_extension("expected.json");
            let Ok(exp) = std::fs::read_to_string(&exp) else { continue };
            let name = format!(
                "{}/{}",
                dir.file_name().unwrap().to_string_lossy(),
                eml.file_stem().unwrap().to_string_lossy()
            );
            out.push((name, std::fs::read(&eml).unwrap(), serde_json::from_str(&exp).unwrap()));
        }
    }
    out
}

/// What is compared: the kind and the figures.
#[derive(Debug, PartialEq)]
struct Figures {
    kind: Kind,
    deltas: (i64, i64),
    totals: (Option<i64>, Option<i64>),
    amount: Option<rust_decimal::Decimal>,
    currency: Option<String>,
    method: Option<billmail::reading::PaymentMethod>,
    invoices: Vec<String>,
}

fn figures(r: &Reading) -> Figures {
    let totals = r.user_change.as_ref().and_then(|u| u.totals.as_ref()).map(|t| (t.full_time, t.part_time));
    Figures {
        kind: r.kind,
        deltas: r.deltas(),
        totals: totals.unwrap_or((None, None)),
        amount: r.payment.as_ref().and_then(|p| p.amount),
        currency: r.payment.as_ref().and_then(|p| p.currency.clone()),
        method: r.payment.as_ref().map(|p| p.method),
        invoices: r
            .payment
            .as_ref()
            .map(|p| p.invoice_numbers.iter().map(|n| n.to_string()).collect())
            .unwrap_or_default(),
    }
}

/// Does the reading give what the expected file says, at high?
fn right(r: &Reading, exp: &Value) -> bool {
    if r.confidence != Confidence::High || exp["confidence"] == "low" {
        return false;
    }
    let kind = serde_json::to_value(r.kind).unwrap();
    if kind != exp["kind"] {
        return false;
    }
    match r.kind {
        Kind::UserChange => {
            let mut want = (0, 0);
            for a in exp["user_change"]["adjustments"].as_array().into_iter().flatten() {
                let d = a["delta"].as_i64().unwrap();
                if a["user_type"] == "full_time" { want.0 += d } else { want.1 += d }
            }
            want == r.deltas()
        }
        Kind::Payment => {
            let p = r.payment.as_ref().unwrap();
            let e = &exp["payment"];
            p.amount.map(|a| format!("{a:.2}")).as_deref() == e["amount"].as_str()
                && p.currency.as_deref() == e["currency"].as_str()
                && e["method"] == p.method.as_str()
        }
        Kind::Other => true,
        _ => false,
    }
}

/// The parts of a message that a client re-wraps.
struct Parts {
    from: String,
    subject: String,
    date: String,
    text: String,
}

/// The parts of a plain-text message; `None` for one whose request is in
/// HTML only or in an attached message, which a re-wrap of its text would
/// not carry.
fn parts(raw: &[u8]) -> Option<Parts> {
    let m = MessageParser::default().parse(raw)?;
    let first = *m.text_body.first()?;
    if !matches!(m.parts.get(first as usize)?.body, PartType::Text(_)) || m.attachments().any(|a| a.is_message()) {
        return None;
    }
    let from = m.from().and_then(|a| a.first()).map(|a| match (a.name(), a.address()) {
        (Some(n), Some(ad)) => format!("{n} <{ad}>"),
        (None, Some(ad)) => ad.to_string(),
        _ => String::new(),
    })?;
    let date = m.header_raw("Date").map(|d| d.trim().to_string()).unwrap_or_default();
    let text = m.body_text(0)?.replace("\r\n", "\n");
    Some(Parts { from, subject: m.subject().unwrap_or("").to_string(), date, text })
}

fn message(from: &str, subject: &str, date: &str, headers: &str, body: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: KR Group Accounting <accounting@krgroup.example>\r\nSubject: {subject}\r\nDate: {date}\r\n\
         Message-ID: <harness.{}@test.example>\r\nMIME-Version: 1.0\r\n{headers}\r\n{}",
        body.len(),
        body.replace('\n', "\r\n")
    )
    .into_bytes()
}

fn plain(from: &str, subject: &str, date: &str, body: &str) -> Vec<u8> {
    message(from, subject, date, "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n", body)
}

/// An older message of ours, full of numbers, as a client quotes it.
const OURS: &str = "Hello,\n\nYour invoice INV-2026-0101 for $1,234.00 is attached. Your account has 12 full-time \
                    and 3 part-time users.\nA late fee of $25.00 applies after 12/20/2026.\n\nKR Group Accounting\n614-555-0100";
const WROTE: &str = "On Mon, Nov 2, 2026 at 9:00 AM KR Group Accounting <accounting@krgroup.example> wrote:";
const SIGNATURE: &str = "\n\n--\nAlex Morgan\nOperations Director | 4 locations\nSuite 300, 1250 Pine St, Columbus, OH 43215\n\
                         T 614-555-0100 x204 | F 614-555-0101\nCONFIDENTIALITY NOTICE: This e-mail, including any of its 2 \
                         attachments, is for the sole use of the intended recipient(s). If you received it in error, call \
                         1-800-555-0123 within 24 hours and delete all 3 copies.";

fn quoted(text: &str) -> String {
    text.lines().map(|l| if l.is_empty() { ">".to_string() } else { format!("> {l}") }).collect::<Vec<_>>().join("\n")
}

fn quoted_printable(text: &str) -> String {
    let mut out = String::new();
    for line in text.split('\n') {
        let mut cur = String::new();
        let bytes = line.as_bytes();
        for (i, &b) in bytes.iter().enumerate() {
            let last = i + 1 == bytes.len();
            let piece = if b == b'=' || b >= 0x7f || (b < 0x20 && b != b'\t') || (last && (b == b' ' || b == b'\t')) {
                format!("={b:02X}")
            } else {
                (b as char).to_string()
            };
            if cur.len() + piece.len() > 75 {
                out.push_str(&cur);
                out.push_str("=\n");
                cur.clear();
            }
            cur.push_str(&piece);
        }
        out.push_str(&cur);
        out.push('\n');
    }
    out
}

/// The text in windows-1252, when every character has a place there.
fn windows_1252(text: &str) -> Option<Vec<u8>> {
    text.chars()
        .map(|c| match c {
            '€' => Some(0x80),
            '‚' => Some(0x82),
            '„' => Some(0x84),
            '…' => Some(0x85),
            '‘' => Some(0x91),
            '’' => Some(0x92),
            '“' => Some(0x93),
            '”' => Some(0x94),
            '•' => Some(0x95),
            '–' => Some(0x96),
            '—' => Some(0x97),
            c if (c as u32) < 0x80 || (0xa0..0x100).contains(&(c as u32)) => Some(c as u32 as u8),
            _ => None,
        })
        .collect()
}

fn html_only(text: &str) -> String {
    let esc = text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    let paras: Vec<String> = esc.split("\n\n").map(|p| format!("<p>{}</p>", p.replace('\n', "<br>\n"))).collect();
    format!("<html><body>\n{}\n</body></html>\n", paras.join("\n"))
}

/// Every re-wrapping of one message: (how, raw).
fn variants(p: &Parts) -> Vec<(&'static str, Vec<u8>)> {
    let (from, subject, date, text) = (&p.from, &p.subject, &p.date, &p.text);
    let relay = "Pat Relay <pat.relay@forwarder.example>";
    let mut out = vec![
        (
            "forwarded by Outlook",
            plain(
                relay,
                &format!("FW: {subject}"),
                date,
                &format!(
                    "Please see below.\n\n-----Original Message-----\nFrom: {from}\nSent: {date}\nTo: accounting@krgroup.example\nSubject: {subject}\n\n{text}"
                ),
            ),
        ),
        (
            "forwarded by Gmail",
            plain(
                relay,
                &format!("Fwd: {subject}"),
                date,
                &format!(
                    "---------- Forwarded message ---------\nFrom: {from}\nDate: {date}\nSubject: {subject}\nTo: <accounting@krgroup.example>\n\n\n{text}"
                ),
            ),
        ),
        (
            "forwarded by Apple Mail",
            plain(
                relay,
                &format!("Fwd: {subject}"),
                date,
                &format!(
                    "\n\nBegin forwarded message:\n\nFrom: {from}\nSubject: {subject}\nDate: {date}\nTo: accounting@krgroup.example\n\n{text}"
                ),
            ),
        ),
        (
            "top-posted above our older message",
            plain(from, subject, date, &format!("{text}\n\n{WROTE}\n{}\n", quoted(OURS))),
        ),
        (
            "bottom-posted below our older message",
            plain(from, subject, date, &format!("{WROTE}\n{}\n\n{text}\n", quoted(OURS))),
        ),
        ("with a signature and a disclaimer", plain(from, subject, date, &format!("{text}{SIGNATURE}\n"))),
        (
            "quoted-printable",
            message(
                from,
                subject,
                date,
                "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n",
                &quoted_printable(text),
            ),
        ),
        (
            "base64",
            message(
                from,
                subject,
                date,
                "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n",
                &base64::engine::general_purpose::STANDARD
                    .encode(text.replace('\n', "\r\n"))
                    .as_bytes()
                    .chunks(76)
                    .map(|c| String::from_utf8_lossy(c).to_string())
                    .collect::<Vec<_>>()
                    .join("\n"),
            ),
        ),
        (
            "HTML only",
            message(
                from,
                subject,
                date,
                "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n",
                &html_only(text),
            ),
        ),
    ];
    if let Some(bytes) = windows_1252(text) {
        let mut raw = message(
            from,
            subject,
            date,
            "Content-Type: text/plain; charset=windows-1252\r\nContent-Transfer-Encoding: 8bit\r\n",
            "",
        );
        raw.extend(bytes.split(|b| *b == b'\n').collect::<Vec<_>>().join(&b"\r\n"[..]));
        out.push(("windows-1252", raw));
    }
    out
}

#[test]
fn every_message_read_right_reads_the_same_or_low_however_it_is_wrapped() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for (name, raw, exp) in corpus() {
        let Ok(orig) = read(&raw) else { continue };
        if !right(&orig, &exp) {
            continue;
        }
        let Some(p) = parts(&raw) else { continue };
        let want = figures(&orig);
        for (how, variant) in variants(&p) {
            let got = read(&variant).unwrap_or_else(|e| panic!("{name} {how}: {e}"));
            checked += 1;
            if got.confidence == Confidence::Low {
                continue;
            }
            let have = figures(&got);
            // an `other` that stays `other` is the same reading
            if have != want {
                failures.push(format!("{name} {how}: read {have:?}, not {want:?} nor low ({:?})", got.reasons));
            }
        }
    }
    eprintln!("{checked} variants checked, {} not the same nor low", failures.len());
    // tests/corpus alone gives some 200; with the shared corpora over 1,300
    assert!(checked >= 150, "only {checked} variants");
    assert!(failures.is_empty(), "{} of {checked}:\n{}", failures.len(), failures.join("\n"));
}

/// Parts of a request with a known answer.
fn count_words(n: usize) -> &'static str {
    ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"][n]
}

const FIRST: &[&str] = &["Maria", "Tom", "Łukasz", "Zoë", "Aisha", "Connor", "Mei", "José", "Priya", "Oluwaseun"];
const LAST: &[&str] = &["Lopez", "Baker", "Nowak", "Müller", "Rahman", "O'Brien", "Lin", "García", "Patel", "Adeyemi"];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// "Please add three part-time users starting December 7, 2026." and its
    /// many wordings: read as exactly that, or `low`, never another figure.
    #[test]
    fn counted_requests_built_from_parts(
        add in any::<bool>(),
        n in 1usize..=10,
        words in any::<bool>(),
        part in any::<bool>(),
        noun in prop::sample::select(vec!["users", "staff members", "employees", "seats"]),
        lead in prop::sample::select(vec!["Please", "Could you please", "Kindly", "We need you to"]),
        date in prop::sample::select(vec!["", " starting December 7, 2026", " effective 12/1", " as of next Monday"]),
    ) {
        let verb = if add { "add" } else { "remove" };
        let count = if words { count_words(n).to_string() } else { n.to_string() };
        let typ = if part { "part-time" } else { "full-time" };
        let noun = if n == 1 { noun.trim_end_matches('s').to_string() } else { noun.to_string() };
        let body = format!("Hi,\n\n{lead} {verb} {count} {typ} {noun}{date}.\n\nThanks,\nJane\n");
        let raw = plain("Jane Doe <jane@acme.example>", "User change", "Wed, 11 Nov 2026 09:00:00 -0500", &body);
        let r = read(&raw).unwrap();
        let sign = if add { 1 } else { -1 };
        let want = if part { (0, sign * n as i64) } else { (sign * n as i64, 0) };
        prop_assert_eq!(r.kind, Kind::UserChange, "{}", body);
        // nothing in these is left open: read at high, exactly
        prop_assert_eq!(r.confidence, Confidence::High, "{} {:?}", body, r.reasons);
        prop_assert_eq!(r.deltas(), want, "{}", body);
    }

    /// "Please remove Maria Lopez and Tom Baker (both part-time)": named
    /// people, counted once each.
    #[test]
    fn named_requests_built_from_parts(
        add in any::<bool>(),
        picks in prop::collection::btree_set(0usize..10, 1..=4),
        part in any::<bool>(),
        shape in 0usize..3,
    ) {
        let names: Vec<String> = picks.iter().map(|i| format!("{} {}", FIRST[*i], LAST[(*i * 7 + 3) % 10])).collect();
        let verb = if add { "add" } else { "remove" };
        let typ = if part { "part-time" } else { "full-time" };
        let list = match names.len() {
            1 => names[0].clone(),
            _ => format!("{} and {}", names[..names.len() - 1].join(", "), names[names.len() - 1]),
        };
        let body = match shape {
            0 => format!("Please {verb} {list} as {typ} users.\n\nThanks,\nJane\n"),
            1 => format!("Please {verb} the following {typ} users:\n\n{}\n\nThanks,\nJane\n", names.iter().map(|n| format!("- {n}")).collect::<Vec<_>>().join("\n")),
            _ => format!("Hello,\nPlease {verb} {list}. {} {typ}.\nThanks,\nJane\n", if names.len() == 1 { "They are" } else { "All of them are" }),
        };
        let raw = plain("Jane Doe <jane@acme.example>", "User change", "Wed, 11 Nov 2026 09:00:00 -0500", &body);
        let r = read(&raw).unwrap();
        let n = names.len() as i64 * if add { 1 } else { -1 };
        let want = if part { (0, n) } else { (n, 0) };
        prop_assert_eq!(r.kind, Kind::UserChange, "{}", body);
        prop_assert_eq!(r.confidence, Confidence::High, "{} {:?}", body, r.reasons);
        prop_assert_eq!(r.deltas(), want, "{}", body);
    }
}
