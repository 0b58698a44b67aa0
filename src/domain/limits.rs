//! What billmail accepts at its edges (imports, commands, mail, config):
//! far above any real customer, and small enough that no invoice built from
//! them can overflow (100,000 users × $1,000,000 is 10^13 cents; i64 holds
//! 9.2 × 10^18). Pricing is checked as well (`Line::priced`), so a value
//! that got past these is an error for its account, never a wrong number.

use rust_decimal::Decimal;

use super::Money;

/// Users of one type on one account.
pub const MAX_USERS: i64 = 100_000;
/// A subscription's quantity.
pub const MAX_QUANTITY: i64 = 1_000_000;
/// A unit price, a tier rate, an hourly rate: $1,000,000.00.
pub const MAX_PRICE: Money = Money::from_cents(100_000_000);
/// Hours in one service entry.
pub const MAX_HOURS: i64 = 10_000;

/// `n` as a count of `what`, within `max`.
pub fn within(n: i64, max: i64, what: &str) -> Result<i64, String> {
    if (0..=max).contains(&n) { Ok(n) } else { Err(format!("{what} {n} is outside 0 to {max}")) }
}

/// A price within [`MAX_PRICE`].
pub fn price(m: Money, what: &str) -> Result<Money, String> {
    if m <= MAX_PRICE {
        Ok(m)
    } else {
        Err(format!("{what} {} is over the limit of {}", m.grouped(), MAX_PRICE.grouped()))
    }
}

/// Hours as a person types them (`2.5`, `0.25`): plain digits, at most two
/// decimals, more than 0 and at most [`MAX_HOURS`]; `1e3` is not hours.
pub fn hours(input: &str) -> Result<Decimal, String> {
    let s = input.trim();
    let plain = !s.is_empty() && s.chars().all(|c| c.is_ascii_digit() || c == '.') && s.matches('.').count() <= 1;
    if !plain {
        return Err(format!("{input:?} is not a number of hours like 2.5"));
    }
    let d = super::money::parse_quantity(s)?;
    if d.is_zero() {
        return Err("must be more than 0".into());
    }
    if d > Decimal::from(MAX_HOURS) {
        return Err(format!("{input} is over the limit of {MAX_HOURS} hours for one entry"));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edges() {
        assert_eq!(within(100_000, MAX_USERS, "full_time_users"), Ok(100_000));
        assert!(within(100_001, MAX_USERS, "full_time_users").unwrap_err().contains("outside 0 to 100000"));
        assert!(within(-1, MAX_USERS, "x").is_err());
        assert!(price(Money::from_cents(100_000_001), "unit_price").unwrap_err().contains("over the limit"));
        assert_eq!(hours("2.5"), Ok(Decimal::new(25, 1)));
        assert!(hours("1e3").is_err());
        assert!(hours("99999999999999999999").unwrap_err().contains("over the limit"));
        assert!(hours("0").is_err());
        assert!(hours("-2").is_err());
        assert!(hours("2.555").is_err());
    }
}
