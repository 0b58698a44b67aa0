//! A monthly statement of account, worked out in pure code from the
//! account's invoices and payments: what it owed when the month began, what
//! was invoiced and paid in it, what it owed when it ended, and each invoice
//! still open then with its age.

use chrono::NaiveDate;

use super::aging::bucket;
use super::{Money, Month};

/// An invoice as a statement sees it: what was applied to it, and when
/// (payments and credit, by the company's date).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerInvoice {
    pub number: String,
    pub issued: NaiveDate,
    pub due: NaiveDate,
    pub total: Money,
    pub applied: Vec<(NaiveDate, Money)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerPayment {
    pub received: NaiveDate,
    pub method: String,
    pub reference: Option<String>,
    pub amount: Money,
}

/// An invoice open at the month's end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenItem {
    pub number: String,
    pub issued: NaiveDate,
    pub due: NaiveDate,
    pub balance: Money,
    /// Days past due at the month's end (0: not yet due).
    pub days_past_due: i64,
    /// Its age bucket (`aging::BUCKETS`).
    pub bucket: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statement {
    pub month: Month,
    pub opening: Money,
    pub invoices: Vec<LedgerInvoice>,
    pub payments: Vec<LedgerPayment>,
    pub closing: Money,
    pub open: Vec<OpenItem>,
    /// The open invoices' balances by age bucket.
    pub buckets: [Money; 5],
    /// Credit held at the month's end (paid and not yet applied).
    pub credit: Money,
}

impl Statement {
    /// Whether the account gets one: it owes something, or holds credit.
    pub fn has_balance(&self) -> bool {
        self.closing != Money::ZERO || !self.open.is_empty()
    }
}

/// The statement for `month`: the balance is what was invoiced less what
/// was paid; invoices and payments count on their own dates (issued,
/// received); an invoice is open at the month's end by what had been
/// applied to it by then. Void invoices are not given.
pub fn statement(month: Month, invoices: &[LedgerInvoice], payments: &[LedgerPayment]) -> Statement {
    let (start, end) = (month.first_day(), month.last_day());
    let invoiced_before =
        |day: NaiveDate| -> Money { invoices.iter().filter(|i| i.issued < day).map(|i| i.total).sum() };
    let paid_before =
        |day: NaiveDate| -> Money { payments.iter().filter(|p| p.received < day).map(|p| p.amount).sum() };
    let after_end = end.succ_opt().unwrap_or(end);
    let opening = invoiced_before(start) - paid_before(start);
    let closing = invoiced_before(after_end) - paid_before(after_end);
    let mut in_month: Vec<LedgerInvoice> =
        invoices.iter().filter(|i| (start..=end).contains(&i.issued)).cloned().collect();
    in_month.sort_by(|a, b| (a.issued, &a.number).cmp(&(b.issued, &b.number)));
    let mut paid: Vec<LedgerPayment> =
        payments.iter().filter(|p| (start..=end).contains(&p.received)).cloned().collect();
    paid.sort_by_key(|p| p.received);
    let mut open: Vec<OpenItem> = invoices
        .iter()
        .filter(|i| i.issued <= end)
        .filter_map(|i| {
            let applied: Money = i.applied.iter().filter(|(d, _)| *d <= end).map(|(_, a)| *a).sum();
            let balance = i.total - applied;
            balance.is_positive().then(|| OpenItem {
                number: i.number.clone(),
                issued: i.issued,
                due: i.due,
                balance,
                days_past_due: (end - i.due).num_days().max(0),
                bucket: bucket(i.due, end),
            })
        })
        .collect();
    open.sort_by(|a, b| (a.due, &a.number).cmp(&(b.due, &b.number)));
    let mut buckets = [Money::ZERO; 5];
    for o in &open {
        buckets[o.bucket] += o.balance;
    }
    let owed: Money = open.iter().map(|o| o.balance).sum();
    Statement { month, opening, invoices: in_month, payments: paid, closing, open, buckets, credit: owed - closing }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }
    fn usd(dollars: i64) -> Money {
        Money::from_cents(dollars * 100)
    }
    fn inv(number: &str, issued: &str, due: &str, total: i64, applied: &[(&str, i64)]) -> LedgerInvoice {
        LedgerInvoice {
            number: number.into(),
            issued: day(issued),
            due: day(due),
            total: usd(total),
            applied: applied.iter().map(|(d, a)| (day(d), usd(*a))).collect(),
        }
    }
    fn pay(received: &str, amount: i64) -> LedgerPayment {
        LedgerPayment { received: day(received), method: "ach".into(), reference: None, amount: usd(amount) }
    }

    #[test]
    fn opening_plus_invoiced_less_paid_is_closing_and_open_invoices_age_at_the_months_end() {
        let invoices = [
            inv("INV-1", "2026-10-15", "2026-10-30", 100, &[("2026-11-03", 100)]),
            inv("INV-2", "2026-11-05", "2026-11-30", 60, &[("2026-11-20", 20)]),
            inv("INV-3", "2026-11-15", "2026-11-30", 250, &[]),
            inv("INV-4", "2026-12-15", "2026-12-30", 250, &[]),
        ];
        let payments = [pay("2026-11-03", 100), pay("2026-11-20", 20), pay("2026-12-02", 50)];
        let s = statement(Month::parse("2026-11").unwrap(), &invoices, &payments);
        assert_eq!(s.opening, usd(100));
        assert_eq!(s.invoices.iter().map(|i| i.number.as_str()).collect::<Vec<_>>(), ["INV-2", "INV-3"]);
        assert_eq!(s.payments.len(), 2);
        assert_eq!(s.closing, usd(100 + 310 - 120));
        let open: Vec<_> = s.open.iter().map(|o| (o.number.as_str(), o.balance, o.days_past_due)).collect();
        assert_eq!(open, [("INV-2", usd(40), 0), ("INV-3", usd(250), 0)]);
        assert_eq!(s.buckets[0], usd(290));
        assert_eq!(s.credit, Money::ZERO);

        // a month on, unpaid: 31 days past due; the December payment is a credit on nothing yet
        let s = statement(Month::parse("2026-12").unwrap(), &invoices, &payments);
        assert_eq!(s.opening, usd(290));
        assert_eq!(s.closing, usd(290 + 250 - 50));
        assert_eq!(s.open.iter().map(|o| o.days_past_due).collect::<Vec<_>>(), [31, 31, 1]);
        assert_eq!(s.buckets[2], usd(290));
        assert_eq!(s.buckets[1], usd(250));
        assert_eq!(s.credit, usd(50), "paid and not applied");
        assert!(s.has_balance());
    }

    #[test]
    fn an_account_that_owes_nothing_and_holds_no_credit_gets_none() {
        let invoices = [inv("INV-1", "2026-10-15", "2026-10-30", 100, &[("2026-10-20", 100)])];
        let s = statement(Month::parse("2026-11").unwrap(), &invoices, &[pay("2026-10-20", 100)]);
        assert_eq!((s.opening, s.closing), (Money::ZERO, Money::ZERO));
        assert!(!s.has_balance());
        // paid twice: a credit balance is a balance
        let s =
            statement(Month::parse("2026-11").unwrap(), &invoices, &[pay("2026-10-20", 100), pay("2026-11-02", 100)]);
        assert_eq!(s.closing, usd(-100));
        assert_eq!(s.credit, usd(100));
        assert!(s.has_balance());
    }
}
