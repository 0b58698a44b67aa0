//! What intake records and says after acting, decided in pure code: the
//! counts a user change records and its confirmation, a payment's receipt,
//! the acknowledgement of a message left for a person, and accounting's
//! notice of a bounced billing address. Each message is a [`Notice`]: kind,
//! recipients, the message it answers, subject and a typed template
//! context; intake renders and queues it in the message's transaction.

use chrono::NaiveDate;
use serde::Serialize;

use crate::domain::book::{BilledBy, CountChange, CountRequest, PlannedChange, RequestRefusal, billed_by, plan_counts};
use crate::domain::calendar::long_date;
use crate::domain::{AccountId, Money, Month, NoticeKind, UserCounts};
use crate::reading::{BounceInfo, PaymentMethod, Reading};

/// An automatic message, planned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    pub kind: NoticeKind,
    pub account: Option<AccountId>,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    /// The message it answers: threading headers, and part of its own Message-ID.
    pub answers: Option<String>,
    /// Makes the Message-ID unique when one message causes several.
    pub tag: String,
    pub subject: String,
    pub context: Context,
}

/// The template context of each kind of notice intake sends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Context {
    Change(ChangeConfirmation),
    Receipt(PaymentReceipt),
    Acknowledgement(Acknowledgement),
    Bounce(BounceNotice),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AccountRef {
    pub id: AccountId,
    pub name: String,
}

/// `change_confirmation.*.j2`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChangeConfirmation {
    pub account: AccountRef,
    pub before: UserCounts,
    pub after: UserCounts,
    /// "December 1, 2026".
    pub effective: String,
    pub steps: Vec<Step>,
    pub names_added: Vec<String>,
    pub names_removed: Vec<String>,
    /// Which invoice bills the change.
    pub invoice_note: String,
}

/// One dated change of a confirmation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Step {
    pub date: String,
    /// "+2 full-time".
    pub change: String,
    pub full_time: i64,
    pub part_time: i64,
}

/// `payment_receipt.*.j2`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PaymentReceipt {
    pub account: AccountRef,
    pub amount: String,
    pub method: &'static str,
    pub reference: Option<String>,
    pub applied: Vec<Applied>,
    pub credit: Option<String>,
    pub balance: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Applied {
    pub number: String,
    pub amount: String,
}

/// `review_acknowledgement.*.j2`: the subject quoted only when the message
/// is proven to be the sender's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Acknowledgement {
    pub subject: Option<String>,
}

/// `bounce_notice.*.j2`, to accounting.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BounceNotice {
    pub address: String,
    pub status: Option<String>,
    pub accounts: Vec<AccountId>,
    pub original: String,
}

/// "Re: " before a subject that has none.
pub fn reply_subject(subject: &str) -> String {
    if subject.to_ascii_lowercase().starts_with("re:") { subject.to_string() } else { format!("Re: {subject}") }
}

/// What the shell looked up for a user change to an account.
#[derive(Clone, Debug)]
pub struct ChangeFacts<'a> {
    pub account: &'a AccountId,
    pub name: &'a str,
    /// The account's count changes so far.
    pub recorded: &'a [CountChange],
    /// The last agreement month invoiced, and the account's first.
    pub last_invoiced: Option<Month>,
    pub first: Option<Month>,
    /// The forwarded sender is one of this account's contacts (an address
    /// read from a forwarded text is free text until then).
    pub behalf_is_contact: bool,
    pub services_team: Option<&'a str>,
    /// The company's date now: the change's date when the message gives none.
    pub today: NaiveDate,
}

/// A user change to record, and its confirmation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangePlan {
    pub steps: Vec<PlannedChange>,
    /// The history's reason: who asked, in which message.
    pub reason: String,
    pub confirmation: Notice,
}

/// Plans a user change read from `r` for `f.account`; `Err` says why a person
/// must decide instead (a count that would go negative, totals that disagree).
pub fn plan_change(r: &Reading, f: &ChangeFacts<'_>) -> Result<ChangePlan, String> {
    let Some(u) = &r.user_change else { return Err("no user change read".into()) };
    let request = CountRequest {
        dated: u.adjustments.iter().filter_map(|a| a.effective_date.map(|d| (d, a.user_type, a.delta))).collect(),
        changes: u.adjustments.iter().filter(|a| a.effective_date.is_none()).map(|a| (a.user_type, a.delta)).collect(),
        totals: u.totals.as_ref().map(|t| (t.full_time, t.part_time)),
        effective: u.effective_date.or(r.date).unwrap_or(f.today),
    };
    let steps = match plan_counts(f.recorded, &request) {
        Ok(p) => p,
        Err(RequestRefusal::Refused(refusal)) => return Err(format!("account {}: {refusal}", f.account)),
        Err(refusal) => return Err(refusal.to_string()),
    };
    let who = r.on_behalf_of.as_deref().unwrap_or(&r.from);
    let reason = format!("email from {who}: {}", r.subject);
    let before = steps.first().map(|p| p.before).unwrap_or_default();
    let after = steps.last().map(|p| p.after).unwrap_or_default();
    let effective = steps[0].effective;
    let invoice_note = match billed_by(effective, f.last_invoiced, f.first) {
        BilledBy::Adjustment { invoiced, next, from } => format!(
            "{} is already invoiced, so your next agreement invoice ({}) bills the new counts and adds a prorated adjustment for the days from {}.",
            invoiced.label(),
            next.label(),
            long_date(from)
        ),
        BilledBy::Invoice { month } => format!("your agreement invoice for {} bills the new counts.", month.label()),
    };
    let context = ChangeConfirmation {
        account: AccountRef { id: f.account.clone(), name: f.name.to_string() },
        before,
        after,
        effective: long_date(effective),
        steps: steps
            .iter()
            .map(|p| Step {
                date: long_date(p.effective),
                change: p.delta.describe(),
                full_time: p.after.full_time,
                part_time: p.after.part_time,
            })
            .collect(),
        names_added: u.names_added.clone(),
        names_removed: u.names_removed.clone(),
        invoice_note,
    };
    // the forwarder, and the forwarded sender only when it is one of this
    // account's contacts; the services team is copied
    let mut to = vec![r.from.clone()];
    if let Some(o) = &r.on_behalf_of
        && !to.contains(o)
        && f.behalf_is_contact
    {
        to.push(o.clone());
    }
    let cc = f.services_team.iter().map(|a| a.to_string()).filter(|a| *a != r.from).collect();
    let confirmation = Notice {
        kind: NoticeKind::ChangeConfirmation,
        account: Some(f.account.clone()),
        to,
        cc,
        answers: r.message_id.clone(),
        tag: String::new(),
        subject: reply_subject(&r.subject),
        context: Context::Change(context),
    };
    Ok(ChangePlan { steps, reason, confirmation })
}

/// A recorded payment, as the receipt tells it.
#[derive(Clone, Debug)]
pub struct Received<'a> {
    pub account: &'a AccountId,
    pub name: &'a str,
    /// The account's billing addresses that have not bounced.
    pub billing: Vec<String>,
    pub payment_id: i64,
    pub amount: Money,
    pub method: PaymentMethod,
    pub reference: Option<&'a str>,
    /// (invoice number, amount) placed on each invoice.
    pub applied: &'a [(String, Money)],
    pub credit: Money,
    /// What the account owes after the payment.
    pub balance: Money,
    pub currency: &'a str,
}

/// The receipt of a recorded payment, to the account's billing addresses;
/// none when it has none that work. It answers no message: the bank's
/// notice is not the customer's.
pub fn receipt(p: Received<'_>) -> Option<Notice> {
    if p.billing.is_empty() {
        return None;
    }
    let cur = p.currency;
    let context = PaymentReceipt {
        account: AccountRef { id: p.account.clone(), name: p.name.to_string() },
        amount: p.amount.display_in(cur),
        method: p.method.label(),
        reference: p.reference.map(String::from),
        applied: p.applied.iter().map(|(n, a)| Applied { number: n.clone(), amount: a.display_in(cur) }).collect(),
        credit: p.credit.is_positive().then(|| p.credit.display_in(cur)),
        balance: p.balance.display_in(cur),
    };
    Some(Notice {
        kind: NoticeKind::PaymentReceipt,
        account: Some(p.account.clone()),
        to: p.billing,
        cc: vec![],
        answers: None,
        tag: format!("p{}", p.payment_id),
        subject: format!("Payment received: {}", p.amount.display_in(cur)),
        context: Context::Receipt(context),
    })
}

/// The answer to a message left for a person (stored as `message`). One not
/// proven to be the sender's quotes none of it and answers no thread:
/// whoever forged it cannot make billmail mail their words (or links) to
/// the real address.
pub fn acknowledgement(r: &Reading, message: i64, company_name: &str) -> Notice {
    let proven = r.authentication == crate::trust::Verdict::Pass;
    let (subject, quoted) = if proven {
        (reply_subject(&r.subject), Some(r.subject.clone()))
    } else {
        (format!("Your message to {company_name} Accounting"), None)
    };
    Notice {
        kind: NoticeKind::ReviewAcknowledgement,
        account: None,
        to: vec![r.from.clone()],
        cc: vec![],
        answers: if proven { r.message_id.clone() } else { None },
        tag: format!("m{message}"),
        subject,
        context: Context::Acknowledgement(Acknowledgement { subject: quoted }),
    }
}

/// Accounting's notice that `address` bounced (`accounts` use it for billing).
pub fn bounce_notice(r: &Reading, b: &BounceInfo, address: &str, accounts: &[AccountId], accounting: &str) -> Notice {
    let tag =
        format!("{}.{}", address.replace('@', "."), r.message_id.as_deref().unwrap_or("").trim_matches(['<', '>']));
    Notice {
        kind: NoticeKind::BounceNotice,
        account: accounts.first().cloned(),
        to: vec![accounting.to_string()],
        cc: vec![],
        answers: None,
        tag,
        subject: format!("Billing address bounced: {address}"),
        context: Context::Bounce(BounceNotice {
            address: address.to_string(),
            status: b.status.clone(),
            accounts: accounts.to_vec(),
            original: b.original_message_id.clone().unwrap_or_else(|| "not shown".into()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{CountDelta, UserType};
    use crate::reading::{Adjustment, UserChange};

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn request(adjustments: Vec<Adjustment>) -> Reading {
        let raw = "From: ops@client.example\r\nTo: accounting@krgroup.example\r\nSubject: Add two users\r\nMessage-ID: <req@client.example>\r\nDate: Fri, 20 Nov 2026 09:00:00 -0500\r\n\r\nHello.\r\n";
        let mut r = crate::reading::read(raw.as_bytes()).unwrap();
        assert_eq!((r.from.as_str(), r.date), ("ops@client.example", Some(day("2026-11-20"))));
        r.user_change = Some(UserChange {
            adjustments,
            totals: None,
            names_added: vec!["Ana Ruiz".into()],
            names_removed: vec![],
            effective_date: Some(day("2026-12-01")),
        });
        r
    }

    static ACME: std::sync::LazyLock<AccountId> = std::sync::LazyLock::new(|| "ACME".into());

    fn recorded() -> Vec<CountChange> {
        vec![CountChange {
            id: 1,
            effective: day("2026-01-01"),
            delta: CountDelta { full_time: 10, part_time: 2 },
            reason: "import".into(),
            accounted: true,
        }]
    }

    fn facts<'a>(recorded: &'a [CountChange], last: Option<&str>) -> ChangeFacts<'a> {
        ChangeFacts {
            account: &ACME,
            name: "Acme Dental",
            recorded,
            last_invoiced: last.and_then(Month::parse),
            first: Month::parse("2026-01"),
            behalf_is_contact: false,
            services_team: Some("msp@krgroup.example"),
            today: day("2026-11-20"),
        }
    }

    #[test]
    fn a_change_records_its_steps_and_confirms_them_to_the_sender_with_the_team_copied() {
        let r = request(vec![Adjustment { user_type: UserType::FullTime, delta: 2, effective_date: None }]);
        let rec = recorded();
        let plan = plan_change(&r, &facts(&rec, Some("2026-11"))).unwrap();
        assert_eq!(plan.steps.len(), 1);
        assert_eq!(plan.steps[0].after, UserCounts { full_time: 12, part_time: 2 });
        assert_eq!(plan.reason, "email from ops@client.example: Add two users");
        let n = &plan.confirmation;
        assert_eq!(
            (n.to.as_slice(), n.cc.as_slice()),
            (&["ops@client.example".to_string()][..], &["msp@krgroup.example".to_string()][..])
        );
        assert_eq!(n.answers.as_deref(), Some("<req@client.example>"));
        assert_eq!(n.subject, "Re: Add two users");
        let Context::Change(c) = &n.context else { panic!("a confirmation") };
        assert_eq!((c.before.full_time, c.after.full_time), (10, 12));
        assert_eq!(c.effective, "December 1, 2026");
        assert_eq!(c.invoice_note, "your agreement invoice for December 2026 bills the new counts.");
    }

    #[test]
    fn a_change_in_an_invoiced_month_says_the_adjustment_bills_it() {
        let mut r = request(vec![Adjustment { user_type: UserType::FullTime, delta: 2, effective_date: None }]);
        r.user_change.as_mut().unwrap().effective_date = Some(day("2026-11-10"));
        let rec = recorded();
        let plan = plan_change(&r, &facts(&rec, Some("2026-12"))).unwrap();
        let Context::Change(c) = &plan.confirmation.context else { panic!("a confirmation") };
        assert!(c.invoice_note.starts_with("November 2026 is already invoiced"), "{}", c.invoice_note);
        assert!(c.invoice_note.contains("days from November 10, 2026"), "{}", c.invoice_note);
    }

    #[test]
    fn a_change_the_books_refuse_goes_to_a_person_with_the_account_named() {
        let r = request(vec![Adjustment { user_type: UserType::PartTime, delta: -3, effective_date: None }]);
        let rec = recorded();
        let why = plan_change(&r, &facts(&rec, None)).unwrap_err();
        assert!(why.starts_with("account ACME: "), "{why}");
        assert!(why.contains("-1 part-time"), "{why}");
    }

    #[test]
    fn the_forwarded_sender_is_answered_only_as_a_contact_of_the_account() {
        let mut r = request(vec![Adjustment { user_type: UserType::FullTime, delta: 1, effective_date: None }]);
        r.from = "msp@krgroup.example".into();
        r.on_behalf_of = Some("boss@client.example".into());
        let rec = recorded();
        let mut f = facts(&rec, None);
        let plan = plan_change(&r, &f).unwrap();
        assert_eq!(plan.confirmation.to, ["msp@krgroup.example"]);
        assert!(plan.confirmation.cc.is_empty(), "the team is not copied on its own forward");
        assert_eq!(plan.reason, "email from boss@client.example: Add two users");
        f.behalf_is_contact = true;
        assert_eq!(plan_change(&r, &f).unwrap().confirmation.to, ["msp@krgroup.example", "boss@client.example"]);
    }

    #[test]
    fn an_unproven_message_is_acknowledged_without_its_words_or_thread() {
        let mut r = request(vec![]);
        r.subject = "Click http://evil.example".into();
        let n = acknowledgement(&r, 7, "KR Group");
        assert_eq!(n.subject, "Your message to KR Group Accounting");
        assert_eq!((n.answers.clone(), n.tag.as_str()), (None, "m7"));
        assert_eq!(n.context, Context::Acknowledgement(Acknowledgement { subject: None }));
        r.authentication = crate::trust::Verdict::Pass;
        let n = acknowledgement(&r, 7, "KR Group");
        assert_eq!(n.subject, "Re: Click http://evil.example");
        assert_eq!(n.answers.as_deref(), Some("<req@client.example>"));
    }

    #[test]
    fn a_receipt_goes_to_working_billing_addresses_and_shows_credit_only_when_there_is_some() {
        let applied = [("INV-2026-0001".to_string(), Money::from_cents(10_000))];
        let paid = |billing: Vec<String>, credit: i64| Received {
            account: &ACME,
            name: "Acme Dental",
            billing,
            payment_id: 4,
            amount: Money::from_cents(10_000 + credit),
            method: PaymentMethod::Ach,
            reference: Some("TRACE1"),
            applied: &applied,
            credit: Money::from_cents(credit),
            balance: Money::from_cents(0),
            currency: "USD",
        };
        assert!(receipt(paid(vec![], 0)).is_none(), "no working address: no receipt");
        let n = receipt(paid(vec!["ap@client.example".into()], 0)).unwrap();
        assert_eq!((n.tag.as_str(), n.answers.clone()), ("p4", None));
        assert_eq!(n.subject, "Payment received: $100.00");
        let Context::Receipt(c) = &n.context else { panic!("a receipt") };
        assert_eq!(c.credit, None);
        assert_eq!(c.applied[0].amount, "$100.00");
        let n = receipt(paid(vec!["ap@client.example".into()], 2_500)).unwrap();
        let Context::Receipt(c) = &n.context else { panic!("a receipt") };
        assert_eq!(c.credit.as_deref(), Some("$25.00"));
    }

    #[test]
    fn a_bounce_is_told_to_accounting_per_address_with_the_accounts_that_use_it() {
        let r = request(vec![]);
        let b =
            BounceInfo { failed_recipients: vec!["ap@client.example".into()], original_message_id: None, status: None };
        let n =
            bounce_notice(&r, &b, "ap@client.example", &["ACME".into(), "ACME2".into()], "accounting@krgroup.example");
        assert_eq!(n.to, ["accounting@krgroup.example"]);
        assert_eq!(n.account, Some("ACME".into()));
        assert_eq!(n.tag, "ap.client.example.req@client.example");
        let Context::Bounce(c) = &n.context else { panic!("a bounce notice") };
        assert_eq!((c.original.as_str(), c.accounts.len()), ("not shown", 2));
    }
}
