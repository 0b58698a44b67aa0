//! How money meets what is owed: a payment applied to open invoices, or
//! unapplied payment money applied to a new invoice. Pure: the store
//! records what this decides.

use chrono::NaiveDate;

use super::ids::AccountId;
use super::money::Money;

/// Something with money still to fill (an open invoice: what is owed on it)
/// or to give (a payment: what of it is unapplied).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Open<K> {
    pub key: K,
    pub left: Money,
}

/// One part of an allocation: `amount` goes to or from `key`; `settles`
/// when it takes all that was left there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Take<K> {
    pub key: K,
    pub amount: Money,
    pub settles: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Allocation<K> {
    pub takes: Vec<Take<K>>,
    /// What could not be placed (a payment's credit on the account).
    pub left: Money,
}

/// Places `amount` on `open`: first the ones `named` (in the order named;
/// a name not among `open` is passed over), then the others in the order
/// given (the store gives invoices oldest due first, payments oldest
/// received first). Nothing is placed where nothing is left.
pub fn allocate<K: Copy + PartialEq>(amount: Money, named: &[K], open: &[Open<K>]) -> Allocation<K> {
    let mut order: Vec<&Open<K>> = named.iter().filter_map(|k| open.iter().find(|o| o.key == *k)).collect();
    order.extend(open.iter().filter(|o| !named.contains(&o.key)));
    let mut left = amount;
    let mut takes = Vec::new();
    for o in order {
        if !left.is_positive() {
            break;
        }
        if !o.left.is_positive() {
            continue;
        }
        let amount = if o.left < left { o.left } else { left };
        takes.push(Take { key: o.key, amount, settles: amount == o.left });
        left -= amount;
    }
    Allocation { takes, left }
}

/// A payment to record: as a bank's notice or a person gave it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewPayment<'a> {
    pub amount: Money,
    pub currency: &'a str,
    pub method: &'a str,
    pub reference: Option<&'a str>,
    /// Who vouched for it: `manual`, `bank_notice`, `review`.
    pub source: &'a str,
    pub received_on: NaiveDate,
}

/// An open invoice of the payer: its key, its number and what is owed on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenInvoice<K> {
    pub key: K,
    pub number: String,
    pub owed: Money,
}

/// What recording a payment writes: each part placed on an invoice (with
/// the invoice's number), the credit left on the account, and the
/// history's words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentPlan<K> {
    pub takes: Vec<(Take<K>, String)>,
    pub credit: Money,
    pub history: String,
}

impl<K> PaymentPlan<K> {
    /// (invoice number, amount) of each part placed, in order.
    pub fn applied(&self) -> Vec<(String, Money)> {
        self.takes.iter().map(|(t, n)| (n.clone(), t.amount)).collect()
    }
}

/// Plans a payment on the payer's `open` invoices (oldest due first): the
/// `named` ones first (checked by [`named_invoices`]), then the oldest;
/// what is left is credit.
pub fn plan_payment<K: Copy + PartialEq>(p: &NewPayment, named: &[K], open: &[OpenInvoice<K>]) -> PaymentPlan<K> {
    let owed: Vec<Open<K>> = open.iter().map(|o| Open { key: o.key, left: o.owed }).collect();
    let a = allocate(p.amount, named, &owed);
    let number = |k: K| open.iter().find(|o| o.key == k).map(|o| o.number.clone()).unwrap_or_default();
    let takes: Vec<(Take<K>, String)> = a.takes.into_iter().map(|t| (t, number(t.key))).collect();
    let mut history = format!("payment {} {} by {}", p.amount, p.currency, p.method);
    if let Some(r) = p.reference {
        history.push_str(&format!(", reference {r}"));
    }
    history.push_str(&format!(" ({}, received {})", p.source, p.received_on));
    for (t, n) in &takes {
        history.push_str(&format!("; {} to {n}", t.amount));
    }
    if a.left.is_positive() {
        history.push_str(&format!("; {} kept as credit", a.left));
    }
    PaymentPlan { takes, credit: a.left, history }
}

/// The books said an account had more unapplied money than its payments
/// hold: nothing is written.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("account {account} has less credit than the {amount} being applied")]
pub struct ShortOfCredit {
    pub account: AccountId,
    pub amount: Money,
}

/// Takes `amount` of an account's credit from its payments with money
/// unapplied (`payments`, oldest received first), lowering what is left on
/// each, so a later invoice of the same run takes from what remains.
pub fn spread_credit<K: Copy + PartialEq>(
    account: &AccountId,
    amount: Money,
    payments: &mut [Open<K>],
) -> Result<Vec<Take<K>>, ShortOfCredit> {
    let a = allocate(amount, &[], payments);
    if a.left.is_positive() {
        return Err(ShortOfCredit { account: account.clone(), amount });
    }
    for t in &a.takes {
        if let Some(p) = payments.iter_mut().find(|p| p.key == t.key) {
            p.left -= t.amount;
        }
    }
    Ok(a.takes)
}

/// Why a payment cannot go to the invoices it names.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NamedRefusal {
    #[error("no invoice {0}")]
    UnknownInvoice(String),
    #[error("invoice {number} belongs to account {owner}, not {account}")]
    OtherAccount { number: String, owner: AccountId, account: AccountId },
}

/// The keys of the invoices a payment by `account` names, each looked up
/// (`found`: the number, and its key and owner when it exists); refused
/// when one does not exist or is another account's.
pub fn named_invoices<K: Copy>(
    account: &AccountId,
    found: &[(String, Option<(K, AccountId)>)],
) -> Result<Vec<K>, NamedRefusal> {
    found
        .iter()
        .map(|(number, row)| match row {
            None => Err(NamedRefusal::UnknownInvoice(number.clone())),
            Some((_, owner)) if owner != account => Err(NamedRefusal::OtherAccount {
                number: number.clone(),
                owner: owner.clone(),
                account: account.clone(),
            }),
            Some((key, _)) => Ok(*key),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_invoices_must_exist_and_be_the_payers() {
        let row = |n: &str, r: Option<(u32, &str)>| (n.to_string(), r.map(|(k, o)| (k, AccountId::parse(o).unwrap())));
        let acme = AccountId::parse("ACME").unwrap();
        let found = [row("INV-2026-0001", Some((1, "ACME"))), row("INV-2026-0004", Some((4, "ACME")))];
        assert_eq!(named_invoices(&acme, &found), Ok(vec![1, 4]));
        let found = [row("INV-2026-0001", Some((1, "ACME"))), row("INV-2026-0099", None)];
        assert_eq!(named_invoices(&acme, &found), Err(NamedRefusal::UnknownInvoice("INV-2026-0099".into())));
        let found = [row("INV-2026-0002", Some((2, "HARBOR")))];
        assert_eq!(
            named_invoices(&acme, &found).unwrap_err().to_string(),
            "invoice INV-2026-0002 belongs to account HARBOR, not ACME"
        );
    }

    fn open(list: &[(u32, i64)]) -> Vec<Open<u32>> {
        list.iter().map(|(k, c)| Open { key: *k, left: Money::from_cents(*c) }).collect()
    }

    fn takes(a: &Allocation<u32>) -> Vec<(u32, i64, bool)> {
        a.takes.iter().map(|t| (t.key, t.amount.cents(), t.settles)).collect()
    }

    #[test]
    fn the_named_invoice_is_paid_first_then_the_oldest() {
        let invoices = open(&[(1, 10000), (2, 5000), (3, 7000)]);
        let a = allocate(Money::from_cents(12000), &[3], &invoices);
        assert_eq!(takes(&a), [(3, 7000, true), (1, 5000, false)]);
        assert_eq!(a.left, Money::from_cents(0));
    }

    #[test]
    fn an_overpayment_is_left_as_credit_and_nothing_is_placed_on_a_settled_invoice() {
        let invoices = open(&[(1, 0), (2, 4000)]);
        let a = allocate(Money::from_cents(10000), &[9], &invoices);
        assert_eq!(takes(&a), [(2, 4000, true)]);
        assert_eq!(a.left, Money::from_cents(6000));
    }

    #[test]
    fn credit_too_small_for_the_amount_is_seen_in_what_is_left() {
        let payments = open(&[(7, 1000), (8, 500)]);
        let a = allocate(Money::from_cents(2000), &[], &payments);
        assert_eq!(takes(&a), [(7, 1000, true), (8, 500, true)]);
        assert_eq!(a.left, Money::from_cents(500));
    }

    #[test]
    fn nothing_is_placed_from_nothing() {
        let a = allocate(Money::from_cents(0), &[1], &open(&[(1, 1000)]));
        assert!(a.takes.is_empty());
    }

    #[test]
    fn a_payment_plan_says_where_each_part_went_and_what_is_credit() {
        let p = NewPayment {
            amount: Money::from_cents(15_000),
            currency: "USD",
            method: "ach",
            reference: Some("ACH-77"),
            source: "bank_notice",
            received_on: NaiveDate::from_ymd_opt(2026, 12, 2).unwrap(),
        };
        let inv = |key: u32, n: &str, cents: i64| OpenInvoice { key, number: n.into(), owed: Money::from_cents(cents) };
        let open = [inv(1, "INV-2026-0001", 4_000), inv(2, "INV-2026-0002", 8_000)];
        let plan = plan_payment(&p, &[2], &open);
        assert_eq!(
            plan.applied(),
            [
                ("INV-2026-0002".to_string(), Money::from_cents(8_000)),
                ("INV-2026-0001".into(), Money::from_cents(4_000))
            ]
        );
        assert!(plan.takes.iter().all(|(t, _)| t.settles));
        assert_eq!(plan.credit, Money::from_cents(3_000));
        assert_eq!(
            plan.history,
            "payment 150.00 USD by ach, reference ACH-77 (bank_notice, received 2026-12-02); \
             80.00 to INV-2026-0002; 40.00 to INV-2026-0001; 30.00 kept as credit"
        );
    }

    #[test]
    fn credit_is_spread_oldest_first_and_a_second_invoice_takes_what_remains() {
        let acme = AccountId::parse("ACME").unwrap();
        let mut payments = open(&[(7, 1000), (8, 500)]);
        let first = spread_credit(&acme, Money::from_cents(1200), &mut payments).unwrap();
        assert_eq!(first.iter().map(|t| (t.key, t.amount.cents())).collect::<Vec<_>>(), [(7, 1000), (8, 200)]);
        let second = spread_credit(&acme, Money::from_cents(300), &mut payments).unwrap();
        assert_eq!(second.iter().map(|t| (t.key, t.amount.cents())).collect::<Vec<_>>(), [(8, 300)]);
        let short = spread_credit(&acme, Money::from_cents(1), &mut payments).unwrap_err();
        assert_eq!(short.to_string(), "account ACME has less credit than the 0.01 being applied");
    }
}
