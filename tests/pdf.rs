//! Invoice PDFs as a customer's accounts-payable department gets them:
//! PDF/A, tagged, titled with the invoice number, and text that copies out
//! in reading order (read with poppler's tools, not with our own code).

mod common;

use common::pdf::{assert_archival, assert_in_order, assert_row, text};
use common::{Bm, CONFIG};
use serde_json::Value;

const NOV2: &str = "2026-11-02T09:00:00-05:00";
const NOV15: &str = "2026-11-15T08:00:00-05:00";

const ACCOUNTS: &str = "\
id,name,tier,full_time_users,part_time_users,billing_emails,address_line1,address_line2,city,state,postal_code,country
ACME,Acme Dental,hybrid,22,3,ap@acme-dental.example,200 Main Street,Suite 4,Springfield,IL,62701,
";

/// The example config (its letterhead has an address and a phone) with more `[company]` keys.
fn config(extra_company: &str) -> String {
    CONFIG.replacen("[company]\n", &format!("[company]\n{extra_company}"), 1)
}

fn pdf_of(bm: &Bm, number: &str) -> std::path::PathBuf {
    let out = bm.path(&format!("{number}.pdf"));
    bm.run(&["invoices", "show", number, "--format", "pdf", "--output", out.to_str().unwrap()]).ok();
    out
}

#[test]
fn an_agreement_invoice_is_an_archival_pdf_that_reads_like_the_invoice() {
    let bm = Bm::with_config(&config(""));
    bm.import_accounts(ACCOUNTS, NOV2).ok();
    bm.at(NOV15, &["tick"]).ok();
    // two hires in December: January's invoice carries their adjustment line
    bm.import_accounts(&ACCOUNTS.replace(",22,3,", ",24,3,"), "2026-12-10T10:00:00-05:00").ok();
    bm.at("2026-12-15T08:00:00-05:00", &["tick"]).ok();
    let number = "INV-2026-0002";
    let pdf = pdf_of(&bm, number);
    assert_archival(&pdf, number);
    let t = text(&pdf);
    let inv = bm.invoice(number);
    let lines = inv["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 3, "{inv}");
    // the letterhead, bill-to beside the invoice's facts, a row to a line
    assert_in_order(&t, &["KR Group", "1200 Commerce Drive, Suite 300", "Columbus, OH 43215", "+1 614 555 0100"]);
    assert_in_order(&t, &["Invoice", number, "Agreement Hybrid IT", "January 2027"]);
    assert_row(&t, "BILL TO", &["Invoice number", number]);
    assert_row(&t, "Acme Dental", &["Issue date", "December 15, 2026"]);
    assert_row(&t, "200 Main Street", &["Due date", "December 30, 2026"]);
    assert_row(&t, "Suite 4", &["Terms", "Net 15 days"]);
    assert_in_order(&t, &["Springfield, IL 62701", "Account ACME"]);
    // each line of the invoice on its own row: description, quantity, price, days, amount
    assert_row(&t, "Description", &["Qty", "Unit price", "Days", "Amount"]);
    let mut previous = 0;
    for l in lines {
        let description = l["description"].as_str().unwrap();
        let start: String = description.chars().take(40).collect();
        let at = t.find(&start).unwrap_or_else(|| panic!("{start:?} in\n{t}"));
        assert!(at > previous, "the lines in the invoice's order");
        previous = at;
        let price = format!("${}", grouped(l["unit_price"].as_str().unwrap()));
        let amount = format!("${}", grouped(l["amount"].as_str().unwrap()));
        let days = match &l["proration"] {
            Value::Null => String::new(),
            p => format!("{}/{} days", p["days"], p["days_in_month"]),
        };
        let mut cells = vec![price.as_str()];
        if !days.is_empty() {
            cells.push(&days);
        }
        cells.push(&amount);
        assert_row(&t, &start, &cells);
    }
    assert!(t.contains("22/31 days"), "the adjustment's day count is shown:\n{t}");
    let total = format!("${}", grouped(inv["total"].as_str().unwrap()));
    assert_row(&t, "  Total  ", &[&total]);
    assert_in_order(&t, &["Total", "Amount due", &total, "USERS BILLED", "24 full-time and 3 part-time users"]);
    assert_in_order(&t, &["HOW TO PAY", "First Ohio Bank", "Page 1 of 1"]);
}

/// `1234.50` as the invoice writes it: `1,234.50`.
fn grouped(amount: &str) -> String {
    let (whole, cents) = amount.split_once('.').unwrap();
    let mut out = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("{out}.{cents}")
}

#[test]
fn a_service_invoice_carries_the_engineers_time_entries() {
    let bm = Bm::with_config(&config(""));
    bm.import_accounts(ACCOUNTS, NOV2).ok();
    for (date, engineer, hours, what) in [
        ("2026-12-01", "Sam Ortiz", "2.5", "Restored the file share after a failed update"),
        ("2026-12-02", "Priya Nair", "0.75", "On-site: replaced the reception printer"),
    ] {
        bm.at(
            "2026-12-02T16:00:00-05:00",
            &[
                "service",
                "add",
                "--account",
                "ACME",
                "--date",
                date,
                "--engineer",
                engineer,
                "--hours",
                hours,
                "--rate",
                "145",
                "--description",
                what,
            ],
        )
        .ok();
    }
    bm.at("2026-12-05T08:00:00-05:00", &["tick"]).ok();
    let service = bm.invoices().into_iter().find(|i| i["kind"] == "service").expect("a service invoice");
    let number = service["number"].as_str().unwrap();
    let pdf = pdf_of(&bm, number);
    assert_archival(&pdf, number);
    let t = text(&pdf);
    let entries = &t[t.find("TIME ENTRIES").expect("the time entries")..];
    assert_row(entries, "Date", &["Engineer", "Hours", "Rate", "Amount", "Work done"]);
    assert_row(entries, "Sam Ortiz", &["2026-12-01", "2.5", "$145.00", "$362.50", "Restored the file share"]);
    assert_row(entries, "Priya Nair", &["2026-12-02", "0.75", "$145.00", "$108.75", "replaced the reception printer"]);
    assert_in_order(
        &t,
        &[
            "TIME ENTRIES",
            "2026-12-01",
            "Sam Ortiz",
            "2.5",
            "$145.00",
            "$362.50",
            "Restored the file share",
            "2026-12-02",
            "Priya Nair",
            "0.75",
            "$145.00",
            "$108.75",
            "replaced the reception printer",
            "Total: 3.25 hours",
        ],
    );
}

#[test]
fn the_same_invoice_makes_the_same_bytes_and_text_and_html_stay() {
    let bm = Bm::with_config(&config(""));
    bm.import_accounts(ACCOUNTS, NOV2).ok();
    bm.at(NOV15, &["tick"]).ok();
    let a = std::fs::read(pdf_of(&bm, "INV-2026-0001")).unwrap();
    let b = bm.stdout_bytes(&["invoices", "show", "INV-2026-0001", "--format", "pdf"]);
    assert!(a.starts_with(b"%PDF-"), "a PDF");
    assert_eq!(a, b, "standard output gets the same file");
    let again = std::fs::read(pdf_of(&bm, "INV-2026-0001")).unwrap();
    assert_eq!(a, again, "made twice, the same bytes");
    let html = bm.run(&["invoices", "show", "INV-2026-0001", "--format", "html"]).ok();
    assert!(html.stdout.contains("<!DOCTYPE html>"));
    let text = bm.run(&["invoices", "show", "INV-2026-0001"]).ok();
    assert!(text.stdout.starts_with("Subject: Invoice INV-2026-0001"), "{}", text.stdout);
}

#[test]
fn a_logo_is_on_the_letterhead_and_one_that_cannot_be_read_is_refused_at_load() {
    let svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"120\" height=\"40\">\
               <rect width=\"120\" height=\"40\" fill=\"#1f4e79\"/></svg>";
    let bm = Bm::with_config(&config(""));
    bm.write("logo.svg", svg);
    bm.write("billmail.toml", &config("logo = \"logo.svg\"\n"));
    bm.import_accounts(ACCOUNTS, NOV2).ok();
    bm.at(NOV15, &["tick"]).ok();
    let with_logo = std::fs::read(pdf_of(&bm, "INV-2026-0001")).unwrap();

    // the same invoice without the logo is smaller: the logo is drawn in it
    let plain = Bm::with_config(&config(""));
    plain.import_accounts(ACCOUNTS, NOV2).ok();
    plain.at(NOV15, &["tick"]).ok();
    let without = std::fs::read(pdf_of(&plain, "INV-2026-0001")).unwrap();
    assert!(with_logo.len() > without.len(), "{} vs {}", with_logo.len(), without.len());

    // a broken image: one clear error naming the setting, and nothing written
    bm.write("logo.svg", "<svg this is not");
    let before = bm.outbox().len();
    let out = bm.at("2026-11-15T09:00:00-05:00", &["tick"]).fails();
    assert!(out.stderr.contains("[company] logo"), "{}", out.stderr);
    assert_eq!(bm.outbox().len(), before);
    let check = bm.run(&["check-config"]).fails();
    assert!(check.stdout.contains("[company] logo:") && check.stdout.contains("cannot be shown"), "{}", check.stdout);

    // a file that is not an image at all is refused by the config check
    let bad = Bm::with_config(&config(""));
    bad.write("billmail.toml", &config("logo = \"logo.txt\"\n"));
    let out = bad.run(&["check-config"]).fails();
    assert!(out.stdout.contains("[company] logo: \"logo.txt\" is not a .png, .jpg or .svg file"), "{}", out.stdout);
}

/// The `billmail pdf-worker` children of this process now.
fn workers() -> Vec<u32> {
    common::procs::children_running(std::process::id(), "pdf-worker")
}

#[test]
fn pdfs_made_in_the_worker_process_are_the_ones_made_in_process_and_it_ends_after_the_round() {
    use billmail::pdf::{Doc, PdfMaker};
    use billmail::render::{InvoiceDoc, invoice_context, sample_statement};
    let bm = Bm::with_config(&config(""));
    let company = billmail::config::Config::load(&bm.path("billmail.toml")).unwrap().company;
    let date = chrono::NaiveDate::from_ymd_opt(2026, 11, 15).unwrap();
    let program = std::path::PathBuf::from(env!("CARGO_BIN_EXE_billmail"));
    let here = PdfMaker::default();
    let child = PdfMaker::default().in_child(program.clone());
    assert!(workers().is_empty());
    for doc in InvoiceDoc::samples() {
        let data = serde_json::to_value(invoice_context(&company, &doc, None)).unwrap();
        let a = here.make(Doc::Invoice, &data, &doc.number, date).unwrap();
        let b = child.make(Doc::Invoice, &data, &doc.number, date).unwrap();
        assert!(a == b, "invoice {}: {} bytes here, {} from the worker", doc.number, a.len(), b.len());
    }
    let statement = sample_statement(&company).unwrap();
    let a = here.make(Doc::Statement, &statement, "STMT", date).unwrap();
    assert!(a == child.make(Doc::Statement, &statement, "STMT", date).unwrap(), "the statement");
    // one worker made them all, and it is gone once the round is over
    assert_eq!(workers().len(), 1, "one worker for the round");
    child.finish();
    assert!(workers().is_empty(), "the worker ended with the round");

    // a template that fails on one document: that document's error, and the worker goes on
    let failing = "#let d = json(bytes(sys.inputs.data))\n#if d.n == 2 { panic(\"no two\") }\n#d.n";
    let maker = PdfMaker::new(failing.into(), failing.into(), None).in_child(program);
    for n in 1..=3 {
        let made = maker.make(Doc::Invoice, &serde_json::json!({ "n": n }), "N", date);
        match n {
            2 => assert!(format!("{:#}", made.unwrap_err()).contains("no two")),
            _ => assert!(made.unwrap().starts_with(b"%PDF-"), "document {n}"),
        }
    }
    assert_eq!(workers().len(), 1, "the same worker after a template's error");
    drop(maker);
    assert!(workers().is_empty());

    // a worker that is not one: an error for the PDF, and the next one tries a new worker
    let broken = PdfMaker::default().in_child("/bin/true".into());
    for _ in 0..2 {
        let e = broken.make(Doc::Invoice, &serde_json::json!({}), "N", date).unwrap_err();
        assert!(format!("{e:#}").contains("PDF worker"), "{e:#}");
    }
    assert!(workers().is_empty());
}
