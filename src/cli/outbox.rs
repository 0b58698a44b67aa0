//! `outbox`: outgoing mail, queued, sent and failed.

use anyhow::{Result, anyhow};
use clap::Subcommand;

use super::{Ctx, Outcome};

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

pub(super) async fn outbox(cmd: OutboxCmd, c: &Ctx<'_>) -> Result<Outcome> {
    let Ctx { store, now, .. } = *c;
    match cmd {
        OutboxCmd::List { json } => {
            let list = store.outbox().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
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
        OutboxCmd::Retry { id } => {
            let attempts = crate::by_hand::retry_mail(store, id, now).await?;
            println!(
                "message #{id} is queued again (it had failed after {attempts} attempt(s)); it goes out on the next cycle"
            );
        }
        OutboxCmd::Show { id, html } => {
            let (subject, text, body_html, attachment, size) =
                store.outbox_bodies(id).await?.ok_or_else(|| anyhow!("no outgoing message #{id}"))?;
            if html {
                print!("{body_html}");
            } else {
                println!("Subject: {subject}");
                if let Some(name) = attachment {
                    println!("Attachment: {name} ({} bytes)", size.unwrap_or(0));
                }
                println!();
                print!("{text}");
            }
        }
    }
    Ok(Outcome { code: 0 })
}
