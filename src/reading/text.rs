//! From a body's text to the request: quotes of earlier messages removed,
//! a forwarded message separated from the forwarder's words, signatures and
//! disclaimers cut, and what remains split into units (sentences and list
//! items) for the analysers.

use std::sync::LazyLock;

use regex::Regex;

/// Replaces the characters mail clients vary on: CRLF, NBSP, zero-width
/// spaces, tabs, curly quotes.
pub fn normalize(text: &str) -> String {
    let mut s = String::with_capacity(text.len());
    let mut rest = text;
    // runs of plain ASCII are copied whole; only CR, tab and non-ASCII are looked at
    while let Some(i) = rest.bytes().position(|b| b == b'\r' || b == b'\t' || !b.is_ascii()) {
        s.push_str(&rest[..i]);
        // `i` is a char boundary: the bytes before it are ASCII
        let Some(c) = rest[i..].chars().next() else { break };
        rest = &rest[i + c.len_utf8()..];
        match c {
            '\r' => {}
            '\u{a0}' | '\u{2007}' | '\u{202f}' | '\t' | '\u{2009}' => s.push(' '),
            '\u{200b}' | '\u{200c}' | '\u{200d}' | '\u{feff}' | '\u{ad}' => {}
            '\u{2018}' | '\u{2019}' | '\u{2032}' => s.push('\''),
            '\u{201c}' | '\u{201d}' => s.push('"'),
            '\u{2010}' | '\u{2011}' => s.push('-'),
            _ => s.push(c),
        }
    }
    s.push_str(rest);
    s
}

/// The lines of `text`, exactly as [`str::lines`] gives them (a `\r`
/// before the `\n` dropped, no empty last line), found with a vectorised
/// search: bodies are split into lines several times over.
pub fn lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text).filter(|t| !t.is_empty());
    std::iter::from_fn(move || {
        let t = rest?;
        Some(match memchr::memchr(b'\n', t.as_bytes()) {
            Some(i) => {
                rest = Some(&t[i + 1..]).filter(|r| !r.is_empty());
                t[..i].strip_suffix('\r').unwrap_or(&t[..i])
            }
            None => {
                rest = None;
                t
            }
        })
    })
}

/// A message's own words, split from what it quotes or forwards.
#[derive(Debug, Default, Clone)]
pub struct Split {
    /// The sender's own words (quotes and signature still in; see [`own_words`]).
    pub own: String,
    /// Text quoted from earlier messages.
    pub quoted: String,
    /// A message forwarded inline, with its original sender where shown.
    pub forwarded: Option<Forwarded>,
}

#[derive(Debug, Default, Clone)]
pub struct Forwarded {
    pub from: Option<String>,
    pub subject: Option<String>,
    pub text: String,
}

static ON_WROTE: LazyLock<Regex> = LazyLock::new(|| {
    super::keywords(
        r"(?i)^\s*(on\s.{4,200}?\bwrote|le\s.{4,200}?\ba écrit|am\s.{4,200}?\bschrieb|el\s.{4,200}?\bescribió|il\s.{4,200}?\bha scritto|op\s.{4,200}?\bschreef)\s*:\s*$",
    )
});
const WROTE_WORDS: &[&str] = &["wrote", "écrit", "schrieb", "escribió", "scritto", "schreef"];
static FORWARD_MARK: LazyLock<Regex> = LazyLock::new(|| {
    super::keywords(
        r"(?i)^\s*(-{2,}\s*forwarded message\s*-{2,}|-{2,}\s*original message\s*-{2,}|begin forwarded message:?|-{2,}\s*message transféré\s*-{2,}|-{2,}\s*weitergeleitete nachricht\s*-{2,}|-{2,}\s*mensaje reenviado\s*-{2,}|_{10,})\s*$",
    )
});
static HEADER_LINE: LazyLock<Regex> = LazyLock::new(|| {
    super::keywords(
        r"(?i)^\s*\*?(from|sent|date|to|cc|subject|de|envoyé|objet|à|von|gesendet|an|betreff|enviado|para|asunto|reply-to)\*?\s*:",
    )
});
static FROM_LINE: LazyLock<Regex> = LazyLock::new(|| super::keywords(r"(?i)^\s*\*?(from|de|von)\*?\s*:\s*(.*)$"));
static SUBJECT_LINE: LazyLock<Regex> =
    LazyLock::new(|| super::keywords(r"(?i)^\s*\*?(subject|objet|betreff|asunto)\*?\s*:\s*(.*)$"));
static ADDRESS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)[a-z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+",
    )
    .expect("regex")
});

/// The first mail address in `s`, lower-cased.
pub fn first_address(s: &str) -> Option<String> {
    ADDRESS.find(s).map(|m| m.as_str().to_ascii_lowercase())
}

pub fn addresses(s: &str) -> Vec<String> {
    ADDRESS.find_iter(s).map(|m| m.as_str().to_ascii_lowercase()).collect()
}

/// Does a line start a block of forwarded or quoted headers ("From: … /
/// Sent: …")? Looks at the next few lines.
fn header_block_at(lines: &[&str], i: usize) -> bool {
    let lead = lines[i].trim_start().trim_start_matches('*').as_bytes();
    let could = lead.len() > 3
        && (lead[..4].eq_ignore_ascii_case(b"from")
            || lead[..3].eq_ignore_ascii_case(b"de:")
            || lead[..3].eq_ignore_ascii_case(b"von"));
    if !could || !FROM_LINE.is_match(lines[i]) {
        return false;
    }
    // inside a block of fields ("Amount: …" just above "From: <payer>") it
    // is one more field of a notice, not the start of a quoted message
    static FIELD_LINE: LazyLock<Regex> = LazyLock::new(|| super::keywords(r"^\s*[A-Za-z][A-Za-z ()'#/.-]{0,30}:\s+\S"));
    if i > 0 && FIELD_LINE.is_match(lines[i - 1]) && !HEADER_LINE.is_match(lines[i - 1]) {
        return false;
    }
    // a quoted message's header block always says when it was sent; a
    // bank notice's "From: <payer>" / "To: <account>" fields do not
    static DATED: LazyLock<Regex> =
        LazyLock::new(|| super::keywords(r"(?i)^\s*\*?(sent|date|envoyé|gesendet|enviado|datum|fecha|data)\*?\s*:"));
    let mut headers = 1;
    let mut dated = false;
    for l in lines.iter().skip(i + 1).take(6) {
        if l.trim().is_empty() {
            break;
        }
        if HEADER_LINE.is_match(l) {
            headers += 1;
        }
        dated |= DATED.is_match(l);
    }
    headers >= 2 && dated
}

/// Splits a body at the first quote or forward marker. `forward` says the
/// subject marks the message as a forward (FW:, Fwd:).
pub fn split(text: &str, forward: bool) -> Split {
    let lines: Vec<&str> = lines(text).collect();
    // "On … wrote:" may wrap onto the next line; look only where the verb is
    let wrote: Vec<bool> = if WROTE_WORDS.iter().any(|w| text.contains(w)) {
        lines.iter().map(|l| WROTE_WORDS.iter().any(|w| l.contains(w))).collect()
    } else {
        vec![false; lines.len()]
    };
    let mut i = 0;
    while i < lines.len() {
        let l = lines[i];
        let wrote_here = wrote[i];
        let wrote_next = i + 1 < lines.len() && wrote[i + 1];
        let on_wrote = (wrote_here && ON_WROTE.is_match(l))
            || (wrote_next
                && l.trim_start().len() > 3
                && ON_WROTE.is_match(&format!("{} {}", l.trim_end(), lines[i + 1].trim())));
        let lead = l.trim_start();
        let mark = (lead.starts_with(['-', '_'])
            || lead.as_bytes().get(..5).is_some_and(|b| b.eq_ignore_ascii_case(b"begin")))
            && FORWARD_MARK.is_match(l);
        let header = l.contains(':') && header_block_at(&lines, i);
        if on_wrote || mark || header {
            let own = lines[..i].join("\n");
            let is_forward_mark = mark && l.to_ascii_lowercase().contains("forward");
            if !on_wrote && (forward || is_forward_mark) {
                // the forwarded message: its header block, then its text
                let mut j = if mark { i + 1 } else { i };
                while j < lines.len() && lines[j].trim().is_empty() {
                    j += 1;
                }
                let mut from = None;
                let mut subject = None;
                let mut saw_header = false;
                while j < lines.len() {
                    let lj = lines[j];
                    if lj.trim().is_empty() {
                        if saw_header {
                            break;
                        }
                    } else if HEADER_LINE.is_match(lj) {
                        saw_header = true;
                        if let Some(c) = FROM_LINE.captures(lj) {
                            let mut v = c[2].to_string();
                            if first_address(&v).is_none() && j + 1 < lines.len() {
                                v.push_str(lines[j + 1]);
                            }
                            from = from.or_else(|| first_address(&v));
                        } else if let Some(c) = SUBJECT_LINE.captures(lj) {
                            subject = Some(c[2].trim().to_string());
                        }
                    } else if saw_header && (lj.starts_with(' ') || lj.contains('@')) {
                        // a header folded onto the next line
                    } else {
                        break;
                    }
                    j += 1;
                }
                let rest = lines[j.min(lines.len())..].join("\n");
                return Split { own, quoted: String::new(), forwarded: Some(Forwarded { from, subject, text: rest }) };
            }
            // a bottom-posted answer: the quote is the `>` block under the
            // header; words written after it are the sender's own
            if on_wrote {
                let mut j = i + 1 + usize::from(!wrote_here);
                while j < lines.len() && lines[j].trim().is_empty() {
                    j += 1;
                }
                if j < lines.len() && lines[j].trim_start().starts_with('>') {
                    while j < lines.len() && (lines[j].trim_start().starts_with('>') || lines[j].trim().is_empty()) {
                        j += 1;
                    }
                    if j < lines.len() {
                        let rest = split(&lines[j..].join("\n"), forward);
                        let own = format!("{own}\n{}", rest.own);
                        let quoted = format!("{}\n{}", lines[i..j].join("\n"), rest.quoted);
                        return Split { own, quoted, forwarded: rest.forwarded };
                    }
                }
            }
            let quoted = lines[i..].join("\n");
            return Split { own, quoted, forwarded: None };
        }
        i += 1;
    }
    Split { own: text.to_string(), quoted: String::new(), forwarded: None }
}

static CLOSING: LazyLock<Regex> = LazyLock::new(|| {
    super::keywords(
        r"(?i)^\s*(thanks|thank you|thanks so much|thank you so much|thanks again|many thanks|thx|ty|best|best regards|regards|kind regards|warm regards|warmly|sincerely|yours truly|cheers|respectfully|all the best|merci|merci beaucoup|cordialement|bien à vous|mit freundlichen grüßen|viele grüße|gracias|saludos|un saludo|atentamente|grazie|cordiali saluti|thanks in advance|appreciate it|talk soon|have a great day)\s*[,.!]*\s*$",
    )
});
static SIGNATURE_CUT: LazyLock<Regex> = LazyLock::new(|| {
    super::keywords(
        r"(?i)^\s*(--\s*$|__+\s*$|sent from my \w+|sent from (outlook|mail) for|get outlook for|confidentiality notice|this (e-?mail|message) (and any attachments )?(is|may|contains)|disclaimer:)",
    )
});

/// The lines that are the sender's own: no `>` quotes, no signature or
/// disclaimer, no "Sent from my iPhone". `signer` holds the sender's names
/// (a line with just "Jane" starts the signature). Returns (own, quoted).
pub fn own_words(text: &str, signer: &[String]) -> (String, String) {
    let mut own = Vec::new();
    let mut quoted = Vec::new();
    let mut content_lines = 0;
    let mut cut = false;
    for line in lines(text) {
        let t = line.trim_start();
        if t.starts_with('>') {
            quoted.push(t.trim_start_matches(['>', ' ']));
            continue;
        }
        if cut {
            continue;
        }
        let bare = t.trim_end_matches([',', '.', '!', ' ']).trim_start_matches(['-', '–', '—', '~', ' ']);
        let signed = !bare.is_empty() && signer.iter().any(|n| n.eq_ignore_ascii_case(bare));
        let short = t.len() <= 48;
        if (SIGNATURE_CUT.is_match(line) && (content_lines > 0 || t.starts_with("--")))
            || (short && content_lines > 0 && CLOSING.is_match(line))
            || (signed && content_lines > 0)
        {
            cut = true;
            continue;
        }
        if !t.is_empty() {
            content_lines += 1;
        }
        own.push(line);
    }
    (own.join("\n"), quoted.join("\n"))
}

/// A piece of the request: a sentence, or an item of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    pub text: String,
    /// A list item (bullet, number, table row, a name on its own line).
    pub item: bool,
    /// The sentence introduces a list (ends with ':').
    pub leads_list: bool,
    /// A form's field ("Contact:   Gloria Menendez", "Priority: 3 - Normal"),
    /// one of several such lines in a row; its label is in `text`.
    pub field: bool,
}

/// A line of a form: a short capitalised label, a colon, a value.
static FIELD_LINE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*[A-Z][A-Za-z#/&()' .-]{0,24}:\s+\S").expect("regex"));

fn is_field(line: &str) -> bool {
    line.contains(':') && !line.trim_end().ends_with(':') && FIELD_LINE.is_match(line)
}

static BULLET: LazyLock<Regex> =
    LazyLock::new(|| super::keywords(r"^\s*(?:[-*•·–◦▪]|\d{1,2}[.)]|[a-z][.)]|\(\d{1,2}\))\s+"));

/// Splits text into units: paragraphs joined from wrapped lines, then
/// sentences; list items stay on their own.
pub fn units(text: &str) -> Vec<Unit> {
    let mut out = Vec::new();
    let mut para: Vec<String> = Vec::new();
    let mut in_list = false; // after a line ending with ':' or after an item
    let mut blank_since_item = false;

    let flush = |para: &mut Vec<String>, out: &mut Vec<Unit>| {
        if para.is_empty() {
            return;
        }
        let joined = para.join(" ");
        para.clear();
        for s in sentences(&joined) {
            let leads_list = s.trim_end().ends_with(':');
            out.push(Unit { text: s, item: false, leads_list, field: false });
        }
    };

    let all: Vec<&str> = lines(text).collect();
    for (k, raw) in all.iter().enumerate() {
        let line = raw.trim_end();
        let t = line.trim();
        // a run of form fields: each line on its own, never joined into a sentence
        if is_field(line)
            && (k > 0 && is_field(all[k - 1]) || all.get(k + 1).is_some_and(|n| is_field(n)))
            && !BULLET.is_match(line)
        {
            flush(&mut para, &mut out);
            out.push(Unit { text: t.to_string(), item: false, leads_list: false, field: true });
            in_list = false;
            continue;
        }
        if t.is_empty() {
            flush(&mut para, &mut out);
            if !out.last().is_some_and(|u: &Unit| u.leads_list) {
                blank_since_item = true;
            }
            continue;
        }
        let first = t.chars().next().unwrap_or(' ');
        let bullet = !first.is_uppercase() && BULLET.is_match(line);
        let table_row = t.contains(" | ");
        let indented = line.starts_with("  ") && t.len() <= 60;
        let short_item = in_list
            && !blank_since_item
            && t.len() <= 70
            && !t.ends_with('?')
            && t.chars().next().is_some_and(|c| c.is_uppercase());
        let after_colon = out.last().is_some_and(|u: &Unit| u.leads_list) && para.is_empty();
        let colon_item = after_colon && t.len() <= 70 && t.chars().next().is_some_and(|c| c.is_uppercase());
        if bullet || table_row || (indented && (in_list || after_colon)) || short_item || colon_item {
            flush(&mut para, &mut out);
            let body = BULLET.replace(line, "").trim().to_string();
            out.push(Unit { text: body, item: true, leads_list: false, field: false });
            in_list = true;
            blank_since_item = false;
            continue;
        }
        para.push(t.to_string());
        if t.ends_with(':') {
            flush(&mut para, &mut out);
            in_list = true;
            blank_since_item = false;
        } else {
            in_list = false;
        }
    }
    flush(&mut para, &mut out);
    out
}

const ABBREVIATIONS: &[&str] = &[
    "dr", "mr", "mrs", "ms", "st", "inc", "jr", "sr", "no", "co", "ltd", "vs", "e.g", "i.e", "approx", "ext", "dept",
    "corp",
];

/// Splits a paragraph into sentences at '.', '!', '?' or ';' followed by
/// a space, minding abbreviations and initials.
pub fn sentences(para: &str) -> Vec<String> {
    let mut out = Vec::new();
    let bytes = para.as_bytes();
    let mut start = 0;
    for (i, c) in para.char_indices() {
        if !matches!(c, '.' | '!' | '?' | ';') {
            continue;
        }
        let at_end = i + 1 == bytes.len();
        if !at_end && bytes[i + 1] != b' ' {
            continue;
        }
        if c == '.' {
            let before = &para[start..i];
            let last_word = before.rsplit(|c: char| c.is_whitespace() || c == '(').next().unwrap_or("");
            let abbrev = ABBREVIATIONS.iter().any(|a| last_word.eq_ignore_ascii_case(a))
                || (last_word.chars().count() == 1 && last_word.chars().all(char::is_uppercase));
            let next_lower = para[i + 1..].chars().nth(1).is_some_and(|c| c.is_lowercase());
            if abbrev || next_lower {
                continue;
            }
        }
        let s = para[start..=i].trim();
        if !s.is_empty() {
            out.push(s.to_string());
        }
        start = i + 1;
    }
    let s = para[start.min(para.len())..].trim();
    if !s.is_empty() {
        out.push(s.to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn lines_match_str_lines(t in "[a\\r\\né ]{0,40}") {
            proptest::prop_assert_eq!(lines(&t).collect::<Vec<_>>(), t.lines().collect::<Vec<_>>());
        }
    }

    #[test]
    fn lines_as_str_lines_gives_them() {
        for t in ["", "\n", "a", "a\n", "a\r\nb", "a\r\n\r\nb\r\n", "a\rb\r", "\n\nx\n\n", "é\r\n€\n", "\r", "a\n\r"]
        {
            assert_eq!(lines(t).collect::<Vec<_>>(), t.lines().collect::<Vec<_>>(), "{t:?}");
        }
    }

    #[test]
    fn a_notice_from_and_to_fields_are_not_a_quote() {
        // a quoted message's header block says when it was sent
        let notice = "You received an instant payment.\nAmount:   $1,296.00\nFrom:     JUNIPER PT LLC\nTo:       Checking ...6604\nDate:     11/20/2026\nRemittance info:  INV-2026-0198";
        let s = split(notice, false);
        assert!(s.quoted.is_empty() && s.own.contains("INV-2026-0198"), "{s:?}");
        let reply = "Paid.\n\nFrom: KR <a@kr.example>\nSent: Monday\nTo: x\n\nold";
        assert!(split(reply, false).quoted.contains("old"));
    }

    #[test]
    fn a_bottom_posted_answer_is_the_senders_own() {
        let body = "On Mon, Nov 2, 2026 at 9:00 AM KR Group <a@kr.example> wrote:\n> Your invoice INV-2026-0101 for $1,234.00\n> is attached.\n\nPaid $1,234.00 by ACH today.\n\nJane";
        let s = split(body, false);
        assert!(s.own.contains("Paid $1,234.00 by ACH today."), "{s:?}");
        assert!(s.quoted.contains("> is attached.") && !s.quoted.contains("Paid"), "{s:?}");
        // a quote with nothing after it stays all quote
        let s = split("Thanks!\n\nOn Mon, Nov 2, 2026, KR wrote:\n> old\n> text\n", false);
        assert_eq!(s.own.trim(), "Thanks!");
    }

    #[test]
    fn reply_quotes_are_split_off() {
        let body = "Yes please.\n\nOn Tue, Nov 10, 2026 at 9:14 AM KR Group Accounting <\naccounting@krgroup.example> wrote:\n\n> Hi\n";
        let s = split(body, false);
        assert_eq!(s.own.trim(), "Yes please.");
        assert!(s.quoted.contains("> Hi"));
        let outlook = "Paid.\n\n-----Original Message-----\nFrom: KR <a@kr.example>\nSent: Monday\nSubject: x\n\nold";
        assert_eq!(split(outlook, false).own.trim(), "Paid.");
        let bare = "Thanks\n\n________________________________\nFrom: KR Group <a@kr.example>\nSent: Sunday\n\nold";
        assert_eq!(split(bare, false).own.trim(), "Thanks");
    }

    #[test]
    fn forwards_keep_the_original_sender() {
        let body = "FYI\n\n---------- Forwarded message ---------\nFrom: Megan Ross <megan.ross@pinecrestvet.example>\nDate: Fri\nSubject: Two changes\nTo: <ms@kr.example>\n\n\nHi KR,\nplease remove Al.";
        let s = split(body, true);
        let f = s.forwarded.unwrap();
        assert_eq!(f.from.as_deref(), Some("megan.ross@pinecrestvet.example"));
        assert_eq!(f.subject.as_deref(), Some("Two changes"));
        assert!(f.text.contains("please remove Al."));
        assert_eq!(s.own.trim(), "FYI");
    }

    #[test]
    fn signatures_and_closings_are_cut() {
        let (own, _) = own_words("Please add Ann.\n\nThanks,\nJane\n42 staff", &[]);
        assert_eq!(own.trim(), "Please add Ann.");
        let (own, _) = own_words("Please add Ann.\n-- \nJane | 555-0100", &[]);
        assert_eq!(own, "Please add Ann.");
        let (own, q) = own_words(
            "Ok.\n\nRavi\n\nRavi Shah | Onboarding\nSent from my iPhone\n> On Dec 3 KR wrote:\n> Add two?",
            &["Ravi".into()],
        );
        assert_eq!(own.trim(), "Ok.");
        assert!(q.contains("Add two?"));
        // a table rule is not a signature separator
        let (own, _) = own_words("Item  Amount\n----  ------\n0001  $5", &[]);
        assert!(own.ends_with("0001  $5"));
    }

    #[test]
    fn units_keep_lists_apart() {
        let u = units(
            "Please add two users starting Monday:\n\nJake Sullivan\nOlivia Martin\n\nThanks for the help with\nthis. Bye!",
        );
        let texts: Vec<_> = u.iter().map(|u| (u.text.as_str(), u.item)).collect();
        assert_eq!(
            texts,
            [
                ("Please add two users starting Monday:", false),
                ("Jake Sullivan", true),
                ("Olivia Martin", true),
                ("Thanks for the help with this.", false),
                ("Bye!", false)
            ]
        );
        let u = units("1. Dr. Alan Reyes retired today. Please remove him.\n2. Jenna Park moves.");
        assert_eq!(u.len(), 2);
        assert!(u.iter().all(|u| u.item));
        assert_eq!(sentences(&u[0].text), ["Dr. Alan Reyes retired today.", "Please remove him."]);
    }
}
