//! An import: each row of `accounts.csv` or `subscriptions.csv` compared
//! with what the books hold (looked up in the store), planned in pure code
//! (`domain::import`), and written, all in the caller's transaction: a
//! refusal on any row leaves the whole file unwritten.

use anyhow::Result;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use crate::domain::import::{
    AccountChange, AccountImport, SubscriptionChange, SubscriptionImport, plan_account, plan_import_counts,
    plan_people, plan_subscription,
};
use crate::store::Tx;

/// What an import did, row by row.
#[derive(Clone, Debug, Default)]
pub struct ImportReport {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
}

/// Creates or updates the accounts of `rows`.
pub async fn accounts(
    tx: &mut Tx,
    rows: &[AccountImport],
    now: DateTime<Utc>,
    today: NaiveDate,
) -> Result<ImportReport> {
    let mut report = ImportReport::default();
    for row in rows {
        // `acme` in the file updates the account stored as `ACME`
        let mut own;
        let row = match tx.stored_account_id(row.id.as_str()).await? {
            Some(s) if s != row.id => {
                own = row.clone();
                own.id = s;
                &own
            }
            _ => row,
        };
        let id = &row.id;
        let stored = tx.stored_account(id).await?;
        let exists = stored.is_some();
        let mut changed = false;
        match plan_account(row, stored.as_ref(), today)? {
            AccountChange::Create { fields, start_date, first, note } => {
                tx.create_account(id, &fields, start_date, first, now).await?;
                tx.history(id, now, "created", &note).await?;
                report.created += 1;
            }
            AccountChange::Update { fields, start, notes } => {
                if let Some((start_date, first)) = start {
                    tx.set_start(id, start_date, first).await?;
                }
                if !notes.is_empty() {
                    tx.update_fields(id, &fields, now).await?;
                    tx.history(id, now, "updated", &format!("import: {}", notes.join("; "))).await?;
                    changed = true;
                }
            }
        }
        let people = tx.stored_people(id, row.full_time_names.is_some() || row.part_time_names.is_some()).await?;
        let people = plan_people(row, &people);
        tx.write_people(id, &people).await?;
        if let Some(note) = &people.note {
            tx.history(id, now, "updated", note).await?;
            changed = true;
        }
        let recorded = tx.count_changes(id).await?;
        if let Some((planned, reason)) = plan_import_counts(row, &recorded, today, exists)? {
            tx.record_count_changes(id, &[planned], "import", reason, now).await?;
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

/// Creates, changes or ends the recurring charges of `rows`, whose accounts
/// the caller found (`acme` resolved to `ACME`). A row equal to what is in
/// force changes nothing.
pub async fn subscriptions(
    tx: &mut Tx,
    rows: &[SubscriptionImport],
    currency: &str,
    now: DateTime<Utc>,
    local_now: NaiveDateTime,
) -> Result<ImportReport> {
    let mut report = ImportReport::default();
    for row in rows {
        let (sub, in_force) = tx.stored_subscription(&row.account, &row.product).await?;
        let (started, note) = match plan_subscription(row, in_force)? {
            SubscriptionChange::Unchanged => {
                report.unchanged += 1;
                continue;
            }
            SubscriptionChange::Version { started, note, .. } => (started, note),
        };
        tx.add_subscription_version(sub, row, currency, now, local_now).await?;
        if started {
            report.created += 1;
        } else {
            report.updated += 1;
        }
        tx.history(&row.account, now, "subscription", &note).await?;
    }
    Ok(report)
}
