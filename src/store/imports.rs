//! What an import looks up and writes (`crate::imports` plans each row in
//! between): an account's fields and people as the books hold them, a
//! subscription's version in force, and the rows that change them.

use anyhow::Result;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use super::{LOCAL_FMT, Tx, instant};
pub use crate::domain::import::{AccountImport, SubscriptionImport};
use crate::domain::import::{Fields, PeopleChange, PostalAddress, StoredAccount, StoredPeople};
use crate::domain::{AccountId, Money, Month};

impl Tx {
    pub async fn create_account(
        &mut self,
        id: &AccountId,
        fields: &Fields,
        start_date: Option<NaiveDate>,
        first: Month,
        now: DateTime<Utc>,
    ) -> Result<()> {
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
        self.set_address(id, &fields.address).await
    }

    pub async fn set_start(&mut self, id: &AccountId, start_date: Option<NaiveDate>, first: Month) -> Result<()> {
        sqlx::query("UPDATE accounts SET start_date = ?, first_period = ? WHERE id = ?")
            .bind(start_date.map(|d| d.to_string()))
            .bind(first.to_string())
            .bind(id)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    async fn set_address(&mut self, id: &AccountId, a: &PostalAddress) -> Result<()> {
        sqlx::query(
            "UPDATE accounts SET address_line1 = ?, address_line2 = ?, city = ?, state = ?, postal_code = ?,
               country = ? WHERE id = ?",
        )
        .bind(&a.line1)
        .bind(&a.line2)
        .bind(&a.city)
        .bind(&a.state)
        .bind(&a.postal_code)
        .bind(&a.country)
        .bind(id)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// The account `id` as an import compares with it.
    pub async fn stored_account(&mut self, id: &AccountId) -> Result<Option<StoredAccount>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            name: String,
            tier: String,
            full_time_rate_cents: Option<i64>,
            part_time_rate_cents: Option<i64>,
            start_date: Option<String>,
            created_at: String,
            invoiced: bool,
            #[sqlx(flatten)]
            address: PostalAddress,
        }
        let row: Option<Row> = sqlx::query_as(
            "SELECT name, tier, full_time_rate_cents, part_time_rate_cents, start_date, created_at,
               address_line1, address_line2, city, state, postal_code, country,
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
                address: r.address,
            },
            start_date: r.start_date.map(|d| super::parse_date(&d)).transpose()?,
            created_on: DateTime::parse_from_rfc3339(&r.created_at)?.date_naive(),
            has_agreement_invoices: r.invoiced,
        }))
    }

    pub async fn update_fields(&mut self, id: &AccountId, fields: &Fields, now: DateTime<Utc>) -> Result<()> {
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
        self.set_address(id, &fields.address).await
    }

    /// The account's contacts (with their bounce flags), payer names and,
    /// when `users`, its named users, as an import compares with them.
    pub async fn stored_people(&mut self, id: &AccountId, users: bool) -> Result<StoredPeople> {
        let contacts =
            sqlx::query_as("SELECT email, role, bounced_at FROM contacts WHERE account_id = ? ORDER BY role, position")
                .bind(id)
                .fetch_all(self.conn())
                .await?;
        let payers = sqlx::query_scalar("SELECT name FROM payer_names WHERE account_id = ? ORDER BY name")
            .bind(id)
            .fetch_all(self.conn())
            .await?;
        let users = if users {
            sqlx::query_as("SELECT name, user_type FROM named_users WHERE account_id = ? ORDER BY name")
                .bind(id)
                .fetch_all(self.conn())
                .await?
        } else {
            Vec::new()
        };
        Ok(StoredPeople { contacts, payers, users })
    }

    /// Writes the contacts, payer names and named users `change` plans.
    pub async fn write_people(&mut self, id: &AccountId, change: &PeopleChange) -> Result<()> {
        sqlx::query("DELETE FROM contacts WHERE account_id = ?").bind(id).execute(self.conn()).await?;
        for (pos, (email, role, bounced)) in change.contacts.iter().enumerate() {
            sqlx::query("INSERT INTO contacts (account_id, email, role, position, bounced_at) VALUES (?, ?, ?, ?, ?)")
                .bind(id)
                .bind(email)
                .bind(role)
                .bind(pos as i64)
                .bind(bounced)
                .execute(self.conn())
                .await?;
        }
        if let Some(payers) = &change.payers {
            sqlx::query("DELETE FROM payer_names WHERE account_id = ?").bind(id).execute(self.conn()).await?;
            for p in payers {
                sqlx::query("INSERT INTO payer_names (account_id, name) VALUES (?, ?)")
                    .bind(id)
                    .bind(p)
                    .execute(self.conn())
                    .await?;
            }
        }
        if let Some(users) = &change.users {
            sqlx::query("DELETE FROM named_users WHERE account_id = ?").bind(id).execute(self.conn()).await?;
            for (n, t) in users {
                sqlx::query("INSERT INTO named_users (account_id, name, user_type) VALUES (?, ?, ?)")
                    .bind(id)
                    .bind(n)
                    .bind(t)
                    .execute(self.conn())
                    .await?;
            }
        }
        Ok(())
    }

    /// The account's subscription to `product` (its id) and the version in
    /// force: `None` when there is no such subscription, `Some(None)` when it
    /// has no version.
    #[allow(clippy::type_complexity)]
    pub async fn stored_subscription(
        &mut self,
        account: &AccountId,
        product: &str,
    ) -> Result<(Option<i64>, Option<Option<(i64, Money)>>)> {
        let sub: Option<i64> = sqlx::query_scalar("SELECT id FROM subscriptions WHERE account_id = ? AND product = ?")
            .bind(account)
            .bind(product)
            .fetch_optional(self.conn())
            .await?;
        let Some(id) = sub else { return Ok((None, None)) };
        let cur: Option<(i64, i64)> = sqlx::query_as(
            "SELECT quantity, unit_price_cents FROM subscription_versions WHERE subscription_id = ?
             ORDER BY effective_at DESC, id DESC LIMIT 1",
        )
        .bind(id)
        .fetch_optional(self.conn())
        .await?;
        Ok((sub, Some(cur.map(|(q, p)| (q, Money::from_cents(p))))))
    }

    /// Writes the row's quantity and price as a new version of subscription
    /// `sub` (created first when None), in force from `local_now`.
    pub async fn add_subscription_version(
        &mut self,
        sub: Option<i64>,
        row: &SubscriptionImport,
        currency: &str,
        now: DateTime<Utc>,
        local_now: NaiveDateTime,
    ) -> Result<()> {
        let sub_id = match sub {
            Some(id) => id,
            None => sqlx::query("INSERT INTO subscriptions (account_id, product) VALUES (?, ?)")
                .bind(&row.account)
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
        Ok(())
    }
}
