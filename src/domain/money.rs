//! Money: integer cents in one currency, rounded in exactly one place.

use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Neg, Sub, SubAssign};
use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};

/// An amount of money in cents. The currency lives beside it (one per
/// company); amounts are never floats.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money(i64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("{0:?} is not an amount (expected digits with at most two decimals, like 85 or 1250.50)")]
    Malformed(String),
    #[error("{0:?} has more than two decimal places")]
    TooPrecise(String),
    #[error("{0:?} is negative")]
    Negative(String),
    #[error("{0:?} is too large")]
    TooLarge(String),
}

impl Money {
    pub const ZERO: Money = Money(0);

    pub const fn from_cents(cents: i64) -> Money {
        Money(cents)
    }

    pub const fn cents(self) -> i64 {
        self.0
    }

    /// The one rounding rule of billmail: half away from zero, to cents. An
    /// amount beyond what cents in an i64 hold is an error, never a wrapped
    /// or clamped number.
    pub fn round(value: Decimal) -> Result<Money, MoneyError> {
        let rounded = value.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
        let too_large = || MoneyError::TooLarge(value.to_string());
        let cents = rounded.checked_mul(Decimal::ONE_HUNDRED).ok_or_else(too_large)?;
        i64::try_from(cents).map(Money).map_err(|_| too_large())
    }

    /// The sum, or None when it would not fit.
    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).map(Money)
    }

    pub fn to_decimal(self) -> Decimal {
        Decimal::new(self.0, 2)
    }

    /// Parses an amount as staff type it: `85`, `85.5`, `1250.00`, `1,250.00`,
    /// optionally with a leading `$`. Never more than two decimals, never
    /// negative.
    pub fn parse(input: &str) -> Result<Money, MoneyError> {
        let s = input.trim();
        let s = s.strip_prefix('$').unwrap_or(s).trim();
        if s.starts_with('-') {
            return Err(MoneyError::Negative(input.to_string()));
        }
        let (int, frac) = match s.split_once('.') {
            Some((i, f)) => (i, f),
            None => (s, ""),
        };
        let int_clean: String = int.chars().filter(|c| *c != ',').collect();
        let grouping_ok = !int.contains(',') || valid_grouping(int);
        if int_clean.is_empty()
            || !int_clean.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
            || !grouping_ok
            || (s.contains('.') && frac.is_empty())
        {
            return Err(MoneyError::Malformed(input.to_string()));
        }
        if frac.len() > 2 {
            return Err(MoneyError::TooPrecise(input.to_string()));
        }
        if int_clean.len() > 13 {
            return Err(MoneyError::TooLarge(input.to_string()));
        }
        let whole: i64 = int_clean.parse().map_err(|_| MoneyError::Malformed(input.to_string()))?;
        let mut frac_cents: i64 = if frac.is_empty() { 0 } else { frac.parse().unwrap_or(0) };
        if frac.len() == 1 {
            frac_cents *= 10;
        }
        Ok(Money(whole * 100 + frac_cents))
    }

    /// `1,998.75` (no currency).
    pub fn grouped(self) -> String {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let whole = (abs / 100).to_string();
        let mut out = String::new();
        for (i, ch) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(ch);
        }
        format!("{sign}{out}.{:02}", abs % 100)
    }

    /// As a customer reads it: `$1,998.75` for USD, `1,998.75 CAD` otherwise.
    pub fn display_in(self, currency: &str) -> String {
        match currency {
            "USD" => {
                if self.0 < 0 {
                    format!("-${}", Money(-self.0).grouped())
                } else {
                    format!("${}", self.grouped())
                }
            }
            _ => format!("{} {currency}", self.grouped()),
        }
    }

    pub fn is_positive(self) -> bool {
        self.0 > 0
    }

    pub fn is_negative(self) -> bool {
        self.0 < 0
    }
}

fn valid_grouping(int: &str) -> bool {
    let groups: Vec<&str> = int.split(',').collect();
    !groups[0].is_empty() && groups[0].len() <= 3 && groups[1..].iter().all(|g| g.len() == 3)
}

impl fmt::Display for Money {
    /// `1998.75`, `-12.30`: the form of every JSON amount.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

impl FromStr for Money {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Money::parse(s)
    }
}

impl Add for Money {
    type Output = Money;
    fn add(self, rhs: Money) -> Money {
        Money(self.0 + rhs.0)
    }
}
impl AddAssign for Money {
    fn add_assign(&mut self, rhs: Money) {
        self.0 += rhs.0;
    }
}
impl Sub for Money {
    type Output = Money;
    fn sub(self, rhs: Money) -> Money {
        Money(self.0 - rhs.0)
    }
}
impl SubAssign for Money {
    fn sub_assign(&mut self, rhs: Money) {
        self.0 -= rhs.0;
    }
}
impl Neg for Money {
    type Output = Money;
    fn neg(self) -> Money {
        Money(-self.0)
    }
}
impl Sum for Money {
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Money {
        Money(iter.map(|m| m.0).sum())
    }
}

/// A non-negative decimal quantity with at most two places (hours worked).
pub fn parse_quantity(input: &str) -> Result<Decimal, String> {
    let s = input.trim();
    let d = Decimal::from_str(s).map_err(|_| format!("{input:?} is not a number"))?;
    if d.is_sign_negative() {
        return Err(format!("{input:?} is negative"));
    }
    if d.scale() > 2 && d.normalize().scale() > 2 {
        return Err(format!("{input:?} has more than two decimal places"));
    }
    Ok(d.normalize())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rounds_half_away_from_zero() {
        assert_eq!(Money::round(Decimal::new(1005, 3)), Ok(Money(101))); // 1.005
        assert_eq!(Money::round(Decimal::new(-1005, 3)), Ok(Money(-101)));
        assert_eq!(Money::round(Decimal::new(1004, 3)), Ok(Money(100)));
        assert_eq!(Money::round(Decimal::new(25, 3)), Ok(Money(3))); // 0.025
        // beyond i64 cents: an error, never a wrapped number
        assert!(Money::round(Decimal::from(i64::MAX)).is_err());
        assert!(Money::round(Decimal::MAX).is_err());
        assert_eq!(Money(i64::MAX).checked_add(Money(1)), None);
    }

    #[test]
    fn parses_what_staff_type() {
        assert_eq!(Money::parse("85").unwrap(), Money(8500));
        assert_eq!(Money::parse("85.5").unwrap(), Money(8550));
        assert_eq!(Money::parse("$1,250.05").unwrap(), Money(125005));
        assert_eq!(Money::parse(" 0.99 ").unwrap(), Money(99));
        for bad in ["", "-5", "1.234", "abc", "1,23.00", "1.", ".5x", "12,34", "1e3"] {
            assert!(Money::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn formats() {
        assert_eq!(Money(199875).to_string(), "1998.75");
        assert_eq!(Money(-1230).to_string(), "-12.30");
        assert_eq!(Money(123456789).grouped(), "1,234,567.89");
        assert_eq!(Money(5).display_in("USD"), "$0.05");
        assert_eq!(Money(-5000).display_in("USD"), "-$50.00");
        assert_eq!(Money(100000).display_in("CAD"), "1,000.00 CAD");
    }

    proptest! {
        #[test]
        fn display_parse_round_trip(cents in 0i64..10_000_000_000) {
            let m = Money(cents);
            prop_assert_eq!(Money::parse(&m.to_string()).unwrap(), m);
            prop_assert_eq!(Money::parse(&m.grouped()).unwrap(), m);
        }

        #[test]
        fn rounding_is_within_half_a_cent_and_symmetric(mills in -10_000_000i64..10_000_000) {
            let d = Decimal::new(mills, 3);
            let r = Money::round(d).unwrap();
            let diff = (r.to_decimal() - d).abs();
            prop_assert!(diff <= Decimal::new(5, 3));
            prop_assert_eq!(Money::round(-d).unwrap(), -r);
        }

        #[test]
        fn decimal_round_trip(cents in -10_000_000_000i64..10_000_000_000) {
            prop_assert_eq!(Money::round(Money(cents).to_decimal()), Ok(Money(cents)));
        }
    }
}
