//! Account and subscription imports: each file written in one transaction,
//! row by row, with what changed said in the accounts' history.

use anyhow::{Result, anyhow, bail};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use super::accounts::changes_of;
use super::{LOCAL_FMT, Tx, instant};
use crate::domain::import::{
    AccountChange, Fields, PeopleChange, StoredAccount, StoredPeople, SubscriptionChange, plan_account,
    plan_import_counts, plan_people, plan_subscription,
};
pub use crate::domain::import::{AccountImport, SubscriptionImport};
use crate::domain::{AccountId, Money};

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
            let stored = self.stored_account(id).await?;
            let exists = stored.is_some();
            let mut changed = false;
            match plan_account(row, stored.as_ref(), today)? {
                AccountChange::Create { fields, start_date, first, note } => {
                    sqlx::query(
                        "INSERT INTO accounts (id, name, tier, full_time_rate_cents, part_time_rate_cents, start_date,
                           first_period, created_at, updated_at)
                         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    )
                    .bind(id)
                    .bind(&fields.name)
                    .bind(&fields.tier)
                    .bind(fields.full_time_rate.map(Money::cents))
                    .bind(fields.part_time_rate.map(Money::cents))
                    .bind(start_date.map(|d| d.to_string()))
                    .bind(first.to_string())
                    .bind(instant(now))
                    .bind(instant(now))
                    .execute(self.conn())
                    .await?;
                    self.history(id, now, "created", &note).await?;
                    report.created += 1;
                }
                AccountChange::Update { fields, start, notes } => {
                    if let Some((start_date, first)) = start {
                        sqlx::query("UPDATE accounts SET start_date = ?, first_period = ? WHERE id = ?")
                            .bind(start_date.map(|d| d.to_string()))
                            .bind(first.to_string())
                            .bind(id)
                            .execute(self.conn())
                            .await?;
                    }
                    if !notes.is_empty() {
                        self.update_fields(id, &fields, now).await?;
                        self.history(id, now, "updated", &format!("import: {}", notes.join("; "))).await?;
                        changed = true;
                    }
                }
            }
            changed |= self.replace_contacts(row, now).await?;
            let recorded = changes_of(self, id).await?;
            if let Some((planned, reason)) = plan_import_counts(row, &recorded, today, exists)? {
                self.record_count_changes(id, &[planned], "import", reason, now).await?;
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

    /// The account `id` as an import compares with it.
    async fn stored_account(&mut self, id: &str) -> Result<Option<StoredAccount>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            name: String,
            tier: String,
            full_time_rate_cents: Option<i64>,
            part_time_rate_cents: Option<i64>,
            start_date: Option<String>,
            created_at: String,
            invoiced: bool,
        }
        let row: Option<Row> = sqlx::query_as(
            "SELECT name, tier, full_time_rate_cents, part_time_rate_cents, start_date, created_at,
               EXISTS (SELECT 1 FROM invoices WHERE account_id = a.id AND kind = 'agreement') AS invoiced
             FROM accounts a WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(self.conn())
        .await?;
        let Some(r) = row else { return Ok(None) };
        Ok(Some(StoredAccount {
            fields: Fields {
                name: r.name,
                tier: r.tier,
                full_time_rate: r.full_time_rate_cents.map(Money::from_cents),
                part_time_rate: r.part_time_rate_cents.map(Money::from_cents),
            },
            start_date: r.start_date.map(|d| super::parse_date(&d)).transpose()?,
            created_on: DateTime::parse_from_rfc3339(&r.created_at)?.date_naive(),
            has_agreement_invoices: r.invoiced,
        }))
    }

    async fn update_fields(&mut self, id: &str, fields: &Fields, now: DateTime<Utc>) -> Result<()> {
        sqlx::query(
            "UPDATE accounts SET name = ?, tier = ?, full_time_rate_cents = ?, part_time_rate_cents = ?,
               updated_at = ? WHERE id = ?",
        )
        .bind(&fields.name)
        .bind(&fields.tier)
        .bind(fields.full_time_rate.map(Money::cents))
        .bind(fields.part_time_rate.map(Money::cents))
        .bind(instant(now))
        .bind(id)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Writes the row's contacts, payer names and named users as
    /// [`plan_people`] plans them; true when an existing account's changed.
    async fn replace_contacts(&mut self, row: &AccountImport, now: DateTime<Utc>) -> Result<bool> {
        let id = row.id.as_str();
        let contacts =
            sqlx::query_as("SELECT email, role, bounced_at FROM contacts WHERE account_id = ? ORDER BY role, position")
                .bind(id)
                .fetch_all(self.conn())
                .await?;
        let payers = sqlx::query_scalar("SELECT name FROM payer_names WHERE account_id = ? ORDER BY name")
            .bind(id)
            .fetch_all(self.conn())
            .await?;
        let users = if row.full_time_names.is_some() || row.part_time_names.is_some() {
            sqlx::query_as("SELECT name, user_type FROM named_users WHERE account_id = ? ORDER BY name")
                .bind(id)
                .fetch_all(self.conn())
                .await?
        } else {
            Vec::new()
        };
        let PeopleChange { contacts, payers, users, note } =
            plan_people(row, &StoredPeople { contacts, payers, users });
        sqlx::query("DELETE FROM contacts WHERE account_id = ?").bind(id).execute(self.conn()).await?;
        for (pos, (email, role, bounced)) in contacts.iter().enumerate() {
            sqlx::query("INSERT INTO contacts (account_id, email, role, position, bounced_at) VALUES (?, ?, ?, ?, ?)")
                .bind(id)
                .bind(email)
                .bind(role)
                .bind(pos as i64)
                .bind(bounced)
                .execute(self.conn())
                .await?;
        }
        if let Some(payers) = payers {
            sqlx::query("DELETE FROM payer_names WHERE account_id = ?").bind(id).execute(self.conn()).await?;
            for p in &payers {
                sqlx::query("INSERT INTO payer_names (account_id, name) VALUES (?, ?)")
                    .bind(id)
                    .bind(p)
                    .execute(self.conn())
                    .await?;
            }
        }
        if let Some(users) = users {
            sqlx::query("DELETE FROM named_users WHERE account_id = ?").bind(id).execute(self.conn()).await?;
            for (n, t) in &users {
                sqlx::query("INSERT INTO named_users (account_id, name, user_type) VALUES (?, ?, ?)")
                    .bind(id)
                    .bind(n)
                    .bind(t)
                    .execute(self.conn())
                    .await?;
            }
        }
        match note {
            Some(note) => {
                self.history(id, now, "updated", &note).await?;
                Ok(true)
            }
            None => Ok(false),
        }
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
            let stored = match sub {
                Some(id) => {
                    let cur: Option<(i64, i64)> = sqlx::query_as(
                        "SELECT quantity, unit_price_cents FROM subscription_versions WHERE subscription_id = ?
                         ORDER BY effective_at DESC, id DESC LIMIT 1",
                    )
                    .bind(id)
                    .fetch_optional(self.conn())
                    .await?;
                    Some(cur.map(|(q, p)| (q, Money::from_cents(p))))
                }
                None => None,
            };
            let (started, detail) = match plan_subscription(row, acct, stored)? {
                SubscriptionChange::Unchanged => {
                    report.unchanged += 1;
                    continue;
                }
                SubscriptionChange::Version { started, note, .. } => (started, note),
            };
            let sub_id = match sub {
                Some(id) => id,
                None => sqlx::query("INSERT INTO subscriptions (account_id, product) VALUES (?, ?)")
                    .bind(acct)
                    .bind(&row.product)
                    .execute(self.conn())
                    .await?
                    .last_insert_rowid(),
            };
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
            if started {
                report.created += 1;
            } else {
                report.updated += 1;
            }
            self.history(acct, now, "subscription", &detail).await?;
        }
        Ok(report)
    }
}
