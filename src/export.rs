//! Exports to the books: what billmail issued and received, as files an
//! accounting system imports (QuickBooks Online, Xero, QuickBooks Desktop's
//! IIF) or a plain double-entry journal. Pure: the store gives a [`Batch`],
//! this gives the files' text; nothing here reads or writes anything else.
//!
//! How each kind of document comes out:
//! - an invoice with a total of zero or more: an invoice, a row per line;
//! - an invoice whose total is below zero (users removed in a month already
//!   billed, more than the month's charges): a credit memo (QuickBooks), a
//!   credit note (Xero: an invoice with a negative total is imported as
//!   one), a `CREDIT MEMO` (IIF), entries the other way round (journal);
//! - a voided invoice: the invoice as issued, and on the day it was voided
//!   a credit memo reversing it line by line, numbered `NUMBER-VOID`, so the
//!   books keep both and their sum is nothing;
//! - a payment: what it paid on which invoice, and what it left unapplied
//!   (credit on the account), never only the applied part.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::domain::import::PostalAddress;
use crate::domain::{Line, LineCategory, Money};

/// The formats, as `billmail export FORMAT` names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    QuickbooksOnline,
    Xero,
    Iif,
    Journal,
}

impl Format {
    pub const ALL: [Format; 4] = [Format::QuickbooksOnline, Format::Xero, Format::Iif, Format::Journal];
    pub fn as_str(self) -> &'static str {
        match self {
            Format::QuickbooksOnline => "quickbooks-online",
            Format::Xero => "xero",
            Format::Iif => "iif",
            Format::Journal => "journal",
        }
    }
    pub fn parse(s: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

/// Where a kind of line goes in the books: the accounting system's product
/// or service item, and the income account (Xero's account code).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub item: String,
    pub account: String,
}

/// How dates are written in the CSV formats (IIF is always MM/DD/YYYY,
/// the journal always YYYY-MM-DD).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DateStyle {
    /// MM/DD/YYYY: QuickBooks Online and Xero for a US company.
    Us,
    /// DD/MM/YYYY: elsewhere.
    Day,
    /// YYYY-MM-DD.
    Iso,
}

impl DateStyle {
    pub fn parse(s: &str) -> Option<DateStyle> {
        match s {
            "MM/DD/YYYY" => Some(DateStyle::Us),
            "DD/MM/YYYY" => Some(DateStyle::Day),
            "YYYY-MM-DD" => Some(DateStyle::Iso),
            _ => None,
        }
    }
    fn write(self, d: NaiveDate) -> String {
        d.format(match self {
            DateStyle::Us => "%m/%d/%Y",
            DateStyle::Day => "%d/%m/%Y",
            DateStyle::Iso => "%Y-%m-%d",
        })
        .to_string()
    }
}

/// `[export]`: billmail's lines mapped to the accounting system's items and
/// accounts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mapping {
    pub receivables_account: String,
    pub deposit_account: String,
    pub date_style: DateStyle,
    /// Xero's TaxType for every line (billmail does not charge tax).
    pub xero_tax_type: String,
    pub full_time: Target,
    pub part_time: Target,
    /// Proration adjustments, of either user type.
    pub adjustment: Target,
    pub service: Target,
    /// Recurring products by name; `"*"` for any product not named.
    pub products: BTreeMap<String, Target>,
}

impl Mapping {
    /// Where `line` goes; an error names a product with no mapping.
    pub fn target(&self, line: &Line) -> Result<&Target, String> {
        Ok(match line.category {
            LineCategory::FullTime => &self.full_time,
            LineCategory::PartTime => &self.part_time,
            LineCategory::AdjustmentFullTime | LineCategory::AdjustmentPartTime => &self.adjustment,
            LineCategory::Service => &self.service,
            LineCategory::Product => {
                self.products.get(&line.description).or_else(|| self.products.get("*")).ok_or_else(|| {
                    format!(
                        "[export.products] has no entry for the product {:?} and no \"*\" for the others",
                        line.description
                    )
                })?
            }
        })
    }
}

/// A customer as the books name it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Customer {
    /// billmail's account id.
    pub id: String,
    /// The name every document uses for the customer.
    pub name: String,
    pub email: Option<String>,
    pub address: PostalAddress,
}

/// An invoice as issued.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invoice {
    pub number: String,
    pub customer: String,
    pub issued: NaiveDate,
    pub due: NaiveDate,
    /// What the invoice is for, e.g. "Agreement, December 2026".
    pub memo: String,
    pub lines: Vec<Line>,
    pub total: Money,
}

/// An invoice voided after it was issued.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Void {
    pub invoice: Invoice,
    pub voided_on: NaiveDate,
    pub reason: String,
}

impl Void {
    pub fn number(&self) -> String {
        format!("{}-VOID", self.invoice.number)
    }
    fn memo(&self) -> String {
        format!("Void of {}: {}", self.invoice.number, self.reason)
    }
}

/// A payment received, and where its money went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Payment {
    /// billmail's payment id (`P-<id>` in the books when there is no reference).
    pub id: i64,
    pub customer: String,
    pub received: NaiveDate,
    pub amount: Money,
    pub method: String,
    pub reference: Option<String>,
    /// (invoice number, amount) of each part applied to an invoice.
    pub applied: Vec<(String, Money)>,
}

impl Payment {
    /// What is not on any invoice: credit on the customer's account.
    pub fn unapplied(&self) -> Money {
        self.amount - self.applied.iter().map(|(_, a)| *a).sum::<Money>()
    }
    fn reference(&self) -> String {
        self.reference.clone().unwrap_or_else(|| format!("P-{}", self.id))
    }
}

/// What one export holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Batch {
    /// The customers the documents name (for the customer lists).
    pub customers: Vec<Customer>,
    pub invoices: Vec<Invoice>,
    pub voids: Vec<Void>,
    pub payments: Vec<Payment>,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.invoices.is_empty() && self.voids.is_empty() && self.payments.is_empty()
    }
}

/// An invoice as every format writes it: as issued, or (a void) reversed
/// line by line on the day it was voided, under its own number.
struct Document<'a> {
    number: String,
    invoice: &'a Invoice,
    date: NaiveDate,
    due: NaiveDate,
    memo: String,
    reversed: bool,
}

impl Document<'_> {
    fn sign(&self, m: Money) -> Money {
        if self.reversed { -m } else { m }
    }
    fn total(&self) -> Money {
        self.sign(self.invoice.total)
    }
    /// Each line with its quantity and amount as this document carries them.
    fn lines(&self) -> impl Iterator<Item = (&Line, Decimal, Money)> {
        self.invoice
            .lines
            .iter()
            .map(|l| if self.reversed { (l, -l.quantity, -l.amount) } else { (l, l.quantity, l.amount) })
    }
}

/// The batch's invoices as issued, then its voids.
fn documents(batch: &Batch) -> Vec<Document<'_>> {
    let issued = batch.invoices.iter().map(|i| Document {
        number: i.number.clone(),
        invoice: i,
        date: i.issued,
        due: i.due,
        memo: i.memo.clone(),
        reversed: false,
    });
    let voids = batch.voids.iter().map(|v| Document {
        number: v.number(),
        invoice: &v.invoice,
        date: v.voided_on,
        due: v.voided_on,
        memo: v.memo(),
        reversed: true,
    });
    issued.chain(voids).collect()
}

/// One file of an export: its name's distinguishing part and its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct File {
    /// e.g. `invoices.csv`.
    pub name: &'static str,
    pub text: String,
}

/// The files `format` makes of `batch`; an error (a product without a
/// mapping) makes none.
pub fn export(format: Format, batch: &Batch, map: &Mapping) -> Result<Vec<File>, String> {
    for line in batch.invoices.iter().chain(batch.voids.iter().map(|v| &v.invoice)).flat_map(|i| &i.lines) {
        map.target(line)?;
    }
    Ok(match format {
        Format::QuickbooksOnline => quickbooks_online(batch, map),
        Format::Xero => xero(batch, map),
        Format::Iif => vec![File { name: "transactions.iif", text: iif(batch, map) }],
        Format::Journal => vec![File { name: "journal.csv", text: journal(batch, map) }],
    }
    .into_iter()
    .filter(|f| !f.text.is_empty())
    .collect())
}

fn quantity(q: Decimal) -> String {
    q.normalize().to_string()
}

fn csv_text(header: &[&str], rows: Vec<Vec<String>>) -> String {
    if rows.is_empty() {
        return String::new();
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header).expect("writing to memory");
    for r in rows {
        w.write_record(&r).expect("writing to memory");
    }
    String::from_utf8(w.into_inner().expect("writing to memory")).expect("UTF-8 in, UTF-8 out")
}

/// QuickBooks Online's invoice import, with its own column names so that
/// every column maps by itself ("Import invoices in batches", QuickBooks
/// Online help: Invoice no, Customer, Invoice Date, Due Date, Terms, Memo,
/// Item(Product/Service), Item Description, Item Quantity, Item Rate, Item
/// Amount, Service Date).
pub const QBO_INVOICE_HEADER: [&str; 12] = [
    "Invoice no",
    "Customer",
    "Invoice Date",
    "Due Date",
    "Terms",
    "Memo",
    "Item(Product/Service)",
    "Item Description",
    "Item Quantity",
    "Item Rate",
    "Item Amount",
    "Service Date",
];

/// Credit memos in the invoice file's shape (QuickBooks Online imports no
/// credit memos from a file: the clerk enters these, or an import app reads
/// them); amounts are what each line credits.
pub const QBO_CREDIT_MEMO_HEADER: [&str; 10] = [
    "Credit Memo no",
    "Customer",
    "Credit Memo Date",
    "Memo",
    "Item(Product/Service)",
    "Item Description",
    "Item Quantity",
    "Item Rate",
    "Item Amount",
    "Service Date",
];

/// QuickBooks Online's customer import (Name, Company, Email, and the
/// billing address).
pub const QBO_CUSTOMER_HEADER: [&str; 9] =
    ["Name", "Company", "Email", "Street", "Street 2", "City", "State", "Zip", "Country"];

/// For the clerk's deposit entry (QuickBooks Online and Xero import no
/// payments from a file).
pub const PAYMENT_HEADER: [&str; 8] = [
    "Payment Date",
    "Customer",
    "Amount",
    "Method",
    "Reference",
    "Invoice Numbers",
    "Amounts Applied",
    "Unapplied Amount",
];

fn quickbooks_online(batch: &Batch, map: &Mapping) -> Vec<File> {
    let d = |x: NaiveDate| map.date_style.write(x);
    let mut invoices = Vec::new();
    let mut credits = Vec::new();
    for doc in documents(batch) {
        // below zero it is a credit memo, which lists what it credits
        let credit = doc.total().is_negative();
        for (l, q, a) in doc.lines() {
            let t = map.target(l).expect("checked");
            let (item, description, rate) = (t.item.clone(), l.description.clone(), l.unit_price.to_string());
            if credit {
                let (q, a) = (-q, -a);
                credits.push(vec![
                    doc.number.clone(),
                    doc.invoice.customer.clone(),
                    d(doc.date),
                    doc.memo.clone(),
                    item,
                    description,
                    quantity(q),
                    rate,
                    a.to_string(),
                    d(doc.date),
                ]);
            } else {
                invoices.push(vec![
                    doc.number.clone(),
                    doc.invoice.customer.clone(),
                    d(doc.date),
                    d(doc.due),
                    // terms as QuickBooks names them: the days from issue to due
                    format!("Net {}", (doc.due - doc.date).num_days()),
                    doc.memo.clone(),
                    item,
                    description,
                    quantity(q),
                    rate,
                    a.to_string(),
                    d(doc.date),
                ]);
            }
        }
    }
    vec![
        File { name: "customers.csv", text: csv_text(&QBO_CUSTOMER_HEADER, customer_rows(batch)) },
        File { name: "invoices.csv", text: csv_text(&QBO_INVOICE_HEADER, invoices) },
        File { name: "credit-memos.csv", text: csv_text(&QBO_CREDIT_MEMO_HEADER, credits) },
        File { name: "payments.csv", text: csv_text(&PAYMENT_HEADER, payment_rows(batch, map)) },
    ]
}

fn customer_rows(batch: &Batch) -> Vec<Vec<String>> {
    batch
        .customers
        .iter()
        .map(|c| {
            vec![
                c.name.clone(),
                c.name.clone(),
                c.email.clone().unwrap_or_default(),
                c.address.line1.clone(),
                c.address.line2.clone(),
                c.address.city.clone(),
                c.address.state.clone(),
                c.address.postal_code.clone(),
                c.address.country.clone(),
            ]
        })
        .collect()
}

fn payment_rows(batch: &Batch, map: &Mapping) -> Vec<Vec<String>> {
    batch
        .payments
        .iter()
        .map(|p| {
            vec![
                map.date_style.write(p.received),
                p.customer.clone(),
                p.amount.to_string(),
                p.method.to_uppercase(),
                p.reference(),
                p.applied.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join("; "),
                p.applied.iter().map(|(_, a)| a.to_string()).collect::<Vec<_>>().join("; "),
                p.unapplied().to_string(),
            ]
        })
        .collect()
}

/// Xero's sales invoice import template (Sales > Invoices > Import, the
/// template Xero offers for download), its columns in its order. Xero reads
/// an invoice whose total is negative as a credit note.
pub const XERO_HEADER: [&str; 29] = [
    "*ContactName",
    "EmailAddress",
    "POAddressLine1",
    "POAddressLine2",
    "POAddressLine3",
    "POAddressLine4",
    "POCity",
    "PORegion",
    "POPostalCode",
    "POCountry",
    "*InvoiceNumber",
    "Reference",
    "*InvoiceDate",
    "*DueDate",
    "Total",
    "InventoryItemCode",
    "*Description",
    "*Quantity",
    "*UnitAmount",
    "Discount",
    "*AccountCode",
    "*TaxType",
    "TaxAmount",
    "TrackingName1",
    "TrackingOption1",
    "TrackingName2",
    "TrackingOption2",
    "Currency",
    "BrandingTheme",
];

fn xero(batch: &Batch, map: &Mapping) -> Vec<File> {
    let customers: BTreeMap<&str, &Customer> = batch.customers.iter().map(|c| (c.name.as_str(), c)).collect();
    let mut rows = Vec::new();
    for doc in documents(batch) {
        let c = customers.get(doc.invoice.customer.as_str());
        let a = c.map(|c| c.address.clone()).unwrap_or_default();
        for (l, q, amount) in doc.lines() {
            let t = map.target(l).expect("checked");
            // Xero works a line out as quantity × unit amount: where that is
            // not billmail's amount to the cent (a prorated line), the line
            // is one unit of its amount
            let (q, unit) = if q * l.unit_price.to_decimal() == amount.to_decimal() {
                (q, l.unit_price)
            } else {
                (Decimal::ONE, amount)
            };
            rows.push(vec![
                doc.invoice.customer.clone(),
                c.and_then(|c| c.email.clone()).unwrap_or_default(),
                a.line1.clone(),
                a.line2.clone(),
                String::new(),
                String::new(),
                a.city.clone(),
                a.state.clone(),
                a.postal_code.clone(),
                a.country.clone(),
                doc.number.clone(),
                doc.memo.clone(),
                map.date_style.write(doc.date),
                map.date_style.write(doc.due),
                doc.total().to_string(),
                // Xero refuses a code it has no item for; the account code
                // is what books the line
                String::new(),
                l.description.clone(),
                quantity(q),
                unit.to_string(),
                String::new(),
                t.account.clone(),
                map.xero_tax_type.clone(),
                "0.00".into(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ]);
        }
    }
    vec![
        File { name: "invoices.csv", text: csv_text(&XERO_HEADER, rows) },
        File { name: "payments.csv", text: csv_text(&PAYMENT_HEADER, payment_rows(batch, map)) },
    ]
}

/// One IIF field: no tab or line break inside it.
fn field(s: &str) -> String {
    s.replace(['\t', '\r', '\n'], " ").replace('"', "'")
}

/// The header rows of an IIF file (QuickBooks Desktop, "Import IIF files":
/// a `!` row names the columns of the rows of its kind that follow).
pub const IIF_HEADER: &str = "!CUST\tNAME\tBADDR1\tBADDR2\tBADDR3\tBADDR4\tEMAIL\n\
!TRNS\tTRNSID\tTRNSTYPE\tDATE\tACCNT\tNAME\tAMOUNT\tDOCNUM\tMEMO\tDUEDATE\n\
!SPL\tSPLID\tTRNSTYPE\tDATE\tACCNT\tNAME\tAMOUNT\tDOCNUM\tMEMO\tQNTY\tPRICE\tINVITEM\n\
!ENDTRNS\n";

fn iif(batch: &Batch, map: &Mapping) -> String {
    if batch.is_empty() {
        return String::new();
    }
    let d = |x: NaiveDate| x.format("%m/%d/%Y").to_string();
    let mut out = String::from(IIF_HEADER);
    for c in &batch.customers {
        let a = &c.address;
        let city_line = [a.city.as_str(), a.state.as_str(), a.postal_code.as_str()]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
        let _ = writeln!(
            out,
            "CUST\t{}\t{}\t{}\t{}\t{}\t{}",
            field(&c.name),
            field(&c.name),
            field(&a.line1),
            field(
                &[a.line2.as_str(), city_line.as_str()]
                    .iter()
                    .filter(|s| !s.is_empty())
                    .copied()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            field(&a.country),
            field(c.email.as_deref().unwrap_or(""))
        );
    }
    // the transaction's receivables amount is the document's total; each
    // split is a line's amount the other way
    for doc in documents(batch) {
        let total = doc.total();
        let kind = if total.is_negative() { "CREDIT MEMO" } else { "INVOICE" };
        let customer = field(&doc.invoice.customer);
        let _ = writeln!(
            out,
            "TRNS\t\t{kind}\t{}\t{}\t{customer}\t{total}\t{}\t{}\t{}",
            d(doc.date),
            field(&map.receivables_account),
            field(&doc.number),
            field(&doc.memo),
            d(doc.due)
        );
        for (l, q, a) in doc.lines() {
            let t = map.target(l).expect("checked");
            let _ = writeln!(
                out,
                "SPL\t\t{kind}\t{}\t{}\t{customer}\t{}\t{}\t{}\t{}\t{}\t{}",
                d(doc.date),
                field(&t.account),
                -a,
                field(&doc.number),
                field(&l.description),
                quantity(-q),
                l.unit_price,
                field(&t.item)
            );
        }
        out.push_str("ENDTRNS\n");
    }
    for p in &batch.payments {
        let _ = writeln!(
            out,
            "TRNS\t\tPAYMENT\t{}\t{}\t{}\t{}\t{}\t{}\t",
            d(p.received),
            field(&map.deposit_account),
            field(&p.customer),
            p.amount,
            field(&p.reference()),
            field(&format!("{} payment", p.method.to_uppercase()))
        );
        let mut parts: Vec<(String, Money, String)> =
            p.applied.iter().map(|(n, a)| (n.clone(), *a, format!("Applied to {n}"))).collect();
        if p.unapplied().is_positive() {
            parts.push((String::new(), p.unapplied(), "Unapplied: credit on account".into()));
        }
        for (number, amount, memo) in parts {
            let _ = writeln!(
                out,
                "SPL\t\tPAYMENT\t{}\t{}\t{}\t{}\t{}\t{}\t\t\t",
                d(p.received),
                field(&map.receivables_account),
                field(&p.customer),
                -amount,
                field(&number),
                field(&memo)
            );
        }
        out.push_str("ENDTRNS\n");
    }
    out
}

/// The journal's columns: a plain double-entry CSV for any ledger.
pub const JOURNAL_HEADER: [&str; 6] = ["Date", "Account", "Debit", "Credit", "Memo", "Document"];

fn journal(batch: &Batch, map: &Mapping) -> String {
    let mut rows = Vec::new();
    // a positive amount is a debit, a negative one a credit
    let mut entry = |date: NaiveDate, account: &str, amount: Money, memo: String, document: &str| {
        if amount == Money::ZERO {
            return;
        }
        let (dr, cr) = if amount.is_negative() {
            (String::new(), (-amount).to_string())
        } else {
            (amount.to_string(), String::new())
        };
        rows.push(vec![date.format("%Y-%m-%d").to_string(), account.to_string(), dr, cr, memo, document.to_string()]);
    };
    for doc in documents(batch) {
        let customer = &doc.invoice.customer;
        entry(doc.date, &map.receivables_account, doc.total(), customer.clone(), &doc.number);
        for (l, _, a) in doc.lines() {
            let t = map.target(l).expect("checked");
            entry(doc.date, &t.account, -a, format!("{customer}: {}", l.description), &doc.number);
        }
    }
    for p in &batch.payments {
        let memo = format!("{}: {} payment {}", p.customer, p.method.to_uppercase(), p.reference());
        entry(p.received, &map.deposit_account, p.amount, memo.clone(), &p.reference());
        entry(p.received, &map.receivables_account, -p.amount, memo, &p.reference());
    }
    csv_text(&JOURNAL_HEADER, rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{LineCategory, Proration};

    fn target(item: &str, account: &str) -> Target {
        Target { item: item.into(), account: account.into() }
    }

    fn mapping() -> Mapping {
        Mapping {
            receivables_account: "Accounts Receivable".into(),
            deposit_account: "Undeposited Funds".into(),
            date_style: DateStyle::Us,
            xero_tax_type: "Tax Exempt".into(),
            full_time: target("Full-time user", "4000"),
            part_time: target("Part-time user", "4000"),
            adjustment: target("Proration adjustment", "4010"),
            service: target("Service work", "4100"),
            products: [
                ("Backup".to_string(), target("Backup", "4200")),
                ("*".to_string(), target("Subscription", "4200")),
            ]
            .into_iter()
            .collect(),
        }
    }

    fn line(category: LineCategory, text: &str, q: i64, cents: i64, p: Option<(u32, u32)>) -> Line {
        Line::priced(
            category,
            text.into(),
            Decimal::from(q),
            Money::from_cents(cents),
            p.map(|(days, days_in_month)| Proration { days, days_in_month }),
        )
        .unwrap()
    }

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn invoice(number: &str, lines: Vec<Line>) -> Invoice {
        let total = lines.iter().map(|l| l.amount).sum();
        Invoice {
            number: number.into(),
            customer: "Acme Dental".into(),
            issued: d("2026-11-15"),
            due: d("2026-11-30"),
            memo: "Agreement, December 2026".into(),
            lines,
            total,
        }
    }

    fn batch() -> Batch {
        let a = invoice(
            "INV-2026-0001",
            vec![
                line(LineCategory::FullTime, "Full-time users", 22, 12_500, None),
                line(LineCategory::PartTime, "Part-time users", 3, 6_000, None),
                line(LineCategory::AdjustmentFullTime, "Adjustment: -2 full-time users", -2, 12_500, Some((12, 30))),
            ],
        );
        let credit = invoice(
            "INV-2026-0002",
            vec![
                line(LineCategory::FullTime, "Full-time users", 0, 12_500, None),
                line(LineCategory::AdjustmentPartTime, "Adjustment: -3 part-time users", -3, 6_000, Some((20, 30))),
            ],
        );
        let voided = invoice("INV-2026-0003", vec![line(LineCategory::Product, "Backup", 5, 1_999, None)]);
        Batch {
            customers: vec![Customer {
                id: "ACME".into(),
                name: "Acme Dental".into(),
                email: Some("ap@acme.example".into()),
                address: PostalAddress { line1: "1 Main St".into(), city: "Springfield".into(), ..Default::default() },
            }],
            invoices: vec![a, credit, voided.clone()],
            voids: vec![Void { invoice: voided, voided_on: d("2026-11-20"), reason: "entered twice".into() }],
            payments: vec![Payment {
                id: 7,
                customer: "Acme Dental".into(),
                received: d("2026-11-25"),
                amount: Money::from_cents(300_000),
                method: "ach".into(),
                reference: Some("ACH-99".into()),
                applied: vec![("INV-2026-0001".into(), Money::from_cents(287_000))],
            }],
        }
    }

    fn csv_rows(text: &str) -> Vec<csv::StringRecord> {
        csv::Reader::from_reader(text.as_bytes()).records().map(|r| r.unwrap()).collect()
    }

    fn file<'a>(files: &'a [File], name: &str) -> &'a str {
        &files.iter().find(|f| f.name == name).unwrap_or_else(|| panic!("{name} in {files:?}")).text
    }

    /// A signed amount as the files write it (`-100.00`).
    fn cents(s: &str) -> i64 {
        match s.strip_prefix('-') {
            Some(abs) => -Money::parse(abs).unwrap_or_else(|e| panic!("{s:?}: {e}")).cents(),
            None => Money::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}")).cents(),
        }
    }

    #[test]
    fn a_negative_invoice_and_a_void_become_credit_memos_in_quickbooks_online() {
        let files = export(Format::QuickbooksOnline, &batch(), &mapping()).unwrap();
        let invoices = csv_rows(file(&files, "invoices.csv"));
        let numbers: Vec<&str> = invoices.iter().map(|r| &r[0]).collect();
        assert_eq!(numbers, ["INV-2026-0001", "INV-2026-0001", "INV-2026-0001", "INV-2026-0003"]);
        assert_eq!(&invoices[0][2], "11/15/2026");
        assert_eq!(&invoices[0][4], "Net 15");
        assert_eq!(&invoices[2][6], "Proration adjustment");
        // -2 × 125.00 × 12/30 = -100.00
        assert_eq!(&invoices[2][10], "-100.00");
        let credits = csv_rows(file(&files, "credit-memos.csv"));
        let memos: Vec<(&str, i64)> = credits.iter().map(|r| (&r[0], cents(&r[8]))).collect();
        // INV-2026-0002 totals -120.00: it credits 120.00; the void credits 99.95
        assert_eq!(memos, [("INV-2026-0002", 0), ("INV-2026-0002", 12_000), ("INV-2026-0003-VOID", 9_995)]);
        let payments = csv_rows(file(&files, "payments.csv"));
        assert_eq!(&payments[0][5], "INV-2026-0001");
        assert_eq!(&payments[0][7], "130.00");
    }

    #[test]
    fn xero_lines_come_to_billmails_amounts_and_a_void_is_a_negative_copy() {
        let files = export(Format::Xero, &batch(), &mapping()).unwrap();
        let rows = csv_rows(file(&files, "invoices.csv"));
        let mut totals: BTreeMap<String, i64> = BTreeMap::new();
        for r in &rows {
            let q = Decimal::from_str_exact(&r[17]).unwrap();
            let u = Decimal::from_str_exact(&r[18]).unwrap();
            *totals.entry(r[10].to_string()).or_default() += Money::round(q * u).unwrap().cents();
        }
        assert_eq!(totals["INV-2026-0001"], 283_000);
        assert_eq!(totals["INV-2026-0002"], -12_000);
        assert_eq!(totals["INV-2026-0003-VOID"], -9_995);
        assert!(rows.iter().all(|r| &r[21] == "Tax Exempt"));
    }

    #[test]
    fn every_iif_transaction_and_the_journal_balance() {
        let text = iif(&batch(), &mapping());
        let mut sum = 0;
        let mut transactions = 0;
        for row in text.lines() {
            let cols: Vec<&str> = row.split('\t').collect();
            match cols[0] {
                "TRNS" | "SPL" => sum += cents(cols[6]),
                "ENDTRNS" => {
                    assert_eq!(sum, 0, "{text}");
                    transactions += 1;
                }
                _ => {}
            }
        }
        assert_eq!(transactions, 5);
        assert!(
            text.contains("TRNS\t\tCREDIT MEMO\t11/15/2026\tAccounts Receivable\tAcme Dental\t-120.00\tINV-2026-0002")
        );
        let journal = csv_rows(&journal(&batch(), &mapping()));
        let debits: i64 = journal.iter().filter(|r| !r[2].is_empty()).map(|r| cents(&r[2])).sum();
        let credits: i64 = journal.iter().filter(|r| !r[3].is_empty()).map(|r| cents(&r[3])).sum();
        assert_eq!(debits, credits);
    }

    #[test]
    fn a_product_without_a_mapping_is_an_error_and_no_file_is_made() {
        let mut map = mapping();
        map.products.remove("*");
        let mut b = batch();
        b.invoices.push(invoice("INV-2026-0009", vec![line(LineCategory::Product, "Office 365", 3, 1_250, None)]));
        let e = export(Format::Journal, &b, &map).unwrap_err();
        assert!(e.contains("\"Office 365\""), "{e}");
    }
}
