//! Effective dates as people write them, resolved against the message's
//! Date: "December 1, 2026", "12/1", "2026-12-01", "the 1st of December",
//! "next Monday", "Monday, December 7", "tomorrow".

use std::sync::LazyLock;

use chrono::{Datelike, Days, NaiveDate, Weekday};
use regex::Regex;

const MONTHS: &[&str] = &["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];

fn month_of(word: &str) -> Option<u32> {
    let w = word.to_ascii_lowercase();
    let w = w.trim_end_matches('.');
    if w.len() < 3 {
        return None;
    }
    let full = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    MONTHS
        .iter()
        .position(|m| w.starts_with(m) && full.iter().any(|f| f.starts_with(w) || *f == w || w == "sept"))
        .map(|i| i as u32 + 1)
}

fn weekday_of(word: &str) -> Option<Weekday> {
    Some(match word.to_ascii_lowercase().as_str() {
        "monday" | "mon" => Weekday::Mon,
        "tuesday" | "tue" | "tues" => Weekday::Tue,
        "wednesday" | "wed" => Weekday::Wed,
        "thursday" | "thu" | "thurs" => Weekday::Thu,
        "friday" | "fri" => Weekday::Fri,
        "saturday" | "sat" => Weekday::Sat,
        "sunday" | "sun" => Weekday::Sun,
        _ => return None,
    })
}

static ISO: LazyLock<Regex> = LazyLock::new(|| super::keywords(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b"));
static NUMERIC: LazyLock<Regex> = LazyLock::new(|| super::keywords(r"\b(\d{1,2})/(\d{1,2})(?:/(\d{2}|\d{4}))?\b"));
static MONTH_DAY: LazyLock<Regex> = LazyLock::new(|| {
    super::keywords(
        r"(?i)\b(jan|feb|mar|apr|may|jun|jul|aug|sept?|oct|nov|dec)[a-z]*\.?\s+(\d{1,2})(?:st|nd|rd|th)?\b(?:,?\s+(\d{4}))?",
    )
});
static DAY_MONTH: LazyLock<Regex> = LazyLock::new(|| {
    super::keywords(
        r"(?i)\b(\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?(jan|feb|mar|apr|may|jun|jul|aug|sept?|oct|nov|dec)[a-z]*\.?(?:,?\s+(\d{4}))?",
    )
});
static WEEKDAY: LazyLock<Regex> = LazyLock::new(|| {
    super::keywords(
        r"(?i)\b(next|this|coming|this coming)?\s*(monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b",
    )
});
static RELATIVE: LazyLock<Regex> = LazyLock::new(|| {
    super::keywords(
        r"(?i)\b(today|tomorrow|next month|first of (?:the |next )?month|beginning of next month|end of (?:the |this )?month)\b",
    )
});

/// The six forms in one pass, so that only those present are searched for.
static FORMS: LazyLock<super::OnePass> =
    LazyLock::new(|| super::OnePass::new(vec![&ISO, &MONTH_DAY, &DAY_MONTH, &NUMERIC, &WEEKDAY, &RELATIVE]));

/// A date with no year: the one nearest the message date (within about
/// eight months back, otherwise the next year).
fn infer_year(month: u32, day: u32, sent: NaiveDate) -> Option<NaiveDate> {
    let this = NaiveDate::from_ymd_opt(sent.year(), month, day)?;
    if (sent - this).num_days() > 240 {
        NaiveDate::from_ymd_opt(sent.year() + 1, month, day)
    } else if (this - sent).num_days() > 240 {
        NaiveDate::from_ymd_opt(sent.year() - 1, month, day)
    } else {
        Some(this)
    }
}

fn next_weekday(after: NaiveDate, wd: Weekday) -> NaiveDate {
    let mut d = after.succ_opt().unwrap_or(after);
    while d.weekday() != wd {
        d = d.succ_opt().unwrap_or(d);
    }
    d
}

/// Every date written in `text`, in order of appearance.
pub fn dates_in(text: &str, sent: Option<NaiveDate>) -> Vec<(usize, NaiveDate)> {
    let mut found: Vec<(usize, NaiveDate)> = Vec::new();
    let forms = FORMS.over(text);
    if !forms.any() {
        return found;
    }
    // the matches of a form; none searched for where the set saw none
    let present = |re: &'static Regex| forms.has(re).then(|| re.captures_iter(text)).into_iter().flatten();
    let mut taken: Vec<(usize, usize)> = Vec::new();
    let mut push = |start: usize, end: usize, d: Option<NaiveDate>, taken: &mut Vec<(usize, usize)>| {
        if taken.iter().any(|(s, e)| start < *e && end > *s) {
            return;
        }
        if let Some(d) = d {
            found.push((start, d));
            taken.push((start, end));
        }
    };
    for c in present(&ISO) {
        let m = c.get(0).expect("match");
        let d =
            NaiveDate::from_ymd_opt(c[1].parse().unwrap_or(0), c[2].parse().unwrap_or(0), c[3].parse().unwrap_or(0));
        push(m.start(), m.end(), d, &mut taken);
    }
    for c in present(&MONTH_DAY) {
        let m = c.get(0).expect("match");
        let (Some(month), Ok(day)) = (month_of(&c[1]), c[2].parse::<u32>()) else { continue };
        let d = match c.get(3) {
            Some(y) => NaiveDate::from_ymd_opt(y.as_str().parse().unwrap_or(0), month, day),
            None => sent.and_then(|s| infer_year(month, day, s)),
        };
        push(m.start(), m.end(), d, &mut taken);
    }
    for c in present(&DAY_MONTH) {
        let m = c.get(0).expect("match");
        let (Some(month), Ok(day)) = (month_of(&c[2]), c[1].parse::<u32>()) else { continue };
        let d = match c.get(3) {
            Some(y) => NaiveDate::from_ymd_opt(y.as_str().parse().unwrap_or(0), month, day),
            None => sent.and_then(|s| infer_year(month, day, s)),
        };
        push(m.start(), m.end(), d, &mut taken);
    }
    for c in present(&NUMERIC) {
        let m = c.get(0).expect("match");
        let (Ok(month), Ok(day)) = (c[1].parse::<u32>(), c[2].parse::<u32>()) else { continue };
        let d = match c.get(3) {
            Some(y) => {
                let y: i32 = y.as_str().parse().unwrap_or(0);
                NaiveDate::from_ymd_opt(if y < 100 { 2000 + y } else { y }, month, day)
            }
            None => sent.and_then(|s| infer_year(month, day, s)),
        };
        push(m.start(), m.end(), d, &mut taken);
    }
    if let Some(sent) = sent {
        for c in present(&WEEKDAY) {
            let m = c.get(0).expect("match");
            // "Monday, December 7" is the explicit date already found
            if taken.iter().any(|(s, _)| *s > m.end() && *s <= m.end() + 3) {
                continue;
            }
            let Some(wd) = weekday_of(&c[2]) else { continue };
            push(m.start(), m.end(), Some(next_weekday(sent, wd)), &mut taken);
        }
        for c in present(&RELATIVE) {
            let m = c.get(0).expect("match");
            let w = c[1].to_ascii_lowercase();
            let first_next = NaiveDate::from_ymd_opt(
                if sent.month() == 12 { sent.year() + 1 } else { sent.year() },
                if sent.month() == 12 { 1 } else { sent.month() + 1 },
                1,
            );
            let d = match w.as_str() {
                "today" => Some(sent),
                "tomorrow" => sent.checked_add_days(Days::new(1)),
                w if w.starts_with("end of") => first_next.and_then(|d| d.pred_opt()),
                _ => first_next,
            };
            push(m.start(), m.end(), d, &mut taken);
        }
    }
    found.sort_by_key(|(pos, _)| *pos);
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn each_form_is_in_the_set() {
        for re in [&*ISO, &MONTH_DAY, &DAY_MONTH, &NUMERIC, &WEEKDAY, &RELATIVE] {
            assert!(FORMS.holds(re), "{}", re.as_str());
        }
    }

    #[test]
    fn common_forms() {
        let sent = d("2026-11-11"); // a Wednesday
        let first = |t: &str| dates_in(t, Some(sent)).first().map(|x| x.1);
        assert_eq!(first("starting December 1, 2026"), Some(d("2026-12-01")));
        assert_eq!(first("as of October 31"), Some(d("2026-10-31")));
        assert_eq!(first("effective 10/31/2026"), Some(d("2026-10-31")));
        assert_eq!(first("effective 11/16:"), Some(d("2026-11-16")));
        assert_eq!(first("starting next Monday"), Some(d("2026-11-16")));
        assert_eq!(first("starting Monday, December 7"), Some(d("2026-12-07")));
        assert_eq!(first("from January 1"), Some(d("2027-01-01")));
        assert_eq!(first("on the 3rd of February 2027"), Some(d("2027-02-03")));
        assert_eq!(first("from 2026-12-14"), Some(d("2026-12-14")));
        assert_eq!(first("from tomorrow"), Some(d("2026-11-12")));
        assert_eq!(first("starting next month"), Some(d("2026-12-01")));
        assert_eq!(first("may need more"), None);
    }
}
