//! Invoices, their numbers, payments and what each payment paid.

use anyhow::{Result, bail};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use sqlx::Row;

use super::{Store, Tx, instant, parse_date, parse_decimal};
use crate::config::NumberFormat;
use crate::domain::{Draft, InvoiceKind, Line, Money, Proration, UserType};

/// An invoice as stored, with what is still owed on it.
#[derive(Clone, Debug)]
pub struct InvoiceRecord {
    pub id: i64,
    pub number: String,
    pub account: String,
    pub account_name: String,
    pub kind: InvoiceKind,
    pub period: String,
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
}

#[derive(Clone, Debug)]
pub struct PaymentOutcome {
    pub payment_id: i64,
    pub applied: Vec<(String, Money)>,
    pub credit: Money,
}

const INVOICE_SELECT: &str = "
    SELECT i.id, i.number, i.account_id, a.name AS account_name, i.kind, i.period, i.issued_on, i.due_on,
           i.currency, i.total_cents, i.credit_applied_cents, i.status, i.full_time_users, i.part_time_users,
           i.tier_label, i.named_users, COALESCE((SELECT SUM(amount_cents) FROM allocations WHERE invoice_id = i.id), 0) AS allocated
    FROM invoices i JOIN accounts a ON a.id = i.account_id";

fn invoice_from_row(r: &sqlx::sqlite::SqliteRow) -> Result<InvoiceRecord> {
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
        period: r.get("period"),
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
    })
}

impl Tx {
    /// Numbers and stores an issued draft, marks what it accounts for, and
    /// applies account credit to it. `None` when the account already has an
    /// invoice of this kind for this period (nothing is written).
    #[allow(clippy::too_many_arguments)]
    pub async fn insert_invoice(
        &mut self,
        account: &str,
        draft: &Draft,
        currency: &str,
        tier_label: Option<&str>,
        users: &[(String, UserType)],
        format: &NumberFormat,
        now: DateTime<Utc>,
    ) -> Result<Option<(i64, String)>> {
        let exists: Option<i64> =
            sqlx::query_scalar("SELECT id FROM invoices WHERE account_id = ? AND kind = ? AND period = ?")
                .bind(account)
                .bind(draft.kind.as_str())
                .bind(&draft.period)
                .fetch_optional(self.conn())
                .await?;
        if exists.is_some() {
            return Ok(None);
        }
        let year = draft.issued_on.year();
        let seq: i64 = sqlx::query_scalar(
            "INSERT INTO invoice_sequences (year, last) VALUES (?, 1)
             ON CONFLICT (year) DO UPDATE SET last = last + 1 RETURNING last",
        )
        .bind(year)
        .fetch_one(self.conn())
        .await?;
        let number = format.format(year, seq);
        let status = if draft.amount_due() == Money::ZERO { "paid" } else { "open" };
        let id = sqlx::query(
            "INSERT INTO invoices (number, account_id, kind, period, issued_on, due_on, currency, total_cents,
               credit_applied_cents, full_time_users, part_time_users, tier_label, named_users, status, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&number)
        .bind(account)
        .bind(draft.kind.as_str())
        .bind(&draft.period)
        .bind(draft.issued_on.to_string())
        .bind(draft.due_on.to_string())
        .bind(currency)
        .bind(draft.total.cents())
        .bind(draft.credit_applied.cents())
        .bind(draft.counts.map(|c| c.full_time))
        .bind(draft.counts.map(|c| c.part_time))
        .bind(tier_label)
        .bind(users.iter().map(|(n, t)| format!("{n}\t{}\n", t.as_str())).collect::<String>())
        .bind(status)
        .bind(instant(now))
        .execute(self.conn())
        .await?
        .last_insert_rowid();
        for (pos, line) in draft.lines.iter().enumerate() {
            sqlx::query(
                "INSERT INTO invoice_lines (invoice_id, position, description, quantity, unit_price_cents,
                   prorate_days, prorate_of_days, amount_cents) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(id)
            .bind(pos as i64)
            .bind(&line.description)
            .bind(line.quantity.to_string())
            .bind(line.unit_price.cents())
            .bind(line.proration.map(|p| p.days as i64))
            .bind(line.proration.map(|p| p.days_in_month as i64))
            .bind(line.amount.cents())
            .execute(self.conn())
            .await?;
        }
        for change in &draft.accounted_changes {
            sqlx::query(
                "UPDATE count_changes SET accounted_invoice_id = ? WHERE id = ? AND accounted_invoice_id IS NULL",
            )
            .bind(id)
            .bind(change)
            .execute(self.conn())
            .await?;
        }
        for entry in &draft.service_entries {
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
        if draft.credit_applied.is_positive() {
            self.allocate_credit(account, id, draft.credit_applied, now).await?;
        }
        Ok(Some((id, number)))
    }

    /// Applies unapplied payment money (oldest first) to an invoice.
    async fn allocate_credit(&mut self, account: &str, invoice: i64, amount: Money, now: DateTime<Utc>) -> Result<()> {
        let open: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT p.id, p.amount_cents - COALESCE((SELECT SUM(amount_cents) FROM allocations WHERE payment_id = p.id), 0)
             FROM payments p WHERE p.account_id = ? ORDER BY p.received_on, p.id",
        )
        .bind(account)
        .fetch_all(self.conn())
        .await?;
        let mut left = amount.cents();
        for (payment, free) in open {
            if left == 0 {
                break;
            }
            let take = free.min(left);
            if take <= 0 {
                continue;
            }
            sqlx::query(
                "INSERT INTO allocations (payment_id, invoice_id, amount_cents, created_at) VALUES (?, ?, ?, ?)",
            )
            .bind(payment)
            .bind(invoice)
            .bind(take)
            .bind(instant(now))
            .execute(self.conn())
            .await?;
            left -= take;
        }
        if left != 0 {
            bail!("account {account} has less credit than the {amount} being applied");
        }
        Ok(())
    }

    /// Records a payment and applies it: the named invoices first, then the
    /// oldest open ones; what is left is credit on the account.
    #[allow(clippy::too_many_arguments)]
    pub async fn record_payment(
        &mut self,
        account: &str,
        amount: Money,
        currency: &str,
        method: &str,
        reference: Option<&str>,
        source: &str,
        received_on: NaiveDate,
        invoices: &[String],
        now: DateTime<Utc>,
    ) -> Result<PaymentOutcome> {
        if !self.account_exists(account).await? {
            bail!("no account {account:?}");
        }
        let mut named = Vec::new();
        for number in invoices {
            let row: Option<(i64, String)> = sqlx::query_as("SELECT id, account_id FROM invoices WHERE number = ?")
                .bind(number)
                .fetch_optional(self.conn())
                .await?;
            match row {
                None => bail!("no invoice {number}"),
                Some((_, a)) if a != account => bail!("invoice {number} belongs to account {a}, not {account}"),
                Some((id, _)) => named.push(id),
            }
        }
        let payment_id = sqlx::query(
            "INSERT INTO payments (account_id, amount_cents, currency, method, reference, source, received_on, recorded_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(account)
        .bind(amount.cents())
        .bind(currency)
        .bind(method)
        .bind(reference)
        .bind(source)
        .bind(received_on.to_string())
        .bind(instant(now))
        .execute(self.conn())
        .await?
        .last_insert_rowid();
        let open: Vec<(i64, String, i64)> = sqlx::query_as(
            "SELECT i.id, i.number, i.total_cents - COALESCE((SELECT SUM(amount_cents) FROM allocations WHERE invoice_id = i.id), 0)
             FROM invoices i WHERE i.account_id = ? AND i.status = 'open' ORDER BY i.due_on, i.id",
        )
        .bind(account)
        .fetch_all(self.conn())
        .await?;
        let mut order: Vec<&(i64, String, i64)> =
            named.iter().filter_map(|id| open.iter().find(|o| o.0 == *id)).collect();
        order.extend(open.iter().filter(|o| !named.contains(&o.0)));
        let mut left = amount.cents();
        let mut applied = Vec::new();
        for (id, number, owed) in order {
            if left == 0 {
                break;
            }
            let take = (*owed).min(left);
            if take <= 0 {
                continue;
            }
            sqlx::query(
                "INSERT INTO allocations (payment_id, invoice_id, amount_cents, created_at) VALUES (?, ?, ?, ?)",
            )
            .bind(payment_id)
            .bind(id)
            .bind(take)
            .bind(instant(now))
            .execute(self.conn())
            .await?;
            if take == *owed {
                sqlx::query("UPDATE invoices SET status = 'paid' WHERE id = ?").bind(id).execute(self.conn()).await?;
            }
            left -= take;
            applied.push((number.clone(), Money::from_cents(take)));
        }
        let mut detail = format!("payment {amount} {currency} by {method}");
        if let Some(r) = reference {
            detail.push_str(&format!(", reference {r}"));
        }
        detail.push_str(&format!(" ({source}, received {received_on})"));
        for (n, a) in &applied {
            detail.push_str(&format!("; {a} to {n}"));
        }
        if left > 0 {
            detail.push_str(&format!("; {} kept as credit", Money::from_cents(left)));
        }
        self.history(account, now, "payment", &detail).await?;
        Ok(PaymentOutcome { payment_id, applied, credit: Money::from_cents(left) })
    }
}

impl Store {
    /// Invoices newest first, of one account or all; `open_only` for what is owed.
    pub async fn invoices(&self, account: Option<&str>, open_only: bool) -> Result<Vec<InvoiceRecord>> {
        let sql = format!(
            "{INVOICE_SELECT} WHERE (?1 IS NULL OR i.account_id = ?1) AND (?2 = 0 OR i.status = 'open')
             ORDER BY i.issued_on DESC, i.id DESC"
        );
        let rows = sqlx::query(&sql).bind(account).bind(open_only as i64).fetch_all(self.pool()).await?;
        rows.iter().map(invoice_from_row).collect()
    }

    pub async fn invoice(&self, number: &str) -> Result<Option<(InvoiceRecord, Vec<Line>)>> {
        let sql = format!("{INVOICE_SELECT} WHERE i.number = ?");
        let Some(r) = sqlx::query(&sql).bind(number).fetch_optional(self.pool()).await? else {
            return Ok(None);
        };
        let inv = invoice_from_row(&r)?;
        let lines = sqlx::query(
            "SELECT description, quantity, unit_price_cents, prorate_days, prorate_of_days, amount_cents
             FROM invoice_lines WHERE invoice_id = ? ORDER BY position",
        )
        .bind(inv.id)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|l| {
            Ok(Line {
                description: l.get("description"),
                quantity: parse_decimal(l.get("quantity"))?,
                unit_price: Money::from_cents(l.get("unit_price_cents")),
                proration: match (l.get::<Option<i64>, _>("prorate_days"), l.get::<Option<i64>, _>("prorate_of_days")) {
                    (Some(d), Some(of)) => Some(Proration { days: d as u32, days_in_month: of as u32 }),
                    _ => None,
                },
                amount: Money::from_cents(l.get("amount_cents")),
            })
        })
        .collect::<Result<_>>()?;
        Ok(Some((inv, lines)))
    }
}
