//! Billing: everything due at a moment, built in memory by the pure
//! calendar and invoice builders, then each batch (invoices, numbers and
//! their outgoing mail) committed in one transaction.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};

use super::relayed_reason;
use crate::config::Config;
use crate::domain::calendar::local_time;
use crate::domain::payments::{Open, spread_credit};
use crate::domain::{AccountId, Book, Draft, InvoiceKind, Job, Money, NoticeKind, build, due_jobs};
use crate::render::{InvoiceDoc, Renderer, message_id};
use crate::store::{IssueItem, NewMail, Store};

/// An invoice issued by a cycle.
#[derive(Clone, Debug)]
pub struct IssuedInvoice {
    pub number: String,
    pub account: AccountId,
    pub kind: &'static str,
    pub period: String,
    pub total: Money,
    pub amount_due: Money,
    pub due: chrono::NaiveDate,
    pub to: Vec<String>,
}

/// How many invoices are written per transaction.
const BATCH: usize = 500;

/// What `plan` built, and the accounts it could not bill.
pub struct Planned {
    pub drafts: Vec<(usize, Job, Draft)>,
    /// (account, why): nothing of that account is issued this cycle.
    pub failed: Vec<(String, String)>,
}

/// Everything due for every account at `now`, built in memory. An account
/// whose invoice cannot be priced (an amount out of range) is left out whole
/// and named; the others are billed.
pub fn plan(config: &Config, books: &mut [Book], now: DateTime<Utc>) -> Planned {
    let local = local_time(&now, config.company.timezone);
    let schedule = &config.schedule;
    let mut drafts = Vec::new();
    let mut failed = Vec::new();
    for (i, book) in books.iter_mut().enumerate() {
        let mut mine = Vec::new();
        for job in due_jobs(local, schedule, book) {
            match build(job, schedule, book, local.date()) {
                Ok(Some(draft)) => {
                    book.apply(&draft);
                    mine.push((i, job, draft));
                }
                Ok(None) => {}
                Err(why) => {
                    failed.push((book.account.id.to_string(), why));
                    mine.clear();
                    break;
                }
            }
        }
        drafts.extend(mine);
    }
    // numbers follow the schedule, then the account
    drafts.sort_by(|a, b| {
        (schedule.scheduled_date(a.1), &books[a.0].account.id, a.1).cmp(&(
            schedule.scheduled_date(b.1),
            &books[b.0].account.id,
            b.1,
        ))
    });
    Planned { drafts, failed }
}

/// Issues every invoice due at `now`. Running it again for the same moment
/// issues nothing: the calendar sees what was done, and the database's
/// unique key on (account, kind, period) refuses a duplicate.
pub async fn run_billing(
    config: &Config,
    store: &Store,
    renderer: &Renderer,
    now: DateTime<Utc>,
    catch_up: bool,
) -> Result<Vec<IssuedInvoice>> {
    let mut books = store.load_books(&config.tiers).await.context("loading accounts")?;
    if !catch_up && let Some(why) = long_catch_up(config, &books, now) {
        return Err(FarBehind(why).into());
    }
    let Planned { drafts, failed } = plan(config, &mut books, now);
    for (account, why) in &failed {
        tracing::error!(%account, %why, "not billed");
        store.record_event(crate::store::Event::Error, now, &format!("{account} not billed: {why}")).await;
    }
    let mut issued = Vec::new();
    for chunk in drafts.chunks(BATCH) {
        let mut items: Vec<IssueItem> = chunk
            .iter()
            .map(|(i, _, draft)| {
                let book = &books[*i];
                let agreement = draft.kind == InvoiceKind::Agreement;
                IssueItem {
                    account: &book.account.id,
                    draft,
                    tier_label: agreement.then_some(book.account.tier_label.as_str()),
                    users: if agreement { &book.users } else { &[] },
                    credit_from: vec![],
                }
            })
            .collect();
        let mut tx = store.begin().await?;
        // which payments' unapplied money pays each draft's credit (pure:
        // domain::payments::spread_credit); an account's later draft in the
        // batch takes what its earlier ones left
        let mut free: HashMap<AccountId, Vec<Open<i64>>> = HashMap::new();
        for item in &mut items {
            if !item.draft.credit_applied.is_positive() {
                continue;
            }
            let payments = match free.entry(item.account.clone()) {
                Entry::Occupied(o) => o.into_mut(),
                Entry::Vacant(v) => v.insert(tx.free_payments(item.account).await?),
            };
            item.credit_from = spread_credit(item.account, item.draft.credit_applied, payments)?;
        }
        let stored = tx
            .insert_invoices(&items, &config.company.currency, &config.company.invoice_number_format, now)
            .await
            .context("storing invoices")?;
        let mut mails = Vec::new();
        let mut batch = Vec::new();
        for ((item, done), (i, _, _)) in items.iter().zip(stored).zip(chunk) {
            let Some((invoice_id, number)) = done else { continue };
            let book = &books[*i];
            let (mail, out) = invoice_mail(config, renderer, book, item, invoice_id, number, now)?;
            mails.push(mail);
            batch.push(out);
        }
        tx.queue_mails(&mails, now).await.context("queueing invoices")?;
        for (mail, (item, (i, _, _))) in mails.iter().zip(items.iter().zip(chunk)) {
            if books[*i].account.billing_emails.is_empty() {
                let outbox = tx.outbox_id(&mail.message_id).await?;
                let why = relayed_reason(config, item.account, NoticeKind::Invoice);
                tx.insert_notice_review(outbox, "invoice", &mail.subject, &[why], now).await?;
                tx.history(item.account, now, "notice", &format!("{} sent to accounting to pass on", mail.subject))
                    .await?;
            }
        }
        tx.commit().await?;
        issued.extend(batch);
    }
    Ok(issued)
}

/// Billing refused because invoices are scheduled more than
/// [`CATCH_UP_DAYS`] back: a clock set far ahead, or a long outage. Nothing
/// scheduled runs on such a clock until a person asks (`--catch-up`).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct FarBehind(pub String);

/// How far back a cycle issues invoices on its own; further needs `--catch-up`.
pub const CATCH_UP_DAYS: i64 = 62;

/// Why this cycle would issue invoices scheduled more than
/// [`CATCH_UP_DAYS`] back (`--now` far ahead, or a long outage): a person
/// must ask for that with `--catch-up`.
fn long_catch_up(config: &Config, books: &[Book], now: DateTime<Utc>) -> Option<String> {
    let local = local_time(&now, config.company.timezone);
    let limit = local.date() - chrono::Duration::days(CATCH_UP_DAYS);
    let (count, oldest) = books
        .iter()
        .flat_map(|b| due_jobs(local, &config.schedule, b))
        .map(|job| config.schedule.scheduled_date(job))
        .filter(|d| *d < limit)
        .fold((0usize, None::<chrono::NaiveDate>), |(n, o), d| (n + 1, Some(o.map_or(d, |o| o.min(d)))));
    oldest.map(|o| {
        format!(
            "{count} invoice(s) are scheduled more than {CATCH_UP_DAYS} days back (the oldest on {o}): \
             nothing was issued; if billmail was really down that long, run `billmail tick --catch-up`"
        )
    })
}

/// Renders an issued invoice into the message that carries it.
fn invoice_mail(
    config: &Config,
    renderer: &Renderer,
    book: &Book,
    item: &IssueItem,
    invoice_id: i64,
    number: String,
    now: DateTime<Utc>,
) -> Result<(NewMail, IssuedInvoice)> {
    let acct = &book.account;
    let draft = item.draft;
    let doc = InvoiceDoc {
        number: number.clone(),
        account_id: acct.id.clone(),
        account_name: acct.name.clone(),
        kind: draft.kind,
        period: draft.period,
        issued: draft.issued_on,
        due: draft.due_on,
        currency: config.company.currency.clone(),
        lines: draft.lines.clone(),
        total: draft.total,
        credit_applied: draft.credit_applied,
        counts: draft.counts,
        tier_label: item.tier_label.map(String::from),
        users: item.users.to_vec(),
        // what only the PDF shows; it is made from the stored invoice when the email is sent
        customer_address: vec![],
        paid: crate::domain::Money::ZERO,
        time_entries: vec![],
    };
    let rendered = renderer.invoice(&config.company, &doc)?;
    let mut to: Vec<String> = acct.billing_emails.iter().map(|e| e.to_string()).collect();
    if to.is_empty() {
        // every billing address bounced: a person must forward it
        to.push(config.company.accounting_address.to_string());
    }
    let mail = NewMail {
        kind: NoticeKind::Invoice.as_str().into(),
        account: Some(acct.id.clone()),
        invoice_id: Some(invoice_id),
        to: to.clone(),
        cc: vec![],
        subject: rendered.subject,
        text: rendered.text,
        html: rendered.html,
        message_id: message_id(config, &format!("invoice.{}", number.to_ascii_lowercase()), now),
        in_reply_to: None,
        references: None,
    };
    let out = IssuedInvoice {
        number,
        account: acct.id.clone(),
        kind: draft.kind.as_str(),
        period: draft.period.to_string(),
        total: draft.total,
        amount_due: draft.amount_due(),
        due: draft.due_on,
        to,
    };
    Ok((mail, out))
}
