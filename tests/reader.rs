//! The reader against the corpora: every folder of `*.expected.json` under
//! ../shared/corpus (when present beside the repository) and our own cases
//! in tests/corpus. Scored exactly as `shared/corpus/score` scores: correct,
//! safe (a person looks: `low`, or `other` where a person must look),
//! missed (`other` for a clear request: left for people, nothing wrong), and
//! wrong (a `high` answer that does not match, `high` where a person must
//! look, a request filed as automatic mail), which fails the test.

use std::path::{Path, PathBuf};

use serde_json::Value;

fn summed(adjustments: &Value) -> Vec<(String, i64)> {
    let mut out: Vec<(String, i64)> = Vec::new();
    for a in adjustments.as_array().into_iter().flatten() {
        let t = a["user_type"].as_str().unwrap_or("").to_string();
        let d = a["delta"].as_i64().unwrap_or(0);
        match out.iter_mut().find(|(k, _)| *k == t) {
            Some(e) => e.1 += d,
            None => out.push((t, d)),
        }
    }
    out.retain(|(_, d)| *d != 0);
    out.sort();
    out
}

fn non_null(totals: &Value) -> Vec<(String, i64)> {
    let mut out: Vec<(String, i64)> =
        totals.as_object().into_iter().flatten().filter_map(|(k, v)| v.as_i64().map(|n| (k.clone(), n))).collect();
    out.sort();
    out
}

fn cents(v: &Value) -> Option<i64> {
    let d: rust_decimal::Decimal = v.as_str()?.parse().ok()?;
    i64::try_from((d * rust_decimal::Decimal::ONE_HUNDRED).round()).ok()
}

fn mismatches(exp: &Value, got: &Value) -> Vec<String> {
    if got["kind"] != exp["kind"] {
        return vec![format!("kind {}, expected {}", got["kind"], exp["kind"])];
    }
    let mut miss = Vec::new();
    if exp["kind"] == "user_change" {
        let (e, g) = (&exp["user_change"], &got["user_change"]);
        if summed(&g["adjustments"]) != summed(&e["adjustments"]) {
            miss.push(format!("adjustments {:?}, expected {:?}", summed(&g["adjustments"]), summed(&e["adjustments"])));
        }
        if non_null(&g["totals"]) != non_null(&e["totals"]) {
            miss.push(format!("totals {:?}, expected {:?}", non_null(&g["totals"]), non_null(&e["totals"])));
        }
    }
    if exp["kind"] == "payment" {
        let (e, g) = (&exp["payment"], &got["payment"]);
        if cents(&g["amount"]) != cents(&e["amount"]) {
            miss.push(format!("amount {}, expected {}", g["amount"], e["amount"]));
        }
        for f in ["currency", "method", "invoice_numbers"] {
            if e.get(f).is_some() && g[f] != e[f] {
                miss.push(format!("{f} {}, expected {}", g[f], e[f]));
            }
        }
    }
    miss
}

/// The figures of a `high` reading that no evidence backs (parse-output.md:
/// every figure has at least one entry, with its text and part).
fn unbacked(got: &Value) -> Vec<String> {
    let mut figures: Vec<String> = Vec::new();
    let u = &got["user_change"];
    for i in 0..u["adjustments"].as_array().map_or(0, Vec::len) {
        figures.push(format!("adjustments[{i}]"));
    }
    for t in ["full_time", "part_time"] {
        if u["totals"][t].is_i64() {
            figures.push(format!("totals.{t}"));
        }
    }
    if u["effective_date"].is_string() {
        figures.push("effective_date".into());
    }
    let p = &got["payment"];
    if p["amount"].is_string() {
        figures.push("amount".into());
    }
    for i in 0..p["invoice_numbers"].as_array().map_or(0, Vec::len) {
        figures.push(format!("invoice_numbers[{i}]"));
    }
    let evidence = got["evidence"].as_array().cloned().unwrap_or_default();
    let parts = ["text/plain", "text/html", "attachment", "subject"];
    figures
        .into_iter()
        .filter(|f| {
            !evidence.iter().any(|e| {
                e["field"] == f.as_str()
                    && e["text"].as_str().is_some_and(|t| !t.is_empty() && t.chars().count() <= 300)
                    && parts.contains(&e["part"].as_str().unwrap_or(""))
            })
        })
        .collect()
}

struct Score {
    correct: usize,
    safe: usize,
    missed: usize,
    wrong: Vec<String>,
    total: usize,
}

impl std::fmt::Display for Score {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} correct, {} safe, {} missed, {} wrong of {}",
            self.correct,
            self.safe,
            self.missed,
            self.wrong.len(),
            self.total
        )
    }
}

fn score(dir: &Path) -> Score {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    names.sort();
    let mut s = Score { correct: 0, safe: 0, missed: 0, wrong: Vec::new(), total: names.len() };
    for eml in names {
        let exp: Value =
            serde_json::from_str(&std::fs::read_to_string(eml.with_extension("expected.json")).unwrap()).unwrap();
        let reading = billmail::reading::read(&std::fs::read(&eml).unwrap());
        let got = match reading {
            Ok(r) => serde_json::to_value(r).unwrap(),
            Err(e) => {
                s.wrong.push(format!("{}: not read: {e}", eml.display()));
                continue;
            }
        };
        let want_low = exp["confidence"] == "low";
        let said_low = got["confidence"] == "low";
        let miss = mismatches(&exp, &got);
        let said_other = got["kind"] == "other";
        if said_low {
            if want_low { s.correct += 1 } else { s.safe += 1 }
        } else if want_low {
            if said_other {
                s.safe += 1
            } else {
                s.wrong.push(format!("{}: said high where a person must look ({got})", eml.display()))
            }
        } else if miss.is_empty() {
            let lacking = unbacked(&got);
            if lacking.is_empty() {
                s.correct += 1;
            } else {
                s.wrong.push(format!("{}: no evidence for {}", eml.display(), lacking.join(", ")));
            }
        } else if said_other && (exp["kind"] == "user_change" || exp["kind"] == "payment") {
            // left unread in the inbox for a person: nothing wrong, the work undone
            s.missed += 1;
        } else {
            s.wrong.push(format!("{}: {}", eml.display(), miss.join("; ")));
        }
    }
    s
}

#[test]
fn our_own_cases_are_read_right() {
    let s = score(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus"));
    assert!(s.total >= 20);
    assert!(s.wrong.is_empty(), "wrong:\n{}", s.wrong.join("\n"));
    assert!(s.correct * 10 >= s.total * 9, "{} correct, {} safe of {}", s.correct, s.safe, s.total);
}

/// The share of correct readings each public folder must keep, in percent:
/// the first corpus is at the 90% target; later ones at least at what the
/// reader reached when they arrived (the target for every one is 90%, see
/// docs/reading.md). A folder not listed is held to no wrong answer only.
const FLOORS: &[(&str, usize)] = &[("messages", 90), ("messages-b", 90)];

#[test]
fn every_public_corpus_scores_no_wrong() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    if !root.is_dir() {
        // the corpora live beside the repository in CI and development; say so when absent
        eprintln!("note: {} not found; only tests/corpus was scored", root.display());
        return;
    }
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|d| {
            d.is_dir()
                && std::fs::read_dir(d)
                    .unwrap()
                    .any(|e| e.unwrap().path().to_string_lossy().ends_with(".expected.json"))
        })
        .collect();
    dirs.sort();
    assert!(!dirs.is_empty(), "no corpus folder under {}", root.display());
    let mut failures = Vec::new();
    for dir in dirs {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let s = score(&dir);
        eprintln!("{name}: {s}");
        if !s.wrong.is_empty() {
            failures.push(format!("{name}: wrong:\n{}", s.wrong.join("\n")));
        }
        if let Some((_, floor)) = FLOORS.iter().find(|(n, _)| *n == name)
            && s.correct * 100 < s.total * floor
        {
            failures.push(format!("{name}: {s}, under the floor of {floor}% correct"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn parse_exit_codes() {
    let bin = env!("CARGO_BIN_EXE_billmail");
    let dir = tempfile::tempdir().unwrap();
    let run = |p: &Path| std::process::Command::new(bin).arg("parse").arg(p).arg("--json").output().unwrap();
    let missing = run(&dir.path().join("nope.eml"));
    assert_eq!(missing.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&missing.stderr).lines().count(), 1);
    std::fs::write(dir.path().join("empty.eml"), "").unwrap();
    assert_eq!(run(&dir.path().join("empty.eml")).status.code(), Some(2));
    std::fs::write(dir.path().join("junk.eml"), "just some words\nwith no headers at all\n").unwrap();
    assert_eq!(run(&dir.path().join("junk.eml")).status.code(), Some(2));
    let good = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/102-two-new-employees-typed.eml");
    let out = run(&good);
    assert_eq!(out.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["kind"], "user_change");
    assert_eq!(v["from"], "gliu@northgate-cpa.example");
    assert_eq!(v["user_change"]["effective_date"], "2026-12-01");
    assert_eq!(v["user_change"]["names_added"], serde_json::json!(["Aaron Fox", "Bella Stone"]));
}
