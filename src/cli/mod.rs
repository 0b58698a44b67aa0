//! The command line: arguments, one call per command, printing. Errors
//! become one line on standard error (see `main.rs`).

mod accounts;
mod csvin;
mod cycle;
mod export;
mod invoices;
mod messages;
mod outbox;
mod setup;
mod users;

use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow};
use chrono::{DateTime, NaiveDate, Utc};
use clap::{Parser, Subcommand};

pub use accounts::{AccountsCmd, ServiceAdd, ServiceCmd, SubscriptionsCmd};
pub use invoices::{InvoicesCmd, PaymentsCmd, ReportCmd};
pub use messages::ReviewCmd;
pub use outbox::OutboxCmd;
pub use users::UsersCmd;

use crate::config::Config;
use crate::domain::AccountId;
use crate::domain::calendar::local_date;
use crate::store::Store;

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
    /// What was issued and received, as files for the books: quickbooks-online,
    /// xero, iif (QuickBooks Desktop) or journal (double-entry CSV).
    Export {
        #[arg(value_parser = ["quickbooks-online", "xero", "iif", "journal"])]
        format: String,
        /// The first day (YYYY-MM-DD) of documents to export, with --to.
        #[arg(long)]
        from: Option<String>,
        /// The last day (YYYY-MM-DD), with --from.
        #[arg(long)]
        to: Option<String>,
        /// Everything this format has not exported yet.
        #[arg(long)]
        since_last: bool,
        /// The folder the files go in.
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
    /// An account's statement for a month (as sent, if it was; else as the books say now).
    Statement {
        account: String,
        /// The month, YYYY-MM (default: the month before --now).
        #[arg(long)]
        month: Option<String>,
        #[arg(long, default_value = "text", value_parser = ["text", "html", "json", "pdf"])]
        format: String,
        /// Write it to this file instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// The web console's users.
    #[command(subcommand)]
    Users(UsersCmd),
    /// Serve the web console alone (`[web] listen`), for a machine that
    /// only serves it; `billmail run` serves it too when `[web]` is set.
    Web,
    /// Makes PDFs for the billmail process that started it (frames on
    /// standard input and output; see `pdf.rs`), until its input ends.
    #[command(hide = true)]
    PdfWorker,
    /// The daemon's child that runs one cycle: its job (config, moment)
    /// as JSON on standard input, one line of JSON saying how it went on
    /// standard output; see `daemon.rs`.
    #[command(hide = true)]
    CycleWorker,
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

/// What every command that works on the books is given.
#[derive(Clone, Copy)]
struct Ctx<'a> {
    config: &'a Config,
    store: &'a Store,
    now: DateTime<Utc>,
    /// `now`'s date in the company's timezone.
    today: NaiveDate,
}

pub async fn run(cli: Cli) -> Result<Outcome> {
    let now = cli.now.unwrap_or_else(Utc::now);
    if let Command::CheckConfig { online } = cli.command {
        let outcome = setup::check_config(&cli.config)?;
        if online && outcome.code == 0 {
            let config = Config::load(&cli.config).map_err(|e| anyhow!("{}", e.problems().join("; ")))?;
            return setup::check_mailbox(&config, now).await;
        }
        return Ok(outcome);
    }
    if let Command::PdfWorker = cli.command {
        crate::pdf::serve(&mut std::io::stdin().lock(), &mut std::io::stdout().lock())?;
        return Ok(Outcome { code: 0 });
    }
    if let Command::Parse { file, json } = &cli.command {
        return messages::parse(file, *json);
    }
    if let Command::CycleWorker = cli.command {
        return cycle::worker(&cli.config).await;
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
        return setup::init(&config).await;
    }
    let store = Store::open(&config.database.path).await?;
    // the commands that start work or report on it first check that the
    // file is sound: damage inside it would otherwise go unnoticed until a
    // bill came out wrong
    if matches!(cli.command, Command::Run { .. } | Command::Tick { .. } | Command::Status { .. }) {
        store.ensure_sound(&config.database.path).await?;
    }
    let c = Ctx { config: &config, store: &store, now, today: local_date(&now, config.company.timezone) };
    let result = dispatch(cli.command, &cli.config, &c, cli.now.is_some()).await;
    store.close().await;
    result
}

/// Each command group to its module.
async fn dispatch(cmd: Command, config_path: &Path, c: &Ctx<'_>, now_given: bool) -> Result<Outcome> {
    match cmd {
        Command::Init
        | Command::CheckConfig { .. }
        | Command::Parse { .. }
        | Command::PdfWorker
        | Command::CycleWorker => {
            unreachable!("handled before the database is opened")
        }
        Command::Run { catch_up } => cycle::run(config_path, c, now_given, catch_up).await,
        Command::Tick { catch_up } => cycle::tick_locked(c, catch_up).await,
        Command::Status { json } => cycle::status(c.config, c.store, c.now, json).await.map(|()| Outcome { code: 0 }),
        Command::Ingest { file } => messages::ingest(file, c).await,
        Command::Review(cmd) => messages::review(cmd, c).await,
        Command::Accounts(cmd) => accounts::accounts(cmd, c).await,
        Command::Subscriptions(cmd) => accounts::subscriptions(cmd, c).await,
        Command::Service(cmd) => accounts::service(cmd, c).await,
        Command::Invoices(cmd) => invoices::invoices(cmd, c).await,
        Command::Payments(cmd) => invoices::payments(cmd, c).await,
        Command::Report(cmd) => invoices::report(cmd, c).await,
        Command::Outbox(cmd) => outbox::outbox(cmd, c).await,
        Command::Users(cmd) => users::users(cmd, c).await,
        Command::Web => cycle::web(c, now_given).await,
        Command::Export { format, from, to, since_last, out } => {
            export::run(&format, from.as_deref(), to.as_deref(), since_last, &out, c).await
        }
        Command::Statement { account, month, format, output } => {
            invoices::statement(&account, month.as_deref(), &format, output.as_deref(), c).await
        }
    }
}

/// A date given on the command line (`--date`, `--from`, `--to`).
fn flag_date(flag: &str, s: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| anyhow!("{flag} {s:?} is not YYYY-MM-DD"))
}

/// The account an id typed by a person names, whatever its case (`acme` is
/// `ACME`: an account code is one account however it is typed); None when
/// there is no such account.
async fn find_account(store: &Store, id: &str) -> Result<Option<AccountId>> {
    store.account_named(id).await
}

/// The account an id typed by a person names; one clear refusal when there
/// is none, before anything is written.
async fn stored_id(store: &Store, id: &str) -> Result<AccountId> {
    find_account(store, id).await?.ok_or_else(|| anyhow!("no account {:?}", id.trim()))
}
