//! Property and example tests of the calendar and the invoice builders.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use proptest::prelude::*;
use rust_decimal::Decimal;

use super::book::{self, Book, CountChange, Issued, ServiceEntry, Subscription, SubscriptionVersion};
use super::calendar::{Schedule, due_jobs, local_time};
use super::ids::{AccountId, CountDelta, Month, Period};
use super::invoice::{InvoiceKind, LineCategory, build};
use super::money::Money;
use super::{Account, Rates};

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}
fn dt(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
}

fn book(first: &str) -> Book {
    Book {
        account: Account {
            id: AccountId::parse("ACME").unwrap(),
            name: "Acme Dental".into(),
            tier: "hybrid".into(),
            tier_label: "Agreement Hybrid IT".into(),
            rates: Rates { full_time: Money::from_cents(8500), part_time: Money::from_cents(4250) },
            first_period: Month::parse(first).unwrap(),
            billing_emails: vec![],
            authorized_emails: vec![],
            payer_names: vec![],
        },
        changes: vec![change(1, "2026-11-01", 22, 3)],
        subscriptions: vec![],
        services: vec![],
        issued: Issued::default(),
        credit: Money::ZERO,
        users: vec![],
    }
}

fn change(id: i64, eff: &str, ft: i64, pt: i64) -> CountChange {
    CountChange {
        id,
        effective: d(eff),
        delta: CountDelta { full_time: ft, part_time: pt },
        reason: String::new(),
        accounted: false,
    }
}

/// Runs every due job at `now`, as the engine does, returning what was issued.
fn tick(now: NaiveDateTime, s: &Schedule, b: &mut Book) -> Vec<super::Draft> {
    let mut out = Vec::new();
    for job in due_jobs(now, s, b) {
        if let Some(draft) = build(job, s, b, now.date()).expect("amounts in range") {
            b.apply(&draft);
            out.push(draft);
        }
    }
    out
}

#[test]
fn agreement_invoice_on_the_15th_for_next_month() {
    let s = Schedule::default();
    let mut b = book("2026-12");
    assert!(tick(dt("2026-11-15 07:59"), &s, &mut b).is_empty());
    let issued = tick(dt("2026-11-15 08:00"), &s, &mut b);
    assert_eq!(issued.len(), 1);
    let inv = &issued[0];
    assert_eq!(inv.kind, InvoiceKind::Agreement);
    assert_eq!(inv.period.to_string(), "2026-12");
    assert_eq!(inv.due_on, d("2026-11-30"));
    assert_eq!(inv.total, Money::from_cents(22 * 8500 + 3 * 4250));
    assert!(tick(dt("2026-11-15 08:00"), &s, &mut b).is_empty(), "same tick twice issues nothing");
}

#[test]
fn february_due_day_is_clamped() {
    let s = Schedule::default();
    let mut b = book("2027-03");
    let issued = tick(dt("2027-02-15 09:00"), &s, &mut b);
    assert_eq!(issued[0].due_on, d("2027-02-28"));
    let mut b = book("2028-03");
    let issued = tick(dt("2028-02-15 09:00"), &s, &mut b);
    assert_eq!(issued[0].due_on, d("2028-02-29"));
}

#[test]
fn missed_months_are_caught_up_once_each() {
    let s = Schedule::default();
    let mut b = book("2026-12");
    tick(dt("2026-11-15 08:00"), &s, &mut b);
    // down from Nov 16 to Jan 20: Jan (due Dec 15) and Feb (due Jan 15) are issued now
    let issued = tick(dt("2027-01-20 10:00"), &s, &mut b);
    let periods: Vec<_> = issued.iter().map(|i| i.period.to_string()).collect();
    assert_eq!(periods, ["2027-01", "2027-02"]);
    // a late invoice is never due before it was issued
    assert_eq!(issued[0].due_on, d("2027-01-30"));
    assert_eq!(issued[1].due_on, d("2027-01-30"));
}

#[test]
fn proration_of_a_mid_month_change_on_the_next_invoice() {
    let s = Schedule::default();
    let mut b = book("2026-12");
    tick(dt("2026-11-15 08:00"), &s, &mut b); // December invoiced
    b.changes.push(change(2, "2026-12-10", 2, 0)); // +2 full-time from Dec 10
    let jan = tick(dt("2026-12-15 08:00"), &s, &mut b).remove(0);
    assert_eq!(jan.period.to_string(), "2027-01");
    assert_eq!(jan.lines.len(), 3);
    assert_eq!(jan.lines[0].quantity, Decimal::from(24));
    let adj = &jan.lines[2];
    // 2 × 85.00 × 22 / 31 = 120.645... -> 120.65
    assert_eq!(adj.amount, Money::from_cents(12065));
    assert!(adj.description.contains("2026-12-10"), "{}", adj.description);
    assert!(adj.description.contains("22 of 31 days"), "{}", adj.description);
    // the change is not billed again
    let feb = tick(dt("2027-01-15 08:00"), &s, &mut b).remove(0);
    assert_eq!(feb.lines.len(), 2);
}

#[test]
fn change_before_the_period_was_invoiced_needs_no_adjustment() {
    let s = Schedule::default();
    let mut b = book("2026-12");
    b.changes.push(change(2, "2026-12-01", -2, 1));
    let dec = tick(dt("2026-11-15 08:00"), &s, &mut b).remove(0);
    assert_eq!(dec.lines.len(), 2);
    assert_eq!(dec.counts.unwrap().full_time, 20);
    assert_eq!(dec.counts.unwrap().part_time, 4);
}

#[test]
fn backdated_change_adjusts_every_invoiced_month() {
    let s = Schedule::default();
    let mut b = book("2026-12");
    tick(dt("2026-11-15 08:00"), &s, &mut b); // Dec
    tick(dt("2026-12-15 08:00"), &s, &mut b); // Jan
    b.changes.push(change(2, "2026-12-17", 0, -1)); // recorded late
    let feb = tick(dt("2027-01-15 08:00"), &s, &mut b).remove(0);
    let adj: Vec<_> = feb.lines[2..].iter().map(|l| l.amount).collect();
    // Dec 17-31 = 15 of 31 days of -42.50 = -20.564... -> -20.56; all of January = -42.50
    assert_eq!(adj, [Money::from_cents(-2056), Money::from_cents(-4250)]);
}

#[test]
fn prorate_off_only_moves_the_counts() {
    let s = Schedule { prorate: false, ..Schedule::default() };
    let mut b = book("2026-12");
    tick(dt("2026-11-15 08:00"), &s, &mut b);
    b.changes.push(change(2, "2026-12-10", 2, 0));
    let jan = tick(dt("2026-12-15 08:00"), &s, &mut b).remove(0);
    assert_eq!(jan.lines.len(), 2);
    assert_eq!(jan.lines[0].quantity, Decimal::from(24));
}

#[test]
fn credit_is_applied_to_the_next_invoice() {
    let s = Schedule::default();
    let mut b = book("2026-12");
    b.credit = Money::from_cents(10000);
    let dec = tick(dt("2026-11-15 08:00"), &s, &mut b).remove(0);
    assert_eq!(dec.credit_applied, Money::from_cents(10000));
    assert_eq!(dec.amount_due(), dec.total - Money::from_cents(10000));
    assert_eq!(b.credit, Money::ZERO);
}

#[test]
fn recurring_charges_for_the_current_month() {
    let s = Schedule::default();
    let mut b = book("2026-12");
    b.subscriptions.push(Subscription {
        id: 1,
        product: "Office 365 Business Premium".into(),
        versions: vec![
            SubscriptionVersion {
                effective_at: dt("2026-11-20 10:00"),
                quantity: 25,
                unit_price: Money::from_cents(2200),
            },
            SubscriptionVersion {
                effective_at: dt("2027-01-10 10:00"),
                quantity: 0,
                unit_price: Money::from_cents(2200),
            },
        ],
    });
    // imported Nov 20: November's run (Nov 5) is past, December's is the first
    let dec = tick(dt("2026-12-05 08:00"), &s, &mut b);
    let rec: Vec<_> = dec.iter().filter(|i| i.kind == InvoiceKind::Recurring).collect();
    assert_eq!(rec.len(), 1);
    assert_eq!(rec[0].period.to_string(), "2026-12");
    assert_eq!(rec[0].total, Money::from_cents(25 * 2200));
    assert!(tick(dt("2027-01-05 08:00"), &s, &mut b).iter().any(|i| i.kind == InvoiceKind::Recurring));
    // ended on Jan 10: nothing for February
    assert!(!tick(dt("2027-02-05 08:00"), &s, &mut b).iter().any(|i| i.kind == InvoiceKind::Recurring));
}

#[test]
fn service_work_is_invoiced_on_the_next_cycle() {
    let s = Schedule::default();
    let mut b = book("2027-06");
    b.services.push(ServiceEntry {
        id: 7,
        work_date: d("2026-11-18"),
        engineer: "Sam Ortiz".into(),
        hours: Decimal::new(25, 1),
        rate: Money::from_cents(14500),
        description: "Restored the file share".into(),
        recorded_at: dt("2026-11-18 16:00"),
        invoiced: false,
    });
    // recorded after the 18th's send time: waits for the 19th's
    assert!(tick(dt("2026-11-19 07:00"), &s, &mut b).is_empty());
    let inv = tick(dt("2026-11-19 09:00"), &s, &mut b).remove(0);
    assert!(tick(dt("2026-11-19 09:00"), &s, &mut b).is_empty());
    assert!(tick(dt("2026-11-20 09:00"), &s, &mut b).is_empty());
    assert_eq!(inv.period.to_string(), "2026-11-19");
    assert_eq!(inv.total, Money::from_cents(36250));
    assert_eq!(inv.due_on, d("2026-12-19"));
}

fn arb_ticks() -> impl Strategy<Value = Vec<i64>> {
    // minutes after 2026-11-01 00:00 UTC, up to ~3 years, sorted
    prop::collection::vec(0i64..(3 * 366 * 24 * 60), 1..60).prop_map(|mut v| {
        v.sort();
        v
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Whatever the moments ticks run at (in New York, across DST changes),
    /// every agreement period is issued exactly once, never before its
    /// moment, and all due ones are issued by the last tick.
    #[test]
    fn ticks_never_issue_twice_or_skip(ticks in arb_ticks(), inv_day in 1u32..=31, due_day in 1u32..=31, hour in 0u32..24) {
        let s = Schedule {
            agreement_invoice_day: inv_day,
            agreement_due_day: due_day,
            send_time: NaiveTime::from_hms_opt(hour, 30, 0).unwrap(),
            ..Schedule::default()
        };
        let tz = chrono_tz::America::New_York;
        let base = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
        let mut b = book("2026-12");
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        let mut last = None;
        for m in ticks {
            let now = local_time(&(base + Duration::minutes(m)), tz);
            for inv in tick(now, &s, &mut b) {
                let Period::Month(p) = inv.period else { panic!("an agreement invoice covers a month") };
                prop_assert!(s.moment(s.agreement_issue_date(p)) <= now);
                prop_assert!(inv.due_on >= inv.issued_on);
                prop_assert!(inv.due_on.format("%d").to_string().parse::<u32>().unwrap() <= due_day.max(1));
                *seen.entry(inv.period.to_string()).or_default() += 1;
            }
            last = Some(now);
        }
        prop_assert!(seen.values().all(|n| *n == 1));
        let last = last.unwrap();
        let mut p = Month::parse("2026-12").unwrap();
        while s.moment(s.agreement_issue_date(p)) <= last {
            prop_assert!(seen.contains_key(&p.to_string()), "period {} skipped", p);
            p = p.next();
        }
        prop_assert_eq!(seen.len(), b.issued.agreement.len());
    }

    /// The due-day clamp: always inside the month, never past its end.
    #[test]
    fn clamped_days_stay_in_the_month(year in 1990i32..2100, month in 1u32..=12, day in 1u32..=31) {
        let m = Month::new(year, month).unwrap();
        let date = m.clamped_day(day);
        prop_assert!(m.contains(date));
        prop_assert_eq!(date.format("%d").to_string().parse::<u32>().unwrap(), day.min(m.days()));
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        if month == 2 { prop_assert_eq!(m.days(), if leap { 29 } else { 28 }); }
    }

    /// A proration line is exact: the rounded value of delta × rate × days / dim
    /// (the books never hold fewer than 0 users: 22 full-time at most removed).
    #[test]
    fn proration_amount_is_rounded_exact_value(delta in -22i64..50, rate in 0i64..100_000, eff_day in 1u32..=31) {
        let s = Schedule::default();
        let mut b = book("2026-12");
        b.account.rates.full_time = Money::from_cents(rate);
        tick(dt("2026-11-15 08:00"), &s, &mut b);
        let eff = Month::parse("2026-12").unwrap().clamped_day(eff_day);
        b.changes.push(CountChange { id: 9, effective: eff, delta: CountDelta { full_time: delta, part_time: 0 }, reason: String::new(), accounted: false });
        let jan = tick(dt("2026-12-15 08:00"), &s, &mut b).remove(0);
        let days = 31 - eff.format("%d").to_string().parse::<i64>().unwrap() + 1;
        // December was invoiced before the change was known: even a change
        // from December 1st is an adjustment, for all 31 days
        if delta == 0 {
            prop_assert_eq!(jan.lines.len(), 2);
        } else {
            let exact = Decimal::from(delta) * Decimal::new(rate, 2) * Decimal::from(days) / Decimal::from(31);
            prop_assert_eq!(jan.lines[2].amount, Money::round(exact).unwrap());
        }
    }

    /// Invoice totals are the sum of their lines, and credit never exceeds the total.
    #[test]
    fn totals_add_up(ft in 0i64..500, pt in 0i64..500, credit in 0i64..1_000_000) {
        let s = Schedule::default();
        let mut b = book("2026-12");
        b.changes = vec![change(1, "2026-11-01", ft, pt)];
        b.credit = Money::from_cents(credit);
        let inv = tick(dt("2026-11-15 08:00"), &s, &mut b).remove(0);
        prop_assert_eq!(inv.total, inv.lines.iter().map(|l| l.amount).sum::<Money>());
        prop_assert!(inv.credit_applied <= inv.total);
        prop_assert!(inv.amount_due() >= Money::ZERO);
        prop_assert_eq!(b.credit + inv.credit_applied, Money::from_cents(credit));
    }
}

#[test]
fn dst_does_not_move_the_send_time() {
    let tz = chrono_tz::America::New_York;
    let s = Schedule::default();
    // 2026-03-08: clocks jump 02:00 -> 03:00; 2026-11-01: 02:00 -> 01:00
    let before = Utc.with_ymd_and_hms(2027, 3, 15, 11, 59, 0).unwrap(); // 07:59 EDT
    let after = Utc.with_ymd_and_hms(2027, 3, 15, 12, 0, 0).unwrap(); // 08:00 EDT
    let mut b = book("2027-04");
    assert!(tick(local_time(&before, tz), &s, &mut b).is_empty());
    assert_eq!(tick(local_time(&after, tz), &s, &mut b).len(), 1);
    let _ = book::counts_on(&b.changes, d("2027-04-01"));
}

#[test]
fn a_line_out_of_range_is_an_error_not_a_wrapped_number() {
    use crate::domain::Line;
    let huge =
        Line::priced(LineCategory::Product, "x".into(), Decimal::from(i64::MAX), Money::from_cents(i64::MAX), None);
    assert!(huge.unwrap_err().contains("out of range"));
    let cents_overflow = Line::priced(
        LineCategory::Product,
        "y".into(),
        Decimal::from(10_000_000_000_000_000i64),
        Money::from_cents(100_000),
        None,
    );
    assert!(cents_overflow.is_err());
    assert_eq!(
        Line::priced(LineCategory::Product, "z".into(), Decimal::from(3), Money::from_cents(8500), None)
            .unwrap()
            .amount,
        Money::from_cents(25500)
    );
}
