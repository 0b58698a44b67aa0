//! What a person may do by hand, decided before anything is written: queue
//! a failed message again (`outbox retry`), decide a review item (`review
//! approve`, `review reject`). A refusal says what the thing's state is, so
//! the clerk knows what happened instead of only that nothing did.

/// An outgoing message as the outbox holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outgoing {
    pub state: String,
    pub attempts: i64,
    pub sent_at: Option<String>,
    pub last_error: Option<String>,
}

/// Why a message is not queued again.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RetryRefusal {
    #[error("no outgoing message #{id}")]
    NoSuchMessage { id: i64 },
    #[error("message #{id} was sent at {at}; it is not sent twice")]
    Sent { id: i64, at: String },
    #[error("message #{id} is already queued (attempts so far: {attempts}); nothing to retry")]
    Queued { id: i64, attempts: i64 },
}

/// Only a failed message is queued again: a queued one is already on its
/// way, and a sent one must never go twice. Gives the message back when it
/// may be.
pub fn retry(id: i64, found: Option<Outgoing>) -> Result<Outgoing, RetryRefusal> {
    let Some(m) = found else { return Err(RetryRefusal::NoSuchMessage { id }) };
    match m.state.as_str() {
        "failed" => Ok(m),
        "sent" => Err(RetryRefusal::Sent { id, at: m.sent_at.clone().unwrap_or_else(|| "an unknown time".into()) }),
        _ => Err(RetryRefusal::Queued { id, attempts: m.attempts }),
    }
}

/// A review item as the books hold it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReviewState {
    /// `open`, `approved` or `rejected`.
    pub state: String,
    pub decided_at: Option<String>,
    pub decision: Option<String>,
}

/// Why a review item is not decided now.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReviewRefusal {
    #[error("no review item #{id}")]
    NoSuchItem { id: i64 },
    #[error("review item #{id} was already {state} at {at}{why}; it is decided once")]
    Decided { id: i64, state: String, at: String, why: String },
}

/// Only an open item is decided: approving one twice would apply its
/// change twice.
pub fn decide(id: i64, found: Option<&ReviewState>) -> Result<(), ReviewRefusal> {
    let Some(item) = found else { return Err(ReviewRefusal::NoSuchItem { id }) };
    if item.state == "open" {
        return Ok(());
    }
    Err(ReviewRefusal::Decided {
        id,
        state: item.state.clone(),
        at: item.decided_at.clone().unwrap_or_else(|| "an unknown time".into()),
        why: match item.decision.as_deref() {
            Some(d) if item.state == "rejected" && !d.is_empty() => format!(" ({d})"),
            _ => String::new(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_failed_message_is_queued_again() {
        let m = |state: &str, sent: Option<&str>| Outgoing {
            state: state.into(),
            attempts: 5,
            sent_at: sent.map(String::from),
            last_error: Some("550 no such user".into()),
        };
        assert_eq!(retry(3, Some(m("failed", None))), Ok(m("failed", None)));
        assert_eq!(
            retry(3, Some(m("sent", Some("2026-12-01T09:00:00Z")))).unwrap_err().to_string(),
            "message #3 was sent at 2026-12-01T09:00:00Z; it is not sent twice"
        );
        assert_eq!(
            retry(3, Some(m("queued", None))).unwrap_err().to_string(),
            "message #3 is already queued (attempts so far: 5); nothing to retry"
        );
        assert_eq!(retry(3, None).unwrap_err().to_string(), "no outgoing message #3");
    }

    #[test]
    fn a_review_item_is_decided_once_and_a_second_decision_says_the_first() {
        let open = ReviewState { state: "open".into(), decided_at: None, decision: None };
        assert_eq!(decide(7, Some(&open)), Ok(()));
        assert_eq!(decide(7, None).unwrap_err().to_string(), "no review item #7");
        let rejected = ReviewState {
            state: "rejected".into(),
            decided_at: Some("2026-12-02T10:00:00Z".into()),
            decision: Some("not our customer".into()),
        };
        assert_eq!(
            decide(7, Some(&rejected)).unwrap_err().to_string(),
            "review item #7 was already rejected at 2026-12-02T10:00:00Z (not our customer); it is decided once"
        );
        let approved = ReviewState {
            state: "approved".into(),
            decided_at: Some("2026-12-02T10:00:00Z".into()),
            decision: Some("approved".into()),
        };
        assert_eq!(
            decide(7, Some(&approved)).unwrap_err().to_string(),
            "review item #7 was already approved at 2026-12-02T10:00:00Z; it is decided once"
        );
    }
}
