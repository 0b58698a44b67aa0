//! Collections: where an account stands, computed from its ledger at a date
//! (the Kill Bill way): days past due of the earliest unpaid invoice decide
//! reminders, credit hold and service hold; nothing is advanced by timers,
//! so a late payment or a run after downtime lands in the right state.

use chrono::{Days, NaiveDate};
use serde::Serialize;

use super::calendar::long_date;
use super::ids::{AccountId, NoticeKind};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Days past due at which a reminder is sent (increasing).
    pub reminder_days: Vec<u32>,
    pub credit_hold_after_days: u32,
    /// Days on credit hold before a service hold.
    pub service_hold_after_days: u32,
    /// A customer's claim pauses reminders and escalation this long, once per claim.
    pub claim_grace_days: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Standing {
    Active,
    CreditHold,
    ServiceHold,
}

impl Standing {
    pub fn as_str(self) -> &'static str {
        match self {
            Standing::Active => "active",
            Standing::CreditHold => "credit_hold",
            Standing::ServiceHold => "service_hold",
        }
    }
    pub fn parse(s: &str) -> Standing {
        match s {
            "credit_hold" => Standing::CreditHold,
            "service_hold" => Standing::ServiceHold,
            _ => Standing::Active,
        }
    }
}

/// A new purchase refused for an account on hold: services keep running,
/// nothing new is sold until the balance is paid.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{account} is on {state}: {what} is refused until the balance is paid (--override-hold to record it anyway)")]
pub struct OnHold {
    pub account: AccountId,
    /// "credit hold since 2026-12-15".
    pub state: String,
    pub what: String,
}

/// May `what` (a new purchase) be recorded for `account` in `standing`
/// (held `since`)? `Ok(None)`: it is active. `Ok(Some(note))`: on hold, but
/// a person overrode it; the note goes to the account's history.
pub fn purchase(
    account: &AccountId,
    standing: Standing,
    since: Option<&str>,
    what: &str,
    override_hold: bool,
) -> Result<Option<String>, OnHold> {
    if standing == Standing::Active {
        return Ok(None);
    }
    let state = format!("{} since {}", standing.as_str().replace('_', " "), since.unwrap_or("?"));
    if !override_hold {
        return Err(OnHold { account: account.clone(), state, what: what.to_string() });
    }
    Ok(Some(format!("{what} accepted while on {state} (--override-hold)")))
}

/// A subscription row is a new purchase when it raises the quantity (a new
/// product raises it from 0); what it buys, said for a refusal.
pub fn buys_more(product: &str, current: Option<i64>, quantity: i64) -> Option<String> {
    let current = current.unwrap_or(0);
    (quantity > current).then(|| format!("more of {product:?} ({current} -> {quantity})"))
}

/// What the ledger says of one account on `today`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ledger {
    /// (invoice id, due date) of every invoice with money still owed.
    pub unpaid: Vec<(i64, NaiveDate)>,
    /// Local dates customers said they paid.
    pub claims: Vec<NaiveDate>,
    /// The standing recorded now.
    pub standing: Standing,
    /// Reminder stages (index into `reminder_days`) already sent, per invoice.
    pub reminded: Vec<(i64, usize)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Send reminder stage `stage` for the earliest unpaid invoice.
    Remind { invoice: i64, stage: usize, days_past_due: i64 },
    /// Move to a new standing, which began on `since`.
    Change { to: Standing, since: NaiveDate },
}

/// What must happen on `today`: at most one change of standing, or else at
/// most one reminder (the latest stage reached; missed ones are not sent).
pub fn evaluate(today: NaiveDate, ledger: &Ledger, policy: &Policy) -> Option<Step> {
    let earliest = ledger.unpaid.iter().filter(|(_, due)| *due < today).min_by_key(|(id, due)| (*due, *id));
    let Some(&(invoice, due)) = earliest else {
        return (ledger.standing != Standing::Active).then_some(Step::Change { to: Standing::Active, since: today });
    };
    let days = (today - due).num_days();
    let credit_from = due.checked_add_days(Days::new(u64::from(policy.credit_hold_after_days))).expect("date");
    let service_from =
        credit_from.checked_add_days(Days::new(u64::from(policy.service_hold_after_days))).expect("date");
    let target = if today >= service_from {
        (Standing::ServiceHold, service_from)
    } else if today >= credit_from {
        (Standing::CreditHold, credit_from)
    } else {
        (Standing::Active, today)
    };
    // a claim pauses escalation and reminders for a while (releases still happen)
    let paused =
        ledger.claims.iter().any(|c| *c <= today && (today - *c).num_days() < i64::from(policy.claim_grace_days));
    if target.0 > ledger.standing {
        if paused {
            return None;
        }
        return Some(Step::Change { to: target.0, since: target.1 });
    }
    if target.0 < ledger.standing {
        // only full payment of what is past due releases a hold
        return None;
    }
    if ledger.standing != Standing::Active || paused {
        return None;
    }
    let stage = policy.reminder_days.iter().rposition(|d| i64::from(*d) <= days)?;
    let sent = ledger.reminded.iter().filter(|(i, _)| *i == invoice).map(|(_, s)| *s).max();
    (sent.is_none_or(|s| s < stage)).then_some(Step::Remind { invoice, stage, days_past_due: days })
}

/// What recording a step changes in the books.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    /// Reminder `stage` for `invoice` was sent.
    Reminder { invoice: i64, stage: usize },
    /// The account's standing is now `to`, since `since`, for `why`.
    Standing { to: Standing, since: NaiveDate, why: String },
}

/// What a collections notice says besides the account and its invoices:
/// the template context of reminders, holds and releases.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NoticeFacts {
    /// Days the oldest unpaid invoice is past due.
    pub days: i64,
    /// Reminders: "by December 15, 2026" (when a credit hold would begin), or empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credit_hold_on: Option<String>,
    /// Holds and releases: the day the standing began.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_hold_on: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hold_days: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub was_service_hold: Option<bool>,
}

/// A step, planned: what to record, what to say to whom, and the line that
/// reports it. Pure: the engine records it, renders the notices and queues
/// them in one transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepPlan {
    pub record: Record,
    pub kind: NoticeKind,
    pub subject: String,
    pub facts: NoticeFacts,
    /// The invoice whose thread the notice joins (else the oldest unpaid).
    pub thread_invoice: Option<i64>,
    /// Holds and releases are told to the services team as well.
    pub tell_team: bool,
    pub line: String,
}

/// `1 day past due`, `16 days past due`.
pub fn days_late(n: i64) -> String {
    if n == 1 { "1 day past due".into() } else { format!("{n} days past due") }
}

/// Plans `step` for the account `account` (`name`) on `today`.
pub fn plan_step(
    step: &Step,
    account: &AccountId,
    name: &str,
    ledger: &Ledger,
    policy: &Policy,
    today: NaiveDate,
) -> StepPlan {
    let earliest_due = ledger.unpaid.iter().map(|(_, d)| *d).filter(|d| *d < today).min();
    let days = earliest_due.map(|d| (today - d).num_days()).unwrap_or(0);
    match *step {
        Step::Remind { invoice, stage, days_past_due } => {
            let credit_from =
                earliest_due.map(|d| d + chrono::Duration::days(i64::from(policy.credit_hold_after_days)));
            StepPlan {
                record: Record::Reminder { invoice, stage },
                kind: NoticeKind::Reminder,
                subject: format!("Payment reminder: {name} is {}", days_late(days_past_due)),
                facts: NoticeFacts {
                    days: days_past_due,
                    credit_hold_on: Some(credit_from.map(|d| format!("by {}", long_date(d))).unwrap_or_default()),
                    ..NoticeFacts::default()
                },
                thread_invoice: Some(invoice),
                tell_team: false,
                line: format!("reminder to {account} ({})", days_late(days_past_due)),
            }
        }
        Step::Change { to, since } => {
            let was = ledger.standing;
            let why = match to {
                Standing::CreditHold => format!("credit hold from {since}: a payment {days} days past due"),
                Standing::ServiceHold => {
                    format!("service hold from {since}: {} days on credit hold", policy.service_hold_after_days)
                }
                Standing::Active => {
                    format!("{} released on {since}: nothing is past due", was.as_str().replace('_', " "))
                }
            };
            let (kind, subject) = match to {
                Standing::CreditHold => (NoticeKind::CreditHold, format!("Credit hold on {name}'s account")),
                Standing::ServiceHold => (NoticeKind::ServiceHold, format!("Service hold on {name}'s account")),
                Standing::Active => (NoticeKind::HoldReleased, format!("{name}'s account is back in good standing")),
            };
            let service_hold_on = since + chrono::Duration::days(i64::from(policy.service_hold_after_days));
            StepPlan {
                line: format!("{account} {why}"),
                record: Record::Standing { to, since, why },
                kind,
                subject,
                facts: NoticeFacts {
                    days,
                    since: Some(long_date(since)),
                    service_hold_on: Some(long_date(service_hold_on)),
                    hold_days: Some(policy.service_hold_after_days),
                    was_service_hold: Some(was == Standing::ServiceHold),
                    ..NoticeFacts::default()
                },
                thread_invoice: None,
                tell_team: true,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_purchase_on_hold_is_refused_unless_overridden() {
        let acme = AccountId::parse("ACME").unwrap();
        assert_eq!(purchase(&acme, Standing::Active, None, "new work", false), Ok(None));
        let refused = purchase(&acme, Standing::CreditHold, Some("2026-12-15"), "new work", false).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "ACME is on credit hold since 2026-12-15: new work is refused until the balance is paid (--override-hold to record it anyway)"
        );
        let note = purchase(&acme, Standing::ServiceHold, Some("2027-01-14"), "new work", true).unwrap();
        assert_eq!(note.as_deref(), Some("new work accepted while on service hold since 2027-01-14 (--override-hold)"));
    }

    #[test]
    fn only_a_higher_quantity_buys_more() {
        assert_eq!(buys_more("Backup", None, 3).as_deref(), Some("more of \"Backup\" (0 -> 3)"));
        assert_eq!(buys_more("Backup", Some(5), 6).as_deref(), Some("more of \"Backup\" (5 -> 6)"));
        assert_eq!(buys_more("Backup", Some(5), 5), None);
        assert_eq!(buys_more("Backup", Some(5), 0), None);
    }

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn policy() -> Policy {
        Policy {
            reminder_days: vec![1, 7, 14],
            credit_hold_after_days: 15,
            service_hold_after_days: 30,
            claim_grace_days: 5,
        }
    }

    fn ledger(standing: Standing) -> Ledger {
        Ledger { unpaid: vec![(1, d("2026-11-30"))], claims: vec![], standing, reminded: vec![] }
    }

    #[test]
    fn reminders_then_holds_from_the_ledger() {
        let p = policy();
        assert_eq!(evaluate(d("2026-11-30"), &ledger(Standing::Active), &p), None, "due today is not late");
        assert_eq!(
            evaluate(d("2026-12-01"), &ledger(Standing::Active), &p),
            Some(Step::Remind { invoice: 1, stage: 0, days_past_due: 1 })
        );
        let mut l = ledger(Standing::Active);
        l.reminded = vec![(1, 0)];
        assert_eq!(evaluate(d("2026-12-03"), &l, &p), None);
        assert_eq!(evaluate(d("2026-12-07"), &l, &p), Some(Step::Remind { invoice: 1, stage: 1, days_past_due: 7 }));
        assert_eq!(
            evaluate(d("2026-12-15"), &l, &p),
            Some(Step::Change { to: Standing::CreditHold, since: d("2026-12-15") })
        );
        assert_eq!(
            evaluate(d("2027-01-14"), &ledger(Standing::CreditHold), &p),
            Some(Step::Change { to: Standing::ServiceHold, since: d("2027-01-14") })
        );
        assert_eq!(evaluate(d("2027-01-13"), &ledger(Standing::CreditHold), &p), None);
    }

    #[test]
    fn downtime_lands_in_the_right_state_without_a_burst() {
        // nothing ran from December 1st to the 20th: one credit-hold change, dated when it began
        let step = evaluate(d("2026-12-20"), &ledger(Standing::Active), &policy());
        assert_eq!(step, Some(Step::Change { to: Standing::CreditHold, since: d("2026-12-15") }));
    }

    #[test]
    fn payment_releases_and_claims_pause() {
        let p = policy();
        let mut paid = ledger(Standing::ServiceHold);
        paid.unpaid.clear();
        assert_eq!(
            evaluate(d("2027-02-01"), &paid, &p),
            Some(Step::Change { to: Standing::Active, since: d("2027-02-01") })
        );
        // partly paid: still past due, the hold stays
        assert_eq!(evaluate(d("2027-02-01"), &ledger(Standing::ServiceHold), &p), None);
        let mut claimed = ledger(Standing::Active);
        claimed.claims = vec![d("2026-12-13")];
        assert_eq!(evaluate(d("2026-12-15"), &claimed, &p), None, "no credit hold while the claim is fresh");
        assert_eq!(
            evaluate(d("2026-12-18"), &claimed, &p),
            Some(Step::Change { to: Standing::CreditHold, since: d("2026-12-15") })
        );
    }

    #[test]
    fn a_planned_reminder_says_when_the_credit_hold_would_begin() {
        let l = ledger(Standing::Active);
        let step = evaluate(d("2026-12-07"), &l, &policy()).unwrap();
        let plan = plan_step(&step, &"ACME".into(), "Acme Dental", &l, &policy(), d("2026-12-07"));
        assert_eq!(plan.record, Record::Reminder { invoice: 1, stage: 1 });
        assert_eq!((plan.kind, plan.tell_team, plan.thread_invoice), (NoticeKind::Reminder, false, Some(1)));
        assert_eq!(plan.subject, "Payment reminder: Acme Dental is 7 days past due");
        assert_eq!(plan.facts.credit_hold_on.as_deref(), Some("by December 15, 2026"));
        assert_eq!(plan.line, "reminder to ACME (7 days past due)");
    }

    #[test]
    fn a_planned_hold_is_recorded_with_its_reason_and_told_to_the_team() {
        let l = ledger(Standing::Active);
        let step = evaluate(d("2026-12-20"), &l, &policy()).unwrap();
        let plan = plan_step(&step, &"ACME".into(), "Acme Dental", &l, &policy(), d("2026-12-20"));
        let why = "credit hold from 2026-12-15: a payment 20 days past due".to_string();
        assert_eq!(
            plan.record,
            Record::Standing { to: Standing::CreditHold, since: d("2026-12-15"), why: why.clone() }
        );
        assert_eq!((plan.kind, plan.tell_team), (NoticeKind::CreditHold, true));
        assert_eq!(plan.facts.service_hold_on.as_deref(), Some("January 14, 2027"));
        assert_eq!(plan.line, format!("ACME {why}"));
        // paid: the hold is released, and the notice says it was a credit hold
        let paid = Ledger { unpaid: vec![], ..ledger(Standing::CreditHold) };
        let step = evaluate(d("2026-12-22"), &paid, &policy()).unwrap();
        let plan = plan_step(&step, &"ACME".into(), "Acme Dental", &paid, &policy(), d("2026-12-22"));
        assert_eq!(plan.kind, NoticeKind::HoldReleased);
        assert_eq!(plan.facts.was_service_hold, Some(false));
        assert_eq!(plan.subject, "Acme Dental's account is back in good standing");
    }
}
