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
    /// What a person decided by hand, which the rules respect.
    pub by_hand: Option<ByHand>,
}

/// A hold placed or released by a person.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ByHand {
    /// Placed by hand: the rules never lift it (a person does); they may
    /// still raise a credit hold to a service hold.
    Held,
    /// Released by hand: the rules place no hold and send no reminder
    /// before this day (a promise to pay, a dispute being settled).
    ReleasedUntil(NaiveDate),
}

/// Why a hold is not placed or released by hand.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HandRefusal {
    #[error("{account} is already on {state}")]
    Already { account: AccountId, state: String },
    #[error("{account} is not on hold: nothing to release")]
    NotHeld { account: AccountId },
    #[error("a hold by hand is a credit hold or a service hold")]
    NotAHold,
    #[error("the day automatic holds wait for ({until}) must be after today ({today})")]
    UntilNotLater { until: NaiveDate, today: NaiveDate },
    #[error("say why (the customer reads it)")]
    NoReason,
}

/// What a person asks of an account's hold.
#[derive(Clone, Copy, Debug)]
pub struct HandStep<'a> {
    /// A hold to place, or `Active` to release one.
    pub to: Standing,
    /// With a release: the day the rules may act again.
    pub until: Option<NaiveDate>,
    /// Why, in words the customer reads.
    pub reason: &'a str,
    /// Who (a console user, or `cli`).
    pub by: &'a str,
}

/// A hold placed (`to` a hold) or released (`to` active, with the day the
/// rules may act again) by a person: the mark the rules respect afterwards,
/// and the plan of what is recorded and said, like any step's.
pub fn by_hand(
    account: &AccountId,
    name: &str,
    ledger: &Ledger,
    policy: &Policy,
    ask: HandStep<'_>,
    today: NaiveDate,
) -> Result<(ByHand, StepPlan), HandRefusal> {
    let HandStep { to, until, reason, by } = ask;
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(HandRefusal::NoReason);
    }
    let state = |s: Standing| s.as_str().replace('_', " ");
    let mark = match to {
        Standing::Active => {
            if ledger.standing == Standing::Active {
                return Err(HandRefusal::NotHeld { account: account.clone() });
            }
            let until = until.ok_or(HandRefusal::UntilNotLater { until: today, today })?;
            if until <= today {
                return Err(HandRefusal::UntilNotLater { until, today });
            }
            ByHand::ReleasedUntil(until)
        }
        _ if to == ledger.standing => {
            return Err(HandRefusal::Already { account: account.clone(), state: state(to) });
        }
        _ => ByHand::Held,
    };
    let mut plan = plan_step(&Step::Change { to, since: today }, account, name, ledger, policy, today);
    let why = match mark {
        ByHand::Held => format!("{} from {today}, placed by hand by {by}: {reason}", state(to)),
        ByHand::ReleasedUntil(until) => format!(
            "{} released on {today} by hand by {by}: {reason}; no automatic hold before {until}",
            state(ledger.standing)
        ),
    };
    plan.record = Record::Standing { to, since: today, why: why.clone() };
    plan.facts.by_hand = Some(reason.to_string());
    plan.line = format!("{account} {why}");
    Ok((mark, plan))
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
    // a hold placed by hand is lifted by a person; after a release by hand
    // the rules wait until the day the person gave
    let held = ledger.by_hand == Some(ByHand::Held);
    let waiting = matches!(ledger.by_hand, Some(ByHand::ReleasedUntil(until)) if today < until);
    let earliest = ledger.unpaid.iter().filter(|(_, due)| *due < today).min_by_key(|(id, due)| (*due, *id));
    let Some(&(invoice, due)) = earliest else {
        return (ledger.standing != Standing::Active && !held)
            .then_some(Step::Change { to: Standing::Active, since: today });
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
        if paused || waiting {
            return None;
        }
        return Some(Step::Change { to: target.0, since: target.1 });
    }
    if target.0 < ledger.standing {
        // only full payment of what is past due releases a hold
        return None;
    }
    if ledger.standing != Standing::Active || paused || waiting {
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
    /// A hold placed or released by a person: their reason (always present
    /// for the templates, null for the rules' own steps).
    pub by_hand: Option<String>,
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
        Ledger { unpaid: vec![(1, d("2026-11-30"))], claims: vec![], standing, reminded: vec![], by_hand: None }
    }

    #[test]
    fn a_hold_placed_by_hand_is_lifted_only_by_a_person_but_may_rise() {
        let p = policy();
        let acme = AccountId::parse("ACME").unwrap();
        let ask = HandStep { to: Standing::CreditHold, until: None, reason: "card declined twice", by: "clara" };
        let owes_nothing = Ledger { unpaid: vec![], ..ledger(Standing::Active) };
        let (mark, plan) = by_hand(&acme, "Acme Dental", &owes_nothing, &p, ask, d("2026-12-04")).unwrap();
        assert_eq!(mark, ByHand::Held);
        assert_eq!(plan.kind, NoticeKind::CreditHold);
        assert_eq!(plan.facts.by_hand.as_deref(), Some("card declined twice"));
        assert_eq!(
            plan.record,
            Record::Standing {
                to: Standing::CreditHold,
                since: d("2026-12-04"),
                why: "credit hold from 2026-12-04, placed by hand by clara: card declined twice".into()
            }
        );
        // nothing past due: the rules would release it, but not one placed by hand
        let held = Ledger { by_hand: Some(ByHand::Held), ..Ledger { unpaid: vec![], ..ledger(Standing::CreditHold) } };
        assert_eq!(evaluate(d("2026-12-20"), &held, &p), None);
        let by_rules = Ledger { by_hand: None, ..held.clone() };
        assert!(matches!(evaluate(d("2026-12-20"), &by_rules, &p), Some(Step::Change { to: Standing::Active, .. })));
        // a payment 45 days late still brings the service hold
        let late = Ledger { by_hand: Some(ByHand::Held), ..ledger(Standing::CreditHold) };
        assert_eq!(
            evaluate(d("2027-01-14"), &late, &p),
            Some(Step::Change { to: Standing::ServiceHold, since: d("2027-01-14") })
        );
    }

    #[test]
    fn after_a_release_by_hand_the_rules_wait_for_the_day_given() {
        let p = policy();
        let acme = AccountId::parse("ACME").unwrap();
        let ask = HandStep { to: Standing::Active, until: Some(d("2027-01-20")), reason: "payment plan", by: "clara" };
        let (mark, plan) = by_hand(&acme, "Acme", &ledger(Standing::ServiceHold), &p, ask, d("2027-01-15")).unwrap();
        assert_eq!(mark, ByHand::ReleasedUntil(d("2027-01-20")));
        assert_eq!(plan.kind, NoticeKind::HoldReleased);
        assert_eq!(plan.facts.was_service_hold, Some(true));
        let released = Ledger { by_hand: Some(mark), ..ledger(Standing::Active) };
        // 46 days past due, but the day has not come: no hold, no reminder
        assert_eq!(evaluate(d("2027-01-15"), &released, &p), None);
        assert_eq!(evaluate(d("2027-01-19"), &released, &p), None);
        // then the rules again: the hold the ledger calls for
        assert_eq!(
            evaluate(d("2027-01-20"), &released, &p),
            Some(Step::Change { to: Standing::ServiceHold, since: d("2027-01-14") })
        );
    }

    #[test]
    fn holds_by_hand_are_refused_when_they_change_nothing_or_say_nothing() {
        let p = policy();
        let acme = AccountId::parse("ACME").unwrap();
        let ask = |to, until, reason| HandStep { to, until, reason, by: "clara" };
        let today = d("2026-12-04");
        let held = ledger(Standing::CreditHold);
        let active = ledger(Standing::Active);
        let refused = |l: &Ledger, a| by_hand(&acme, "Acme", l, &p, a, today).unwrap_err();
        assert_eq!(refused(&held, ask(Standing::CreditHold, None, "x")).to_string(), "ACME is already on credit hold");
        assert_eq!(
            refused(&active, ask(Standing::Active, Some(d("2026-12-10")), "x")).to_string(),
            "ACME is not on hold: nothing to release"
        );
        assert_eq!(
            refused(&held, ask(Standing::Active, Some(today), "x")),
            HandRefusal::UntilNotLater { until: today, today }
        );
        assert!(matches!(refused(&held, ask(Standing::Active, None, "x")), HandRefusal::UntilNotLater { .. }));
        assert_eq!(refused(&active, ask(Standing::CreditHold, None, "  ")), HandRefusal::NoReason);
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
