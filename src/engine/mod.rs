//! One cycle of billmail's work, in one place for the daemon and `tick`:
//! intake, billing, collections, the outbox, in that order. The rule: every
//! stage runs even when an earlier one failed (a mailbox that is down does
//! not stop the invoices of the 15th; a change read later is prorated on the
//! next invoice), every failure is recorded in `run_events` for `status`,
//! and the report says which stages failed. One exception: a clock before
//! the last cycle runs nothing scheduled (it would undo holds and do them
//! again) and sends nothing.

mod billing;
mod collections;
mod outbox;
mod statements;

use anyhow::Result;
use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

pub use billing::{CATCH_UP_DAYS, FarBehind, IssuedInvoice, Planned, plan, run_billing};
pub use collections::{CollectionsReport, hold_by_hand, run_collections};
pub use outbox::{Delivery, MAX_ATTEMPTS, Pdfs, deliver, mark_sent, retry_delay};
pub use statements::{run_statements, statement_of};

use crate::config::Config;
use crate::domain::{AccountId, NoticeKind};
use crate::inbox::MailSource;
use crate::intake::{Actor, IntakeReport};
use crate::mail::smtp::Sender;
use crate::render::Renderer;
use crate::store::{Event, Store};
use crate::trust::dkim::Dkim;

/// What a cycle works with.
pub struct Ctx<'a> {
    pub config: &'a Config,
    pub store: &'a Store,
    pub renderer: &'a Renderer,
    pub dkim: Option<&'a Dkim>,
    /// None without `[smtp]`: mail stays queued.
    pub sender: Option<&'a Sender>,
    /// Issue invoices scheduled more than [`CATCH_UP_DAYS`] back.
    pub catch_up: bool,
}

/// The mailbox as a cycle finds it.
pub enum Inbox<'a, S> {
    /// No `[imap]` section: nothing to read.
    NotConfigured,
    /// Connected.
    Open(&'a mut S),
    /// It could not be reached (the reason).
    Down(String),
}

impl<'a, S> Inbox<'a, S> {
    /// From a connection attempt: the mailbox, or why it could not be
    /// reached; neither when no mailbox is configured.
    pub fn of(mailbox: Option<&'a mut S>, down: Option<String>) -> Inbox<'a, S> {
        match (mailbox, down) {
            (Some(m), _) => Inbox::Open(m),
            (None, Some(why)) => Inbox::Down(why),
            (None, None) => Inbox::NotConfigured,
        }
    }
}

impl CycleReport {
    /// A cycle that ran up to `billing` and left the rest for `why`.
    fn rest_skipped(
        intake: Stage<IntakeReport>,
        clock_back: Option<String>,
        billing: Stage<Vec<IssuedInvoice>>,
        why: &str,
    ) -> CycleReport {
        let (collections, delivery) = (Stage::Skipped(why.to_string()), Stage::Skipped(why.to_string()));
        CycleReport { intake, clock_back, billing, collections, delivery }
    }
}

/// How one stage of a cycle went.
#[derive(Debug)]
pub enum Stage<T> {
    Done(T),
    /// Not run, and why (not configured, or the clock).
    Skipped(String),
    Failed(String),
}

impl<T> Stage<T> {
    pub fn done(&self) -> Option<&T> {
        match self {
            Stage::Done(t) => Some(t),
            _ => None,
        }
    }
    fn failure(&self) -> Option<&str> {
        match self {
            Stage::Failed(e) => Some(e),
            _ => None,
        }
    }
}

/// What one cycle did, stage by stage.
#[derive(Debug)]
pub struct CycleReport {
    pub intake: Stage<IntakeReport>,
    /// Set when the clock is before the last cycle: nothing else ran.
    pub clock_back: Option<String>,
    pub billing: Stage<Vec<IssuedInvoice>>,
    pub collections: Stage<CollectionsReport>,
    pub delivery: Stage<Delivery>,
}

impl CycleReport {
    /// Each stage that could not run, in one line each: "the mailbox: ...".
    /// A message the server refused is the outbox's business, not a failed
    /// stage: it is in the delivery's report and in `status`.
    pub fn failures(&self) -> Vec<String> {
        let mut out = Vec::new();
        let stages = [
            ("the mailbox", self.intake.failure()),
            ("billing", self.billing.failure()),
            ("collections", self.collections.failure()),
            ("sending", self.delivery.failure()),
        ];
        for (name, failure) in stages {
            if let Some(e) = failure {
                out.push(format!("{name}: {e}"));
            }
        }
        out
    }

    /// One line for `billmail status` about the cycle.
    pub fn summary(&self) -> String {
        let issued = self.billing.done().map_or(0, Vec::len);
        let steps = self.collections.done().map_or(0, |c| c.lines.len());
        let sent = match &self.delivery {
            Stage::Done(d) => {
                format!("{} sent, {} to retry, {} failed", d.sent.len(), d.retrying.len(), d.failed.len())
            }
            Stage::Skipped(why) => why.clone(),
            Stage::Failed(_) => "sending failed".into(),
        };
        let failed = self.failures().len();
        let trouble = if failed > 0 { format!("; {failed} stage(s) failed") } else { String::new() };
        format!("{issued} invoice(s) issued, {steps} collections step(s), {sent}{trouble}")
    }
}

/// One cycle at `now`: intake (when the mailbox is open), billing,
/// collections, the outbox. Each stage runs whatever the others did; each
/// failure is logged and recorded in `run_events`; the cycle itself is
/// recorded (for `status`). Two clocks are not trusted, and on them nothing
/// scheduled runs and the cycle is not recorded: one before the last cycle,
/// and one that finds invoices due more than [`CATCH_UP_DAYS`] back (unless
/// `catch_up`).
/// `stop` ends intake after the message in hand and skips the other stages
/// (they run on the next start); once they have begun they run to the end.
pub async fn cycle<S: MailSource>(
    ctx: &Ctx<'_>,
    inbox: Inbox<'_, S>,
    now: DateTime<Utc>,
    stop: &CancellationToken,
) -> CycleReport {
    let store = ctx.store;
    let intake = match inbox {
        Inbox::NotConfigured => Stage::Skipped("no [imap]: no mailbox to read".into()),
        Inbox::Down(why) => Stage::Failed(format!("cannot reach the mailbox: {why}")),
        Inbox::Open(source) => {
            let actor = Actor { config: ctx.config, renderer: ctx.renderer, dkim: ctx.dkim };
            match crate::intake::from_source(source, &actor, store, now, stop).await {
                Ok(r) => {
                    if !r.taken.is_empty() {
                        tracing::info!(processed = r.processed, review = r.review, left = r.left, "intake");
                    }
                    store.record_event(Event::Intake, now, &r.summary()).await;
                    Stage::Done(r)
                }
                Err(e) => Stage::Failed(format!("reading the mailbox: {e:#}")),
            }
        }
    };
    if let Stage::Failed(e) = &intake {
        tracing::warn!(error = %e, "mailbox");
        store.record_event(Event::Error, now, &format!("mailbox: {e}")).await;
    }
    if stop.is_cancelled() {
        // a stop asked during intake: the rest waits for the next start
        return CycleReport::rest_skipped(intake, None, Stage::Skipped("stopping".into()), "stopping");
    }
    let clock_back = match clock_went_back(store, now).await {
        Ok(why) => why,
        Err(e) => Some(format!("the last cycle's time could not be read, so nothing scheduled runs: {e:#}")),
    };
    if let Some(why) = &clock_back {
        tracing::error!(%why, "clock");
        store.record_event(Event::Error, now, why).await;
        let why = why.clone();
        return CycleReport::rest_skipped(intake, clock_back, Stage::Skipped(why.clone()), &why);
    }
    let billing = match run_billing(ctx.config, store, ctx.renderer, now, ctx.catch_up).await {
        Err(e) if e.is::<FarBehind>() => {
            // the clock is not trusted: no reminder or hold on it either,
            // and the cycle is not recorded (a later, right clock runs)
            let why = format!("{e:#}");
            tracing::error!(%why, "billing");
            store.record_event(Event::Error, now, &format!("billing failed: {why}")).await;
            let skipped = format!("invoices are due more than {CATCH_UP_DAYS} days back: nothing scheduled ran");
            return CycleReport::rest_skipped(intake, None, Stage::Failed(why), &skipped);
        }
        done => stage(store, now, "billing", async { done }).await,
    };
    for i in billing.done().into_iter().flatten() {
        tracing::info!(number = %i.number, account = %i.account, kind = i.kind, "issued");
    }
    // collections, then the month's statements of account (what each account owes, once a month)
    let collections = stage(store, now, "collections", async {
        let mut report = run_collections(ctx.config, store, ctx.renderer, now).await?;
        report.lines.extend(run_statements(ctx.config, store, ctx.renderer, now).await?);
        Ok(report)
    })
    .await;
    for line in collections.done().into_iter().flat_map(|c| &c.lines) {
        tracing::info!(%line, "collections");
    }
    let delivery = match ctx.sender {
        None => Stage::Skipped("no [smtp]: nothing sent".into()),
        Some(s) => {
            let pdfs = Pdfs { renderer: ctx.renderer, company: &ctx.config.company };
            stage(store, now, "sending", deliver(store, s, pdfs, now)).await
        }
    };
    if let Some(d) = delivery.done() {
        if let Some(e) = &d.unreachable {
            tracing::warn!(error = %e, "SMTP server unreachable");
        }
        if let Some(problem) = d.problem() {
            store.record_event(Event::Error, now, &problem).await;
        }
    }
    let report = CycleReport { intake, clock_back, billing, collections, delivery };
    store.record_event(Event::Cycle, now, &report.summary()).await;
    report
}

/// Runs one stage; a failure is logged and recorded, and becomes the stage's result.
async fn stage<T>(
    store: &Store,
    now: DateTime<Utc>,
    name: &str,
    work: impl std::future::Future<Output = Result<T>>,
) -> Stage<T> {
    match work.await {
        Ok(t) => Stage::Done(t),
        Err(e) => {
            let e = format!("{e:#}");
            tracing::error!(error = %e, "{name} failed");
            store.record_event(Event::Error, now, &format!("{name} failed: {e}")).await;
            Stage::Failed(e)
        }
    }
}

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

/// Who a notice to an account goes to: its billing addresses; when every
/// one bounced, accounting, to pass it on (never silently nowhere), with the
/// words the history adds to say so (empty when it went to the customer).
pub(crate) fn addressees(config: &Config, billing: Vec<String>) -> (Vec<String>, &'static str) {
    if billing.is_empty() {
        (vec![config.company.accounting_address.to_string()], " (every billing address bounced: to pass on)")
    } else {
        (billing, "")
    }
}

/// Why one of billmail's own messages waits for a person.
pub(crate) fn relayed_reason(config: &Config, account: &AccountId, kind: NoticeKind) -> String {
    format!(
        "every billing address of {account} bounced: this {} went to {} to pass on; once the customer has a working address, `accounts contacts {account} --restore ADDRESS`",
        kind.as_str().replace('_', " "),
        config.company.accounting_address
    )
}
