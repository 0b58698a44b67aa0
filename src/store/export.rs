//! What an export reads (`export::Batch`) and records (what each format has
//! written), and voiding an invoice.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use anyhow::{Result, bail};
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::Row;

use super::invoices::{INVOICE_SELECT, InvoiceRecord, LINE_SELECT, invoice_from_row, line_from_row};
use super::{Store, Tx, instant, parse_date};
use crate::domain::import::PostalAddress;
use crate::domain::{AccountId, InvoiceKind, Line, Money, Period};
use crate::export::{Batch, Customer, Invoice, Payment, Void};

/// Which documents an export takes: those dated in a range (whether
/// exported before or not), or those the format has not had yet.
#[derive(Clone, Copy, Debug)]
pub enum Scope {
    Range(NaiveDate, NaiveDate),
    SinceLast,
}

/// The documents of a batch, to record once its files are written.
#[derive(Clone, Debug, Default)]
pub struct Written {
    keys: Vec<(&'static str, String)>,
}

impl Written {
    pub fn len(&self, document: &str) -> usize {
        self.keys.iter().filter(|(d, _)| *d == document).count()
    }
}

/// `WHERE` for documents of `document` dated by `date_column`, in `scope`,
/// for `format`; the key column is `key`. Binds: from, to, format.
fn condition(document: &str, date_column: &str, key: &str) -> String {
    format!(
        "(?1 IS NULL OR {date_column} >= ?1) AND (?2 IS NULL OR {date_column} <= ?2)
         AND (?1 IS NOT NULL OR NOT EXISTS (SELECT 1 FROM exported e
              WHERE e.format = ?3 AND e.document = '{document}' AND e.document_key = CAST({key} AS TEXT)))"
    )
}

fn bounds(scope: Scope) -> (Option<String>, Option<String>) {
    match scope {
        Scope::Range(from, to) => (Some(from.to_string()), Some(to.to_string())),
        Scope::SinceLast => (None, None),
    }
}

/// What an invoice is for, in the books' memo.
fn memo(i: &InvoiceRecord) -> String {
    let what = match (i.kind, i.period) {
        (InvoiceKind::Agreement, Period::Month(m)) => {
            format!("{}, {}", i.tier_label.as_deref().unwrap_or("Agreement"), m.label())
        }
        (InvoiceKind::Recurring, Period::Month(m)) => format!("Subscriptions, {}", m.label()),
        (_, p) => format!("Service work to {p}"),
    };
    if i.credit_applied.is_positive() {
        format!("{what}; {} of account credit applied", i.credit_applied)
    } else {
        what
    }
}

impl Store {
    /// The documents `format` exports for `scope`, and what to record once
    /// they are written.
    pub async fn export_batch(&self, format: &str, scope: Scope) -> Result<(Batch, Written)> {
        let (from, to) = bounds(scope);
        let names = self.books_names().await?;
        let name = |id: &str| names.get(id).cloned().unwrap_or_else(|| id.to_string());
        let mut written = Written::default();

        let invoice_rows = |cond: String, order: &str| format!("{INVOICE_SELECT} WHERE {cond} ORDER BY {order}, i.id");
        let issued = sqlx::query(&invoice_rows(condition("invoice", "i.issued_on", "i.id"), "i.issued_on"))
            .bind(&from)
            .bind(&to)
            .bind(format)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(invoice_from_row)
            .collect::<Result<Vec<_>>>()?;
        let voided_rows: Vec<(i64, Option<String>, Option<String>)> = sqlx::query_as(&format!(
            "SELECT i.id, i.voided_on, i.void_reason FROM invoices i
             WHERE i.status = 'void' AND {} ORDER BY i.voided_on, i.id",
            condition("void", "i.voided_on", "i.id")
        ))
        .bind(&from)
        .bind(&to)
        .bind(format)
        .fetch_all(self.pool())
        .await?;
        let mut voided = Vec::new();
        for (id, on, reason) in voided_rows {
            let r = sqlx::query(&format!("{INVOICE_SELECT} WHERE i.id = ?")).bind(id).fetch_one(self.pool()).await?;
            let i = invoice_from_row(&r)?;
            let Some(on) = on else { bail!("invoice {} is void without a date", i.number) };
            voided.push((i, parse_date(&on)?, reason.unwrap_or_default()));
        }
        let ids: Vec<i64> = issued
            .iter()
            .map(|i| i.id)
            .chain(voided.iter().map(|v| v.0.id))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let lines = self.lines_of(&ids).await?;
        let doc = |i: &InvoiceRecord| Invoice {
            number: i.number.clone(),
            customer: name(i.account.as_str()),
            issued: i.issued,
            due: i.due,
            memo: memo(i),
            lines: lines.get(&i.id).cloned().unwrap_or_default(),
            total: i.total,
        };
        let mut batch = Batch::default();
        for i in &issued {
            batch.invoices.push(doc(i));
            written.keys.push(("invoice", i.id.to_string()));
        }
        for (i, on, reason) in &voided {
            batch.voids.push(Void { invoice: doc(i), voided_on: *on, reason: reason.clone() });
            written.keys.push(("void", i.id.to_string()));
        }

        let payments = sqlx::query(&format!(
            "SELECT p.id, p.account_id, p.received_on, p.amount_cents, p.method, p.reference FROM payments p
             WHERE {} ORDER BY p.received_on, p.id",
            condition("payment", "p.received_on", "p.id")
        ))
        .bind(&from)
        .bind(&to)
        .bind(format)
        .fetch_all(self.pool())
        .await?;
        let mut accounts: BTreeSet<String> =
            issued.iter().chain(voided.iter().map(|v| &v.0)).map(|i| i.account.to_string()).collect();
        for p in &payments {
            let id: i64 = p.get("id");
            let account: String = p.get("account_id");
            let applied: Vec<(String, i64)> = sqlx::query_as(
                "SELECT i.number, a.amount_cents FROM allocations a JOIN invoices i ON i.id = a.invoice_id
                 WHERE a.payment_id = ? ORDER BY a.id",
            )
            .bind(id)
            .fetch_all(self.pool())
            .await?;
            batch.payments.push(Payment {
                id,
                customer: name(&account),
                received: parse_date(p.get("received_on"))?,
                amount: Money::from_cents(p.get("amount_cents")),
                method: p.get("method"),
                reference: p.get("reference"),
                applied: applied.into_iter().map(|(n, c)| (n, Money::from_cents(c))).collect(),
            });
            written.keys.push(("payment", id.to_string()));
            accounts.insert(account);
        }

        // customers the format has not been given yet
        for account in accounts {
            let known: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM exported WHERE format = ? AND document = 'customer' AND document_key = ?)",
            )
            .bind(format)
            .bind(&account)
            .fetch_one(self.pool())
            .await?;
            if known {
                continue;
            }
            let row = sqlx::query(
                "SELECT a.id, a.address_line1, a.address_line2, a.city, a.state, a.postal_code, a.country,
                        (SELECT email FROM contacts c WHERE c.account_id = a.id AND c.role = 'billing'
                         ORDER BY c.position LIMIT 1) AS email
                 FROM accounts a WHERE a.id = ?",
            )
            .bind(&account)
            .fetch_one(self.pool())
            .await?;
            batch.customers.push(Customer {
                id: account.clone(),
                name: name(&account),
                email: row.get("email"),
                address: <PostalAddress as sqlx::FromRow<_>>::from_row(&row)?,
            });
            written.keys.push(("customer", account));
        }
        Ok((batch, written))
    }

    /// Each account's name as the books show it: its name, or "name (ID)"
    /// where another account has the same name (the books key customers
    /// by name).
    async fn books_names(&self) -> Result<HashMap<String, String>> {
        let all: Vec<(String, String)> = sqlx::query_as("SELECT id, name FROM accounts").fetch_all(self.pool()).await?;
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for (_, n) in &all {
            *seen.entry(n.trim().to_lowercase()).or_default() += 1;
        }
        Ok(all
            .into_iter()
            .map(|(id, n)| {
                let shown = if seen[&n.trim().to_lowercase()] > 1 {
                    format!("{} ({id})", n.trim())
                } else {
                    n.trim().to_string()
                };
                (id, shown)
            })
            .collect())
    }

    /// The lines of these invoices, in order, by invoice id.
    async fn lines_of(&self, ids: &[i64]) -> Result<HashMap<i64, Vec<Line>>> {
        let mut out: HashMap<i64, Vec<Line>> = HashMap::new();
        for chunk in ids.chunks(500) {
            let sql = format!(
                "{LINE_SELECT} WHERE invoice_id IN ({}) ORDER BY invoice_id, position",
                vec!["?"; chunk.len()].join(", ")
            );
            let mut q = sqlx::query(&sql);
            for id in chunk {
                q = q.bind(id);
            }
            for r in q.fetch_all(self.pool()).await? {
                out.entry(r.get("invoice_id")).or_default().push(line_from_row(&r)?);
            }
        }
        Ok(out)
    }

    /// Records that `format` has written these documents.
    pub async fn record_exported(&self, format: &str, written: &Written, now: DateTime<Utc>) -> Result<()> {
        let mut tx = self.begin().await?;
        for (document, key) in &written.keys {
            sqlx::query(
                "INSERT INTO exported (format, document, document_key, exported_at) VALUES (?, ?, ?, ?)
                 ON CONFLICT DO NOTHING",
            )
            .bind(format)
            .bind(document)
            .bind(key)
            .bind(instant(now))
            .execute(tx.conn())
            .await?;
        }
        tx.commit().await
    }
}

/// What voiding an invoice did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Voided {
    pub number: String,
    pub account: String,
    pub total: Money,
    /// (payment id, amount) of each part of a payment that had been applied
    /// to the invoice and is now unapplied: credit on the account.
    pub released: Vec<(i64, Money)>,
}

impl Tx {
    /// Voids the invoice `number` on `today` for `reason`: it is owed no
    /// more, and what payments and credit had paid on it goes back to the
    /// account as credit. An invoice already void is refused.
    pub async fn void_invoice(
        &mut self,
        number: &str,
        reason: &str,
        today: NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<Voided> {
        let row: Option<(i64, String, AccountId, i64, String)> = sqlx::query_as(
            "SELECT id, number, account_id, total_cents, status FROM invoices WHERE number = ? COLLATE NOCASE",
        )
        .bind(number)
        .fetch_optional(self.conn())
        .await?;
        let Some((id, number, account, total, status)) = row else { bail!("no invoice {number:?}") };
        if status == "void" {
            bail!("{number} is already void");
        }
        let released: Vec<(i64, i64)> =
            sqlx::query_as("SELECT payment_id, amount_cents FROM allocations WHERE invoice_id = ? ORDER BY id")
                .bind(id)
                .fetch_all(self.conn())
                .await?;
        sqlx::query("DELETE FROM allocations WHERE invoice_id = ?").bind(id).execute(self.conn()).await?;
        sqlx::query(
            "UPDATE invoices SET status = 'void', credit_applied_cents = 0, voided_on = ?, void_reason = ? WHERE id = ?",
        )
        .bind(today.to_string())
        .bind(reason)
        .bind(id)
        .execute(self.conn())
        .await?;
        let released: Vec<(i64, Money)> = released.into_iter().map(|(p, c)| (p, Money::from_cents(c))).collect();
        let back: Money = released.iter().map(|(_, m)| *m).sum();
        let mut detail = format!("{number} ({}) voided: {reason}", Money::from_cents(total));
        if back.is_positive() {
            detail.push_str(&format!("; {back} paid on it kept as credit"));
        }
        self.history(&account, now, "invoice_void", &detail).await?;
        Ok(Voided { number, account: account.to_string(), total: Money::from_cents(total), released })
    }
}
