//! The work itself: `run` (the daemon), `tick` (one cycle) and `status`.

use std::path::Path;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::{Ctx, Outcome};
use crate::config::Config;
use crate::domain::calendar::local_time;
use crate::render::Renderer;
use crate::store::{Event, Recorded, Store};

/// `billmail run`: the daemon, with its signal handlers, until SIGTERM/SIGINT.
pub(super) async fn run(config_path: &Path, c: &Ctx<'_>, now_given: bool, catch_up: bool) -> Result<Outcome> {
    let Ctx { config, store, now, .. } = *c;
    let signals = crate::daemon::Signals::default();
    let s = signals.clone();
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).expect("signal handler");
        let mut hup = signal(SignalKind::hangup()).expect("signal handler");
        loop {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
                _ = hup.recv() => {
                    tracing::info!("SIGHUP: reading the configuration again");
                    s.reload.store(true, std::sync::atomic::Ordering::SeqCst);
                    s.wake.notify_one();
                    continue;
                }
            }
            tracing::info!("stopping: finishing the message in hand");
            s.stop.cancel();
            s.wake.notify_one();
            break;
        }
    });
    let _lock = crate::store::InstanceLock::acquire(&config.database.path, "billmail run")?;
    store.release_leases().await?;
    let clock = if now_given { crate::daemon::Clock::starting_at(now) } else { crate::daemon::Clock::real() };
    // the console beside the cycle, on the same books; it stops with the daemon
    let stop = signals.stop.clone();
    let web = match &config.web {
        Some(_) => {
            let serving = crate::web::serve(config.clone(), store.clone(), clock, signals.stop.clone());
            Some(tokio::spawn(serving))
        }
        None => None,
    };
    let ran = crate::daemon::run(config_path, store.clone(), signals, clock, catch_up).await;
    stop.cancel();
    if let Some(web) = web {
        match web.await {
            Ok(Err(e)) => tracing::error!("web console: {e:#}"),
            Err(e) => tracing::error!("web console: {e}"),
            Ok(Ok(())) => {}
        }
    }
    ran?;
    Ok(Outcome { code: 0 })
}

/// A token cancelled at the first SIGTERM or SIGINT.
fn stop_on_term() -> tokio_util::sync::CancellationToken {
    let stop = tokio_util::sync::CancellationToken::new();
    let s = stop.clone();
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).expect("signal handler");
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        s.cancel();
    });
    stop
}

/// `billmail web`: the console alone, until SIGTERM/SIGINT.
pub(super) async fn web(c: &Ctx<'_>, now_given: bool) -> Result<Outcome> {
    let Ctx { config, store, now, .. } = *c;
    if config.web.is_none() {
        anyhow::bail!("the config has no [web] section: set [web] listen = \"127.0.0.1:8025\"");
    }
    let stop = stop_on_term();
    let clock = if now_given { crate::daemon::Clock::starting_at(now) } else { crate::daemon::Clock::real() };
    crate::web::serve(config.clone(), store.clone(), clock, stop).await?;
    Ok(Outcome { code: 0 })
}

/// `billmail tick`: one cycle under the instance lock; an error that stops
/// it is recorded for `status`.
pub(super) async fn tick_locked(c: &Ctx<'_>, catch_up: bool) -> Result<Outcome> {
    let Ctx { config, store, now, .. } = *c;
    let _lock = crate::store::InstanceLock::acquire(&config.database.path, "billmail tick")?;
    store.release_leases().await?;
    match tick(config, store, now, catch_up).await {
        Ok(outcome) => Ok(outcome),
        Err(e) => {
            store.record_event(Event::Error, now, &format!("tick: {e:#}")).await;
            Err(e)
        }
    }
}

/// One [`crate::engine::cycle`] with what it needs built from `config`:
/// the mailbox reached (unless `down` says why the daemon could not), the
/// cycle run, the mailbox left. `tick` and the daemon's `cycle-worker`.
async fn one_cycle(
    config: &Config,
    store: &Store,
    now: DateTime<Utc>,
    catch_up: bool,
    tokens: Option<std::sync::Arc<crate::mail::oauth2::TokenSource>>,
    mut down: Option<String>,
    stop: &tokio_util::sync::CancellationToken,
) -> Result<crate::engine::CycleReport> {
    use crate::engine::{Ctx, Inbox};
    let (renderer, dkim, sender) = cycle_parts(config, &tokens)?;
    let mut mailbox = None;
    if let Some(imap) = &config.imap
        && down.is_none()
    {
        match crate::mail::imap::Mailbox::connect(imap, tokens.as_deref(), now).await {
            Ok(m) => mailbox = Some(m),
            Err(e) => down = Some(format!("{e:#}")),
        }
    }
    let inbox = Inbox::of(mailbox.as_mut(), down);
    let ctx = Ctx { config, store, renderer: &renderer, dkim: dkim.as_ref(), sender: sender.as_ref(), catch_up };
    let report = crate::engine::cycle(&ctx, inbox, now, stop).await;
    if let Some(m) = mailbox {
        m.logout().await;
    }
    Ok(report)
}

/// What a cycle builds from the config: the renderer (templates, logo),
/// DKIM signing, the SMTP sender (secrets). Each fails naming what is wrong.
type CycleParts = (Renderer, Option<crate::trust::dkim::Dkim>, Option<crate::mail::smtp::Sender>);

fn cycle_parts(
    config: &Config,
    tokens: &Option<std::sync::Arc<crate::mail::oauth2::TokenSource>>,
) -> Result<CycleParts> {
    let renderer = Renderer::for_config(config)?;
    let dkim = crate::trust::dkim::Dkim::for_config(config)?;
    let sender = config
        .smtp
        .as_ref()
        .map(|s| crate::mail::smtp::Sender::new(s, tokens.clone()))
        .transpose()
        .context("the [smtp] settings")?;
    Ok((renderer, dkim, sender))
}

/// `billmail cycle-worker`: the one cycle the daemon asks for (a
/// [`crate::daemon::CycleJob`] on standard input), run under the daemon's
/// instance lock; how it went is one line of JSON on standard output
/// ([`crate::daemon::CycleDone`]). SIGTERM finishes the message in hand.
/// A job with `check` only builds the cycle's parts from the config and
/// answers [`crate::daemon::Checked`].
pub(super) async fn worker(config_path: &Path) -> Result<Outcome> {
    use crate::daemon::{Checked, CycleDone, CycleJob};
    use crate::engine::Stage;
    let mut input = String::new();
    std::io::Read::read_to_string(&mut std::io::stdin(), &mut input).context("reading the cycle's job")?;
    let job: CycleJob = serde_json::from_str(&input).context("the cycle's job")?;
    let config = Config::from_text(config_path, &job.config)
        .map_err(|e| anyhow::anyhow!("{}: {}", config_path.display(), e.problems().join("; ")))?;
    let stop = stop_on_term();
    let tokens = crate::mail::token_source(&config)?;
    if job.check {
        let refused = cycle_parts(&config, &tokens).err().map(|e| format!("{e:#}"));
        println!("{}", serde_json::to_string(&Checked { refused })?);
        return Ok(Outcome { code: 0 });
    }
    let store = Store::open(&config.database.path).await?;
    if let (Some(t), Some(token)) = (&tokens, job.token) {
        t.seed(token.into()).await;
    }
    let report = one_cycle(&config, &store, job.now, job.catch_up, tokens, job.mailbox_down, &stop).await;
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            store.record_event(Event::Error, job.now, &format!("cycle: {e:#}")).await;
            store.close().await;
            return Err(e);
        }
    };
    store.close().await;
    let done =
        CycleDone { intake_failed: matches!(report.intake, Stage::Failed(_)), clock_back: report.clock_back.is_some() };
    println!("{}", serde_json::to_string(&done)?);
    Ok(Outcome { code: 0 })
}

/// One cycle ([`crate::engine::cycle`]), printed. Every stage runs whatever
/// the others did; the exit code is 1 when any of them failed, and each
/// failure is said on standard error.
async fn tick(config: &Config, store: &Store, now: DateTime<Utc>, catch_up: bool) -> Result<Outcome> {
    use crate::engine::Stage;
    let local = local_time(&now, config.company.timezone);
    println!("tick at {} ({})", local.format("%Y-%m-%d %H:%M"), config.company.timezone);
    let tokens = crate::mail::token_source(config)?;
    let stop = tokio_util::sync::CancellationToken::new();
    let report = one_cycle(config, store, now, catch_up, tokens, None, &stop).await?;
    if let Stage::Done(r) = &report.intake {
        for t in r.taken.iter().filter(|t| !t.duplicate) {
            println!("read #{}: {} \"{}\" -> {}", t.id, t.kind, t.subject, t.disposition.as_str());
        }
        println!("intake: {}", r.summary());
    }
    if let Some(why) = &report.clock_back {
        println!("{why}");
    }
    let cur = &config.company.currency;
    if let Stage::Done(issued) = &report.billing {
        for i in issued {
            println!(
                "issued {} {} {} {}: {} due {}, to {}",
                i.number,
                i.account,
                i.kind,
                i.period,
                i.amount_due.display_in(cur),
                i.due,
                i.to.join(", ")
            );
        }
        if issued.is_empty() {
            println!("nothing due");
        }
    }
    for line in report.collections.done().into_iter().flat_map(|c| &c.lines) {
        println!("collections: {line}");
    }
    if let Stage::Done(d) = &report.delivery {
        for (id, subject) in &d.sent {
            println!("sent #{id}: {subject}");
        }
        for (id, err, next) in &d.retrying {
            println!(
                "will retry #{id} after {}: {err}",
                next.with_timezone(&config.company.timezone).format("%Y-%m-%d %H:%M")
            );
        }
        for (id, err) in &d.failed {
            println!("FAILED #{id}: {err}");
        }
        if d.unreachable.is_some() {
            println!("the SMTP server cannot be used now; the rest of the outbox waits for the next cycle");
        }
    }
    let (queued, failed, _) = store.outbox_counts().await?;
    let note = if config.smtp.is_none() { " (no [smtp] configured: mail stays queued)" } else { "" };
    println!("outbox: {queued} queued, {failed} failed{note}");
    // a message that could not be sent is the outbox's business (shown
    // above and in `status`); a stage that could not run is the tick's
    let failed_stages = report.failures();
    for f in &failed_stages {
        eprintln!("billmail: {f}");
    }
    Ok(Outcome { code: if failed_stages.is_empty() { 0 } else { 1 } })
}

pub(super) async fn status(config: &Config, store: &Store, now: DateTime<Utc>, json: bool) -> Result<()> {
    let tz = config.company.timezone;
    let s = store.status().await?;
    let event = |r: &Option<Recorded>| match r {
        Some(r) => json!({"at": r.at, "detail": r.detail}),
        None => Value::Null,
    };
    if json {
        let v = json!({
            "now": crate::store::instant(now),
            "database": config.database.path.display().to_string(),
            "accounts": s.accounts,
            "last_intake": event(&s.last_intake),
            "last_cycle": event(&s.last_cycle),
            "last_error": event(&s.last_error),
            "outbox": {"queued": s.queued, "failed": s.failed, "next_attempt_at": s.next_attempt_at},
            "review_open": s.review_open,
            "mailbox_starts": store.folder_starts().await?.into_iter().map(|(folder, at, left, since)| json!({"folder": folder, "at": at, "left_for_people": left, "since": since})).collect::<Vec<_>>(),
            "on_hold": s.holds.iter().map(|h| json!({"account": h.account, "status": h.status, "since": h.since})).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    let when = |at: &str| match DateTime::parse_from_rfc3339(at) {
        Ok(t) => t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string(),
        Err(_) => at.to_string(),
    };
    let line = |r: &Option<Recorded>, never: &str| match r {
        Some(r) => format!("{}  {}", when(&r.at), r.detail),
        None => never.to_string(),
    };
    println!("billmail status at {} ({tz})", local_time(&now, tz).format("%Y-%m-%d %H:%M"));
    println!("  database:     {} ({} accounts)", config.database.path.display(), s.accounts);
    let mailbox = if config.imap.is_some() { "never read" } else { "no [imap] configured" };
    println!("  last intake:  {}", line(&s.last_intake, mailbox));
    for (folder, at, left, since) in store.folder_starts().await? {
        let from = match since {
            Some(d) => format!("reading what arrived since {d}"),
            None => "reading only what arrived after it".into(),
        };
        println!("  {folder}: first read {}, {left} messages already there left for people; {from}", when(&at));
    }
    println!("  last cycle:   {}", line(&s.last_cycle, "never run"));
    let next = s.next_attempt_at.as_deref().map(|t| format!(", next attempt {}", when(t))).unwrap_or_default();
    let failed = if s.failed > 0 { " (see `billmail outbox list`; `billmail outbox retry ID`)" } else { "" };
    println!("  outbox:       {} queued{next}, {} failed{failed}", s.queued, s.failed);
    println!("  review queue: {} open", s.review_open);
    if s.holds.is_empty() {
        println!("  on hold:      none");
    } else {
        let holds: Vec<String> = s
            .holds
            .iter()
            .map(|h| match &h.since {
                Some(d) => format!("{} ({} since {d})", h.account, h.status),
                None => format!("{} ({})", h.account, h.status),
            })
            .collect();
        println!("  on hold:      {}", holds.join(", "));
    }
    println!("  last error:   {}", line(&s.last_error, "none"));
    Ok(())
}
