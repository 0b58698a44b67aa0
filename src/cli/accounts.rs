//! `accounts`, `subscriptions` and `service`: the customers and what they are billed for.

use std::path::PathBuf;

use anyhow::{Result, anyhow, bail};
use clap::{Args, Subcommand};
use serde::Serialize;

use super::invoices::InvoiceView;
use super::{Ctx, Outcome, csvin, find_account, stored_id};
use crate::domain::calendar::local_time;
use crate::domain::collections::{buys_more, purchase};
use crate::domain::{AccountId, InvoiceKind, Money};
use crate::store::AccountSummary;

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
    /// Place a hold by hand; the customer is told, with the reason. The
    /// rules never lift it: `accounts release` does.
    Hold {
        id: String,
        #[arg(long, value_parser = ["credit_hold", "service_hold"])]
        standing: String,
        /// Why, in words the customer reads.
        #[arg(long)]
        reason: String,
    },
    /// Release a hold by hand (a payment plan, a dispute); the customer is
    /// told, with the reason. No hold is placed by the rules before --until.
    Release {
        id: String,
        /// The day the rules may hold the account again (YYYY-MM-DD, after today).
        #[arg(long)]
        until: String,
        /// Why, in words the customer reads.
        #[arg(long)]
        reason: String,
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

pub(super) async fn accounts(cmd: AccountsCmd, c: &Ctx<'_>) -> Result<Outcome> {
    let Ctx { config, store, now, today } = *c;
    match cmd {
        AccountsCmd::Import { file } => {
            let rows = csvin::accounts(config, &file)?;
            let mut tx = store.begin().await?;
            let report = crate::imports::accounts(&mut tx, &rows, now, today)
                .await
                .map_err(|e| anyhow!("{}: {e:#}", file.display()))?;
            tx.commit().await?;
            println!(
                "{}: {} created, {} updated, {} unchanged",
                file.display(),
                report.created,
                report.updated,
                report.unchanged
            );
        }
        AccountsCmd::List { json } => {
            // one account that cannot be read (a damaged row) is named, and the
            // others are still listed; the exit status says something is wrong
            let mut all = Vec::new();
            let mut damaged: Vec<(AccountId, String)> = Vec::new();
            for id in store.account_ids().await? {
                match store.account_summary(&id, today).await {
                    Ok(a) => all.extend(a),
                    Err(e) => damaged.push((id, format!("{e:#}"))),
                }
            }
            if json {
                let mut rows: Vec<serde_json::Value> =
                    all.iter().map(|a| serde_json::to_value(AccountView::of(a))).collect::<Result<_, _>>()?;
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
        AccountsCmd::Show { id, json } => {
            let id = stored_id(store, &id).await?;
            let a = store.account_summary(&id, today).await?.ok_or_else(|| anyhow!("no account {:?}", id.as_str()))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&AccountView::of(&a))?);
            } else {
                print_account(&a, &config.company.currency);
            }
        }
        AccountsCmd::Contacts { id, restore } => {
            let id = stored_id(store, &id).await?;
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
        AccountsCmd::Hold { id, standing, reason } => {
            let id = stored_id(store, &id).await?;
            let to = crate::domain::collections::Standing::parse(&standing);
            let renderer = crate::render::Renderer::for_config(config)?;
            let line =
                crate::engine::hold_by_hand(config, store, &renderer, &id, to, None, &reason, "cli", now).await?;
            println!("{line}; the customer is told");
        }
        AccountsCmd::Release { id, until, reason } => {
            let id = stored_id(store, &id).await?;
            let until = super::flag_date("--until", &until)?;
            let renderer = crate::render::Renderer::for_config(config)?;
            let to = crate::domain::collections::Standing::Active;
            let line = crate::engine::hold_by_hand(config, store, &renderer, &id, to, Some(until), &reason, "cli", now)
                .await?;
            println!("{line}; the customer is told");
        }
        AccountsCmd::History { id, json } => {
            let id = stored_id(store, &id).await?;
            let h = store.history_of(&id).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&h)?);
            } else {
                for e in h {
                    println!("{}  {:<12} {}", e.at, e.kind, e.detail);
                }
            }
        }
    }
    Ok(Outcome { code: 0 })
}

pub(super) async fn subscriptions(cmd: SubscriptionsCmd, c: &Ctx<'_>) -> Result<Outcome> {
    let Ctx { config, store, now, .. } = *c;
    let tz = config.company.timezone;
    match cmd {
        SubscriptionsCmd::Import { file, override_hold } => {
            let mut rows = csvin::subscriptions(&file)?;
            for row in &mut rows {
                // `acme` in the file is the account stored as `ACME`
                row.account = find_account(store, row.account.as_str()).await?.ok_or_else(|| {
                    anyhow!(
                        "{}: line {}: no account {:?} (import accounts first)",
                        file.display(),
                        row.line,
                        row.account.as_str()
                    )
                })?;
            }
            let mut tx = store.begin().await?;
            // more of anything is a new purchase: refused on hold unless overridden
            for row in &rows {
                let current = tx.subscription_quantity(&row.account, &row.product).await?;
                if let Some(what) = buys_more(&row.product, current, row.quantity) {
                    on_hold_guard(&mut tx, &row.account, &what, override_hold, now)
                        .await
                        .map_err(|e| anyhow!("{}: line {}: {e:#}", file.display(), row.line))?;
                }
            }
            let report =
                crate::imports::subscriptions(&mut tx, &rows, &config.company.currency, now, local_time(&now, tz))
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
    }
    Ok(Outcome { code: 0 })
}

pub(super) async fn service(cmd: ServiceCmd, c: &Ctx<'_>) -> Result<Outcome> {
    let Ctx { config, store, now, .. } = *c;
    let tz = config.company.timezone;
    match cmd {
        ServiceCmd::Add(a) => {
            let id = stored_id(store, &a.account).await?;
            let date = super::flag_date("--date", &a.date)?;
            let hours = crate::domain::limits::hours(&a.hours).map_err(|e| anyhow!("--hours: {e}"))?;
            let rate = Money::parse(&a.rate).map_err(|e| anyhow!("--rate: {e}"))?;
            let rate = crate::domain::limits::price(rate, "--rate").map_err(|e| anyhow!(e))?;
            if a.engineer.trim().is_empty() || a.description.trim().is_empty() {
                bail!("--engineer and --description must not be empty");
            }
            // priced before anything is written
            let amount =
                crate::domain::Line::priced(crate::domain::LineCategory::Service, String::new(), hours, rate, None)
                    .map_err(|e| anyhow!(e))?
                    .amount;
            let mut tx = store.begin().await?;
            on_hold_guard(&mut tx, &id, "new work", a.override_hold, now).await?;
            let entry = tx
                .add_service(
                    &id,
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
    }
    Ok(Outcome { code: 0 })
}

/// An account as `accounts list --json` and `accounts show --json` print it.
#[derive(Serialize)]
struct AccountView<'a> {
    id: &'a AccountId,
    name: &'a str,
    tier: &'a str,
    full_time_users: i64,
    part_time_users: i64,
    status: &'a str,
    status_since: Option<&'a str>,
    balance: String,
    credit: String,
    first_period: &'a str,
    billing_emails: Vec<ContactView<'a>>,
    authorized_emails: Vec<ContactView<'a>>,
    open_invoices: Vec<InvoiceView<'a>>,
}

#[derive(Serialize)]
struct ContactView<'a> {
    email: &'a str,
    bounced_at: Option<&'a str>,
}

impl<'a> AccountView<'a> {
    fn of(a: &'a AccountSummary) -> AccountView<'a> {
        let contacts = |list: &'a [(String, Option<String>)]| {
            list.iter().map(|(e, b)| ContactView { email: e, bounced_at: b.as_deref() }).collect()
        };
        AccountView {
            id: &a.id,
            name: &a.name,
            tier: &a.tier,
            full_time_users: a.counts.full_time,
            part_time_users: a.counts.part_time,
            status: &a.status,
            status_since: a.status_since.as_deref(),
            balance: a.balance.to_string(),
            credit: a.credit.to_string(),
            first_period: &a.first_period,
            billing_emails: contacts(&a.billing_emails),
            authorized_emails: contacts(&a.authorized_emails),
            // the account's own: without the account and status columns
            open_invoices: a.open_invoices.iter().map(InvoiceView::within_account).collect(),
        }
    }
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

/// A new purchase (`what`) for `account`: refused while it is on hold
/// (`domain::collections::purchase`), unless overridden, and then the
/// override is in the account's history.
async fn on_hold_guard(
    tx: &mut crate::store::Tx,
    account: &AccountId,
    what: &str,
    override_hold: bool,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<()> {
    let (standing, since) = tx.standing(account).await?;
    if let Some(note) = purchase(account, standing, since.as_deref(), what, override_hold)? {
        tx.history(account, now, "override", &note).await?;
    }
    Ok(())
}
