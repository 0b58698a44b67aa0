//! Renders customer-facing documents from the minijinja templates in
//! `templates/` (compiled into the binary). HTML templates are autoescaped.

use anyhow::{Context, Result};
use chrono::NaiveDate;
use minijinja::{Environment, context};
use serde::Serialize;

use crate::config::Company;
use crate::domain::{InvoiceKind, Line, Month, UserCounts, UserType};

const TEMPLATES: &[(&str, &str)] = &[
    ("_layout.html.j2", include_str!("../templates/_layout.html.j2")),
    ("_invoice.html.j2", include_str!("../templates/_invoice.html.j2")),
    ("_invoice_head.txt.j2", include_str!("../templates/_invoice_head.txt.j2")),
    ("_invoice_lines.txt.j2", include_str!("../templates/_invoice_lines.txt.j2")),
    ("_invoice_foot.txt.j2", include_str!("../templates/_invoice_foot.txt.j2")),
    ("invoice_agreement.txt.j2", include_str!("../templates/invoice_agreement.txt.j2")),
    ("invoice_agreement.html.j2", include_str!("../templates/invoice_agreement.html.j2")),
    ("invoice_recurring.txt.j2", include_str!("../templates/invoice_recurring.txt.j2")),
    ("invoice_recurring.html.j2", include_str!("../templates/invoice_recurring.html.j2")),
    ("invoice_service.txt.j2", include_str!("../templates/invoice_service.txt.j2")),
    ("invoice_service.html.j2", include_str!("../templates/invoice_service.html.j2")),
    ("change_confirmation.txt.j2", include_str!("../templates/change_confirmation.txt.j2")),
    ("change_confirmation.html.j2", include_str!("../templates/change_confirmation.html.j2")),
    ("payment_receipt.txt.j2", include_str!("../templates/payment_receipt.txt.j2")),
    ("payment_receipt.html.j2", include_str!("../templates/payment_receipt.html.j2")),
    ("review_acknowledgement.txt.j2", include_str!("../templates/review_acknowledgement.txt.j2")),
    ("review_acknowledgement.html.j2", include_str!("../templates/review_acknowledgement.html.j2")),
    ("_owed.txt.j2", include_str!("../templates/_owed.txt.j2")),
    ("_owed.html.j2", include_str!("../templates/_owed.html.j2")),
    ("reminder.txt.j2", include_str!("../templates/reminder.txt.j2")),
    ("reminder.html.j2", include_str!("../templates/reminder.html.j2")),
    ("credit_hold.txt.j2", include_str!("../templates/credit_hold.txt.j2")),
    ("credit_hold.html.j2", include_str!("../templates/credit_hold.html.j2")),
    ("service_hold.txt.j2", include_str!("../templates/service_hold.txt.j2")),
    ("service_hold.html.j2", include_str!("../templates/service_hold.html.j2")),
    ("hold_released.txt.j2", include_str!("../templates/hold_released.txt.j2")),
    ("hold_released.html.j2", include_str!("../templates/hold_released.html.j2")),
    ("team_notice.txt.j2", include_str!("../templates/team_notice.txt.j2")),
    ("team_notice.html.j2", include_str!("../templates/team_notice.html.j2")),
    ("bounce_notice.txt.j2", include_str!("../templates/bounce_notice.txt.j2")),
    ("bounce_notice.html.j2", include_str!("../templates/bounce_notice.html.j2")),
];

/// An invoice as the customer sees it: the data every template gets.
#[derive(Clone, Debug)]
pub struct InvoiceDoc {
    pub number: String,
    pub account_id: String,
    pub account_name: String,
    pub kind: InvoiceKind,
    pub period: String,
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
    pub fn title(&self) -> String {
        match self.kind {
            InvoiceKind::Agreement => self.tier_label.clone().unwrap_or_else(|| "Agreement".into()),
            InvoiceKind::Recurring => "Recurring charges".into(),
            InvoiceKind::Service => "Service work".into(),
        }
    }

    pub fn period_label(&self) -> String {
        match (self.kind, Month::parse(&self.period)) {
            (InvoiceKind::Service, _) | (_, None) => match NaiveDate::parse_from_str(&self.period, "%Y-%m-%d") {
                Ok(d) => format!("recorded through {}", d.format("%B %-d, %Y")),
                Err(_) => self.period.clone(),
            },
            (_, Some(m)) => m.label(),
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

impl Renderer {
    pub fn new() -> Renderer {
        let mut env = Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_keep_trailing_newline(true);
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        for (name, src) in TEMPLATES {
            env.add_template(name, src).expect("built-in templates parse");
        }
        Renderer { env }
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
        let period_start = Month::parse(&doc.period).map(|m| m.first_day().to_string()).unwrap_or_default();
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
                period => doc.period,
                period_label => doc.period_label(),
                period_start => period_start,
                issued => doc.issued.format("%B %-d, %Y").to_string(),
                due => doc.due.format("%B %-d, %Y").to_string(),
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
    pub fn notice(&self, kind: &str, company: &Company, subject: String, ctx: minijinja::Value) -> Result<Rendered> {
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
