//! Small validated types: once you hold one, it is valid.

use std::fmt;

use chrono::{Datelike, NaiveDate};

/// An account's short code (`ACME`): letters, digits, `-` and `_`, 1-32 long.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct AccountId(String);

impl AccountId {
    pub fn parse(s: &str) -> Result<AccountId, String> {
        let s = s.trim();
        if s.is_empty() {
            return Err("account id is empty".into());
        }
        if s.len() > 32 {
            return Err(format!("account id {s:?} is longer than 32 characters"));
        }
        if !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(format!("account id {s:?} may hold only letters, digits, '-' and '_'"));
        }
        Ok(AccountId(s.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `"ACME".into()` in unit tests, where the id is known to be valid.
#[cfg(test)]
impl From<&str> for AccountId {
    fn from(s: &str) -> AccountId {
        AccountId::parse(s).expect("a valid account id in a test")
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

/// A lower-cased mail address with a local part and a dotted domain.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(s: &str) -> Result<EmailAddress, String> {
        let s = s.trim();
        let bad = || format!("{s:?} is not an email address");
        let (local, domain) = s.split_once('@').ok_or_else(bad)?;
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && local.chars().all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c))
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..");
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && domain.len() <= 253
            && labels.iter().all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    && !l.starts_with('-')
                    && !l.ends_with('-')
            });
        if !local_ok || !domain_ok {
            return Err(bad());
        }
        Ok(EmailAddress(s.to_ascii_lowercase()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn domain(&self) -> &str {
        self.0.split_once('@').map(|(_, d)| d).unwrap_or("")
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

/// A calendar month: the billing period of agreement and recurring invoices.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    year: i32,
    month: u32,
}

impl Month {
    pub fn new(year: i32, month: u32) -> Option<Month> {
        ((1..=12).contains(&month) && (1..=9999).contains(&year)).then_some(Month { year, month })
    }
    pub fn of(date: NaiveDate) -> Month {
        Month { year: date.year(), month: date.month() }
    }
    pub fn year(self) -> i32 {
        self.year
    }
    pub fn month(self) -> u32 {
        self.month
    }
    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1).expect("valid month")
    }
    pub fn last_day(self) -> NaiveDate {
        self.next().first_day().pred_opt().expect("valid date")
    }
    pub fn days(self) -> u32 {
        self.last_day().day()
    }
    pub fn next(self) -> Month {
        if self.month == 12 {
            Month { year: self.year + 1, month: 1 }
        } else {
            Month { year: self.year, month: self.month + 1 }
        }
    }
    pub fn prev(self) -> Month {
        if self.month == 1 {
            Month { year: self.year - 1, month: 12 }
        } else {
            Month { year: self.year, month: self.month - 1 }
        }
    }
    /// The date with this day of the month, clamped to the month's last day
    /// (day 30 in February is the 28th or 29th).
    pub fn clamped_day(self, day: u32) -> NaiveDate {
        let day = day.clamp(1, self.days());
        NaiveDate::from_ymd_opt(self.year, self.month, day).expect("clamped day is valid")
    }
    pub fn contains(self, date: NaiveDate) -> bool {
        Month::of(date) == self
    }
    /// `December 2026`.
    pub fn label(self) -> String {
        self.first_day().format("%B %Y").to_string()
    }
    pub fn parse(s: &str) -> Option<Month> {
        let (y, m) = s.split_once('-')?;
        if y.len() != 4 || m.len() != 2 {
            return None;
        }
        Month::new(y.parse().ok()?, m.parse().ok()?)
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// An invoice number as billmail matches it: trimmed and in capitals
/// (customers and banks write them in any case; numbers are issued in
/// capitals, see `invoice_number_format`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct InvoiceNumber(String);

impl InvoiceNumber {
    pub fn new(written: &str) -> InvoiceNumber {
        InvoiceNumber(written.trim().to_ascii_uppercase())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for InvoiceNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

/// The three kinds of invoice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum InvoiceKind {
    Agreement,
    Recurring,
    Service,
}

impl InvoiceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            InvoiceKind::Agreement => "agreement",
            InvoiceKind::Recurring => "recurring",
            InvoiceKind::Service => "service",
        }
    }
    pub fn parse(s: &str) -> Option<InvoiceKind> {
        match s {
            "agreement" => Some(InvoiceKind::Agreement),
            "recurring" => Some(InvoiceKind::Recurring),
            "service" => Some(InvoiceKind::Service),
            _ => None,
        }
    }
}

/// The kinds of message billmail sends: each has its templates
/// (`KIND.txt.j2`, `KIND.html.j2`) and is its `X-Billmail-Kind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NoticeKind {
    Invoice,
    Reminder,
    CreditHold,
    ServiceHold,
    HoldReleased,
    /// The services team's copy of a hold or release.
    TeamNotice,
    ChangeConfirmation,
    PaymentReceipt,
    ReviewAcknowledgement,
    /// To accounting: a customer's billing address bounced.
    BounceNotice,
    /// A monthly statement of account.
    Statement,
}

impl NoticeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Invoice => "invoice",
            NoticeKind::Reminder => "reminder",
            NoticeKind::CreditHold => "credit_hold",
            NoticeKind::ServiceHold => "service_hold",
            NoticeKind::HoldReleased => "hold_released",
            NoticeKind::TeamNotice => "team_notice",
            NoticeKind::ChangeConfirmation => "change_confirmation",
            NoticeKind::PaymentReceipt => "payment_receipt",
            NoticeKind::ReviewAcknowledgement => "review_acknowledgement",
            NoticeKind::BounceNotice => "bounce_notice",
            NoticeKind::Statement => "statement",
        }
    }
}

impl fmt::Display for NoticeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// What an invoice covers: a month (agreement and recurring invoices) or
/// the day its work was invoiced (service invoices). Written `YYYY-MM` and
/// `YYYY-MM-DD`, as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Period {
    Month(Month),
    Day(NaiveDate),
}

impl Period {
    /// The period as written for an invoice of `kind`.
    pub fn parse(kind: InvoiceKind, s: &str) -> Option<Period> {
        match kind {
            InvoiceKind::Agreement | InvoiceKind::Recurring => Month::parse(s).map(Period::Month),
            InvoiceKind::Service => NaiveDate::parse_from_str(s, "%Y-%m-%d").ok().map(Period::Day),
        }
    }
}

impl fmt::Display for Period {
    /// (Padded as asked: `{:<10}` lines up a listing.)
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Period::Month(m) => m.to_string(),
            Period::Day(d) => d.format("%Y-%m-%d").to_string(),
        };
        f.pad(&text)
    }
}

/// Full-time or part-time: the two kinds of user an agreement bills.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UserType {
    FullTime,
    PartTime,
}

impl UserType {
    pub fn as_str(self) -> &'static str {
        match self {
            UserType::FullTime => "full_time",
            UserType::PartTime => "part_time",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            UserType::FullTime => "full-time",
            UserType::PartTime => "part-time",
        }
    }
    pub fn parse(s: &str) -> Option<UserType> {
        match s {
            "full_time" => Some(UserType::FullTime),
            "part_time" => Some(UserType::PartTime),
            _ => None,
        }
    }
}

/// How many users of each type an account has.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct UserCounts {
    pub full_time: i64,
    pub part_time: i64,
}

impl UserCounts {
    pub fn get(self, t: UserType) -> i64 {
        match t {
            UserType::FullTime => self.full_time,
            UserType::PartTime => self.part_time,
        }
    }
    pub fn plus(self, d: CountDelta) -> UserCounts {
        UserCounts { full_time: self.full_time + d.full_time, part_time: self.part_time + d.part_time }
    }
    pub fn minus(self, other: UserCounts) -> CountDelta {
        CountDelta { full_time: self.full_time - other.full_time, part_time: self.part_time - other.part_time }
    }
}

/// A change of counts; either side may be negative.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CountDelta {
    pub full_time: i64,
    pub part_time: i64,
}

impl CountDelta {
    pub fn get(self, t: UserType) -> i64 {
        match t {
            UserType::FullTime => self.full_time,
            UserType::PartTime => self.part_time,
        }
    }
    pub fn is_zero(self) -> bool {
        self.full_time == 0 && self.part_time == 0
    }
    /// Adds `n` users of type `t` (`n` may be negative).
    pub fn add(&mut self, t: UserType, n: i64) {
        match t {
            UserType::FullTime => self.full_time += n,
            UserType::PartTime => self.part_time += n,
        }
    }
    /// `+2 full-time, -1 part-time`.
    pub fn describe(self) -> String {
        let mut parts = Vec::new();
        for t in [UserType::FullTime, UserType::PartTime] {
            let d = self.get(t);
            if d != 0 {
                parts.push(format!("{d:+} {}", t.label()));
            }
        }
        if parts.is_empty() { "no change".into() } else { parts.join(", ") }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_line_up_in_a_table() {
        // `accounts list` and `invoices list` pad ids to columns
        let id = AccountId::parse("ACME").unwrap();
        assert_eq!(format!("[{id:<6}]"), "[ACME  ]");
        assert_eq!(format!("[{:>15}]", InvoiceNumber::new("INV-2026-0001")), "[  INV-2026-0001]");
    }

    #[test]
    fn emails() {
        assert_eq!(
            EmailAddress::parse(" Jane.Doe@Acme-Dental.example ").unwrap().as_str(),
            "jane.doe@acme-dental.example"
        );
        for bad in
            ["", "jane", "jane@", "@x.example", "jane@localhost", "ja ne@x.example", "jane@x..example", "a@-x.example"]
        {
            assert!(EmailAddress::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn months() {
        let feb = Month::new(2028, 2).unwrap();
        assert_eq!(feb.days(), 29);
        assert_eq!(feb.clamped_day(30), NaiveDate::from_ymd_opt(2028, 2, 29).unwrap());
        assert_eq!(Month::new(2026, 12).unwrap().next().to_string(), "2027-01");
        assert_eq!(Month::new(2027, 1).unwrap().prev().to_string(), "2026-12");
        assert_eq!(Month::parse("2026-02"), Month::new(2026, 2));
        assert_eq!(Month::parse("2026-13"), None);
        assert_eq!(Month::new(2026, 12).unwrap().label(), "December 2026");
    }

    #[test]
    fn account_ids() {
        assert!(AccountId::parse("ACME").is_ok());
        assert!(AccountId::parse("acme dental").is_err());
        assert!(AccountId::parse("").is_err());
    }
}
