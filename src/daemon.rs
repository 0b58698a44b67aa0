//! `billmail run`: the daemon. One loop: take in new mail, issue what is
//! due, send the outbox; then wait (IMAP IDLE, or polling) until new mail,
//! the next scheduled moment, or a signal. The mailbox connection is made
//! again after any error, with jittered exponential backoff.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::domain::calendar::local_time;
use crate::engine;
use crate::mail::imap::{Mailbox, Woken};
use crate::mail::smtp::Sender;
use crate::render::Renderer;
use crate::store::{Event, Store};

/// IDLE is ended and issued again before this (servers drop it at 30 minutes).
pub const IDLE_LIMIT: Duration = Duration::from_secs(24 * 60);

/// systemd's notify protocol over `$NOTIFY_SOCKET` (nothing when unset).
pub fn notify(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else { return };
    let sock = match std::os::unix::net::UnixDatagram::unbound() {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "no notify socket");
            return;
        }
    };
    let p = path.to_string_lossy().to_string();
    let result = if let Some(abstract_name) = p.strip_prefix('@') {
        use std::os::linux::net::SocketAddrExt;
        std::os::unix::net::SocketAddr::from_abstract_name(abstract_name.as_bytes())
            .and_then(|addr| sock.send_to_addr(state.as_bytes(), &addr))
    } else {
        sock.send_to(state.as_bytes(), &p)
    };
    if let Err(e) = result {
        tracing::warn!(error = %e, "systemd notify failed");
    }
}

/// How often systemd expects a watchdog ping, if it does.
fn watchdog_interval() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    Some(Duration::from_micros(usec / 2).max(Duration::from_secs(1)))
}

/// Doubling backoff from 1 s to 5 minutes, with up to 25% jitter.
pub fn backoff(failures: u32) -> Duration {
    let base = Duration::from_secs(1u64 << failures.min(8)).min(Duration::from_secs(300));
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    let jitter = base.mul_f64(f64::from(nanos % 1000) / 4000.0);
    base + jitter
}

/// The daemon's "now". By default the real clock; with `run --now T` the
/// daemon starts at `T` and its clock advances with the machine's monotonic
/// clock from there, so a replay or a test acts at the moments it names
/// whatever the date on the machine.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    start: Option<(DateTime<Utc>, Instant)>,
}

impl Clock {
    /// The machine's clock.
    pub fn real() -> Clock {
        Clock { start: None }
    }

    /// A clock that reads `t` now and advances in real time from here.
    pub fn starting_at(t: DateTime<Utc>) -> Clock {
        Clock { start: Some((t, Instant::now())) }
    }

    pub fn now(&self) -> DateTime<Utc> {
        match self.start {
            None => Utc::now(),
            Some((t, at)) => t + chrono::TimeDelta::from_std(at.elapsed()).unwrap_or_default(),
        }
    }
}

/// Time until the next scheduled send moment (billing runs at it).
fn until_next_send(config: &Config, now: DateTime<Utc>) -> Duration {
    let local = local_time(&now, config.company.timezone);
    let today = local.date().and_time(config.schedule.send_time);
    let next = if local < today { today } else { today + chrono::Duration::days(1) };
    (next - local).to_std().unwrap_or(Duration::from_secs(60)) + Duration::from_secs(1)
}

/// What the daemon builds from its config; replaced whole on a reload.
struct Parts {
    config: Config,
    renderer: Renderer,
    tokens: Option<Arc<crate::mail::oauth2::TokenSource>>,
    sender: Option<Sender>,
    dkim: Option<crate::trust::dkim::Dkim>,
}

impl Parts {
    fn build(config: Config) -> Result<Parts> {
        let renderer = Renderer::for_config(&config)?;
        let tokens = crate::mail::token_source(&config)?;
        let sender =
            config.smtp.as_ref().map(|s| Sender::new(s, tokens.clone())).transpose().context("the [smtp] settings")?;
        let dkim = crate::trust::dkim::Dkim::for_config(&config)?;
        Ok(Parts { config, renderer, tokens, sender, dkim })
    }

    /// The config file read again, checked whole (templates and secrets
    /// too); the database cannot move under a running daemon.
    fn reload(path: &Path, running: &Config) -> Result<Parts> {
        let config = Config::load(path).map_err(|e| anyhow::anyhow!("{}", e.problems().join("; ")))?;
        if config.database.path != running.database.path {
            anyhow::bail!(
                "[database] changed from {} to {}: that takes a restart",
                running.database.path.display(),
                config.database.path.display()
            );
        }
        Parts::build(config)
    }
}

/// The signals the daemon answers, set by the signal handlers.
#[derive(Clone, Default)]
pub struct Signals {
    /// SIGTERM/SIGINT: finish the message in hand and stop.
    pub stop: Arc<AtomicBool>,
    /// SIGHUP: read the config file again.
    pub reload: Arc<AtomicBool>,
    /// Ends any wait at once.
    pub wake: Arc<tokio::sync::Notify>,
}

/// Runs until a stop is asked (SIGTERM/SIGINT), finishing the message in
/// hand; on SIGHUP reads `config_path` again and, if it is valid, carries
/// on with it (a bad one is refused and the running config kept).
pub async fn run(
    config_path: &Path,
    config: Config,
    store: Store,
    signals: Signals,
    clock: Clock,
    catch_up: bool,
) -> Result<()> {
    let Signals { stop, reload, wake } = signals;
    let mut parts = Parts::build(config)?;
    let watchdog = watchdog_interval();
    let mut mailbox: Option<Mailbox> = None;
    let mut failures = 0u32;
    let mut ready = false;
    if parts.config.imap.is_none() {
        notify("READY=1\nSTATUS=running without a mailbox");
        ready = true;
    }
    while !stop.load(Ordering::SeqCst) {
        let now = clock.now();
        if reload.swap(false, Ordering::SeqCst) {
            notify("RELOADING=1");
            match Parts::reload(config_path, &parts.config) {
                Ok(new) => {
                    parts = new;
                    if let Some(m) = mailbox.take() {
                        m.logout().await;
                    }
                    tracing::info!(config = %config_path.display(), "configuration reloaded");
                }
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "reload refused; the running configuration stays");
                    let detail = format!("reload refused, the running configuration stays: {e:#}");
                    store.record_event(Event::Error, now, &detail).await;
                }
            }
            notify("READY=1");
        }
        let Parts { config, renderer, tokens, sender, dkim } = &parts;
        // 1. the mailbox
        if let Some(imap) = &config.imap {
            if mailbox.is_none() {
                match Mailbox::connect(imap, tokens.as_deref(), now).await {
                    Ok(m) => {
                        tracing::info!(host = %imap.host, "mailbox reached");
                        mailbox = Some(m);
                        failures = 0;
                        if !ready {
                            notify("READY=1\nSTATUS=mailbox reached");
                            ready = true;
                        }
                    }
                    Err(e) => {
                        failures += 1;
                        let wait = backoff(failures);
                        tracing::warn!(error = %format!("{e:#}"), retry_in = ?wait, "cannot reach the mailbox");
                        store.record_event(Event::Error, now, &format!("cannot reach the mailbox: {e:#}")).await;
                        notify(&format!("STATUS=mailbox unreachable, retrying in {}s", wait.as_secs()));
                    }
                }
            }
            if let Some(m) = mailbox.as_mut() {
                let actor = crate::intake::Actor { config, renderer, dkim: dkim.as_ref() };
                match m.intake_until(imap, &actor, &store, now, &stop).await {
                    Ok(r) => {
                        if !r.taken.is_empty() {
                            tracing::info!(processed = r.processed, review = r.review, left = r.left, "intake");
                        }
                        store.record_event(Event::Intake, now, &r.summary()).await;
                    }
                    Err(e) => {
                        tracing::warn!(error = %format!("{e:#}"), "mailbox error; reconnecting");
                        store.record_event(Event::Error, now, &format!("mailbox error: {e:#}")).await;
                        mailbox = None;
                        failures += 1;
                    }
                }
            }
        }
        if stop.load(Ordering::SeqCst) {
            break;
        }
        // a clock set back runs nothing scheduled until it is past the last cycle
        if let Some(why) = engine::clock_went_back(&store, now).await.ok().flatten() {
            tracing::error!(%why, "clock");
            store.record_event(Event::Error, now, &why).await;
            if watchdog.is_some() {
                notify("WATCHDOG=1");
            }
            let pause = watchdog.map_or(Duration::from_secs(60), |w| w.min(Duration::from_secs(60)));
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = wake.notified() => {}
            }
            continue;
        }
        // 2. what is due, 3. the outbox
        let mut issued_count = 0;
        match engine::run_billing(config, &store, renderer, now, catch_up).await {
            Ok(issued) => {
                for i in &issued {
                    tracing::info!(number = %i.number, account = %i.account, kind = i.kind, "issued");
                }
                issued_count = issued.len();
            }
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "billing failed");
                store.record_event(Event::Error, now, &format!("billing failed: {e:#}")).await;
            }
        }
        let mut collections = engine::CollectionsReport::default();
        match engine::run_collections(config, &store, renderer, now).await {
            Ok(r) => {
                for line in &r.lines {
                    tracing::info!(%line, "collections");
                }
                collections = r;
            }
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "collections failed");
                store.record_event(Event::Error, now, &format!("collections failed: {e:#}")).await;
            }
        }
        let mut delivery = None;
        if let Some(s) = sender {
            match engine::deliver(&store, s, now).await {
                Ok(d) => {
                    if let Some(e) = &d.unreachable {
                        tracing::warn!(error = %e, "SMTP server unreachable");
                    }
                    if let Some(problem) = d.problem() {
                        store.record_event(Event::Error, now, &problem).await;
                    }
                    delivery = Some(d);
                }
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "sending failed");
                    store.record_event(Event::Error, now, &format!("sending failed: {e:#}")).await;
                }
            }
        }
        let summary = engine::cycle_summary(issued_count, &collections, delivery.as_ref());
        store.record_event(Event::Cycle, now, &summary).await;
        if watchdog.is_some() {
            notify("WATCHDOG=1");
        }
        // 4. wait: for new mail, the next send moment, an outbox retry, the watchdog
        let mut due = until_next_send(config, clock.now()).min(Duration::from_secs(3600));
        if let Ok(Some(next_retry)) = store.next_mail_attempt().await {
            let secs = (next_retry - clock.now()).num_seconds().max(1) as u64;
            due = due.min(Duration::from_secs(secs));
        }
        if let Some(w) = watchdog {
            due = due.min(w);
        }
        let mut wait = due;
        if let Some(imap) = &config.imap {
            // without IDLE, poll
            wait = wait.min(imap.poll_interval.max(Duration::from_secs(1)));
            if mailbox.is_none() {
                wait = wait.min(backoff(failures));
            }
        }
        let idle = mailbox.as_ref().is_some_and(Mailbox::can_idle);
        if idle {
            let limit = IDLE_LIMIT.min(due);
            let m = mailbox.take().expect("mailbox present");
            tokio::select! {
                res = m.idle(limit) => match res {
                    Ok((m, woken)) => {
                        if woken == Woken::NewMail {
                            tracing::debug!("new mail");
                        }
                        mailbox = Some(m);
                    }
                    Err(e) => {
                        tracing::warn!(error = %format!("{e:#}"), "IDLE failed; reconnecting");
                        failures += 1;
                    }
                },
                _ = wake.notified() => {}
            }
        } else {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = wake.notified() => {}
            }
        }
    }
    notify("STOPPING=1");
    if let Some(m) = mailbox {
        m.logout().await;
    }
    tracing::info!("stopped");
    Ok(())
}
