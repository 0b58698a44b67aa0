//! The parts of a raw message the reader needs, taken from mail-parser:
//! headers, the body as text (plain preferred; HTML converted), attached
//! messages (forwards as message/rfc822) and delivery-report parts.

use chrono::NaiveDate;
use std::sync::LazyLock;

use mail_parser::{HeaderName, Message, MessageParser, MimeHeaders, PartType};

use super::html;
use super::text::normalize;

#[derive(Debug, Default, Clone)]
pub struct Mail {
    pub from: String,
    pub from_name: Option<String>,
    pub subject: String,
    /// The sender's local date, from the Date header.
    pub date: Option<NaiveDate>,
    pub message_id: Option<String>,
    pub in_reply_to: Option<String>,
    pub headers: Vec<(String, String)>,
    /// `type/subtype` of the top part, lower-cased, and its report-type.
    pub content_type: String,
    pub report_type: Option<String>,
    /// The body as text.
    pub text: String,
    /// Where `text` came from: `text/plain`, or `text/html` when the
    /// message has no plain part.
    pub text_part: super::Part,
    /// The HTML alternative of a message that also has a plain part, raw
    /// (converted to text only when it is compared: see [`Mail::html_text`]).
    pub html_alternative: Option<String>,
    /// Messages attached whole (forwards, returned mail).
    pub attached: Vec<Mail>,
    /// Text of delivery-status and returned-headers parts.
    pub report_parts: Vec<String>,
}

impl Mail {
    /// The HTML alternative as text, when there is one.
    pub fn html_text(&self) -> Option<String> {
        self.html_alternative.as_deref().map(|h| normalize(&html::to_text(h)))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// The headers the reader looks at; the rest are not copied.
const KEPT_HEADERS: &[&str] = &[
    "Auto-Submitted",
    "X-Autoreply",
    "X-Autorespond",
    "X-Autoresponder",
    "X-Auto-Reply",
    "Precedence",
    "List-Id",
    "List-Unsubscribe",
    "List-Post",
    "To",
    "Received",
    "Reply-To",
    "References",
    "X-Billmail-Kind",
];

/// Bodies are read up to this size; a request is never further down.
const MAX_BODY_BYTES: usize = 1024 * 1024;

fn cap(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The parser, asked to decode only the headers the reader reads (the MIME
/// ones, Date, Subject, From, Message-ID, In-Reply-To); the rest stay raw,
/// which is all [`KEPT_HEADERS`] needs. A Received chain is not tokenised.
static PARSER: LazyLock<MessageParser> = LazyLock::new(|| {
    MessageParser::new()
        .with_mime_headers()
        .header_date(HeaderName::Date)
        .header_text(HeaderName::Subject)
        .header_address(HeaderName::From)
        .header_id(HeaderName::MessageId)
        .header_id(HeaderName::InReplyTo)
});

pub fn parse(raw: &[u8]) -> Option<Mail> {
    let msg = PARSER.parse(raw)?;
    Some(from_message(&msg, 0))
}

/// The kept headers, raw. (What `headers_raw` gives, but only the kept
/// ones are decoded: a DKIM signature or Received chain is skipped unread.)
fn kept_headers(msg: &Message) -> Vec<(String, String)> {
    let Some(top) = msg.parts.first() else { return Vec::new() };
    top.headers
        .iter()
        .filter(|h| {
            let name = h.name.as_str();
            KEPT_HEADERS.iter().any(|k| k.len() == name.len() && k.eq_ignore_ascii_case(name))
        })
        .filter_map(|h| {
            let raw = msg.raw_message.get(h.offset_start as usize..h.offset_end as usize)?;
            Some((h.name.as_str().to_string(), std::str::from_utf8(raw).ok()?.trim().to_string()))
        })
        .collect()
}

fn from_message(msg: &Message, depth: usize) -> Mail {
    let from = msg.from().and_then(|a| a.first());
    let mut mail = Mail {
        from: from.and_then(|a| a.address()).map(|a| a.trim().to_ascii_lowercase()).unwrap_or_default(),
        from_name: from.and_then(|a| a.name()).map(|n| n.trim().to_string()).filter(|n| !n.is_empty()),
        subject: msg.subject().map(|s| normalize(s).trim().to_string()).unwrap_or_default(),
        date: msg.date().and_then(|d| NaiveDate::from_ymd_opt(i32::from(d.year), u32::from(d.month), u32::from(d.day))),
        message_id: msg.message_id().map(|m| format!("<{m}>")),
        in_reply_to: msg.in_reply_to().as_text().map(|m| format!("<{m}>")),
        headers: kept_headers(msg),
        ..Mail::default()
    };
    let root = msg.root_part();
    if let Some(ct) = root.content_type() {
        mail.content_type = format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or_default()).to_ascii_lowercase();
        mail.report_type = ct.attribute("report-type").map(|r| r.to_ascii_lowercase());
    }

    let mut plain = Vec::new();
    for id in &msg.text_body {
        if let Some(p) = msg.parts.get(*id as usize)
            && let PartType::Text(t) = &p.body
            && !p.is_attachment_like()
        {
            plain.push(cap(t, MAX_BODY_BYTES).to_string());
        }
    }
    mail.text_part = super::Part::TextPlain;
    if !plain.is_empty() && msg.html_body != msg.text_body {
        let html: Vec<&str> = msg
            .html_body
            .iter()
            .filter_map(|id| match msg.parts.get(*id as usize).map(|p| &p.body) {
                Some(PartType::Html(h)) => Some(cap(h, MAX_BODY_BYTES)),
                _ => None,
            })
            .collect();
        if !html.is_empty() {
            mail.html_alternative = Some(html.join("\n"));
        }
    }
    if plain.is_empty() {
        mail.text_part = super::Part::TextHtml;
        for id in &msg.html_body {
            if let Some(p) = msg.parts.get(*id as usize)
                && let PartType::Html(h) = &p.body
            {
                plain.push(html::to_text(cap(h, MAX_BODY_BYTES)));
            }
        }
    }
    mail.text = normalize(&plain.join("\n"));

    for part in &msg.parts {
        let is = |t: &str, s: &str| is_type(part, t, s);
        match &part.body {
            PartType::Message(inner) if depth < 3 => mail.attached.push(from_message(inner, depth + 1)),
            _ if is("message", "delivery-status")
                || is("text", "rfc822-headers")
                || is("message", "rfc822-headers")
                || is("message", "global-delivery-status")
                || is("message", "global-headers") =>
            {
                mail.report_parts.push(String::from_utf8_lossy(part.contents()).into_owned());
            }
            _ => {}
        }
    }
    mail
}

trait AttachmentLike {
    fn is_attachment_like(&self) -> bool;
}

/// Is the part's Content-Type `t/s` (in any case)?
fn is_type(part: &mail_parser::MessagePart, t: &str, s: &str) -> bool {
    part.content_type()
        .is_some_and(|c| c.ctype().eq_ignore_ascii_case(t) && c.subtype().unwrap_or_default().eq_ignore_ascii_case(s))
}

impl AttachmentLike for mail_parser::MessagePart<'_> {
    fn is_attachment_like(&self) -> bool {
        // no Content-Type is text/plain
        let text = self.content_type().is_none() || is_type(self, "text", "plain") || is_type(self, "text", "html");
        self.content_disposition().is_some_and(|d| d.is_attachment()) || !text
    }
}
