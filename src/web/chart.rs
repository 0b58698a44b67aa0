//! Charts as inline SVG, drawn on the server from the figures (no script,
//! no library to fetch): the aging report stacked by account within each
//! bucket, and cash received per week. Pure: figures in, markup out.

use std::fmt::Write;

use chrono::{Datelike, Duration, NaiveDate};

use crate::domain::Money;

/// Colours a person tells apart, in order; the last is "all others".
const COLOURS: [&str; 7] = ["#2f6fad", "#e08a2c", "#3f9b5a", "#b9473f", "#7d5ba6", "#8c6d4f", "#9aa3ad"];

const W: f64 = 720.0;
const H: f64 = 300.0;
const LEFT: f64 = 90.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 40.0;

fn esc(s: &str) -> String {
    html_escape::encode_text(s).to_string()
}

/// A round scale top at or above `max` (1, 2 or 5 times a power of ten).
fn scale_top(max: i64) -> i64 {
    if max <= 0 {
        return 100;
    }
    let mut step = 1i64;
    loop {
        for m in [1, 2, 5] {
            if step.saturating_mul(m) >= max {
                return step * m;
            }
        }
        step = step.saturating_mul(10);
    }
}

fn axis(out: &mut String, top: i64, currency: &str) {
    let plot_h = H - TOP - BOTTOM;
    for i in 0..=4 {
        let v = top / 4 * i;
        let y = TOP + plot_h - plot_h * (i as f64 / 4.0);
        let _ = write!(
            out,
            r##"<line x1="{LEFT}" x2="{W}" y1="{y:.1}" y2="{y:.1}" stroke="#dde2e7"/><text x="{:.1}" y="{:.1}" text-anchor="end" font-size="11" fill="#555">{}</text>"##,
            LEFT - 6.0,
            y + 4.0,
            esc(&Money::from_cents(v).display_in(currency))
        );
    }
}

/// One column per bucket, each stacked by series (an account, or "all
/// others"), with a legend; `title` is the chart's accessible name.
pub fn stacked(title: &str, buckets: &[&str], series: &[(String, Vec<Money>)], currency: &str) -> String {
    let totals: Vec<i64> = (0..buckets.len())
        .map(|b| series.iter().map(|(_, v)| v.get(b).map_or(0, |m| m.cents().max(0))).sum())
        .collect();
    let top = scale_top(totals.iter().copied().max().unwrap_or(0));
    let plot_h = H - TOP - BOTTOM;
    let slot = (W - LEFT) / buckets.len().max(1) as f64;
    let bar = slot * 0.6;
    let legend_h = 18.0 * series.len() as f64;
    let mut out = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{}" viewBox="0 0 {W} {}" width="100%" font-family="sans-serif">"#,
        esc(title),
        H + legend_h + 8.0
    );
    axis(&mut out, top, currency);
    for (b, name) in buckets.iter().enumerate() {
        let x = LEFT + slot * b as f64 + (slot - bar) / 2.0;
        let mut y = TOP + plot_h;
        for (s, (label, values)) in series.iter().enumerate() {
            let v = values.get(b).map_or(0, |m| m.cents().max(0));
            if v == 0 {
                continue;
            }
            let h = plot_h * v as f64 / top as f64;
            y -= h;
            let _ = write!(
                out,
                r#"<rect x="{x:.1}" y="{y:.1}" width="{bar:.1}" height="{h:.1}" fill="{}"><title>{}: {} {}</title></rect>"#,
                COLOURS[s.min(COLOURS.len() - 1)],
                esc(label),
                esc(name),
                esc(&Money::from_cents(v).display_in(currency))
            );
        }
        let _ = write!(
            out,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="12" fill="#222">{}</text><text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="11" fill="#555">{}</text>"##,
            x + bar / 2.0,
            H - BOTTOM + 16.0,
            esc(name),
            x + bar / 2.0,
            H - BOTTOM + 31.0,
            esc(&Money::from_cents(totals[b]).display_in(currency))
        );
    }
    for (s, (label, _)) in series.iter().enumerate() {
        let y = H + 18.0 * s as f64;
        let _ = write!(
            out,
            r##"<rect x="{LEFT}" y="{y:.1}" width="12" height="12" fill="{}"/><text x="{:.1}" y="{:.1}" font-size="12" fill="#222">{}</text>"##,
            COLOURS[s.min(COLOURS.len() - 1)],
            LEFT + 18.0,
            y + 10.5,
            esc(label)
        );
    }
    out.push_str("</svg>");
    out
}

/// The Monday of `d`'s week.
pub fn week_of(d: NaiveDate) -> NaiveDate {
    d - Duration::days(d.weekday().num_days_from_monday() as i64)
}

/// Money received per week, for the `weeks` weeks that end with `today`'s:
/// (Monday, total), oldest first, weeks with nothing included.
pub fn per_week(payments: &[(NaiveDate, Money)], today: NaiveDate, weeks: usize) -> Vec<(NaiveDate, Money)> {
    let last = week_of(today);
    let mut out: Vec<(NaiveDate, Money)> =
        (0..weeks).rev().map(|i| (last - Duration::weeks(i as i64), Money::ZERO)).collect();
    for (d, m) in payments {
        let w = week_of(*d);
        if let Some(slot) = out.iter_mut().find(|(monday, _)| *monday == w) {
            slot.1 = Money::from_cents(slot.1.cents() + m.cents());
        }
    }
    out
}

/// Cash received per week as columns.
pub fn weekly(title: &str, weeks: &[(NaiveDate, Money)], currency: &str) -> String {
    let labels: Vec<String> = weeks.iter().map(|(d, _)| d.format("%b %-d").to_string()).collect();
    let label_refs: Vec<&str> = labels.iter().map(String::as_str).collect();
    let series = vec![("received".to_string(), weeks.iter().map(|(_, m)| *m).collect())];
    stacked(title, &label_refs, &series, currency)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn scale_tops_are_round() {
        assert_eq!(scale_top(0), 100);
        assert_eq!(scale_top(1), 1);
        assert_eq!(scale_top(13000), 20000);
        assert_eq!(scale_top(499999), 500000);
        assert_eq!(scale_top(500001), 1000000);
    }

    #[test]
    fn bars_are_as_tall_as_their_share_and_names_are_escaped() {
        let series = vec![
            ("A&B <Co>".to_string(), vec![Money::from_cents(10000), Money::ZERO]),
            ("others".to_string(), vec![Money::from_cents(10000), Money::from_cents(5000)]),
        ];
        let svg = stacked("Aging", &["current", "1-30"], &series, "USD");
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("A&amp;B &lt;Co&gt;") && !svg.contains("<Co>"));
        // scale top 200.00 over a 244-pixel plot: 100.00 is 122 pixels, 50.00 is 61
        assert_eq!(svg.matches(r#"height="122.0""#).count(), 2);
        assert_eq!(svg.matches(r#"height="61.0""#).count(), 1);
        assert!(svg.contains("$200.00") && svg.contains("$50.00"));
    }

    #[test]
    fn weeks_start_on_monday_and_empty_weeks_count() {
        let pays = [(d("2026-12-01"), Money::from_cents(1000)), (d("2026-12-03"), Money::from_cents(500))];
        let weeks = per_week(&pays, d("2026-12-16"), 3);
        assert_eq!(
            weeks,
            vec![
                (d("2026-11-30"), Money::from_cents(1500)),
                (d("2026-12-07"), Money::ZERO),
                (d("2026-12-14"), Money::ZERO)
            ]
        );
    }
}
