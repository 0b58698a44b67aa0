//! Collections: each account's next step (reminder, hold, release) from
//! its ledger, decided by `domain::collections::evaluate`, recorded with its
//! notices in one transaction per account.

use anyhow::Result;
use chrono::{DateTime, Utc};

use super::{addressees, relayed_reason};
use crate::config::Config;
use crate::domain::calendar::{local_time, long_date};
use crate::domain::{Money, NoticeKind};
use crate::render::{Renderer, message_id};
use crate::store::{NewMail, Store};

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
    use crate::domain::collections::{evaluate, plan_step};

    let policy = &config.collections;
    let local = local_time(&now, config.company.timezone);
    let today = config.schedule.last_send_day(local);
    let mut report = CollectionsReport::default();
    for acct in store.collectables().await? {
        let Some(step) = evaluate(today, &acct.ledger, policy) else { continue };
        let plan = plan_step(&step, &acct.account, &acct.name, &acct.ledger, policy, today);
        report.lines.push(record_step(config, store, renderer, &acct, &plan, None, today, now).await?);
    }
    Ok(report)
}

/// A hold placed (`to` a hold) or released (`to` active, the rules waiting
/// until `until`) by a person, `by`, for `reason`: decided by
/// `domain::collections::by_hand`, recorded and told as any step is. Gives
/// the line that reports it.
#[allow(clippy::too_many_arguments)]
pub async fn hold_by_hand(
    config: &Config,
    store: &Store,
    renderer: &Renderer,
    account: &crate::domain::AccountId,
    to: crate::domain::collections::Standing,
    until: Option<chrono::NaiveDate>,
    reason: &str,
    by: &str,
    now: DateTime<Utc>,
) -> Result<String> {
    let today = local_time(&now, config.company.timezone).date();
    let acct = store.collectable(account).await?.ok_or_else(|| anyhow::anyhow!("no account {account}"))?;
    let (mark, plan) = crate::domain::collections::by_hand(
        account,
        &acct.name,
        &acct.ledger,
        &config.collections,
        crate::domain::collections::HandStep { to, until, reason, by },
        today,
    )?;
    record_step(config, store, renderer, &acct, &plan, Some(mark), today, now).await
}

/// Records a planned step with its notices, in one transaction; gives its line.
#[allow(clippy::too_many_arguments)]
async fn record_step(
    config: &Config,
    store: &Store,
    renderer: &Renderer,
    acct: &crate::store::Collectable,
    plan: &crate::domain::collections::StepPlan,
    mark: Option<crate::domain::collections::ByHand>,
    today: chrono::NaiveDate,
    now: DateTime<Utc>,
) -> Result<String> {
    use crate::domain::collections::{Record, days_late};
    use minijinja::context;

    let cur = config.company.currency.clone();
    let team = config.company.services_team_address.as_ref().map(|a| a.to_string());
    let open = store.invoices(Some(&acct.account), true).await?;
    let owed: Money = open.iter().map(|i| i.balance).sum();
    let invoices: Vec<_> = open
        .iter()
        .rev()
        .filter(|i| i.balance.is_positive())
        .map(|i| {
            let late = (today - i.due).num_days();
            context! {
                number => i.number, period => i.period.to_string(), due => long_date(i.due),
                balance => i.balance.display_in(&cur), late => (late > 0).then_some(late),
            }
        })
        .collect();
    let mut tx = store.begin().await?;
    let billing = tx.account_contact(&acct.account).await?.1;
    let (recipients, relayed) = addressees(config, billing);
    match &plan.record {
        Record::Reminder { invoice, stage } => {
            tx.record_reminder(*invoice, *stage, now).await?;
            let detail = format!(
                "reminder {} sent to {}{relayed}: {}",
                stage + 1,
                recipients.join(", "),
                days_late(plan.facts.days)
            );
            tx.history(&acct.account, now, "notice", &detail).await?;
        }
        Record::Standing { to, since, why } => {
            tx.set_standing(&acct.account, *to, *since, why, now).await?;
            if let Some(mark) = mark {
                tx.set_by_hand(&acct.account, mark).await?;
            }
        }
    }
    let (kind, subject, invoice, line) = (plan.kind, plan.subject.clone(), plan.thread_invoice, plan.line.clone());
    let common = context! {
        account => context! { id => acct.account, name => acct.name },
        invoices => invoices,
        total => owed.display_in(&cur),
        kind => kind.as_str(),
        ..minijinja::Value::from_serialize(&plan.facts)
    };
    let thread =
        tx.thread_for(&acct.account, invoice.or(acct.ledger.unpaid.first().map(|u| u.0)), team.as_deref()).await?;
    let mut mails = Vec::new();
    let r = renderer.notice(kind, &config.company, subject.clone(), common.clone())?;
    mails.push((recipients.clone(), r, thread.clone()));
    if plan.tell_team
        && let Some(t) = &team
    {
        let r = renderer.notice(
            NoticeKind::TeamNotice,
            &config.company,
            format!("[billmail] {subject}"),
            common.clone(),
        )?;
        mails.push((vec![t.clone()], r, None));
    }
    if plan.tell_team {
        let told: Vec<String> = mails.iter().map(|(to, _, _)| to.join(", ")).collect();
        tx.history(
            &acct.account,
            now,
            "notice",
            &format!("{} notice sent to {}{relayed}", kind.as_str().replace('_', " "), told.join("; ")),
        )
        .await?;
    }
    for (n, (to, r, thread)) in mails.into_iter().enumerate() {
        let mail = NewMail {
            kind: kind.as_str().into(),
            account: Some(acct.account.clone()),
            invoice_id: None,
            to,
            cc: vec![],
            subject: r.subject,
            text: r.text,
            html: r.html,
            message_id: message_id(
                config,
                &format!("{kind}.{}.{today}.{n}", acct.account.as_str().to_ascii_lowercase()),
                now,
            ),
            in_reply_to: thread.clone(),
            references: thread,
        };
        let outbox = tx.queue_mail(&mail, now).await?;
        if n == 0 && !relayed.is_empty() {
            let why = relayed_reason(config, &acct.account, kind);
            tx.insert_notice_review(outbox, kind.as_str(), &mail.subject, &[why], now).await?;
        }
    }
    tx.commit().await?;
    Ok(line)
}
