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
use crate::domain::{AccountId, InvoiceKind, Line, Month, NoticeKind, Period, UserCounts, UserType};

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
}

impl InvoiceDoc {
    /// One invoice of each kind, to try templates on.
    pub fn samples() -> Vec<InvoiceDoc> {
        use crate::domain::Money;
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("sample date");
        let line = |description: &str, quantity: i64, cents: i64| {
            Line::priced(description.into(), quantity.into(), Money::from_cents(cents), None).expect("a sample amount")
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
        Renderer { env }
    }

    /// The templates the config asks for: built-in, with `[templates] dir` over them.
    pub fn for_config(config: &crate::config::Config) -> Result<Renderer> {
        match &config.templates {
            None => Ok(Renderer::new()),
            Some(dir) => Renderer::with_overrides(dir, &config.company),
        }
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
        let renderer = Renderer { env };
        for doc in InvoiceDoc::samples() {
            renderer.invoice(company, &doc).with_context(|| format!("the templates in {}", dir.display()))?;
        }
        for name in known.iter().filter(|n| !n.starts_with('_')) {
            // every include and macro import must resolve
            renderer.env.get_template(name).with_context(|| format!("the templates in {}", dir.display()))?;
        }
        tracing::info!(folder = %dir.display(), replaced = replaced.len(), "templates loaded");
        Ok(renderer)
    }

    pub fn invoice(&self, company: &Company, doc: &InvoiceDoc) -> Result<Rendered> {
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
        let ctx = context! {
            company => context! {
                name => company.name,
                accounting_address => company.accounting_address.as_str(),
                payment_instructions => company.payment_instructions,
            },
            customer => context! { id => doc.account_id, name => doc.account_name },
            invoice => context! {
                number => doc.number,
                kind => doc.kind.as_str(),
                title => doc.title(),
                period => doc.period.to_string(),
                period_label => doc.period_label(),
                period_start => period_start,
                issued => long_date(doc.issued),
                due => long_date(doc.due),
                lines => lines,
                total => doc.total.display_in(cur),
                has_credit => doc.credit_applied.is_positive(),
                credit_applied => doc.credit_applied.display_in(cur),
                amount_due => (doc.total - doc.credit_applied).display_in(cur),
                counts => doc.counts.map(|c| context! { full_time => c.full_time, part_time => c.part_time }),
                hours => hours.normalize().to_string(),
            },
            users => users,
        };
        let base = format!("invoice_{}", doc.kind.as_str());
        let text = self.render(&format!("{base}.txt.j2"), &ctx)?;
        let html = self.render(&format!("{base}.html.j2"), &ctx)?;
        Ok(Rendered { subject: doc.subject(company), text, html })
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
        let ctx = context! {
            company => context! {
                name => company.name,
                accounting_address => company.accounting_address.as_str(),
                payment_instructions => company.payment_instructions,
            },
            ..ctx
        };
        let text = self.render(&format!("{kind}.txt.j2"), &ctx)?;
        let html = self.render(&format!("{kind}.html.j2"), &ctx)?;
        Ok(Rendered { subject, text, html })
    }

    fn render(&self, name: &str, ctx: &minijinja::Value) -> Result<String> {
        self.env.get_template(name).and_then(|t| t.render(ctx)).with_context(|| format!("rendering template {name}"))
    }
}
