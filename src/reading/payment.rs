//! Payments: bank and processor notices, customers' claims and remittance
//! advice. Amount (the amount paid, not an invoice total or a net after
//! fees), currency, method, reference, invoice numbers and payer.

use std::sync::LazyLock;

use regex::Regex;
use rust_decimal::Decimal;

/// Who says the money moved: a bank or processor, or the customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    BankNotice,
    CustomerClaim,
}

/// How the money moved, as the message says (`unknown`: none of the four,
/// or not said).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    Ach,
    Wire,
    Check,
    Card,
    #[default]
    Unknown,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Ach => "ach",
            Method::Wire => "wire",
            Method::Check => "check",
            Method::Card => "card",
            Method::Unknown => "unknown",
        }
    }

    /// As a receipt says it.
    pub fn label(self) -> &'static str {
        match self {
            Method::Ach => "ACH",
            Method::Wire => "wire transfer",
            Method::Check => "check",
            Method::Card => "card",
            Method::Unknown => "payment",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Strength {
    /// Money only promised ("we will pay").
    Weak,
    /// Money received or sent.
    Strong,
}

#[derive(Debug, Clone, Default)]
pub struct Finding {
    pub strength: Option<Strength>,
    pub amount: Option<Decimal>,
    pub currency: Option<String>,
    pub method: Method,
    pub reference: Option<String>,
    pub invoice_numbers: Vec<String>,
    pub payer: Option<String>,
    pub source: Option<Source>,
    pub doubts: Vec<String>,
    /// What each figure was read from: (`amount`, `invoice_numbers[0]`; the
    /// line), with whether the line is the subject's.
    pub evidence: Vec<(String, String, bool)>,
}

/// The first line of `text` that shows `amount` (a labelled field first).
fn line_showing(text: &str, amount: Decimal) -> Option<&str> {
    // An amount is written with its last three digits together, whatever
    // its separators ("4,250.00", "4 250,00", "4250"): a line without them
    // cannot show it, and most lines are ruled out without a search.
    let whole = amount.trunc().abs().to_string();
    let last = &whole[whole.len().saturating_sub(3)..];
    let shows = |l: &str| {
        l.contains(last)
            && (mentions(l).iter().any(|m| m.amount == amount)
                || field(l)
                    .is_some_and(|(_, v)| BARE_AMOUNT.captures(v).and_then(|c| parse_number(&c[1])) == Some(amount)))
    };
    let mut lines = super::text::lines(text).filter(|l| shows(l));
    let first = lines.next()?;
    if field(first).is_some() {
        return Some(first);
    }
    Some(lines.find(|l| field(l).is_some()).unwrap_or(first))
}

/// A money amount as written, with its currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mention {
    pub pos: usize,
    /// Just after the amount (and its currency).
    pub end: usize,
    pub amount: Decimal,
    pub currency: Option<String>,
}

static MONEY: LazyLock<Regex> = LazyLock::new(|| {
    super::keywords(
        r"(?i)(?P<pre>\b(?:usd|cad|eur|gbp|aud|chf|nzd)\b|us\$|c\$|ca\$|a\$|\$|€|£)\s?(?P<n1>-?\d{1,3}(?:[,.\x{a0}\x{202f} ]\d{3})+(?:[.,]\d{2})?|-?\d+(?:[.,]\d{2})?)|(?P<n2>\b\d{1,3}(?:[,.\x{a0}\x{202f} ]\d{3})+(?:[.,]\d{2})?|\b\d+(?:[.,]\d{2})?)[\s\x{a0}]?(?P<post>\(?(?:usd|cad|eur|gbp|aud|chf|nzd)\b\)?|€|£|\$|\bdollars\b)",
    )
});
/// A currency code in parentheses just after an amount: "$1,860.00 (CAD)"
/// says which dollars.
static CODE_AFTER: LazyLock<Regex> =
    LazyLock::new(|| super::keywords(r"(?i)^[\s\x{a0}]*\((usd|cad|eur|gbp|aud|chf|nzd)\)"));
static BARE_AMOUNT: LazyLock<Regex> =
    LazyLock::new(|| super::keywords(r"^\s*(\d{1,3}(?:[,. ]\d{3})+(?:[.,]\d{2})?|\d+(?:[.,]\d{2})?)\s*$"));
static INVOICE: LazyLock<Regex> = LazyLock::new(|| super::keywords(r"(?i)\binv[-\s]?(\d{4})[-\s]?(\d{2,6})\b"));
/// A labelled field, "Amount: $4,250.00" or "Amount | $7,918.40": this
/// pattern, read by [`field`] without a capture search.
#[cfg(test)]
static FIELD: LazyLock<Regex> = LazyLock::new(|| {
    super::keywords(r"^\s*([A-Za-z][A-Za-z0-9'’/&().#-]*(?:\s[A-Za-z0-9'’/&().#-]+){0,3}?)\s*(?::|\s\|)\s+(.+?)\s*$")
});

fn label_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '\'' | '’' | '/' | '&' | '(' | ')' | '.' | '#' | '-')
}

/// A line as a labelled field: (label, value), both trimmed; exactly what
/// [`FIELD`]'s two groups give, trimmed, and `None` where it does not match.
/// (A capture search costs ten times a match; bank notices are all fields.)
///
/// The label is one to four words of `label_char`s, the first starting with
/// a letter, each after the first preceded by exactly one whitespace
/// character; the fewest words win. After the label: whitespace and `:`,
/// or at least one whitespace and `|`; then at least one whitespace and at
/// least one more character.
fn field(line: &str) -> Option<(&str, &str)> {
    let body = line.trim_start();
    if !body.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return None;
    }
    let mut end = 0; // end of the label so far
    for words in 1..=4 {
        // the next word: one space (not before the first), then label chars
        let rest = &body[end..];
        let word_start = if words == 1 {
            0
        } else {
            match rest.chars().next() {
                Some(c) if c.is_whitespace() => c.len_utf8(),
                _ => return None,
            }
        };
        let word_len = rest[word_start..].find(|c: char| !label_char(c)).unwrap_or(rest.len() - word_start);
        if word_len == 0 {
            return None;
        }
        end += word_start + word_len;
        // the separator, then the value
        let after = &body[end..];
        let spaced = after.trim_start();
        let gap = after.len() - spaced.len();
        let value = if let Some(v) = spaced.strip_prefix(':') {
            Some(v)
        } else if gap > 0 {
            spaced.strip_prefix('|')
        } else {
            None
        };
        if let Some(v) = value
            && v.starts_with(char::is_whitespace)
            && v.chars().nth(1).is_some()
        {
            return Some((body[..end].trim(), v.trim()));
        }
    }
    None
}

/// A line laid out as a field without a separator: the label, then a tab,
/// two or more spaces or a dotted leader, then the value ("Amount
/// $2,050.00", "Paid by ACH today ...... $3,180.00"). Returns (label,
/// value), trimmed. A sentence followed by two spaces reads the same way,
/// so the caller keeps only labels it knows.
fn aligned_field(line: &str) -> Option<(&str, &str)> {
    let body = line.trim();
    if !body.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return None;
    }
    let bytes = body.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let gap_end = if bytes[i] == b'\t' {
            Some(i + 1)
        } else if bytes[i] == b' ' && bytes.get(i + 1) == Some(&b' ') {
            Some(i + 2)
        } else if bytes[i] == b' ' && body[i + 1..].starts_with("...") {
            Some(i + 4)
        } else {
            None
        };
        if let Some(mut end) = gap_end {
            while end < bytes.len() && matches!(bytes[end], b' ' | b'\t' | b'.') {
                end += 1;
            }
            let label = body[..i].trim();
            let value = body[end..].trim();
            let words = label.split_whitespace().count();
            if value.is_empty() || words == 0 || words > 5 || label.ends_with([',', '.', '!', '?', ':']) {
                return None;
            }
            return Some((label, value));
        }
        i += 1;
    }
    None
}

/// Is `label` (lower-case) one of `list`, whole or as one side of a
/// bilingual label ("Summe / Total")?
fn label_in(label: &str, list: &[&str]) -> Option<usize> {
    list.iter().position(|l| label == *l).or_else(|| {
        // (most labels have no '/': a byte search spares building a
        // substring searcher for " / ", per label and list)
        memchr::memchr(b'/', label.as_bytes())?;
        label.split(" / ").find_map(|part| list.iter().position(|l| part.trim() == *l))
    })
}

/// A label that says the money moved ("Paid by ACH today", "Total
/// charged"), though it is none of [`PAID_LABELS`].
static PAID_WORD: LazyLock<Regex> = LazyLock::new(|| {
    super::keywords(r"(?i)\b(paid|received|credited|deposited|charged|enclosed|remitted|collected)\b")
});

fn currency_code(marker: &str) -> Option<String> {
    let m = marker.trim_matches(['(', ')']).to_ascii_uppercase();
    Some(match m.as_str() {
        "$" | "US$" | "DOLLARS" => "USD".into(),
        "C$" | "CA$" => "CAD".into(),
        "A$" => "AUD".into(),
        "€" => "EUR".into(),
        "£" => "GBP".into(),
        c if c.len() == 3 && c.chars().all(|c| c.is_ascii_alphabetic()) => c.to_string(),
        _ => return None,
    })
}

/// "4,250.00", "4 250,00", "1.234,56", "4250" as a decimal.
pub fn parse_number(s: &str) -> Option<Decimal> {
    let s = s.trim();
    let neg = s.starts_with('-');
    let s = s.trim_start_matches('-');
    let last_sep = s.rfind([',', '.']);
    let (int, frac) = match last_sep {
        Some(p) if s.len() - p - 1 == 2 => (&s[..p], &s[p + 1..]),
        _ => (s, ""),
    };
    let int: String = int.chars().filter(|c| c.is_ascii_digit()).collect();
    if int.is_empty() {
        return None;
    }
    let text = if frac.is_empty() { int } else { format!("{int}.{frac}") };
    let d: Decimal = text.parse().ok()?;
    Some(if neg { -d } else { d })
}

/// What every [`MONEY`] match holds, under the same case folding: its
/// currency, as a code, a sign or "dollars". A search for these literals
/// alone is cheaper than [`MONEY`]'s, and rules out most lines with digits
/// (dates, phone and invoice numbers).
static CURRENCY_MARK: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)usd|cad|eur|gbp|aud|chf|nzd|dollars|\$|€|£").expect("regex"));

pub fn mentions(text: &str) -> Vec<Mention> {
    // every amount has a digit (most lines have none) and a currency
    if !text.bytes().any(|b| b.is_ascii_digit()) || !CURRENCY_MARK.is_match(text) {
        return Vec::new();
    }
    MONEY
        .captures_iter(text)
        .filter_map(|c| {
            let pos = c.get(0)?.start();
            let (num, marker) = match (c.name("n1"), c.name("n2")) {
                (Some(n), _) => (n.as_str(), c.name("pre")?.as_str()),
                (None, Some(n)) => (n.as_str(), c.name("post")?.as_str()),
                _ => return None,
            };
            let end = c.get(0)?.end();
            let currency =
                CODE_AFTER.captures(&text[end..]).and_then(|k| currency_code(&k[1])).or_else(|| currency_code(marker));
            // "-$270.00", "−$78.44": a deduction
            let minus = text[..pos].ends_with(['-', '−']);
            let amount = parse_number(num)?;
            let amount = if minus { -amount } else { amount };
            Some(Mention { pos, end, amount, currency })
        })
        .collect()
}

/// Invoice numbers in `text`, upper-cased, in order, no duplicates.
pub fn invoice_numbers(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in INVOICE.captures_iter(text) {
        let n = format!("INV-{}-{}", &c[1], &c[2]);
        if !out.contains(&n) {
            out.push(n);
        }
    }
    out
}

/// Labels whose amount is the money that moved, best first.
const PAID_LABELS: &[&str] = &[
    "amount paid",
    "paid amount",
    "payment amount",
    "amount of payment",
    "amount received",
    "received amount",
    "credit amount",
    "amount credited",
    "credited amount",
    "deposit amount",
    "transfer amount",
    "wire amount",
    "remittance amount",
    "check amount",
    "total paid",
    "payment total",
    "total payment",
    "gross amount",
];
const AMOUNT_LABELS: &[&str] = &[
    "amount",
    "currency and amount",
    "deposit total",
    "total deposit",
    "total amount",
    "deposit",
    "total",
    "value",
    "payment",
    "sum",
];
/// Words in a label or just before an amount that make it not the amount paid.
static NOT_PAID: LazyLock<Regex> = LazyLock::new(|| {
    super::keywords(
        r"(?i)\b(invoice|invoiced|fee|fees|net|discount|balance|due|remaining|outstanding|owe|owed|owing|original|instead\s+of|rather\s+than|was|previous|previously|available|limit|price|pricing|rate|per|cost|costs|charge|surcharge|extra|instructed)\b",
    )
});

/// Words just after an amount that make it not the amount paid: "$225.00
/// available on", "$60.00 more than", "the $2,940.00 invoice".
static NOT_PAID_AFTER: LazyLock<Regex> = LazyLock::new(|| {
    super::keywords(
        r"(?i)^[\s(]*(available|more\s+than|less\s+than|over\s+the|short|invoice|balance|fee|fees|due|remaining|outstanding|limit|discount|surcharge)\b",
    )
});
/// "$2,480.00 each": one of several equal parts.
static EACH_AFTER: LazyLock<Regex> = LazyLock::new(|| super::keywords(r"(?i)^[\s(]*(each|apiece|per\s+invoice)\b"));

static CARD: LazyLock<Regex> = LazyLock::new(|| {
    super::keywords(
        r"(?i)\b(visa|mastercard|master\s+card|amex|american\s+express|discover\s+card|credit\s+card|debit\s+card|card\s+ending|by\s+card|card\s+payment|paid\s+by\s+card|(?:on|with|w/|using|via|through)\s+(?:the\s+|our\s+|my\s+|a\s+)?(?:company\s+|corporate\s+|business\s+|credit\s+|debit\s+|virtual\s+)?card|virtual\s+card)\b|•{2,}\s?\d{4}|\*{4}\s?\d{4}\s+(?:visa|mc)",
    )
});
static WIRE: LazyLock<Regex> =
    LazyLock::new(|| super::keywords(r"(?i)\b(wire|wired|wires|swift|fedwire|imad|omad|chips)\b"));
static CHECK: LazyLock<Regex> = LazyLock::new(|| {
    super::keywords(
        r"(?i)\b(?:check|cheque)\s*(?:#|no\.?|number|num)\s*\d|\b(?:by|via|mailed|mailed\s+a|sent\s+a|a|our|the|paper|partial)\s+(?:check|cheque)\b|\blockbox\b|\b(?:check|cheque)\s+(?:deposit|payment|mailed|for\s+\$)",
    )
});
static ACH: LazyLock<Regex> = LazyLock::new(|| {
    super::keywords(r"(?i)\b(ach|eft|direct\s+deposit|electronic\s+funds\s+transfer|ccd|ctx|ppd|e-?check)\b")
});

static NOTICE: LazyLock<Regex> = LazyLock::new(|| {
    super::keywords(
        r"(?i)\b(ach\s+credit|ach\s+payment|incoming\s+(?:ach|wire|international\s+wire|payment|transfer)|wire\s+transfer\s+notification|deposit\s+(?:notification|alert)|has\s+been\s+(?:posted|credited|deposited|received)|was\s+(?:posted|credited|deposited|received)|we\s+have\s+(?:credited|received)|has\s+received|have\s+received|payment\s+received|you've\s+received|you\s+have\s+received|paid\s+invoice|credited\s+(?:to\s+)?(?:your|the)|funds\s+(?:are\s+)?available|deposit\s+(?:was|has)|received\s+(?:a|an|the)\s+(?:ach|wire|payment|deposit)|you\s+received|payment\s+from\b[^.]{0,60}\b(?:was|has\s+been)\s+(?:received|deposited|credited)|transaction\s+(?:has\s+been|was|is)\s+approved|payment\b[^\n!?]{0,30}\bsucceeded|crdt|lockbox|(?:check|cheque|payment|wire|deposit)\s+(?:#\s*\d+\s+)?from\s+[A-Z])\b",
    )
});
/// Wording that can only mean money came in to us: someone "sent you" a
/// payment, "you received a payment from", a credit or deposit notice.
/// Unlike [`NOTICE`], a bill's words ("balance due") beside it do not make
/// it a bill to us: a partial payment's notice shows the balance left.
static INCOMING: LazyLock<Regex> = LazyLock::new(|| {
    super::keywords(
        r"(?i)\b(sent\s+you\s+(?:a\s+|an\s+)?(?:payment|money|check|cheque|funds|transfer|\$)|you\s+got\s+paid|you(?:'ve|\s+have)?\s+received\s+(?:a|an)\s+(?:[a-z]+\s+){0,2}(?:payment|transfer|deposit|credit|wire)|payment\s+received\s+from|credit\s+(?:notification|advice|alert|memo)|deposit\s+(?:notification|received|confirmation)|received\s+your\s+(?:mobile\s+)?deposit|ach\s+received|received\s+items?\b|incoming\s+(?:ach|wire|international\s+wire|payment|transfer|credit)|(?:credited|deposited)\s+(?:in)?to\s+your|vous\s+a\s+envoy)",
    )
});
/// A notice of money leaving us: our own bill payment, a returned or
/// reversed credit.
static OUTGOING: LazyLock<Regex> = LazyLock::new(|| {
    super::keywords(
        r"(?im)\b(your\s+payment\s+to\b|^\s*pay\s+from\s*:|returned\s+ach|ach\s+return|return\s+(?:notification|reason)|have\s+been\s+reversed|was\s+reversed|debit\s+to\s+your\s+account|chargeback|dispute\s+(?:opened|filed))",
    )
});
/// A sentence whose first word is a payment verb and whose object is an
/// amount: "Paid $1,185.00 on your portal", "Sent $425 through Zelle". The
/// elided subject is the sender.
static ELIDED_CLAIM: LazyLock<Regex> = LazyLock::new(|| {
    super::keywords(
        r"(?im)(?:^|[.!?]\s)\s*(?:just\s+|already\s+)?(?:(?:paid|sent|mailed|wired|transferred|remitted|submitted)\s+(?:you\s+|over\s+)?(?:\$|usd\b|us\$|€|£|\d)|paid\s+(?:invoice|inv)|(?:paid|payment\s+(?:sent|made))\s*(?:[.!,–—-]|$))",
    )
});
static CLAIM: LazyLock<Regex> = LazyLock::new(|| {
    super::keywords(
        r"(?i)\b(?:we|i|our\s+(?:ap|accounts\s+payable)(?:\s+team)?)\s+(?:have\s+|had\s+|just\s+|already\s+|also\s+)*(?:sent|paid|mailed|wired|transferred|submitted|initiated|remitted|scheduled|processed|made|issued|released|dropped)\b|\b(?:payment|check|cheque|ach|wire|transfer|funds)\s+(?:was|were|has\s+been|have\s+been|is|went|got)\s+(?:sent|mailed|made|initiated|submitted|processed|out|issued|released|scheduled|on\s+its\s+way)|\bremittance\s+advice\b|\bpayment\s+(?:sent|made|mailed|submitted|confirmation)\b|\bpaid\s+(?:this|today|yesterday|in\s+full|on|via|by|through|online)\b|\bwent\s+out\b|\bin\s+(?:today's|the)\s+mail\b|\bhas\s+been\s+paid\b|\bremittance\s+(?:for|below|attached|details)\b|\b(?:processed|sent|initiated|submitted|issued|released|remitted|made|scheduled|mailed|wired|transferred)\b[^.;]{0,40}\b(?:payment|check|cheque|ach|wire|transfer|funds)\b|\b(?:payment|check|cheque|ach|wire|transfer|funds)\b[^.;?]{0,40}\b(?:processed|initiated|submitted|issued|released|remitted|mailed|wired|went\s+out)\b",
    )
});
static PROMISE: LazyLock<Regex> = LazyLock::new(|| {
    super::keywords(
        r"(?i)\b(?:will|we'll|i'll|going\s+to|plan\s+to|planning\s+to|intend\s+to)\s+(?:pay|send|mail|wire|remit|process|initiate)\b",
    )
});
static AUTOMATED_SENDER: LazyLock<Regex> = LazyLock::new(|| {
    super::keywords(
        r"(?i)^(alerts?|no-?reply|noreply|donotreply|do-not-reply|notify|notifications?|receipts?|lockbox|wires?|intlwires|treasury|payments?|remittances?|ach|deposits?|banking|statements?|cashmanagement|cash\.management|service)[@.+_-]",
    )
});
static BANKISH_NAME: LazyLock<Regex> = LazyLock::new(|| {
    super::keywords(
        r"(?i)\b(bank|banking|treasury|lockbox|credit\s+union|receipts|payments|wire\s+services|merchant\s+services|paystream|stripe|square|paypal|bancorp|savings)\b",
    )
});

/// A vendor's bill or receipt to the company itself: money owed or paid by
/// us, not to us.
static OUR_BILL: LazyLock<Regex> = LazyLock::new(|| {
    super::keywords(
        r"(?i)\b(thank\s+you\s+for\s+your\s+(?:payment|order|purchase)|your\s+(?:payment|order|purchase|subscription)\s+(?:of|was|has|for|is)|we\s+(?:have\s+)?received\s+your\s+payment|receipt\s+for\s+your|autopay|auto-pay|will\s+(?:be\s+)?charged?|amount\s+due|payment\s+due|balance\s+due|is\s+ready|past\s+due\s+notice|pay\s+(?:now|online))\b",
    )
});

/// Everything asked of a whole message, matched in one pass over it: the
/// wording (claim, notice, bill, promise, direction), several payments, a
/// conversion, and the four methods. (Three passes over the text before:
/// about 4% of the reader's time.)
static WORDING: LazyLock<super::OnePass> = LazyLock::new(|| {
    super::OnePass::new(vec![
        &CLAIM,
        &NOTICE,
        &OUR_BILL,
        &PROMISE,
        &INCOMING,
        &OUTGOING,
        &ELIDED_CLAIM,
        &SEVERAL_PAYMENTS,
        &CONVERSION,
        &CARD,
        &WIRE,
        &CHECK,
        &ACH,
    ])
});

/// A notice that reports more than one payment: "2 ACH credits posted today".
static SEVERAL_PAYMENTS: LazyLock<Regex> = LazyLock::new(|| {
    super::keywords(
        r"(?i)\b([2-9]|\d{2,3}|two|three|four|five|six|seven|eight|nine|ten)\s+(?:incoming\s+|new\s+)?(?:ach\s+|wire\s+|check\s+)?(?:credits|payments|deposits|transfers|wires|remittances)\s+(?:posted|received|credited|deposited|today|were|have)\b",
    )
});
/// A SWIFT settlement field: `:32A:` value date, currency, amount.
static SWIFT_32A: LazyLock<Regex> = LazyLock::new(|| Regex::new(r":32A:\s*\d{6}([A-Z]{3})(\d[\d,.]*)").expect("regex"));
/// Words that explain two currencies: a conversion.
static CONVERSION: LazyLock<Regex> =
    LazyLock::new(|| super::keywords(r"(?i)(:33B:|:36:|\bexchange\s+rate\b|\bfx\s+rate\b|\bconver(?:ted|sion)\b)"));

/// Words without which a message cannot be about money received or sent.
static MONEY_WORDS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)pai|pay|deposit|credit|wire|ach|check|cheque|remit|receiv|transfer|\$|usd|eur|cad|gbp|€|£|lockbox|funds|mailed")
        .expect("regex")
});

const METHOD_LABELS: &[&str] =
    &["payment method", "method", "payment type", "deposit type", "type", "entry class", "sec code", "payment rail"];
const REFERENCE_LABELS: &[&str] = &[
    "trace number",
    "trace no",
    "trace #",
    "sender reference",
    "sender's reference",
    "reference",
    "reference number",
    "confirmation",
    "confirmation number",
    "transaction id",
    "transaction",
    "payment number",
    "check no",
    "check number",
    "imad",
    "ref",
];
const PAYER_LABELS: &[&str] = &[
    "originator",
    "ordering customer",
    "remitter",
    "payer",
    "from",
    "customer",
    "sender",
    "received from",
    "paid by",
    "company name",
];

/// The four methods' patterns in one pass, to count only those present.
static METHODS: LazyLock<super::OnePass> = LazyLock::new(|| super::OnePass::new(vec![&CARD, &WIRE, &CHECK, &ACH]));

/// The methods `text` names, once per mention, in the order card, wire,
/// check, ACH; `present` is what a set holding the four saw in it.
fn method_in(text: &str, present: &super::Seen) -> Vec<Method> {
    let mut hits = Vec::new();
    for (re, m) in [(&*CARD, Method::Card), (&*WIRE, Method::Wire), (&*CHECK, Method::Check), (&*ACH, Method::Ach)] {
        if present.has(re) {
            hits.extend(re.find_iter(text).map(|_| m));
        }
    }
    hits
}

/// Does a line look like a table row rather than a sentence?
fn tabular(line: &str) -> bool {
    line.contains(" | ") || line.matches("   ").count() >= 2
}

/// Does the message come from a bank or a payment processor: a bank's or
/// processor's name, a bank's domain, or a payments mailbox? Such a sender
/// reports money; it never asks for users.
pub fn financial_sender(from: &str, from_name: Option<&str>) -> bool {
    static FINANCIAL_BOX: LazyLock<Regex> = LazyLock::new(|| {
        super::keywords(
            r"(?i)^(lockbox|wires?|intlwires|treasury|payments?|remittances?|ach|deposits?|banking|cashmanagement|cash\.management|billpay|mobiledeposit)[@.+_-]",
        )
    });
    FINANCIAL_BOX.is_match(from) || bankish(from, from_name)
}

/// A bank's or processor's name in the display name, or a bank's domain.
fn bankish(from: &str, from_name: Option<&str>) -> bool {
    from_name.is_some_and(|n| BANKISH_NAME.is_match(n)) || from.split('@').nth(1).is_some_and(|d| d.contains("bank"))
}

/// Reads a payment from the request text (quotes removed), the subject and
/// the sender.
pub fn analyze(text: &str, subject: &str, from: &str, from_name: Option<&str>) -> Finding {
    let mut f = Finding { method: Method::Unknown, ..Finding::default() };
    let all = format!("{subject}\n{text}");
    if !MONEY_WORDS.is_match(&all) {
        return f;
    }
    let automated = AUTOMATED_SENDER.is_match(from) || bankish(from, from_name);
    // the four kinds of wording in one pass over the text
    let said = WORDING.over(&all);
    // money leaving us (our bill payment, a returned credit) is no payment
    // received, whatever else the notice says
    if automated && said.has(&OUTGOING) {
        return f;
    }
    let claim = said.has(&CLAIM) || said.has(&ELIDED_CLAIM);
    // a bill or receipt addressed to us is not money received
    let notice = said.has(&INCOMING) || (said.has(&NOTICE) && (claim || !said.has(&OUR_BILL)));
    let promise = !claim && !notice && said.has(&PROMISE);
    f.strength = if (notice && automated) || claim || (notice && !mentions(&all).is_empty()) {
        Some(Strength::Strong)
    } else if promise && (!mentions(text).is_empty() || !invoice_numbers(text).is_empty()) {
        f.doubts.push("says a payment will be made; nothing paid yet".into());
        Some(Strength::Weak)
    } else {
        None
    };
    if f.strength.is_none() {
        return f;
    }
    f.source = Some(if automated && (notice || !claim) { Source::BankNotice } else { Source::CustomerClaim });

    // labelled fields: "Amount: $4,250.00", "Amount | $7,918.40"
    // (a field has a ':' or a '|'; most lines have neither and skip the pattern)
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut prose_lines: Vec<&str> = Vec::new();
    let known = |label: &str| {
        [PAID_LABELS, AMOUNT_LABELS, METHOD_LABELS, REFERENCE_LABELS, PAYER_LABELS, &["currency"]]
            .iter()
            .any(|list| label_in(label, list).is_some())
            || PAID_WORD.is_match(label)
            || NOT_PAID.is_match(label)
    };
    for line in super::text::lines(text) {
        if let Some((label, value)) = line.contains([':', '|']).then(|| field(line)).flatten() {
            fields.push((label.to_ascii_lowercase(), value.to_string()));
        } else if let Some((label, value)) = aligned_field(line).filter(|(l, _)| known(&l.to_ascii_lowercase())) {
            fields.push((label.to_ascii_lowercase(), value.to_string()));
        } else {
            prose_lines.push(line);
        }
    }
    let field_amount = |label: &str, value: &str| -> Option<Mention> {
        if let Some(m) = mentions(value).into_iter().next() {
            return Some(m);
        }
        let c = BARE_AMOUNT.captures(value)?;
        let cur = ["usd", "cad", "eur", "gbp"].iter().find(|c| label.contains(*c)).and_then(|c| currency_code(c));
        Some(Mention { pos: 0, end: value.len(), amount: parse_number(&c[1])?, currency: cur })
    };
    let mut labelled: Option<(usize, Mention)> = None;
    let mut labelled_conflict = false;
    for (label, value) in &fields {
        let rank = label_in(label, PAID_LABELS)
            .or_else(|| {
                (PAID_WORD.is_match(label) && !NOT_PAID.is_match(label) && !mentions(value).is_empty()).then_some(50)
            })
            .or_else(|| label_in(label, AMOUNT_LABELS).filter(|_| !NOT_PAID.is_match(label)).map(|p| p + 100));
        let Some(rank) = rank else { continue };
        let Some(m) = field_amount(label, value) else { continue };
        if m.amount <= Decimal::ZERO {
            continue;
        }
        match &labelled {
            Some((r, best)) if *r == rank && best.amount != m.amount => labelled_conflict = true,
            Some((r, _)) if *r <= rank => {}
            _ => labelled = Some((rank, m)),
        }
    }
    // amounts in sentences, minus invoice totals, balances, fees
    let mut prose: Vec<Mention> = Vec::new();
    // amounts that are parts of another: "$2,480.00 each", a remittance line
    let mut parts: Vec<Decimal> = Vec::new();
    let mut previous = "";
    for line in prose_lines {
        let found = mentions(line);
        if found.is_empty() || tabular(line) {
            previous = line;
            continue;
        }
        let lower = line.to_ascii_lowercase();
        for m in found {
            let before = &lower[..m.pos.min(lower.len())];
            // the words just before it; all of a label ending in ':' ("Available
            // balance after this payment: $58,917.30")
            let start = if before.trim_end().ends_with(':') {
                0
            } else {
                before.char_indices().rev().nth(24).map(|(i, _)| i).unwrap_or(0)
            };
            let mut context = before[start..].to_string();
            if !before.chars().any(char::is_alphabetic) {
                // a line that starts with the amount continues the one above
                let prev = previous.to_ascii_lowercase();
                let from = prev.char_indices().rev().nth(40).map(|(i, _)| i).unwrap_or(0);
                context = format!("{} {context}", &prev[from..]);
            }
            let after = &lower[m.end.min(lower.len())..];
            if NOT_PAID.is_match(&context) || NOT_PAID_AFTER.is_match(after) || m.amount <= Decimal::ZERO {
                continue;
            }
            if EACH_AFTER.is_match(after) {
                parts.push(m.amount);
                continue;
            }
            if !prose.iter().any(|p| p.amount == m.amount) {
                prose.push(m);
            }
        }
        previous = line;
    }
    // lines that add up to another amount are its parts (remittance lines
    // under their total): the total is the payment
    if prose.len() > 2 || (prose.len() == 2 && labelled.is_some()) {
        let total = labelled.as_ref().map(|(_, l)| l.amount).or_else(|| prose.iter().map(|p| p.amount).max());
        if let Some(t) = total {
            let rest: Decimal = prose.iter().filter(|p| p.amount != t).map(|p| p.amount).sum();
            if rest == t {
                prose.retain(|p| p.amount == t);
            }
        }
    }
    if prose.len() > 1 && !parts.is_empty() {
        // "$4,960.00 total ($2,480.00 each)": what is left is the total
        prose.retain(|p| !parts.contains(&p.amount));
    }
    let chosen = match (&labelled, prose.as_slice()) {
        (Some((_, l)), p) => {
            if labelled_conflict {
                f.doubts.push("two different amounts in the payment details".into());
            }
            if let Some(other) = p.iter().find(|m| m.amount != l.amount) {
                f.doubts
                    .push(format!("two different amounts: {} in the text, {} in the details", other.amount, l.amount));
            }
            Some(l.clone())
        }
        (None, [one]) => Some(one.clone()),
        (None, []) => {
            f.doubts.push("no amount found".into());
            None
        }
        (None, many) => {
            let list: Vec<String> = many.iter().map(|m| m.amount.to_string()).collect();
            f.doubts.push(format!("several amounts ({}); which was paid is not clear", list.join(", ")));
            Some(many[0].clone())
        }
    };
    if said.has(&SEVERAL_PAYMENTS) {
        f.doubts.push("the notice reports several payments; a reading holds one".into());
    }
    if let Some(m) = &chosen
        && !said.has(&CONVERSION)
    {
        // the same figure in two currencies, with no conversion between them
        let mut same: Vec<String> = mentions(&all)
            .into_iter()
            .filter(|x| x.amount == m.amount)
            .filter_map(|x| x.currency)
            .chain(
                SWIFT_32A
                    .captures_iter(&all)
                    .filter(|c| parse_number(&c[2]) == Some(m.amount))
                    .map(|c| c[1].to_string()),
            )
            .collect();
        same.sort();
        same.dedup();
        if same.len() > 1 {
            f.doubts.push(format!("the amount appears in two currencies ({})", same.join(", ")));
        }
    }
    if let Some(m) = chosen {
        for s in mentions(subject) {
            if s.amount != m.amount && !NOT_PAID.is_match(&subject.to_ascii_lowercase()) {
                f.doubts.push(format!("the subject says {} but the text says {}", s.amount, m.amount));
            }
        }
        // a bare amount takes the currency of its own field ("Currency: USD")
        f.currency = m.currency.clone().or_else(|| {
            fields
                .iter()
                .filter(|(l, _)| label_in(l, &["currency"]).is_some())
                .find_map(|(_, v)| currency_code(v.trim()).filter(|c| c.len() == 3))
        });
        if f.currency.is_none() {
            f.doubts.push("the currency is not shown".into());
        }
        f.amount = Some(m.amount.round_dp(2));
    }

    // method: a labelled one first, else the one the text names most
    let labelled_method = fields
        .iter()
        .filter(|(l, _)| label_in(l, METHOD_LABELS).is_some())
        .flat_map(|(_, v)| method_in(v, &METHODS.over(v)))
        .next();
    f.method = match labelled_method {
        Some(m) => m,
        None => {
            let hits = method_in(&all, &said);
            let mut best: Vec<(Method, usize)> = Vec::new();
            for h in &hits {
                match best.iter_mut().find(|(m, _)| m == h) {
                    Some(e) => e.1 += 1,
                    None => best.push((*h, 1)),
                }
            }
            best.sort_by_key(|b| std::cmp::Reverse(b.1));
            match best.as_slice() {
                [] => Method::Unknown,
                [(m, _)] => *m,
                [(m, a), (_, b), ..] if a > b => *m,
                _ => {
                    f.doubts.push("names more than one payment method".into());
                    Method::Unknown
                }
            }
        }
    };
    // a method none of the four (an instant rail, or none stated) is `unknown`:
    // it changes nothing that is applied, so it is no doubt

    let body_numbers = invoice_numbers(text);
    let subject_numbers = invoice_numbers(subject);
    f.invoice_numbers = if body_numbers.is_empty() { subject_numbers.clone() } else { body_numbers.clone() };
    if let Some(a) = f.amount {
        match line_showing(text, a) {
            Some(l) => f.evidence.push(("amount".into(), l.to_string(), false)),
            None if line_showing(subject, a).is_some() => f.evidence.push(("amount".into(), subject.to_string(), true)),
            None => {}
        }
    }
    for (i, n) in f.invoice_numbers.iter().enumerate() {
        // (a line that holds it holds its two runs of digits: most lines are
        // ruled out without a search)
        let digits: Vec<&str> = n.split('-').skip(1).collect();
        let line = super::text::lines(text)
            .filter(|l| digits.iter().all(|d| l.contains(d)))
            .find(|l| invoice_numbers(l).contains(n));
        f.evidence.push(match line {
            Some(l) => (format!("invoice_numbers[{i}]"), l.to_string(), false),
            None => (format!("invoice_numbers[{i}]"), subject.to_string(), true),
        });
    }
    if !body_numbers.is_empty() && subject_numbers.iter().any(|n| !body_numbers.contains(n)) {
        f.doubts.push("the subject and the text name different invoices".into());
    }
    if f.invoice_numbers.is_empty() {
        f.doubts.push("no invoice number".into());
    }

    f.reference = fields
        .iter()
        .filter(|(l, _)| label_in(l, REFERENCE_LABELS).is_some())
        .map(|(_, v)| v.split_whitespace().next().unwrap_or("").to_string())
        .find(|v| v.len() >= 3)
        .or_else(|| {
            static REF: LazyLock<Regex> = LazyLock::new(|| {
                super::keywords(r"(?i)\b(?:confirmation|conf|reference|ref|trace|transaction)\s*(?:number|no\.?|#|id|code)?\s*[:#]?\s*([A-Z0-9][A-Z0-9-]{3,})|\b(?:check|cheque)\s*#\s*(\d{2,})")
            });
            REF.captures(text).and_then(|c| c.get(1).or(c.get(2))).map(|m| m.as_str().to_string())
        });
    f.payer = fields
        .iter()
        .filter(|(l, _)| label_in(l, PAYER_LABELS).is_some())
        .map(|(_, v)| v.trim().to_string())
        .find(|v| !v.is_empty() && !v.contains('@') && mentions(v).is_empty());
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Every amount holds a currency mark: a text without one has none.
        #[test]
        fn every_amount_holds_a_currency_mark(t in "[0-9 ,.$€£()\u{a0}udsUDSſcaCAeErRgbpGBPlLoO-]{0,24}") {
            proptest::prop_assert!(!MONEY.is_match(&t) || CURRENCY_MARK.is_match(&t), "{:?}", t);
        }

        /// `field` reads a line exactly as the FIELD pattern does.
        #[test]
        fn field_is_the_pattern(line in "[ \t]{0,2}[A-Za-z0-9 :|’'.#é\t-]{0,30}") {
            let by_pattern = FIELD.captures(&line).map(|c| (c.get(1).unwrap().as_str().trim(), c.get(2).unwrap().as_str().trim()));
            proptest::prop_assert_eq!(field(&line), by_pattern);
        }

        /// The same for lines shaped like fields: words, spaces, a separator.
        #[test]
        fn field_is_the_pattern_on_field_like_lines(
            line in "[ ]{0,2}[A-Za-z(][A-Za-z0-9.#’/-]{0,6}([ \t]{1,2}[A-Za-z0-9.#é-]{1,5}){0,5}[ \t]{0,2}[:|][ \t]{0,2}[a-z0-9 $.|:]{0,6}"
        ) {
            let by_pattern = FIELD.captures(&line).map(|c| (c.get(1).unwrap().as_str().trim(), c.get(2).unwrap().as_str().trim()));
            proptest::prop_assert_eq!(field(&line), by_pattern);
        }
    }

    #[test]
    fn each_pattern_asked_about_is_in_its_set() {
        let wording = [&*CLAIM, &NOTICE, &OUR_BILL, &PROMISE, &INCOMING, &OUTGOING, &ELIDED_CLAIM];
        for re in wording.into_iter().chain([&*SEVERAL_PAYMENTS, &CONVERSION]) {
            assert!(WORDING.holds(re), "{}", re.as_str());
        }
        // the methods are asked of the whole message and of a field's value
        for re in [&*CARD, &WIRE, &CHECK, &ACH] {
            assert!(WORDING.holds(re) && METHODS.holds(re), "{}", re.as_str());
        }
    }

    #[test]
    fn fields_as_the_pattern_reads_them() {
        for line in [
            "Amount: $4,250.00",
            "  Amount Paid  :   $4,250.00  ",
            "Amount | $7,918.40",
            "Amount| $7,918.40",
            "Trace No:   0212 3344",
            "Sender's Reference: ABC-1",
            "a b c d e: too many words",
            "Hi Dana, thanks: we paid",
            "Note:x",
            "Note: ",
            "Note:  ",
            "Ref #: 123",
            "9am: meeting",
            "Paid by | Acme",
            "Amount:\t€1.234,56",
        ] {
            let by_pattern =
                FIELD.captures(line).map(|c| (c.get(1).unwrap().as_str().trim(), c.get(2).unwrap().as_str().trim()));
            assert_eq!(field(line), by_pattern, "{line:?}");
        }
    }

    #[test]
    fn amounts_in_common_formats() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        let m =
            |t: &str| mentions(t).into_iter().map(|m| (m.amount, m.currency.unwrap_or_default())).collect::<Vec<_>>();
        assert_eq!(m("$4,250.00"), [(d("4250.00"), "USD".into())]);
        assert_eq!(m("USD 4 250,00"), [(d("4250.00"), "USD".into())]);
        assert_eq!(m("1.234,56 EUR"), [(d("1234.56"), "EUR".into())]);
        assert_eq!(m("CAD 4,870.25"), [(d("4870.25"), "CAD".into())]);
        assert_eq!(m("paid 4250 dollars"), [(d("4250"), "USD".into())]);
        assert_eq!(m("€1.234,56"), [(d("1234.56"), "EUR".into())]);
    }

    #[test]
    fn invoice_numbers_are_normalised() {
        assert_eq!(
            invoice_numbers("RMR*IV*inv-2026-0148*1890.00\\ and INV-2026-0133, INV-2026-0148"),
            ["INV-2026-0148", "INV-2026-0133"]
        );
        assert!(invoice_numbers("CV-2026-88213").is_empty());
    }

    #[test]
    fn the_amount_paid_not_the_total() {
        let f = analyze(
            "We mailed a partial payment today: check #5521 for $2,000.00 toward INV-2026-0160 (invoice total $3,450.00). We plan to pay the remaining $1,450.00 by December 20.",
            "Partial payment on INV-2026-0160",
            "dc@meridian.example",
            None,
        );
        assert_eq!(f.amount, Some("2000.00".parse().unwrap()));
        assert_eq!(f.method, Method::Check);
        assert_eq!(f.source, Some(Source::CustomerClaim));
        assert!(f.doubts.is_empty(), "{:?}", f.doubts);
    }

    fn amount(f: &Finding) -> Option<String> {
        f.amount.map(|a| format!("{a:.2}"))
    }

    #[test]
    fn aligned_and_dotted_fields_are_read() {
        assert_eq!(aligned_field("Amount                $2,050.00"), Some(("Amount", "$2,050.00")));
        assert_eq!(aligned_field("  Paid by ACH today .......... $3,180.00"), Some(("Paid by ACH today", "$3,180.00")));
        assert_eq!(aligned_field("Amount\t$5.00"), Some(("Amount", "$5.00")));
        // a sentence, two spaces, another sentence: no label
        assert_eq!(aligned_field("Thanks.  We paid $300 today"), None);
        assert_eq!(aligned_field("$300  paid"), None);
        let f = analyze(
            "Payment of $2,050.00 succeeded\n\nAmount                $2,050.00\nFee                   $5.00\nNet                   $2,045.00\nPayment method        ACH Direct Debit\nDescription           Acme - INV-2026-0228\n",
            "Payment of $2,050.00 succeeded",
            "notifications@processor.example",
            Some("Processor"),
        );
        assert_eq!(amount(&f).as_deref(), Some("2050.00"));
        assert_eq!(f.method, Method::Ach);
        assert!(f.doubts.is_empty(), "{:?}", f.doubts);
    }

    #[test]
    fn currency_codes_after_the_amount_and_in_their_own_field() {
        let m = mentions("sent you $1,860.00 (CAD) and 1\u{a0}860,00 $ (CAD)");
        assert_eq!(m.len(), 2, "{m:?}");
        assert!(m.iter().all(|m| m.currency.as_deref() == Some("CAD") && m.amount == Decimal::new(186000, 2)));
        assert_eq!(mentions("Amount : 4,120.00 (USD)")[0].currency.as_deref(), Some("USD"));
        let f = analyze(
            "ACH Received Item Detail\n  Amount:                1,740.00\n  Currency:              USD\n  Addenda:  RMR*IV*INV20260219*1740.00\\\n",
            "ACH Received Item Detail - 1 credit",
            "treasury.reports@bank.example",
            None,
        );
        assert_eq!((amount(&f).as_deref(), f.currency.as_deref()), (Some("1740.00"), Some("USD")));
        assert_eq!(f.invoice_numbers, ["INV-2026-0219"]);
    }

    #[test]
    fn deductions_availability_and_parts_are_not_the_payment() {
        // "-$270.00" is a deduction; "$90 each" a part
        let f = analyze(
            "We've paid INV-2026-0257 short.\n  Invoice INV-2026-0257 ........ $3,450.00\n  Less: removed logins ........ -$270.00\n  Paid by ACH today ............ $3,180.00\nAll three are still billed at $90 each.",
            "Short pay",
            "jw@vet.example",
            None,
        );
        assert_eq!(amount(&f).as_deref(), Some("3180.00"));
        assert!(f.doubts.is_empty(), "{:?}", f.doubts);
        // funds availability and a limit are not deposits
        let f = analyze(
            "We received your mobile deposit.\nDeposit amount:  $780.00\nMemo: INV-2026-0186\nFunds availability\n  $225.00 available on 12/02\n  $555.00 available on 12/03\nYour remaining limit today is $24,220.00.",
            "Mobile Deposit Received",
            "mobiledeposit@bank.example",
            None,
        );
        assert_eq!(amount(&f).as_deref(), Some("780.00"));
        assert!(f.doubts.is_empty(), "{:?}", f.doubts);
        // "$4,960.00 total ($2,480.00 each)"
        let f = analyze(
            "We paid INV-2026-0161 and INV-2026-0194 together yesterday in one ACH - $4,960.00 total ($2,480.00 each).",
            "Two invoices paid",
            "bc@clinic.example",
            None,
        );
        assert_eq!(amount(&f).as_deref(), Some("4960.00"));
        assert!(f.doubts.is_empty(), "{:?}", f.doubts);
        // remittance lines that add up to the amount are its parts
        let f = analyze(
            "Acme sent you a payment\nAmount: $2,760.00\nInvoices paid\n  INV-2026-0183    $240.00\n  INV-2026-0199    $2,520.00\n",
            "Acme sent you a payment",
            "notifications@ap.example",
            None,
        );
        assert!(f.doubts.is_empty(), "{:?}", f.doubts);
        // ... and lines that do not are a doubt
        let f = analyze(
            "Acme sent you a payment\nAmount: $2,760.00\nInvoices paid\n  INV-2026-0183    $240.00\n  INV-2026-0199    $2,500.00\n",
            "Acme sent you a payment",
            "notifications@ap.example",
            None,
        );
        assert!(!f.doubts.is_empty());
    }

    #[test]
    fn money_in_not_money_out() {
        // a partial payment's notice shows the balance left: still money in
        let f = analyze(
            "You received a payment of $1,000.00 from Bluestem.\nInvoice no.   INV-2026-0213\nAmount paid   $1,000.00\nBalance due   $1,460.00\n",
            "Payment received from Bluestem",
            "quickbooks@notification.example",
            Some("QuickBooks Payments"),
        );
        assert_eq!(f.strength, Some(Strength::Strong));
        assert_eq!(amount(&f).as_deref(), Some("1000.00"));
        // our own bill payment, a returned credit: no payment received
        for (text, subject) in [
            (
                "Your payment was sent.\nPay to:   APEX TELECOM\nAmount:   $1,299.00\nPay from: Business Checking",
                "Your payment to APEX TELECOM was sent",
            ),
            (
                "A returned ACH entry has posted to your account.\nReturn amount: $2,480.00 (DEBIT to your account)",
                "ACH Return Notification",
            ),
        ] {
            let f = analyze(text, subject, "alerts@bank.example", Some("First Bank"));
            assert_eq!(f.strength, None, "{text}");
        }
        // a bank's "Payee:" is us
        let f = analyze(
            "Acme has sent you a payment.\nPayee:   KR Group LLC\nPayment amount:   USD 6,480.00\nInvoice: INV-2026-0220",
            "Payment notification",
            "notifications@ap.example",
            None,
        );
        assert_eq!(amount(&f).as_deref(), Some("6480.00"));
    }

    #[test]
    fn a_claim_may_leave_out_its_subject() {
        for (text, method) in [
            ("Paid $1,185.00 on your portal w/ the company card this morning - inv-2026-0268.", "card"),
            ("Sent $425 through Zelle a few minutes ago for inv-2026-0236.", "unknown"),
        ] {
            let f = analyze(text, "paid", "x@customer.example", None);
            assert_eq!(f.strength, Some(Strength::Strong), "{text}");
            assert_eq!(f.source, Some(Source::CustomerClaim));
            assert_eq!(f.method.as_str(), method, "{text}");
            assert!(f.doubts.is_empty(), "{text}: {:?}", f.doubts);
        }
        // a sentence that only names a price is no claim
        let f = analyze("Sent from my iPhone", "", "x@customer.example", None);
        assert_eq!(f.strength, None);
    }

    #[test]
    fn banks_and_processors_are_financial_senders() {
        assert!(financial_sender("billpay@firstohiobank.example", Some("First Ohio Bank Bill Pay")));
        assert!(financial_sender("lockbox@anything.example", None));
        assert!(financial_sender("x@y.example", Some("Stripe")));
        assert!(!financial_sender("helpdesk@ashcomberealty.example", Some("Ashcombe Help Desk")));
        assert!(!financial_sender("jane@acme-dental.example", Some("Jane Doe")));
    }
}
