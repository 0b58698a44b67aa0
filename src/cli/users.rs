//! `billmail users`: who may log in to the web console, and as what.

use std::io::IsTerminal;

use anyhow::{Result, bail};
use clap::Subcommand;

use super::{Ctx, Outcome};

#[derive(Subcommand, Debug)]
pub enum UsersCmd {
    /// Add a console user. The password is asked for twice on a terminal,
    /// or read as the first line of standard input.
    Add {
        name: String,
        /// viewer (reads), clerk (also decides reviews, records payments,
        /// retries mail) or admin.
        #[arg(long, value_parser = ["viewer", "clerk", "admin"])]
        role: String,
    },
    /// The console's users.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove a user; their sessions end at once.
    Remove { name: String },
}

fn valid_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if !ok {
        bail!("a user name is 1 to 64 letters, digits and . _ - @ ({name:?} is not)");
    }
    Ok(())
}

fn read_password() -> Result<String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("password: ")?;
        let again = rpassword::prompt_password("again: ")?;
        if first != again {
            bail!("the two passwords differ; no user was added");
        }
        Ok(first)
    } else {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
    }
}

pub(super) async fn users(cmd: UsersCmd, c: &Ctx<'_>) -> Result<Outcome> {
    let Ctx { store, now, .. } = *c;
    match cmd {
        UsersCmd::Add { name, role } => {
            valid_name(&name)?;
            let password = read_password()?;
            crate::web::check_new_password(&password)?;
            let hash = crate::web::hash_password(&password)?;
            store.add_web_user(&name, &role, &hash, now).await?;
            println!("user {name} added as {role}");
        }
        UsersCmd::List { json } => {
            let users = store.web_users().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&users)?);
            } else {
                for u in &users {
                    println!("{:<24} {:<7} added {}", u.name, u.role, u.created_at);
                }
                if users.is_empty() {
                    println!("no console users yet: `billmail users add NAME --role clerk`");
                }
            }
        }
        UsersCmd::Remove { name } => {
            if !store.remove_web_user(&name).await? {
                bail!("there is no user {name:?}");
            }
            println!("user {name} removed; their sessions have ended");
        }
    }
    Ok(Outcome { code: 0 })
}
