//! The calendar: what is due at a company-local moment, given what was
//! already done. Pure: `now` is passed in, in the company's local time, so
//! daylight-saving changes never move a schedule.

use chrono::{Datelike, Days, NaiveDate, NaiveDateTime, NaiveTime};

use super::book::Book;
use super::ids::Month;

/// When invoices go out and fall due (the `[schedule]` section).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    pub agreement_invoice_day: u32,
    pub agreement_due_day: u32,
    pub recurring_invoice_day: u32,
    pub service_due_days: u32,
    pub send_time: NaiveTime,
    pub prorate: bool,
    /// The day of the month statements of account go out (for the month before).
    pub statement_day: u32,
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule {
            agreement_invoice_day: 15,
            agreement_due_day: 30,
            recurring_invoice_day: 5,
            service_due_days: 30,
            send_time: NaiveTime::from_hms_opt(8, 0, 0).expect("valid time"),
            prorate: true,
            statement_day: 1,
        }
    }
}

/// A piece of scheduled work for one account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Job {
    /// The agreement invoice for this month (issued the month before).
    Agreement(Month),
    /// The recurring-charges invoice for this month.
    Recurring(Month),
    /// The service invoice of this day, for work recorded before its send time.
    Service(NaiveDate),
}

impl Schedule {
    /// The day the agreement invoice for `period` is scheduled: the
    /// invoice day of the month before, clamped to that month.
    pub fn agreement_issue_date(&self, period: Month) -> NaiveDate {
        period.prev().clamped_day(self.agreement_invoice_day)
    }

    pub fn recurring_issue_date(&self, period: Month) -> NaiveDate {
        period.clamped_day(self.recurring_invoice_day)
    }

    /// The local moment work scheduled on `date` is done.
    pub fn moment(&self, date: NaiveDate) -> NaiveDateTime {
        date.and_time(self.send_time)
    }

    /// The first due day (clamped to its month) on or after `date`.
    pub fn due_on_or_after(&self, date: NaiveDate) -> NaiveDate {
        let this = Month::of(date).clamped_day(self.agreement_due_day);
        if this >= date { this } else { Month::of(date).next().clamped_day(self.agreement_due_day) }
    }

    /// The latest day whose send moment is at or before `now`.
    pub fn last_send_day(&self, now: NaiveDateTime) -> NaiveDate {
        if now.time() >= self.send_time { now.date() } else { now.date().pred_opt().expect("date in range") }
    }

    /// The month whose statements are due at `now`: the month before the
    /// latest statement day whose send time has passed.
    pub fn statement_month(&self, now: NaiveDateTime) -> Month {
        let this = Month::of(now.date());
        if self.moment(this.clamped_day(self.statement_day)) <= now { this.prev() } else { this.prev().prev() }
    }

    /// The day the statement of `month` is dated and sent.
    pub fn statement_date(&self, month: Month) -> NaiveDate {
        month.next().clamped_day(self.statement_day)
    }

    /// The date an invoice for `job` is scheduled on.
    pub fn scheduled_date(&self, job: Job) -> NaiveDate {
        match job {
            Job::Agreement(p) => self.agreement_issue_date(p),
            Job::Recurring(p) => self.recurring_issue_date(p),
            Job::Service(d) => d,
        }
    }

    /// Due date of an invoice for `job` actually issued on `issued`. Agreement
    /// and recurring invoices fall due on the due day of their scheduled
    /// month; one issued late (after downtime) falls due on the next due day
    /// after it was issued, never before it. Service invoices are due
    /// `service_due_days` after issue.
    pub fn due_date(&self, job: Job, issued: NaiveDate) -> NaiveDate {
        match job {
            Job::Agreement(_) | Job::Recurring(_) => {
                let scheduled = self.due_on_or_after(self.scheduled_date(job));
                if scheduled >= issued { scheduled } else { self.due_on_or_after(issued) }
            }
            Job::Service(_) => {
                issued.checked_add_days(Days::new(u64::from(self.service_due_days))).expect("date in range")
            }
        }
    }
}

/// Every job due for `book` at `now` (company-local) that was not done yet,
/// in the order they were scheduled.
pub fn due_jobs(now: NaiveDateTime, schedule: &Schedule, book: &Book) -> Vec<Job> {
    let mut jobs = Vec::new();
    let first = book.account.first_period;

    let mut p = first;
    while schedule.moment(schedule.agreement_issue_date(p)) <= now {
        if !book.issued.agreement.contains(&p) {
            jobs.push(Job::Agreement(p));
        }
        p = p.next();
    }

    let earliest_sub =
        book.subscriptions.iter().filter_map(|s| s.versions.first()).map(|v| Month::of(v.effective_at.date())).min();
    if let Some(start) = earliest_sub {
        let mut p = start.max(first);
        loop {
            let moment = schedule.moment(schedule.recurring_issue_date(p));
            if moment > now {
                break;
            }
            let running = book.subscriptions.iter().any(|s| s.at(moment).is_some());
            if running && !book.issued.recurring.contains(&p) {
                jobs.push(Job::Recurring(p));
            }
            p = p.next();
        }
    }

    if now.date().year() > 1 {
        let day = schedule.last_send_day(now);
        let cutoff = schedule.moment(day);
        let pending = book.services.iter().any(|s| !s.invoiced && s.recorded_at <= cutoff);
        if pending && !book.issued.service.contains(&day) {
            jobs.push(Job::Service(day));
        }
    }

    jobs.sort_by_key(|j| (schedule.scheduled_date(*j), *j));
    jobs
}

/// A date as invoices and notices write it: "December 1, 2026".
pub fn long_date(d: NaiveDate) -> String {
    d.format("%B %-d, %Y").to_string()
}

/// The company-local wall-clock time of an instant.
pub fn local_time<Tz2: chrono::TimeZone>(now: &chrono::DateTime<Tz2>, tz: chrono_tz::Tz) -> NaiveDateTime {
    now.with_timezone(&tz).naive_local()
}

/// The local date of an instant in the company's timezone.
pub fn local_date<Tz2: chrono::TimeZone>(now: &chrono::DateTime<Tz2>, tz: chrono_tz::Tz) -> NaiveDate {
    local_time(now, tz).date()
}
