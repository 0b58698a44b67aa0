//! The command line: arguments, one call per command, printing. Errors
//! become one line on standard error (see `main.rs`).

mod csvin;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use chrono::{DateTime, NaiveDate, Utc};
use clap::{Args, Parser, Subcommand};
use serde_json::{Value, json};

use crate::config::Config;
use crate::domain::calendar::{local_date, local_time};
use crate::domain::{AccountId, InvoiceKind, Money};
use crate::engine;
use crate::render::{InvoiceDoc, Renderer};
use crate::store::{AccountSummary, Event, InvoiceRecord, Recorded, Retry, Store};

#[derive(Parser, Debug)]
#[command(
    name = "billmail",
    version,
    about = "Billing for a managed-IT-services provider, run from its accounting mailbox"
)]
pub struct Cli {
    /// The configuration file.
    #[arg(long, global = true, env = "BILLMAIL_CONFIG", default_value = "billmail.toml")]
    pub config: PathBuf,
    /// The moment the command acts at (RFC 3339, e.g. 2026-12-10T10:00:00-05:00); default: now.
    #[arg(long, global = true, value_parser = parse_now)]
    pub now: Option<DateTime<Utc>>,
    #[command(subcommand)]
    pub command: Command,
}

fn parse_now(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| format!("{s:?} is not an RFC 3339 moment like 2026-12-10T10:00:00-05:00"))
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create the database named in the config, or migrate it to the current schema.
    Init,
    /// Read the config and report everything wrong with it.
    CheckConfig {
        /// Also log in to the mailbox and show its separator, namespace,
        /// capabilities and the folders billmail would use; changes nothing.
        #[arg(long)]
        online: bool,
    },
    /// The daemon: watch the mailbox, run scheduled jobs, send the outbox, until SIGTERM/SIGINT.
    Run {
        /// Allow issuing invoices scheduled more than 62 days back (after a long outage).
        #[arg(long)]
        catch_up: bool,
    },
    /// One full cycle at --now: run every scheduled job due, then exit.
    Tick {
        /// Allow issuing invoices scheduled more than 62 days back (after a long outage).
        #[arg(long)]
        catch_up: bool,
    },
    /// What billmail last did and what waits: last intake, last cycle, queued and failed mail,
    /// the review queue, accounts on hold, the last error.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Take one raw message (FILE, or - for standard input) through the intake pipeline.
    Ingest { file: PathBuf },
    /// The queue of messages a person must decide.
    #[command(subcommand)]
    Review(ReviewCmd),
    /// How a message is read, without touching anything (FILE, or - for standard input).
    Parse {
        file: PathBuf,
        /// Print the reading as JSON (see parse-output.md).
        #[arg(long)]
        json: bool,
    },
    /// Accounts: import, list, show, history.
    #[command(subcommand)]
    Accounts(AccountsCmd),
    /// Recurring charges.
    #[command(subcommand)]
    Subscriptions(SubscriptionsCmd),
    /// Billable work outside the agreement.
    #[command(subcommand)]
    Service(ServiceCmd),
    /// Invoices as issued.
    #[command(subcommand)]
    Invoices(InvoicesCmd),
    /// Payments entered by hand.
    #[command(subcommand)]
    Payments(PaymentsCmd),
    /// Outgoing mail.
    #[command(subcommand)]
    Outbox(OutboxCmd),
    /// Reports for accounting staff.
    #[command(subcommand)]
    Report(ReportCmd),
}

#[derive(Subcommand, Debug)]
pub enum AccountsCmd {
    /// Create or update accounts from a CSV file (keyed by id).
    Import { file: PathBuf },
    /// One line (or object) per account.
    List {
        #[arg(long)]
        json: bool,
    },
    /// One account: counts, status, balance, open invoices.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Every change of counts, status, notice and override, with time and reason.
    History {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// The account's contacts; `--restore ADDRESS` clears a bounce flag, so
    /// mail goes to that address again.
    Contacts {
        id: String,
        #[arg(long, value_name = "ADDRESS")]
        restore: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum SubscriptionsCmd {
    /// Create or update recurring charges (keyed by account and product; quantity 0 ends one).
    Import {
        file: PathBuf,
        /// Allow new or increased charges for accounts on hold (recorded in their history).
        #[arg(long)]
        override_hold: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum ServiceCmd {
    /// Record billable work; it is invoiced on the next cycle.
    Add(ServiceAdd),
}

#[derive(Args, Debug)]
pub struct ServiceAdd {
    #[arg(long)]
    account: String,
    /// The day the work was done (YYYY-MM-DD).
    #[arg(long)]
    date: String,
    #[arg(long)]
    engineer: String,
    #[arg(long)]
    hours: String,
    /// Billable rate per hour.
    #[arg(long)]
    rate: String,
    #[arg(long)]
    description: String,
    /// Record the work even though the account is on hold (recorded in its history).
    #[arg(long)]
    override_hold: bool,
}

#[derive(Subcommand, Debug)]
pub enum InvoicesCmd {
    /// Invoices, newest first.
    List {
        #[arg(long)]
        account: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// One invoice as the customer sees it, or as data.
    Show {
        number: String,
        #[arg(long, default_value = "text", value_parser = ["text", "html", "json"])]
        format: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum PaymentsCmd {
    /// Record a payment entered by hand.
    Record {
        #[arg(long)]
        account: String,
        #[arg(long)]
        amount: String,
        #[arg(long, value_parser = ["ach", "wire", "check", "card", "unknown"])]
        method: String,
        #[arg(long)]
        reference: Option<String>,
        /// An invoice this payment is for (repeatable); paid first.
        #[arg(long = "invoice")]
        invoices: Vec<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum ReportCmd {
    /// Open balances per account: current, 1-30, 31-60, 61-90, 90+ days past due.
    Aging {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum ReviewCmd {
    /// Open items (with --all, decided ones too).
    List {
        #[arg(long)]
        json: bool,
        #[arg(long)]
        all: bool,
    },
    /// One item: why it is here, the reading, and the message.
    Show { id: i64 },
    /// Apply the item's reading as if it had been read with certainty.
    Approve { id: i64 },
    /// Close an item without acting on it, saying why.
    Reject {
        id: i64,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum OutboxCmd {
    /// Outgoing mail: queued, sent, failed, with attempts.
    List {
        #[arg(long)]
        json: bool,
    },
    /// One outgoing message's subject and text (or --html).
    Show {
        id: i64,
        #[arg(long)]
        html: bool,
    },
    /// Queue a failed message again; it goes out on the next cycle.
    Retry { id: i64 },
}

/// EX_TEMPFAIL (sysexits.h): try again later. An MTA that pipes mail into
/// `billmail ingest -` keeps the message and retries instead of bouncing it
/// back to the customer.
pub const EX_TEMPFAIL: i32 = 75;

pub use crate::store::is_temporary;

/// What the command printed, and the exit status it asks for.
pub struct Outcome {
    pub code: i32,
}

pub async fn run(cli: Cli) -> Result<Outcome> {
    let now = cli.now.unwrap_or_else(Utc::now);
    if let Command::CheckConfig { online } = cli.command {
        let outcome = check_config(&cli.config)?;
        if online && outcome.code == 0 {
            return check_mailbox(&Config::load(&cli.config).map_err(|e| anyhow!("{}", e.problems().join("; ")))?, now)
                .await;
        }
        return Ok(outcome);
    }
    if let Command::Parse { file, json } = &cli.command {
        return parse(file, *json);
    }
    let config = Config::load(&cli.config).map_err(|e| {
        let problems = e.problems();
        let more = if problems.len() > 1 {
            format!(" (and {} more; run `billmail check-config`)", problems.len() - 1)
        } else {
            String::new()
        };
        anyhow!("{}: {}{more}", cli.config.display(), problems[0])
    })?;
    if let Command::Init = cli.command {
        if let Some(service) =
            crate::store::service_database_besides(&config.database.path).filter(|_| !config.database.path.exists())
        {
            eprintln!(
                "billmail: note: the packaged service keeps its books in {}; this creates another database",
                service.display()
            );
        }
        let (_, applied) = Store::init(&config.database.path).await?;
        println!("database {} ready ({applied} migration(s) applied)", config.database.path.display());
        return Ok(Outcome { code: 0 });
    }
    let store = Store::open(&config.database.path).await?;
    // the commands that start work or report on it first check that the
    // file is sound: damage inside it would otherwise go unnoticed until a
    // bill came out wrong
    if matches!(cli.command, Command::Run { .. } | Command::Tick { .. } | Command::Status { .. }) {
        store.ensure_sound(&config.database.path).await?;
    }
    let result = dispatch(cli.command, &cli.config, &config, &store, now, cli.now.is_some()).await;
    store.close().await;
    result
}

/// An account's id as stored, whatever the case it is typed in (`acme` is
/// `ACME`); as given when there is no such account, for the error to name.
async fn stored_id(store: &Store, id: &str) -> Result<String> {
    let mut tx = store.begin().await?;
    let found = tx.stored_account_id(id.trim()).await?;
    tx.commit().await?;
    Ok(found.unwrap_or_else(|| id.trim().to_string()))
}

fn parse(file: &Path, json: bool) -> Result<Outcome> {
    let raw = if file == Path::new("-") {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf).context("reading standard input")?;
        buf
    } else {
        match std::fs::read(file) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("billmail: cannot read {}: {e}", file.display());
                return Ok(Outcome { code: 2 });
            }
        }
    };
    let reading = match crate::reading::read(&raw) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("billmail: {}: {e}", file.display());
            return Ok(Outcome { code: 2 });
        }
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&reading)?);
        return Ok(Outcome { code: 0 });
    }
    print!("{}", describe_reading(&serde_json::to_value(&reading)?));
    Ok(Outcome { code: 0 })
}

/// A reading as a person reads it: kind and confidence, each figure with
/// the sentence or row it was read from under it, then the reasons. Used by
/// `parse` and `review show`.
fn describe_reading(r: &Value) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let s = |v: &Value| v.as_str().unwrap_or("").to_string();
    let evidence = r["evidence"].as_array().cloned().unwrap_or_default();
    let backed = |out: &mut String, field: &str| {
        for e in evidence.iter().filter(|e| e["field"] == field) {
            let _ = writeln!(out, "      read from ({}): \"{}\"", s(&e["part"]), s(&e["text"]));
        }
    };
    let _ = writeln!(out, "{} ({} confidence) from {}", s(&r["kind"]), s(&r["confidence"]), s(&r["from"]));
    if r["on_behalf_of"].is_string() {
        let _ = writeln!(out, "  on behalf of {}", s(&r["on_behalf_of"]));
    }
    let _ = writeln!(out, "  subject: {}", s(&r["subject"]));
    let u = &r["user_change"];
    for (i, a) in u["adjustments"].as_array().into_iter().flatten().enumerate() {
        let from = a["effective_date"].as_str().map(|d| format!(" from {d}")).unwrap_or_default();
        let _ =
            writeln!(out, "  {:+} {}{from}", a["delta"].as_i64().unwrap_or(0), s(&a["user_type"]).replace('_', "-"));
        backed(&mut out, &format!("adjustments[{i}]"));
    }
    for t in ["full_time", "part_time"] {
        if let Some(n) = u["totals"][t].as_i64() {
            let _ = writeln!(out, "  new total {}: {n}", t.replace('_', "-"));
            backed(&mut out, &format!("totals.{t}"));
        }
    }
    if u["effective_date"].is_string() {
        let _ = writeln!(out, "  effective {}", s(&u["effective_date"]));
        backed(&mut out, "effective_date");
    }
    let p = &r["payment"];
    if p.is_object() {
        let amount = if p["amount"].is_string() { s(&p["amount"]) } else { "no amount".into() };
        let _ = writeln!(out, "  {amount} {} by {} ({})", s(&p["currency"]), s(&p["method"]), s(&p["source"]));
        backed(&mut out, "amount");
        for (i, n) in p["invoice_numbers"].as_array().into_iter().flatten().enumerate() {
            let _ = writeln!(out, "  for {}", s(n));
            backed(&mut out, &format!("invoice_numbers[{i}]"));
        }
    }
    let b = &r["bounce"];
    if b.is_object() {
        let failed: Vec<String> = b["failed_recipients"].as_array().into_iter().flatten().map(s).collect();
        let _ = writeln!(out, "  failed: {} (message {})", failed.join(", "), s(&b["original_message_id"]));
    }
    for reason in r["reasons"].as_array().into_iter().flatten() {
        let _ = writeln!(out, "  - {}", s(reason));
    }
    out
}

/// `check-config --online`: logs in to the mailbox and says what billmail
/// would use there, creating and moving nothing.
async fn check_mailbox(config: &Config, now: DateTime<Utc>) -> Result<Outcome> {
    let Some(imap) = &config.imap else {
        println!("no [imap] configured: no mailbox to check");
        return Ok(Outcome { code: 0 });
    };
    let tokens = crate::mail::token_source(config)?;
    let mut m = match crate::mail::imap::Mailbox::connect(imap, tokens.as_deref(), now).await {
        Ok(m) => m,
        Err(e) => {
            println!("IMAP {}:{} as {}: {e:#}", imap.host, imap.port, imap.username);
            return Ok(Outcome { code: 1 });
        }
    };
    println!("IMAP {}:{} as {}: logged in", imap.host, imap.port, imap.username);
    let has = |c: &str| m.capabilities.iter().any(|x| x.eq_ignore_ascii_case(c));
    let yes = |b: bool| if b { "yes" } else { "no" };
    println!(
        "  separator {:?}, personal namespace {:?}",
        m.layout.separator.map(String::from).unwrap_or_else(|| "none (flat)".into()),
        m.layout.prefix
    );
    println!(
        "  IDLE {} (else polling every {}s), MOVE {}, UIDPLUS {}, NAMESPACE {}",
        yes(has("IDLE")),
        imap.poll_interval.as_secs(),
        yes(has("MOVE")),
        yes(has("UIDPLUS")),
        yes(has("NAMESPACE"))
    );
    for (name, server, exists) in m.describe_folders(imap).await? {
        let state = if exists { "exists" } else { "will be created (with its parents) and subscribed" };
        println!("  {name:<20} -> {server:?}: {state}");
    }
    m.logout().await;
    Ok(Outcome { code: 0 })
}

fn check_config(path: &Path) -> Result<Outcome> {
    match Config::load(path) {
        Ok(c) => {
            if let Err(e) = Renderer::for_config(&c) {
                println!("{}: [templates] {e:#}", path.display());
                println!("1 problem(s)");
                return Ok(Outcome { code: 1 });
            }
            println!(
                "{}: ok ({} tiers; timezone {}; mailbox {}; smtp {}{})",
                path.display(),
                c.tiers.len(),
                c.company.timezone,
                if c.imap.is_some() { "configured" } else { "not configured" },
                if c.smtp.is_some() { "configured" } else { "not configured: mail stays queued" },
                match &c.templates {
                    Some(d) => format!("; templates from {} over the built-in ones", d.display()),
                    None => String::new(),
                },
            );
            Ok(Outcome { code: 0 })
        }
        Err(e) => {
            let problems = e.problems();
            for p in &problems {
                println!("{}: {p}", path.display());
            }
            println!("{} problem(s)", problems.len());
            Ok(Outcome { code: 1 })
        }
    }
}

async fn dispatch(
    cmd: Command,
    config_path: &Path,
    config: &Config,
    store: &Store,
    now: DateTime<Utc>,
    now_given: bool,
) -> Result<Outcome> {
    let tz = config.company.timezone;
    let today = local_date(&now, tz);
    match cmd {
        Command::Init | Command::CheckConfig { .. } | Command::Parse { .. } => {
            unreachable!("handled before the database is opened")
        }
        Command::Run { catch_up } => {
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
                    s.stop.store(true, std::sync::atomic::Ordering::SeqCst);
                    s.wake.notify_one();
                    break;
                }
            });
            let _lock = crate::store::InstanceLock::acquire(&config.database.path, "billmail run")?;
            store.release_leases().await?;
            let clock = if now_given { crate::daemon::Clock::starting_at(now) } else { crate::daemon::Clock::real() };
            crate::daemon::run(config_path, config.clone(), store.clone(), signals, clock, catch_up).await?;
        }
        Command::Tick { catch_up } => {
            let _lock = crate::store::InstanceLock::acquire(&config.database.path, "billmail tick")?;
            store.release_leases().await?;
            if let Err(e) = tick(config, store, now, catch_up).await {
                store.record_event(Event::Error, now, &format!("tick: {e:#}")).await;
                return Err(e);
            }
        }
        Command::Status { json } => status(config, store, now, json).await?,
        Command::Ingest { file } => {
            // read at most one byte over the limit: a message too large is
            // refused without being held whole (an MTA then returns it to
            // its sender with this reason)
            let limit = crate::reading::MAX_MESSAGE_BYTES;
            let mut raw = Vec::new();
            let read = if file == Path::new("-") {
                std::io::Read::read_to_end(&mut std::io::Read::take(std::io::stdin(), limit as u64 + 1), &mut raw)
                    .context("reading standard input")
            } else {
                std::fs::File::open(&file)
                    .and_then(|f| std::io::Read::read_to_end(&mut std::io::Read::take(f, limit as u64 + 1), &mut raw))
                    .with_context(|| format!("cannot read {}", file.display()))
            };
            read?;
            if raw.len() > limit {
                bail!("{}: the message is over the {limit}-byte limit; not taken in", file.display());
            }
            if raw.iter().all(u8::is_ascii_whitespace) {
                bail!("{}: the message is empty", file.display());
            }
            let renderer = Renderer::for_config(config)?;
            let dkim = crate::trust::dkim::Dkim::for_config(config)?;
            let actor = crate::intake::Actor { config, renderer: &renderer, dkim: dkim.as_ref() };
            let taken = crate::intake::take_in(store, &actor, &raw, crate::intake::Origin::INGEST, now).await?;
            if !taken.duplicate {
                let detail =
                    format!("ingested message #{}: {} -> {}", taken.id, taken.kind, taken.disposition.as_str());
                store.record_event(Event::Intake, now, &detail).await;
            }
            if taken.duplicate {
                println!("message #{} was already taken in ({}); nothing done", taken.id, taken.disposition.as_str());
            } else {
                println!("message #{}: {} -> {}", taken.id, taken.kind, taken.disposition.as_str());
                for r in &taken.reasons {
                    println!("  - {r}");
                }
            }
        }
        Command::Review(ReviewCmd::List { json, all }) => {
            let items = store.reviews(!all).await?;
            if json {
                let v: Vec<Value> = items
                    .iter()
                    .map(|r| {
                        json!({"id": r.id, "message": r.message, "outbox": r.outbox, "kind": r.kind, "from": r.from, "subject": r.subject,
                               "reasons": r.reasons, "state": r.state, "created_at": r.created_at,
                               "decided_at": r.decided_at, "decision_reason": r.decision_reason})
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                for r in &items {
                    println!("#{:<5} {:<8} {:<12} {:<36} {}", r.id, r.state, r.kind, r.from, r.subject);
                    for reason in &r.reasons {
                        println!("        - {reason}");
                    }
                }
                if items.is_empty() {
                    println!("nothing waits for review");
                }
            }
        }
        Command::Review(ReviewCmd::Show { id }) => {
            let (r, reading, raw) = store.review(id).await?.ok_or_else(|| anyhow!("no review item #{id}"))?;
            println!("review #{} ({}): {} from {}", r.id, r.state, r.kind, r.from);
            println!("subject: {}", r.subject);
            for reason in &r.reasons {
                println!("  - {reason}");
            }
            if let Some(d) = &r.decision_reason {
                println!("decided {}: {d}", r.decided_at.as_deref().unwrap_or(""));
            }
            if r.message.is_some() {
                println!("\nreading:\n{}", describe_reading(&serde_json::from_str::<Value>(&reading)?));
                println!("\nmessage:\n{}", String::from_utf8_lossy(&raw));
            } else {
                println!("\nbillmail's own notice, sent to accounting to pass on:\n{}", String::from_utf8_lossy(&raw));
            }
        }
        Command::Review(ReviewCmd::Approve { id }) => {
            let renderer = Renderer::for_config(config)?;
            // a person approved it: no proof of origin is needed
            let actor = crate::intake::Actor { config, renderer: &renderer, dkim: None };
            let done = crate::intake::approve(store, &actor, id, now).await?;
            println!("review #{id} approved: {done}");
        }
        Command::Review(ReviewCmd::Reject { id, reason }) => {
            if reason.trim().is_empty() {
                bail!("--reason must say why");
            }
            let mut tx = store.begin().await?;
            tx.reject_review(id, reason.trim(), now).await?;
            tx.commit().await?;
            println!("review #{id} rejected: {}", reason.trim());
        }
        Command::Accounts(AccountsCmd::Import { file }) => {
            let rows = csvin::accounts(config, &file)?;
            let mut tx = store.begin().await?;
            let report =
                tx.import_accounts(&rows, now, today).await.map_err(|e| anyhow!("{}: {e:#}", file.display()))?;
            tx.commit().await?;
            println!(
                "{}: {} created, {} updated, {} unchanged",
                file.display(),
                report.created,
                report.updated,
                report.unchanged
            );
        }
        Command::Accounts(AccountsCmd::List { json }) => {
            // one account that cannot be read (a damaged row) is named, and the
            // others are still listed; the exit status says something is wrong
            let mut all = Vec::new();
            let mut damaged: Vec<(String, String)> = Vec::new();
            for id in store.account_ids().await? {
                match store.account_summary(&id, today).await {
                    Ok(a) => all.extend(a),
                    Err(e) => damaged.push((id, format!("{e:#}"))),
                }
            }
            if json {
                let mut rows: Vec<Value> = all.iter().map(account_json).collect();
                rows.extend(damaged.iter().map(|(id, e)| serde_json::json!({ "id": id, "error": e })));
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                for a in &all {
                    println!(
                        "{:<10} {:<28} {:<10} {:>4} FT {:>4} PT  {:<12} balance {:>10}  credit {:>9}",
                        a.id, a.name, a.tier, a.counts.full_time, a.counts.part_time, a.status, a.balance, a.credit
                    );
                }
                for (id, _) in &damaged {
                    println!("{id:<10} cannot be read (see below)");
                }
                if all.is_empty() && damaged.is_empty() {
                    println!("no accounts yet: `billmail accounts import accounts.csv`");
                }
            }
            if !damaged.is_empty() {
                for (id, e) in &damaged {
                    eprintln!("billmail: account {id} cannot be read: {e}");
                }
                return Ok(Outcome { code: 1 });
            }
        }
        Command::Accounts(AccountsCmd::Show { id, json }) => {
            let id = stored_id(store, &id).await?;
            let a = store.account_summary(&id, today).await?.ok_or_else(|| anyhow!("no account {id:?}"))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&account_json(&a))?);
            } else {
                print_account(&a, &config.company.currency);
            }
        }
        Command::Accounts(AccountsCmd::Contacts { id, restore }) => {
            let id = stored_id(store, &id).await?;
            if store.account_summary(&id, today).await?.is_none() {
                bail!("no account {id:?}");
            }
            if let Some(address) = restore {
                let address = address.trim().to_ascii_lowercase();
                let mut tx = store.begin().await?;
                let why = "restored by hand (accounts contacts --restore)";
                if !tx.restore_contact(&id, &address, why, now).await? {
                    bail!("{address} is not a flagged contact of {id}");
                }
                tx.commit().await?;
                println!("{address} restored: {id}'s mail goes to it again");
            }
            let mut tx = store.begin().await?;
            for (email, role, bounced) in tx.contacts_of(&id).await? {
                let flag = bounced.map(|b| format!("  bounced {b}: no mail goes here")).unwrap_or_default();
                println!("{role:<10} {email}{flag}");
            }
            tx.commit().await?;
        }
        Command::Accounts(AccountsCmd::History { id, json }) => {
            let id = stored_id(store, &id).await?;
            if store.account_summary(&id, today).await?.is_none() {
                bail!("no account {id:?}");
            }
            let h = store.history_of(&id).await?;
            if json {
                let v: Vec<Value> = h.iter().map(|e| json!({"at": e.at, "kind": e.kind, "detail": e.detail})).collect();
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                for e in h {
                    println!("{}  {:<12} {}", e.at, e.kind, e.detail);
                }
            }
        }
        Command::Subscriptions(SubscriptionsCmd::Import { file, override_hold }) => {
            let mut rows = csvin::subscriptions(&file)?;
            for row in &mut rows {
                // `acme` in the file is the account stored as `ACME`
                row.account =
                    AccountId::parse(&stored_id(store, row.account.as_str()).await?).map_err(|e| anyhow!(e))?;
            }
            let mut tx = store.begin().await?;
            tx.check_hold_for_subscriptions(&rows, override_hold, now)
                .await
                .map_err(|e| anyhow!("{}: {e:#}", file.display()))?;
            let report = tx
                .import_subscriptions(&rows, &config.company.currency, now, local_time(&now, tz))
                .await
                .map_err(|e| anyhow!("{}: {e:#}", file.display()))?;
            tx.commit().await?;
            println!(
                "{}: {} started, {} changed or ended, {} unchanged",
                file.display(),
                report.created,
                report.updated,
                report.unchanged
            );
        }
        Command::Service(ServiceCmd::Add(a)) => {
            let id = AccountId::parse(&stored_id(store, &a.account).await?).map_err(|e| anyhow!(e))?;
            let date = NaiveDate::parse_from_str(&a.date, "%Y-%m-%d")
                .map_err(|_| anyhow!("--date {:?} is not YYYY-MM-DD", a.date))?;
            let hours = crate::domain::limits::hours(&a.hours).map_err(|e| anyhow!("--hours: {e}"))?;
            let rate = Money::parse(&a.rate).map_err(|e| anyhow!("--rate: {e}"))?;
            let rate = crate::domain::limits::price(rate, "--rate").map_err(|e| anyhow!(e))?;
            if a.engineer.trim().is_empty() || a.description.trim().is_empty() {
                bail!("--engineer and --description must not be empty");
            }
            // priced before anything is written
            let amount = crate::domain::Line::priced(String::new(), hours, rate, None).map_err(|e| anyhow!(e))?.amount;
            let mut tx = store.begin().await?;
            tx.check_hold(id.as_str(), "new work", a.override_hold, now).await?;
            let entry = tx
                .add_service(
                    id.as_str(),
                    date,
                    a.engineer.trim(),
                    hours,
                    rate,
                    &config.company.currency,
                    a.description.trim(),
                    now,
                    local_time(&now, tz),
                )
                .await?;
            tx.commit().await?;
            println!(
                "recorded work #{entry} for {id}: {hours} h x {} = {}; invoiced on the next cycle",
                rate.display_in(&config.company.currency),
                amount.display_in(&config.company.currency)
            );
        }
        Command::Invoices(InvoicesCmd::List { account, json }) => {
            let account = match account {
                Some(a) => Some(stored_id(store, &a).await?),
                None => None,
            };
            let list = store.invoices(account.as_deref(), false).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list.iter().map(invoice_json).collect::<Vec<_>>())?);
            } else {
                for i in &list {
                    println!(
                        "{:<16} {:<10} {:<9} {:<10} issued {} due {}  total {:>10}  balance {:>10}  {}",
                        i.number,
                        i.account,
                        i.kind.as_str(),
                        i.period,
                        i.issued,
                        i.due,
                        i.total,
                        i.balance,
                        i.status
                    );
                }
            }
        }
        Command::Invoices(InvoicesCmd::Show { number, format }) => {
            let (inv, lines) = store.invoice(&number).await?.ok_or_else(|| anyhow!("no invoice {number:?}"))?;
            match format.as_str() {
                "json" => {
                    let mut v = invoice_json(&inv);
                    v["account_name"] = json!(inv.account_name);
                    v["currency"] = json!(inv.currency);
                    v["credit_applied"] = json!(inv.credit_applied.to_string());
                    v["paid"] = json!(inv.paid.to_string());
                    v["full_time_users"] = json!(inv.full_time_users);
                    v["part_time_users"] = json!(inv.part_time_users);
                    v["lines"] = lines
                        .iter()
                        .map(|l| {
                            json!({
                                "description": l.description,
                                "quantity": l.quantity.normalize().to_string(),
                                "unit_price": l.unit_price.to_string(),
                                "proration": l.proration.map(|p| json!({"days": p.days, "days_in_month": p.days_in_month})),
                                "amount": l.amount.to_string(),
                            })
                        })
                        .collect();
                    println!("{}", serde_json::to_string_pretty(&v)?);
                }
                fmt => {
                    let doc = InvoiceDoc {
                        number: inv.number.clone(),
                        account_id: inv.account.clone(),
                        account_name: inv.account_name.clone(),
                        kind: inv.kind,
                        period: inv.period.clone(),
                        issued: inv.issued,
                        due: inv.due,
                        currency: inv.currency.clone(),
                        lines,
                        total: inv.total,
                        credit_applied: inv.credit_applied,
                        counts: inv
                            .full_time_users
                            .zip(inv.part_time_users)
                            .map(|(f, p)| crate::domain::UserCounts { full_time: f, part_time: p }),
                        tier_label: inv.tier_label.clone(),
                        users: inv.users.clone(),
                    };
                    let r = Renderer::for_config(config)?.invoice(&config.company, &doc)?;
                    if fmt == "html" {
                        print!("{}", r.html);
                    } else {
                        println!("Subject: {}\n", r.subject);
                        print!("{}", r.text);
                    }
                }
            }
        }
        Command::Payments(PaymentsCmd::Record { account, amount, method, reference, invoices }) => {
            let id = AccountId::parse(&stored_id(store, &account).await?).map_err(|e| anyhow!(e))?;
            let amount = Money::parse(&amount).map_err(|e| anyhow!("--amount: {e}"))?;
            if !amount.is_positive() {
                bail!("--amount must be more than 0");
            }
            let invoices: Vec<String> = invoices.iter().map(|n| n.trim().to_ascii_uppercase()).collect();
            let mut tx = store.begin().await?;
            let out = tx
                .record_payment(
                    id.as_str(),
                    amount,
                    &config.company.currency,
                    &method,
                    reference.as_deref(),
                    "manual",
                    today,
                    &invoices,
                    now,
                )
                .await?;
            tx.commit().await?;
            let cur = &config.company.currency;
            println!("recorded payment #{} for {id}: {} by {method}", out.payment_id, amount.display_in(cur));
            for (n, a) in &out.applied {
                println!("  {} applied to {n}", a.display_in(cur));
            }
            if out.credit.is_positive() {
                println!("  {} kept as credit for the next invoice", out.credit.display_in(cur));
            }
        }
        Command::Report(ReportCmd::Aging { json }) => {
            use crate::domain::aging::{BUCKETS, aging};
            let mut open: Vec<(String, String, NaiveDate, Money)> = store
                .invoices(None, true)
                .await?
                .into_iter()
                .map(|i| (i.account, i.account_name, i.due, i.balance))
                .collect();
            open.sort_by(|a, b| (&a.0, a.2).cmp(&(&b.0, b.2)));
            let (rows, totals, total) = aging(&open, today);
            let cur = &config.company.currency;
            if json {
                let bucket_obj = |b: &[Money; 5]| {
                    let mut m = serde_json::Map::new();
                    for (name, v) in BUCKETS.iter().zip(b) {
                        m.insert((*name).to_string(), json!(v.to_string()));
                    }
                    m
                };
                let accounts: Vec<Value> = rows
                    .iter()
                    .map(|r| {
                        let mut o = bucket_obj(&r.buckets);
                        o.insert("account".into(), json!(r.account));
                        o.insert("name".into(), json!(r.name));
                        o.insert("total".into(), json!(r.total.to_string()));
                        Value::Object(o)
                    })
                    .collect();
                let mut t = bucket_obj(&totals);
                t.insert("total".into(), json!(total.to_string()));
                println!(
                    "{}",
                    serde_json::to_string_pretty(
                        &json!({"as_of": today.to_string(), "currency": cur, "accounts": accounts, "totals": t})
                    )?
                );
            } else {
                println!("Aging of open invoices at {today} ({cur}), by days past due");
                println!(
                    "{:<10} {:<26} {:>11} {:>11} {:>11} {:>11} {:>11} {:>12}",
                    "account", "name", "current", "1-30", "31-60", "61-90", "90+", "total"
                );
                for r in &rows {
                    let b: Vec<String> = r.buckets.iter().map(|m| m.grouped()).collect();
                    println!(
                        "{:<10} {:<26} {:>11} {:>11} {:>11} {:>11} {:>11} {:>12}",
                        r.account,
                        r.name,
                        b[0],
                        b[1],
                        b[2],
                        b[3],
                        b[4],
                        r.total.grouped()
                    );
                }
                let b: Vec<String> = totals.iter().map(|m| m.grouped()).collect();
                println!(
                    "{:<10} {:<26} {:>11} {:>11} {:>11} {:>11} {:>11} {:>12}",
                    "TOTAL",
                    "",
                    b[0],
                    b[1],
                    b[2],
                    b[3],
                    b[4],
                    total.grouped()
                );
            }
        }
        Command::Outbox(OutboxCmd::List { json }) => {
            let list = store.outbox().await?;
            if json {
                let v: Vec<Value> = list
                    .iter()
                    .map(|m| {
                        json!({
                            "id": m.id, "kind": m.kind, "account": m.account, "to": m.to, "cc": m.cc,
                            "subject": m.subject, "message_id": m.message_id, "in_reply_to": m.in_reply_to, "state": m.state,
                            "attempts": m.attempts, "next_attempt_at": m.next_attempt_at,
                            "last_error": m.last_error, "created_at": m.created_at, "sent_at": m.sent_at,
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                for m in &list {
                    println!(
                        "#{:<5} {:<7} {:<20} attempts {}  to {}  {}{}",
                        m.id,
                        m.state,
                        m.kind,
                        m.attempts,
                        m.to.join(", "),
                        m.subject,
                        m.last_error.as_ref().map(|e| format!("  [{e}]")).unwrap_or_default()
                    );
                }
                if list.is_empty() {
                    println!("the outbox is empty");
                }
            }
        }
        Command::Outbox(OutboxCmd::Retry { id }) => {
            let Retry::Requeued { attempts } = store.retry_mail(id, now).await?;
            println!(
                "message #{id} is queued again (it had failed after {attempts} attempt(s)); it goes out on the next cycle"
            );
        }
        Command::Outbox(OutboxCmd::Show { id, html }) => {
            let (subject, text, body_html) =
                store.outbox_bodies(id).await?.ok_or_else(|| anyhow!("no outgoing message #{id}"))?;
            if html {
                print!("{body_html}");
            } else {
                println!("Subject: {subject}\n");
                print!("{text}");
            }
        }
    }
    Ok(Outcome { code: 0 })
}

async fn tick(config: &Config, store: &Store, now: DateTime<Utc>, catch_up: bool) -> Result<()> {
    let local = local_time(&now, config.company.timezone);
    println!("tick at {} ({})", local.format("%Y-%m-%d %H:%M"), config.company.timezone);
    let tokens = crate::mail::token_source(config)?;
    let renderer = Renderer::for_config(config)?;
    if let Some(imap) = &config.imap {
        let mut mailbox =
            crate::mail::imap::Mailbox::connect(imap, tokens.as_deref(), now).await.context("the mailbox")?;
        let dkim = crate::trust::dkim::Dkim::for_config(config)?;
        let actor = crate::intake::Actor { config, renderer: &renderer, dkim: dkim.as_ref() };
        let report = mailbox.intake(imap, &actor, store, now).await.context("reading the mailbox")?;
        mailbox.logout().await;
        for t in report.taken.iter().filter(|t| !t.duplicate) {
            println!("read #{}: {} \"{}\" -> {}", t.id, t.kind, t.subject, t.disposition.as_str());
        }
        println!("intake: {}", report.summary());
        store.record_event(Event::Intake, now, &report.summary()).await;
    }
    // a clock set back runs nothing scheduled (it would undo and redo holds)
    if let Some(why) = engine::clock_went_back(store, now).await? {
        println!("{why}");
        store.record_event(Event::Error, now, &why).await;
        return Ok(());
    }
    let issued = engine::run_billing(config, store, &renderer, now, catch_up).await.context("billing")?;
    let cur = &config.company.currency;
    for i in &issued {
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
    let collections = engine::run_collections(config, store, &renderer, now).await.context("collections")?;
    for line in &collections.lines {
        println!("collections: {line}");
    }
    let mut delivery = None;
    if let Some(smtp) = &config.smtp {
        let sender = crate::mail::smtp::Sender::new(smtp, tokens.clone())?;
        let d = engine::deliver(store, &sender, now).await.context("sending the outbox")?;
        if let Some(problem) = d.problem() {
            store.record_event(Event::Error, now, &problem).await;
        }
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
        delivery = Some(d);
    }
    store.record_event(Event::Cycle, now, &engine::cycle_summary(issued.len(), &collections, delivery.as_ref())).await;
    let (queued, failed, _) = store.outbox_counts().await?;
    let note = if config.smtp.is_none() { " (no [smtp] configured: mail stays queued)" } else { "" };
    println!("outbox: {queued} queued, {failed} failed{note}");
    Ok(())
}

async fn status(config: &Config, store: &Store, now: DateTime<Utc>, json: bool) -> Result<()> {
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

fn invoice_json(i: &InvoiceRecord) -> Value {
    json!({
        "number": i.number,
        "account": i.account,
        "kind": i.kind.as_str(),
        "period": i.period,
        "issued": i.issued.to_string(),
        "due": i.due.to_string(),
        "total": i.total.to_string(),
        "balance": i.balance.to_string(),
        "status": i.status,
    })
}

fn account_json(a: &AccountSummary) -> Value {
    json!({
        "id": a.id,
        "name": a.name,
        "tier": a.tier,
        "full_time_users": a.counts.full_time,
        "part_time_users": a.counts.part_time,
        "status": a.status,
        "status_since": a.status_since,
        "balance": a.balance.to_string(),
        "credit": a.credit.to_string(),
        "first_period": a.first_period,
        "billing_emails": a.billing_emails.iter().map(|(e, b)| json!({"email": e, "bounced_at": b})).collect::<Vec<_>>(),
        "authorized_emails": a.authorized_emails.iter().map(|(e, b)| json!({"email": e, "bounced_at": b})).collect::<Vec<_>>(),
        "open_invoices": a.open_invoices.iter().map(|i| {
            let mut v = invoice_json(i);
            if let Some(o) = v.as_object_mut() {
                o.remove("account");
                o.remove("status");
            }
            v
        }).collect::<Vec<_>>(),
    })
}

fn print_account(a: &AccountSummary, cur: &str) {
    println!("{} — {}", a.id, a.name);
    println!("  tier:      {}", a.tier);
    println!("  users:     {} full-time, {} part-time", a.counts.full_time, a.counts.part_time);
    match &a.status_since {
        Some(s) if a.status != "active" => println!("  status:    {} since {s}", a.status),
        _ => println!("  status:    {}", a.status),
    }
    println!("  first agreement month billed: {}", a.first_period);
    for (role, list) in [("billing", &a.billing_emails), ("authorized", &a.authorized_emails)] {
        for (e, bounced) in list {
            match bounced {
                Some(b) => println!("  {role:<10} {e} (BOUNCED {b})"),
                None => println!("  {role:<10} {e}"),
            }
        }
    }
    println!("  balance:   {}", a.balance.display_in(cur));
    println!("  credit:    {}", a.credit.display_in(cur));
    if a.open_invoices.is_empty() {
        println!("  no open invoices");
    }
    for i in &a.open_invoices {
        let kind = match i.kind {
            InvoiceKind::Agreement => "agreement",
            InvoiceKind::Recurring => "recurring",
            InvoiceKind::Service => "service",
        };
        println!(
            "  open {} {kind} {} issued {} due {}: total {}, owed {}",
            i.number,
            i.period,
            i.issued,
            i.due,
            i.total.display_in(cur),
            i.balance.display_in(cur)
        );
    }
}
