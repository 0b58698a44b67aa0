//! The pure domain: money, ids, accounts, the calendar and invoice builders.
//! Nothing here knows of SQL, mail, files, tokio or the clock.

pub mod aging;
pub mod book;
pub mod calendar;
pub mod collections;
pub mod ids;
pub mod import;
pub mod invoice;
pub mod limits;
pub mod manual;
pub mod money;
pub mod payments;
pub mod statement;

#[cfg(test)]
mod tests;

pub use book::{Account, Book, CountChange, Issued, Rates, ServiceEntry, Subscription, SubscriptionVersion};
pub use calendar::{Job, Schedule, due_jobs};
pub use ids::{
    AccountId, CountDelta, EmailAddress, InvoiceKind, InvoiceNumber, Month, NoticeKind, Period, UserCounts, UserType,
};
pub use invoice::{Draft, Line, LineCategory, Proration, build};
pub use money::Money;
