//! Account and subscription imports: each file written in one transaction,
//! row by row, with what changed said in the accounts' history.

use std::collections::HashMap;

use anyhow::{Result, anyhow, bail};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use sqlx::Row;

use super::accounts::changes_of;
use super::{LOCAL_FMT, Tx, instant};
use crate::domain::book::{counts_on, first_period};
use crate::domain::{AccountId, EmailAddress, Money, UserCounts, UserType};

/// One validated row of `accounts.csv`.
#[derive(Clone, Debug)]
pub struct AccountImport {
    pub line: usize,
    pub id: AccountId,
    pub name: String,
    pub tier: String,
    pub counts: UserCounts,
    pub billing_emails: Vec<EmailAddress>,
    /// `None` when the file has no such column: the account keeps its own.
    pub authorized_emails: Option<Vec<EmailAddress>>,
    /// `None` when the file has no such column: the account keeps its own.
    pub payer_names: Option<Vec<String>>,
    pub start_date: Option<NaiveDate>,
    pub full_time_rate: Option<Money>,
    pub part_time_rate: Option<Money>,
    pub full_time_names: Option<Vec<String>>,
    pub part_time_names: Option<Vec<String>>,
    /// The optional columns the file has: a column it lacks leaves the
    /// account's own value as it is (`start_date`, the rate overrides).
    pub columns: Vec<String>,
}

impl AccountImport {
    /// An account with counts and one billing address and nothing else
    /// (benchmarks and tests build many such).
    pub fn basic(line: usize, id: AccountId, tier: &str, counts: UserCounts, billing: EmailAddress) -> AccountImport {
        AccountImport {
            line,
            name: format!("Customer {id}"),
            id,
            tier: tier.into(),
            counts,
            billing_emails: vec![billing],
            authorized_emails: None,
            payer_names: None,
            start_date: None,
            full_time_rate: None,
            part_time_rate: None,
            full_time_names: None,
            part_time_names: None,
            columns: Vec::new(),
        }
    }
}

/// One validated row of `subscriptions.csv`.
#[derive(Clone, Debug)]
pub struct SubscriptionImport {
    pub line: usize,
    pub account: AccountId,
    pub product: String,
    pub quantity: i64,
    pub unit_price: Money,
}

#[derive(Clone, Debug, Default)]
pub struct ImportReport {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
}

impl Tx {
    /// Creates or updates accounts, all in this transaction.
    pub async fn import_accounts(
        &mut self,
        rows: &[AccountImport],
        now: DateTime<Utc>,
        today: NaiveDate,
    ) -> Result<ImportReport> {
        let mut report = ImportReport::default();
        for row in rows {
            // `acme` in the file updates the account stored as `ACME`
            let stored = self.stored_account_id(row.id.as_str()).await?;
            let mut own;
            let row = match stored {
                Some(s) if s != row.id.as_str() => {
                    own = row.clone();
                    own.id = AccountId::parse(&s).map_err(|e| anyhow!(e))?;
                    &own
                }
                _ => row,
            };
            let id = row.id.as_str();
            let exists = self.account_exists(id).await?;
            let mut changed = false;
            if !exists {
                let first = first_period(row.start_date, today);
                sqlx::query(
                    "INSERT INTO accounts (id, name, tier, full_time_rate_cents, part_time_rate_cents, start_date,
                       first_period, created_at, updated_at)
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                )
                .bind(id)
                .bind(&row.name)
                .bind(&row.tier)
                .bind(row.full_time_rate.map(Money::cents))
                .bind(row.part_time_rate.map(Money::cents))
                .bind(row.start_date.map(|d| d.to_string()))
                .bind(first.to_string())
                .bind(instant(now))
                .bind(instant(now))
                .execute(self.conn())
                .await?;
                self.history(
                    id,
                    now,
                    "created",
                    &format!("account created by import ({}, first agreement month {first})", row.tier),
                )
                .await?;
                report.created += 1;
            } else {
                let old = sqlx::query(
                    "SELECT name, tier, full_time_rate_cents, part_time_rate_cents, start_date FROM accounts WHERE id = ?",
                )
                .bind(id)
                .fetch_one(self.conn())
                .await?;
                // a column the file lacks keeps what the account has
                let has = |c: &str| row.columns.iter().any(|x| x == c);
                let mut row = row.clone();
                if !has("start_date") {
                    row.start_date =
                        old.get::<Option<String>, _>("start_date").map(|d| super::parse_date(&d)).transpose()?;
                }
                if !has("full_time_rate") {
                    row.full_time_rate = old.get::<Option<i64>, _>("full_time_rate_cents").map(Money::from_cents);
                }
                if !has("part_time_rate") {
                    row.part_time_rate = old.get::<Option<i64>, _>("part_time_rate_cents").map(Money::from_cents);
                }
                let row = &row;
                let mut notes = Vec::new();
                if old.get::<String, _>("name") != row.name {
                    notes.push(format!("name {:?} -> {:?}", old.get::<String, _>("name"), row.name));
                }
                if old.get::<String, _>("tier") != row.tier {
                    notes.push(format!("tier {} -> {}", old.get::<String, _>("tier"), row.tier));
                }
                if old.get::<Option<i64>, _>("full_time_rate_cents") != row.full_time_rate.map(Money::cents)
                    || old.get::<Option<i64>, _>("part_time_rate_cents") != row.part_time_rate.map(Money::cents)
                {
                    notes.push("rate override changed".into());
                }
                if old.get::<Option<String>, _>("start_date") != row.start_date.map(|d| d.to_string()) {
                    let invoiced: i64 =
                        sqlx::query_scalar("SELECT COUNT(*) FROM invoices WHERE account_id = ? AND kind = 'agreement'")
                            .bind(id)
                            .fetch_one(self.conn())
                            .await?;
                    if invoiced > 0 {
                        bail!(
                            "line {}: account {id} already has agreement invoices; its start_date cannot change",
                            row.line
                        );
                    }
                    let created: String = sqlx::query_scalar("SELECT created_at FROM accounts WHERE id = ?")
                        .bind(id)
                        .fetch_one(self.conn())
                        .await?;
                    let created_on = DateTime::parse_from_rfc3339(&created)?.date_naive().min(today);
                    let first = first_period(row.start_date, created_on);
                    sqlx::query("UPDATE accounts SET start_date = ?, first_period = ? WHERE id = ?")
                        .bind(row.start_date.map(|d| d.to_string()))
                        .bind(first.to_string())
                        .bind(id)
                        .execute(self.conn())
                        .await?;
                    notes.push(format!("start date changed; first agreement month {first}"));
                }
                if !notes.is_empty() {
                    sqlx::query(
                        "UPDATE accounts SET name = ?, tier = ?, full_time_rate_cents = ?, part_time_rate_cents = ?,
                           updated_at = ? WHERE id = ?",
                    )
                    .bind(&row.name)
                    .bind(&row.tier)
                    .bind(row.full_time_rate.map(Money::cents))
                    .bind(row.part_time_rate.map(Money::cents))
                    .bind(instant(now))
                    .bind(id)
                    .execute(self.conn())
                    .await?;
                    self.history(id, now, "updated", &format!("import: {}", notes.join("; "))).await?;
                    changed = true;
                }
            }
            changed |= self.replace_contacts(row, now).await?;
            let changes = changes_of(self, id).await?;
            let current = counts_on(&changes, today);
            let delta = row.counts.minus(current);
            if !delta.is_zero() {
                let reason = if exists { "import" } else { "initial counts from import" };
                self.change_counts(id, today, delta, "import", reason, now)
                    .await?
                    .map_err(|refusal| anyhow!("account {id}: {refusal}"))?;
                changed = true;
            }
            if exists {
                if changed {
                    report.updated += 1;
                } else {
                    report.unchanged += 1;
                }
            }
        }
        Ok(report)
    }

    async fn replace_contacts(&mut self, row: &AccountImport, now: DateTime<Utc>) -> Result<bool> {
        let id = row.id.as_str();
        let old: Vec<(String, String)> =
            sqlx::query_as("SELECT email, role FROM contacts WHERE account_id = ? ORDER BY role, position")
                .bind(id)
                .fetch_all(self.conn())
                .await?;
        let mut new: Vec<(String, String)> = Vec::new();
        for e in &row.billing_emails {
            new.push((e.to_string(), "billing".to_string()));
        }
        match &row.authorized_emails {
            Some(list) => new.extend(list.iter().map(|e| (e.to_string(), "authorized".to_string()))),
            // no such column in the file: the authorized contacts stay
            None => new.extend(old.iter().filter(|(_, r)| r == "authorized").cloned()),
        }
        let mut sorted_old = old.clone();
        sorted_old.sort();
        let mut sorted_new = new.clone();
        sorted_new.sort();
        let contacts_changed = sorted_old != sorted_new;
        // keep the bounce flag of an address that stays
        let bounced: HashMap<(String, String), Option<String>> = sqlx::query_as::<_, (String, String, Option<String>)>(
            "SELECT email, role, bounced_at FROM contacts WHERE account_id = ?",
        )
        .bind(id)
        .fetch_all(self.conn())
        .await?
        .into_iter()
        .map(|(e, r, b)| ((e, r), b))
        .collect();
        sqlx::query("DELETE FROM contacts WHERE account_id = ?").bind(id).execute(self.conn()).await?;
        for (pos, (email, role)) in new.iter().enumerate() {
            sqlx::query("INSERT INTO contacts (account_id, email, role, position, bounced_at) VALUES (?, ?, ?, ?, ?)")
                .bind(id)
                .bind(email)
                .bind(role)
                .bind(pos as i64)
                .bind(bounced.get(&(email.clone(), role.clone())).cloned().flatten())
                .execute(self.conn())
                .await?;
        }
        let old_payers: Vec<String> =
            sqlx::query_scalar("SELECT name FROM payer_names WHERE account_id = ? ORDER BY name")
                .bind(id)
                .fetch_all(self.conn())
                .await?;
        // no such column in the file: the payer names stay
        let mut new_payers = row.payer_names.clone().unwrap_or_else(|| old_payers.clone());
        new_payers.sort();
        new_payers.dedup();
        let payers_changed = old_payers != new_payers;
        if payers_changed {
            sqlx::query("DELETE FROM payer_names WHERE account_id = ?").bind(id).execute(self.conn()).await?;
            for p in &new_payers {
                sqlx::query("INSERT INTO payer_names (account_id, name) VALUES (?, ?)")
                    .bind(id)
                    .bind(p)
                    .execute(self.conn())
                    .await?;
            }
        }
        let mut users_changed = false;
        if row.full_time_names.is_some() || row.part_time_names.is_some() {
            let old_users: Vec<(String, String)> =
                sqlx::query_as("SELECT name, user_type FROM named_users WHERE account_id = ? ORDER BY name")
                    .bind(id)
                    .fetch_all(self.conn())
                    .await?;
            let mut new_users: Vec<(String, String)> = Vec::new();
            for (t, names) in [(UserType::FullTime, &row.full_time_names), (UserType::PartTime, &row.part_time_names)] {
                for n in names.iter().flatten() {
                    new_users.push((n.clone(), t.as_str().to_string()));
                }
            }
            new_users.sort();
            if old_users != new_users {
                users_changed = true;
                sqlx::query("DELETE FROM named_users WHERE account_id = ?").bind(id).execute(self.conn()).await?;
                for (n, t) in &new_users {
                    sqlx::query("INSERT INTO named_users (account_id, name, user_type) VALUES (?, ?, ?)")
                        .bind(id)
                        .bind(n)
                        .bind(t)
                        .execute(self.conn())
                        .await?;
                }
            }
        }
        let existed = !old.is_empty();
        if existed && (contacts_changed || payers_changed || users_changed) {
            // what was there before and what is there now, so the history can undo it
            let show = |list: &[(String, String)], role: &str| {
                let v: Vec<&str> = list.iter().filter(|(_, r)| r == role).map(|(e, _)| e.as_str()).collect();
                if v.is_empty() { "none".to_string() } else { v.join(", ") }
            };
            let mut what = Vec::new();
            if contacts_changed {
                for role in ["billing", "authorized"] {
                    let (before, after) = (show(&old, role), show(&new, role));
                    if before != after {
                        what.push(format!("{role} contacts {before} -> {after}"));
                    }
                }
            }
            if payers_changed {
                let list = |v: &[String]| if v.is_empty() { "none".to_string() } else { v.join(", ") };
                what.push(format!("payer names {} -> {}", list(&old_payers), list(&new_payers)));
            }
            if users_changed {
                what.push("named users".to_string());
            }
            self.history(id, now, "updated", &format!("import: {}", what.join("; "))).await?;
        }
        Ok(existed && (contacts_changed || payers_changed || users_changed))
    }

    /// Creates, changes or ends recurring charges. A row equal to what is in
    /// force changes nothing.
    pub async fn import_subscriptions(
        &mut self,
        rows: &[SubscriptionImport],
        currency: &str,
        now: DateTime<Utc>,
        local_now: NaiveDateTime,
    ) -> Result<ImportReport> {
        let mut report = ImportReport::default();
        for row in rows {
            let Some(stored) = self.stored_account_id(row.account.as_str()).await? else {
                bail!("line {}: no account {:?} (import accounts first)", row.line, row.account.as_str());
            };
            let acct = stored.as_str();
            if !self.account_exists(acct).await? {
                bail!("line {}: no account {acct:?} (import accounts first)", row.line);
            }
            let sub: Option<i64> =
                sqlx::query_scalar("SELECT id FROM subscriptions WHERE account_id = ? AND product = ?")
                    .bind(acct)
                    .bind(&row.product)
                    .fetch_optional(self.conn())
                    .await?;
            let (sub_id, current) = match sub {
                Some(id) => {
                    let cur: Option<(i64, i64)> = sqlx::query_as(
                        "SELECT quantity, unit_price_cents FROM subscription_versions WHERE subscription_id = ?
                         ORDER BY effective_at DESC, id DESC LIMIT 1",
                    )
                    .bind(id)
                    .fetch_optional(self.conn())
                    .await?;
                    (id, cur)
                }
                None => {
                    if row.quantity == 0 {
                        bail!("line {}: account {acct} has no subscription {:?} to end", row.line, row.product);
                    }
                    let id = sqlx::query("INSERT INTO subscriptions (account_id, product) VALUES (?, ?)")
                        .bind(acct)
                        .bind(&row.product)
                        .execute(self.conn())
                        .await?
                        .last_insert_rowid();
                    (id, None)
                }
            };
            if current == Some((row.quantity, row.unit_price.cents()))
                || (row.quantity == 0 && current.is_some_and(|c| c.0 == 0))
            {
                report.unchanged += 1;
                continue;
            }
            sqlx::query(
                "INSERT INTO subscription_versions (subscription_id, quantity, unit_price_cents, currency, effective_at, recorded_at)
                 VALUES (?, ?, ?, ?, ?, ?)",
            )
            .bind(sub_id)
            .bind(row.quantity)
            .bind(row.unit_price.cents())
            .bind(currency)
            .bind(local_now.format(LOCAL_FMT).to_string())
            .bind(instant(now))
            .execute(self.conn())
            .await?;
            let detail = match (current, row.quantity) {
                (None, q) => {
                    report.created += 1;
                    format!("subscription {:?} started: {q} × {}", row.product, row.unit_price)
                }
                (Some(_), 0) => {
                    report.updated += 1;
                    format!("subscription {:?} ended", row.product)
                }
                (Some((q0, p0)), q) => {
                    report.updated += 1;
                    format!(
                        "subscription {:?}: {q0} × {} -> {q} × {}",
                        row.product,
                        Money::from_cents(p0),
                        row.unit_price
                    )
                }
            };
            self.history(acct, now, "subscription", &detail).await?;
        }
        Ok(report)
    }
}
