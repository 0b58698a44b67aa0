//! A clerk's correction of a reading before it is applied (the console's
//! "correct, then apply"): the counts the account should have, or the amount
//! and invoices of a payment. Pure: the corrected reading then goes through
//! the same planning as any approved one.

use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::domain::InvoiceNumber;
use crate::reading::{Kind, Reading, Totals, UserChange};

/// What the clerk wrote over the reading; a field left empty keeps what was read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Correction {
    /// The full-time users the account should have from the effective date.
    pub full_time: Option<i64>,
    pub part_time: Option<i64>,
    pub effective: Option<NaiveDate>,
    pub amount: Option<Decimal>,
    /// The invoices the payment pays (replacing those read).
    pub invoices: Option<Vec<InvoiceNumber>>,
}

/// Why a correction is refused before anything is written.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CorrectionRefusal {
    #[error("a count cannot be negative")]
    NegativeCount,
    #[error("a payment's amount must be more than 0")]
    NotPositive,
    #[error("counts and a payment cannot be corrected on one message")]
    Both,
    #[error("nothing was corrected")]
    Empty,
}

impl Correction {
    fn counts(&self) -> bool {
        self.full_time.is_some() || self.part_time.is_some() || self.effective.is_some()
    }

    fn payment(&self) -> bool {
        self.amount.is_some() || self.invoices.is_some()
    }

    /// The reading as corrected. New totals replace the adjustments read
    /// (the clerk states the counts the account should have); a payment's
    /// amount and invoices replace those read.
    pub fn apply(&self, r: &Reading) -> Result<Reading, CorrectionRefusal> {
        if self.counts() && self.payment() {
            return Err(CorrectionRefusal::Both);
        }
        if !self.counts() && !self.payment() {
            return Err(CorrectionRefusal::Empty);
        }
        if self.full_time.is_some_and(|n| n < 0) || self.part_time.is_some_and(|n| n < 0) {
            return Err(CorrectionRefusal::NegativeCount);
        }
        if self.amount.is_some_and(|a| a <= Decimal::ZERO) {
            return Err(CorrectionRefusal::NotPositive);
        }
        let mut r = r.clone();
        if self.counts() {
            let read = r.user_change.take().unwrap_or(UserChange {
                adjustments: Vec::new(),
                totals: None,
                names_added: Vec::new(),
                names_removed: Vec::new(),
                effective_date: None,
            });
            let totals = if self.full_time.is_some() || self.part_time.is_some() {
                Some(Totals { full_time: self.full_time, part_time: self.part_time })
            } else {
                read.totals.clone()
            };
            let adjustments = if totals.is_some() && totals != read.totals { Vec::new() } else { read.adjustments };
            r.user_change = Some(UserChange {
                adjustments,
                totals,
                effective_date: self.effective.or(read.effective_date),
                ..read
            });
            r.kind = Kind::UserChange;
            r.payment = None;
        } else {
            let Some(p) = r.payment.as_mut() else {
                // a payment is corrected only on a message read as one: a
                // payment made of nothing read would be the clerk's own entry
                // (`payments record` / the account page), not a decision
                return Err(CorrectionRefusal::Empty);
            };
            if let Some(a) = self.amount {
                p.amount = Some(a);
            }
            if let Some(n) = &self.invoices {
                p.invoice_numbers = n.clone();
            }
        }
        Ok(r)
    }

    /// The correction in words, for the review item's decision and the history.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(n) = self.full_time {
            parts.push(format!("{n} full-time"));
        }
        if let Some(n) = self.part_time {
            parts.push(format!("{n} part-time"));
        }
        if let Some(d) = self.effective {
            parts.push(format!("effective {d}"));
        }
        if let Some(a) = self.amount {
            parts.push(format!("amount {a:.2}"));
        }
        if let Some(n) = &self.invoices {
            let list: Vec<&str> = n.iter().map(InvoiceNumber::as_str).collect();
            parts.push(if list.is_empty() { "no invoice named".into() } else { format!("for {}", list.join(", ")) });
        }
        format!("corrected to {}", parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(raw: &str) -> Reading {
        crate::reading::read(raw.as_bytes()).expect("readable")
    }

    const CHANGE: &str = "From: Pat <pat@acme.example>\r\nTo: accounting@msp.example\r\nSubject: users\r\nMessage-ID: <c1@acme.example>\r\n\r\nPlease add two full-time users, maybe three.\r\n";
    const CLAIM: &str = "From: Pat <pat@acme.example>\r\nTo: accounting@msp.example\r\nSubject: payment\r\nMessage-ID: <p1@acme.example>\r\n\r\nWe sent $1,200.00 by ACH for invoice INV-2026-0001.\r\n";

    #[test]
    fn totals_replace_the_adjustments_read() {
        let r = reading(CHANGE);
        let c = Correction { full_time: Some(12), part_time: Some(3), ..Correction::default() };
        let fixed = c.apply(&r).unwrap();
        let u = fixed.user_change.unwrap();
        assert!(u.adjustments.is_empty());
        assert_eq!(u.totals, Some(Totals { full_time: Some(12), part_time: Some(3) }));
        assert_eq!(fixed.kind, Kind::UserChange);
        assert_eq!(c.describe(), "corrected to 12 full-time, 3 part-time");
    }

    #[test]
    fn a_new_date_alone_keeps_what_was_read() {
        let r = reading(CHANGE);
        let d = NaiveDate::from_ymd_opt(2027, 1, 1).unwrap();
        let fixed = Correction { effective: Some(d), ..Correction::default() }.apply(&r).unwrap();
        let u = fixed.user_change.unwrap();
        assert_eq!(u.adjustments, r.user_change.unwrap().adjustments);
        assert_eq!(u.effective_date, Some(d));
    }

    #[test]
    fn a_payment_takes_the_clerks_amount_and_invoices() {
        let r = reading(CLAIM);
        let c = Correction {
            amount: Some(Decimal::new(100_000, 2)),
            invoices: Some(vec![InvoiceNumber::new("inv-2026-0002")]),
            ..Correction::default()
        };
        let p = c.apply(&r).unwrap().payment.unwrap();
        assert_eq!(p.amount, Some(Decimal::new(100_000, 2)));
        assert_eq!(p.invoice_numbers, vec![InvoiceNumber::new("INV-2026-0002")]);
        assert_eq!(c.describe(), "corrected to amount 1000.00, for INV-2026-0002");
    }

    #[test]
    fn refusals() {
        let r = reading(CHANGE);
        assert_eq!(Correction::default().apply(&r), Err(CorrectionRefusal::Empty));
        let neg = Correction { full_time: Some(-1), ..Correction::default() };
        assert_eq!(neg.apply(&r), Err(CorrectionRefusal::NegativeCount));
        let both = Correction { full_time: Some(1), amount: Some(Decimal::ONE), ..Correction::default() };
        assert_eq!(both.apply(&r), Err(CorrectionRefusal::Both));
        let zero = Correction { amount: Some(Decimal::ZERO), ..Correction::default() };
        assert_eq!(zero.apply(&reading(CLAIM)), Err(CorrectionRefusal::NotPositive));
        // no payment was read: an amount is the clerk's own entry, not a correction
        let amount = Correction { amount: Some(Decimal::ONE), ..Correction::default() };
        assert_eq!(amount.apply(&r), Err(CorrectionRefusal::Empty));
    }
}
