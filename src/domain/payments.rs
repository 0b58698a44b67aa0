//! How money meets what is owed: a payment applied to open invoices, or
//! unapplied payment money applied to a new invoice. Pure: the store
//! records what this decides.

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

/// Why a payment cannot go to the invoices it names.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NamedRefusal {
    #[error("no invoice {0}")]
    UnknownInvoice(String),
    #[error("invoice {number} belongs to account {owner}, not {account}")]
    OtherAccount { number: String, owner: String, account: String },
}

/// The keys of the invoices a payment by `account` names, each looked up
/// (`found`: the number, and its key and owner when it exists); refused
/// when one does not exist or is another account's.
pub fn named_invoices<K: Copy>(account: &str, found: &[(String, Option<(K, String)>)]) -> Result<Vec<K>, NamedRefusal> {
    found
        .iter()
        .map(|(number, row)| match row {
            None => Err(NamedRefusal::UnknownInvoice(number.clone())),
            Some((_, owner)) if owner != account => Err(NamedRefusal::OtherAccount {
                number: number.clone(),
                owner: owner.clone(),
                account: account.to_string(),
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
        let row = |n: &str, r: Option<(u32, &str)>| (n.to_string(), r.map(|(k, o)| (k, o.to_string())));
        let found = [row("INV-2026-0001", Some((1, "ACME"))), row("INV-2026-0004", Some((4, "ACME")))];
        assert_eq!(named_invoices("ACME", &found), Ok(vec![1, 4]));
        let found = [row("INV-2026-0001", Some((1, "ACME"))), row("INV-2026-0099", None)];
        assert_eq!(named_invoices("ACME", &found), Err(NamedRefusal::UnknownInvoice("INV-2026-0099".into())));
        let found = [row("INV-2026-0002", Some((2, "HARBOR")))];
        assert_eq!(
            named_invoices("ACME", &found).unwrap_err().to_string(),
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
}
