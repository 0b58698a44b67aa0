//! Renders customer-facing documents from the minijinja templates in
//! `templates/` (compiled into the binary). HTML templates are autoescaped.
//! A folder named by `[templates] dir` can replace any of them by name and
//! add partials of its own (`_*.j2`); it is checked whole when loaded, so a
//! broken template is refused at startup, not on the 15th.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use chrono::{DateTime, NaiveDate, Utc};
use minijinja::{Environment, context};
use serde::Serialize;

use crate::config::{Company, Config};
use crate::domain::calendar::long_date;
use crate::domain::invoice::TimeEntry;
use crate::domain::{AccountId, InvoiceKind, Line, Month, NoticeKind, Period, UserCounts, UserType};
use crate::pdf::{Doc, Logo, PdfMaker};

/// An invoice as the customer sees it: the data every template gets.
#[derive(Clone, Debug)]
pub struct InvoiceDoc {
    pub number: String,
    pub account_id: AccountId,
    pub account_name: String,
    pub kind: InvoiceKind,
    pub period: Period,
    pub issued: NaiveDate,
    pub due: NaiveDate,
    pub currency: String,
    pub lines: Vec<Line>,
    pub total: crate::domain::Money,
    pub credit_applied: crate::domain::Money,
    pub counts: Option<UserCounts>,
    pub tier_label: Option<String>,
    pub users: Vec<(String, UserType)>,
    /// The customer's postal address, a line each (from the accounts CSV).
    pub customer_address: Vec<String>,
    /// Paid on it so far, apart from credit (a PDF made after a payment shows it).
    pub paid: crate::domain::Money,
    /// How the engineers spent the time (service invoices).
    pub time_entries: Vec<TimeEntry>,
}

impl InvoiceDoc {
    /// A stored invoice as the customer sees it (`invoices show`, and the
    /// PDF made when its email is sent).
    pub fn of(inv: &crate::store::InvoiceRecord, lines: Vec<Line>, time_entries: Vec<TimeEntry>) -> InvoiceDoc {
        InvoiceDoc {
            number: inv.number.clone(),
            account_id: inv.account.clone(),
            account_name: inv.account_name.clone(),
            kind: inv.kind,
            period: inv.period,
            issued: inv.issued,
            due: inv.due,
            currency: inv.currency.clone(),
            lines,
            total: inv.total,
            credit_applied: inv.credit_applied,
            counts: inv
                .full_time_users
                .zip(inv.part_time_users)
                .map(|(f, p)| UserCounts { full_time: f, part_time: p }),
            tier_label: inv.tier_label.clone(),
            users: inv.users.clone(),
            customer_address: inv.address.lines(),
            paid: inv.paid,
            time_entries,
        }
    }

    /// One invoice of each kind, to try templates on.
    pub fn samples() -> Vec<InvoiceDoc> {
        use crate::domain::Money;
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("sample date");
        let line = |description: &str, quantity: i64, cents: i64| {
            Line::priced(
                crate::domain::LineCategory::Product,
                description.into(),
                quantity.into(),
                Money::from_cents(cents),
                None,
            )
            .expect("a sample amount")
        };
        let total = |lines: &[Line]| lines.iter().fold(Money::ZERO, |t, l| t + l.amount);
        let base = InvoiceDoc {
            number: "INV-2026-0001".into(),
            account_id: AccountId::parse("ACME").expect("a sample id"),
            account_name: "Acme Dental".into(),
            kind: InvoiceKind::Agreement,
            period: Period::Month(Month::parse("2026-12").expect("a sample month")),
            issued: d("2026-11-15"),
            due: d("2026-11-30"),
            currency: "USD".into(),
            lines: vec![line("Full-time users", 2, 8500), line("Part-time users", 1, 4250)],
            total: Money::ZERO,
            credit_applied: Money::from_cents(1000),
            counts: Some(UserCounts { full_time: 2, part_time: 1 }),
            tier_label: Some("Agreement Hybrid IT".into()),
            users: vec![("Maria Lopez".into(), UserType::FullTime)],
            customer_address: vec!["200 Main Street".into(), "Springfield, IL 62701".into()],
            paid: Money::ZERO,
            time_entries: vec![],
        };
        let mut docs = vec![
            base.clone(),
            InvoiceDoc {
                kind: InvoiceKind::Recurring,
                lines: vec![line("Office 365 Business Premium", 3, 2200)],
                counts: None,
                tier_label: None,
                users: vec![],
                ..base.clone()
            },
            InvoiceDoc {
                kind: InvoiceKind::Service,
                period: Period::Day(d("2026-11-30")),
                lines: vec![line("2026-11-12 J. Smith: replaced the firewall", 2, 12500)],
                counts: None,
                tier_label: None,
                users: vec![],
                time_entries: vec![TimeEntry {
                    date: d("2026-11-12"),
                    engineer: "J. Smith".into(),
                    hours: 2.into(),
                    rate: Money::from_cents(12500),
                    description: "replaced the firewall".into(),
                    amount: Money::from_cents(25000),
                }],
                ..base
            },
        ];
        for doc in &mut docs {
            doc.total = total(&doc.lines);
        }
        docs
    }

    pub fn title(&self) -> String {
        match self.kind {
            InvoiceKind::Agreement => self.tier_label.clone().unwrap_or_else(|| "Agreement".into()),
            InvoiceKind::Recurring => "Recurring charges".into(),
            InvoiceKind::Service => "Service work".into(),
        }
    }

    pub fn period_label(&self) -> String {
        match self.period {
            Period::Month(m) => m.label(),
            Period::Day(d) => format!("recorded through {}", long_date(d)),
        }
    }

    pub fn subject(&self, company: &Company) -> String {
        format!("Invoice {} from {}: {}, {}", self.number, company.name, self.title(), self.period_label())
    }

    /// The payment terms as an invoice states them.
    pub fn terms(&self) -> String {
        match (self.due - self.issued).num_days() {
            n if n > 0 => format!("Net {n} days"),
            _ => "Due on receipt".into(),
        }
    }

    /// The attachment's file name: `INV-2026-0001.pdf`.
    pub fn pdf_name(&self) -> String {
        let safe: String =
            self.number.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect();
        format!("{safe}.pdf")
    }
}

#[derive(Serialize)]
struct LineView {
    description: String,
    quantity: String,
    unit: &'static str,
    unit_price: String,
    proration: Option<String>,
    amount: String,
}

/// The rendered parts of one message.
#[derive(Clone, Debug)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

pub struct Renderer {
    env: Environment<'static>,
    /// The PDFs' Typst sources (built in, or `invoice.typ` and
    /// `statement.typ` from `[templates] dir`) and `[company] logo`,
    /// compiled on first use: a command that sends no invoice never pays for it.
    pdf: PdfMaker,
}

impl Default for Renderer {
    fn default() -> Self {
        Renderer::new()
    }
}

/// A Message-ID of ours. Its random part makes it unguessable: a delivery
/// failure report counts only when it names a message billmail sent, so no
/// one may name one without having seen it.
pub fn message_id(config: &Config, local_part: &str, now: DateTime<Utc>) -> String {
    let nonce = getrandom::u64().expect("the system's random source");
    format!("<{local_part}.{}.{nonce:016x}@{}>", now.timestamp(), config.company.mail_domain())
}

/// The top-level variables a template reads (not those it sets itself).
fn variables(env: &Environment<'_>, name: &str) -> BTreeSet<String> {
    env.get_template(name).map(|t| t.undeclared_variables(false).into_iter().collect()).unwrap_or_default()
}

/// A built-in template and every built-in one it includes, imports or extends.
fn with_includes(builtin: &Environment<'_>, name: &str) -> BTreeSet<String> {
    static INCLUDE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r#"\{%-?\s*(?:include|import|extends|from)\s+"([^"]+)""#).expect("valid regex")
    });
    let mut seen = BTreeSet::new();
    let mut todo = vec![name.to_string()];
    while let Some(n) = todo.pop() {
        let Ok(t) = builtin.get_template(&n) else { continue };
        if seen.insert(n) {
            todo.extend(INCLUDE.captures_iter(t.source()).map(|c| c[1].to_string()));
        }
    }
    seen
}

impl Renderer {
    /// The built-in templates only.
    pub fn new() -> Renderer {
        let mut env = Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_keep_trailing_newline(true);
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        // templates/*.j2, embedded by build.rs (minijinja-embed)
        minijinja_embed::load_templates!(&mut env);
        Renderer { env, pdf: PdfMaker::default() }
    }

    /// The templates the config asks for: built-in, with `[templates] dir`
    /// over them, and the company's logo. A configured logo is tried on a
    /// sample invoice PDF here, so a file Typst cannot read is refused at
    /// startup rather than when an invoice is sent.
    pub fn for_config(config: &crate::config::Config) -> Result<Renderer> {
        let mut renderer = match &config.templates {
            None => Renderer::new(),
            Some(dir) => Renderer::with_overrides(dir, &config.company)?,
        };
        if let Some(path) = &config.company.logo {
            let bytes =
                std::fs::read(path).with_context(|| format!("[company] logo: cannot read {}", path.display()))?;
            let ext = path.extension().and_then(|e| e.to_str()).unwrap_or_default().to_ascii_lowercase();
            let logo = Some(Logo { name: format!("logo.{ext}"), bytes });
            renderer.pdf = PdfMaker::new(
                renderer.pdf.source(Doc::Invoice).into(),
                renderer.pdf.source(Doc::Statement).into(),
                logo,
            );
            let sample = &InvoiceDoc::samples()[0];
            renderer
                .invoice_pdf(&config.company, sample)
                .with_context(|| format!("[company] logo: {} cannot be shown on an invoice", path.display()))?;
        }
        renderer.finish_pdfs();
        Ok(renderer)
    }

    /// The built-in templates with every `*.j2` file in `dir` put over the one
    /// of the same name. Each file must parse, read only variables its
    /// built-in counterpart is given, and the invoices must render with
    /// sample data; anything else is one error naming the file.
    pub fn with_overrides(dir: &Path, company: &Company) -> Result<Renderer> {
        let builtin = Renderer::new();
        let known: BTreeSet<&str> = builtin.env.templates().map(|(n, _)| n).collect();
        let every: BTreeSet<String> = known.iter().flat_map(|n| variables(&builtin.env, n)).collect();
        let mut env = builtin.env.clone();
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .with_context(|| format!("cannot read the templates folder {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "j2"))
            .collect();
        files.sort();
        let mut replaced = Vec::new();
        for path in &files {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
            if !known.contains(name.as_str()) && !name.starts_with('_') {
                bail!(
                    "{}: billmail has no template of that name (a partial of your own must start with _; the names are those under /usr/share/billmail/templates)",
                    path.display()
                );
            }
            let src = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            env.add_template_owned(name.clone(), src).map_err(|e| anyhow!("{}: {e}", path.display()))?;
            let allowed = if known.contains(name.as_str()) {
                // what the built-in one and its partials read is what the caller gives
                let mut v: BTreeSet<String> =
                    with_includes(&builtin.env, &name).iter().flat_map(|n| variables(&builtin.env, n)).collect();
                v.insert("company".into());
                v
            } else {
                every.clone()
            };
            let unknown: Vec<String> = variables(&env, &name).difference(&allowed).cloned().collect();
            if !unknown.is_empty() {
                bail!(
                    "{}: uses {} which this template is not given (it is given: {})",
                    path.display(),
                    unknown.join(", "),
                    allowed.into_iter().collect::<Vec<_>>().join(", ")
                );
            }
            replaced.push(path.clone());
        }
        let mut renderer = Renderer { env, ..Renderer::new() };
        for doc in InvoiceDoc::samples() {
            renderer.invoice(company, &doc).with_context(|| format!("the templates in {}", dir.display()))?;
        }
        renderer
            .statement(company, &sample_statement(company)?)
            .with_context(|| format!("the templates in {}", dir.display()))?;
        let typ = dir.join("invoice.typ");
        if typ.exists() {
            let source = std::fs::read_to_string(&typ).with_context(|| format!("cannot read {}", typ.display()))?;
            renderer.pdf = PdfMaker::new(source, renderer.pdf.source(Doc::Statement).into(), None);
            for doc in InvoiceDoc::samples() {
                renderer.invoice_pdf(company, &doc).with_context(|| format!("{}", typ.display()))?;
            }
            replaced.push(typ);
        }
        let typ = dir.join("statement.typ");
        if typ.exists() {
            let source = std::fs::read_to_string(&typ).with_context(|| format!("cannot read {}", typ.display()))?;
            renderer.pdf = PdfMaker::new(renderer.pdf.source(Doc::Invoice).into(), source, None);
            renderer
                .statement_pdf(company, &sample_statement(company)?)
                .with_context(|| format!("{}", typ.display()))?;
            replaced.push(typ);
        }
        for name in known.iter().filter(|n| !n.starts_with('_')) {
            // every include and macro import must resolve
            renderer.env.get_template(name).with_context(|| format!("the templates in {}", dir.display()))?;
        }
        tracing::info!(folder = %dir.display(), replaced = replaced.len(), "templates loaded");
        Ok(renderer)
    }

    pub fn invoice(&self, company: &Company, doc: &InvoiceDoc) -> Result<Rendered> {
        let ctx = invoice_context(company, doc, self.pdf.logo());
        let base = format!("invoice_{}", doc.kind.as_str());
        let text = self.render(&format!("{base}.txt.j2"), &ctx)?;
        let html = self.render(&format!("{base}.html.j2"), &ctx)?;
        Ok(Rendered { subject: doc.subject(company), text, html })
    }

    /// The invoice as a PDF (`templates/invoice.typ`): the same data as its
    /// emails, and the service invoices' time entries.
    pub fn invoice_pdf(&self, company: &Company, doc: &InvoiceDoc) -> Result<Vec<u8>> {
        let data = serde_json::to_value(invoice_context(company, doc, self.pdf.logo()))?;
        self.pdf
            .make(Doc::Invoice, &data, &doc.number, doc.issued)
            .with_context(|| format!("the PDF of invoice {}", doc.number))
    }

    /// Ends the process PDFs were being made in, if any (see `pdf`): called
    /// after each round of sends, so a daemon idles without Typst in memory.
    pub fn finish_pdfs(&self) {
        self.pdf.finish();
    }

    /// A statement's text and HTML from its data (`statement_context`).
    pub fn statement(&self, company: &Company, data: &serde_json::Value) -> Result<Rendered> {
        let ctx = minijinja::Value::from_serialize(data);
        let subject = format!(
            "Statement of account from {}: {}, {}",
            company.name,
            data["customer"]["name"].as_str().unwrap_or_default(),
            data["statement"]["month_label"].as_str().unwrap_or_default()
        );
        let text = self.render("statement.txt.j2", &ctx)?;
        let html = self.render("statement.html.j2", &ctx)?;
        Ok(Rendered { subject, text, html })
    }

    /// A statement as a PDF (`templates/statement.typ`), from the data it
    /// was sent with; the letterhead is the company's as configured now.
    pub fn statement_pdf(&self, company: &Company, data: &serde_json::Value) -> Result<Vec<u8>> {
        let mut data = data.clone();
        data["company"] = serde_json::to_value(company_context(company, self.pdf.logo()))?;
        let number = data["statement"]["number"].as_str().unwrap_or("Statement").to_string();
        let issued = data["statement"]["issued_on"]
            .as_str()
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .unwrap_or_default();
        self.pdf.make(Doc::Statement, &data, &number, issued).with_context(|| format!("the PDF of {number}"))
    }

    /// A notice (`change_confirmation`, `payment_receipt`,
    /// `review_acknowledgement`) from its two templates; `ctx` gets `company`.
    pub fn notice(
        &self,
        kind: NoticeKind,
        company: &Company,
        subject: String,
        ctx: minijinja::Value,
    ) -> Result<Rendered> {
        let ctx = context! { company => company_context(company, None), ..ctx };
        let text = self.render(&format!("{kind}.txt.j2"), &ctx)?;
        let html = self.render(&format!("{kind}.html.j2"), &ctx)?;
        Ok(Rendered { subject, text, html })
    }

    fn render(&self, name: &str, ctx: &minijinja::Value) -> Result<String> {
        self.env.get_template(name).and_then(|t| t.render(ctx)).with_context(|| format!("rendering template {name}"))
    }
}

/// What every document says of the company.
fn company_context(company: &Company, logo: Option<&Logo>) -> minijinja::Value {
    context! {
        name => company.name,
        accounting_address => company.accounting_address.as_str(),
        payment_instructions => company.payment_instructions,
        address_lines => company.address,
        phone => company.phone,
        logo => logo.map(|l| l.name.clone()),
    }
}

/// The data of one invoice, as its templates (text, HTML and PDF) read it.
pub fn invoice_context(company: &Company, doc: &InvoiceDoc, logo: Option<&Logo>) -> minijinja::Value {
    let cur = doc.currency.as_str();
    let unit = if doc.kind == InvoiceKind::Service { " h" } else { "" };
    let lines: Vec<LineView> = doc
        .lines
        .iter()
        .map(|l| LineView {
            description: l.description.clone(),
            quantity: if l.proration.is_some() && l.quantity.is_sign_positive() {
                format!("+{}", l.quantity.normalize())
            } else {
                l.quantity.normalize().to_string()
            },
            unit,
            unit_price: l.unit_price.display_in(cur),
            proration: l.proration.map(|p| format!("{}/{} days", p.days, p.days_in_month)),
            amount: l.amount.display_in(cur),
        })
        .collect();
    let hours: rust_decimal::Decimal = doc.lines.iter().map(|l| l.quantity).sum();
    let users: Vec<_> = doc.users.iter().map(|(n, t)| context! { name => n, type => t.label() }).collect();
    let period_start = match doc.period {
        Period::Month(m) => m.first_day().to_string(),
        Period::Day(_) => String::new(),
    };
    let time_entries: Vec<_> = doc
        .time_entries
        .iter()
        .map(|e| {
            context! {
                date => e.date.to_string(),
                engineer => e.engineer,
                hours => e.hours.normalize().to_string(),
                rate => e.rate.display_in(cur),
                description => e.description,
                amount => e.amount.display_in(cur),
            }
        })
        .collect();
    context! {
        company => company_context(company, logo),
        customer => context! { id => doc.account_id, name => doc.account_name, address_lines => doc.customer_address },
        invoice => context! {
            number => doc.number,
            kind => doc.kind.as_str(),
            title => doc.title(),
            period => doc.period.to_string(),
            period_label => doc.period_label(),
            period_start => period_start,
            issued => long_date(doc.issued),
            due => long_date(doc.due),
            terms => doc.terms(),
            lines => lines,
            total => doc.total.display_in(cur),
            has_credit => doc.credit_applied.is_positive(),
            credit_applied => doc.credit_applied.display_in(cur),
            paid => doc.paid.is_positive().then(|| doc.paid.display_in(cur)),
            amount_due => (doc.total - doc.credit_applied - doc.paid).display_in(cur),
            counts => doc.counts.map(|c| context! { full_time => c.full_time, part_time => c.part_time }),
            hours => hours.normalize().to_string(),
        },
        users => users,
        time_entries => time_entries,
    }
}

/// One account's statement for a month, as its email and PDF are given it.
pub struct StatementDoc<'a> {
    pub account_id: &'a AccountId,
    pub account_name: &'a str,
    pub address: Vec<String>,
    pub statement: &'a crate::domain::statement::Statement,
    pub issued: NaiveDate,
    pub currency: &'a str,
}

impl StatementDoc<'_> {
    /// `STMT-ACME-2026-11`: the PDF's title and file name.
    pub fn number(&self) -> String {
        format!("STMT-{}-{}", self.account_id, self.statement.month)
    }
}

/// The data of one statement (text, HTML and PDF read it; it is stored with
/// the statement, so a retry or a later look shows what was sent).
pub fn statement_context(company: &Company, doc: &StatementDoc<'_>) -> Result<serde_json::Value> {
    use crate::domain::aging::BUCKETS;
    let cur = doc.currency;
    let s = doc.statement;
    let show = |m: crate::domain::Money| m.display_in(cur);
    // invoices and payments by date, each with the balance after it
    let mut rows: Vec<(NaiveDate, u8, String, crate::domain::Money)> = s
        .invoices
        .iter()
        .map(|i| (i.issued, 0, format!("Invoice {}, due {}", i.number, long_date(i.due)), i.total))
        .chain(s.payments.iter().map(|p| {
            let method = match p.method.as_str() {
                "ach" => "ACH",
                "unknown" => "bank transfer",
                m => m,
            };
            let by = match &p.reference {
                Some(r) => format!("Payment by {method} (reference {r}), thank you"),
                None => format!("Payment by {method}, thank you"),
            };
            (p.received, 1, by, crate::domain::Money::ZERO - p.amount)
        }))
        .collect();
    rows.sort_by_key(|r| (r.0, r.1));
    let mut balance = s.opening;
    let activity: Vec<serde_json::Value> = rows
        .into_iter()
        .map(|(date, _, description, amount)| {
            balance += amount;
            serde_json::json!({
                "date": long_date(date), "description": description, "amount": show(amount), "balance": show(balance),
            })
        })
        .collect();
    let open: Vec<serde_json::Value> = s
        .open
        .iter()
        .map(|o| {
            serde_json::json!({
                "number": o.number, "issued": long_date(o.issued), "due": long_date(o.due),
                "days_past_due": o.days_past_due, "balance": show(o.balance),
            })
        })
        .collect();
    let company = serde_json::to_value(company_context(company, None))?;
    Ok(serde_json::json!({
        "company": company,
        "customer": { "id": doc.account_id, "name": doc.account_name, "address_lines": doc.address },
        "statement": {
            "number": doc.number(),
            "month": s.month.to_string(),
            "month_label": s.month.label(),
            "issued": long_date(doc.issued),
            "issued_on": doc.issued.to_string(),
            "start": long_date(s.month.first_day()),
            "end": long_date(s.month.last_day()),
            "opening": show(s.opening),
            "activity": activity,
            "closing": show(s.closing),
            "owes": s.closing.is_positive(),
            "open": open,
            "aging": s.buckets.map(show),
            "buckets": BUCKETS.map(|b| match b { "current" => "Current".to_string(), "90+" => "Over 90 days".to_string(), b => format!("{b} days") }),
            "has_credit": s.credit.is_positive(),
            "credit": show(s.credit),
        },
    }))
}

/// A statement to try templates on: an opening balance, an invoice, a
/// payment and an invoice past due.
pub fn sample_statement(company: &Company) -> Result<serde_json::Value> {
    use crate::domain::statement::{LedgerInvoice, LedgerPayment, statement};
    let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("sample date");
    let m = |c: i64| crate::domain::Money::from_cents(c);
    let invoices = [
        LedgerInvoice {
            number: "INV-2026-0001".into(),
            issued: d("2026-10-15"),
            due: d("2026-10-30"),
            total: m(25_500),
            applied: vec![],
        },
        LedgerInvoice {
            number: "INV-2026-0002".into(),
            issued: d("2026-11-15"),
            due: d("2026-11-30"),
            total: m(25_500),
            applied: vec![(d("2026-11-20"), m(10_000))],
        },
    ];
    let payments = [LedgerPayment {
        received: d("2026-11-20"),
        method: "ach".into(),
        reference: Some("ACH 1234".into()),
        amount: m(10_000),
    }];
    let s = statement(Month::parse("2026-11").expect("a sample month"), &invoices, &payments);
    let id = AccountId::parse("ACME").expect("a sample id");
    statement_context(
        company,
        &StatementDoc {
            account_id: &id,
            account_name: "Acme Dental",
            address: vec!["200 Main Street".into(), "Springfield, IL 62701".into()],
            statement: &s,
            issued: d("2026-12-01"),
            currency: "USD",
        },
    )
}
