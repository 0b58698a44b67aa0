//! Mail by hand: `ingest` a message, `parse` one without touching anything,
//! and the `review` queue of what a person must decide.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use clap::Subcommand;
use serde_json::Value;

use super::{Ctx, Outcome};
use crate::render::Renderer;
use crate::store::Event;

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

pub(super) async fn ingest(file: PathBuf, c: &Ctx<'_>) -> Result<Outcome> {
    let Ctx { config, store, now, .. } = *c;
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
        let detail = format!("ingested message #{}: {} -> {}", taken.id, taken.kind, taken.disposition.as_str());
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
    Ok(Outcome { code: 0 })
}

/// Who decided, when a review item is decided on the command line.
const CLI_USER: &str = "cli";

pub(super) async fn review(cmd: ReviewCmd, c: &Ctx<'_>) -> Result<Outcome> {
    let Ctx { config, store, now, .. } = *c;
    match cmd {
        ReviewCmd::List { json, all } => {
            let items = store.reviews(!all).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&items)?);
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
        ReviewCmd::Show { id } => {
            let (r, reading, raw) = store.review(id).await?.ok_or_else(|| anyhow!("no review item #{id}"))?;
            println!("review #{} ({}): {} from {}", r.id, r.state, r.kind, r.from);
            println!("subject: {}", r.subject);
            for reason in &r.reasons {
                println!("  - {reason}");
            }
            if let Some(d) = &r.decision_reason {
                let by = r.decided_by.as_deref().map(|b| format!(" by {b}")).unwrap_or_default();
                println!("decided {}{by}: {d}", r.decided_at.as_deref().unwrap_or(""));
            }
            if r.message.is_some() {
                println!("\nreading:\n{}", describe_reading(&serde_json::from_str::<Value>(&reading)?));
                println!("\nmessage:\n{}", String::from_utf8_lossy(&raw));
            } else {
                println!("\nbillmail's own notice, sent to accounting to pass on:\n{}", String::from_utf8_lossy(&raw));
            }
        }
        ReviewCmd::Approve { id } => {
            let renderer = Renderer::for_config(config)?;
            // a person approved it: no proof of origin is needed
            let actor = crate::intake::Actor { config, renderer: &renderer, dkim: None };
            let done = crate::intake::approve(store, &actor, id, None, CLI_USER, now).await?;
            println!("review #{id} approved: {done}");
        }
        ReviewCmd::Reject { id, reason } => {
            if reason.trim().is_empty() {
                bail!("--reason must say why");
            }
            crate::intake::reject(store, id, &reason, CLI_USER, now).await?;
            println!("review #{id} rejected: {}", reason.trim());
        }
    }
    Ok(Outcome { code: 0 })
}

pub(super) fn parse(file: &Path, json: bool) -> Result<Outcome> {
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
