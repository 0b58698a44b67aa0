//! The reader: raw message bytes in, a [`Reading`] out (see
//! `shared/spec/parse-output.md`). Pure: no clock, files or database; the
//! same code serves `billmail parse` and the daemon.
//!
//! The rule it follows: say `high` only when every field was read without
//! guessing. Anything vague, tentative, contradictory, missing, or asked
//! only in quoted text is `low` with the reasons, and goes to a person.

mod auto;
mod dates;
mod html;
mod mime;
mod payment;
mod text;
mod users;
mod words;

pub use payment::{Method as PaymentMethod, Source as PaymentSource};

use std::sync::LazyLock;

use chrono::NaiveDate;
use regex::Regex;
use rust_decimal::Decimal;
use serde::Serialize;

use crate::domain::{InvoiceNumber, UserType};
use crate::trust::Verdict;

/// Compiles a keyword pattern. Its `\b` are ASCII word boundaries, which
/// the fast DFA engine can run on any text (a Unicode `\b` forces the slow
/// engines whenever the text has a non-ASCII character).
pub(crate) fn keywords(pattern: &str) -> Regex {
    regex::RegexBuilder::new(&pattern.replace(r"\b", r"(?-u:\b)"))
        .dfa_size_limit(DFA_CACHE)
        .build()
        .expect("built-in pattern compiles")
}

/// The lazy DFA's cache per pattern. At the default (2 MiB) the large
/// keyword sets fill it and rebuild states over and over (`determinize`
/// showed in `perf` of `cargo bench --bench reader`); at 16 MiB the reader
/// went from about 13,700 to 15,500 messages/s on the public corpus.
const DFA_CACHE: usize = 16 << 20;

/// Several built-in patterns matched in one pass over a text: a
/// `RegexSet` says of each of them exactly what its own `is_match` would,
/// for about the cost of one search. Asked by the pattern itself, so no
/// index can point at the wrong one.
pub(crate) struct OnePass {
    patterns: Vec<&'static Regex>,
    set: regex::RegexSet,
}

impl OnePass {
    pub(crate) fn new(patterns: Vec<&'static Regex>) -> OnePass {
        let set = regex::RegexSetBuilder::new(patterns.iter().map(|p| p.as_str()))
            .dfa_size_limit(DFA_CACHE)
            .build()
            .expect("built-in patterns compile");
        OnePass { patterns, set }
    }

    pub(crate) fn over(&self, text: &str) -> Seen<'_> {
        Seen { of: self, matched: self.set.matches(text) }
    }

    /// Is `re` one of the set's patterns?
    #[cfg(test)]
    pub(crate) fn holds(&self, re: &Regex) -> bool {
        self.patterns.iter().any(|p| std::ptr::eq(*p, re))
    }
}

/// What one [`OnePass`] saw in a text.
pub(crate) struct Seen<'a> {
    of: &'a OnePass,
    matched: regex::SetMatches,
}

impl Seen<'_> {
    /// Does `re` (one of the set's patterns) match the text?
    pub(crate) fn has(&self, re: &Regex) -> bool {
        let at = self.of.patterns.iter().position(|p| std::ptr::eq(*p, re));
        debug_assert!(at.is_some(), "{} is not in the set", re.as_str());
        at.is_some_and(|i| self.matched.matched(i))
    }

    pub(crate) fn any(&self) -> bool {
        self.matched.matched_any()
    }
}

/// `BILLMAIL_DEBUG_READER` set: the reader prints what it read to standard
/// error (own words, quotes, groups), for working on its rules.
pub(crate) fn debugging() -> bool {
    static ON: LazyLock<bool> = LazyLock::new(|| std::env::var_os("BILLMAIL_DEBUG_READER").is_some());
    *ON
}

/// Messages larger than this are refused unread.
pub const MAX_MESSAGE_BYTES: usize = 25 * 1024 * 1024;
/// Only this much of a body is analysed; the rest of a huge body is not a request.
const MAX_ANALYSED_CHARS: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    UserChange,
    Payment,
    AutoReply,
    Bounce,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    High,
    Low,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Adjustment {
    pub user_type: UserType,
    pub delta: i64,
    /// Set when the changes of one message take effect on different dates:
    /// this one's date, `YYYY-MM-DD` (the reading's own is then `null`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effective_date: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub full_time: Option<i64>,
    pub part_time: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserChange {
    pub adjustments: Vec<Adjustment>,
    pub totals: Option<Totals>,
    pub names_added: Vec<String>,
    pub names_removed: Vec<String>,
    pub effective_date: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Payment {
    /// Written with two decimals (`"4250.00"`).
    #[serde(serialize_with = "two_decimals")]
    pub amount: Option<Decimal>,
    pub currency: Option<String>,
    pub method: payment::Method,
    pub reference: Option<String>,
    pub invoice_numbers: Vec<InvoiceNumber>,
    pub payer: Option<String>,
    pub source: payment::Source,
}

fn two_decimals<S: serde::Serializer>(amount: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
    match amount {
        Some(a) => s.serialize_str(&format!("{a:.2}")),
        None => s.serialize_none(),
    }
}

impl Payment {
    /// The amount as money: none when it is negative or larger than an
    /// amount of money may be written (13 digits before the point).
    pub fn money(&self) -> Option<crate::domain::Money> {
        let a = self.amount?;
        if a.is_sign_negative() || a >= Decimal::from(10_000_000_000_000i64) {
            return None;
        }
        crate::domain::Money::round(a).ok()
    }
}

/// Where one figure of a reading was read: the sentence or row as it
/// stands (whitespace collapsed, at most 300 characters) and the part that
/// held it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evidence {
    /// What it backs: `adjustments[0]`, `totals.full_time`, `amount`,
    /// `invoice_numbers[1]`, `effective_date`.
    pub field: String,
    pub text: String,
    pub part: Part,
}

/// Which part of a message held a sentence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum Part {
    #[default]
    #[serde(rename = "text/plain")]
    TextPlain,
    #[serde(rename = "text/html")]
    TextHtml,
    #[serde(rename = "attachment")]
    Attachment,
    #[serde(rename = "subject")]
    Subject,
}

/// At most this many characters of a sentence are kept as evidence.
const EVIDENCE_CHARS: usize = 300;

/// `s` with each run of white space made one space, and none at either end
/// (as `split_whitespace` joined by spaces). ASCII text, nearly all of it,
/// is copied a run at a time: the char-wise split of every evidence line
/// and the attachment was about 3% of the reader's instructions.
fn collapse(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    if s.is_ascii() {
        // char::is_whitespace on ASCII: space, \t, \n, \x0b, \x0c, \r
        let space = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r');
        for w in s.as_bytes().split(space).filter(|w| !w.is_empty()) {
            if !out.is_empty() {
                out.push(' ');
            }
            // (ASCII: a run between ASCII bytes is whole characters)
            out.push_str(std::str::from_utf8(w).expect("ASCII"));
        }
        return out;
    }
    for w in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    out
}

impl Evidence {
    /// `text` already collapsed.
    fn new(field: String, text: String, part: Part) -> Evidence {
        let text = match text.char_indices().nth(EVIDENCE_CHARS) {
            Some((i, _)) => text[..i].to_string(),
            None => text,
        };
        Evidence { field, text, part }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BounceInfo {
    pub failed_recipients: Vec<String>,
    pub original_message_id: Option<String>,
    pub status: Option<String>,
}

/// How billmail understands one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reading {
    pub kind: Kind,
    pub from: String,
    pub on_behalf_of: Option<String>,
    pub subject: String,
    pub confidence: Confidence,
    pub user_change: Option<UserChange>,
    pub payment: Option<Payment>,
    pub reasons: Vec<String>,
    /// Where each figure was read (parse-output.md): every figure of a
    /// `high` reading has at least one entry.
    pub evidence: Vec<Evidence>,
    /// Set for `bounce`: who could not be reached, and which message failed.
    pub bounce: Option<BounceInfo>,
    pub message_id: Option<String>,
    pub in_reply_to: Option<String>,
    /// The sender's date, `YYYY-MM-DD`.
    pub date: Option<NaiveDate>,
    /// Whether the message is proven to come from its From domain: `pass`,
    /// `fail` or `none`. Reading alone proves nothing (`none`); intake sets
    /// it from `[trust]` (see `crate::trust`).
    pub authentication: Verdict,
    /// How that was decided, for the review queue.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub authentication_detail: String,
    /// Sent by a machine or to a list (Auto-Submitted, Precedence, List-*):
    /// never answered automatically.
    pub automated: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    #[error("the message is empty")]
    Empty,
    #[error("the message is {0} bytes, over the {MAX_MESSAGE_BYTES}-byte limit")]
    TooLarge(usize),
    #[error("not an email message (no From, Date, Subject or Message-ID header)")]
    NotAMessage,
}

static FORWARD_SUBJECT: LazyLock<Regex> = LazyLock::new(|| keywords(r"(?i)^\s*(fw|fwd|tr|wg|rv|doorst|vs|i)\s*:"));
static REPLY_SUBJECT: LazyLock<Regex> = LazyLock::new(|| keywords(r"(?i)^\s*(re|aw|sv|antw|rif|r)\s*:"));
static PREFIXES: LazyLock<Regex> = LazyLock::new(|| keywords(r"(?i)^\s*((re|aw|sv|antw|rif|fw|fwd|tr|wg|rv)\s*:\s*)+"));
static CORRECTION: LazyLock<Regex> = LazyLock::new(|| {
    keywords(
        r"(?i)\b(correction|actually|instead|should\s+be|not\s+\w+\s+but|rather\s+than|one\s+more|also\s+add|also\s+remove|plus|in\s+addition|typo|mistake|wrong)\b",
    )
});
/// A reply's words that point at the message quoted below them.
static REFERS_BACK: LazyLock<Regex> = LazyLock::new(|| {
    keywords(r"(?i)\b(below|my\s+(?:last|previous|earlier)\s+(?:e-?mail|message|note)|as\s+well|too)\b")
});
static AFFIRMATIVE: LazyLock<Regex> = LazyLock::new(|| {
    keywords(
        r"(?i)^\s*(yes|yep|yeah|correct|confirmed|approved|that's right|that is right|sounds good|please do|go ahead|ok|okay|agreed|right)\b",
    )
});

fn truncate(s: &str) -> &str {
    if s.len() <= MAX_ANALYSED_CHARS {
        return s;
    }
    let mut end = MAX_ANALYSED_CHARS;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The sender's own words of a body: reply quotes and signature removed.
fn own_text(body: &str, forward: bool, signer: &[String]) -> (text::Split, String, String) {
    let split = text::split(body, forward);
    let (own, quoted_gt) = text::own_words(&split.own, signer);
    let quoted = format!("{}\n{}", split.quoted, quoted_gt);
    (split, own, quoted)
}

/// "Jane Doe" signs as "Jane" or "Jane Doe".
fn signer_names(display: Option<&str>) -> Vec<String> {
    let Some(d) = display else { return vec![] };
    let d = d.trim_matches(['"', '\'', ' ']);
    let mut out = vec![d.to_string()];
    if let Some(first) = d.split_whitespace().next() {
        out.push(first.to_string());
    }
    out
}

/// Reads one raw message.
pub fn read(raw: &[u8]) -> Result<Reading, ReadError> {
    if raw.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(ReadError::Empty);
    }
    if raw.len() > MAX_MESSAGE_BYTES {
        return Err(ReadError::TooLarge(raw.len()));
    }
    let mail = mime::parse(raw).ok_or(ReadError::NotAMessage)?;
    let has_headers = !mail.from.is_empty()
        || mail.date.is_some()
        || !mail.subject.is_empty()
        || mail.message_id.is_some()
        || mail.header("Received").is_some();
    if !has_headers {
        return Err(ReadError::NotAMessage);
    }
    let mut r = Reading {
        kind: Kind::Other,
        from: mail.from.clone(),
        on_behalf_of: None,
        subject: mail.subject.clone(),
        confidence: Confidence::High,
        user_change: None,
        payment: None,
        reasons: Vec::new(),
        evidence: Vec::new(),
        bounce: None,
        message_id: mail.message_id.clone(),
        in_reply_to: mail.in_reply_to.clone(),
        date: mail.date,
        authentication: Verdict::None,
        authentication_detail: String::new(),
        automated: mail.header("Auto-Submitted").is_some_and(|v| !v.trim().eq_ignore_ascii_case("no"))
            || auto::mailing_list(&mail).is_some()
            || mail.header("X-Billmail-Kind").is_some()
            || mail.from.is_empty(),
    };

    r.automated |= matches!(r.from.split('@').next(), Some(l) if l.eq_ignore_ascii_case("mailer-daemon") || l.eq_ignore_ascii_case("postmaster"));
    if let Some(b) = auto::bounce(&mail) {
        r.kind = Kind::Bounce;
        r.automated = true;
        if b.failed_recipients.is_empty() {
            r.reasons.push("a delivery failure, but the failed address could not be read".into());
            r.confidence = Confidence::Low;
        }
        r.bounce = Some(BounceInfo {
            failed_recipients: b.failed_recipients,
            original_message_id: b.original_message_id,
            status: b.status,
        });
        return Ok(r);
    }
    if let Some(why) = auto::auto_reply(&mail) {
        r.kind = Kind::AutoReply;
        r.automated = true;
        r.reasons.push(format!("automatic reply ({why})"));
        return Ok(r);
    }

    let forward_subject = FORWARD_SUBJECT.is_match(&mail.subject);
    let reply = REPLY_SUBJECT.is_match(&mail.subject);
    let body = truncate(&mail.text);
    let (split, mut own, mut quoted) = own_text(body, forward_subject, &signer_names(mail.from_name.as_deref()));
    if debugging() {
        eprintln!("own:\n{own}\n---- quoted:\n{quoted}\n----");
    }

    let mut skip: Vec<String> = Vec::new();
    if let Some(n) = &mail.from_name {
        skip.push(n.trim_matches('"').to_string());
    }
    let sent = mail.date;
    // one text is often asked about twice (the plain part against the HTML,
    // the quote for a correction and for a bare answer): read it once
    let memo: std::cell::RefCell<Vec<(String, bool, users::Finding)>> = std::cell::RefCell::new(Vec::new());
    let analyze = |text: &str, skip: &[String]| {
        if !users::could_ask(text) {
            return users::Finding::default();
        }
        let skipping = !skip.is_empty();
        if let Some((_, _, f)) = memo.borrow().iter().find(|(t, s, _)| *s == skipping && t == text) {
            return f.clone();
        }
        let f = users::analyze(&text::units(text), sent, skip);
        memo.borrow_mut().push((text.to_string(), skipping, f.clone()));
        f
    };

    // a forward: attached whole, or inline below a marker
    let mut forwarded: Option<(Option<String>, String, String)> = None; // (from, subject, own words)
    let mut unread_note = false;
    let mut reasons_early: Vec<String> = Vec::new();
    if let Some(att) = mail.attached.first() {
        let (_, fwd_own, _) = own_text(truncate(&att.text), false, &signer_names(att.from_name.as_deref()));
        forwarded = Some((Some(att.from.clone()).filter(|f| !f.is_empty()), att.subject.clone(), fwd_own));
    } else if let Some(f) = &split.forwarded {
        // a forward of a forward: the request is the words of the first
        // sender, going inwards, who asks for something ("please add Priya",
        // above the HR announcement it forwards); the notes of forwarders who
        // ask nothing ("FYI, see below") are forwarders' words
        let mut f = f.clone();
        for _ in 0..8 {
            // a level whose own subject says FW: forwards what its header block starts
            let level_forwards = f.subject.as_deref().is_some_and(|s| FORWARD_SUBJECT.is_match(s));
            let (inner, fwd_own, fwd_quoted) = own_text(&f.text, level_forwards, &[]);
            // (asked only where there is a deeper message: most forwards have none)
            let asks = || {
                analyze(&fwd_own, &[]).strength == Some(users::Strength::Strong)
                    || payment::analyze(&fwd_own, "", f.from.as_deref().unwrap_or(""), None).strength.is_some()
            };
            match inner.forwarded {
                Some(next) if !next.text.trim().is_empty() && !asks() => {
                    // a forwarder who wrote more than a pointer ("see below")
                    // but nothing we can read: what they asked is for a person
                    if fwd_own.split_whitespace().count() > 12 {
                        unread_note = true;
                    }
                    own.push('\n');
                    own.push_str(&fwd_own);
                    f = text::Forwarded {
                        from: next.from.or(f.from),
                        subject: next.subject.or(f.subject),
                        text: next.text,
                    };
                }
                _ => {
                    quoted.push('\n');
                    quoted.push_str(&fwd_quoted);
                    forwarded = Some((f.from.clone(), f.subject.clone().unwrap_or_default(), fwd_own));
                    break;
                }
            }
        }
    }
    r.on_behalf_of = forwarded.as_ref().and_then(|f| f.0.clone());
    if unread_note {
        reasons_early.push(
            "the request is in a message forwarded inside a forward, under a forwarder's note billmail could not read as a request"
                .to_string(),
        );
    }

    // user changes (and what the request's own text reads as, before the
    // note and the subject are weighed, for the HTML part to be held to)
    let plain_read: Option<users::Figures>;
    let (mut uf, request_subject) = match &forwarded {
        Some((_, fsubj, fwd_own)) => {
            let mut f = analyze(fwd_own, &skip);
            plain_read = f.figures();
            let note = analyze(&own, &skip);
            if note.found() && !note.totals_by_act.is_empty() {
                f.doubts.push("the forwarder's note also asks for changes; a person checks how they combine".into());
                for (t, d) in note.adjustments {
                    *f.adjustments.entry(t).or_default() += d;
                }
                f.adjustments.retain(|_, d| *d != 0);
            } else if f.found() && CORRECTION.is_match(&own) {
                f.doubts.push("the forwarder's note may correct the forwarded request".into());
            }
            (f, PREFIXES.replace(fsubj, "").to_string())
        }
        None => {
            let f = analyze(&own, &skip);
            plain_read = f.figures();
            (f, if reply { String::new() } else { PREFIXES.replace(&mail.subject, "").to_string() })
        }
    };
    if !request_subject.is_empty() {
        let subj = users::subject_counts(&request_subject);
        if !uf.found() && !subj.is_empty() {
            let from_subject = analyze(&format!("{request_subject}\n\n{own}"), &skip);
            if from_subject.found() {
                uf = from_subject;
            }
        } else {
            for (act, n) in subj {
                let body_n: i64 = uf.totals_by_act.iter().filter(|(a, _)| *a == act).map(|x| x.1).sum();
                if body_n > 0 && body_n != n {
                    uf.doubts.push(format!("the subject says {n} users to {act} but the text says {body_n}"));
                }
            }
        }
    }
    // a reply that corrects or adds to a request quoted below it
    if forwarded.is_none() && !quoted.trim().is_empty() && (CORRECTION.is_match(&own) || REFERS_BACK.is_match(&own)) {
        let q = analyze(&quoted, &[]);
        if q.strength == Some(users::Strength::Strong) && uf.found() {
            uf.doubts.push("the reply changes or adds to the request quoted below it; a person combines them".into());
        }
    }
    // the subject and the body give the people to add or remove different types
    if !request_subject.is_empty()
        && let Some(t) = users::subject_type(&request_subject)
        && uf.adjustments.iter().any(|(bt, d)| *bt != t && *d > 0)
        && !uf.adjustments.iter().any(|(bt, d)| *bt == t && *d > 0)
    {
        uf.doubts.push(format!("the subject says {} but the text says otherwise", t.as_str().replace('_', "-")));
    }
    // the HTML alternative must say what the plain text says
    if let Some(html) = mail.html_text().filter(|_| uf.found()) {
        let (hsplit, hown, _) = own_text(truncate(&html), forward_subject, &signer_names(mail.from_name.as_deref()));
        let hown = match (&forwarded, hsplit.forwarded) {
            (Some(_), Some(f)) => own_text(&f.text, false, &[]).1,
            _ => hown,
        };
        let plain_text = forwarded.as_ref().map_or(own.as_str(), |f| f.2.as_str());
        // the same words read the same: only different words are read again
        // (measured: this halves the reader's time on mail with both parts)
        if hown != plain_text {
            let h = analyze(&hown, &skip);
            if debugging() {
                eprintln!("html own:\n{hown}\n---- html reading: {:?} {:?}", h.adjustments, h.totals);
            }
            // (an HTML part whose structure hides the request, as a forward in a
            // blockquote does, reads as nothing: that is no disagreement)
            if let (Some(plain), Some(html)) = (&plain_read, h.figures())
                && *plain != html
            {
                uf.doubts.push("the plain-text and HTML parts of the message give different changes".into());
            }
        }
    }
    let mut quoted_request = false;
    let bare_answer = AFFIRMATIVE.is_match(own.trim()) || own.trim().len() < 200;
    if !uf.found() && bare_answer && !quoted.trim().is_empty() {
        let q = analyze(&quoted, &[]);
        if q.strength == Some(users::Strength::Strong) {
            uf = q;
            quoted_request = true;
        }
    }

    // payments: the request's words (the forwarded message's, when forwarded)
    let pay_text = match &forwarded {
        Some((_, _, fwd_own)) => format!("{own}\n{fwd_own}"),
        None => own.clone(),
    };
    let pay_subject = if reply { "" } else { mail.subject.as_str() };
    // a forwarded notice is read as from its own sender (whether that is a
    // bank is for the reading; trusting it is for intake, by the forwarder)
    let (pay_from, pay_name) = match forwarded.as_ref().and_then(|f| f.0.as_deref()) {
        Some(original) => (original, None),
        None => (mail.from.as_str(), mail.from_name.as_deref()),
    };
    let mut pf = payment::analyze(&pay_text, pay_subject, pay_from, pay_name);
    if pf.strength.is_some() && pf.invoice_numbers.is_empty() && reply {
        // "RE: Invoice INV-2026-0169": the invoice the payment answers
        let n = payment::invoice_numbers(&mail.subject);
        if !n.is_empty() {
            for i in 0..n.len() {
                pf.evidence.push((format!("invoice_numbers[{i}]"), mail.subject.clone(), true));
            }
            pf.invoice_numbers = n;
            pf.doubts.retain(|d| d != "no invoice number");
        }
    }

    // a bank or processor reports money; it never asks for users
    if payment::financial_sender(pay_from, pay_name) {
        uf = users::Finding::default();
    }
    let u = uf.strength;
    let p = pf.strength;
    // users mentioned with no figure ("Contract: Remote Only - 14 users") beside
    // a payment ask nothing of us
    let users_figures = !uf.adjustments.is_empty() || uf.totals.is_some() || !uf.totals_by_act.is_empty();
    let list = auto::mailing_list(&mail);
    let mut reasons: Vec<String> = reasons_early;
    let kind = match (u, p) {
        (Some(users::Strength::Strong), Some(payment::Strength::Strong)) => {
            reasons.push("the message is both a user change and a payment".into());
            Kind::UserChange
        }
        (Some(users::Strength::Strong), _) => Kind::UserChange,
        (_, Some(payment::Strength::Strong)) => {
            if u.is_some() && users_figures {
                reasons.push("also mentions user changes".into());
            }
            Kind::Payment
        }
        (Some(_), _) => Kind::UserChange,
        (None, Some(_)) => Kind::Payment,
        (None, None) => Kind::Other,
    };
    // a list or newsletter is never a customer's request for users, nor a
    // payment unless it names an invoice of ours
    let kind = match kind {
        Kind::UserChange if list.is_some() => Kind::Other,
        Kind::Payment if list.is_some() && pf.invoice_numbers.is_empty() => Kind::Other,
        // users mentioned, nothing asked ("please don't add anything yet", "we
        // welcomed 18 new team members"): a question or news, left for people
        Kind::UserChange if uf.asks_nothing && !users_figures && p.is_none() => Kind::Other,
        k => k,
    };
    if let Some(l) = list
        && kind != Kind::Other
    {
        reasons.push(format!("sent as bulk or list mail ({l})"));
    }
    if quoted_request {
        reasons.push("the request is only in the quoted text; the reply itself does not state it".into());
    }
    // which part held a sentence: the subject, an attached message, or the body
    let attached_text = mail.attached.first().map(|a| collapse(&a.text));
    let (subject_words, request_subject_words) = (collapse(&mail.subject), collapse(&request_subject));
    // evidence: the line collapsed, and the part that held it
    let evidence = |field: &String, line: &str, in_subject: bool| -> Evidence {
        let line = collapse(line);
        let part = if in_subject || (!line.is_empty() && (line == subject_words || line == request_subject_words)) {
            Part::Subject
        } else if attached_text.as_ref().is_some_and(|a| a.contains(&line)) {
            Part::Attachment
        } else {
            mail.text_part
        };
        Evidence::new(field.clone(), line, part)
    };
    match kind {
        Kind::UserChange => {
            r.evidence = uf.evidence.iter().map(|(f, t)| evidence(f, t, false)).collect();
            reasons.extend(uf.doubts.iter().cloned());
            if p == Some(payment::Strength::Weak) {
                reasons.extend(pf.doubts.iter().cloned());
            }
            r.user_change = Some(UserChange {
                adjustments: if uf.dated.is_empty() {
                    uf.adjustments
                        .iter()
                        .map(|(t, d)| Adjustment { user_type: *t, delta: *d, effective_date: None })
                        .collect()
                } else {
                    uf.dated
                        .iter()
                        .map(|(date, t, d, _)| Adjustment { user_type: *t, delta: *d, effective_date: Some(*date) })
                        .collect()
                },
                totals: uf.totals.map(|(ft, pt)| Totals { full_time: ft, part_time: pt }),
                names_added: uf.names_added.clone(),
                names_removed: uf.names_removed.clone(),
                effective_date: uf.effective_date,
            });
            if r.user_change.as_ref().is_some_and(|c| c.adjustments.is_empty() && c.totals.is_none())
                && reasons.is_empty()
            {
                reasons.push("no net change of users could be read".into());
            }
        }
        Kind::Payment => {
            r.evidence = pf.evidence.iter().map(|(f, t, subj)| evidence(f, t, *subj)).collect();
            reasons.extend(pf.doubts.iter().cloned());
            if u == Some(users::Strength::Weak) && users_figures {
                reasons.extend(uf.doubts.iter().cloned());
            }
            r.payment = Some(Payment {
                amount: pf.amount,
                currency: pf.currency.clone(),
                method: pf.method,
                reference: pf.reference.clone(),
                invoice_numbers: pf.invoice_numbers.iter().map(|n| InvoiceNumber::new(n)).collect(),
                payer: pf.payer.clone(),
                source: pf.source.unwrap_or(payment::Source::CustomerClaim),
            });
        }
        _ => {}
    }
    reasons.dedup();
    if !reasons.is_empty() {
        r.confidence = Confidence::Low;
    }
    r.reasons = reasons;
    r.kind = kind;
    Ok(r)
}

impl Reading {
    /// Net change per user type, as the daemon applies it.
    pub fn deltas(&self) -> (i64, i64) {
        let mut ft = 0;
        let mut pt = 0;
        for a in self.user_change.iter().flat_map(|u| &u.adjustments) {
            match a.user_type {
                UserType::FullTime => ft += a.delta,
                UserType::PartTime => pt += a.delta,
            }
        }
        (ft, pt)
    }
}

#[cfg(test)]
mod tests {
    proptest::proptest! {
        /// `collapse` is `split_whitespace` joined by single spaces, ASCII or not.
        #[test]
        fn collapse_is_split_whitespace_joined(s in "[ a-z\t\n\r\x0b\x0cé\u{a0}\u{2003}\u{85}]{0,30}") {
            proptest::prop_assert_eq!(super::collapse(&s), s.split_whitespace().collect::<Vec<_>>().join(" "));
        }
    }
}
