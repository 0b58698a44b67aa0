//! What a person does by hand, the same for the command line and the web
//! console: record a payment, queue a failed message again. Looked up and
//! written here; decided in `domain` (`plan_payment`, `manual::retry`).

use anyhow::{Result, bail};
use chrono::{DateTime, NaiveDate, Utc};

use crate::config::Config;
use crate::domain::payments::{NewPayment, PaymentPlan, named_invoices, plan_payment};
use crate::domain::{AccountId, InvoiceNumber, Money};
use crate::store::Store;

/// A payment entered by a person.
pub struct HandPayment<'a> {
    pub amount: Money,
    /// `ach`, `wire`, `check`, `card` or `unknown`.
    pub method: &'a str,
    pub reference: Option<&'a str>,
    /// The invoices it pays, first (else the oldest open ones).
    pub invoices: &'a [InvoiceNumber],
    pub received_on: NaiveDate,
    /// Who entered it (`cli`, or a console user), for the history.
    pub by: &'a str,
}

pub const METHODS: [&str; 5] = ["ach", "wire", "check", "card", "unknown"];

/// Records the payment on the account; gives its id and where it went.
pub async fn record_payment(
    store: &Store,
    config: &Config,
    account: &AccountId,
    p: &HandPayment<'_>,
    now: DateTime<Utc>,
) -> Result<(i64, PaymentPlan<i64>)> {
    if !p.amount.is_positive() {
        bail!("the amount must be more than 0");
    }
    if !METHODS.contains(&p.method) {
        bail!("the method {:?} is not one of {}", p.method, METHODS.join(", "));
    }
    let mut tx = store.begin().await?;
    let named = named_invoices(account, &tx.invoices_named(p.invoices).await?)?;
    let payment = NewPayment {
        amount: p.amount,
        currency: &config.company.currency,
        method: p.method,
        reference: p.reference,
        source: "manual",
        received_on: p.received_on,
    };
    let plan = plan_payment(&payment, &named, &tx.open_invoices(account).await?);
    let id = tx.record_payment(account, &payment, &plan, now).await?;
    if p.by != "cli" {
        tx.history(account, now, "payment", &format!("payment #{id} entered by {}", p.by)).await?;
    }
    tx.commit().await?;
    Ok((id, plan))
}

/// Queues a failed outgoing message again; gives how many attempts it had had.
pub async fn retry_mail(store: &Store, id: i64, now: DateTime<Utc>) -> Result<i64> {
    let was = crate::domain::manual::retry(id, store.outgoing(id).await?)?;
    store.requeue_mail(id, &was, now).await?;
    Ok(was.attempts)
}
