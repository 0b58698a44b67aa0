//! One cycle of scheduled work: load the books, ask the pure calendar what
//! is due, build the invoices, and commit each batch (invoices, numbers and
//! their outgoing mail) in one transaction.

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::domain::calendar::local_time;
use crate::domain::{Book, Draft, InvoiceKind, Job, Money, build, due_jobs};
use crate::render::{InvoiceDoc, Renderer};
use crate::store::{IssueItem, NewMail, Store};

/// An invoice issued by a cycle.
#[derive(Clone, Debug)]
pub struct IssuedInvoice {
    pub number: String,
    pub account: String,
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
        bail!("{why}");
    }
    let Planned { drafts, failed } = plan(config, &mut books, now);
    for (account, why) in &failed {
        tracing::error!(%account, %why, "not billed");
        store.record_event(crate::store::Event::Error, now, &format!("{account} not billed: {why}")).await;
    }
    let mut issued = Vec::new();
    for chunk in drafts.chunks(BATCH) {
        let items: Vec<IssueItem> = chunk
            .iter()
            .map(|(i, _, draft)| {
                let book = &books[*i];
                let agreement = draft.kind == InvoiceKind::Agreement;
                IssueItem {
                    account: book.account.id.as_str(),
                    draft,
                    tier_label: agreement.then_some(book.account.tier_label.as_str()),
                    users: if agreement { &book.users } else { &[] },
                }
            })
            .collect();
        let mut tx = store.begin().await?;
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
                let why = relayed_reason(config, item.account, "invoice");
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

/// How far back a cycle issues invoices on its own; further needs `--catch-up`.
pub const CATCH_UP_DAYS: i64 = 62;

/// Why scheduled work may not run at `now`: a moment before the last
/// cycle's (a clock set back, or a `--now` in the past) would undo what was
/// done and do it again (holds released and re-imposed). None: it may run.
pub async fn clock_went_back(store: &Store, now: DateTime<Utc>) -> Result<Option<String>> {
    Ok(store.last_cycle_at().await?.filter(|last| *last > now).map(|last| {
        format!(
            "the clock ({}) is before the last cycle ({}): nothing scheduled runs until it is past that moment",
            crate::store::instant(now),
            crate::store::instant(last)
        )
    }))
}

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

/// Why one of billmail's own messages waits for a person.
fn relayed_reason(config: &Config, account: &str, kind: &str) -> String {
    format!(
        "every billing address of {account} bounced: this {} went to {} to pass on; once the customer has a working address, `accounts contacts {account} --restore ADDRESS`",
        kind.replace('_', " "),
        config.company.accounting_address
    )
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
        account_id: acct.id.to_string(),
        account_name: acct.name.clone(),
        kind: draft.kind,
        period: draft.period.clone(),
        issued: draft.issued_on,
        due: draft.due_on,
        currency: config.company.currency.clone(),
        lines: draft.lines.clone(),
        total: draft.total,
        credit_applied: draft.credit_applied,
        counts: draft.counts,
        tier_label: item.tier_label.map(String::from),
        users: item.users.to_vec(),
    };
    let rendered = renderer.invoice(&config.company, &doc)?;
    let mut to: Vec<String> = acct.billing_emails.iter().map(|e| e.to_string()).collect();
    if to.is_empty() {
        // every billing address bounced: a person must forward it
        to.push(config.company.accounting_address.to_string());
    }
    let mail = NewMail {
        kind: "invoice".into(),
        account: Some(acct.id.to_string()),
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
        account: acct.id.to_string(),
        kind: draft.kind.as_str(),
        period: draft.period.clone(),
        total: draft.total,
        amount_due: draft.amount_due(),
        due: draft.due_on,
        to,
    };
    Ok((mail, out))
}

/// A Message-ID on the company's domain, unique per message.
/// A Message-ID of ours. Its random part makes it unguessable: a delivery
/// failure report counts only when it names a message billmail sent, so no
/// one may name one without having seen it.
pub fn message_id(config: &Config, local_part: &str, now: DateTime<Utc>) -> String {
    let nonce = getrandom::u64().expect("the system's random source");
    format!("<{local_part}.{}.{nonce:016x}@{}>", now.timestamp(), config.company.mail_domain())
}

/// Attempts after which a message that keeps failing temporarily is marked failed.
pub const MAX_ATTEMPTS: i64 = 10;

/// Wait before the next try after `attempt` temporary failures: 1, 2, 4, …
/// minutes, at most an hour (on billmail's clock, so `tick --now` later retries).
pub fn retry_delay(attempt: i64) -> chrono::Duration {
    let minutes = 1i64 << (attempt.clamp(1, 7) - 1);
    chrono::Duration::minutes(minutes.min(60))
}

/// What one delivery round did.
#[derive(Debug, Default)]
pub struct Delivery {
    pub sent: Vec<(i64, String)>,
    pub retrying: Vec<(i64, String, DateTime<Utc>)>,
    pub failed: Vec<(i64, String)>,
    /// The server could not be used (unreachable, or the login refused); the rest waits for the next round.
    pub unreachable: Option<String>,
}

impl Delivery {
    /// The round's trouble in one line, if it had any (for `billmail status`).
    pub fn problem(&self) -> Option<String> {
        let mut parts = Vec::new();
        if let Some(e) = &self.unreachable {
            parts.push(format!("the SMTP server cannot be used now: {e}"));
        }
        for (id, e) in &self.failed {
            parts.push(format!("outgoing message #{id} failed: {e}"));
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}

/// One line for `billmail status` about a finished cycle.
pub fn cycle_summary(issued: usize, collections: &CollectionsReport, delivery: Option<&Delivery>) -> String {
    let sent = match delivery {
        Some(d) => format!("{} sent, {} to retry, {} failed", d.sent.len(), d.retrying.len(), d.failed.len()),
        None => "no [smtp]: nothing sent".into(),
    };
    format!("{issued} invoice(s) issued, {} collections step(s), {sent}", collections.lines.len())
}

/// Records that the server accepted outbox row `id`. The mail is out: the
/// mark must be written, so a busy database (held by an admin's shell, a
/// backup) is waited out, for up to nine minutes, inside the row's
/// ten-minute lease, during which no sender takes the row again. Giving up
/// sooner would send the message a second time.
pub async fn mark_sent(store: &Store, id: i64, now: DateTime<Utc>) -> Result<()> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(9 * 60);
    let mut wait = std::time::Duration::from_millis(200);
    loop {
        match store.mail_sent(id, now).await {
            Ok(()) => return Ok(()),
            Err(e) if crate::store::is_temporary(&e) && std::time::Instant::now() < deadline => {
                tracing::warn!(outbox = id, error = %format!("{e:#}"), "sent, but the database is busy: recording it again");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(std::time::Duration::from_secs(10));
            }
            Err(e) => return Err(e.context(format!("outbox {id} was sent but could not be marked sent"))),
        }
    }
}

/// Sends every queued message that is due, over one connection that is
/// closed (QUIT) when the round ends. Each attempt is counted before it is
/// made and each result recorded right after, so a crash can cause at most
/// one duplicate: a message the server accepted just before the crash.
pub async fn deliver(store: &Store, sender: &crate::mail::smtp::Sender, now: DateTime<Utc>) -> Result<Delivery> {
    let round = deliver_due(store, sender, now).await;
    sender.close().await;
    round
}

async fn deliver_due(store: &Store, sender: &crate::mail::smtp::Sender, now: DateTime<Utc>) -> Result<Delivery> {
    use crate::mail::smtp::SendError;
    let mut d = Delivery::default();
    if store.next_mail_attempt().await?.is_none_or(|next| next > now) {
        return Ok(d);
    }
    if let Err(e) = sender.prepare(now).await {
        // no login possible (an OAuth2 token refused): nothing is attempted
        d.unreachable = Some(format!("{e:#}"));
        return Ok(d);
    }
    loop {
        let due = store.due_mail(now, 200).await?;
        if due.is_empty() {
            break;
        }
        for m in due {
            // claimed first: no two senders ever send one row
            if !store.claim_mail(m.id, Utc::now() + chrono::Duration::minutes(10)).await? {
                continue;
            }
            let attempt = m.attempts + 1;
            match sender.send(&m, now).await {
                Ok(()) => {
                    mark_sent(store, m.id, now).await?;
                    tracing::info!(outbox = m.id, kind = %m.kind, to = %m.to.join(", "), "sent");
                    d.sent.push((m.id, m.subject));
                }
                Err(SendError::Permanent(e)) => {
                    store.mail_failed(m.id, &e).await?;
                    tracing::warn!(outbox = m.id, error = %e, "refused for good");
                    d.failed.push((m.id, e));
                }
                Err(SendError::Temporary(e) | SendError::Unavailable(e)) if attempt >= MAX_ATTEMPTS => {
                    let why = format!("gave up after {attempt} attempts: {e}");
                    store.mail_failed(m.id, &why).await?;
                    d.failed.push((m.id, why));
                }
                Err(err @ (SendError::Temporary(_) | SendError::Unavailable(_))) => {
                    // Unavailable: the server (or the login) is the trouble, so the rest waits for the next round
                    let whole_round = matches!(err, SendError::Unavailable(_));
                    let e = err.reason().to_string();
                    let next = now + retry_delay(attempt);
                    store.mail_retry(m.id, next, &e).await?;
                    tracing::warn!(outbox = m.id, error = %e, %next, whole_round, "will retry");
                    d.retrying.push((m.id, e.clone(), next));
                    if whole_round {
                        d.unreachable = Some(e);
                        return Ok(d);
                    }
                }
            }
        }
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::retry_delay;

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        let m: Vec<i64> = (1..=9).map(|a| retry_delay(a).num_minutes()).collect();
        assert_eq!(m, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
    }
}

fn days_late(n: i64) -> String {
    if n == 1 { "1 day past due".into() } else { format!("{n} days past due") }
}

/// What one collections round did, for printing.
#[derive(Debug, Default)]
pub struct CollectionsReport {
    pub lines: Vec<String>,
}

/// Collections at `now`: each account's standing from its ledger on the day
/// of the latest send moment; at most one step per account, each step with
/// its notices in one transaction. Running it again changes nothing.
pub async fn run_collections(
    config: &Config,
    store: &Store,
    renderer: &Renderer,
    now: DateTime<Utc>,
) -> Result<CollectionsReport> {
    use crate::domain::collections::{Standing, Step, evaluate};
    use minijinja::context;

    let policy = &config.collections;
    let local = local_time(&now, config.company.timezone);
    let today = config.schedule.last_send_day(local);
    let cur = config.company.currency.clone();
    let team = config.company.services_team_address.as_ref().map(|a| a.to_string());
    let mut report = CollectionsReport::default();
    for acct in store.collectables().await? {
        let Some(step) = evaluate(today, &acct.ledger, policy) else { continue };
        let open = store.invoices(Some(&acct.account), true).await?;
        let owed: Money = open.iter().map(|i| i.balance).sum();
        let invoices: Vec<_> = open
            .iter()
            .rev()
            .filter(|i| i.balance.is_positive())
            .map(|i| {
                let late = (today - i.due).num_days();
                context! {
                    number => i.number, period => i.period, due => i.due.format("%B %-d, %Y").to_string(),
                    balance => i.balance.display_in(&cur), late => (late > 0).then_some(late),
                }
            })
            .collect();
        let earliest_due = acct.ledger.unpaid.iter().map(|(_, d)| *d).filter(|d| *d < today).min();
        let days = earliest_due.map(|d| (today - d).num_days()).unwrap_or(0);
        let credit_from = earliest_due.map(|d| d + chrono::Duration::days(i64::from(policy.credit_hold_after_days)));
        let fmt = |d: chrono::NaiveDate| d.format("%B %-d, %Y").to_string();
        let mut tx = store.begin().await?;
        let billing = tx.account_contact(&acct.account).await?.1;
        // every billing address bounced: the notice goes to accounting to
        // pass on, never silently nowhere, and the history says so
        let (recipients, relayed) = if billing.is_empty() {
            (vec![config.company.accounting_address.to_string()], " (every billing address bounced: to pass on)")
        } else {
            (billing, "")
        };
        let (kind, subject, ctx, invoice, line) = match step {
            Step::Remind { invoice, stage, days_past_due } => {
                tx.record_reminder(invoice, stage, now).await?;
                tx.history(
                    &acct.account,
                    now,
                    "notice",
                    &format!(
                        "reminder {} sent to {}{relayed}: {}",
                        stage + 1,
                        recipients.join(", "),
                        days_late(days_past_due)
                    ),
                )
                .await?;
                let ctx = context! {
                    days => days_past_due,
                    credit_hold_on => credit_from.map(|d| format!("by {}", fmt(d))).unwrap_or_default(),
                };
                (
                    "reminder",
                    format!("Payment reminder: {} is {}", acct.name, days_late(days_past_due)),
                    ctx,
                    Some(invoice),
                    format!("reminder to {} ({})", acct.account, days_late(days_past_due)),
                )
            }
            Step::Change { to, since } => {
                let was = acct.ledger.standing;
                let why = match to {
                    Standing::CreditHold => format!("credit hold from {since}: a payment {days} days past due"),
                    Standing::ServiceHold => {
                        format!("service hold from {since}: {} days on credit hold", policy.service_hold_after_days)
                    }
                    Standing::Active => {
                        format!("{} released on {since}: nothing is past due", was.as_str().replace('_', " "))
                    }
                };
                tx.set_standing(&acct.account, to, since, &why, now).await?;
                let service_hold_on = since + chrono::Duration::days(i64::from(policy.service_hold_after_days));
                let ctx = context! {
                    since => fmt(since),
                    days => days,
                    service_hold_on => fmt(service_hold_on),
                    hold_days => policy.service_hold_after_days,
                    was_service_hold => was == Standing::ServiceHold,
                };
                let (kind, subject) = match to {
                    Standing::CreditHold => ("credit_hold", format!("Credit hold on {}'s account", acct.name)),
                    Standing::ServiceHold => ("service_hold", format!("Service hold on {}'s account", acct.name)),
                    Standing::Active => ("hold_released", format!("{}'s account is back in good standing", acct.name)),
                };
                (kind, subject, ctx, None, format!("{} {}", acct.account, why))
            }
        };
        let common = context! {
            account => context! { id => acct.account, name => acct.name },
            invoices => invoices,
            total => owed.display_in(&cur),
            kind => kind,
            ..ctx
        };
        let thread =
            tx.thread_for(&acct.account, invoice.or(acct.ledger.unpaid.first().map(|u| u.0)), team.as_deref()).await?;
        let mut mails = Vec::new();
        let r = renderer.notice(kind, &config.company, subject.clone(), common.clone())?;
        mails.push((recipients.clone(), r, thread.clone()));
        if kind != "reminder"
            && let Some(t) = &team
        {
            let r = renderer.notice("team_notice", &config.company, format!("[billmail] {subject}"), common.clone())?;
            mails.push((vec![t.clone()], r, None));
        }
        if kind != "reminder" {
            let told: Vec<String> = mails.iter().map(|(to, _, _)| to.join(", ")).collect();
            tx.history(
                &acct.account,
                now,
                "notice",
                &format!("{} notice sent to {}{relayed}", kind.replace('_', " "), told.join("; ")),
            )
            .await?;
        }
        for (n, (to, r, thread)) in mails.into_iter().enumerate() {
            let mail = NewMail {
                kind: kind.into(),
                account: Some(acct.account.clone()),
                invoice_id: None,
                to,
                cc: vec![],
                subject: r.subject,
                text: r.text,
                html: r.html,
                message_id: message_id(
                    config,
                    &format!("{kind}.{}.{today}.{n}", acct.account.to_ascii_lowercase()),
                    now,
                ),
                in_reply_to: thread.clone(),
                references: thread,
            };
            let outbox = tx.queue_mail(&mail, now).await?;
            if n == 0 && !relayed.is_empty() {
                let why = relayed_reason(config, &acct.account, kind);
                tx.insert_notice_review(outbox, kind, &mail.subject, &[why], now).await?;
            }
        }
        tx.commit().await?;
        report.lines.push(line);
    }
    Ok(report)
}
