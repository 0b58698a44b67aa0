//! `invoices`, `payments` and `report`: what was billed, what was paid, what is owed.

use anyhow::{Result, anyhow, bail};
use clap::Subcommand;
use serde::Serialize;
use serde_json::{Value, json};

use super::{Ctx, Outcome, stored_id};
use crate::domain::{AccountId, InvoiceNumber, Money};
use crate::render::{InvoiceDoc, Renderer};
use crate::store::InvoiceRecord;

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
        #[arg(long, default_value = "text", value_parser = ["text", "html", "json", "pdf"])]
        format: String,
        /// Write it to this file instead of standard output.
        #[arg(long)]
        output: Option<std::path::PathBuf>,
    },
    /// Void an invoice issued in error: it is owed no more (reminders and
    /// holds stop counting it), what was paid on it becomes the account's
    /// credit, and exports reverse it on the day it was voided.
    Void {
        number: String,
        /// Why (kept in the account's history and in the books' memo).
        #[arg(long)]
        reason: String,
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

pub(super) async fn invoices(cmd: InvoicesCmd, c: &Ctx<'_>) -> Result<Outcome> {
    let Ctx { config, store, .. } = *c;
    match cmd {
        InvoicesCmd::List { account, json } => {
            let account = match account {
                Some(a) => Some(stored_id(store, &a).await?),
                None => None,
            };
            let list = store.invoices(account.as_ref(), false).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list.iter().map(InvoiceView::of).collect::<Vec<_>>())?);
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
        InvoicesCmd::Show { number, format, output } => {
            let (inv, lines) = store.invoice(&number).await?.ok_or_else(|| anyhow!("no invoice {number:?}"))?;
            let bytes = match format.as_str() {
                "json" => {
                    let mut v = serde_json::to_value(InvoiceView::of(&inv))?;
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
                    format!("{}\n", serde_json::to_string_pretty(&v)?).into_bytes()
                }
                fmt => {
                    let doc = InvoiceDoc::of(&inv, lines, store.time_entries(inv.id).await?);
                    let renderer = Renderer::for_config(config)?;
                    match fmt {
                        "pdf" => renderer.invoice_pdf(&config.company, &doc)?,
                        "html" => renderer.invoice(&config.company, &doc)?.html.into_bytes(),
                        _ => {
                            let r = renderer.invoice(&config.company, &doc)?;
                            format!("Subject: {}\n\n{}", r.subject, r.text).into_bytes()
                        }
                    }
                }
            };
            write_out(output.as_deref(), &bytes, format == "pdf")?;
        }
        InvoicesCmd::Void { number, reason } => {
            let reason = reason.trim();
            if reason.is_empty() {
                bail!("--reason must say why the invoice is void");
            }
            let Ctx { now, today, .. } = *c;
            let mut tx = store.begin().await?;
            let v = tx.void_invoice(&number, reason, today, now).await?;
            tx.commit().await?;
            let cur = &config.company.currency;
            println!("{} ({}, {}) is void: {reason}", v.number, v.account, v.total.display_in(cur));
            for (payment, amount) in &v.released {
                println!("  {} of payment #{payment} kept as credit for the next invoice", amount.display_in(cur));
            }
        }
    }
    Ok(Outcome { code: 0 })
}

pub(super) async fn payments(cmd: PaymentsCmd, c: &Ctx<'_>) -> Result<Outcome> {
    let Ctx { config, store, now, today } = *c;
    match cmd {
        PaymentsCmd::Record { account, amount, method, reference, invoices } => {
            let id = stored_id(store, &account).await?;
            let amount = Money::parse(&amount).map_err(|e| anyhow!("--amount: {e}"))?;
            if !amount.is_positive() {
                bail!("--amount must be more than 0");
            }
            let invoices: Vec<InvoiceNumber> = invoices.iter().map(|n| InvoiceNumber::new(n)).collect();
            let hand = crate::by_hand::HandPayment {
                amount,
                method: &method,
                reference: reference.as_deref(),
                invoices: &invoices,
                received_on: today,
                by: "cli",
            };
            let (payment_id, plan) = crate::by_hand::record_payment(store, config, &id, &hand, now).await?;
            let cur = &config.company.currency;
            println!("recorded payment #{payment_id} for {id}: {} by {method}", amount.display_in(cur));
            for (n, a) in &plan.applied() {
                println!("  {} applied to {n}", a.display_in(cur));
            }
            if plan.credit.is_positive() {
                println!("  {} kept as credit for the next invoice", plan.credit.display_in(cur));
            }
        }
    }
    Ok(Outcome { code: 0 })
}

pub(super) async fn report(cmd: ReportCmd, c: &Ctx<'_>) -> Result<Outcome> {
    let Ctx { config, store, today, .. } = *c;
    match cmd {
        ReportCmd::Aging { json } => {
            use crate::domain::aging::{BUCKETS, aging};
            let open = store.open_balances(None).await?;
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
    }
    Ok(Outcome { code: 0 })
}

/// An invoice as `invoices list --json` prints it (and, without account and
/// status, as an account's open invoice).
#[derive(Serialize)]
pub(super) struct InvoiceView<'a> {
    number: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    account: Option<&'a AccountId>,
    kind: &'static str,
    period: String,
    issued: String,
    due: String,
    total: String,
    balance: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<&'a str>,
}

impl<'a> InvoiceView<'a> {
    pub(super) fn of(i: &'a InvoiceRecord) -> InvoiceView<'a> {
        InvoiceView {
            number: &i.number,
            account: Some(&i.account),
            kind: i.kind.as_str(),
            period: i.period.to_string(),
            issued: i.issued.to_string(),
            due: i.due.to_string(),
            total: i.total.to_string(),
            balance: i.balance.to_string(),
            status: Some(&i.status),
        }
    }

    pub(super) fn within_account(i: &'a InvoiceRecord) -> InvoiceView<'a> {
        InvoiceView { account: None, status: None, ..InvoiceView::of(i) }
    }
}

/// `billmail statement ACCOUNT [--month M]`.
pub(super) async fn statement(
    account: &str,
    month: Option<&str>,
    format: &str,
    output: Option<&std::path::Path>,
    c: &Ctx<'_>,
) -> Result<Outcome> {
    let Ctx { config, store, today, .. } = *c;
    let id = stored_id(store, account).await?;
    let month = match month {
        Some(m) => crate::domain::Month::parse(m).ok_or_else(|| anyhow!("--month {m:?} is not YYYY-MM"))?,
        None => crate::domain::Month::of(today).prev(),
    };
    let data = crate::engine::statement_of(config, store, &id, month, today).await?;
    let bytes = if format == "json" {
        format!("{}\n", serde_json::to_string_pretty(&data)?).into_bytes()
    } else {
        let renderer = Renderer::for_config(config)?;
        match format {
            "pdf" => renderer.statement_pdf(&config.company, &data)?,
            "html" => renderer.statement(&config.company, &data)?.html.into_bytes(),
            _ => {
                let r = renderer.statement(&config.company, &data)?;
                format!("Subject: {}\n\n{}", r.subject, r.text).into_bytes()
            }
        }
    };
    write_out(output, &bytes, format == "pdf")?;
    Ok(Outcome { code: 0 })
}

/// Writes a document to `path`, or to standard output; a binary one is not
/// written to a terminal (it would garble it), and says so.
fn write_out(path: Option<&std::path::Path>, bytes: &[u8], binary: bool) -> Result<()> {
    use std::io::{IsTerminal, Write};
    match path {
        Some(p) => std::fs::write(p, bytes).map_err(|e| anyhow!("cannot write {}: {e}", p.display())),
        None if binary && std::io::stdout().is_terminal() => {
            bail!("a PDF is not shown on a terminal: add --output FILE, or send standard output to a file")
        }
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(bytes)?;
            out.flush()?;
            Ok(())
        }
    }
}
