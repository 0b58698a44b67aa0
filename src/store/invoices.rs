//! Invoices, their numbers, payments and what each payment paid.

use anyhow::{Result, bail};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use sqlx::Row;

use super::{Store, Tx, instant, parse_date, parse_decimal};
use crate::config::NumberFormat;
use crate::domain::import::PostalAddress;
use crate::domain::invoice::TimeEntry;
use crate::domain::payments::{NewPayment, Open, OpenInvoice, PaymentPlan, Take};
use crate::domain::{
    AccountId, Draft, InvoiceKind, InvoiceNumber, Line, LineCategory, Money, Period, Proration, UserType,
};

/// An invoice as stored, with what is still owed on it.
#[derive(Clone, Debug)]
pub struct InvoiceRecord {
    pub id: i64,
    pub number: String,
    pub account: AccountId,
    pub account_name: String,
    pub kind: InvoiceKind,
    pub period: Period,
    pub issued: NaiveDate,
    pub due: NaiveDate,
    pub currency: String,
    pub total: Money,
    pub credit_applied: Money,
    pub paid: Money,
    pub balance: Money,
    pub status: String,
    pub full_time_users: Option<i64>,
    pub part_time_users: Option<i64>,
    pub tier_label: Option<String>,
    /// Named users listed on the invoice when it was issued.
    pub users: Vec<(String, UserType)>,
    /// The account's postal address as the books hold it now.
    pub address: PostalAddress,
}

pub(super) const INVOICE_SELECT: &str = "
    SELECT i.id, i.number, i.account_id, a.name AS account_name, i.kind, i.period, i.issued_on, i.due_on,
           i.currency, i.total_cents, i.credit_applied_cents, i.status, i.full_time_users, i.part_time_users,
           i.tier_label, i.named_users, a.address_line1, a.address_line2, a.city, a.state, a.postal_code, a.country,
           COALESCE((SELECT SUM(amount_cents) FROM allocations WHERE invoice_id = i.id), 0) AS allocated
    FROM invoices i JOIN accounts a ON a.id = i.account_id";

pub(super) fn invoice_from_row(r: &sqlx::sqlite::SqliteRow) -> Result<InvoiceRecord> {
    let kind: &str = r.get("kind");
    let total = Money::from_cents(r.get("total_cents"));
    let allocated = Money::from_cents(r.get("allocated"));
    let credit_applied = Money::from_cents(r.get("credit_applied_cents"));
    Ok(InvoiceRecord {
        id: r.get("id"),
        number: r.get("number"),
        account: r.get("account_id"),
        account_name: r.get("account_name"),
        kind: InvoiceKind::parse(kind).ok_or_else(|| anyhow::anyhow!("stored invoice kind {kind:?} is unknown"))?,
        period: {
            let period: &str = r.get("period");
            let kind = InvoiceKind::parse(kind).unwrap_or(InvoiceKind::Agreement);
            Period::parse(kind, period)
                .ok_or_else(|| anyhow::anyhow!("stored invoice period {period:?} is malformed"))?
        },
        issued: parse_date(r.get("issued_on"))?,
        due: parse_date(r.get("due_on"))?,
        currency: r.get("currency"),
        total,
        credit_applied,
        paid: allocated - credit_applied,
        balance: total - allocated,
        status: r.get("status"),
        full_time_users: r.get("full_time_users"),
        part_time_users: r.get("part_time_users"),
        tier_label: r.get("tier_label"),
        users: r
            .get::<&str, _>("named_users")
            .lines()
            .filter_map(|l| l.split_once('\t'))
            .filter_map(|(n, t)| UserType::parse(t).map(|t| (n.to_string(), t)))
            .collect(),
        address: sqlx::FromRow::from_row(r)?,
    })
}

pub(super) const LINE_SELECT: &str =
    "SELECT invoice_id, category, description, quantity, unit_price_cents, prorate_days, prorate_of_days, amount_cents
     FROM invoice_lines";

pub(super) fn line_from_row(l: &sqlx::sqlite::SqliteRow) -> Result<Line> {
    let category: &str = l.get("category");
    Ok(Line {
        category: LineCategory::parse(category)
            .ok_or_else(|| anyhow::anyhow!("stored invoice line category {category:?} is unknown"))?,
        description: l.get("description"),
        quantity: parse_decimal(l.get("quantity"))?,
        unit_price: Money::from_cents(l.get("unit_price_cents")),
        proration: match (l.get::<Option<i64>, _>("prorate_days"), l.get::<Option<i64>, _>("prorate_of_days")) {
            (Some(d), Some(of)) => Some(Proration { days: d as u32, days_in_month: of as u32 }),
            _ => None,
        },
        amount: Money::from_cents(l.get("amount_cents")),
    })
}

/// One invoice to store: the draft and what it is issued with.
pub struct IssueItem<'a> {
    pub account: &'a AccountId,
    pub draft: &'a Draft,
    /// The payments whose unapplied money pays the draft's
    /// `credit_applied` (`domain::payments::spread_credit`).
    pub credit_from: Vec<Take<i64>>,
    pub tier_label: Option<&'a str>,
    pub users: &'a [(String, UserType)],
}

/// A value bound into a multi-row statement.
enum Val {
    Int(Option<i64>),
    Text(Option<String>),
}

/// Runs `INSERT INTO {head} VALUES (...), (...)` for `rows`, in chunks that
/// stay under SQLite's limit on bound variables. Returns the `RETURNING`
/// rows, if `tail` asks for any.
async fn insert_rows(
    conn: &mut sqlx::SqliteConnection,
    head: &str,
    tail: &str,
    rows: Vec<Vec<Val>>,
) -> Result<Vec<sqlx::sqlite::SqliteRow>> {
    let Some(width) = rows.first().map(Vec::len) else { return Ok(vec![]) };
    let per_chunk = (30_000 / width).max(1);
    let mut out = Vec::new();
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<Vec<Val>> = rows.by_ref().take(per_chunk).collect();
        let one = format!("({})", vec!["?"; width].join(", "));
        let sql = format!("INSERT INTO {head} VALUES {} {tail}", vec![one; chunk.len()].join(", "));
        let mut q = sqlx::query(&sql);
        for v in chunk.into_iter().flatten() {
            q = match v {
                Val::Int(i) => q.bind(i),
                Val::Text(t) => q.bind(t),
            };
        }
        out.extend(q.fetch_all(&mut *conn).await?);
    }
    Ok(out)
}

impl Tx {
    /// Numbers and stores issued drafts (in the order given), marks what
    /// they account for, and applies account credit to them as each item's
    /// `credit_from` says. An item whose
    /// account already has an invoice of its kind for its period is skipped
    /// (`None`): nothing is written for it and it takes no number.
    pub async fn insert_invoices(
        &mut self,
        items: &[IssueItem<'_>],
        currency: &str,
        format: &NumberFormat,
        now: DateTime<Utc>,
    ) -> Result<Vec<Option<(i64, String)>>> {
        let mut accounts: Vec<&AccountId> = items.iter().map(|i| i.account).collect();
        accounts.sort();
        accounts.dedup();
        let mut existing = std::collections::HashSet::new();
        for chunk in accounts.chunks(500) {
            let sql = format!(
                "SELECT account_id, kind, period FROM invoices WHERE account_id IN ({})",
                vec!["?"; chunk.len()].join(", ")
            );
            let mut q = sqlx::query_as::<_, (String, String, String)>(&sql);
            for a in chunk {
                q = q.bind(*a);
            }
            existing.extend(q.fetch_all(self.conn()).await?);
        }
        let fresh: Vec<bool> = items
            .iter()
            .map(|i| {
                !existing.contains(&(
                    i.account.to_string(),
                    i.draft.kind.as_str().to_string(),
                    i.draft.period.to_string(),
                ))
            })
            .collect();
        // reserve gapless numbers per year, in the order given
        let mut per_year: std::collections::BTreeMap<i32, i64> = Default::default();
        for (item, _) in items.iter().zip(&fresh).filter(|(_, f)| **f) {
            *per_year.entry(item.draft.issued_on.year()).or_default() += 1;
        }
        let mut next: std::collections::BTreeMap<i32, i64> = Default::default();
        for (year, n) in &per_year {
            let last: i64 = sqlx::query_scalar(
                "INSERT INTO invoice_sequences (year, last) VALUES (?1, ?2)
                 ON CONFLICT (year) DO UPDATE SET last = last + ?2 RETURNING last",
            )
            .bind(year)
            .bind(n)
            .fetch_one(self.conn())
            .await?;
            next.insert(*year, last - n + 1);
        }
        let mut numbers: Vec<Option<String>> = Vec::with_capacity(items.len());
        let mut rows = Vec::new();
        for (item, is_fresh) in items.iter().zip(&fresh) {
            if !is_fresh {
                numbers.push(None);
                continue;
            }
            let d = item.draft;
            let year = d.issued_on.year();
            let seq = next.get_mut(&year).expect("reserved");
            let number = format.format(year, *seq);
            *seq += 1;
            let status = if d.amount_due() == Money::ZERO { "paid" } else { "open" };
            let users: String = item.users.iter().map(|(n, t)| format!("{n}\t{}\n", t.as_str())).collect();
            rows.push(vec![
                Val::Text(Some(number.clone())),
                Val::Text(Some(item.account.to_string())),
                Val::Text(Some(d.kind.as_str().into())),
                Val::Text(Some(d.period.to_string())),
                Val::Text(Some(d.issued_on.to_string())),
                Val::Text(Some(d.due_on.to_string())),
                Val::Text(Some(currency.into())),
                Val::Int(Some(d.total.cents())),
                Val::Int(Some(d.credit_applied.cents())),
                Val::Int(d.counts.map(|c| c.full_time)),
                Val::Int(d.counts.map(|c| c.part_time)),
                Val::Text(item.tier_label.map(String::from)),
                Val::Text(Some(users)),
                Val::Text(Some(status.into())),
                Val::Text(Some(instant(now))),
            ]);
            numbers.push(Some(number));
        }
        let returned = insert_rows(
            self.conn(),
            "invoices (number, account_id, kind, period, issued_on, due_on, currency, total_cents,
               credit_applied_cents, full_time_users, part_time_users, tier_label, named_users, status, created_at)",
            "RETURNING id, number",
            rows,
        )
        .await?;
        let ids: std::collections::HashMap<String, i64> =
            returned.iter().map(|r| (r.get::<String, _>("number"), r.get::<i64, _>("id"))).collect();
        let out: Vec<Option<(i64, String)>> = numbers.into_iter().map(|n| n.map(|n| (ids[&n], n))).collect();

        let mut lines = Vec::new();
        let mut changes = Vec::new();
        let mut services = Vec::new();
        for (item, done) in items.iter().zip(&out) {
            let Some((id, _)) = done else { continue };
            for (pos, line) in item.draft.lines.iter().enumerate() {
                lines.push(vec![
                    Val::Int(Some(*id)),
                    Val::Int(Some(pos as i64)),
                    Val::Text(Some(line.category.as_str().into())),
                    Val::Text(Some(line.description.clone())),
                    Val::Text(Some(line.quantity.to_string())),
                    Val::Int(Some(line.unit_price.cents())),
                    Val::Int(line.proration.map(|p| p.days as i64)),
                    Val::Int(line.proration.map(|p| p.days_in_month as i64)),
                    Val::Int(Some(line.amount.cents())),
                ]);
            }
            changes.extend(item.draft.accounted_changes.iter().map(|c| (*c, *id)));
            services.extend(item.draft.service_entries.iter().map(|e| (*e, *id)));
        }
        insert_rows(
            self.conn(),
            "invoice_lines (invoice_id, position, category, description, quantity, unit_price_cents, prorate_days,
               prorate_of_days, amount_cents)",
            "",
            lines,
        )
        .await?;
        for chunk in changes.chunks(5_000) {
            let sql = format!(
                "WITH m(cid, iid) AS (VALUES {})
                 UPDATE count_changes SET accounted_invoice_id = (SELECT iid FROM m WHERE cid = count_changes.id)
                 WHERE id IN (SELECT cid FROM m) AND accounted_invoice_id IS NULL",
                vec!["(?, ?)"; chunk.len()].join(", ")
            );
            let mut q = sqlx::query(&sql);
            for (c, i) in chunk {
                q = q.bind(c).bind(i);
            }
            q.execute(self.conn()).await?;
        }
        for (entry, id) in services {
            let n = sqlx::query("UPDATE service_entries SET invoice_id = ? WHERE id = ? AND invoice_id IS NULL")
                .bind(id)
                .bind(entry)
                .execute(self.conn())
                .await?
                .rows_affected();
            if n != 1 {
                bail!("service entry {entry} was already invoiced");
            }
        }
        for (item, done) in items.iter().zip(&out) {
            let Some((invoice, _)) = done else { continue };
            for take in &item.credit_from {
                sqlx::query(
                    "INSERT INTO allocations (payment_id, invoice_id, amount_cents, created_at) VALUES (?, ?, ?, ?)",
                )
                .bind(take.key)
                .bind(invoice)
                .bind(take.amount.cents())
                .bind(instant(now))
                .execute(self.conn())
                .await?;
            }
        }
        Ok(out)
    }

    /// The account's payments with money not yet applied, oldest received
    /// first (for `domain::payments::spread_credit`).
    pub async fn free_payments(&mut self, account: &AccountId) -> Result<Vec<Open<i64>>> {
        let rows: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT p.id, p.amount_cents - COALESCE((SELECT SUM(amount_cents) FROM allocations WHERE payment_id = p.id), 0)
             FROM payments p WHERE p.account_id = ? ORDER BY p.received_on, p.id",
        )
        .bind(account)
        .fetch_all(self.conn())
        .await?;
        Ok(rows.into_iter().map(|(key, free)| Open { key, left: Money::from_cents(free) }).collect())
    }

    /// What the account owes on its open invoices, after what was applied.
    pub async fn open_balance(&mut self, account: &AccountId) -> Result<Money> {
        let cents: i64 = sqlx::query_scalar(
            "SELECT COALESCE(SUM(i.total_cents - COALESCE((SELECT SUM(amount_cents) FROM allocations WHERE invoice_id = i.id), 0)), 0)
             FROM invoices i WHERE i.account_id = ? AND i.status = 'open'",
        )
        .bind(account)
        .fetch_one(self.conn())
        .await?;
        Ok(Money::from_cents(cents))
    }

    /// Each invoice number with its id and owner, when it exists (for
    /// `domain::payments::named_invoices`).
    pub async fn invoices_named(
        &mut self,
        numbers: &[InvoiceNumber],
    ) -> Result<Vec<(String, Option<(i64, AccountId)>)>> {
        let mut out = Vec::with_capacity(numbers.len());
        for number in numbers {
            let row: Option<(i64, AccountId)> = sqlx::query_as("SELECT id, account_id FROM invoices WHERE number = ?")
                .bind(number.as_str())
                .fetch_optional(self.conn())
                .await?;
            out.push((number.to_string(), row));
        }
        Ok(out)
    }

    /// The account's open invoices with what is owed on each, oldest due
    /// first (for `domain::payments::plan_payment`).
    pub async fn open_invoices(&mut self, account: &AccountId) -> Result<Vec<OpenInvoice<i64>>> {
        let open: Vec<(i64, String, i64)> = sqlx::query_as(
            "SELECT i.id, i.number, i.total_cents - COALESCE((SELECT SUM(amount_cents) FROM allocations WHERE invoice_id = i.id), 0)
             FROM invoices i WHERE i.account_id = ? AND i.status = 'open' ORDER BY i.due_on, i.id",
        )
        .bind(account)
        .fetch_all(self.conn())
        .await?;
        Ok(open
            .into_iter()
            .map(|(key, number, owed)| OpenInvoice { key, number, owed: Money::from_cents(owed) })
            .collect())
    }

    /// Records a payment as `plan` (`domain::payments::plan_payment`) places
    /// it: the payment, each part on an invoice (an invoice it settles is
    /// paid), and the history's words. Returns the payment's id.
    pub async fn record_payment(
        &mut self,
        account: &AccountId,
        p: &NewPayment<'_>,
        plan: &PaymentPlan<i64>,
        now: DateTime<Utc>,
    ) -> Result<i64> {
        let payment_id = sqlx::query(
            "INSERT INTO payments (account_id, amount_cents, currency, method, reference, source, received_on, recorded_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(account)
        .bind(p.amount.cents())
        .bind(p.currency)
        .bind(p.method)
        .bind(p.reference)
        .bind(p.source)
        .bind(p.received_on.to_string())
        .bind(instant(now))
        .execute(self.conn())
        .await?
        .last_insert_rowid();
        for (take, _) in &plan.takes {
            sqlx::query(
                "INSERT INTO allocations (payment_id, invoice_id, amount_cents, created_at) VALUES (?, ?, ?, ?)",
            )
            .bind(payment_id)
            .bind(take.key)
            .bind(take.amount.cents())
            .bind(instant(now))
            .execute(self.conn())
            .await?;
            if take.settles {
                sqlx::query("UPDATE invoices SET status = 'paid' WHERE id = ?")
                    .bind(take.key)
                    .execute(self.conn())
                    .await?;
            }
        }
        self.history(account, now, "payment", &plan.history).await?;
        Ok(payment_id)
    }
}

impl Store {
    /// Invoices newest first, of one account or all; `open_only` for what is owed.
    pub async fn invoices(&self, account: Option<&AccountId>, open_only: bool) -> Result<Vec<InvoiceRecord>> {
        // one statement per shape, so SQLite can use the index on account_id
        let mut conditions = Vec::new();
        if account.is_some() {
            conditions.push("i.account_id = ?");
        }
        if open_only {
            conditions.push("i.status = 'open'");
        }
        let filter = if conditions.is_empty() { String::new() } else { format!("WHERE {}", conditions.join(" AND ")) };
        let sql = format!("{INVOICE_SELECT} {filter} ORDER BY i.issued_on DESC, i.id DESC");
        let mut query = sqlx::query(&sql);
        if let Some(a) = account {
            query = query.bind(a);
        }
        let rows = query.fetch_all(self.pool()).await?;
        rows.iter().map(invoice_from_row).collect()
    }

    pub async fn invoice(&self, number: &str) -> Result<Option<(InvoiceRecord, Vec<Line>)>> {
        let sql = format!("{INVOICE_SELECT} WHERE i.number = ?");
        let Some(r) = sqlx::query(&sql).bind(number).fetch_optional(self.pool()).await? else {
            return Ok(None);
        };
        let inv = invoice_from_row(&r)?;
        let lines = sqlx::query(&format!("{LINE_SELECT} WHERE invoice_id = ? ORDER BY position"))
            .bind(inv.id)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(line_from_row)
            .collect::<Result<_>>()?;
        Ok(Some((inv, lines)))
    }

    /// The invoice with this id (the outbox names invoices by id).
    pub async fn invoice_by_id(&self, id: i64) -> Result<Option<(InvoiceRecord, Vec<Line>)>> {
        let number: Option<String> =
            sqlx::query_scalar("SELECT number FROM invoices WHERE id = ?").bind(id).fetch_optional(self.pool()).await?;
        match number {
            Some(n) => self.invoice(&n).await,
            None => Ok(None),
        }
    }

    /// The engineers' time a service invoice billed, in the order it was recorded.
    pub async fn time_entries(&self, invoice_id: i64) -> Result<Vec<TimeEntry>> {
        sqlx::query(
            "SELECT work_date, engineer, hours, rate_cents, description FROM service_entries
             WHERE invoice_id = ? ORDER BY work_date, id",
        )
        .bind(invoice_id)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|r| {
            let hours = parse_decimal(r.get("hours"))?;
            let rate = Money::from_cents(r.get("rate_cents"));
            Ok(TimeEntry {
                date: parse_date(r.get("work_date"))?,
                engineer: r.get("engineer"),
                // priced like the invoice's own line for it: one rounding rule
                amount: Line::priced(LineCategory::Service, String::new(), hours, rate, None)
                    .map_err(anyhow::Error::msg)?
                    .amount,
                hours,
                rate,
                description: r.get("description"),
            })
        })
        .collect()
    }
}
