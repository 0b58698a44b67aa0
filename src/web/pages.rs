//! The console's pages and the forms they post. Each handler reads what it
//! shows from the store, and each change calls the function the command
//! line calls, then sends the browser back to the page with one message.

use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::context;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::auth::{Who, refusal, urlencode};
use super::{App, chart, failure};
use crate::acting::correction::Correction;
use crate::domain::aging::{BUCKETS, aging as aging_rows};
use crate::domain::{AccountId, InvoiceNumber, Money};
use crate::render::InvoiceDoc;
use crate::store::InvoiceFilter;

const PAGE: i64 = 50;

macro_rules! tryf {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(e) => return failure(&anyhow::Error::from(e)),
        }
    };
}

pub async fn style() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "max-age=3600")],
        include_str!("static/style.css"),
    )
        .into_response()
}

/// Every page's frame: who is logged in, the token its forms carry, the
/// message left by the last action, how many items wait.
async fn page(app: &App, who: &Who, name: &str, ctx: minijinja::Value) -> Response {
    let waiting = app.store.review_page(true, 0, 0).await.map(|(_, n)| n).unwrap_or(0);
    let base = context! {
        user => &who.name,
        role => &who.role,
        may_change => who.may_change(),
        csrf => &who.csrf,
        flash => app.take_flash(&who.token_hash),
        waiting => waiting,
        company => &app.config.company.name,
        currency => &app.config.company.currency,
        today => app.today().to_string(),
    };
    app.render(name, context! { ..ctx, ..base })
}

/// Page numbers: which page, how many, and the rows to skip.
#[derive(Serialize)]
struct Pager {
    page: i64,
    pages: i64,
    total: i64,
    /// The list's own query without `page`, to build the links from.
    query: String,
}

impl Pager {
    fn new(page: Option<i64>, total: i64, query: String) -> Pager {
        let pages = ((total + PAGE - 1) / PAGE).max(1);
        Pager { page: page.unwrap_or(1).clamp(1, pages), pages, total, query }
    }

    fn offset(page: Option<i64>) -> i64 {
        (page.unwrap_or(1).max(1) - 1) * PAGE
    }
}

fn query_of(pairs: &[(&str, Option<&str>)]) -> String {
    pairs.iter().filter_map(|(k, v)| v.filter(|v| !v.is_empty()).map(|v| format!("{k}={}&", urlencode(v)))).collect()
}

fn money(m: Money, currency: &str) -> String {
    m.display_in(currency)
}

/// A date field of a form: empty is none; else YYYY-MM-DD (what a date input sends).
fn form_date(field: &str) -> anyhow::Result<Option<chrono::NaiveDate>> {
    match field.trim() {
        "" => Ok(None),
        d => chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| anyhow::anyhow!("the date {d:?} is not YYYY-MM-DD")),
    }
}

/// Invoice numbers typed in a form, separated by commas, spaces or semicolons.
fn invoice_list(field: &str) -> Vec<InvoiceNumber> {
    field.split([',', ' ', ';']).filter(|n| !n.trim().is_empty()).map(InvoiceNumber::new).collect()
}

/// The invoice a path names with its lines, or the page that says there is none.
async fn invoice_named(
    app: &App,
    number: &str,
) -> Result<(crate::store::InvoiceRecord, Vec<crate::domain::Line>), Response> {
    match app.store.invoice(&number.to_ascii_uppercase()).await {
        Ok(Some(found)) => Ok(found),
        Ok(None) => Err(refusal(StatusCode::NOT_FOUND, &format!("There is no invoice {number:?}."))),
        Err(e) => Err(failure(&e)),
    }
}

/// The invoice a path names as the document its email and PDF are made from.
async fn invoice_doc(app: &App, number: &str) -> Result<(i64, InvoiceDoc), Response> {
    let (inv, lines) = invoice_named(app, number).await?;
    let entries = app.store.time_entries(inv.id).await.map_err(|e| failure(&e))?;
    Ok((inv.id, InvoiceDoc::of(&inv, lines, entries)))
}

/// After a form: back to `to`, with a message for the next page.
fn back(app: &App, who: &Who, to: &str, result: anyhow::Result<String>) -> Response {
    match result {
        Ok(text) => app.flash(&who.token_hash, true, text),
        Err(e) => app.flash(&who.token_hash, false, format!("Nothing was done: {e:#}")),
    }
    Redirect::to(to).into_response()
}

// ---------------------------------------------------------------- review

#[derive(Deserialize)]
pub struct ListQuery {
    page: Option<i64>,
    all: Option<String>,
}

pub async fn review_list(State(app): State<Arc<App>>, who: Who, Query(q): Query<ListQuery>) -> Response {
    let open_only = q.all.is_none();
    let (items, total) = tryf!(app.store.review_page(open_only, Pager::offset(q.page), PAGE).await);
    let pager = Pager::new(q.page, total, query_of(&[("all", q.all.as_deref())]));
    page(&app, &who, "review_list.html.j2", context! { items, pager, open_only }).await
}

/// Where each figure was read, marked in the text it was read from: the
/// text escaped, each piece of evidence wrapped in `<mark>`.
pub fn highlight(text: &str, evidence: &[(String, String)]) -> String {
    let lower = text.to_lowercase();
    // byte ranges in `text`; to_lowercase can change lengths, so only
    // texts whose lowercase keeps every byte offset are matched ignoring case
    let same_offsets = lower.len() == text.len();
    let mut ranges: Vec<(usize, usize, &str)> = Vec::new();
    for (field, snippet) in evidence {
        let snippet = snippet.trim();
        if snippet.is_empty() {
            continue;
        }
        let found = text.find(snippet).or_else(|| same_offsets.then(|| lower.find(&snippet.to_lowercase())).flatten());
        if let Some(start) = found {
            ranges.push((start, start + snippet.len(), field));
        }
    }
    ranges.sort();
    let mut out = String::new();
    let mut at = 0;
    for (start, end, field) in ranges {
        if start < at || !text.is_char_boundary(start) || !text.is_char_boundary(end) {
            continue;
        }
        out.push_str(&html_escape::encode_text(&text[at..start]));
        out.push_str(&format!(
            "<mark title=\"{}\">{}</mark>",
            html_escape::encode_double_quoted_attribute(field),
            html_escape::encode_text(&text[start..end])
        ));
        at = end;
    }
    out.push_str(&html_escape::encode_text(&text[at..]));
    out
}

/// A customer's HTML made inert: no script, no event handler, no style that
/// could fetch, and no address but `mailto:` and `cid:` (a remote image is
/// dropped, so opening the message tells its sender nothing).
pub fn sanitise(html: &str) -> String {
    ammonia::Builder::default()
        .url_schemes(std::collections::HashSet::from(["mailto", "cid"]))
        .rm_tags(["img"])
        .link_rel(Some("noopener noreferrer nofollow"))
        .clean(html)
        .to_string()
}

/// What a review page shows of the message: the headers that matter, the
/// text with the evidence marked, and the HTML made inert.
#[derive(Serialize, Default)]
struct Shown {
    headers: Vec<(String, String)>,
    text: String,
    html: Option<String>,
}

fn shown(raw: &[u8], reading: &Value) -> Shown {
    let Some(m) = mail_parser::MessageParser::default().parse(raw) else {
        return Shown { text: html_escape::encode_text(&String::from_utf8_lossy(raw)).to_string(), ..Shown::default() };
    };
    let mut headers = Vec::new();
    for name in ["From", "Reply-To", "To", "Cc", "Date", "Subject"] {
        if let Some(v) = m.header_raw(name) {
            let v = v.trim();
            // decoded words (=?utf-8?...) shown decoded
            let decoded = match name {
                "Subject" => m.subject().map(str::to_string),
                "Date" => m.date().map(|d| d.to_rfc822()),
                _ => None,
            };
            headers.push((name.to_string(), decoded.unwrap_or_else(|| v.to_string())));
        }
    }
    let evidence: Vec<(String, String)> = reading["evidence"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| (e["field"].as_str().unwrap_or("").to_string(), e["text"].as_str().unwrap_or("").to_string()))
        .collect();
    let text = m.body_text(0).map(|t| t.to_string()).unwrap_or_default();
    let html = m.body_html(0).filter(|_| m.html_body_count() > 0 && m.html_part(0).is_some_and(|p| p.is_text_html()));
    Shown { headers, text: highlight(&text, &evidence), html: html.map(|h| sanitise(&h)) }
}

/// The correction form's starting values: what applying the reading would give.
#[derive(Serialize, Default)]
struct Proposed {
    full_time: Option<i64>,
    part_time: Option<i64>,
    effective: Option<String>,
    amount: Option<String>,
    invoices: Option<String>,
}

fn proposed(reading: &Value, counts: Option<crate::domain::UserCounts>) -> Proposed {
    let u = &reading["user_change"];
    let p = &reading["payment"];
    if u.is_object() {
        let base = counts.unwrap_or_default();
        let mut ft = base.full_time;
        let mut pt = base.part_time;
        for a in u["adjustments"].as_array().into_iter().flatten() {
            let d = a["delta"].as_i64().unwrap_or(0);
            if a["user_type"] == "part_time" {
                pt += d;
            } else {
                ft += d;
            }
        }
        if let Some(t) = u["totals"]["full_time"].as_i64() {
            ft = t;
        }
        if let Some(t) = u["totals"]["part_time"].as_i64() {
            pt = t;
        }
        return Proposed {
            full_time: Some(ft.max(0)),
            part_time: Some(pt.max(0)),
            effective: u["effective_date"].as_str().map(str::to_string),
            ..Proposed::default()
        };
    }
    if p.is_object() {
        let invoices: Vec<&str> =
            p["invoice_numbers"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        return Proposed {
            amount: p["amount"].as_str().map(str::to_string),
            invoices: Some(invoices.join(", ")),
            ..Proposed::default()
        };
    }
    Proposed::default()
}

pub async fn review_item(State(app): State<Arc<App>>, who: Who, Path(id): Path<i64>) -> Response {
    let Some((item, reading, raw)) = tryf!(app.store.review(id).await) else {
        return refusal(StatusCode::NOT_FOUND, &format!("There is no review item #{id}."));
    };
    let reading: Value = serde_json::from_str(&reading).unwrap_or(Value::Null);
    let shown = if item.message.is_some() {
        shown(&raw, &reading)
    } else {
        Shown { text: html_escape::encode_text(&String::from_utf8_lossy(&raw)).to_string(), ..Shown::default() }
    };
    // the account the sender belongs to, as the books hold it now
    let from = reading["from"].as_str().unwrap_or(&item.from).to_string();
    let (accounts, changes) = {
        let mut tx = tryf!(app.store.begin().await);
        let a = tryf!(tx.accounts_of_contact(&from).await);
        let changes = match a.as_slice() {
            [only] => tryf!(tx.count_changes(only).await),
            _ => Vec::new(),
        };
        tryf!(tx.commit().await);
        (a, changes)
    };
    let mut account = None;
    if let [only] = accounts.as_slice() {
        account = tryf!(app.store.account_summary(only, app.today()).await);
    }
    // the counts a correction starts from: those in force when the change would take effect
    let effective = reading["user_change"]["effective_date"]
        .as_str()
        .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .unwrap_or(app.today());
    let counts_then = account.as_ref().map(|_| crate::domain::book::counts_on(&changes, effective));
    let cur = app.config.company.currency.clone();
    let account_view = account.as_ref().map(|a| {
        context! {
            id => a.id.as_str(), name => &a.name, tier => &a.tier, status => &a.status, since => &a.status_since,
            full_time => a.counts.full_time, part_time => a.counts.part_time,
            balance => money(a.balance, &cur), credit => money(a.credit, &cur), has_credit => a.credit.is_positive(),
            open => a.open_invoices.iter().map(|i| context!{ number => &i.number, due => i.due.to_string(), balance => money(i.balance, &cur) }).collect::<Vec<_>>(),
        }
    });
    let proposed = proposed(&reading, counts_then);
    let others: Vec<&str> =
        if accounts.len() > 1 { accounts.iter().map(AccountId::as_str).collect() } else { Vec::new() };
    page(
        &app,
        &who,
        "review_item.html.j2",
        context! { item, reading, shown, account => account_view, others, proposed, is_message => item.message.is_some() },
    )
    .await
}

pub async fn review_approve(
    State(app): State<Arc<App>>,
    who: Who,
    Path(id): Path<i64>,
    Form(f): Form<super::auth::CsrfForm>,
) -> Response {
    if let Some(r) = who.refuse(&f.csrf) {
        return r;
    }
    let actor = crate::intake::Actor { config: &app.config, renderer: &app.renderer, dkim: None };
    let done = crate::intake::approve(&app.store, &actor, id, None, &who.name, app.clock.now()).await;
    tracing::info!(user = %who.name, "web: review #{id} approved: {done:?}");
    back(&app, &who, &format!("/review/{id}"), done.map(|d| format!("Review #{id} approved: {d}.")))
}

#[derive(Deserialize)]
pub struct CorrectForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    full_time: String,
    #[serde(default)]
    part_time: String,
    #[serde(default)]
    effective: String,
    #[serde(default)]
    amount: String,
    invoices: Option<String>,
}

fn correction(f: &CorrectForm) -> anyhow::Result<Correction> {
    let count = |name: &str, v: &str| -> anyhow::Result<Option<i64>> {
        let v = v.trim();
        if v.is_empty() {
            return Ok(None);
        }
        v.parse::<i64>().map(Some).map_err(|_| anyhow::anyhow!("{name} {v:?} is not a whole number"))
    };
    let effective = form_date(&f.effective)?;
    let amount = match f.amount.trim() {
        "" => None,
        a => Some(Money::parse(a).map_err(|e| anyhow::anyhow!("the amount {a:?}: {e}"))?.to_decimal()),
    };
    let invoices = f.invoices.as_deref().map(invoice_list);
    // a payment form always sends its invoices field; kept only when it differs from nothing given
    let invoices = if amount.is_none() && invoices.as_ref().is_some_and(Vec::is_empty) { None } else { invoices };
    Ok(Correction {
        full_time: count("full-time", &f.full_time)?,
        part_time: count("part-time", &f.part_time)?,
        effective,
        amount,
        invoices,
    })
}

pub async fn review_correct(
    State(app): State<Arc<App>>,
    who: Who,
    Path(id): Path<i64>,
    Form(f): Form<CorrectForm>,
) -> Response {
    if let Some(r) = who.refuse(&f.csrf) {
        return r;
    }
    let done = async {
        let c = correction(&f)?;
        let actor = crate::intake::Actor { config: &app.config, renderer: &app.renderer, dkim: None };
        let done = crate::intake::approve(&app.store, &actor, id, Some(&c), &who.name, app.clock.now()).await?;
        Ok(format!("Review #{id} {}: {done}.", c.describe()))
    }
    .await;
    tracing::info!(user = %who.name, "web: review #{id} corrected: {done:?}");
    back(&app, &who, &format!("/review/{id}"), done)
}

#[derive(Deserialize)]
pub struct RejectForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
}

pub async fn review_reject(
    State(app): State<Arc<App>>,
    who: Who,
    Path(id): Path<i64>,
    Form(f): Form<RejectForm>,
) -> Response {
    if let Some(r) = who.refuse(&f.csrf) {
        return r;
    }
    let done = crate::intake::reject(&app.store, id, &f.reason, &who.name, app.clock.now()).await;
    tracing::info!(user = %who.name, "web: review #{id} rejected: {done:?}");
    back(&app, &who, &format!("/review/{id}"), done.map(|()| format!("Review #{id} rejected: {}", f.reason.trim())))
}

// ---------------------------------------------------------------- accounts

#[derive(Deserialize)]
pub struct AccountsQuery {
    q: Option<String>,
    status: Option<String>,
    page: Option<i64>,
}

pub async fn accounts(State(app): State<Arc<App>>, who: Who, Query(q): Query<AccountsQuery>) -> Response {
    let search = q.q.as_deref().unwrap_or("").trim().to_string();
    let status = q.status.as_deref().filter(|s| ["active", "credit_hold", "service_hold"].contains(s));
    let today = app.today();
    let (rows, total) = tryf!(app.store.account_rows(&search, status, today, Pager::offset(q.page), PAGE).await);
    let cur = &app.config.company.currency;
    let rows: Vec<minijinja::Value> = rows
        .iter()
        .map(|a| {
            let past_due = a.oldest_due.map(|d| (today - d).num_days()).filter(|d| *d > 0);
            context! {
                id => a.id.as_str(), name => &a.name, tier => &a.tier, status => &a.status,
                full_time => a.counts.full_time, part_time => a.counts.part_time,
                balance => money(a.balance, cur), past_due,
            }
        })
        .collect();
    let pager = Pager::new(q.page, total, query_of(&[("q", Some(&search)), ("status", status)]));
    page(&app, &who, "accounts.html.j2", context! { rows, pager, search, status }).await
}

/// What a hold blocks, in the words the customer was given.
fn hold_blocks(status: &str) -> Option<&'static str> {
    match status {
        "credit_hold" => Some(
            "Credit hold: no new purchases (service work and new subscriptions are refused); services keep running.",
        ),
        "service_hold" => Some("Service hold: no support, and antivirus, anti-spam and DNS filtering are shut off."),
        _ => None,
    }
}

pub async fn account(State(app): State<Arc<App>>, who: Who, Path(id): Path<String>) -> Response {
    let found = tryf!(app.store.account_named(&id).await);
    let Some(id) = found else { return refusal(StatusCode::NOT_FOUND, &format!("There is no account {id:?}.")) };
    let Some(a) = tryf!(app.store.account_summary(&id, app.today()).await) else {
        return refusal(StatusCode::NOT_FOUND, "There is no such account.");
    };
    let cur = app.config.company.currency.clone();
    let invoices = tryf!(app.store.invoices(Some(&id), false).await);
    let invoices: Vec<minijinja::Value> = invoices
        .iter()
        .take(100)
        .map(|i| context! { number => &i.number, kind => i.kind.as_str(), period => i.period.to_string(), issued => i.issued.to_string(), due => i.due.to_string(), total => money(i.total, &cur), balance => money(i.balance, &cur), status => &i.status })
        .collect();
    let payments: Vec<minijinja::Value> = tryf!(app.store.payments_of(&id).await)
        .iter()
        .take(100)
        .map(|p| context! { id => p.id, received => &p.received_on, amount => money(Money::from_cents(p.amount_cents), &cur), method => &p.method, reference => &p.reference, source => &p.source })
        .collect();
    let mut history = tryf!(app.store.history_of(&id).await);
    history.reverse();
    history.truncate(200);
    let (mut contacts, changes) = {
        let mut tx = tryf!(app.store.begin().await);
        let c = tryf!(tx.contacts_of(&id).await);
        let changes = tryf!(tx.count_changes(&id).await);
        tryf!(tx.commit().await);
        (c, changes)
    };
    // changes that take effect later: the counts from each such day
    let today = app.today();
    let mut days: Vec<chrono::NaiveDate> = changes.iter().map(|c| c.effective).filter(|d| *d > today).collect();
    days.sort();
    days.dedup();
    let scheduled: Vec<minijinja::Value> = days
        .iter()
        .map(|d| {
            let n = crate::domain::book::counts_on(&changes, *d);
            context! { from => d.to_string(), full_time => n.full_time, part_time => n.part_time }
        })
        .collect();
    contacts.sort_by(|x, y| x.1.cmp(&y.1));
    let account = context! {
        id => a.id.as_str(), name => &a.name, tier => &a.tier, status => &a.status, since => &a.status_since,
        blocks => hold_blocks(&a.status), full_time => a.counts.full_time, part_time => a.counts.part_time,
        balance => money(a.balance, &cur), credit => money(a.credit, &cur), has_credit => a.credit.is_positive(), first_period => &a.first_period,
    };
    let open: Vec<&str> = a.open_invoices.iter().map(|i| i.number.as_str()).collect();
    page(
        &app,
        &who,
        "account.html.j2",
        context! {
            account, invoices, payments, history, contacts, open, scheduled, methods => crate::by_hand::METHODS,
            release_until => (today + chrono::Duration::days(14)).to_string(),
        },
    )
    .await
}

#[derive(Deserialize)]
pub struct PaymentForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    method: String,
    #[serde(default)]
    reference: String,
    #[serde(default)]
    invoices: String,
    #[serde(default)]
    received: String,
}

pub async fn record_payment(
    State(app): State<Arc<App>>,
    who: Who,
    Path(id): Path<String>,
    Form(f): Form<PaymentForm>,
) -> Response {
    if let Some(r) = who.refuse(&f.csrf) {
        return r;
    }
    let to = format!("/accounts/{}", urlencode(&id));
    let done = async {
        let account = app.store.account_named(&id).await?.ok_or_else(|| anyhow::anyhow!("no account {id:?}"))?;
        let amount = Money::parse(f.amount.trim()).map_err(|e| anyhow::anyhow!("the amount {:?}: {e}", f.amount))?;
        let received = form_date(&f.received)?.unwrap_or(app.today());
        let invoices = invoice_list(&f.invoices);
        let reference = Some(f.reference.trim()).filter(|r| !r.is_empty());
        let hand = crate::by_hand::HandPayment {
            amount,
            method: f.method.trim(),
            reference,
            invoices: &invoices,
            received_on: received,
            by: &who.name,
        };
        let (pid, plan) =
            crate::by_hand::record_payment(&app.store, &app.config, &account, &hand, app.clock.now()).await?;
        let cur = &app.config.company.currency;
        let mut said = format!("Payment #{pid} of {} recorded for {account}", money(amount, cur));
        for (n, a) in plan.applied() {
            said.push_str(&format!("; {} applied to {n}", money(a, cur)));
        }
        if plan.credit.is_positive() {
            said.push_str(&format!("; {} kept as credit", money(plan.credit, cur)));
        }
        Ok(said + ".")
    }
    .await;
    tracing::info!(user = %who.name, "web: payment for {id}: {done:?}");
    back(&app, &who, &to, done)
}

#[derive(Deserialize)]
pub struct HoldForm {
    #[serde(default)]
    csrf: String,
    /// `credit_hold`, `service_hold`, or `active` to release.
    #[serde(default)]
    standing: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    reason: String,
}

/// Place or release a hold by hand: the same code as `accounts hold` and
/// `accounts release`, the customer told with the reason.
pub async fn hold(State(app): State<Arc<App>>, who: Who, Path(id): Path<String>, Form(f): Form<HoldForm>) -> Response {
    use crate::domain::collections::Standing;
    if let Some(r) = who.refuse(&f.csrf) {
        return r;
    }
    let to = format!("/accounts/{}", urlencode(&id));
    let done = async {
        let account = app.store.account_named(&id).await?.ok_or_else(|| anyhow::anyhow!("no account {id:?}"))?;
        let standing = match f.standing.as_str() {
            "credit_hold" => Standing::CreditHold,
            "service_hold" => Standing::ServiceHold,
            "active" => Standing::Active,
            other => anyhow::bail!("{other:?} is not a standing"),
        };
        let until = form_date(&f.until)?;
        let line = crate::engine::hold_by_hand(
            &app.config,
            &app.store,
            &app.renderer,
            &account,
            standing,
            until,
            &f.reason,
            &who.name,
            app.clock.now(),
        )
        .await?;
        Ok(format!("{line}; the customer is told."))
    }
    .await;
    tracing::info!(user = %who.name, "web: hold by hand for {id}: {done:?}");
    back(&app, &who, &to, done)
}

// ---------------------------------------------------------------- invoices

#[derive(Deserialize)]
pub struct InvoicesQuery {
    account: Option<String>,
    period: Option<String>,
    kind: Option<String>,
    status: Option<String>,
    page: Option<i64>,
}

pub async fn invoices(State(app): State<Arc<App>>, who: Who, Query(q): Query<InvoicesQuery>) -> Response {
    let pick = |v: &Option<String>, allowed: &[&str]| v.clone().filter(|s| allowed.contains(&s.as_str()));
    let filter = InvoiceFilter {
        account: q.account.clone().filter(|a| !a.trim().is_empty()).and_then(|a| AccountId::parse(a.trim()).ok()),
        period: q.period.clone().filter(|p| !p.trim().is_empty()).map(|p| p.trim().to_string()),
        kind: pick(&q.kind, &["agreement", "recurring", "service"]),
        status: pick(&q.status, &["open", "paid", "void"]),
    };
    let (rows, total) = tryf!(app.store.invoice_page(&filter, Pager::offset(q.page), PAGE).await);
    let cur = &app.config.company.currency;
    let rows: Vec<minijinja::Value> = rows
        .iter()
        .map(|i| context! { number => &i.number, account => i.account.as_str(), name => &i.account_name, kind => i.kind.as_str(), period => i.period.to_string(), issued => i.issued.to_string(), due => i.due.to_string(), total => money(i.total, cur), balance => money(i.balance, cur), status => &i.status })
        .collect();
    let query = query_of(&[
        ("account", filter.account.as_ref().map(AccountId::as_str)),
        ("period", filter.period.as_deref()),
        ("kind", filter.kind.as_deref()),
        ("status", filter.status.as_deref()),
    ]);
    let pager = Pager::new(q.page, total, query);
    let f = context! { account => filter.account.as_ref().map(AccountId::as_str), period => &filter.period, kind => &filter.kind, status => &filter.status };
    page(&app, &who, "invoices.html.j2", context! { rows, pager, f }).await
}

pub async fn invoice(State(app): State<Arc<App>>, who: Who, Path(number): Path<String>) -> Response {
    let (inv, lines) = match invoice_named(&app, &number).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let cur = &app.config.company.currency;
    let view = context! {
        number => &inv.number, account => inv.account.as_str(), name => &inv.account_name, kind => inv.kind.as_str(),
        period => inv.period.to_string(), issued => inv.issued.to_string(), due => inv.due.to_string(),
        total => money(inv.total, cur), credit => money(inv.credit_applied, cur), paid => money(inv.paid, cur),
        balance => money(inv.balance, cur), status => &inv.status, lines => lines.len(),
    };
    page(&app, &who, "invoice.html.j2", context! { invoice => view }).await
}

/// The invoice's HTML as its email carried it, shown in a frame of the invoice page.
pub async fn invoice_html(State(app): State<Arc<App>>, _who: Who, Path(number): Path<String>) -> Response {
    let (_, doc) = match invoice_doc(&app, &number).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let rendered = tryf!(app.renderer.invoice(&app.config.company, &doc));
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            // the email's own inline styles, nothing else
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'",
            ),
        ],
        rendered.html,
    )
        .into_response()
}

/// The PDF the customer was sent (kept with the outgoing message), or, for
/// an invoice whose email has not gone yet, one made now.
pub async fn invoice_pdf(State(app): State<Arc<App>>, _who: Who, Path(number): Path<String>) -> Response {
    let (invoice_id, doc) = match invoice_doc(&app, &number).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let bytes = match tryf!(app.store.invoice_attachment(invoice_id).await) {
        Some(b) => b,
        None => {
            let made = app.renderer.invoice_pdf(&app.config.company, &doc);
            app.renderer.finish_pdfs();
            tryf!(made)
        }
    };
    (
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (header::CONTENT_DISPOSITION, format!("inline; filename=\"{}\"", doc.pdf_name())),
        ],
        bytes,
    )
        .into_response()
}

// ---------------------------------------------------------------- aging and cash

pub async fn aging_page(app: &App, who: &Who, page_no: Option<i64>) -> anyhow::Result<Response> {
    use crate::domain::aging::bucket;
    let today = app.today();
    let cur = &app.config.company.currency;
    // read in parts, so a book of 10,000 accounts is not read whole for a
    // page of 50: the totals per due date, the five largest balances for
    // the chart, the page's accounts for the table
    let mut totals = [Money::ZERO; 5];
    for (due, m) in app.store.open_by_due().await? {
        totals[bucket(due, today)] += m;
    }
    let total: Money = totals.iter().copied().sum();
    let largest = app.store.largest_balances(5).await?;
    let (top, _, _) = aging_rows(&app.store.open_balances(Some(&largest)).await?, today);
    let mut series: Vec<(String, Vec<Money>)> = largest
        .iter()
        .filter_map(|id| top.iter().find(|r| &r.account == id))
        .map(|r| (format!("{} {}", r.account, r.name), r.buckets.to_vec()))
        .collect();
    let (page_ids, owing) = app.store.owing_accounts(Pager::offset(page_no), PAGE).await?;
    if owing > top.len() as i64 {
        let mut rest = totals.to_vec();
        for r in &top {
            for (t, b) in rest.iter_mut().zip(r.buckets) {
                *t -= b;
            }
        }
        series.push((format!("{} other accounts", owing - top.len() as i64), rest));
    }
    let aging_svg = chart::stacked("Open balances by days past due", &BUCKETS, &series, cur);
    let weeks = chart::per_week(&app.store.payments_since(today - chrono::Duration::weeks(12)).await?, today, 12);
    let cash_svg = chart::weekly("Cash received per week", &weeks, cur);
    let (rows, _, _) = aging_rows(&app.store.open_balances(Some(&page_ids)).await?, today);
    let pager = Pager::new(page_no, owing, String::new());
    let table: Vec<minijinja::Value> = rows
        .iter()
        .map(|r| context! { account => r.account.as_str(), name => &r.name, buckets => r.buckets.iter().map(|m| money(*m, cur)).collect::<Vec<_>>(), total => money(r.total, cur) })
        .collect();
    let totals: Vec<String> = totals.iter().map(|m| money(*m, cur)).collect();
    let weeks: Vec<(String, String)> = weeks.iter().map(|(d, m)| (d.to_string(), money(*m, cur))).collect();
    Ok(page(
        app,
        who,
        "aging.html.j2",
        context! {
            aging_svg => minijinja::Value::from_safe_string(aging_svg),
            cash_svg => minijinja::Value::from_safe_string(cash_svg),
            buckets => BUCKETS, table, totals, total => money(total, cur), weeks, pager,
        },
    )
    .await)
}

pub async fn aging(State(app): State<Arc<App>>, who: Who, Query(q): Query<PageQuery>) -> Response {
    tryf!(aging_page(&app, &who, q.page).await)
}

// ---------------------------------------------------------------- operations

#[derive(Deserialize)]
pub struct PageQuery {
    page: Option<i64>,
}

pub async fn operations(State(app): State<Arc<App>>, who: Who, Query(q): Query<PageQuery>) -> Response {
    let s = tryf!(app.store.status().await);
    let status = context! {
        last_intake => s.last_intake.as_ref().map(|r| context!{ at => &r.at, detail => &r.detail }),
        last_cycle => s.last_cycle.as_ref().map(|r| context!{ at => &r.at, detail => &r.detail }),
        last_error => s.last_error.as_ref().map(|r| context!{ at => &r.at, detail => &r.detail }),
        queued => s.queued, failed => s.failed, next_attempt => &s.next_attempt_at, review_open => s.review_open,
        accounts => s.accounts,
        holds => s.holds.iter().map(|h| context!{ account => h.account.as_str(), status => &h.status, since => &h.since }).collect::<Vec<_>>(),
    };
    let failed = tryf!(app.store.failed_mail(PAGE).await);
    let (mail, total) = tryf!(app.store.outbox_page(Pager::offset(q.page), PAGE).await);
    let pager = Pager::new(q.page, total, String::new());
    page(&app, &who, "operations.html.j2", context! { status, failed, mail, pager }).await
}

pub async fn outbox_retry(
    State(app): State<Arc<App>>,
    who: Who,
    Path(id): Path<i64>,
    Form(f): Form<super::auth::CsrfForm>,
) -> Response {
    if let Some(r) = who.refuse(&f.csrf) {
        return r;
    }
    let done = crate::by_hand::retry_mail(&app.store, id, app.clock.now()).await;
    tracing::info!(user = %who.name, "web: outbox #{id} retry: {done:?}");
    back(
        &app,
        &who,
        "/operations",
        done.map(|n| {
            format!("Message #{id} is queued again (it had failed after {n} attempts); it goes out on the next cycle.")
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_is_marked_in_escaped_text() {
        let text = "Hi <team>,\nplease add 2 full-time users from Jan 1.\n";
        let ev = vec![
            ("adjustments[0]".to_string(), "add 2 full-time users".to_string()),
            ("effective_date".to_string(), "from jan 1".to_string()),
            ("nowhere".to_string(), "not in the text".to_string()),
        ];
        let h = highlight(text, &ev);
        assert_eq!(
            h,
            "Hi &lt;team&gt;,\nplease <mark title=\"adjustments[0]\">add 2 full-time users</mark> <mark title=\"effective_date\">from Jan 1</mark>.\n"
        );
    }

    #[test]
    fn customer_html_is_inert() {
        let html = r#"<p onclick="x()">Hi<script>alert(1)</script><img src="https://tracker.example/p.png" onerror="alert(2)"><a href="https://evil.example/">link</a><a href="mailto:a@b.example">mail</a><style>body{background:url(https://t.example/)}</style></p>"#;
        let clean = sanitise(html);
        for bad in
            ["script", "alert", "onerror", "onclick", "<img", "tracker.example", "evil.example", "<style", "t.example"]
        {
            assert!(!clean.contains(bad), "{bad} left in {clean}");
        }
        assert!(clean.contains("mailto:a@b.example") && clean.contains(">link</a>"));
    }

    #[test]
    fn a_correction_is_read_from_the_form() {
        let f = CorrectForm {
            csrf: String::new(),
            full_time: " 12 ".into(),
            part_time: "3".into(),
            effective: "2027-01-01".into(),
            amount: String::new(),
            invoices: None,
        };
        let c = correction(&f).unwrap();
        assert_eq!((c.full_time, c.part_time), (Some(12), Some(3)));
        assert!(c.amount.is_none() && c.invoices.is_none());
        let bad = CorrectForm { full_time: "twelve".into(), ..f };
        assert!(correction(&bad).unwrap_err().to_string().contains("not a whole number"));
    }
}
