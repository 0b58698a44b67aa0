//! What an import changes, decided in pure code: a row of `accounts.csv`
//! or `subscriptions.csv` against what the books hold (looked up by the
//! store, which then writes what is planned here). A column the file lacks
//! keeps the account's own value; a start date cannot move once an
//! agreement invoice exists; every change is said in the history in words
//! that let a person undo it.

use chrono::NaiveDate;

use super::book::{CountChange, CountRefusal, PlannedChange, check_change, counts_on, first_period};
use super::{AccountId, EmailAddress, Money, Month, UserCounts, UserType};

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
    /// The postal address columns (each one the file lacks keeps the account's).
    pub address: PostalAddress,
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
            address: PostalAddress::default(),
            columns: Vec::new(),
        }
    }

    fn has(&self, column: &str) -> bool {
        self.columns.iter().any(|c| c == column)
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

/// Why an import is refused: the whole file is written or none of it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ImportRefusal {
    #[error("line {line}: account {account} already has agreement invoices; its start_date cannot change")]
    StartDateInvoiced { line: usize, account: AccountId },
    #[error("account {account}: {refusal}")]
    Counts { account: AccountId, refusal: CountRefusal },
    #[error("line {line}: account {account} has no subscription {product:?} to end")]
    NoSubscriptionToEnd { line: usize, account: AccountId, product: String },
}

/// An account as the books hold it, for an import to compare with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredAccount {
    pub fields: Fields,
    pub start_date: Option<NaiveDate>,
    /// The day the account was created (its first agreement month follows from it).
    pub created_on: NaiveDate,
    pub has_agreement_invoices: bool,
}

/// The account's own fields (as the books hold them, or as an import
/// leaves them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fields {
    pub name: String,
    pub tier: String,
    pub full_time_rate: Option<Money>,
    pub part_time_rate: Option<Money>,
    pub address: PostalAddress,
}

/// A customer's postal address as the accounts CSV gives it (every part optional).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct PostalAddress {
    pub line1: String,
    pub line2: String,
    pub city: String,
    pub state: String,
    pub postal_code: String,
    pub country: String,
}

impl PostalAddress {
    /// The CSV columns, in the order of the fields.
    pub const COLUMNS: [&'static str; 6] =
        ["address_line1", "address_line2", "city", "state", "postal_code", "country"];

    pub fn parts(&self) -> [&String; 6] {
        [&self.line1, &self.line2, &self.city, &self.state, &self.postal_code, &self.country]
    }

    pub fn from_parts(p: [String; 6]) -> PostalAddress {
        let [line1, line2, city, state, postal_code, country] = p;
        PostalAddress { line1, line2, city, state, postal_code, country }
    }

    /// As it is written on an envelope: the street lines, `City, ST 12345`, the country.
    pub fn lines(&self) -> Vec<String> {
        let place = match (self.city.as_str(), format!("{} {}", self.state, self.postal_code).trim()) {
            ("", rest) => rest.to_string(),
            (city, "") => city.to_string(),
            (city, rest) => format!("{city}, {rest}"),
        };
        [self.line1.clone(), self.line2.clone(), place, self.country.clone()]
            .into_iter()
            .filter(|l| !l.is_empty())
            .collect()
    }
}

/// What an `accounts.csv` row does to the account itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccountChange {
    Create {
        fields: Fields,
        start_date: Option<NaiveDate>,
        first: Month,
        /// The history's note.
        note: String,
    },
    Update {
        fields: Fields,
        /// A new start date, with the first agreement month it gives.
        start: Option<(Option<NaiveDate>, Month)>,
        /// What changed, for the history; none: the account is as it was.
        notes: Vec<String>,
    },
}

/// Plans a row against the account the books hold (`None`: a new one).
/// `today` is the company's date.
pub fn plan_account(
    row: &AccountImport,
    stored: Option<&StoredAccount>,
    today: NaiveDate,
) -> Result<AccountChange, ImportRefusal> {
    let Some(old) = stored else {
        let first = first_period(row.start_date, today);
        return Ok(AccountChange::Create {
            fields: Fields {
                name: row.name.clone(),
                tier: row.tier.clone(),
                full_time_rate: row.full_time_rate,
                part_time_rate: row.part_time_rate,
                address: row.address.clone(),
            },
            start_date: row.start_date,
            first,
            note: format!("account created by import ({}, first agreement month {first})", row.tier),
        });
    };
    // a column the file lacks keeps what the account has
    let start_date = if row.has("start_date") { row.start_date } else { old.start_date };
    let fields = Fields {
        name: row.name.clone(),
        tier: row.tier.clone(),
        full_time_rate: if row.has("full_time_rate") { row.full_time_rate } else { old.fields.full_time_rate },
        part_time_rate: if row.has("part_time_rate") { row.part_time_rate } else { old.fields.part_time_rate },
        address: {
            let (new, old) = (row.address.parts(), old.fields.address.parts());
            let mut parts = PostalAddress::COLUMNS
                .iter()
                .zip(new.iter().zip(old))
                .map(|(col, (n, o))| if row.has(col) { (*n).clone() } else { o.clone() });
            PostalAddress::from_parts(std::array::from_fn(|_| parts.next().unwrap_or_default()))
        },
    };
    let mut notes = Vec::new();
    let old_fields = &old.fields;
    if old_fields.name != fields.name {
        notes.push(format!("name {:?} -> {:?}", old_fields.name, fields.name));
    }
    if old_fields.tier != fields.tier {
        notes.push(format!("tier {} -> {}", old_fields.tier, fields.tier));
    }
    if old_fields.full_time_rate != fields.full_time_rate || old_fields.part_time_rate != fields.part_time_rate {
        notes.push("rate override changed".into());
    }
    if old_fields.address != fields.address {
        let show = |a: &PostalAddress| if a.lines().is_empty() { "none".to_string() } else { a.lines().join(", ") };
        notes.push(format!("address {} -> {}", show(&old_fields.address), show(&fields.address)));
    }
    let mut start = None;
    if old.start_date != start_date {
        if old.has_agreement_invoices {
            return Err(ImportRefusal::StartDateInvoiced { line: row.line, account: row.id.clone() });
        }
        let first = first_period(start_date, old.created_on.min(today));
        start = Some((start_date, first));
        notes.push(format!("start date changed; first agreement month {first}"));
    }
    Ok(AccountChange::Update { fields, start, notes })
}

/// The change that brings an account's counts to the row's from `today`
/// (none when they are already so), with the history's reason; `existed`:
/// the account was in the books before this import. A count the change
/// would leave negative on a later day refuses the file.
pub fn plan_import_counts(
    row: &AccountImport,
    recorded: &[CountChange],
    today: NaiveDate,
    existed: bool,
) -> Result<Option<(PlannedChange, &'static str)>, ImportRefusal> {
    let delta = row.counts.minus(counts_on(recorded, today));
    if delta.is_zero() {
        return Ok(None);
    }
    let (before, after) = check_change(recorded, today, delta)
        .map_err(|refusal| ImportRefusal::Counts { account: row.id.clone(), refusal })?;
    let reason = if existed { "import" } else { "initial counts from import" };
    Ok(Some((PlannedChange { effective: today, delta, before, after }, reason)))
}

/// An account's contacts, payer names and named users as the books hold
/// them: contacts as (email, role, bounced at) by role and position, payer
/// names and named users (name, type) sorted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoredPeople {
    pub contacts: Vec<(String, String, Option<String>)>,
    pub payers: Vec<String>,
    pub users: Vec<(String, String)>,
}

/// What a row does to an account's contacts, payer names and named users.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeopleChange {
    /// The contacts in the row's order, each keeping its bounce flag (always
    /// written: the order says who is addressed first).
    pub contacts: Vec<(String, String, Option<String>)>,
    /// New payer names, when they change.
    pub payers: Option<Vec<String>>,
    /// New named users, when they change.
    pub users: Option<Vec<(String, String)>>,
    /// The history's note, for an account that existed: before and after.
    pub note: Option<String>,
}

/// Plans a row's contacts, payer names and named users against the books'.
pub fn plan_people(row: &AccountImport, old: &StoredPeople) -> PeopleChange {
    let old_pairs: Vec<(String, String)> = old.contacts.iter().map(|(e, r, _)| (e.clone(), r.clone())).collect();
    let mut new: Vec<(String, String)> = row.billing_emails.iter().map(|e| (e.to_string(), "billing".into())).collect();
    match &row.authorized_emails {
        Some(list) => new.extend(list.iter().map(|e| (e.to_string(), "authorized".to_string()))),
        // no such column in the file: the authorized contacts stay
        None => new.extend(old_pairs.iter().filter(|(_, r)| r == "authorized").cloned()),
    }
    let sorted = |v: &[(String, String)]| {
        let mut v = v.to_vec();
        v.sort();
        v
    };
    let contacts_changed = sorted(&old_pairs) != sorted(&new);
    // keep the bounce flag of an address that stays
    let contacts = new
        .iter()
        .map(|(e, r)| {
            let bounced = old.contacts.iter().find(|(oe, or, _)| oe == e && or == r).and_then(|c| c.2.clone());
            (e.clone(), r.clone(), bounced)
        })
        .collect();
    // no such column in the file: the payer names stay
    let mut payers = row.payer_names.clone().unwrap_or_else(|| old.payers.clone());
    payers.sort();
    payers.dedup();
    let payers_changed = old.payers != payers;
    let users = (row.full_time_names.is_some() || row.part_time_names.is_some()).then(|| {
        let mut users: Vec<(String, String)> = Vec::new();
        for (t, names) in [(UserType::FullTime, &row.full_time_names), (UserType::PartTime, &row.part_time_names)] {
            users.extend(names.iter().flatten().map(|n| (n.clone(), t.as_str().to_string())));
        }
        users.sort();
        users
    });
    let users_changed = users.as_ref().is_some_and(|u| *u != old.users);
    let existed = !old.contacts.is_empty();
    let note = (existed && (contacts_changed || payers_changed || users_changed)).then(|| {
        // what was there before and what is there now, so the history can undo it
        let show = |list: &[(String, String)], role: &str| {
            let v: Vec<&str> = list.iter().filter(|(_, r)| r == role).map(|(e, _)| e.as_str()).collect();
            if v.is_empty() { "none".to_string() } else { v.join(", ") }
        };
        let mut what = Vec::new();
        if contacts_changed {
            for role in ["billing", "authorized"] {
                let (before, after) = (show(&old_pairs, role), show(&new, role));
                if before != after {
                    what.push(format!("{role} contacts {before} -> {after}"));
                }
            }
        }
        if payers_changed {
            let list = |v: &[String]| if v.is_empty() { "none".to_string() } else { v.join(", ") };
            what.push(format!("payer names {} -> {}", list(&old.payers), list(&payers)));
        }
        if users_changed {
            what.push("named users".to_string());
        }
        format!("import: {}", what.join("; "))
    });
    PeopleChange { contacts, payers: payers_changed.then_some(payers), users: users.filter(|_| users_changed), note }
}

/// What a `subscriptions.csv` row does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SubscriptionChange {
    /// The row is what is in force (or ends what has ended).
    Unchanged,
    /// A new version from now: the subscription is created first when
    /// `new`; the history's note says what changed.
    Version { new: bool, started: bool, note: String },
}

/// Plans a row against the subscription the books hold: `None` when the
/// account has no such product; `Some(None)` when it has one with no version.
pub fn plan_subscription(
    row: &SubscriptionImport,
    stored: Option<Option<(i64, Money)>>,
) -> Result<SubscriptionChange, ImportRefusal> {
    if stored.is_none() && row.quantity == 0 {
        return Err(ImportRefusal::NoSubscriptionToEnd {
            line: row.line,
            account: row.account.clone(),
            product: row.product.clone(),
        });
    }
    let current = stored.flatten();
    if current == Some((row.quantity, row.unit_price)) || (row.quantity == 0 && current.is_some_and(|c| c.0 == 0)) {
        return Ok(SubscriptionChange::Unchanged);
    }
    let note = match (current, row.quantity) {
        (None, q) => format!("subscription {:?} started: {q} × {}", row.product, row.unit_price),
        (Some(_), 0) => format!("subscription {:?} ended", row.product),
        (Some((q0, p0)), q) => format!("subscription {:?}: {q0} × {p0} -> {q} × {}", row.product, row.unit_price),
    };
    Ok(SubscriptionChange::Version { new: stored.is_none(), started: current.is_none(), note })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::CountDelta;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn row(columns: &[&str]) -> AccountImport {
        let mut r = AccountImport::basic(
            2,
            AccountId::parse("ACME").unwrap(),
            "hybrid",
            UserCounts { full_time: 10, part_time: 2 },
            EmailAddress::parse("ap@acme.example").unwrap(),
        );
        r.name = "Acme Dental".into();
        r.columns = columns.iter().map(|c| c.to_string()).collect();
        r
    }

    fn stored() -> StoredAccount {
        StoredAccount {
            fields: Fields {
                name: "Acme Dental".into(),
                tier: "hybrid".into(),
                full_time_rate: Some(Money::from_cents(9_000)),
                part_time_rate: None,
                address: PostalAddress {
                    line1: "200 Main Street".into(),
                    city: "Springfield".into(),
                    state: "IL".into(),
                    postal_code: "62701".into(),
                    ..PostalAddress::default()
                },
            },
            start_date: Some(day("2026-03-01")),
            created_on: day("2026-02-10"),
            has_agreement_invoices: false,
        }
    }

    #[test]
    fn a_new_account_starts_the_month_after_today_unless_its_start_date_says_otherwise() {
        let AccountChange::Create { first, note, .. } = plan_account(&row(&[]), None, day("2026-11-17")).unwrap()
        else {
            panic!("created")
        };
        assert_eq!(first.to_string(), "2026-12");
        assert_eq!(note, "account created by import (hybrid, first agreement month 2026-12)");
    }

    #[test]
    fn columns_the_file_lacks_keep_the_accounts_own_values() {
        let plan = plan_account(&row(&[]), Some(&stored()), day("2026-11-17")).unwrap();
        let AccountChange::Update { fields, start, notes } = plan else { panic!("updated") };
        assert_eq!(fields.full_time_rate, Some(Money::from_cents(9_000)), "no rate column: the override stays");
        assert_eq!(start, None, "no start_date column: the start date stays");
        assert!(notes.is_empty(), "{notes:?}");
    }

    #[test]
    fn a_column_present_and_empty_clears_and_each_change_is_noted() {
        let mut r = row(&["full_time_rate", "start_date"]);
        r.tier = "remote".into();
        r.start_date = Some(day("2026-04-15"));
        let AccountChange::Update { fields, start, notes } =
            plan_account(&r, Some(&stored()), day("2026-11-17")).unwrap()
        else {
            panic!("updated")
        };
        assert_eq!(fields.full_time_rate, None);
        assert_eq!(start.map(|s| s.1.to_string()), Some("2026-05".to_string()));
        assert_eq!(
            notes,
            ["tier hybrid -> remote", "rate override changed", "start date changed; first agreement month 2026-05"]
        );
    }

    #[test]
    fn a_start_date_cannot_move_once_an_agreement_invoice_exists() {
        let mut r = row(&["start_date"]);
        r.start_date = Some(day("2026-04-01"));
        let old = StoredAccount { has_agreement_invoices: true, ..stored() };
        let err = plan_account(&r, Some(&old), day("2026-11-17")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 2: account ACME already has agreement invoices; its start_date cannot change"
        );
    }

    #[test]
    fn contacts_keep_their_bounce_flags_and_columns_left_out_keep_theirs() {
        let old = StoredPeople {
            contacts: vec![
                ("ap@acme.example".into(), "billing".into(), Some("2026-11-01T00:00:00Z".into())),
                ("boss@acme.example".into(), "authorized".into(), None),
            ],
            payers: vec!["ACME DENTAL LLC".into()],
            users: vec![],
        };
        let plan = plan_people(&row(&[]), &old);
        assert_eq!(plan.contacts, old.contacts, "same people, same flags");
        assert_eq!((plan.payers, plan.users, plan.note), (None, None, None));

        let mut r = row(&[]);
        r.billing_emails.push(EmailAddress::parse("ar@acme.example").unwrap());
        r.payer_names = Some(vec![]);
        let plan = plan_people(&r, &old);
        assert_eq!(plan.contacts[0].2.as_deref(), Some("2026-11-01T00:00:00Z"));
        assert_eq!(plan.payers, Some(vec![]));
        assert_eq!(
            plan.note.as_deref(),
            Some(
                "import: billing contacts ap@acme.example -> ap@acme.example, ar@acme.example; payer names ACME DENTAL LLC -> none"
            )
        );
    }

    #[test]
    fn a_new_accounts_people_are_not_a_change_of_history() {
        let plan = plan_people(&row(&[]), &StoredPeople::default());
        assert_eq!(plan.contacts.len(), 1);
        assert_eq!(plan.note, None);
    }

    #[test]
    fn a_subscription_row_starts_changes_ends_or_changes_nothing() {
        let sub = |q: i64, cents: i64| SubscriptionImport {
            line: 3,
            account: AccountId::parse("ACME").unwrap(),
            product: "Backup".into(),
            quantity: q,
            unit_price: Money::from_cents(cents),
        };
        let in_force = Some(Some((5, Money::from_cents(1_000))));
        assert_eq!(plan_subscription(&sub(5, 1_000), in_force).unwrap(), SubscriptionChange::Unchanged);
        assert_eq!(
            plan_subscription(&sub(0, 0), None).unwrap_err().to_string(),
            "line 3: account ACME has no subscription \"Backup\" to end"
        );
        let SubscriptionChange::Version { new, started, note } = plan_subscription(&sub(5, 1_000), None).unwrap()
        else {
            panic!("a version")
        };
        assert!(new && started);
        assert_eq!(note, "subscription \"Backup\" started: 5 × 10.00");
        let SubscriptionChange::Version { new, note, .. } = plan_subscription(&sub(7, 1_000), in_force).unwrap() else {
            panic!("a version")
        };
        assert!(!new);
        assert_eq!(note, "subscription \"Backup\": 5 × 10.00 -> 7 × 10.00");
        let ended = plan_subscription(&sub(0, 0), in_force).unwrap();
        assert!(matches!(ended, SubscriptionChange::Version { note, .. } if note == "subscription \"Backup\" ended"));
        let gone = Some(Some((0, Money::from_cents(1_000))));
        assert_eq!(plan_subscription(&sub(0, 0), gone).unwrap(), SubscriptionChange::Unchanged);
    }

    #[test]
    fn an_import_sets_the_counts_from_today_and_refuses_one_a_later_change_would_take_below_zero() {
        let r = row(&[]);
        let (first, reason) = plan_import_counts(&r, &[], day("2026-11-17"), false).unwrap().unwrap();
        assert_eq!((first.after, reason), (UserCounts { full_time: 10, part_time: 2 }, "initial counts from import"));
        let recorded = |delta: CountDelta, on: &str| CountChange {
            id: 1,
            effective: day(on),
            delta,
            reason: "import".into(),
            accounted: false,
        };
        let same = [recorded(CountDelta { full_time: 10, part_time: 2 }, "2026-11-01")];
        assert_eq!(plan_import_counts(&r, &same, day("2026-11-17"), true).unwrap(), None, "as it is: nothing");
        // 10 full-time now, and a removal of 9 already recorded for December:
        // an import of 5 would leave -4 then
        let later = [
            recorded(CountDelta { full_time: 10, part_time: 2 }, "2026-11-01"),
            recorded(CountDelta { full_time: -9, part_time: 0 }, "2026-12-01"),
        ];
        let mut five = row(&[]);
        five.counts.full_time = 5;
        let err = plan_import_counts(&five, &later, day("2026-11-17"), true).unwrap_err();
        assert!(err.to_string().starts_with("account ACME: "), "{err}");
    }

    #[test]
    fn address_columns_change_only_what_the_file_has_and_the_history_says_before_and_after() {
        let plan = plan_account(&row(&[]), Some(&stored()), day("2026-11-17")).unwrap();
        let AccountChange::Update { fields, .. } = plan else { panic!("updated") };
        assert_eq!(fields.address.lines(), ["200 Main Street", "Springfield, IL 62701"]);
        let mut r = row(&["address_line2", "postal_code"]);
        r.address.line2 = "Suite 4".into();
        r.address.postal_code = "62704".into();
        r.address.city = "ignored: the file has no city column".into();
        let AccountChange::Update { fields, notes, .. } = plan_account(&r, Some(&stored()), day("2026-11-17")).unwrap()
        else {
            panic!("updated")
        };
        assert_eq!(fields.address.lines(), ["200 Main Street", "Suite 4", "Springfield, IL 62704"]);
        assert_eq!(
            notes,
            ["address 200 Main Street, Springfield, IL 62701 -> 200 Main Street, Suite 4, Springfield, IL 62704"]
        );
    }
}
