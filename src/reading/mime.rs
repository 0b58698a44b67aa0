//! The parts of a raw message the reader needs, taken from mail-parser:
//! headers, the body as text (plain preferred; HTML converted), attached
//! messages (forwards as message/rfc822) and delivery-report parts.

use chrono::NaiveDate;
use mail_parser::{Message, MessageParser, MimeHeaders, PartType};

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
    /// Messages attached whole (forwards, returned mail).
    pub attached: Vec<Mail>,
    /// Text of delivery-status and returned-headers parts.
    pub report_parts: Vec<String>,
}

impl Mail {
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
    "Authentication-Results",
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

pub fn parse(raw: &[u8]) -> Option<Mail> {
    let msg = MessageParser::default().parse(raw)?;
    Some(from_message(&msg, 0))
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
        headers: msg
            .headers_raw()
            .filter(|(n, _)| KEPT_HEADERS.iter().any(|k| k.eq_ignore_ascii_case(n)))
            .map(|(n, v)| (n.to_string(), v.trim().to_string()))
            .collect(),
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
    if plain.is_empty() {
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
        let ct = part
            .content_type()
            .map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or_default()).to_ascii_lowercase())
            .unwrap_or_default();
        match &part.body {
            PartType::Message(inner) if depth < 3 => mail.attached.push(from_message(inner, depth + 1)),
            _ if ct == "message/delivery-status"
                || ct == "text/rfc822-headers"
                || ct == "message/rfc822-headers"
                || ct == "message/global-delivery-status"
                || ct == "message/global-headers" =>
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

impl AttachmentLike for mail_parser::MessagePart<'_> {
    fn is_attachment_like(&self) -> bool {
        let ct = self
            .content_type()
            .map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or_default()).to_ascii_lowercase())
            .unwrap_or_else(|| "text/plain".into());
        self.content_disposition().is_some_and(|d| d.is_attachment()) || (ct != "text/plain" && ct != "text/html")
    }
}
