//! Taking a message in: the same steps for one fetched over IMAP and one
//! given to `billmail ingest`. Deduplicate (Message-ID, else the bytes'
//! SHA-256), store the raw message, read it, decide where it goes, apply
//! what this version applies, and commit it all in one transaction. Moving
//! it in the mailbox happens only after that commit. `pass` is one pass over
//! a mailbox ([`crate::inbox::MailSource`]).

mod pass;

use std::collections::{HashMap, HashSet};

use anyhow::Result;
use chrono::{DateTime, TimeZone, Utc};
use sha2::{Digest, Sha256};

use crate::acting::correction::Correction;
use crate::acting::notices::{self, ChangeFacts, Notice, Received, plan_change};
use crate::acting::{self, Action, Facts, Plan};
use crate::config::Config;
use crate::domain::calendar::local_time;
use crate::domain::payments::{NewPayment, named_invoices, plan_payment};
use crate::domain::{AccountId, Money, Month};
use crate::reading::{Confidence, ReadError, Reading};
use crate::render::{Renderer, message_id};
use crate::store::{NewMail, NewMessage, NewReview, Store, StoredMessage, Tx};
use crate::trust::{self, Proof, dkim::Dkim};

pub use crate::inbox::Disposition;
pub use pass::{IntakeReport, from_source};

/// Where a message came from.
#[derive(Clone, Copy, Debug)]
pub struct Origin<'a> {
    pub folder: Option<&'a str>,
    pub uidvalidity: Option<u32>,
    pub uid: Option<u32>,
    /// Set when only the message's header was fetched because the whole
    /// message (this many bytes) is over [`crate::reading::MAX_MESSAGE_BYTES`]:
    /// the header is stored and the message goes to review, never read.
    pub too_large: Option<usize>,
}

impl Origin<'_> {
    pub const INGEST: Origin<'static> = Origin { folder: None, uidvalidity: None, uid: None, too_large: None };
}

#[derive(Clone, Debug)]
pub struct Taken {
    pub id: i64,
    pub duplicate: bool,
    /// Already moved to its folder (a duplicate seen again).
    pub moved: bool,
    pub disposition: Disposition,
    pub kind: String,
    pub subject: String,
    pub reasons: Vec<String>,
}

/// The key that makes a message the same message when seen again.
pub fn dedupe_key(raw: &[u8], reading: &Result<Reading, ReadError>) -> String {
    match reading.as_ref().ok().and_then(|r| r.message_id.clone()) {
        Some(id) => format!("mid:{id}"),
        None => format!("sha256:{:x}", Sha256::digest(raw)),
    }
}

/// What a message says, apart from how it travelled: its From, Subject and
/// Date and its body, as SHA-256 hex. Two deliveries of one message have the
/// same digest whatever trace headers each gathered; a different message
/// reusing its Message-ID does not.
pub fn content_digest(raw: &[u8]) -> String {
    let mut h = Sha256::new();
    if let Some(msg) = mail_parser::MessageParser::new().parse_headers(raw) {
        for name in ["From", "Subject", "Date"] {
            for header in msg.headers().iter().filter(|x| x.name.as_str().eq_ignore_ascii_case(name)) {
                let value = raw.get(header.offset_start as usize..header.offset_end as usize).unwrap_or_default();
                h.update(name.as_bytes());
                h.update(String::from_utf8_lossy(value).split_whitespace().collect::<Vec<_>>().join(" ").as_bytes());
                h.update(b"\n");
            }
        }
    }
    h.update(body_digest(raw).as_bytes());
    format!("{:x}", h.finalize())
}

/// The body alone (every byte after the headers, line ends and trailing
/// spaces evened out), as SHA-256 hex.
pub fn body_digest(raw: &[u8]) -> String {
    let body_start = [&b"\r\n\r\n"[..], &b"\n\n"[..]]
        .iter()
        .filter_map(|sep| memchr::memmem::find(raw, sep).map(|i| i + sep.len()))
        .min()
        .unwrap_or(raw.len());
    let mut h = Sha256::new();
    for line in String::from_utf8_lossy(&raw[body_start..]).lines() {
        h.update(line.trim_end().as_bytes());
        h.update(b"\n");
    }
    format!("{:x}", h.finalize())
}

/// What makes two bank notices the same payment: its reference (with the
/// amount) when it has one, else what it says (payer, amount, account and
/// the notice's text, which holds its dates), never its headers, which a
/// replay changes.
fn payment_identity(p: &crate::reading::Payment, amount: Money, account: &AccountId, body: &str) -> String {
    match &p.reference {
        Some(reference) => format!("ref:{}:{}", reference.trim().to_ascii_uppercase(), amount.cents()),
        None => {
            let mut h = Sha256::new();
            for part in [
                p.payer.as_deref().unwrap_or("").trim().to_lowercase().as_str(),
                &amount.cents().to_string(),
                account.as_str(),
                body,
            ] {
                h.update(part.as_bytes());
                h.update(b"\0");
            }
            format!("text:{:x}", h.finalize())
        }
    }
}

/// What intake needs to act: the settings, the templates, and billmail's
/// own DKIM check when `[trust] verify_dkim` is on.
pub struct Actor<'a> {
    pub config: &'a Config,
    pub renderer: &'a Renderer,
    pub dkim: Option<&'a Dkim>,
}

/// What is known of where a message came from (`[trust]`): its From domain
/// checked against the organisation's own servers' headers and, with
/// `verify_dkim`, against DKIM signatures billmail verifies. Done before the
/// message's transaction: it may wait on DNS.
pub async fn prove(actor: &Actor<'_>, raw: &[u8]) -> Proof {
    let domain = match trust::sender_domain(raw) {
        Ok(d) => d,
        Err(why) => return Proof::none(why),
    };
    let headers = trust::from_headers(raw, &actor.config.trust.authserv_ids, &domain);
    let (dkim, arc) = match actor.dkim {
        Some(v) => {
            (Some(v.verify(raw, &domain).await), v.verify_arc(raw, &domain, &actor.config.trust.arc_sealers).await)
        }
        None => (None, None),
    };
    trust::combine(headers, dkim, arc)
}

/// Takes one message in, in its own transaction.
pub async fn take_in(
    store: &Store,
    actor: &Actor<'_>,
    raw: &[u8],
    origin: Origin<'_>,
    now: DateTime<Utc>,
) -> Result<Taken> {
    let proof = prove(actor, raw).await;
    let mut tx = store.begin().await?;
    let taken = take_in_tx(&mut tx, actor, raw, &proof, origin, now).await?;
    tx.commit().await?;
    tracing::info!(message = taken.id, kind = %taken.kind, disposition = taken.disposition.as_str(), "taken in");
    Ok(taken)
}

/// Takes one message in within `tx`.
pub async fn take_in_tx(
    tx: &mut Tx,
    actor: &Actor<'_>,
    raw: &[u8],
    proof: &Proof,
    origin: Origin<'_>,
    now: DateTime<Utc>,
) -> Result<Taken> {
    let read = read_message(raw, proof, origin.too_large)?;
    let mut taken = take_all_in_tx(tx, actor, vec![Arrived { raw, origin, read }], now, None).await?;
    taken.pop().ok_or_else(|| anyhow::anyhow!("the message was not taken in"))
}

/// A message as it arrived: its bytes, where it came from, and what
/// [`read_message`] made of it.
pub struct Arrived<'a> {
    pub raw: &'a [u8],
    pub origin: Origin<'a>,
    pub read: Read,
}

/// Takes messages in, in order, within `tx` (a batch shares one): each as
/// if it were taken in alone, but with what the books say of them and
/// their senders read with one statement for many messages, and messages
/// that only go to a folder or to review stored together. (A statement
/// costs about 47 µs of handing over to SQLite's thread, more than the SQL
/// itself: per message it was most of intake's time, measured with
/// `MAIL_BENCH=intake cargo bench --bench mail`.) Stops before the next
/// message once `stop` is cancelled; says what it took, in order.
pub async fn take_all_in_tx(
    tx: &mut Tx,
    actor: &Actor<'_>,
    incoming: Vec<Arrived<'_>>,
    now: DateTime<Utc>,
    stop: Option<&tokio_util::sync::CancellationToken>,
) -> Result<Vec<Taken>> {
    let mut known = Known::new(day_start(actor.config, now));
    let mut stored = Stored::default();
    let mut taken = Vec::with_capacity(incoming.len());
    for (i, m) in incoming.iter().enumerate() {
        if stop.is_some_and(|s| s.is_cancelled()) {
            break;
        }
        if stored.holds(&m.read.key) {
            // the same message twice in one batch: the first is written, so
            // the second is found
            stored.write(tx, actor.config, &mut known, &mut taken, now).await?;
        }
        if !known.holds_all {
            // what the books say of this message and every one after it
            let ahead = &incoming[i..];
            let readings = ahead.iter().filter_map(|m| m.read.reading.as_ref().ok());
            known.learn(tx, ahead.iter().map(|m| m.read.key.as_str()), readings).await?;
            known.holds_all = true;
        }
        let mut key = m.read.key.clone();
        let mut seen = known.seen.get(&key).cloned();
        if let Some(s) = &seen
            && key.starts_with("mid:")
        {
            let digest = content_digest(m.raw);
            if content_digest(&tx.message_raw(s.id).await?) != digest {
                // the same Message-ID on a different message: a message of its own,
                // never "seen before" (whoever sent the first cannot hide the second)
                key = format!("{key} sha256:{digest}");
                if stored.holds(&key) {
                    stored.write(tx, actor.config, &mut known, &mut taken, now).await?;
                }
                seen = tx.find_message(&key).await?;
            }
        }
        if let Some(seen) = seen {
            if let (Some(folder), Some(v), Some(uid)) = (m.origin.folder, m.origin.uidvalidity, m.origin.uid) {
                // its place in the mailbox only, which nothing known here reads
                tx.relocate_message(seen.id, folder, v, uid).await?;
            }
            taken.push(Taken {
                id: seen.id,
                duplicate: true,
                moved: seen.moved_to.is_some(),
                disposition: Disposition::parse(&seen.disposition),
                kind: m.read.kind.clone(),
                subject: m.read.subject.clone(),
                reasons: vec![],
            });
            continue;
        }
        let (facts, plan) = match &m.read.reading {
            Ok(r) => {
                let f = facts_known(tx, actor.config, r, false, &known).await?;
                let plan = acting::plan(r, &f);
                (Some(f), plan)
            }
            Err(e) => (
                None,
                Plan {
                    action: Action::Review {
                        account: None,
                        reasons: vec![format!("could not be read as a message: {e}")],
                    },
                    acknowledge: false,
                },
            ),
        };
        if let Some(recorded) = recorded_only(m, facts.as_ref(), &plan, &known) {
            let to = expected_disposition(&plan.action);
            taken.push(Taken {
                id: 0,
                duplicate: false,
                moved: false,
                disposition: to,
                kind: m.read.kind.clone(),
                subject: m.read.subject.clone(),
                reasons: recorded.review.as_ref().map(|(_, reasons)| reasons.clone()).unwrap_or_default(),
            });
            stored.add(taken.len() - 1, m, key, to, recorded);
            continue;
        }
        // one that changes the books: after the ones before it, and what
        // is known is read again for the ones after it
        stored.write(tx, actor.config, &mut known, &mut taken, now).await?;
        taken.push(carry_out(tx, actor, m, &key, facts.as_ref(), &plan, now).await?);
        known.forget();
    }
    stored.write(tx, actor.config, &mut known, &mut taken, now).await?;
    Ok(taken)
}

/// What is read of a message before the books are asked about it: its
/// reading (with the proof of its origin), its dedupe key, and what its row
/// in `messages` holds. Pure, and the longest part of taking a message in:
/// a batch is read on a thread of its own while the one before it is
/// taken in (see `pass.rs`).
pub struct Read {
    reading: Result<Reading, ReadError>,
    key: String,
    kind: String,
    from: String,
    subject: String,
    confidence: &'static str,
    json: String,
}

/// Reads `raw` as [`Read`] says; `too_large` (its size) when only its
/// header was fetched, which is then never read as a request.
pub fn read_message(raw: &[u8], proof: &Proof, too_large: Option<usize>) -> Result<Read> {
    let mut reading = match too_large {
        Some(size) => Err(crate::reading::ReadError::TooLarge(size)),
        None => crate::reading::read(raw),
    };
    if let Ok(r) = &mut reading {
        r.authentication = proof.verdict;
        r.authentication_detail = proof.detail.clone();
    }
    let key = dedupe_key(raw, &reading);
    let (kind, from, subject, confidence, json) = match &reading {
        Ok(r) => (
            serde_json::to_value(r.kind)?.as_str().unwrap_or("other").to_string(),
            r.from.clone(),
            r.subject.clone(),
            if r.confidence == Confidence::High { "high" } else { "low" },
            serde_json::to_string(r)?,
        ),
        Err(e) => {
            // a message over the limit: its header (all that was fetched)
            // still says who sent it and what about, for the person reviewing
            let head = too_large.and_then(|_| crate::reading::read(raw).ok());
            let (from, subject) = head.map(|h| (h.from, h.subject)).unwrap_or_default();
            ("unreadable".to_string(), from, subject, "low", serde_json::json!({ "error": e.to_string() }).to_string())
        }
    };
    Ok(Read { reading, key, kind, from, subject, confidence, json })
}

impl Arrived<'_> {
    /// The row of `messages` it is stored as, under `key`.
    fn row<'b>(&'b self, key: &'b str, disposition: Disposition) -> NewMessage<'b> {
        NewMessage {
            dedupe_key: key,
            message_id: self.read.reading.as_ref().ok().and_then(|r| r.message_id.as_deref()),
            source: if self.origin.folder.is_some() { "imap" } else { "ingest" },
            folder: self.origin.folder,
            uidvalidity: self.origin.uidvalidity,
            uid: self.origin.uid,
            raw: self.raw,
            from: &self.read.from,
            subject: &self.read.subject,
            kind: &self.read.kind,
            confidence: self.read.confidence,
            reading: &self.read.json,
            disposition: disposition.as_str(),
        }
    }
}

/// What a new message that is only recorded leaves in the books besides
/// itself: a review item (its kind and reasons), a customer's claim of a
/// payment (for the account, if one is known).
struct Recorded {
    review: Option<(String, Vec<String>)>,
    claim: Option<Option<AccountId>>,
}

/// When a new message, as planned, is only recorded (filed, left, or put
/// to a person, perhaps with the customer's claim that they paid) and
/// touches nothing that [`Known`] holds: what it leaves. None when it does
/// more: a change, a payment, an answer, a bounce that flags an address, a
/// flagged address restored.
fn recorded_only(m: &Arrived<'_>, facts: Option<&Facts>, plan: &Plan, known: &Known) -> Option<Recorded> {
    if let (Ok(r), Some(f)) = (&m.read.reading, facts) {
        let flags = r.bounce.is_some() && acting::bounce_targets(r, f).is_ok();
        let restores = r.authentication == crate::trust::Verdict::Pass
            && r.kind != crate::reading::Kind::Bounce
            && !r.automated
            && !known.flagged_accounts_of(&r.from).is_empty();
        if flags || restores {
            return None;
        }
    }
    let review = |kind: &str, reasons: &[String]| Some((kind.to_string(), reasons.to_vec()));
    match &plan.action {
        Action::Processed | Action::Left => Some(Recorded { review: None, claim: None }),
        _ if plan.acknowledge => None,
        Action::Review { reasons, .. } => Some(Recorded { review: review(&m.read.kind, reasons), claim: None }),
        Action::RecordClaim { account, reasons } => {
            Some(Recorded { review: review("payment", reasons), claim: Some(account.clone()) })
        }
        Action::ApplyUserChange { .. } | Action::RecordPayment { .. } => None,
    }
}

/// Messages that are only recorded (see [`recorded_only`]), waiting to be
/// written together: before any message that does more, and at the end of
/// the batch.
#[derive(Default)]
struct Stored<'m> {
    waiting: Vec<Waiting<'m>>,
}

/// A message waiting in [`Stored`].
struct Waiting<'m> {
    /// Where its [`Taken`] is in the batch's.
    at: usize,
    message: &'m Arrived<'m>,
    key: String,
    to: Disposition,
    recorded: Recorded,
}

impl<'m> Stored<'m> {
    fn add(&mut self, at: usize, message: &'m Arrived<'m>, key: String, to: Disposition, recorded: Recorded) {
        self.waiting.push(Waiting { at, message, key, to, recorded });
    }

    fn holds(&self, key: &str) -> bool {
        self.waiting.iter().any(|w| w.key == key)
    }

    /// Writes the waiting messages, their claims and their review items
    /// (each table's rows in the messages' order, as one at a time would);
    /// gives each its id in `taken`, and `known` learns them as seen.
    async fn write(
        &mut self,
        tx: &mut Tx,
        config: &Config,
        known: &mut Known,
        taken: &mut [Taken],
        now: DateTime<Utc>,
    ) -> Result<()> {
        if self.waiting.is_empty() {
            return Ok(());
        }
        let rows: Vec<NewMessage> = self.waiting.iter().map(|w| w.message.row(&w.key, w.to)).collect();
        let ids = tx.insert_messages(&rows, now).await?;
        for (w, id) in self.waiting.iter().zip(&ids) {
            if let (Some(account), Ok(r)) = (&w.recorded.claim, &w.message.read.reading) {
                record_claim(tx, config, r, account.as_ref(), *id, now).await?;
            }
        }
        let reviews: Vec<NewReview> = self
            .waiting
            .iter()
            .zip(&ids)
            .filter_map(|(w, id)| {
                let (kind, reasons) = w.recorded.review.as_ref()?;
                Some(NewReview {
                    message: *id,
                    kind,
                    from: &w.message.read.from,
                    subject: &w.message.read.subject,
                    reasons,
                })
            })
            .collect();
        tx.insert_reviews(&reviews, now).await?;
        for (w, id) in self.waiting.drain(..).zip(ids) {
            taken[w.at].id = id;
            known.seen.insert(w.key, StoredMessage { id, disposition: w.to.as_str().to_string(), moved_to: None });
        }
        Ok(())
    }
}

/// Stores a new message and carries out its plan, one statement at a time.
async fn carry_out(
    tx: &mut Tx,
    actor: &Actor<'_>,
    m: &Arrived<'_>,
    key: &str,
    facts: Option<&Facts>,
    plan: &Plan,
    now: DateTime<Utc>,
) -> Result<Taken> {
    let (raw, Read { reading, kind, from, subject, .. }) = (m.raw, &m.read);
    // stored with the place its plan sends it; written again only when
    // applying the plan sends it elsewhere (a change the books refuse)
    let expected = expected_disposition(&plan.action);
    let id = tx.insert_message(&m.row(key, expected), now).await?;
    if let (Ok(r), Some(f)) = (reading, facts)
        && let Some(b) = &r.bounce
        && let Ok(failed) = acting::bounce_targets(r, f)
    {
        let why = format!(
            "{}, message {}",
            b.status.as_deref().unwrap_or("delivery failed"),
            b.original_message_id.as_deref().unwrap_or("unknown")
        );
        // accounting is told, in its own mailbox
        let accounting = actor.config.company.accounting_address.to_string();
        for addr in &failed {
            let accounts = tx.flag_bounced(addr, &why, now).await?;
            queue(tx, actor, notices::bounce_notice(r, b, addr, &accounts, &accounting), now).await?;
        }
    }
    // a proven message from a flagged address shows it works again
    if let Ok(r) = reading
        && r.authentication == crate::trust::Verdict::Pass
        && r.kind != crate::reading::Kind::Bounce
        && !r.automated
    {
        for account in tx.flagged_accounts_of(&r.from).await? {
            tx.restore_contact(&account, &r.from, &format!("a proven message from it, #{id}"), now).await?;
        }
    }
    let (disposition, reasons) = match reading {
        Ok(r) => apply(tx, actor, r, id, raw, plan, now).await?,
        Err(_) => {
            let reasons = match &plan.action {
                Action::Review { reasons, .. } => reasons.clone(),
                _ => vec![],
            };
            tx.insert_review(id, kind, from, subject, &reasons, now).await?;
            (Disposition::Review, reasons)
        }
    };
    if disposition != expected {
        tx.set_disposition(id, disposition.as_str()).await?;
    }
    Ok(Taken { id, duplicate: false, moved: false, disposition, kind: kind.clone(), subject: subject.clone(), reasons })
}

/// Where a message goes when its plan is carried out as planned.
fn expected_disposition(action: &Action) -> Disposition {
    match action {
        Action::ApplyUserChange { .. } | Action::RecordPayment { .. } | Action::Processed => Disposition::Processed,
        Action::RecordClaim { .. } | Action::Review { .. } => Disposition::Review,
        Action::Left => Disposition::Left,
    }
}

/// The facts the acting rules need, looked up in the books.
async fn facts(tx: &mut Tx, config: &Config, r: &Reading, now: DateTime<Utc>, approved: bool) -> Result<Facts> {
    let mut known = Known::new(day_start(config, now));
    known.learn(tx, std::iter::empty(), std::iter::once(r)).await?;
    facts_known(tx, config, r, approved, &known).await
}

/// The facts of [`facts`] with what `known` holds of the message's
/// senders (it must have learnt `r`); a payment's invoices and payer and a
/// bounce's original are asked of the books here.
async fn facts_known(tx: &mut Tx, config: &Config, r: &Reading, approved: bool, known: &Known) -> Result<Facts> {
    let mut f = Facts {
        require_authentication: config.trust.require_authentication,
        company_currency: config.company.currency.clone(),
        approved,
        ..Facts::default()
    };
    f.from_accounts = known.accounts_of(&r.from);
    f.from_is_services_team = config.company.services_team_address.as_ref().is_some_and(|s| s.as_str() == r.from);
    if let Some(o) = &r.on_behalf_of {
        f.behalf_accounts = known.accounts_of(o);
    }
    f.trusted_payment_sender = config.trust.payment_senders.iter().any(|s| s.as_str() == r.from);
    if let Some(b) = &r.bounce {
        if let Some(original) = &b.original_message_id {
            f.bounced_mail = tx.sent_recipients(original).await?;
        }
        f.bounce_domains = config.smtp.iter().map(|s| s.host.clone()).collect();
        f.bounce_domains.push(config.company.mail_domain().to_string());
        f.bounce_domains.extend(config.trust.bounce_domains.iter().cloned());
    }
    for a in f.from_accounts.iter().chain(&f.behalf_accounts) {
        if known.standing(a) != crate::domain::collections::Standing::Active {
            f.on_hold.push(a.clone());
        }
    }
    if let Some(p) = &r.payment {
        // the one lookup of named invoices (recording the payment checks the same)
        for (number, row) in tx.invoices_named(&p.invoice_numbers).await? {
            match row {
                Some((_, owner)) => f.invoice_accounts.push(owner),
                None => f.unknown_invoices.push(number),
            }
        }
        f.invoice_accounts.sort();
        f.invoice_accounts.dedup();
        if let Some(payer) = &p.payer {
            f.payer_accounts = tx.accounts_by_payer(payer).await?;
        }
    }
    f.answers_today = known.answers_to(&r.from);
    Ok(f)
}

/// The start of `now`'s day where the company is: answers are counted from it.
fn day_start(config: &Config, now: DateTime<Utc>) -> DateTime<Utc> {
    let local = local_time(&now, config.company.timezone);
    config
        .company
        .timezone
        .from_local_datetime(&local.date().and_hms_opt(0, 0, 0).expect("midnight"))
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(now)
}

/// What the books say of messages (stored already?) and of their senders
/// (whose contacts, flagged or not; the accounts' standing; answers sent
/// today), learnt for many messages at once and true until something is
/// written that any of it reads: then [`Known::forget`].
struct Known {
    day_start: DateTime<Utc>,
    /// Set by the batch once it has learnt of all its messages still to come.
    holds_all: bool,
    /// By dedupe key; a key learnt and not stored is absent from here but
    /// in `keys`.
    seen: HashMap<String, StoredMessage>,
    keys: HashSet<String>,
    /// By lowercase address.
    contacts: HashMap<String, Vec<AccountId>>,
    flagged: HashMap<String, Vec<AccountId>>,
    standings: HashMap<AccountId, crate::domain::collections::Standing>,
    /// By address as written.
    answers: HashMap<String, i64>,
}

impl Known {
    fn new(day_start: DateTime<Utc>) -> Known {
        Known {
            day_start,
            holds_all: false,
            seen: HashMap::new(),
            keys: HashSet::new(),
            contacts: HashMap::new(),
            flagged: HashMap::new(),
            standings: HashMap::new(),
            answers: HashMap::new(),
        }
    }

    /// Learns what it does not know yet of these keys and readings: one
    /// statement for each kind of thing, whatever their number.
    async fn learn<'r>(
        &mut self,
        tx: &mut Tx,
        keys: impl Iterator<Item = &'r str>,
        readings: impl Iterator<Item = &'r Reading>,
    ) -> Result<()> {
        let mut new_keys: Vec<&str> = keys.filter(|k| !self.keys.contains(*k)).collect();
        new_keys.sort_unstable();
        new_keys.dedup();
        let (mut addresses, mut senders) = (Vec::new(), Vec::new());
        for r in readings {
            senders.push(r.from.as_str());
            addresses.push(r.from.as_str());
            addresses.extend(r.on_behalf_of.as_deref());
        }
        addresses.retain(|a| !self.contacts.contains_key(&a.to_ascii_lowercase()));
        addresses.sort_unstable();
        addresses.dedup();
        senders.retain(|s| !self.answers.contains_key(*s));
        senders.sort_unstable();
        senders.dedup();
        if !new_keys.is_empty() {
            self.seen.extend(tx.messages_keyed(&new_keys).await?);
            self.keys.extend(new_keys.iter().map(|k| k.to_string()));
        }
        if !addresses.is_empty() {
            let contacts = tx.accounts_of_contacts(&addresses).await?;
            let accounts: Vec<AccountId> = contacts
                .values()
                .flatten()
                .filter(|a| !self.standings.contains_key(*a))
                .cloned()
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            self.contacts.extend(contacts);
            self.flagged.extend(tx.flagged_accounts_of_each(&addresses).await?);
            if !accounts.is_empty() {
                let standings = tx.standings(&accounts).await?;
                for a in accounts {
                    let standing = standings.get(&a).copied().unwrap_or(crate::domain::collections::Standing::Active);
                    self.standings.insert(a, standing);
                }
            }
        }
        if !senders.is_empty() {
            self.answers.extend(tx.answers_since_each(&senders, self.day_start).await?);
        }
        Ok(())
    }

    /// After something was written that what is known reads.
    fn forget(&mut self) {
        *self = Known::new(self.day_start);
    }

    fn accounts_of(&self, email: &str) -> Vec<AccountId> {
        self.contacts.get(&email.to_ascii_lowercase()).cloned().unwrap_or_default()
    }

    fn flagged_accounts_of(&self, email: &str) -> &[AccountId] {
        self.flagged.get(&email.to_ascii_lowercase()).map_or(&[], Vec::as_slice)
    }

    fn standing(&self, account: &AccountId) -> crate::domain::collections::Standing {
        self.standings.get(account).copied().unwrap_or(crate::domain::collections::Standing::Active)
    }

    fn answers_to(&self, email: &str) -> i64 {
        self.answers.get(email).copied().unwrap_or(0)
    }
}

/// Carries out a plan; returns where the message goes and why.
async fn apply(
    tx: &mut Tx,
    actor: &Actor<'_>,
    r: &Reading,
    message: i64,
    raw: &[u8],
    plan: &Plan,
    now: DateTime<Utc>,
) -> Result<(Disposition, Vec<String>)> {
    let config = actor.config;
    let outcome = match &plan.action {
        Action::Processed => (Disposition::Processed, vec![]),
        Action::Left => (Disposition::Left, vec![]),
        Action::ApplyUserChange { account } => match apply_user_change(tx, actor, r, account, now).await? {
            Ok(()) => (Disposition::Processed, vec![]),
            Err(why) => {
                tx.insert_review(message, "user_change", &r.from, &r.subject, std::slice::from_ref(&why), now).await?;
                (Disposition::Review, vec![why])
            }
        },
        Action::RecordPayment { account } => {
            record_payment(tx, actor, r, account, message, &body_digest(raw), "bank_notice", now).await?;
            (Disposition::Processed, vec![])
        }
        Action::RecordClaim { account, reasons } => {
            record_claim(tx, config, r, account.as_ref(), message, now).await?;
            tx.insert_review(message, "payment", &r.from, &r.subject, reasons, now).await?;
            (Disposition::Review, reasons.clone())
        }
        Action::Review { reasons, .. } => {
            let kind = serde_json::to_value(r.kind)?.as_str().unwrap_or("other").to_string();
            tx.insert_review(message, &kind, &r.from, &r.subject, reasons, now).await?;
            (Disposition::Review, reasons.clone())
        }
    };
    if plan.acknowledge && outcome.0 == Disposition::Review {
        queue(tx, actor, notices::acknowledgement(r, message, &config.company.name), now).await?;
    }
    Ok(outcome)
}

/// Notes a customer's word that they paid (not money: it waits for the
/// bank's notice), as `r` gives it.
async fn record_claim(
    tx: &mut Tx,
    config: &Config,
    r: &Reading,
    account: Option<&AccountId>,
    message: i64,
    now: DateTime<Utc>,
) -> Result<()> {
    let p = r.payment.as_ref();
    let cents = p.and_then(|p| p.money()).map(Money::cents);
    let claimed_on = local_time(&now, config.company.timezone).date();
    tx.insert_claim(
        account,
        message,
        cents,
        p.and_then(|p| p.currency.as_deref()),
        p.map_or("unknown", |p| p.method.as_str()),
        p.and_then(|p| p.reference.as_deref()),
        p.map(|p| p.invoice_numbers.as_slice()).unwrap_or(&[]),
        claimed_on,
        now,
    )
    .await?;
    Ok(())
}

/// Renders a planned notice and puts it in the outbox, in `tx`.
async fn queue(tx: &mut Tx, actor: &Actor<'_>, notice: Notice, now: DateTime<Utc>) -> Result<()> {
    let Notice { kind, account, to, cc, answers, tag, subject, context } = notice;
    let config = actor.config;
    let rendered = actor.renderer.notice(kind, &config.company, subject, minijinja::Value::from_serialize(&context))?;
    let basis = answers.as_deref().unwrap_or("x").trim_matches(['<', '>']).replace(['@', '/'], ".");
    let local = if tag.is_empty() { format!("{kind}.{basis}") } else { format!("{kind}.{tag}.{basis}") };
    let mail = NewMail {
        kind: kind.as_str().into(),
        account,
        invoice_id: None,
        to,
        cc,
        subject: rendered.subject,
        text: rendered.text,
        html: rendered.html,
        message_id: message_id(config, &local, now),
        in_reply_to: answers.clone(),
        references: answers,
    };
    tx.queue_mail(&mail, now).await?;
    Ok(())
}

/// Applies a user change; `Ok(Err(reason))` when it cannot be applied as read.
async fn apply_user_change(
    tx: &mut Tx,
    actor: &Actor<'_>,
    r: &Reading,
    account: &AccountId,
    now: DateTime<Utc>,
) -> Result<std::result::Result<(), String>> {
    let config = actor.config;
    // looked up here, decided in pure code (acting::notices::plan_change): a
    // refusal goes to a person; anything the books fail at rolls the whole
    // batch back
    let recorded = tx.count_changes(account).await?;
    let (name, _) = tx.account_contact(account).await?;
    let (last, first) = tx.agreement_months(account).await?;
    let behalf_is_contact = match &r.on_behalf_of {
        Some(o) => tx.accounts_of_contact(o).await?.iter().any(|a| a == account),
        None => false,
    };
    let team = config.company.services_team_address.as_ref().map(|a| a.to_string());
    let facts = ChangeFacts {
        account,
        name: &name,
        recorded: &recorded,
        last_invoiced: last.as_deref().and_then(Month::parse),
        first: Month::parse(&first),
        behalf_is_contact,
        services_team: team.as_deref(),
        today: local_time(&now, config.company.timezone).date(),
    };
    let plan = match plan_change(r, &facts) {
        Ok(plan) => plan,
        Err(why) => return Ok(Err(why)),
    };
    tx.record_count_changes(account, &plan.steps, "email", &plan.reason, now).await?;
    queue(tx, actor, plan.confirmation, now).await?;
    Ok(Ok(()))
}

/// Records a payment and sends the receipt; the same notice (or the same
/// reference and amount) seen twice is applied once. `source` says who
/// vouched for it: `bank_notice` (a trusted bank's notice, applied alone)
/// or `review` (a person approved the message).
#[allow(clippy::too_many_arguments)]
async fn record_payment(
    tx: &mut Tx,
    actor: &Actor<'_>,
    r: &Reading,
    account: &AccountId,
    message: i64,
    body: &str,
    source: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let config = actor.config;
    let Some(p) = &r.payment else { return Ok(()) };
    let Some(amount) = p.money() else { return Ok(()) };
    let identity = payment_identity(p, amount, account, body);
    let seen = match &p.reference {
        Some(reference) => tx.payment_seen(account, reference, amount.cents()).await?,
        None => false,
    } || tx.payment_identity_seen(&identity).await?;
    if seen {
        let what = match &p.reference {
            Some(reference) => format!("payment {reference} ({amount})"),
            None => format!("the payment of {amount} from {}", p.payer.as_deref().unwrap_or("an unnamed payer")),
        };
        tx.history(
            account,
            now,
            "payment",
            &format!("a second notice of {what} was recorded as a duplicate, not applied"),
        )
        .await?;
        return Ok(());
    }
    let received = r.date.unwrap_or_else(|| local_time(&now, config.company.timezone).date());
    // (the plan names only this account's invoices; checked again, a
    // refusal here rolls the batch back rather than misplace money)
    let named = named_invoices(account, &tx.invoices_named(&p.invoice_numbers).await?)?;
    let payment = NewPayment {
        amount,
        currency: &config.company.currency,
        method: p.method.as_str(),
        reference: p.reference.as_deref(),
        source,
        received_on: received,
    };
    let plan = plan_payment(&payment, &named, &tx.open_invoices(account).await?);
    let payment_id = tx.record_payment(account, &payment, &plan, now).await?;
    tx.link_payment(payment_id, message).await?;
    tx.set_payment_identity(payment_id, &identity).await?;
    let (name, billing) = tx.account_contact(account).await?;
    let balance = tx.open_balance(account).await?;
    let paid = Received {
        account,
        name: &name,
        billing,
        payment_id,
        amount,
        method: p.method,
        reference: p.reference.as_deref(),
        applied: &plan.applied(),
        credit: plan.credit,
        balance,
        currency: &config.company.currency,
    };
    if let Some(notice) = notices::receipt(paid) {
        queue(tx, actor, notice, now).await?;
    }
    Ok(())
}

/// Applies a reviewed message as if it had been read with certainty, as
/// read or as a clerk corrected it; `by` names who decided (a console user,
/// or `cli`), kept with the item and in the account's history. The same
/// code for `review approve` and the console.
pub async fn approve(
    store: &Store,
    actor: &Actor<'_>,
    review: i64,
    correction: Option<&Correction>,
    by: &str,
    now: DateTime<Utc>,
) -> Result<String> {
    let mut tx = store.begin().await?;
    crate::domain::manual::decide(review, tx.review_state(review).await?.as_ref())?;
    let decision = correction.map_or_else(|| "approved".to_string(), Correction::describe);
    let Some(message) = tx.approve_review(review, &decision, by, now).await? else {
        if correction.is_some() {
            anyhow::bail!("review item #{review} is billmail's own notice: there is nothing to correct");
        }
        tx.commit().await?;
        return Ok("closed: billmail's own notice, passed on by hand".into());
    };
    let raw = tx.message_raw(message).await?;
    let read = crate::reading::read(&raw).map_err(|e| anyhow::anyhow!("the message cannot be read: {e}"))?;
    let r = match correction {
        Some(c) => c.apply(&read)?,
        None => read,
    };
    let f = facts(&mut tx, actor.config, &r, now, true).await?;
    let plan = acting::plan(&r, &f);
    let (done, account) = match &plan.action {
        Action::ApplyUserChange { account } => match apply_user_change(&mut tx, actor, &r, account, now).await? {
            Ok(()) => (format!("user change applied to {account}"), Some(account)),
            Err(why) => anyhow::bail!("cannot apply: {why}"),
        },
        Action::RecordPayment { account } => {
            // a person's approval, of a claim or of a notice: not a bank's word
            record_payment(&mut tx, actor, &r, account, message, &body_digest(&raw), "review", now).await?;
            (format!("payment recorded for {account}"), Some(account))
        }
        Action::Review { reasons, .. } | Action::RecordClaim { reasons, .. } => {
            anyhow::bail!("cannot apply: {}", reasons.join("; "))
        }
        Action::Processed | Action::Left => ("nothing to apply".to_string(), None),
    };
    if let Some(account) = account {
        tx.history(account, now, "review", &format!("review #{review} {decision} by {by}: {done}")).await?;
    }
    tx.commit().await?;
    Ok(done)
}

/// Closes a review item without acting on it; `reason` says why.
pub async fn reject(store: &Store, review: i64, reason: &str, by: &str, now: DateTime<Utc>) -> Result<()> {
    let reason = reason.trim();
    if reason.is_empty() {
        anyhow::bail!("a rejection must say why");
    }
    let mut tx = store.begin().await?;
    crate::domain::manual::decide(review, tx.review_state(review).await?.as_ref())?;
    tx.reject_review(review, reason, by, now).await?;
    tx.commit().await?;
    Ok(())
}
