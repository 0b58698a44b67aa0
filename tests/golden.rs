//! Golden files for every rendered invoice kind, text and HTML. A change to
//! a template shows up here as a diff; `UPDATE_GOLDEN=1 cargo test --test
//! golden` rewrites the files after a deliberate change.

use std::path::PathBuf;

use billmail::config::Config;
use billmail::domain::{
    AccountId, InvoiceKind, Line, LineCategory, Money, Month, Period, Proration, UserCounts, UserType,
};
use billmail::render::{InvoiceDoc, Renderer};
use chrono::NaiveDate;
use rust_decimal::Decimal;

fn config() -> Config {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/billmail.toml")).unwrap();
    Config::parse(&text, std::path::Path::new("/tmp")).unwrap()
}

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn line(desc: &str, qty: i64, cents: i64, prorate: Option<(u32, u32)>) -> Line {
    Line::priced(
        LineCategory::Product,
        desc.into(),
        Decimal::from(qty),
        Money::from_cents(cents),
        prorate.map(|(days, days_in_month)| Proration { days, days_in_month }),
    )
    .unwrap()
}

fn month(m: &str) -> Period {
    Period::Month(Month::parse(m).unwrap())
}

fn docs() -> Vec<(&'static str, InvoiceDoc)> {
    let base = InvoiceDoc {
        number: String::new(),
        account_id: AccountId::parse("ACME").unwrap(),
        account_name: "Acme Dental & Ortho <Main St>".into(),
        kind: InvoiceKind::Agreement,
        period: month("2027-01"),
        issued: d("2026-12-15"),
        due: d("2026-12-30"),
        currency: "USD".into(),
        lines: vec![],
        total: Money::ZERO,
        credit_applied: Money::ZERO,
        counts: None,
        tier_label: None,
        users: vec![],
        customer_address: vec![],
        paid: Money::ZERO,
        time_entries: vec![],
    };
    let agreement_lines = vec![
        line("Full-time users, Agreement Hybrid IT, January 2027", 24, 8500, None),
        line("Part-time users, Agreement Hybrid IT, January 2027", 3, 4250, None),
        line(
            "Adjustment for December 2026: +2 full-time users from 2026-12-10, 22 of 31 days (email from jane.doe@acme-dental.example)",
            2,
            8500,
            Some((22, 31)),
        ),
    ];
    let agreement = InvoiceDoc {
        number: "INV-2026-0042".into(),
        kind: InvoiceKind::Agreement,
        period: month("2027-01"),
        total: agreement_lines.iter().map(|l| l.amount).sum(),
        lines: agreement_lines,
        credit_applied: Money::from_cents(5000),
        counts: Some(UserCounts { full_time: 24, part_time: 3 }),
        tier_label: Some("Agreement Hybrid IT".into()),
        users: vec![("Maria Lopez".into(), UserType::FullTime), ("Tom Baker".into(), UserType::PartTime)],
        ..base.clone()
    };
    let recurring_lines =
        vec![line("Office 365 Business Premium", 25, 2200, None), line("Cloud backup (per TB)", 2, 4550, None)];
    let recurring = InvoiceDoc {
        number: "INV-2026-0043".into(),
        kind: InvoiceKind::Recurring,
        period: month("2026-12"),
        issued: d("2026-12-05"),
        total: recurring_lines.iter().map(|l| l.amount).sum(),
        lines: recurring_lines,
        ..base.clone()
    };
    let service_lines = vec![
        Line::priced(
            LineCategory::Service,
            "2026-12-01 · Sam Ortiz · Restored the file share after a failed update".into(),
            Decimal::new(25, 1),
            Money::from_cents(14500),
            None,
        )
        .unwrap(),
        Line::priced(
            LineCategory::Service,
            "2026-12-02 · Priya Nair · On-site: replaced the reception printer".into(),
            Decimal::new(75, 2),
            Money::from_cents(14500),
            None,
        )
        .unwrap(),
    ];
    let service = InvoiceDoc {
        number: "INV-2026-0044".into(),
        kind: InvoiceKind::Service,
        period: Period::Day(d("2026-12-03")),
        issued: d("2026-12-03"),
        due: d("2027-01-02"),
        total: service_lines.iter().map(|l| l.amount).sum(),
        lines: service_lines,
        ..base
    };
    vec![("agreement", agreement), ("recurring", recurring), ("service", service)]
}

#[test]
fn invoices_render_as_the_golden_files() {
    let cfg = config();
    let renderer = Renderer::new();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut mismatches = Vec::new();
    for (name, doc) in docs() {
        let r = renderer.invoice(&cfg.company, &doc).unwrap();
        let text = format!("Subject: {}\n\n{}", r.subject, r.text);
        for (ext, got) in [("txt", text), ("html", r.html)] {
            let path = dir.join(format!("invoice_{name}.{ext}"));
            if update {
                std::fs::write(&path, &got).unwrap();
                continue;
            }
            let want = std::fs::read_to_string(&path).unwrap_or_default();
            if want != got {
                mismatches.push(format!("{}:\n--- want\n{want}\n--- got\n{got}", path.display()));
            }
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n\n"));
}

#[test]
fn html_is_escaped_and_amounts_are_right() {
    let cfg = config();
    let (_, doc) = docs().remove(0);
    let r = Renderer::new().invoice(&cfg.company, &doc).unwrap();
    assert!(r.html.contains("Acme Dental &amp; Ortho &lt;Main St&gt;"));
    assert!(!r.html.contains("<Main St>"));
    assert!(r.text.contains("Acme Dental & Ortho <Main St>"), "plain text is not escaped");
    // 24 × 85 + 3 × 42.50 + round(2 × 85 × 22/31) = 2040 + 127.50 + 120.65
    assert!(r.text.contains("Total:          $2,288.15"), "{}", r.text);
    assert!(r.text.contains("Credit applied: -$50.00"));
    assert!(r.text.contains("Amount due:     $2,238.15"));
    assert!(r.subject.contains("INV-2026-0042"));
}
