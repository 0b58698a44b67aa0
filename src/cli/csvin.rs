//! The import files: every row validated before anything is written; any
//! bad row refuses the whole file with its line number and the reason.

use std::collections::HashSet;
use std::path::Path;

use anyhow::{Context, Result, bail};
use chrono::NaiveDate;

use crate::config::Config;
use crate::domain::import::PostalAddress;
use crate::domain::{AccountId, EmailAddress, Money, UserCounts, limits};
use crate::store::{AccountImport, SubscriptionImport};

const ACCOUNT_COLUMNS: &[&str] = &[
    "id",
    "name",
    "tier",
    "full_time_users",
    "part_time_users",
    "billing_emails",
    "authorized_emails",
    "payer_names",
    "start_date",
    "full_time_rate",
    "part_time_rate",
    "full_time_names",
    "part_time_names",
    "address_line1",
    "address_line2",
    "city",
    "state",
    "postal_code",
    "country",
];
const ACCOUNT_REQUIRED: &[&str] = &["id", "name", "tier", "full_time_users", "part_time_users", "billing_emails"];
const SUBSCRIPTION_COLUMNS: &[&str] = &["account", "product", "quantity", "unit_price"];

/// The rows of an import file as `T` (serde, by column name; a column the
/// file does not have reads as empty), each with its line, and the columns
/// the header names.
struct Rows<T> {
    file: String,
    header: Vec<String>,
    rows: Vec<(usize, T)>,
}

fn read<T: serde::de::DeserializeOwned>(path: &Path, known: &[&str], required: &[&str]) -> Result<Rows<T>> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {file}"))?;
    let text = String::from_utf8(bytes).map_err(|e| anyhow::anyhow!("{file}: not UTF-8 text ({e})"))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut rdr = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(text.as_bytes());
    let header: Vec<String> = rdr
        .headers()
        .with_context(|| format!("{file}: cannot read the header row"))?
        .iter()
        .map(|h| h.to_ascii_lowercase())
        .collect();
    let mut seen = HashSet::new();
    for h in &header {
        if !known.contains(&h.as_str()) {
            bail!("{file} line 1: unknown column {h:?} (known: {})", known.join(", "));
        }
        if !seen.insert(h.clone()) {
            bail!("{file} line 1: column {h:?} appears twice");
        }
    }
    for r in required {
        if !header.iter().any(|h| h == r) {
            bail!("{file} line 1: missing column {r:?}");
        }
    }
    // the columns by the names serde knows (the file may write them in capitals)
    let names = csv::StringRecord::from(header.clone());
    let mut rows = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| {
            let line = e.position().map(|p| p.line()).unwrap_or(0);
            anyhow::anyhow!("{file} line {line}: {}", csv_error_reason(&e))
        })?;
        let line = rec.position().map(|p| p.line() as usize).unwrap_or(0);
        if rec.iter().all(str::is_empty) {
            continue;
        }
        let row: T = rec.deserialize(Some(&names)).map_err(|e| anyhow::anyhow!("{file} line {line}: {e}"))?;
        rows.push((line, row));
    }
    if rows.is_empty() {
        bail!("{file}: no rows below the header");
    }
    Ok(Rows { file, header, rows })
}

/// One row of `accounts.csv`, as written.
#[derive(serde::Deserialize)]
struct AccountRow {
    id: String,
    name: String,
    tier: String,
    full_time_users: String,
    part_time_users: String,
    billing_emails: String,
    #[serde(default)]
    authorized_emails: String,
    #[serde(default)]
    payer_names: String,
    #[serde(default)]
    start_date: String,
    #[serde(default)]
    full_time_rate: String,
    #[serde(default)]
    part_time_rate: String,
    #[serde(default)]
    full_time_names: String,
    #[serde(default)]
    part_time_names: String,
    #[serde(default)]
    address_line1: String,
    #[serde(default)]
    address_line2: String,
    #[serde(default)]
    city: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    postal_code: String,
    #[serde(default)]
    country: String,
}

/// One row of a subscriptions file, as written.
#[derive(serde::Deserialize)]
struct SubscriptionRow {
    account: String,
    product: String,
    quantity: String,
    unit_price: String,
}

fn csv_error_reason(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            format!("{len} fields where the header has {expected_len}")
        }
        _ => e.to_string(),
    }
}

fn list(s: &str) -> Vec<String> {
    s.split(';').map(str::trim).filter(|x| !x.is_empty()).map(String::from).collect()
}

fn count(s: &str, col: &str) -> Result<i64, String> {
    match s.parse::<i64>() {
        Ok(n) if n >= 0 => Ok(n),
        Ok(n) => Err(format!("{col} is negative ({n})")),
        Err(_) => Err(format!("{col} {s:?} is not a whole number")),
    }
}

fn emails(s: &str, col: &str) -> Result<Vec<EmailAddress>, String> {
    let mut out: Vec<EmailAddress> = Vec::new();
    for e in list(s) {
        let e = EmailAddress::parse(&e).map_err(|m| format!("{col}: {m}"))?;
        if !out.contains(&e) {
            out.push(e);
        }
    }
    Ok(out)
}

/// A row checked; `header` says which columns the file has (an empty
/// cell clears a list, a column the file lacks leaves the account's as it is).
fn account_row(config: &Config, r: &AccountRow, header: &[String]) -> Result<AccountImport, String> {
    let has = |col: &str| header.iter().any(|h| h == col);
    let id = AccountId::parse(&r.id)?;
    let name = r.name.clone();
    if name.is_empty() {
        return Err("name is empty".into());
    }
    let tier = r.tier.clone();
    if config.tier(&tier).is_none() {
        let known: Vec<&str> = config.tiers.keys().map(String::as_str).collect();
        return Err(format!("unknown tier {tier:?} (known: {})", known.join(", ")));
    }
    let counts = UserCounts {
        full_time: limits::within(count(&r.full_time_users, "full_time_users")?, limits::MAX_USERS, "full_time_users")?,
        part_time: limits::within(count(&r.part_time_users, "part_time_users")?, limits::MAX_USERS, "part_time_users")?,
    };
    let billing_emails = emails(&r.billing_emails, "billing_emails")?;
    if billing_emails.is_empty() {
        return Err("billing_emails is empty: invoices need somewhere to go".into());
    }
    let authorized_emails = match has("authorized_emails") {
        true => Some(emails(&r.authorized_emails, "authorized_emails")?),
        false => None,
    };
    let start_date = match r.start_date.as_str() {
        "" => None,
        s => Some(NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| format!("start_date {s:?} is not YYYY-MM-DD"))?),
    };
    let rate = |col: &str, s: &str| -> Result<Option<Money>, String> {
        match s {
            "" => Ok(None),
            s => Money::parse(s).map(Some).map_err(|e| format!("{col}: {e}")),
        }
    };
    let names = |col: &str, s: &str, n: i64, label: &str| -> Result<Option<Vec<String>>, String> {
        if s.is_empty() {
            return Ok(None);
        }
        let v = list(s);
        if v.len() as i64 != n {
            return Err(format!("{col} names {} people but {label} is {n}", v.len()));
        }
        Ok(Some(v))
    };
    Ok(AccountImport {
        line: 0,
        id,
        name,
        tier,
        counts,
        billing_emails,
        authorized_emails,
        payer_names: has("payer_names").then(|| list(&r.payer_names)),
        start_date,
        full_time_rate: rate("full_time_rate", &r.full_time_rate)?,
        part_time_rate: rate("part_time_rate", &r.part_time_rate)?,
        full_time_names: names("full_time_names", &r.full_time_names, counts.full_time, "full_time_users")?,
        part_time_names: names("part_time_names", &r.part_time_names, counts.part_time, "part_time_users")?,
        address: PostalAddress::from_parts(
            [&r.address_line1, &r.address_line2, &r.city, &r.state, &r.postal_code, &r.country].map(|p| p.clone()),
        ),
        columns: header.to_vec(),
    })
}

pub fn accounts(config: &Config, path: &Path) -> Result<Vec<AccountImport>> {
    let rows: Rows<AccountRow> = read(path, ACCOUNT_COLUMNS, ACCOUNT_REQUIRED)?;
    let mut out: Vec<AccountImport> = Vec::new();
    // (a lookup, not a scan of the rows so far: 100,000 rows would take minutes)
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (line, r) in &rows.rows {
        let mut row =
            account_row(config, r, &rows.header).map_err(|e| anyhow::anyhow!("{} line {line}: {e}", rows.file))?;
        row.line = *line;
        // `ACME` and `acme` are one account
        if let Some(first) = seen.insert(row.id.as_str().to_ascii_uppercase(), *line) {
            bail!("{} line {line}: account {} already appears on line {first}", rows.file, row.id);
        }
        out.push(row);
    }
    Ok(out)
}

pub fn subscriptions(path: &Path) -> Result<Vec<SubscriptionImport>> {
    let rows: Rows<SubscriptionRow> = read(path, SUBSCRIPTION_COLUMNS, SUBSCRIPTION_COLUMNS)?;
    let mut out: Vec<SubscriptionImport> = Vec::new();
    let mut seen: std::collections::HashMap<(String, String), usize> = std::collections::HashMap::new();
    for (line, r) in &rows.rows {
        let parsed = (|| -> Result<SubscriptionImport, String> {
            let account = AccountId::parse(&r.account)?;
            let product = r.product.clone();
            if product.is_empty() {
                return Err("product is empty".into());
            }
            let quantity = limits::within(count(&r.quantity, "quantity")?, limits::MAX_QUANTITY, "quantity")?;
            let unit_price = Money::parse(&r.unit_price).map_err(|e| format!("unit_price: {e}"))?;
            let unit_price = limits::price(unit_price, "unit_price")?;
            Ok(SubscriptionImport { line: *line, account, product, quantity, unit_price })
        })()
        .map_err(|e| anyhow::anyhow!("{} line {line}: {e}", rows.file))?;
        if let Some(first) = seen.insert((parsed.account.as_str().to_ascii_uppercase(), parsed.product.clone()), *line)
        {
            bail!(
                "{} line {line}: {} / {:?} already appears on line {first}",
                rows.file,
                parsed.account,
                parsed.product
            );
        }
        out.push(parsed);
    }
    Ok(out)
}
