//! Monthly statements of account: on `[schedule] statement_day`, every
//! account with a balance (owed, or credit held) gets the statement of the
//! month before, worked out by `domain::statement` from its invoices and
//! payments; each is recorded with its data and queued in one transaction,
//! once per account and month. Its PDF is made when it is sent.

use std::collections::HashSet;

use anyhow::Result;
use chrono::{DateTime, Utc};

use super::{addressees, relayed_reason};
use crate::config::Config;
use crate::domain::calendar::local_time;
use crate::domain::statement::statement;
use crate::domain::{AccountId, Month, NoticeKind};
use crate::render::{Renderer, StatementDoc, message_id, statement_context};
use crate::store::{NewMail, Store};

/// Queues the statements due at `now` that were not queued yet; says what it did, a line each.
pub async fn run_statements(
    config: &Config,
    store: &Store,
    renderer: &Renderer,
    now: DateTime<Utc>,
) -> Result<Vec<String>> {
    let tz = config.company.timezone;
    let month = config.schedule.statement_month(local_time(&now, tz));
    if store.statement_month_done(month).await? {
        return Ok(vec![]);
    }
    let issued = config.schedule.statement_date(month);
    let sent: HashSet<AccountId> = store.statements_of(month).await?.into_iter().collect();
    let mut lines = Vec::new();
    for (account, ledger) in store.ledgers(tz).await? {
        if sent.contains(&account) {
            continue;
        }
        let s = statement(month, &ledger.invoices, &ledger.payments);
        if !s.has_balance() {
            continue;
        }
        let doc = StatementDoc {
            account_id: &account,
            account_name: &ledger.name,
            address: ledger.address.lines(),
            statement: &s,
            issued,
            currency: &config.company.currency,
        };
        let data = statement_context(&config.company, &doc)?;
        let rendered = renderer.statement(&config.company, &data)?;
        let mut tx = store.begin().await?;
        let Some(statement_id) = tx.record_statement(&account, month, &data, now).await? else { continue };
        let billing = tx.account_contact(&account).await?.1;
        let (to, relayed) = addressees(config, billing);
        let mail = NewMail {
            kind: NoticeKind::Statement.as_str().into(),
            account: Some(account.clone()),
            invoice_id: None,
            to: to.clone(),
            cc: vec![],
            subject: rendered.subject,
            text: rendered.text,
            html: rendered.html,
            message_id: message_id(
                config,
                &format!("statement.{}.{month}", account.as_str().to_ascii_lowercase()),
                now,
            ),
            in_reply_to: None,
            references: None,
        };
        let outbox = tx.queue_mail(&mail, now).await?;
        tx.link_statement(outbox, statement_id).await?;
        let closing = s.closing.display_in(&config.company.currency);
        let note =
            format!("statement for {} sent to {}{}: closing balance {closing}", month.label(), to.join(", "), relayed);
        tx.history(&account, now, "notice", &note).await?;
        if !relayed.is_empty() {
            let why = relayed_reason(config, &account, NoticeKind::Statement);
            tx.insert_notice_review(outbox, NoticeKind::Statement.as_str(), &mail.subject, &[why], now).await?;
        }
        tx.commit().await?;
        lines.push(format!("{account}: statement for {} queued, closing balance {closing}", month.label()));
    }
    let mut tx = store.begin().await?;
    tx.statement_month_done(month, now).await?;
    tx.commit().await?;
    Ok(lines)
}

/// The statement of `account` for `month` as the books say now (for
/// `billmail statement`; a statement already sent is shown as it was sent).
pub async fn statement_of(
    config: &Config,
    store: &Store,
    account: &AccountId,
    month: Month,
    today: chrono::NaiveDate,
) -> Result<serde_json::Value> {
    if let Some(data) = store.sent_statement(account, month).await? {
        return Ok(data);
    }
    let ledger = store.ledgers(config.company.timezone).await?.remove(account).unwrap_or_default();
    let s = statement(month, &ledger.invoices, &ledger.payments);
    let doc = StatementDoc {
        account_id: account,
        account_name: &ledger.name,
        address: ledger.address.lines(),
        statement: &s,
        issued: today,
        currency: &config.company.currency,
    };
    statement_context(&config.company, &doc)
}
