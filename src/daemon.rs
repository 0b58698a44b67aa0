//! `billmail run`: the daemon. One loop: an [`engine::cycle`] (take in new
//! mail, issue what is due, send the outbox); then wait (IMAP IDLE, or
//! polling) until new mail, the next scheduled moment, or a signal. The
//! mailbox connection is made again after any error, with jittered
//! exponential backoff.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

use anyhow::{Context, Result};
use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};
use chrono::{DateTime, Utc};
use sd_notify::NotifyState;

use crate::config::Config;
use crate::domain::calendar::local_time;
use crate::engine::{self, Ctx, Inbox, Stage};
use crate::mail::imap::{Mailbox, Woken};
use crate::mail::smtp::Sender;
use crate::render::Renderer;
use crate::store::{Event, Store};

/// IDLE is ended and issued again before this (servers drop it at 30 minutes).
pub const IDLE_LIMIT: Duration = Duration::from_secs(24 * 60);

/// Tells systemd `state` (`READY=1`, `STATUS=...`) over `$NOTIFY_SOCKET`;
/// nothing when unset.
pub fn notify(state: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(state) {
        tracing::warn!(error = %e, "systemd notify failed");
    }
}

/// How often to ping systemd's watchdog, if it asks: twice per interval.
fn watchdog_interval() -> Option<Duration> {
    sd_notify::watchdog_enabled().map(|d| (d / 2).max(Duration::from_secs(1)))
}

/// Delays between attempts to reach the mailbox: doubling from 1 s to 5
/// minutes, with jitter, for as long as it takes.
fn reconnect_delays() -> ExponentialBackoff {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_secs(1))
        .with_max_delay(Duration::from_secs(300))
        .with_factor(2.0)
        .with_jitter()
        .without_max_times()
        .build()
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
    pub stop: CancellationToken,
    /// SIGHUP: read the config file again.
    pub reload: Arc<AtomicBool>,
    /// Ends any wait at once.
    pub wake: Arc<tokio::sync::Notify>,
}

/// Runs until a stop is asked (SIGTERM/SIGINT), finishing the message in
/// hand; on SIGHUP reads `config_path` again and, if it is valid, carries
/// on with it (a bad one is refused and the running config kept). Each turn
/// is one [`engine::cycle`]; the daemon itself only keeps the mailbox
/// connection (reconnecting with backoff), tells systemd, and waits.
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
    // the wait before the next attempt at the mailbox, after a failure
    let mut delays = reconnect_delays();
    let mut retry_in: Option<Duration> = None;
    let mut ready = false;
    if parts.config.imap.is_none() {
        notify(&[NotifyState::Status("running without a mailbox")]);
    }
    while !stop.is_cancelled() {
        let now = clock.now();
        if reload.swap(false, Ordering::SeqCst) {
            // with the moment, as systemd asks of a reload notice
            let mut reloading = vec![NotifyState::Reloading];
            reloading.extend(NotifyState::monotonic_usec_now());
            notify(&reloading);
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
            notify(&[NotifyState::Ready]);
        }
        let Parts { config, renderer, tokens, sender, dkim } = &parts;
        // the mailbox connection, kept between cycles (for IDLE)
        let mut down = None;
        if let Some(imap) = &config.imap
            && mailbox.is_none()
        {
            match Mailbox::connect(imap, tokens.as_deref(), now).await {
                Ok(m) => {
                    tracing::info!(host = %imap.host, "mailbox reached");
                    mailbox = Some(m);
                    delays = reconnect_delays();
                    retry_in = None;
                    notify(&[NotifyState::Status("mailbox reached")]);
                }
                Err(e) => {
                    let wait = delays.next().unwrap_or(Duration::from_secs(300));
                    retry_in = Some(wait);
                    notify(&[NotifyState::Status(&format!("mailbox unreachable, retrying in {}s", wait.as_secs()))]);
                    down = Some(format!("{e:#}"));
                }
            }
        }
        if !ready {
            // ready once the mailbox was tried, reached or not (STATUS says
            // which): invoices, reminders and the outbox do not wait for it,
            // and a long first cycle does not hold systemd's start up
            notify(&[NotifyState::Ready]);
            ready = true;
        }
        let inbox = Inbox::of(mailbox.as_mut(), down);
        let ctx = Ctx { config, store: &store, renderer, dkim: dkim.as_ref(), sender: sender.as_ref(), catch_up };
        let report = engine::cycle(&ctx, inbox, now, &stop).await;
        if mailbox.is_some() && matches!(report.intake, Stage::Failed(_)) {
            // the connection is in an unknown state: a new one next turn
            mailbox = None;
            retry_in = delays.next();
        }
        if stop.is_cancelled() {
            break;
        }
        store.shrink_memory().await;
        crate::give_back_memory();
        if watchdog.is_some() {
            notify(&[NotifyState::Watchdog]);
        }
        if report.clock_back.is_some() {
            // nothing scheduled runs until the clock is past the last cycle
            let pause = watchdog.map_or(Duration::from_secs(60), |w| w.min(Duration::from_secs(60)));
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = wake.notified() => {}
            }
            continue;
        }
        // wait: for new mail, the next send moment, an outbox retry, the watchdog
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
                wait = wait.min(retry_in.unwrap_or(Duration::from_secs(1)));
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
                        retry_in = delays.next();
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
    notify(&[NotifyState::Stopping]);
    if let Some(m) = mailbox {
        m.logout().await;
    }
    tracing::info!("stopped");
    Ok(())
}
