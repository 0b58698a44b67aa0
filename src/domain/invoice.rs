//! Invoice builders: pure functions from a [`Book`] and a [`Job`] to a
//! [`Draft`] with every line priced and rounded.

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::book::{Book, counts_on};
use super::calendar::{Job, Schedule};
pub use super::ids::InvoiceKind;
use super::ids::{Month, Period, UserCounts, UserType};
use super::money::Money;

/// A proration: the part of a month a line covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Proration {
    pub days: u32,
    pub days_in_month: u32,
}

/// What a line bills, which the books map to an item and an income account
/// (`[export]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LineCategory {
    /// The agreement's full-time users for the month.
    FullTime,
    /// The agreement's part-time users for the month.
    PartTime,
    /// A prorated change of full-time users in a month already invoiced.
    AdjustmentFullTime,
    /// A prorated change of part-time users in a month already invoiced.
    AdjustmentPartTime,
    /// A recurring subscription (its product is the line's description).
    Product,
    /// Billable work outside the agreement.
    Service,
}

impl LineCategory {
    pub const ALL: [LineCategory; 6] = [
        LineCategory::FullTime,
        LineCategory::PartTime,
        LineCategory::AdjustmentFullTime,
        LineCategory::AdjustmentPartTime,
        LineCategory::Product,
        LineCategory::Service,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            LineCategory::FullTime => "full_time",
            LineCategory::PartTime => "part_time",
            LineCategory::AdjustmentFullTime => "adjustment_full_time",
            LineCategory::AdjustmentPartTime => "adjustment_part_time",
            LineCategory::Product => "product",
            LineCategory::Service => "service",
        }
    }
    pub fn parse(s: &str) -> Option<LineCategory> {
        LineCategory::ALL.into_iter().find(|c| c.as_str() == s)
    }
    fn base(t: UserType) -> LineCategory {
        match t {
            UserType::FullTime => LineCategory::FullTime,
            UserType::PartTime => LineCategory::PartTime,
        }
    }
    fn adjustment(t: UserType) -> LineCategory {
        match t {
            UserType::FullTime => LineCategory::AdjustmentFullTime,
            UserType::PartTime => LineCategory::AdjustmentPartTime,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    pub category: LineCategory,
    pub description: String,
    pub quantity: Decimal,
    pub unit_price: Money,
    pub proration: Option<Proration>,
    pub amount: Money,
}

impl Line {
    /// quantity × unit price (× days / days in month), rounded half away
    /// from zero to cents: the only way a line gets its amount. Checked
    /// throughout: an amount out of range is an error naming the line.
    pub fn priced(
        category: LineCategory,
        description: String,
        quantity: Decimal,
        unit_price: Money,
        proration: Option<Proration>,
    ) -> Result<Line, String> {
        let out_of_range = || format!("{description}: {quantity} × {} is out of range", unit_price.grouped());
        let mut exact = quantity.checked_mul(unit_price.to_decimal()).ok_or_else(out_of_range)?;
        if let Some(p) = proration {
            exact = exact
                .checked_mul(Decimal::from(p.days))
                .and_then(|x| x.checked_div(Decimal::from(p.days_in_month)))
                .ok_or_else(out_of_range)?;
        }
        let amount = Money::round(exact).map_err(|_| out_of_range())?;
        Ok(Line { category, description, quantity, unit_price, proration, amount })
    }
}

/// An invoice ready to be numbered and stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Draft {
    pub kind: InvoiceKind,
    pub period: Period,
    pub issued_on: NaiveDate,
    pub due_on: NaiveDate,
    pub lines: Vec<Line>,
    pub total: Money,
    /// Account credit applied to this invoice (never more than its total).
    pub credit_applied: Money,
    /// Agreement invoices: the counts billed.
    pub counts: Option<UserCounts>,
    /// Count changes this invoice accounts for (base counts or adjustments).
    pub accounted_changes: Vec<i64>,
    /// Service entries this invoice bills.
    pub service_entries: Vec<i64>,
}

impl Draft {
    pub fn amount_due(&self) -> Money {
        self.total - self.credit_applied
    }
}

impl Book {
    /// Records that `draft` was issued, so later drafts in the same cycle
    /// build on it.
    pub fn apply(&mut self, draft: &Draft) {
        match draft.period {
            Period::Day(d) => {
                self.issued.service.insert(d);
            }
            Period::Month(m) if draft.kind == InvoiceKind::Recurring => {
                self.issued.recurring.insert(m);
            }
            Period::Month(m) => {
                self.issued.agreement.insert(m);
            }
        }
        for c in self.changes.iter_mut() {
            if draft.accounted_changes.contains(&c.id) {
                c.accounted = true;
            }
        }
        for s in self.services.iter_mut() {
            if draft.service_entries.contains(&s.id) {
                s.invoiced = true;
            }
        }
        self.credit -= draft.credit_applied;
    }
}

/// Builds the invoice for `job`, issued on `today`. `None` when there is
/// nothing to bill (a recurring month with no running charge); an error
/// when an amount is out of range (the account is not billed; the others
/// are).
pub fn build(job: Job, schedule: &Schedule, book: &Book, today: NaiveDate) -> Result<Option<Draft>, String> {
    let due_on = schedule.due_date(job, today);
    let (kind, period, lines, counts, accounted, services) = match job {
        Job::Agreement(period) => {
            let (lines, counts, accounted) = agreement_lines(period, schedule, book)?;
            (InvoiceKind::Agreement, Period::Month(period), lines, Some(counts), accounted, vec![])
        }
        Job::Recurring(period) => {
            let moment = schedule.moment(schedule.recurring_issue_date(period));
            let lines: Vec<Line> = book
                .subscriptions
                .iter()
                .filter_map(|s| s.at(moment).map(|v| (s, v)))
                .map(|(s, v)| {
                    super::limits::within(v.quantity, super::limits::MAX_QUANTITY, &s.product)?;
                    super::limits::price(v.unit_price, &s.product)?;
                    Line::priced(
                        LineCategory::Product,
                        s.product.clone(),
                        Decimal::from(v.quantity),
                        v.unit_price,
                        None,
                    )
                })
                .collect::<Result<_, _>>()?;
            if lines.is_empty() {
                return Ok(None);
            }
            (InvoiceKind::Recurring, Period::Month(period), lines, None, vec![], vec![])
        }
        Job::Service(day) => {
            let cutoff = schedule.moment(day);
            let mut entries: Vec<_> = book.services.iter().filter(|s| !s.invoiced && s.recorded_at <= cutoff).collect();
            if entries.is_empty() {
                return Ok(None);
            }
            entries.sort_by_key(|s| (s.work_date, s.id));
            let lines = entries
                .iter()
                .map(|s| {
                    let text = format!("{} · {} · {}", s.work_date.format("%Y-%m-%d"), s.engineer, s.description);
                    if s.hours > Decimal::from(super::limits::MAX_HOURS) {
                        return Err(format!("{text}: {} hours is over the limit", s.hours));
                    }
                    super::limits::price(s.rate, "the hourly rate")?;
                    Line::priced(LineCategory::Service, text, s.hours, s.rate, None)
                })
                .collect::<Result<_, _>>()?;
            let ids = entries.iter().map(|s| s.id).collect();
            (InvoiceKind::Service, Period::Day(day), lines, None, vec![], ids)
        }
    };
    let total = lines
        .iter()
        .try_fold(Money::ZERO, |sum, l| sum.checked_add(l.amount))
        .ok_or_else(|| format!("the {} invoice for {period}: its total is out of range", kind.as_str()))?;
    let credit_applied =
        if total.is_positive() && book.credit.is_positive() { book.credit.min(total) } else { Money::ZERO };
    Ok(Some(Draft {
        kind,
        period,
        issued_on: today,
        due_on,
        lines,
        total,
        credit_applied,
        counts,
        accounted_changes: accounted,
        service_entries: services,
    }))
}

/// Base lines for the counts in force on the period's first day, then one
/// adjustment per user type and already-invoiced month for each change not
/// yet reflected on an invoice.
fn agreement_lines(
    period: Month,
    schedule: &Schedule,
    book: &Book,
) -> Result<(Vec<Line>, UserCounts, Vec<i64>), String> {
    let acct = &book.account;
    let start = period.first_day();
    let counts = counts_on(&book.changes, start);
    for (n, what) in [(counts.full_time, "full-time users"), (counts.part_time, "part-time users")] {
        super::limits::within(n, super::limits::MAX_USERS, what)?;
    }
    let mut lines = Vec::new();
    for t in [UserType::FullTime, UserType::PartTime] {
        let label = match t {
            UserType::FullTime => "Full-time users",
            UserType::PartTime => "Part-time users",
        };
        lines.push(Line::priced(
            LineCategory::base(t),
            format!("{label}, {}, {}", acct.tier_label, period.label()),
            Decimal::from(counts.get(t)),
            acct.rates.get(t),
            None,
        )?);
    }
    let mut accounted = Vec::new();
    let mut pending: Vec<_> = book.changes.iter().filter(|c| !c.accounted && c.effective <= start).collect();
    pending.sort_by_key(|c| (c.effective, c.id));
    for c in pending {
        accounted.push(c.id);
        if !schedule.prorate || c.effective >= start {
            continue;
        }
        let mut q = Month::of(c.effective);
        while q < period {
            if book.issued.agreement.contains(&q) {
                let from = c.effective.max(q.first_day());
                let days = (q.last_day() - from).num_days() as u32 + 1;
                let proration = Proration { days, days_in_month: q.days() };
                for t in [UserType::FullTime, UserType::PartTime] {
                    let d = c.delta.get(t);
                    if d == 0 {
                        continue;
                    }
                    let noun = if d.abs() == 1 { "user" } else { "users" };
                    let mut text = format!(
                        "Adjustment for {}: {d:+} {} {noun} from {}, {days} of {} days",
                        q.label(),
                        t.label(),
                        from.format("%Y-%m-%d"),
                        q.days()
                    );
                    if !c.reason.is_empty() {
                        text.push_str(&format!(" ({})", c.reason));
                    }
                    lines.push(Line::priced(
                        LineCategory::adjustment(t),
                        text,
                        Decimal::from(d),
                        acct.rates.get(t),
                        Some(proration),
                    )?);
                }
            }
            q = q.next();
        }
    }
    Ok((lines, counts, accounted))
}

/// One engineer's time on a service invoice, as the PDF lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimeEntry {
    pub date: chrono::NaiveDate,
    pub engineer: String,
    pub hours: rust_decimal::Decimal,
    pub rate: crate::domain::Money,
    pub description: String,
    pub amount: crate::domain::Money,
}
