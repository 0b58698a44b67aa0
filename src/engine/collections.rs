//! Collections: each account's next step (reminder, hold, release) from
//! its ledger, decided by `domain::collections::evaluate`, recorded with its
//! notices in one transaction per account.

use anyhow::Result;
use chrono::{DateTime, Utc};

use super::relayed_reason;
use crate::config::Config;
use crate::domain::Money;
use crate::domain::calendar::local_time;
use crate::render::{Renderer, message_id};
use crate::store::{NewMail, Store};

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
