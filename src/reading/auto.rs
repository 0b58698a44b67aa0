//! Mail that is not a person writing: bounces (delivery-status reports and
//! the common non-delivery formats), automatic replies, mailing lists.

use std::sync::LazyLock;

use regex::Regex;

use super::mime::Mail;
use super::text::{addresses, first_address};

/// What a bounce says failed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bounce {
    pub failed_recipients: Vec<String>,
    pub original_message_id: Option<String>,
    pub status: Option<String>,
}

static NDR_SUBJECT: LazyLock<Regex> = LazyLock::new(|| {
    super::keywords(
        r"(?i)^(undeliverable|undelivered mail|delivery status notification \((failure|delay)\)|mail delivery failed|returned mail|delivery failure|failure notice|delivery has failed|message not delivered|could not be delivered|non remis|unzustellbar|no se puede entregar|mail delivery subsystem|delivery notification: delivery has failed)",
    )
});
static DAEMON: LazyLock<Regex> =
    LazyLock::new(|| super::keywords(r"(?i)^(mailer-daemon|postmaster|mail-daemon|maildaemon|bounces?)@"));
static FINAL_RCPT: LazyLock<Regex> = LazyLock::new(|| {
    super::keywords(r"(?im)^\s*(final|original)-recipient:\s*(?:rfc822|utf-8)?\s*;?\s*<?([^\s>]+@[^\s>]+)>?")
});
static ACTION: LazyLock<Regex> = LazyLock::new(|| super::keywords(r"(?im)^\s*action:\s*(\w+)"));
static STATUS: LazyLock<Regex> = LazyLock::new(|| super::keywords(r"(?im)^\s*status:\s*([245]\.\d+\.\d+)"));
static MSGID_LINE: LazyLock<Regex> = LazyLock::new(|| super::keywords(r"(?im)^\s*message-id:\s*(<[^>\s]+>)"));
static TEXT_FAILURE: LazyLock<Regex> = LazyLock::new(|| {
    super::keywords(
        r"(?i)(<[^\s>]+@[^\s>]+>\s*:|failed to these recipients|following (address|recipient)\(?e?s?\)? failed|could not be delivered to|delivery to the following recipient|your message (to|wasn't delivered to)|address not found|user unknown|mailbox unavailable|does not exist|recipient address rejected)",
    )
});

/// A delivery failure report, and what it says failed.
pub fn bounce(mail: &Mail) -> Option<Bounce> {
    let report = mail.content_type == "multipart/report"
        && mail.report_type.as_deref().is_some_and(|r| r.contains("delivery-status"));
    let dsn_part = mail.report_parts.iter().any(|p| FINAL_RCPT.is_match(p));
    let daemon = DAEMON.is_match(&mail.from);
    let subject = NDR_SUBJECT.is_match(mail.subject.trim());
    let text_failure = || TEXT_FAILURE.is_match(&mail.text);
    if !(report || dsn_part || (daemon && (subject || text_failure())) || (subject && text_failure())) {
        return None;
    }
    let mut b = Bounce::default();
    for part in &mail.report_parts {
        // recipients whose action failed (or all, when no action is given)
        for block in part.split("\n\n") {
            let failed = ACTION.captures(block).is_none_or(|a| a[1].eq_ignore_ascii_case("failed"));
            if let Some(c) = FINAL_RCPT.captures(block)
                && failed
            {
                let addr = c[2].trim_end_matches(['>', ';']).to_ascii_lowercase();
                if !b.failed_recipients.contains(&addr) {
                    b.failed_recipients.push(addr);
                }
            }
            if b.status.is_none()
                && let Some(s) = STATUS.captures(block)
            {
                b.status = Some(s[1].to_string());
            }
        }
        if b.original_message_id.is_none()
            && let Some(m) = MSGID_LINE.captures(part)
        {
            b.original_message_id = Some(m[1].to_string());
        }
    }
    if b.original_message_id.is_none() {
        b.original_message_id = mail.attached.first().and_then(|m| m.message_id.clone());
    }
    if b.original_message_id.is_none() {
        // returned headers pasted in the text
        let own = mail.message_id.as_deref().unwrap_or("");
        b.original_message_id = MSGID_LINE
            .captures_iter(&mail.text)
            .map(|c| c[1].to_string())
            .find(|m| m != own)
            .or_else(|| mail.in_reply_to.clone());
    }
    if b.failed_recipients.is_empty() {
        // the usual text forms: "<a@b>: host said ...", "failed to these recipients: a@b"
        let own_side: Vec<String> = mail
            .header("To")
            .map(addresses)
            .unwrap_or_default()
            .into_iter()
            .chain(std::iter::once(mail.from.clone()))
            .collect();
        let lines: Vec<&str> = super::text::lines(&mail.text).collect();
        for (i, line) in lines.iter().enumerate() {
            if !(TEXT_FAILURE.is_match(line) || line.trim_start().starts_with('<')) {
                continue;
            }
            // the address is on this line, or listed on the lines below it
            let mut candidates = addresses(line);
            if candidates.is_empty() {
                for next in lines.iter().skip(i + 1).skip_while(|l| l.trim().is_empty()).take(4) {
                    if next.trim().is_empty() {
                        break;
                    }
                    candidates.extend(addresses(next));
                }
            }
            for a in candidates {
                if !own_side.contains(&a) && !DAEMON.is_match(&a) && !b.failed_recipients.contains(&a) {
                    b.failed_recipients.push(a);
                }
            }
        }
        if b.failed_recipients.is_empty()
            && let Some(orig) = mail.attached.first()
            && let Some(to) = orig.header("To").and_then(first_address)
        {
            b.failed_recipients.push(to);
        }
    }
    Some(b)
}

static AUTO_SUBJECT: LazyLock<Regex> = LazyLock::new(|| {
    super::keywords(
        r"(?i)^\s*(automatic reply|auto[- ]?reply|auto[- ]?response|autoresponse|out of (the )?office|ooo\b|away from (the )?office|on vacation|on leave|abwesenheitsnotiz|automatische antwort|réponse automatique|reponse automatique|absence du bureau|absent\b|respuesta automática|respuesta automatica|fuera de la oficina|risposta automatica|fuori sede|fuori ufficio|automatisch antwoord|afwezig|resposta automática|ausente|autosvar|automaattinen vastaus|odpowiedź automatyczna|frånvaro)",
    )
});
static AUTO_BODY: LazyLock<Regex> = LazyLock::new(|| {
    super::keywords(
        r"(?i)(\bout of (the )?office\b|\bi am (currently )?away\b|\bi'm (currently )?away\b|\bon (annual |parental |maternity |sick )?(leave|vacation|holiday|pto)\b|\blimited access to (e-?mail|my email)\b|\bje suis absente?\b|\babsente? du bureau\b|\bich bin (derzeit |zurzeit |bis )?[^.]{0,30}(nicht im büro|abwesend|im urlaub)\b|\bestoy fuera de la oficina\b|\bestaré fuera\b|\bsono fuori (ufficio|sede)\b|\bik ben (afwezig|met vakantie)\b)",
    )
});
static RETURN_BODY: LazyLock<Regex> = LazyLock::new(|| {
    super::keywords(
        r"(?i)(\bwhen i return\b|\bupon my return\b|\bon my return\b|\bwill (respond|reply|get back to you)\b|\buntil\b|\bthrough\b|\bà mon retour\b|\bdès mon retour\b|\bnach meiner rückkehr\b|\ba mi regreso\b|\bal mio rientro\b|\bbij terugkomst\b|\bback (in the office )?on\b|\breturning on\b)",
    )
});

/// Words one of which every out-of-office text has (lower-case literals:
/// one pass with a literal searcher instead of a search per word).
static COULD_BE_AWAY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        "office|away|leave|vacation|holiday|pto|access to|absent|bureau|büro|abwesend|urlaub|oficina|fuera|fuori|afwezig|vakantie",
    )
    .expect("regex")
});

/// An automatic reply: RFC 3834 headers, the usual X- headers, or the
/// usual subject or wording.
static ACKNOWLEDGED: LazyLock<Regex> = LazyLock::new(|| {
    super::keywords(
        r"(?i)\b(?:we\s+have|we've|we)\s+(?:successfully\s+)?received\s+your\s+(?:request|message|e-?mail|inquiry|enquiry|ticket|support\s+request)\b|\bthis\s+is\s+an\s+automated\s+(?:response|reply|acknowledge?ment)\b",
    )
});
static TICKET: LazyLock<Regex> = LazyLock::new(|| {
    super::keywords(r"(?i)\b(?:ticket|case|request|incident)\s*(?:#|number|no\.?|id)\s*:?\s*#?[a-z0-9-]*\d")
});

pub fn auto_reply(mail: &Mail) -> Option<String> {
    // RFC 3834: `auto-replied` is an answer to a message; `auto-generated`
    // (bank notices, helpdesk notifications carrying a person's words) is
    // read for what it says
    if let Some(v) = mail.header("Auto-Submitted")
        && v.trim().to_ascii_lowercase().starts_with("auto-replied")
    {
        return Some(format!("Auto-Submitted: {v}"));
    }
    for h in ["X-Autoreply", "X-Autorespond", "X-Autoresponder", "X-Auto-Reply"] {
        if mail.header(h).is_some() {
            return Some(format!("{h} header"));
        }
    }
    if let Some(p) = mail.header("Precedence")
        && p.trim().eq_ignore_ascii_case("auto_reply")
    {
        return Some("Precedence: auto_reply".into());
    }
    if AUTO_SUBJECT.is_match(&mail.subject) {
        return Some(format!("subject {:?}", mail.subject));
    }
    let mut end = mail.text.len().min(600);
    while !mail.text.is_char_boundary(end) {
        end -= 1;
    }
    let head = &mail.text[..end];
    let lower = head.to_lowercase();
    let could = COULD_BE_AWAY.is_match(&lower);
    if could && AUTO_BODY.is_match(head) && RETURN_BODY.is_match(&mail.text) {
        return Some("out-of-office wording".into());
    }
    // a help desk's receipt for our message: "we have received your
    // request", with the ticket it opened (every ACKNOWLEDGED match holds
    // "received" or "automated": looking for those first is cheaper)
    if (lower.contains("received") || lower.contains("automated"))
        && ACKNOWLEDGED.is_match(head)
        && TICKET.is_match(&format!("{}\n{head}", mail.subject))
    {
        return Some("an acknowledgement that our message was received".into());
    }
    None
}

/// Mail from a list or a bulk sender.
pub fn mailing_list(mail: &Mail) -> Option<String> {
    for h in ["List-Id", "List-Unsubscribe", "List-Post"] {
        if mail.header(h).is_some() {
            return Some(format!("{h} header"));
        }
    }
    if let Some(p) = mail.header("Precedence")
        && (p.trim().eq_ignore_ascii_case("bulk") || p.trim().eq_ignore_ascii_case("list"))
    {
        return Some(format!("Precedence: {p}"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The look before ACKNOWLEDGED's search never rules out a match:
        /// every match, in any case, holds "received" or "automated" once
        /// lower-cased.
        #[test]
        fn acknowledged_holds_its_words(
            t in "(we|WE|We've|wE)[ \t\n]{1,2}(SUCCESSFULLY[ ])?[rR][eE][cC][eEé][iIıİ][vV][eE][dDK] [yY][oO][uU][rR] (request|TICKET|e-Mail)|[tT]his is an? [aA][uU][tT][oOø][mM][aA][tT][eE][dD] (Reply|RESPONSE)"
        ) {
            let lower = t.to_lowercase();
            proptest::prop_assert!(
                !ACKNOWLEDGED.is_match(&t) || lower.contains("received") || lower.contains("automated"),
                "{:?}",
                t
            );
        }
    }

    #[test]
    fn an_acknowledgement_with_a_ticket_is_an_automatic_reply() {
        let mail = Mail {
            subject: "[Ticket #4821] Your request".into(),
            text: "Hello,\n\nWE HAVE RECEIVED YOUR REQUEST and opened a ticket. An agent will reply soon.".into(),
            ..Mail::default()
        };
        assert_eq!(auto_reply(&mail).as_deref(), Some("an acknowledgement that our message was received"));
        let mail = Mail { text: "We have now paid the invoice.".into(), ..mail };
        assert_eq!(auto_reply(&mail), None);
    }
}
