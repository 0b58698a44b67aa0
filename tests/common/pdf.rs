//! Reading a PDF as a person's tools do: poppler's `pdfinfo` and
//! `pdftotext` (Debian's poppler-utils, installed by scripts/test.sh).

use std::path::Path;
use std::process::Command;

fn poppler(tool: &str, args: &[&str], pdf: &Path) -> String {
    let out = Command::new(tool)
        .args(args)
        .arg(pdf)
        .args(if tool == "pdftotext" { &["-"][..] } else { &[][..] })
        .output()
        .unwrap_or_else(|e| panic!("{tool} (poppler-utils) runs: {e}"));
    assert!(out.status.success(), "{tool} read {}: {}", pdf.display(), String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// `pdfinfo`'s fields (Title, Tagged, Pages, …).
pub fn info(pdf: &Path) -> std::collections::BTreeMap<String, String> {
    poppler("pdfinfo", &[], pdf)
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// The XMP metadata (`pdfinfo -meta`): where PDF/A conformance is declared.
pub fn metadata(pdf: &Path) -> String {
    poppler("pdfinfo", &["-meta"], pdf)
}

/// The text as the page shows it, a printed line to a line (`pdftotext
/// -layout`): a table's row is one line, its cells in order.
pub fn text(pdf: &Path) -> String {
    poppler("pdftotext", &["-layout"], pdf)
}

/// The line of `text` that holds `first`, which must also hold each of
/// `then`, in this order (a table row read across).
pub fn assert_row(text: &str, first: &str, then: &[&str]) {
    let line = text.lines().find(|l| l.contains(first)).unwrap_or_else(|| panic!("no line holds {first:?}:\n{text}"));
    assert_in_order(line, then);
}

/// Checks that `text` holds each of `wanted`, in this order.
pub fn assert_in_order(text: &str, wanted: &[&str]) {
    let mut from = 0;
    for w in wanted {
        match text[from..].find(w) {
            Some(i) => from += i + w.len(),
            None => panic!("{w:?} is not in the PDF's text after the one before it; the text:\n{text}"),
        }
    }
}

/// A PDF that is PDF/A-2b per its metadata, tagged, and titled `title`.
pub fn assert_archival(pdf: &Path, title: &str) {
    let info = info(pdf);
    assert_eq!(info.get("Title").map(String::as_str), Some(title), "{info:?}");
    assert_eq!(info.get("Tagged").map(String::as_str), Some("yes"), "{info:?}");
    let meta = metadata(pdf);
    assert!(meta.contains("<pdfaid:part>2</pdfaid:part>") || meta.contains("pdfaid:part=\"2\""), "{meta}");
    assert!(
        meta.contains("<pdfaid:conformance>B</pdfaid:conformance>") || meta.contains("pdfaid:conformance=\"B\""),
        "{meta}"
    );
}
