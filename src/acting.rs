//! What to do with a reading: pure rules over the reading and the facts the
//! shell looked up. Act alone only on what was read with certainty, from
//! someone allowed to ask, in a message that is provably theirs; everything
//! else goes to a person.

pub mod correction;
pub mod notices;

use crate::domain::AccountId;
use crate::reading::{Confidence, Kind, PaymentSource as Source, Reading};
use crate::trust::Verdict;

/// How many automatic answers one sender gets a day, at most.
pub const ANSWERS_PER_SENDER_PER_DAY: i64 = 3;

/// The facts about a message's sender and references, looked up by the shell.
#[derive(Clone, Debug, Default)]
pub struct Facts {
    pub require_authentication: bool,
    /// Accounts whose billing or authorized contacts include the sender.
    pub from_accounts: Vec<AccountId>,
    pub from_is_services_team: bool,
    /// Accounts whose contacts include the forwarded message's sender.
    pub behalf_accounts: Vec<AccountId>,
    pub trusted_payment_sender: bool,
    /// Accounts owning the invoices the payment names; numbers not found.
    pub invoice_accounts: Vec<AccountId>,
    pub unknown_invoices: Vec<String>,
    /// Accounts whose payer names match the payment's payer.
    pub payer_accounts: Vec<AccountId>,
    pub company_currency: String,
    /// Automatic answers already sent to the sender today.
    pub answers_today: i64,
    /// A person approved the reading: apply it as if it were certain.
    pub approved: bool,
    /// Accounts on credit or service hold: additions of users wait for a person.
    pub on_hold: Vec<AccountId>,
    /// For a bounce: the recipients of the message billmail sent that it
    /// names (None: billmail sent no such message).
    pub bounced_mail: Option<Vec<String>>,
    /// For a bounce: domains whose servers may report our mail undelivered
    /// (the SMTP relay's, the company's own, `[trust] bounce_domains`).
    pub bounce_domains: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    ApplyUserChange {
        account: AccountId,
    },
    RecordPayment {
        account: AccountId,
    },
    /// A customer says they paid: recorded, never money; waits for a person.
    RecordClaim {
        account: Option<AccountId>,
        reasons: Vec<String>,
    },
    Review {
        account: Option<AccountId>,
        reasons: Vec<String>,
    },
    /// An auto-reply or a bounce: handled, nothing to answer.
    Processed,
    /// Not billing mail: left for people.
    Left,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    pub action: Action,
    /// Send a review acknowledgement ("received; a person will confirm").
    pub acknowledge: bool,
}

/// Which account the matches name: exactly one, none, or several.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Matched {
    One(AccountId),
    Nobody,
    Several(Vec<AccountId>),
}

impl Matched {
    /// The one account, or why there is not one (`several (A, B)`, `none`).
    fn one(self) -> Result<AccountId, String> {
        match self {
            Matched::One(a) => Ok(a),
            Matched::Nobody => Err("none".into()),
            Matched::Several(many) => {
                Err(format!("several ({})", many.iter().map(AccountId::as_str).collect::<Vec<_>>().join(", ")))
            }
        }
    }
}

fn one(accounts: &[AccountId]) -> Matched {
    let mut a = accounts.to_vec();
    a.sort();
    a.dedup();
    match a.len() {
        0 => Matched::Nobody,
        1 => Matched::One(a.remove(0)),
        _ => Matched::Several(a),
    }
}

pub fn plan(r: &Reading, f: &Facts) -> Plan {
    let action = match r.kind {
        Kind::AutoReply => Action::Processed,
        Kind::Bounce => match bounce_targets(r, f) {
            Ok(_) => Action::Processed,
            Err(why) => Action::Review { account: None, reasons: vec![why] },
        },
        Kind::Other => Action::Left,
        Kind::UserChange => user_change(r, f),
        Kind::Payment => payment(r, f),
    };
    let reviewing = matches!(action, Action::Review { .. } | Action::RecordClaim { .. });
    let known = !f.from_accounts.is_empty() || (f.from_is_services_team && !f.behalf_accounts.is_empty());
    // a message that failed the check of its origin is never answered
    let acknowledge = reviewing
        && known
        && !r.automated
        && !f.approved
        && r.authentication != Verdict::Fail
        && f.answers_today < ANSWERS_PER_SENDER_PER_DAY;
    Plan { action, acknowledge }
}

/// The addresses a delivery failure report may flag: it must name a
/// message billmail sent (its original Message-ID is in the outbox), come
/// from a server that would report on that mail (our relay, our own domain,
/// `[trust] bounce_domains`, or the failed recipient's own domain), and name
/// recipients of that message. Anyone can write "Returned mail"; only these
/// may switch off a customer's billing address.
pub fn bounce_targets(r: &Reading, f: &Facts) -> Result<Vec<String>, String> {
    let Some(b) = &r.bounce else { return Err("not a delivery failure report".into()) };
    let original = b.original_message_id.as_deref().unwrap_or("");
    let Some(sent_to) = &f.bounced_mail else {
        return Err(if original.is_empty() {
            "a delivery failure report that names no message billmail sent: no address is flagged".into()
        } else {
            format!("a delivery failure report for {original}, which billmail did not send: no address is flagged")
        });
    };
    let reporter = r.from.rsplit('@').next().unwrap_or("").to_ascii_lowercase();
    let failed: Vec<String> =
        b.failed_recipients.iter().filter(|a| sent_to.iter().any(|t| t.eq_ignore_ascii_case(a))).cloned().collect();
    let recipient_domains = failed.iter().filter_map(|a| a.rsplit_once('@').map(|(_, d)| d.to_string()));
    let mut may_report = f.bounce_domains.iter().cloned().chain(recipient_domains);
    if !may_report.any(|d| crate::trust::aligned(&d, &reporter)) {
        return Err(format!(
            "a delivery failure report from {reporter}, which neither relays our mail nor receives the recipient's: no address is flagged"
        ));
    }
    if failed.is_empty() {
        return Err(format!(
            "a delivery failure report for {original} naming {}, who were not its recipients: no address is flagged",
            b.failed_recipients.join(", ")
        ));
    }
    Ok(failed)
}

fn authenticated(r: &Reading, f: &Facts) -> Result<(), String> {
    let domain = r.from.rsplit('@').next().unwrap_or("");
    let how =
        if r.authentication_detail.is_empty() { String::new() } else { format!(" ({})", r.authentication_detail) };
    if !f.require_authentication || f.approved || r.authentication == Verdict::Pass {
        Ok(())
    } else if r.authentication == Verdict::Fail {
        Err(format!("possibly forged: the check of its origin failed{how}"))
    } else {
        Err(format!("not proven to come from {domain}{how}"))
    }
}

fn user_change(r: &Reading, f: &Facts) -> Action {
    let (accounts, who) = if f.from_is_services_team && r.on_behalf_of.is_some() {
        (&f.behalf_accounts, r.on_behalf_of.clone().unwrap_or_default())
    } else {
        (&f.from_accounts, r.from.clone())
    };
    let matched = one(accounts);
    let nobody = matched == Matched::Nobody;
    let account = matched.one();
    let mut reasons = Vec::new();
    if let Err(e) = authenticated(r, f) {
        reasons.push(e);
    }
    // a customer's contact forwarding someone else's request: only the
    // services team acts for customers, and nobody for another customer
    if let (Some(o), false) = (&r.on_behalf_of, f.from_is_services_team)
        && let Ok(a) = &account
        && !f.behalf_accounts.contains(a)
        && !f.approved
    {
        reasons.push(format!(
            "{} forwards a request from {o}, who is not a contact of {a}: only the services team forwards for customers",
            r.from
        ));
    }
    match &account {
        Err(_) if nobody => reasons.push(format!("{who} is not a billing or authorized contact of any account")),
        Err(n) => reasons.push(format!("{who} is a contact of {n} accounts; which one is meant is not clear")),
        Ok(_) => {}
    }
    if r.confidence == Confidence::Low && !f.approved {
        reasons.extend(r.reasons.iter().cloned());
        if r.reasons.is_empty() {
            reasons.push("not read with certainty".into());
        }
    }
    let adds = r.user_change.as_ref().is_some_and(|u| u.adjustments.iter().any(|a| a.delta > 0) || u.totals.is_some());
    if let Ok(a) = &account
        && adds
        && f.on_hold.contains(a)
        && !f.approved
    {
        reasons.push(format!("{a} is on hold: adding users is a new purchase, which a person must allow"));
    }
    match (account, reasons.is_empty()) {
        (Ok(account), true) => Action::ApplyUserChange { account },
        (account, _) => Action::Review { account: account.ok(), reasons },
    }
}

fn payment(r: &Reading, f: &Facts) -> Action {
    let Some(p) = &r.payment else { return Action::Review { account: None, reasons: vec!["no payment read".into()] } };
    let by_invoice = one(&f.invoice_accounts);
    let several_by_invoice = matches!(by_invoice, Matched::Several(_));
    let by_invoice = by_invoice.one();
    let account = match (&by_invoice, one(&f.payer_accounts).one(), one(&f.from_accounts).one()) {
        (Ok(a), _, _) => Ok(a.clone()),
        (Err(e), _, _) if several_by_invoice => Err(format!("the invoices named belong to {e} accounts")),
        (_, Ok(a), _) => Ok(a),
        (_, _, Ok(a)) if p.source == Source::CustomerClaim => Ok(a),
        _ => Err("no account matches the invoices or the payer".to_string()),
    };
    let mut reasons = Vec::new();
    if !f.unknown_invoices.is_empty() {
        reasons.push(format!("no such invoice: {}", f.unknown_invoices.join(", ")));
    }
    // one customer's payer naming another's invoice: whose money is it?
    if let (Ok(owner), Matched::One(payer)) = (&by_invoice, one(&f.payer_accounts))
        && *owner != payer
        && !f.approved
    {
        reasons.push(format!(
            "the payer {} is {payer}'s, but {} belongs to {owner}",
            p.payer.as_deref().unwrap_or("named"),
            p.invoice_numbers.iter().map(|n| n.as_str()).collect::<Vec<_>>().join(", ")
        ));
    }
    if let Err(e) = &account {
        reasons.push(e.clone());
    }
    if r.confidence == Confidence::Low && !f.approved {
        reasons.extend(r.reasons.iter().cloned());
    }
    if p.currency.as_deref().is_some_and(|c| c != f.company_currency) {
        reasons.push(format!("paid in {}, not {}", p.currency.as_deref().unwrap_or(""), f.company_currency));
    }
    if p.amount.is_none() {
        reasons.push("no amount".into());
    }
    let bank = p.source == Source::BankNotice && f.trusted_payment_sender;
    if !bank && !f.approved {
        if p.source == Source::BankNotice {
            reasons.push(format!(
                "{} is not a trusted payment sender; only [trust] payment_senders mark invoices paid",
                r.from
            ));
        } else {
            reasons.push(
                "a customer's word that they paid: recorded as a claim, not money; it waits for the bank's notice"
                    .into(),
            );
        }
        return Action::RecordClaim { account: account.ok(), reasons };
    }
    if let Err(e) = authenticated(r, f) {
        reasons.push(e);
    }
    match (account, reasons.is_empty()) {
        (Ok(account), true) => Action::RecordPayment { account },
        (account, _) => Action::Review { account: account.ok(), reasons },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reading whose origin intake proved (`pass`).
    fn reading(raw: &str) -> Reading {
        proven(raw, Verdict::Pass)
    }

    fn proven(raw: &str, verdict: Verdict) -> Reading {
        let mut r = crate::reading::read(raw.as_bytes()).unwrap();
        r.authentication = verdict;
        r
    }

    const ADD: &str = "From: Jane <jane@acme.example>\r\nSubject: Add a user\r\nMessage-ID: <a1@acme.example>\r\n\r\n\
        Please add Tom Baker as a full-time user from December 1, 2026.\r\n";

    fn facts() -> Facts {
        Facts {
            require_authentication: true,
            from_accounts: vec!["ACME".into()],
            company_currency: "USD".into(),
            ..Facts::default()
        }
    }

    #[test]
    fn a_certain_request_from_a_contact_is_applied() {
        let p = plan(&reading(ADD), &facts());
        assert_eq!(p.action, Action::ApplyUserChange { account: "ACME".into() });
        assert!(!p.acknowledge);
    }

    #[test]
    fn forged_unknown_or_ambiguous_senders_go_to_review() {
        let forged = plan(&proven(ADD, Verdict::Fail), &facts());
        assert!(matches!(forged.action, Action::Review { .. }));
        assert!(!forged.acknowledge, "a forgery is never answered");
        let unauthenticated = plan(&proven(ADD, Verdict::None), &facts());
        assert!(matches!(unauthenticated.action, Action::Review { .. }));
        assert!(unauthenticated.acknowledge, "an unproven contact is told a person will look");
        let stranger = Facts { from_accounts: vec![], ..facts() };
        let p = plan(&reading(ADD), &stranger);
        assert!(matches!(p.action, Action::Review { .. }));
        assert!(!p.acknowledge, "strangers get no answer");
        let both = Facts { from_accounts: vec!["ACME".into(), "ACME2".into()], ..facts() };
        assert!(matches!(plan(&reading(ADD), &both).action, Action::Review { .. }));
    }

    #[test]
    fn only_trusted_bank_notices_are_money() {
        let notice = "From: Bank Alerts <alerts@bank.example>\r\nSubject: ACH Credit Received\r\nMessage-ID: <n1@bank.example>\r\n\
            \r\n\
            An ACH credit has been posted to your account.\r\nAmount: $100.00\r\nAddenda: INV-2026-0001\r\n";
        let trusted = Facts {
            trusted_payment_sender: true,
            invoice_accounts: vec!["ACME".into()],
            from_accounts: vec![],
            ..facts()
        };
        assert_eq!(plan(&reading(notice), &trusted).action, Action::RecordPayment { account: "ACME".into() });
        let untrusted = Facts { trusted_payment_sender: false, ..trusted.clone() };
        assert!(matches!(plan(&reading(notice), &untrusted).action, Action::RecordClaim { .. }));
    }

    #[test]
    fn answers_are_limited_and_never_go_to_machines() {
        let vague = ADD.replace("Tom Baker as a full-time user", "a couple of users");
        let f = facts();
        assert!(plan(&reading(&vague), &f).acknowledge);
        assert!(!plan(&reading(&vague), &Facts { answers_today: ANSWERS_PER_SENDER_PER_DAY, ..f.clone() }).acknowledge);
        let auto = vague.replace("Subject:", "Auto-Submitted: auto-generated\r\nSubject:");
        assert!(!plan(&reading(&auto), &f).acknowledge);
    }
}
