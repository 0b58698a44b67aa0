//! What billmail knows of one account at a moment: the plain data the
//! calendar and the invoice builders work on. Loaded by the store, changed
//! only through [`Book::apply`] so that several invoices built in one cycle
//! see each other.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{NaiveDate, NaiveDateTime};
use rust_decimal::Decimal;

use super::ids::{AccountId, CountDelta, EmailAddress, Month, UserCounts, UserType};
use super::limits::MAX_USERS;
use super::money::Money;

/// Per-user monthly rates for an account (its tier's, or its own override).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rates {
    pub full_time: Money,
    pub part_time: Money,
}

impl Rates {
    pub fn get(self, t: UserType) -> Money {
        match t {
            UserType::FullTime => self.full_time,
            UserType::PartTime => self.part_time,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Account {
    pub id: AccountId,
    pub name: String,
    pub tier: String,
    pub tier_label: String,
    pub rates: Rates,
    /// The first month an agreement invoice is issued for.
    pub first_period: Month,
    pub billing_emails: Vec<EmailAddress>,
    pub authorized_emails: Vec<EmailAddress>,
    pub payer_names: Vec<String>,
}

/// The month an account's agreement billing starts: the first month starting
/// on or after `start_date` (default: the month after it was created), and
/// never a month that ended before the account was created: billmail does
/// not back-bill.
pub fn first_period(start_date: Option<NaiveDate>, created_on: NaiveDate) -> Month {
    let created_month = Month::of(created_on);
    match start_date {
        None => created_month.next(),
        Some(d) => {
            let m = Month::of(d);
            let from_start = if d == m.first_day() { m } else { m.next() };
            from_start.max(created_month)
        }
    }
}

/// One dated change of user counts, as recorded (import, email, review).
#[derive(Clone, Debug)]
pub struct CountChange {
    pub id: i64,
    pub effective: NaiveDate,
    pub delta: CountDelta,
    pub reason: String,
    /// Already reflected on an agreement invoice (as base count or adjustment).
    pub accounted: bool,
}

/// Counts in force on `date`: every change effective on or before it.
pub fn counts_on(changes: &[CountChange], date: NaiveDate) -> UserCounts {
    changes.iter().filter(|c| c.effective <= date).fold(UserCounts::default(), |acc, c| acc.plus(c.delta))
}

/// Why a change of user counts is refused: the books stay as they were and
/// a person is asked (a review reason, an import error).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CountRefusal {
    #[error("{change} is more than the {MAX_USERS} users billmail accepts")]
    TooMany { change: String },
    #[error(
        "{change} would make {} full-time and {} part-time users, over the limit of {MAX_USERS}",
        after.full_time,
        after.part_time
    )]
    OverLimit { change: String, after: UserCounts },
    #[error("{change} would leave {} full-time and {} part-time users on {effective}", after.full_time, after.part_time)]
    WouldGoNegative { change: String, after: UserCounts, effective: NaiveDate },
    #[error("{change} on {effective} conflicts with a later recorded change")]
    ConflictsWithLater { change: String, effective: NaiveDate },
}

/// Checks `delta` effective on `effective` against the account's recorded
/// `changes`: no count over the limit, none below zero on that day or on any
/// later recorded change. Returns the counts before and after on that day.
pub fn check_change(
    changes: &[CountChange],
    effective: NaiveDate,
    delta: CountDelta,
) -> Result<(UserCounts, UserCounts), CountRefusal> {
    let change = delta.describe();
    if delta.full_time.abs() > MAX_USERS || delta.part_time.abs() > MAX_USERS {
        return Err(CountRefusal::TooMany { change });
    }
    let before = counts_on(changes, effective);
    let after = before.plus(delta);
    if after.full_time > MAX_USERS || after.part_time > MAX_USERS {
        return Err(CountRefusal::OverLimit { change, after });
    }
    if after.full_time < 0 || after.part_time < 0 {
        return Err(CountRefusal::WouldGoNegative { change, after, effective });
    }
    let mut running = after;
    for c in changes.iter().filter(|c| c.effective > effective) {
        running = running.plus(c.delta);
        if running.full_time < 0 || running.part_time < 0 {
            return Err(CountRefusal::ConflictsWithLater { change, effective });
        }
    }
    Ok((before, after))
}

/// A change of users as a message asks it, in the domain's terms.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CountRequest {
    /// Changes the message dates one by one: each from its own day.
    pub dated: Vec<(NaiveDate, UserType, i64)>,
    /// Changes without a date of their own, from `effective`.
    pub changes: Vec<(UserType, i64)>,
    /// New totals the message states (full-time, part-time).
    pub totals: Option<(Option<i64>, Option<i64>)>,
    pub effective: NaiveDate,
}

/// One change, checked: when, by how much, and the counts on that day
/// before and after.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlannedChange {
    pub effective: NaiveDate,
    pub delta: CountDelta,
    pub before: UserCounts,
    pub after: UserCounts,
}

/// Why a requested change is not applied: a person decides.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RequestRefusal {
    #[error("the message gives new totals and changes on different dates; a person decides which date each is for")]
    TotalsWithDates,
    #[error(
        "the message changes {label} users by {change:+} and says the new total is {total}, but the account has {has}"
    )]
    TotalDisagrees { label: &'static str, change: i64, total: i64, has: i64 },
    #[error("the change leaves the counts as they are")]
    NoChange,
    #[error(transparent)]
    Refused(#[from] CountRefusal),
}

/// The changes `request` makes to an account whose recorded changes are
/// `recorded`, each checked against those before it (all or none): changes
/// dated one by one are applied date by date; otherwise one change from
/// `effective`, where a stated total sets the count and must agree with a
/// change given for the same type.
pub fn plan_counts(recorded: &[CountChange], request: &CountRequest) -> Result<Vec<PlannedChange>, RequestRefusal> {
    let mut steps: BTreeMap<NaiveDate, CountDelta> = BTreeMap::new();
    if !request.dated.is_empty() {
        if request.totals.is_some() {
            return Err(RequestRefusal::TotalsWithDates);
        }
        for (date, t, n) in &request.dated {
            steps.entry(*date).or_default().add(*t, *n);
        }
    } else {
        let current = counts_on(recorded, request.effective);
        let mut delta = CountDelta::default();
        for (t, n) in &request.changes {
            delta.add(*t, *n);
        }
        if let Some((ft, pt)) = request.totals {
            let asked = delta;
            for (label, total, change, has) in [
                ("full-time", ft, asked.full_time, current.full_time),
                ("part-time", pt, asked.part_time, current.part_time),
            ] {
                if let Some(total) = total
                    && change != 0
                    && has + change != total
                {
                    return Err(RequestRefusal::TotalDisagrees { label, change, total, has });
                }
            }
            if let Some(n) = ft {
                delta.full_time = n - current.full_time;
            }
            if let Some(n) = pt {
                delta.part_time = n - current.part_time;
            }
        }
        steps.insert(request.effective, delta);
    }
    steps.retain(|_, d| !d.is_zero());
    if steps.is_empty() {
        return Err(RequestRefusal::NoChange);
    }
    // each step checked against the books with the earlier steps in them
    let mut books = recorded.to_vec();
    let mut planned = Vec::new();
    for (effective, delta) in steps {
        let (before, after) = check_change(&books, effective, delta)?;
        books.push(CountChange { id: 0, effective, delta, reason: String::new(), accounted: false });
        planned.push(PlannedChange { effective, delta, before, after });
    }
    Ok(planned)
}

/// A recurring charge and its versions over time (quantity 0 ends it).
#[derive(Clone, Debug)]
pub struct Subscription {
    pub id: i64,
    pub product: String,
    /// Sorted by `effective_at` (company-local time).
    pub versions: Vec<SubscriptionVersion>,
}

#[derive(Clone, Copy, Debug)]
pub struct SubscriptionVersion {
    pub effective_at: NaiveDateTime,
    pub quantity: i64,
    pub unit_price: Money,
}

impl Subscription {
    /// Quantity and price in force at `moment`, if the charge is running.
    pub fn at(&self, moment: NaiveDateTime) -> Option<SubscriptionVersion> {
        self.versions.iter().rfind(|v| v.effective_at <= moment).copied().filter(|v| v.quantity > 0)
    }
}

/// Billable work outside the contract, waiting for (or on) a service invoice.
#[derive(Clone, Debug)]
pub struct ServiceEntry {
    pub id: i64,
    pub work_date: NaiveDate,
    pub engineer: String,
    pub hours: Decimal,
    pub rate: Money,
    pub description: String,
    /// When it was recorded, company-local.
    pub recorded_at: NaiveDateTime,
    pub invoiced: bool,
}

/// Which periods already have an invoice of each kind.
#[derive(Clone, Debug, Default)]
pub struct Issued {
    pub agreement: BTreeSet<Month>,
    pub recurring: BTreeSet<Month>,
    pub service: BTreeSet<NaiveDate>,
}

#[derive(Clone, Debug)]
pub struct Book {
    pub account: Account,
    pub changes: Vec<CountChange>,
    pub subscriptions: Vec<Subscription>,
    pub services: Vec<ServiceEntry>,
    pub issued: Issued,
    /// Unapplied money from overpayments, applied to the next invoice.
    pub credit: Money,
    /// Named users, where known, so a customer can check the counts.
    pub users: Vec<(String, UserType)>,
}

/// Which agreement invoice bills a count change, for the confirmation the
/// sender gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BilledBy {
    /// The change falls in a month already invoiced (`invoiced`, no earlier
    /// than the account's first): the `next` invoice bills the new counts
    /// and adds a prorated adjustment for the days from `from`.
    Adjustment { invoiced: Month, next: Month, from: NaiveDate },
    /// The invoice for `month` (not issued yet) bills the new counts.
    Invoice { month: Month },
}

/// Which invoice bills a change effective `effective`, given the last
/// agreement month invoiced (if any) and the account's first month.
pub fn billed_by(effective: NaiveDate, invoiced_through: Option<Month>, first: Option<Month>) -> BilledBy {
    match invoiced_through {
        Some(m) if effective <= m.last_day() => BilledBy::Adjustment {
            invoiced: Month::of(effective.max(first.map(Month::first_day).unwrap_or(effective))),
            next: m.next(),
            from: effective,
        },
        _ => BilledBy::Invoice {
            month: Month::of(effective).max(invoiced_through.map(Month::next).unwrap_or(Month::of(effective))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_in_an_invoiced_month_is_an_adjustment_on_the_next_invoice() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
        let month = |s: &str| Month::parse(s).unwrap();
        // December is invoiced (on November 15th): a change from December 10th
        assert_eq!(
            billed_by(d(2026, 12, 10), Some(month("2026-12")), Some(month("2026-11"))),
            BilledBy::Adjustment { invoiced: month("2026-12"), next: month("2027-01"), from: d(2026, 12, 10) }
        );
        // a date before the account was billed at all is its first month's
        assert_eq!(
            billed_by(d(2026, 10, 1), Some(month("2026-12")), Some(month("2026-11"))),
            BilledBy::Adjustment { invoiced: month("2026-11"), next: month("2027-01"), from: d(2026, 10, 1) }
        );
        // January is not invoiced yet: its invoice bills the new counts
        assert_eq!(
            billed_by(d(2027, 1, 4), Some(month("2026-12")), Some(month("2026-11"))),
            BilledBy::Invoice { month: month("2027-01") }
        );
        // nothing invoiced yet
        assert_eq!(billed_by(d(2026, 11, 20), None, None), BilledBy::Invoice { month: month("2026-11") });
    }

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn ch(id: i64, eff: &str, full_time: i64, part_time: i64) -> CountChange {
        CountChange {
            id,
            effective: d(eff),
            delta: CountDelta { full_time, part_time },
            reason: String::new(),
            accounted: false,
        }
    }

    #[test]
    fn first_period_rules() {
        let created = d("2026-11-20");
        assert_eq!(first_period(None, created).to_string(), "2026-12");
        assert_eq!(first_period(Some(d("2027-01-01")), created).to_string(), "2027-01");
        assert_eq!(first_period(Some(d("2027-01-02")), created).to_string(), "2027-02");
        assert_eq!(first_period(Some(d("2026-11-01")), created).to_string(), "2026-11");
        // a start years ago does not back-bill
        assert_eq!(first_period(Some(d("2024-03-01")), created).to_string(), "2026-11");
    }

    #[test]
    fn counts_sum_changes_in_force() {
        let changes = vec![ch(1, "2026-11-20", 10, 2), ch(2, "2026-12-10", 2, 0), ch(3, "2026-12-01", -1, 1)];
        assert_eq!(counts_on(&changes, d("2026-11-30")), UserCounts { full_time: 10, part_time: 2 });
        assert_eq!(counts_on(&changes, d("2026-12-01")), UserCounts { full_time: 9, part_time: 3 });
        assert_eq!(counts_on(&changes, d("2026-12-10")), UserCounts { full_time: 11, part_time: 3 });
    }

    #[test]
    fn a_change_never_takes_a_count_below_zero_then_or_later() {
        // 10 full-time, 2 part-time from Nov 20; two part-timers leave Dec 10
        let changes = vec![ch(1, "2026-11-20", 10, 2), ch(2, "2026-12-10", 0, -2)];
        let delta = |ft, pt| CountDelta { full_time: ft, part_time: pt };
        assert_eq!(
            check_change(&changes, d("2026-12-01"), delta(-3, 0)),
            Ok((UserCounts { full_time: 10, part_time: 2 }, UserCounts { full_time: 7, part_time: 2 }))
        );
        assert!(matches!(
            check_change(&changes, d("2026-12-01"), delta(0, -3)),
            Err(CountRefusal::WouldGoNegative { after: UserCounts { part_time: -1, .. }, .. })
        ));
        // fine on Dec 1, but the recorded Dec 10 departure would then go below zero
        assert!(matches!(
            check_change(&changes, d("2026-12-01"), delta(0, -1)),
            Err(CountRefusal::ConflictsWithLater { .. })
        ));
        assert!(matches!(
            check_change(&changes, d("2026-12-01"), delta(MAX_USERS + 1, 0)),
            Err(CountRefusal::TooMany { .. })
        ));
        assert!(matches!(
            check_change(&changes, d("2026-12-01"), delta(MAX_USERS - 5, 0)),
            Err(CountRefusal::OverLimit { .. })
        ));
        let refusal = check_change(&changes, d("2026-12-01"), delta(0, -3)).unwrap_err();
        assert_eq!(refusal.to_string(), "-3 part-time would leave 10 full-time and -1 part-time users on 2026-12-01");
    }

    #[test]
    fn a_request_is_planned_whole_or_refused_whole() {
        use UserType::{FullTime, PartTime};
        let recorded = vec![ch(1, "2026-11-01", 10, 2)];
        let req = |dated: Vec<(&str, UserType, i64)>, changes: Vec<(UserType, i64)>, totals| CountRequest {
            dated: dated.into_iter().map(|(day, t, n)| (d(day), t, n)).collect(),
            changes,
            totals,
            effective: d("2026-12-01"),
        };
        // two dates: each from its own day, the second checked with the first in the books
        let plan =
            plan_counts(&recorded, &req(vec![("2026-12-01", PartTime, -2), ("2026-12-15", PartTime, 1)], vec![], None))
                .unwrap();
        assert_eq!(plan.len(), 2);
        assert_eq!((plan[0].before.part_time, plan[0].after.part_time), (2, 0));
        assert_eq!((plan[1].effective, plan[1].before.part_time, plan[1].after.part_time), (d("2026-12-15"), 0, 1));
        // the second step alone would be fine; after the first it is not: nothing is planned
        let refused = plan_counts(
            &recorded,
            &req(vec![("2026-12-01", PartTime, -2), ("2026-12-15", PartTime, -1)], vec![], None),
        );
        assert!(matches!(refused, Err(RequestRefusal::Refused(CountRefusal::WouldGoNegative { .. }))), "{refused:?}");
        // a total sets the count; a change beside it must agree with it
        let plan = plan_counts(&recorded, &req(vec![], vec![], Some((Some(12), None)))).unwrap();
        assert_eq!(plan[0].delta, CountDelta { full_time: 2, part_time: 0 });
        assert_eq!(plan_counts(&recorded, &req(vec![], vec![(FullTime, 2)], Some((Some(12), None)))).unwrap(), plan);
        let disagree = plan_counts(&recorded, &req(vec![], vec![(FullTime, 3)], Some((Some(12), None)))).unwrap_err();
        assert_eq!(
            disagree.to_string(),
            "the message changes full-time users by +3 and says the new total is 12, but the account has 10"
        );
        assert_eq!(
            plan_counts(&recorded, &req(vec![("2026-12-01", FullTime, 1)], vec![], Some((Some(12), None)))),
            Err(RequestRefusal::TotalsWithDates)
        );
        assert_eq!(
            plan_counts(&recorded, &req(vec![], vec![], Some((Some(10), Some(2))))),
            Err(RequestRefusal::NoChange)
        );
    }
}
