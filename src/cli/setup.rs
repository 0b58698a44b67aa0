//! Setting up: `init` and `check-config [--online]`.

use std::path::Path;

use anyhow::Result;
use chrono::{DateTime, Utc};

use super::Outcome;
use crate::config::Config;
use crate::render::Renderer;
use crate::store::Store;

/// Creates or migrates the database the config names.
pub(super) async fn init(config: &Config) -> Result<Outcome> {
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
    Ok(Outcome { code: 0 })
}

/// `check-config --online`: logs in to the mailbox and says what billmail
/// would use there, creating and moving nothing.
pub(super) async fn check_mailbox(config: &Config, now: DateTime<Utc>) -> Result<Outcome> {
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
    let has = |c: &str| m.server.capabilities.iter().any(|x| x.eq_ignore_ascii_case(c));
    let yes = |b: bool| if b { "yes" } else { "no" };
    println!(
        "  separator {:?}, personal namespace {:?}",
        m.server.layout.separator.map(String::from).unwrap_or_else(|| "none (flat)".into()),
        m.server.layout.prefix
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

pub(super) fn check_config(path: &Path) -> Result<Outcome> {
    match Config::load(path) {
        Ok(c) => {
            if let Err(e) = Renderer::for_config(&c) {
                // the templates folder, or the logo, cannot be used (each error names which)
                println!("{}: {e:#}", path.display());
                println!("1 problem(s)");
                return Ok(Outcome { code: 1 });
            }
            println!(
                "{}: ok ({} tiers; timezone {}; mailbox {}; smtp {}; export {}{})",
                path.display(),
                c.tiers.len(),
                c.company.timezone,
                if c.imap.is_some() { "configured" } else { "not configured" },
                if c.smtp.is_some() { "configured" } else { "not configured: mail stays queued" },
                match &c.export {
                    Some(m) => format!("mapped ({} products)", m.products.len()),
                    None => "not configured".into(),
                },
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
