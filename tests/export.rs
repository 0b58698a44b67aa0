//! Exports to the books over a generated year: 200 accounts with
//! agreements, subscriptions, service work, count changes (prorations, one
//! account dropping to no users: a negative invoice), partial payments,
//! overpayments and one voided invoice. Each format's invoices must equal
//! billmail's line by line; the journal and every IIF transaction balance
//! (the IIF read by a reader written here, not billmail's); `--since-last`
//! never exports a document twice; the headers match the published
//! templates (golden files in tests/golden/export/).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use billmail::domain::Money;
use common::{Bm, Rng, sql};
use rust_decimal::Decimal;

const TIERS: [&str; 3] = ["hybrid", "remote", "inclusive"];

fn accounts_csv(counts: &[(u64, u64)]) -> String {
    let mut csv = String::from(
        "id,name,tier,full_time_users,part_time_users,billing_emails,address_line1,city,state,postal_code\n",
    );
    for (i, (ft, pt)) in counts.iter().enumerate() {
        csv.push_str(&format!(
            "A{i:03},Customer {i:03} LLC,{},{ft},{pt},ap@customer{i:03}.example,{} Main St,Columbus,OH,43215\n",
            TIERS[i % 3],
            100 + i
        ));
    }
    csv
}

/// A signed amount as the files write it (`-100.00`).
fn cents(s: &str) -> i64 {
    match s.strip_prefix('-') {
        Some(abs) => -Money::parse(abs).unwrap_or_else(|e| panic!("{s:?}: {e}")).cents(),
        None => Money::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}")).cents(),
    }
}

/// Invoice number → (total, line amounts in order), as billmail stored them.
fn stored_invoices(bm: &Bm) -> BTreeMap<String, (i64, Vec<i64>)> {
    let mut out: BTreeMap<String, (i64, Vec<i64>)> = BTreeMap::new();
    for row in sql(bm.db(), "SELECT number, total_cents FROM invoices").lines() {
        let (n, t) = row.split_once('|').unwrap();
        out.insert(n.to_string(), (t.parse().unwrap(), vec![]));
    }
    for row in sql(
        bm.db(),
        "SELECT i.number, l.amount_cents FROM invoice_lines l JOIN invoices i ON i.id = l.invoice_id
         ORDER BY i.number, l.position",
    )
    .lines()
    {
        let (n, a) = row.split_once('|').unwrap();
        out.get_mut(n).unwrap().1.push(a.parse().unwrap());
    }
    out
}

fn export(bm: &Bm, now: &str, args: &[&str], out: &Path) -> Vec<PathBuf> {
    let mut a = vec!["export"];
    a.extend_from_slice(args);
    let dir = out.to_str().unwrap();
    a.extend(["--out", dir]);
    let run = bm.at(now, &a).ok();
    run.stdout.lines().filter(|l| l.starts_with("  ")).map(|l| PathBuf::from(l.trim())).collect()
}

fn file_named(files: &[PathBuf], suffix: &str) -> String {
    let f = files
        .iter()
        .find(|f| f.to_str().unwrap().ends_with(suffix))
        .unwrap_or_else(|| panic!("no {suffix} among {files:?}"));
    std::fs::read_to_string(f).unwrap()
}

fn csv_rows(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let header = r.headers().unwrap().iter().map(String::from).collect();
    let rows = r.records().map(|x| x.unwrap().iter().map(String::from).collect()).collect();
    (header, rows)
}

fn col(header: &[String], name: &str) -> usize {
    header.iter().position(|h| h == name).unwrap_or_else(|| panic!("no column {name} in {header:?}"))
}

/// An IIF file as QuickBooks Desktop reads it: `!` rows name the columns of
/// the rows of their kind; TRNS opens a transaction, SPL rows split it,
/// ENDTRNS closes it. Written for this test from the format's description,
/// independent of billmail's writer.
struct IifTransaction {
    trns: BTreeMap<String, String>,
    splits: Vec<BTreeMap<String, String>>,
}

fn read_iif(text: &str) -> (Vec<BTreeMap<String, String>>, Vec<IifTransaction>) {
    let mut columns: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut customers = Vec::new();
    let mut done = Vec::new();
    let mut open: Option<IifTransaction> = None;
    for (n, line) in text.lines().enumerate() {
        let cells: Vec<&str> = line.split('\t').collect();
        let kind = cells[0];
        if let Some(k) = kind.strip_prefix('!') {
            columns.insert(k.to_string(), cells[1..].iter().map(|c| c.to_string()).collect());
            continue;
        }
        let named = |kind: &str| -> BTreeMap<String, String> {
            let cols = columns.get(kind).unwrap_or_else(|| panic!("line {}: {kind} before !{kind}", n + 1));
            assert!(cells.len() - 1 <= cols.len(), "line {}: more cells than !{kind} names", n + 1);
            cols.iter()
                .cloned()
                .zip(cells[1..].iter().map(|c| c.to_string()).chain(std::iter::repeat(String::new())))
                .collect()
        };
        match kind {
            "CUST" => customers.push(named("CUST")),
            "TRNS" => {
                assert!(open.is_none(), "line {}: TRNS inside a transaction", n + 1);
                open = Some(IifTransaction { trns: named("TRNS"), splits: vec![] });
            }
            "SPL" => open
                .as_mut()
                .unwrap_or_else(|| panic!("line {}: SPL outside a transaction", n + 1))
                .splits
                .push(named("SPL")),
            "ENDTRNS" => done.push(open.take().unwrap_or_else(|| panic!("line {}: ENDTRNS without TRNS", n + 1))),
            other => panic!("line {}: unknown row {other:?}", n + 1),
        }
    }
    assert!(open.is_none(), "the file ends inside a transaction");
    (customers, done)
}

/// Runs the generated year; returns the folder with the exports' files.
fn generated_year(bm: &Bm) -> (BTreeMap<String, String>, String) {
    let mut g = Rng(0x5eed_b111_a11e_2026);
    let mut counts: Vec<(u64, u64)> = (0..200).map(|_| (1 + g.below(40), g.below(10))).collect();
    bm.import_accounts(&accounts_csv(&counts), "2026-01-02T09:00:00-05:00").ok();
    let mut subs = String::from("account,product,quantity,unit_price\n");
    for i in (0..200).step_by(3) {
        subs.push_str(&format!("A{i:03},Cloud backup (per TB),{},45.50\n", 1 + g.below(8)));
        if i % 2 == 0 {
            subs.push_str(&format!("A{i:03},Office 365 Business Premium,{},22.00\n", 1 + g.below(30)));
        }
    }
    let p = bm.write("subs.csv", &subs);
    bm.at("2026-01-02T09:00:00-05:00", &["subscriptions", "import", p.to_str().unwrap()]).ok();

    let mut voided = None;
    for month in 1..=12u32 {
        let at = |day: u32, hour: u32| format!("2026-{month:02}-{day:02}T{hour:02}:00:00-05:00");
        // count changes on the 3rd: prorated on the next agreement invoice
        for _ in 0..15 {
            let i = g.below(200) as usize;
            let (ft, pt) = counts[i];
            counts[i] = ((ft + g.below(5)).saturating_sub(2).max(1), (pt + g.below(3)).saturating_sub(1));
        }
        if month == 6 {
            // A007 ends its agreement users mid-month: July's invoice is June's credit
            counts[7] = (0, 0);
        }
        bm.import_accounts(&accounts_csv(&counts), &at(3, 9)).ok();
        bm.at(&at(5, 8), &["tick"]).ok();
        for _ in 0..4 {
            let i = g.below(200);
            let hours = format!("{}.{:02}", 1 + g.below(6), [0, 25, 50, 75][g.below(4) as usize]);
            bm.at(
                &at(8, 10),
                &[
                    "service",
                    "add",
                    "--account",
                    &format!("A{i:03}"),
                    "--date",
                    &format!("2026-{month:02}-07"),
                    "--engineer",
                    "Sam Ortiz",
                    "--hours",
                    &hours,
                    "--rate",
                    "145.00",
                    "--description",
                    "Restored the file share, \"urgent\"; tab\there",
                    "--override-hold",
                ],
            )
            .ok();
        }
        bm.at(&at(15, 8), &["tick"]).ok();
        // payments on the 20th: in full, part, or more than owed
        let open: Vec<(String, String, i64)> = sql(
            bm.db(),
            "SELECT i.account_id, i.number, i.total_cents - COALESCE((SELECT SUM(amount_cents) FROM allocations WHERE invoice_id = i.id), 0)
             FROM invoices i WHERE i.status = 'open' AND i.total_cents > 0 ORDER BY i.id",
        )
        .lines()
        .map(|r| {
            let c: Vec<&str> = r.split('|').collect();
            (c[0].to_string(), c[1].to_string(), c[2].parse().unwrap())
        })
        .collect();
        for k in 0..25 {
            if open.is_empty() {
                break;
            }
            let (account, number, owed) = &open[g.below(open.len() as u64) as usize];
            let amount = match g.below(3) {
                0 => *owed,
                1 => (*owed / 2).max(1),
                _ => owed + 10_000,
            };
            let amount = Money::from_cents(amount).to_string();
            let mut args = vec!["payments", "record", "--account", account, "--amount", &amount, "--method", "ach"];
            let reference = format!("ACH-{month}-{k}");
            if k % 2 == 0 {
                args.extend(["--reference", &reference]);
            }
            args.extend(["--invoice", number]);
            bm.at(&at(20, 10), &args).ok();
        }
        if month == 12 {
            // A001 pays all it owes and 500.00 ahead: the rest is credit on the account
            let owed: i64 = sql(
                bm.db(),
                "SELECT COALESCE(SUM(i.total_cents - COALESCE((SELECT SUM(amount_cents) FROM allocations WHERE invoice_id = i.id), 0)), 0)
                 FROM invoices i WHERE i.account_id = 'A001' AND i.status = 'open' AND i.total_cents > 0",
            )
            .trim()
            .parse()
            .unwrap();
            let amount = Money::from_cents(owed + 50_000).to_string();
            let args = ["payments", "record", "--account", "A001", "--amount", &amount, "--method", "wire"];
            assert!(bm.at(&at(22, 10), &args).ok().stdout.contains("kept as credit"));
        }
        if month == 8 {
            // void an invoice that had a part paid on it: the part becomes credit
            let number = sql(
                bm.db(),
                "SELECT i.number FROM invoices i WHERE i.status = 'open' AND i.kind = 'agreement' AND i.total_cents > 0
                 AND EXISTS (SELECT 1 FROM allocations a WHERE a.invoice_id = i.id) ORDER BY i.id LIMIT 1",
            );
            let number = number.trim().to_string();
            assert!(!number.is_empty(), "an invoice partly paid by August");
            let out = bm.at(&at(21, 10), &["invoices", "void", &number, "--reason", "billed the wrong tier"]).ok();
            assert!(out.stdout.contains("kept as credit"), "{}", out.stdout);
            voided = Some(number);
        }
        bm.at(&at(25, 8), &["tick"]).ok();
    }
    let voided = voided.unwrap();
    let again = bm.at("2026-12-31T10:00:00-05:00", &["invoices", "void", &voided, "--reason", "twice"]).fails();
    assert!(again.stderr.contains("already void"), "{}", again.stderr);

    let out = bm.path("books");
    let mut texts = BTreeMap::new();
    for format in ["quickbooks-online", "xero", "iif", "journal"] {
        let files =
            export(bm, "2027-01-02T09:00:00-05:00", &[format, "--from", "2026-01-01", "--to", "2026-12-31"], &out);
        for f in files {
            let name = f.file_name().unwrap().to_str().unwrap().to_string();
            // quickbooks-online-20270102-090000-invoices.csv → quickbooks-online invoices.csv
            let what = name.rsplit_once("-090000-").unwrap().1.to_string();
            texts.insert(format!("{format} {what}"), std::fs::read_to_string(&f).unwrap());
        }
    }
    (texts, voided)
}

#[test]
fn a_generated_year_exports_to_every_format_with_billmails_figures() {
    let bm = Bm::new();
    let (files, voided) = generated_year(&bm);
    let stored = stored_invoices(&bm);
    assert!(stored.len() > 2_400, "a year of invoices: {}", stored.len());
    let negative: Vec<&String> = stored.iter().filter(|(_, (t, _))| *t < 0).map(|(n, _)| n).collect();
    assert!(!negative.is_empty(), "the year has an invoice below zero");
    let prorated: i64 =
        sql(bm.db(), "SELECT COUNT(*) FROM invoice_lines WHERE prorate_days IS NOT NULL").trim().parse().unwrap();
    assert!(prorated > 50, "prorations: {prorated}");
    let partial: i64 = sql(
        bm.db(),
        "SELECT COUNT(*) FROM invoices i WHERE (SELECT SUM(amount_cents) FROM allocations a WHERE a.invoice_id = i.id) < i.total_cents",
    )
    .trim()
    .parse()
    .unwrap();
    assert!(partial > 0, "partly paid invoices");
    let over: i64 = sql(
        bm.db(),
        "SELECT COUNT(*) FROM payments p WHERE p.amount_cents > (SELECT COALESCE(SUM(amount_cents), 0) FROM allocations a WHERE a.payment_id = p.id)",
    )
    .trim()
    .parse()
    .unwrap();
    assert!(over > 0, "payments with money left as credit");
    let payments: Vec<(i64, i64)> = sql(bm.db(), "SELECT id, amount_cents FROM payments ORDER BY id")
        .lines()
        .map(|r| {
            let (a, b) = r.split_once('|').unwrap();
            (a.parse().unwrap(), b.parse().unwrap())
        })
        .collect();
    let received: i64 = payments.iter().map(|p| p.1).sum();
    let void_lines = &stored[&voided].1;

    // QuickBooks Online: invoices (total ≥ 0) and credit memos (below zero, and the void)
    let (h, rows) = csv_rows(&files["quickbooks-online invoices.csv"]);
    let mut qbo: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for r in &rows {
        qbo.entry(r[col(&h, "Invoice no")].clone()).or_default().push(cents(&r[col(&h, "Item Amount")]));
        assert_eq!(r[col(&h, "Invoice Date")].len(), 10, "MM/DD/YYYY: {r:?}");
    }
    let (h, rows) = csv_rows(&files["quickbooks-online credit-memos.csv"]);
    let mut memos: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for r in &rows {
        memos.entry(r[col(&h, "Credit Memo no")].clone()).or_default().push(cents(&r[col(&h, "Item Amount")]));
    }
    for (number, (total, lines)) in &stored {
        if *total < 0 {
            let credited: Vec<i64> = lines.iter().map(|a| -a).collect();
            assert_eq!(memos.get(number), Some(&credited), "{number} as a credit memo");
            assert!(!qbo.contains_key(number));
        } else {
            assert_eq!(qbo.get(number), Some(lines), "{number} in QuickBooks Online's invoices");
        }
    }
    assert_eq!(memos.get(&format!("{voided}-VOID")), Some(void_lines), "the void credits the invoice back");
    assert_eq!(qbo.len() + memos.len(), stored.len() + 1);
    let (h, rows) = csv_rows(&files["quickbooks-online payments.csv"]);
    assert_eq!(rows.len(), payments.len());
    let paid: i64 = rows.iter().map(|r| cents(&r[col(&h, "Amount")])).sum();
    assert_eq!(paid, received);
    for r in &rows {
        let applied: i64 = r[col(&h, "Amounts Applied")].split("; ").filter(|s| !s.is_empty()).map(cents).sum();
        assert_eq!(applied + cents(&r[col(&h, "Unapplied Amount")]), cents(&r[col(&h, "Amount")]), "{r:?}");
    }
    let (_, customers) = csv_rows(&files["quickbooks-online customers.csv"]);
    assert_eq!(customers.len(), 200);

    // Xero: quantity × unit amount, rounded as Xero rounds, is each line
    let (h, rows) = csv_rows(&files["xero invoices.csv"]);
    let mut xero: BTreeMap<String, (i64, Vec<i64>)> = BTreeMap::new();
    for r in &rows {
        let q = Decimal::from_str_exact(&r[col(&h, "*Quantity")]).unwrap();
        let u = Decimal::from_str_exact(&r[col(&h, "*UnitAmount")]).unwrap();
        let e = xero.entry(r[col(&h, "*InvoiceNumber")].clone()).or_insert((cents(&r[col(&h, "Total")]), vec![]));
        e.1.push(Money::round(q * u).unwrap().cents());
        assert!(!r[col(&h, "*AccountCode")].is_empty() && !r[col(&h, "*TaxType")].is_empty());
    }
    for (number, want) in &stored {
        assert_eq!(xero.get(number), Some(want), "{number} in Xero");
    }
    let reversed: Vec<i64> = void_lines.iter().map(|a| -a).collect();
    assert_eq!(xero[&format!("{voided}-VOID")].1, reversed);

    // IIF: every transaction balances; invoices and payments as stored
    let (cust, transactions) = read_iif(&files["iif transactions.iif"]);
    assert_eq!(cust.len(), 200);
    let mut iif_invoices = 0;
    let mut iif_received = 0;
    for t in &transactions {
        let amounts: Vec<i64> = std::iter::once(&t.trns).chain(&t.splits).map(|r| cents(&r["AMOUNT"])).collect();
        assert_eq!(amounts.iter().sum::<i64>(), 0, "transaction {:?} balances", t.trns);
        let number = &t.trns["DOCNUM"];
        match t.trns["TRNSTYPE"].as_str() {
            "INVOICE" | "CREDIT MEMO" => {
                assert_eq!(t.trns["ACCNT"], "Accounts Receivable");
                let want = match stored.get(number) {
                    Some((total, lines)) => (*total, lines.clone()),
                    None => {
                        assert_eq!(number, &format!("{voided}-VOID"));
                        (-stored[&voided].0, reversed.clone())
                    }
                };
                assert_eq!(cents(&t.trns["AMOUNT"]), want.0, "{number}");
                let lines: Vec<i64> = t.splits.iter().map(|s| -cents(&s["AMOUNT"])).collect();
                assert_eq!(lines, want.1, "{number}");
                assert!(t.splits.iter().all(|s| !s["INVITEM"].is_empty()));
                iif_invoices += 1;
            }
            "PAYMENT" => {
                assert_eq!(t.trns["ACCNT"], "Undeposited Funds");
                iif_received += cents(&t.trns["AMOUNT"]);
                assert!(t.splits.iter().all(|s| s["ACCNT"] == "Accounts Receivable"));
            }
            other => panic!("unexpected transaction type {other}"),
        }
    }
    assert_eq!(iif_invoices, stored.len() + 1);
    assert_eq!(iif_received, received);

    // the journal balances per document and overall; receivables per invoice are its total
    let (h, rows) = csv_rows(&files["journal journal.csv"]);
    let mut per_doc: BTreeMap<String, i64> = BTreeMap::new();
    let mut receivable: BTreeMap<String, i64> = BTreeMap::new();
    for r in &rows {
        let dr = if r[col(&h, "Debit")].is_empty() { 0 } else { cents(&r[col(&h, "Debit")]) };
        let cr = if r[col(&h, "Credit")].is_empty() { 0 } else { cents(&r[col(&h, "Credit")]) };
        assert!(dr >= 0 && cr >= 0 && (dr == 0) != (cr == 0), "{r:?}");
        *per_doc.entry(r[col(&h, "Document")].clone()).or_default() += dr - cr;
        if r[col(&h, "Account")] == "Accounts Receivable" {
            *receivable.entry(r[col(&h, "Document")].clone()).or_default() += dr - cr;
        }
    }
    assert!(per_doc.values().all(|v| *v == 0), "every document balances");
    for (number, (total, _)) in &stored {
        assert_eq!(receivable.get(number).copied().unwrap_or(0), *total, "{number} in the journal");
    }
}

#[test]
fn since_last_exports_nothing_twice_and_then_exactly_the_new_invoice() {
    let bm = Bm::new();
    bm.import_accounts(common::ACCOUNTS, "2026-11-02T09:00:00-05:00").ok();
    bm.at("2026-11-15T08:00:00-05:00", &["tick"]).ok();
    let out = bm.path("books");
    let first = export(&bm, "2026-11-16T09:00:00-05:00", &["quickbooks-online", "--since-last"], &out);
    let (h, rows) = csv_rows(&file_named(&first, "-invoices.csv"));
    let mut numbers: Vec<String> = rows.iter().map(|r| r[col(&h, "Invoice no")].clone()).collect();
    numbers.dedup();
    assert_eq!(numbers.len(), 2, "ACME's and HARBOR's December invoices");

    let second = bm
        .at(
            "2026-11-16T09:05:00-05:00",
            &["export", "quickbooks-online", "--since-last", "--out", out.to_str().unwrap()],
        )
        .ok();
    assert!(second.stdout.contains("nothing new"), "{}", second.stdout);
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), first.len(), "no new files");

    // another format has its own record: it exports both
    let journal = export(&bm, "2026-11-16T09:06:00-05:00", &["journal", "--since-last"], &out);
    assert_eq!(journal.len(), 1);

    // a service invoice later: exactly that, and no customer listed again
    bm.at(
        "2026-11-20T10:00:00-05:00",
        &[
            "service",
            "add",
            "--account",
            "ACME",
            "--date",
            "2026-11-19",
            "--engineer",
            "Sam",
            "--hours",
            "2",
            "--rate",
            "145",
            "--description",
            "Printer",
        ],
    )
    .ok();
    bm.at("2026-11-21T08:00:00-05:00", &["tick"]).ok();
    let third = export(&bm, "2026-11-21T09:00:00-05:00", &["quickbooks-online", "--since-last"], &out);
    let (h, rows) = csv_rows(&file_named(&third, "-invoices.csv"));
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(&rows[0][col(&h, "Item Amount")], "290.00");
    assert!(!third.iter().any(|f| f.to_str().unwrap().ends_with("-customers.csv")), "{third:?}");
    let newest = sql(bm.db(), "SELECT number FROM invoices ORDER BY id DESC LIMIT 1");
    assert_eq!(rows[0][col(&h, "Invoice no")], newest.trim());
}

#[test]
fn headers_follow_the_published_templates() {
    let bm = Bm::new();
    bm.import_accounts(common::ACCOUNTS, "2026-11-02T09:00:00-05:00").ok();
    bm.at("2026-11-15T08:00:00-05:00", &["tick"]).ok();
    bm.at(
        "2026-11-20T08:00:00-05:00",
        &["payments", "record", "--account", "ACME", "--amount", "100", "--method", "wire"],
    )
    .ok();
    let harbor = sql(bm.db(), "SELECT number FROM invoices WHERE account_id = 'HARBOR'");
    bm.at("2026-11-20T09:00:00-05:00", &["invoices", "void", harbor.trim(), "--reason", "sent to the wrong company"])
        .ok();
    let out = bm.path("books");
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/export");
    let mut checked = 0;
    for format in ["quickbooks-online", "xero", "iif", "journal"] {
        for f in export(&bm, "2026-11-21T09:00:00-05:00", &[format, "--since-last"], &out) {
            let name = f.file_name().unwrap().to_str().unwrap().to_string();
            let what = name.rsplit_once("-090000-").unwrap().1;
            let text = std::fs::read_to_string(&f).unwrap();
            let want = std::fs::read_to_string(golden.join(format!("{format}-{what}")))
                .unwrap_or_else(|e| panic!("golden file for {format} {what}: {e}"));
            // the golden file: comment lines citing the template, then the header rows
            let header: Vec<&str> = want.lines().filter(|l| !l.starts_with('#')).collect();
            let got: Vec<&str> = text.lines().take(header.len()).collect();
            assert_eq!(got, header, "{format} {what}");
            checked += 1;
        }
    }
    assert_eq!(
        checked, 8,
        "customers, invoices, credit memos, payments for QuickBooks Online; invoices, payments for Xero; IIF; journal"
    );
}

#[test]
fn export_needs_its_mapping_and_check_config_checks_it() {
    let config = common::CONFIG
        .replace("service = { item = \"Service work (hourly)\", account = \"4100\" }\n", "")
        .replace("date_format = \"MM/DD/YYYY\"", "date_format = \"MM-DD-YY\"");
    let bm = Bm::with_config(common::CONFIG.split("\n[export]").next().unwrap());
    let out = bm.run(&["export", "xero", "--since-last"]).fails();
    assert!(out.stderr.contains("no [export] section"), "{}", out.stderr);
    let bad = Bm::new();
    bad.write("billmail.toml", &config);
    let check = bad.run(&["check-config"]).fails();
    assert!(check.stdout.contains("[export] service: missing"), "{}", check.stdout);
    assert!(check.stdout.contains("[export] date_format: \"MM-DD-YY\""), "{}", check.stdout);
    let ok = Bm::new().run(&["check-config"]).ok();
    assert!(ok.stdout.contains("export mapped (2 products)"), "{}", ok.stdout);

    let bm = Bm::new();
    let r = bm.run(&["export", "xero", "--from", "2026-12-01"]).fails();
    assert!(r.stderr.contains("--from DATE and --to DATE, or --since-last"), "{}", r.stderr);
    let r = bm.run(&["export", "xero", "--from", "2026-12-31", "--to", "2026-12-01"]).fails();
    assert!(r.stderr.contains("is after"), "{}", r.stderr);
}
