//! `billmail run`: the daemon. One loop: an [`crate::engine::cycle`] (take
//! in new mail, issue what is due, send the outbox), run in a child process
//! of its own ([`in_child`]); then wait (IMAP IDLE, or polling) until
//! new mail, the next scheduled moment, or a signal. The mailbox connection
//! it waits on is made again after any error, with jittered exponential
//! backoff.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

use anyhow::{Context, Result};
use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};
use chrono::{DateTime, Utc};
use sd_notify::NotifyState;
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::domain::calendar::local_time;
use crate::mail::imap::{Mailbox, Woken};
use crate::mail::oauth2::Token;
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

/// What the daemon keeps of its config; replaced whole on a reload.
struct Parts {
    config: Config,
    /// The file's text as read and accepted: each cycle's process is given
    /// it, so an edit takes effect on a reload, not at the next cycle.
    text: String,
    tokens: Option<Arc<crate::mail::oauth2::TokenSource>>,
}

impl Parts {
    /// The config file read and checked whole: templates, logo, secrets,
    /// the SMTP and DKIM settings are each built once, in a child (the
    /// daemon stays small), so a bad one is refused here rather than in
    /// every cycle.
    async fn load(path: &Path, now: DateTime<Utc>, stop: &CancellationToken) -> Result<Parts> {
        let (config, text) = Config::load_text(path).map_err(|e| anyhow::anyhow!("{}", e.problems().join("; ")))?;
        let tokens = crate::mail::token_source(&config)?;
        let job = CycleJob { config: text.clone(), now, catch_up: false, mailbox_down: None, token: None, check: true };
        let checked: Checked = in_child(path, &job, stop).await?;
        if let Some(why) = checked.refused {
            anyhow::bail!("{why}");
        }
        Ok(Parts { config, text, tokens })
    }

    /// The config file read again; the database cannot move under a
    /// running daemon.
    async fn reload(path: &Path, running: &Config, now: DateTime<Utc>, stop: &CancellationToken) -> Result<Parts> {
        let parts = Parts::load(path, now, stop).await?;
        if parts.config.database.path != running.database.path {
            anyhow::bail!(
                "[database] changed from {} to {}: that takes a restart",
                running.database.path.display(),
                parts.config.database.path.display()
            );
        }
        Ok(parts)
    }
}

/// What the daemon hands the process that runs one cycle (`billmail
/// cycle-worker`), as JSON on its standard input.
#[derive(Serialize, Deserialize)]
pub struct CycleJob {
    /// The config file's text as the daemon accepted it.
    pub config: String,
    pub now: DateTime<Utc>,
    pub catch_up: bool,
    /// Why the daemon could not reach the mailbox just now: the cycle
    /// reports it instead of trying again.
    pub mailbox_down: Option<String>,
    /// The daemon's OAuth2 token, so the cycle does not fetch its own.
    pub token: Option<WireToken>,
    /// Only build what a cycle needs from the config (templates, logo,
    /// secrets, SMTP, DKIM) and answer [`Checked`]: no cycle.
    pub check: bool,
}

/// The answer to a [`CycleJob`] with `check`.
#[derive(Serialize, Deserialize, Debug, PartialEq)]
pub struct Checked {
    /// Why the config cannot be used; none when it can.
    pub refused: Option<String>,
}

/// An OAuth2 token on its way to the cycle's process (through a pipe, never
/// an argument or the environment).
#[derive(Serialize, Deserialize)]
pub struct WireToken {
    access: String,
    obtained_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
}

impl From<Token> for WireToken {
    fn from(t: Token) -> WireToken {
        use secrecy::ExposeSecret;
        WireToken { access: t.access.expose_secret().to_string(), obtained_at: t.obtained_at, expires_at: t.expires_at }
    }
}

impl From<WireToken> for Token {
    fn from(t: WireToken) -> Token {
        Token { access: t.access.into(), obtained_at: t.obtained_at, expires_at: t.expires_at }
    }
}

/// What the cycle's process tells the daemon, as one JSON line on its
/// standard output; the rest of what it did is in the log and `run_events`.
#[derive(Serialize, Deserialize, Debug, PartialEq)]
pub struct CycleDone {
    /// The mailbox could not be read: the daemon connects again, with backoff.
    pub intake_failed: bool,
    /// The clock is before the last cycle's: nothing scheduled ran.
    pub clock_back: bool,
}

/// Runs one job in a child (`billmail cycle-worker`, this same binary),
/// and waits for it. The daemon stays small: the code and memory that
/// taking in mail, issuing, rendering and sending need are the child's,
/// and go with it (an idle daemon after a busy cycle held 33 MiB when the
/// cycle ran in its own process, against a 20 MiB target). A stop asked
/// meanwhile is passed on (SIGTERM: the child finishes the message in hand).
/// The child is killed if the daemon dies, so no cycle outlives it into
/// the next start's.
async fn in_child<T: serde::de::DeserializeOwned>(
    config_path: &Path,
    job: &CycleJob,
    stop: &CancellationToken,
) -> Result<T> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let program = crate::own_program();
    let mut command = tokio::process::Command::new(&program);
    command
        .arg0("billmail")
        .arg("cycle-worker")
        .arg("--config")
        .arg(config_path)
        .env_remove("NOTIFY_SOCKET")
        .env_remove("WATCHDOG_USEC")
        .env_remove("WATCHDOG_PID")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit());
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: between fork and exec only async-signal-safe calls (prctl,
    // getppid) are made. The death signal follows the thread that forks:
    // the daemon's loop runs on the main thread of a current-thread runtime,
    // which lives as long as the daemon.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::getppid() != parent {
                // the daemon died before the death signal was set
                return Err(std::io::Error::other("the daemon is gone"));
            }
            Ok(())
        });
    }
    let mut child = command.spawn().with_context(|| format!("cannot start {} cycle-worker", program.display()))?;
    let mut input = child.stdin.take().expect("piped");
    let mut output = child.stdout.take().expect("piped");
    let job = serde_json::to_vec(job)?;
    let talk = async {
        input.write_all(&job).await?;
        drop(input);
        let mut said = String::new();
        output.read_to_string(&mut said).await?;
        std::io::Result::Ok(said)
    };
    tokio::pin!(talk);
    let mut stopping = false;
    let said = loop {
        tokio::select! {
            said = &mut talk => break said,
            _ = stop.cancelled(), if !stopping => {
                stopping = true;
                if let Some(pid) = child.id() {
                    // SAFETY: a signal to our own child, not yet waited for
                    unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
                }
            }
        }
    };
    let status = child.wait().await.context("waiting for the cycle's process")?;
    let said = said.context("talking to the cycle's process")?;
    match said.lines().last().map(serde_json::from_str::<T>) {
        Some(Ok(done)) if status.success() => Ok(done),
        _ => anyhow::bail!("the cycle's process ended ({status}) without finishing its cycle; see the log above"),
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
/// is one [`crate::engine::cycle`] in a child; the daemon itself only keeps
/// the mailbox connection (reconnecting with backoff), tells systemd, and
/// waits.
pub async fn run(config_path: &Path, store: Store, signals: Signals, clock: Clock, catch_up: bool) -> Result<()> {
    let Signals { stop, reload, wake } = signals;
    let mut parts = Parts::load(config_path, clock.now(), &stop).await?;
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
            match Parts::reload(config_path, &parts.config, now, &stop).await {
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
        let Parts { config, text, tokens } = &parts;
        // the mailbox connection, kept between cycles for IDLE; the cycle's
        // process reads the mail on a connection of its own
        let mut down = None;
        if let Some(imap) = &config.imap
            && mailbox.is_none()
        {
            let reached = async {
                let mut m = Mailbox::connect(imap, tokens.as_deref(), now).await?;
                crate::inbox::MailSource::open(&mut m).await?;
                anyhow::Ok(m)
            };
            match reached.await {
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
        let mut token = None;
        if let Some(t) = tokens
            && config.logs_in_with_oauth2()
        {
            // the daemon's token, fresh, for the cycle's logins; one it
            // cannot get now the cycle asks for itself and reports
            token = t.fresh(now).await.ok().map(WireToken::from);
        }
        let job = CycleJob { config: text.clone(), now, catch_up, mailbox_down: down.clone(), token, check: false };
        let done = match in_child::<CycleDone>(config_path, &job, &stop).await {
            Ok(done) => done,
            Err(e) => {
                // what it wrote is in the log; its leases are freed for
                // the next cycle (no other sender can be alive)
                tracing::error!(error = %format!("{e:#}"), "cycle");
                store.record_event(Event::Error, now, &format!("cycle: {e:#}")).await;
                if let Err(e) = store.release_leases().await {
                    tracing::error!(error = %format!("{e:#}"), "freeing the outbox's leases");
                }
                CycleDone { intake_failed: false, clock_back: false }
            }
        };
        if mailbox.is_some() && done.intake_failed {
            // the server may be in trouble: a new connection next turn
            if let Some(m) = mailbox.take() {
                m.logout().await;
            }
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
        if done.clock_back {
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
