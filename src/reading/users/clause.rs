//! The words of one clause: its action ("add", "left the firm", "from
//! full-time to part-time", "bill us for"), the people it counts or names,
//! their type, and the dates a cue ties to the change. Each function reads
//! one clause or sentence and knows nothing of the rest of the message.

use std::sync::LazyLock;

use chrono::NaiveDate;
use regex::Regex;

use super::{Act, Strength};
use crate::domain::UserType;
use crate::reading::dates::dates_in;
use crate::reading::words::{NOT_NAME_SET, NOT_PEOPLE, USER_NOUNS, VAGUE, count_word};

pub(super) fn type_word(s: &str) -> Option<UserType> {
    // its first eight letters, spaces and hyphens dropped, in lower case
    // (asked of every word of a clause, so nothing is copied)
    let mut letters = s.bytes().filter(|b| !matches!(b, b' ' | b'-')).map(|b| b.to_ascii_lowercase());
    let mut head = [0u8; 8];
    for slot in &mut head {
        *slot = letters.next()?;
    }
    match &head {
        b"fulltime" => Some(UserType::FullTime),
        b"parttime" => Some(UserType::PartTime),
        _ => None,
    }
}

pub(super) static TYPE_RE: LazyLock<Regex> =
    LazyLock::new(|| crate::reading::keywords(r"(?i)\b(full|part)[- ]?time\b"));
pub(super) static MOVE_FROM_TO: LazyLock<Regex> = LazyLock::new(|| {
    crate::reading::keywords(
        r"(?i)\bfrom\s+(full|part)[- ]?time(?:\s+status)?\s+(?:to|into)\s+(full|part)[- ]?time\b|\b(full|part)[- ]?time\s*(?:→|->|=>|⇒)\s*(full|part)[- ]?time\b",
    )
});
pub(super) static MOVE_TO: LazyLock<Regex> = LazyLock::new(|| {
    crate::reading::keywords(
        r"(?i)\b(mov(?:e|es|ed|ing)|switch(?:es|ed|ing)?|return(?:s|ed|ing)?|cut(?:s|ting)?\s+back|chang(?:e|es|ed|ing)|convert(?:s|ed|ing)?|going|goes|go|transition(?:s|ed|ing)?|reduc(?:e|es|ed|ing)|becom(?:e|es|ing)|drop(?:s|ped|ping)?\s+(?:down\s+)?)\b[^.;:]{0,40}?\bto\s+(?:be\s+)?(?:a\s+)?(full|part)[- ]?time\b",
    )
});
pub(super) static TOTAL: LazyLock<Regex> = LazyLock::new(|| {
    crate::reading::keywords(
        r"(?i)\b(?:bill|charge|invoice)\s+(?:us|me|our\b[^.;:]{0,60}?)\s+for\s+(?:a\s+total\s+of\s+)?(?:\d{1,3}|[a-z]+)\s+(?:full|part|users|people|staff|employees|seats)|\bwe\s+(?:now\s+|currently\s+|will\s+)?(?:have|are\s+(?:now\s+)?at|are\s+down\s+to|are\s+up\s+to|will\s+be\s+at)\s+(?:a\s+total\s+of\s+)?\d{1,3}\s+(?:full|part|users|people|staff|employees|seats)|\b(?:new|updated|current|correct)\s+(?:user\s+)?(?:count|total|headcount)\b|\bheadcount\s+(?:is|will\s+be|of)\s+\d|\bbring(?:s|ing)?\s+(?:us|our\s+total|the\s+total|you)\s+to\s+\d|\b(?:that|this|which|it)(?:'ll|\s+will|\s+would)?\s+(?:make|makes|bring|brings|leave|leaves|put|puts)\s+(?:us\s+)?(?:at\s+|to\s+)?(?:a\s+total\s+of\s+)?(?:\d{1,3}|[a-z]+(?:-[a-z]+)?)\s+(?:full|part|users|people|staff|employees|seats|total)|\b\d{1,3}\s+(?:full|part)[- ]?time(?:\s+(?:users|people|staff|employees|seats))?\s+(?:in\s+)?total\b|\b(?:our|the)\s+(?:new\s+|updated\s+)?(?:numbers|counts|user\s+counts?|totals|headcounts?)\b[^.;?]{0,60}?\d{1,3}\s+(?:full|part)|\bthe\s+(?:\d{1,3}|[a-z]+)\s+(?:full|part)[- ]?time(?:rs|\s+users|\s+staff|\s+people)?\s+(?:are|is)\s+(?:still\s+)?(?:correct|right|accurate|unchanged|the\s+same)\b|\bwe(?:'re|\s+are)\s+(?:now\s+)?(?:at|down\s+to|up\s+to)\s+(?:a\s+total\s+of\s+)?(?:\d{1,3}|[a-z]+(?:-[a-z]+)?)\s+(?:full|part|users|people|staff|employees|seats|agents)|\b(?:no\s+longer|don't|do\s+not)\s+have\s+any\s+(?:full|part)[- ]?time",
    )
});
pub(super) static REMOVE: LazyLock<Regex> = LazyLock::new(|| {
    crate::reading::keywords(
        r"(?i)\b(remove|removing|delete|deleting|drop|dropping|deactivate|deactivating|offboard|offboarding|terminate|terminating|cancel|cancelling|canceling)\b|\bno\s+longer\s+(?:with|employed|working|works|here|at|part\s+of|on)\b|\b(left|leaving|leavers?|departures?|retired|retiring|resigned|resigning|departed|departing|quit|quitting)\b|\blast\s+day\b|\bstop\s+(?:billing|charging)\b|\blet\s+go\b|\btake\b[^.;]{0,30}\boff\b|\b(?:decrease|decreasing|reduce|reducing|lower)\b[^.;]{0,30}\b(?:users?|seats?|licenses?|count|headcount)\b",
    )
});
pub(super) static REMOVED_PAST: LazyLock<Regex> =
    LazyLock::new(|| crate::reading::keywords(r"(?i)\b(removed|deleted|dropped|deactivated|disabled)\b"));
pub(super) static ADD: LazyLock<Regex> = LazyLock::new(|| {
    crate::reading::keywords(
        r"(?i)\b(add|adds|adding|onboard|onboarding|hire|hires|hired|hiring|joining|joins)\b|\bnew\s+(?:full[- ]?time\s+|part[- ]?time\s+)?(?:users?|staff|employees?|hires?|people|team\s+members?|members?|seats?|licenses?)\b|\bstart(?:ing)?\s+billing\s+for\b|\b(?:\d{1,3}|one|two|three|four|five|six|seven|eight|nine|ten|a\s+few|a\s+couple\s+of|some|several)\s+(?:more|additional|extra)\s+(?:full[- ]?time\s+|part[- ]?time\s+)?(?:[a-z-]+\s+){0,2}?(?:users?|seats?|licen[cs]es?|people|staff|employees|logins?|accounts?|mailboxes)\b|\bbring(?:s|ing)?\s+on\b|\b(?:increase|increasing|bump|raise)\b[^.;]{0,30}\b(?:users?|seats?|licenses?|count|headcount)\b|\bnew\s+(?:[a-z-]+\s+){0,3}?[a-z-]+\s+(?:starting|start|starts|joining|join|joins|beginning|begins|coming\s+on)\b|\bnew\s+(?:starters?|joiners?|arrivals?)\b|\b(?:starters|joiners|arrivals)\b",
    )
});
pub(super) static ADDED_PAST: LazyLock<Regex> =
    LazyLock::new(|| crate::reading::keywords(r"(?i)\b(added|welcomed|onboarded)\b"));
pub(super) static REQUEST: LazyLock<Regex> = LazyLock::new(|| {
    crate::reading::keywords(
        r"(?i)\b(please|pls|kindly|can\s+you|could\s+you|would\s+you|can\s+we|we\s+need|we'll\s+need|we\s+will\s+need|need\s+to|we'd\s+like|i'd\s+like|we\s+would\s+like|i\s+would\s+like|go\s+ahead|make\s+sure|update\s+our|bill\s+(?:us|our)|we're\s+(?:also\s+)?(?:adding|removing)|we\s+are\s+(?:also\s+)?(?:adding|removing)|will\s+be\s+(?:joining|leaving)|(?:is|are)\s+(?:joining|leaving)|starting|starts|effective|as\s+of|has\s+left|have\s+left|left\s+the|no\s+longer|(?:is|are)\s+going\s+from|is\s+moving|are\s+moving|hired|retired|resigned|last\s+day|let\s+go)\b",
    )
});
pub(super) static IMPERATIVE: LazyLock<Regex> = LazyLock::new(|| {
    crate::reading::keywords(
        r"(?i)^\s*(?:\d+[.)]\s*|-\s*)?(?:also,?\s+|and\s+)?(add|remove|drop|delete|cancel|deactivate|adding|removing|move|switch|change|convert)\b",
    )
});
pub(super) static NEGATED: LazyLock<Regex> = LazyLock::new(|| {
    crate::reading::keywords(
        r"(?i)\b(don't|do\s+not|didn't|did\s+not|haven't|have\s+not|hasn't|has\s+not|won't|will\s+not|no\s+need\s+to|not\s+to|never|cannot|can't|shouldn't)\b[^.;]{0,25}\b(add|remove|bill|charge|change|drop|delete|cancel|move|switch|added|removed)",
    )
});
pub(super) static TENTATIVE: LazyLock<Regex> = LazyLock::new(|| {
    crate::reading::keywords(
        r"(?i)\b(may\s+[a-z]|might|maybe|possibly|possible|perhaps|probably|considering|thinking\s+(?:about|of)|plan\s+to|planning\s+(?:to|on)|hope\s+to|hoping\s+to|potentially|tentative|tentatively|if|unless|not\s+yet|nothing\s+to\s+change|will\s+confirm|let\s+you\s+know|heads\s+up|next\s+quarter|in\s+the\s+future|eventually|at\s+some\s+point|down\s+the\s+road|could\s+be|expect\s+to|expecting\s+to|once\s+(?:hr|we|the|they)|pending|waiting\s+on|not\s+sure|unsure|undecided)\b",
    )
});
pub(super) static PRONOUN: LazyLock<Regex> = LazyLock::new(|| {
    crate::reading::keywords(
        r"(?i)\b(him|her|them|they|he|she|his|their|these|those|both|the\s+following|each\s+of\s+them|the\s+change|this\s+change|these\s+changes|the\s+changes)\b",
    )
});
pub(super) static NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?:Dr\.?\s+)?(?:Mc|Mac|[OD]['’])?\p{Lu}[\p{Ll}\p{M}'’]+(?:-\p{L}[\p{Ll}\p{M}'’]+)?(?:\s+\p{Lu}\.)?(?:\s+(?:(?:de|van|von|der|da|del|la|le|di|du|dos|das|bin|al)\s+)?(?:Mc|Mac|[OD]['’])?\p{Lu}[\p{Ll}\p{M}'’]+(?:-\p{L}[\p{Ll}\p{M}'’]+)?){0,2}")
        .expect("regex")
});
pub(super) static DATE_CUE: LazyLock<Regex> = LazyLock::new(|| {
    crate::reading::keywords(
        r"(?i)\b(start|starts|starting|started|effective|as\s+of|from|beginning|begins|begin|on|after|since|commencing|until|through|last\s+day|first\s+day)\b",
    )
});

pub(super) static NO_FULL_TIME: LazyLock<Regex> = LazyLock::new(|| {
    crate::reading::keywords(r"\b(no|zero|(?:don't|do\s+not|no\s+longer)\s+have\s+any)\s+full[- ]?time")
});
pub(super) static NO_PART_TIME: LazyLock<Regex> = LazyLock::new(|| {
    crate::reading::keywords(r"\b(no|zero|(?:don't|do\s+not|no\s+longer)\s+have\s+any)\s+part[- ]?time")
});

/// A sentence that gives one type to the people just named or counted:
/// "All three are part-time", "Both is part time, not full time", "he was
/// part time".
pub(super) static GROUP_TYPE: LazyLock<Regex> = LazyLock::new(|| {
    crate::reading::keywords(
        r"(?i)\b(?:all|both|each|they|they're|these|those|everyone|he|she|he's|she's)\b[^.;]{0,30}?\b(?:are|is|was|were|be|'re|'s|work|works|as)\b[^.;]{0,20}?\b(?:full|part)[- ]?tim",
    )
});
/// Does a lower-cased sentence give a group its type ([`GROUP_TYPE`])? The
/// pattern is asked only of sentences that hold "tim" (as it must), which
/// rules out most sentences without its search.
pub(super) fn types_a_group(lower: &str) -> bool {
    lower.contains("tim") && GROUP_TYPE.is_match(lower)
}
/// "not full-time", taken out before a sentence's type is read.
pub(super) static NOT_TYPE: LazyLock<Regex> =
    LazyLock::new(|| crate::reading::keywords(r"(?i)\bnot\s+(?:a\s+)?(?:full|part)[- ]?time\w*"));
/// The type left open on purpose: "full-time or part-time", "whether she'll be full- or part-time".
pub(super) static TYPE_OPEN: LazyLock<Regex> = LazyLock::new(|| {
    crate::reading::keywords(
        r"(?i)\b(?:full|part)(?:[- ]?time)?\s*(?:-\s*)?(?:or|/)\s*(?:full|part)[- ]?time\b|\bwhether\b[^.;]{0,40}\b(?:full|part)[- ]?time",
    )
});
/// An action asked about as a price or a plan, not asked for: "a quote for
/// adding 10 seats", "what would it cost to add".
pub(super) static HYPOTHETICAL: LazyLock<Regex> = LazyLock::new(|| {
    crate::reading::keywords(
        r"(?i)\b(?:quote|quotation|estimate|pricing|price|cost|costs|budget)\s+(?:for|of|to|on)\b|\bhow\s+much\b|\bwhat\s+(?:would|will|does)\b",
    )
});
/// The sender says nothing is to change now: "please don't add anything yet".
pub(super) static NO_CHANGE_NOW: LazyLock<Regex> = LazyLock::new(|| {
    crate::reading::keywords(
        r"(?i)\b(?:don't|do\s+not|no\s+need\s+to)\s+(?:add|remove|change|make)\s+(?:anything|any\s+changes?|anyone)\b|\bfor\s+budget(?:ing)?\s+(?:purposes\s+)?only\b|\bno\s+changes?\s+(?:yet|for\s+now|needed|at\s+this\s+time)\b",
    )
});
/// A total stated as the new count, not as background: "now", "down to",
/// "that makes", "please bill".
pub(super) static TOTAL_NOW: LazyLock<Regex> = LazyLock::new(|| {
    crate::reading::keywords(
        r"(?i)\b(?:now|new|updated?|after|down\s+to|up\s+to|make|makes|bring|brings|will\s+be|going\s+forward|from\s+now|effective|starting|as\s+of|please|bill|charge|invoice|total|correct|right|accurate|unchanged|same|replaces?|no\s+longer|numbers|counts)\b",
    )
});
/// A request to bill the counts given: "please update our billing to reflect this".
pub(super) static UPDATE_REQUEST: LazyLock<Regex> = LazyLock::new(|| {
    crate::reading::keywords(
        r"(?i)\b(?:please|kindly|can\s+you|could\s+you)\b[^.?]{0,40}\b(?:update|bill|charge|adjust|change|reflect|use|invoice|correct)\b",
    )
});
/// Words before a capitalised run that make it a place or a company, not a
/// person: "moved on from Mustard Seed", "works at Acme".
pub(super) const PLACE_PREPOSITIONS: &[&str] = &["from", "at", "in"];

/// Stems of every action the patterns below know; a clause with none of
/// them is not a request and skips the patterns (one literal-set search).
pub(super) static ACT_STEMS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)add(?:s|ed|ing)?(?-u:\b)|remov|delet|drop|deactiv|offboard|onboard|terminat|cancel|no longer|left|leav|retir|resign|depart|quit|last day|stop billing|stop charging|let go|take |decreas|reduc|lower|increas|bump|raise|hire|hiring|join|welcom|new (?:full|part|user|staff|employee|hire|people|team|member|seat|licen)|(?:more|additional|extra) (?:full|part|user|seat|licen|people|staff|employee)|(?:bill|charge|invoice) (?:us|me|our)|to (?:be )?(?:a )?(?:full|part)[- ]?time|from (?:full|part)[- ]?time|(?:user|new|updated|current|correct|head) ?count|(?:new|updated|current|correct|a) total|total of|bring|billing for|we (?:now |currently |will )?(?:have|are)|we're|disabled|starter|joiner|arrival|leaver|departure|bring|makes? |numbers|counts|totals|(?:are|is) (?:still )?(?:correct|right|accurate|unchanged|the same)|have any|new [a-z]|time\s*(?:→|->|=>|⇒)|return|cut",
    )
    .expect("regex")
});

/// A clause and the action it asks for, if any.
pub(super) type ReadClause = (String, Option<Asked>);

/// Verbs whose position starts a new clause.
pub(super) static CLAUSE_VERB: LazyLock<Regex> = LazyLock::new(|| {
    crate::reading::keywords(
        r"(?i)\b(add|adding|remove|removing|drop|dropping|delete|deleting|hire|hired|hiring|left|leaving|retired|retiring|resigned|deactivate|cancel|move|moving|switch|switching|going\s+from|bill\s+us|bill\s+our)\b",
    )
});

/// People named in `text`, as written.
pub(super) fn names_in(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for m in NAME.find_iter(text) {
        let tokens: Vec<&str> = m.as_str().split_whitespace().collect();
        // drop words that are never names, splitting the run at them
        let mut run: Vec<&str> = Vec::new();
        let push_run = |run: &mut Vec<&str>, out: &mut Vec<String>| {
            let caps = run.iter().filter(|t| !t.ends_with('.') || t.len() > 3).count();
            let titled = run.first().is_some_and(|t| t.starts_with("Dr"));
            if caps >= 2 || (titled && run.len() >= 2) {
                out.push(run.join(" ").trim_end_matches(['\'', '’']).trim_end_matches("'s").to_string());
            }
            run.clear();
        };
        for t in tokens {
            let bare = t.trim_end_matches(['.', ',', '\'', '’']).trim_end_matches("'s");
            if NOT_NAME_SET.contains(bare) || bare.chars().all(|c| c.is_uppercase()) && bare.len() > 1 {
                push_run(&mut run, &mut out);
            } else {
                run.push(t);
            }
        }
        push_run(&mut run, &mut out);
    }
    out
}

/// A count of people in a clause: "two part-time receptionists", "4
/// full-time users", "a new user". Also reports vague quantities.
pub(super) fn counts_in(lower: &str) -> (Vec<(i64, Option<UserType>)>, bool) {
    let tokens: Vec<&str> = lower
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | ':' | '(' | ')' | '!' | '?' | '"'))
        .map(|t| t.trim_end_matches('.'))
        .filter(|t| !t.is_empty())
        .collect();
    let mut found = Vec::new();
    let mut vague = false;
    let mut i = 0;
    while i < tokens.len() {
        let tok = tokens[i];
        let prev = if i > 0 { tokens[i - 1] } else { "" };
        // "$2", "#5", "11/16" are not counts; "both" points back at people
        // already named or counted and never adds any
        let is_count = count_word(tok).is_some() && !tok.contains(['/', '$', '#']) && tok != "both";
        if is_count {
            let n = count_word(tok).unwrap_or(0);
            let mut typ = None;
            let mut saw_new = false;
            let mut accepted = false;
            let mut j = i + 1;
            let mut words = 0;
            while j < tokens.len() && words < 5 {
                let t = tokens[j];
                if let Some(ty) = type_word(t) {
                    typ = Some(ty);
                } else if t == "full" || t == "part" {
                    if tokens.get(j + 1).is_some_and(|n| n.starts_with("time")) {
                        typ = type_word(&format!("{t}time"));
                        j += 1;
                    }
                } else if matches!(t, "more" | "new" | "additional" | "extra" | "other" | "further" | "brand") {
                    saw_new |= t != "other";
                } else if USER_NOUNS.contains(&t) {
                    accepted = true;
                    break;
                } else if NOT_PEOPLE.contains(&t) || t.chars().any(|c| c.is_ascii_digit()) {
                    break;
                } else if typ.is_some() || saw_new {
                    // "two part-time receptionists", "three new account managers"
                    accepted =
                        !matches!(t, "and" | "or" | "to" | "for" | "as" | "on" | "from" | "starting" | "effective");
                    if accepted {
                        break;
                    }
                    break;
                } else {
                    words += 1;
                    if words > 2 {
                        break;
                    }
                }
                j += 1;
            }
            // "both full-time", "2 part-time" with no noun after the type
            if !accepted && typ.is_some() && j <= i + 3 {
                accepted = true;
            }
            let article = matches!(tok, "a" | "an" | "another" | "single");
            if accepted && !(article && prev == "of") {
                found.push((n, typ));
                i = j + 1;
                continue;
            }
        } else if VAGUE.contains(&tok)
            && tokens.get(i.wrapping_sub(1)).is_none_or(|p| count_word(p).is_none_or(|_| *p == "a"))
        {
            let follows = tokens.iter().skip(i + 1).take(4).any(|t| USER_NOUNS.contains(t) || type_word(t).is_some());
            if follows {
                vague = true;
            }
        }
        i += 1;
    }
    (found, vague)
}

/// Every pattern a clause is asked about, in one pass over it.
pub(super) static CUES: LazyLock<crate::reading::OnePass> = LazyLock::new(|| {
    crate::reading::OnePass::new(vec![
        &MOVE_FROM_TO,
        &MOVE_TO,
        &TOTAL,
        &REMOVE,
        &ADD,
        &REMOVED_PAST,
        &ADDED_PAST,
        &NEGATED,
        &REQUEST,
        &IMPERATIVE,
        &PRONOUN,
        &TENTATIVE,
        &HYPOTHETICAL,
        &ALREADY_DONE,
    ])
});

/// The action a clause asks for, with the cues read on the way.
#[derive(Debug, Clone, Copy)]
pub(super) struct Asked {
    pub act: Act,
    pub strength: Strength,
    /// Points back at people ("him", "them", "the following").
    pub pronoun: bool,
    /// "maybe", "if", "planning to".
    pub tentative: bool,
    /// Ends in a question mark.
    pub question: bool,
}

/// An action verb whose object is a thing, not people: "to add
/// information", "cancel scheduled payments", "remove the attachment".
pub(super) static THING_ACTION: LazyLock<Regex> = LazyLock::new(|| {
    crate::reading::keywords(
        r"(?i)\b(?:add|adding|remove|removing|delete|deleting|drop|dropping|cancel|cancelling|canceling|deactivate)\s+(?:(?:the|a|an|any|our|your|my|this|that|some|all|more|additional|scheduled|recurring|further|extra|upcoming|future|pending|automatic|online)\s+)*(?:[a-z-]+\s+)?(?:information|info|details?|notes?|comments?|context|attachments?|files?|documents?|payments?|invoices?|meetings?|appointments?|orders?|subscriptions?|requests?|tickets?|questions?|money|funds|it|this|that|replies|reply|messages?|emails?)\b",
    )
});

/// A list item led by its action as a label: "- New: 3 court reporters",
/// "Removed: Glenn Ortiz". A label, even a past participle, names what the
/// item asks for; it is not history. A bare "New:" must be followed by a
/// count ("New: Datacore Backup for Microsoft 365" announces a product).
pub(super) static LABEL_ACT: LazyLock<Regex> = LazyLock::new(|| {
    crate::reading::keywords(
        r"(?i)^\s*(?:[-*•]\s*|\d+[.)]\s*)?(?:(new\s*:\s*(?:\d{1,3}|a|an|one|two|three|four|five|six|seven|eight|nine|ten|twelve)\s|(?:new\s+(?:hires?|users?|staff|employees?)|added|additions?|starters?|joiners?|starting)\s*:)|((?:removed|removals?|leavers?|leaving|departures?|departing|terminated|terminations?)\s*:))\s*\S",
    )
});

pub(super) static ALREADY_DONE: LazyLock<Regex> = LazyLock::new(|| {
    crate::reading::keywords(
        r"(?i)\b(?:already|previously)\s+(?:been\s+)?(?:sent|submitted|processed|handled|done|set\s+up|taken\s+care\s+of|reported|sent\s+over)\b",
    )
});

pub(super) fn act_of(clause: &str) -> Option<Asked> {
    let lower = clause.to_ascii_lowercase();
    if let Some(c) = LABEL_ACT.captures(&lower)
        && !NEGATED.is_match(&lower)
        && !HYPOTHETICAL.is_match(&lower)
    {
        let act = if c.get(1).is_some() { Act::Add } else { Act::Remove };
        return Some(Asked {
            act,
            strength: Strength::Strong,
            pronoun: PRONOUN.is_match(&lower),
            tentative: TENTATIVE.is_match(&lower),
            question: lower.trim_end().ends_with('?'),
        });
    }
    if !ACT_STEMS.is_match(&lower) {
        return None;
    }
    let lower = THING_ACTION.replace_all(&lower, " ");
    let cue = CUES.over(&lower);
    let any_act =
        [&*MOVE_FROM_TO, &MOVE_TO, &TOTAL, &REMOVE, &ADD, &REMOVED_PAST, &ADDED_PAST].iter().any(|re| cue.has(re));
    if !any_act || cue.has(&NEGATED) || cue.has(&HYPOTHETICAL) {
        return None;
    }
    // "which HR already sent to your help desk": done before, not asked now
    let past = cue.has(&REMOVED_PAST) || cue.has(&ADDED_PAST) || cue.has(&ALREADY_DONE);
    let asked = cue.has(&REQUEST) || cue.has(&IMPERATIVE);
    let question = lower.trim_end().ends_with('?');
    let found =
        |act, strength| Asked { act, strength, pronoun: cue.has(&PRONOUN), tentative: cue.has(&TENTATIVE), question };
    let act = if cue.has(&MOVE_FROM_TO) {
        let c = MOVE_FROM_TO.captures(&lower)?;
        let (f, t) = match (c.get(1), c.get(2)) {
            (Some(f), Some(t)) => (f.as_str(), t.as_str()),
            _ => (c.get(3)?.as_str(), c.get(4)?.as_str()),
        };
        let from = type_word(&format!("{f}time"))?;
        let to = type_word(&format!("{t}time"))?;
        if from == to {
            return None;
        }
        Act::Move { from, to }
    } else if cue.has(&MOVE_TO) {
        let c = MOVE_TO.captures(&lower)?;
        let to = type_word(&format!("{}time", &c[2]))?;
        let from = if to == UserType::FullTime { UserType::PartTime } else { UserType::FullTime };
        Act::Move { from, to }
    } else if cue.has(&TOTAL) {
        Act::Total
    } else if cue.has(&REMOVE) {
        Act::Remove
    } else if cue.has(&ADD) {
        Act::Add
    } else if cue.has(&REMOVED_PAST) {
        return Some(found(Act::Remove, Strength::Weak));
    } else {
        // only ADDED_PAST is left of the actions
        return Some(found(Act::Add, Strength::Weak));
    };
    // a question asks nothing yet; plain past-tense statements of our own
    // doing ("we removed three people") are not requests
    let strength = if asked {
        Strength::Strong
    } else if lower.trim_end().ends_with('?') || past {
        Strength::Weak
    } else {
        Strength::Strong
    };
    Some(found(act, strength))
}

/// Splits a sentence into clauses at its second and later action verbs
/// ("remove A and add B"), each with the action it asks for.
pub(super) fn clauses(sentence: &str) -> Vec<ReadClause> {
    if !ACT_STEMS.is_match(sentence) {
        // no action stem: no clause of it can ask for anything, unless the
        // sentence is led by its action as a label
        let labelled = LABEL_ACT.is_match(sentence).then(|| act_of(sentence)).flatten();
        return vec![(sentence.to_string(), labelled)];
    }
    let starts: Vec<usize> = CLAUSE_VERB.find_iter(sentence).map(|m| m.start()).collect();
    let mut out = Vec::new();
    let mut prev = 0;
    for (k, s) in starts.iter().enumerate().skip(1) {
        // only split where the two verbs act differently
        let a = act_of(&sentence[starts[k - 1]..*s]).map(|x| x.act);
        let b = act_of(&sentence[*s..]).map(|x| x.act);
        if a.is_some() && b.is_some() && a != b {
            out.push(sentence[prev..*s].to_string());
            prev = *s;
        }
    }
    out.push(sentence[prev..].to_string());
    out.into_iter()
        .map(|c| {
            let a = act_of(&c);
            (c, a)
        })
        .collect()
}

/// Types given to each name in a clause ("Marcus Webb as full-time and Ana
/// Ruiz as part-time", "Hélène Côté (full-time)").
pub(super) fn typed_names(clause: &str, names: &[String]) -> Vec<(String, Option<UserType>)> {
    let mut out = Vec::new();
    for (k, n) in names.iter().enumerate() {
        let Some(start) = clause.find(n.as_str()) else {
            out.push((n.clone(), None));
            continue;
        };
        let after = start + n.len();
        let end = names
            .get(k + 1)
            .and_then(|next| clause[after..].find(next.as_str()).map(|p| after + p))
            .unwrap_or(clause.len());
        let span = &clause[after..end];
        let types: Vec<UserType> = TYPE_RE.find_iter(span).filter_map(|m| type_word(m.as_str())).collect();
        let t = match types.as_slice() {
            [one] => Some(*one),
            [first, rest @ ..] if rest.iter().all(|r| r == first) => Some(*first),
            _ => None,
        };
        // "(both full-time)" after the last name is for everyone, not for that name
        let span_l = span.to_ascii_lowercase();
        let first_type = TYPE_RE.find(&span_l).map(|m| m.start()).unwrap_or(usize::MAX);
        let shared = ["both", "all ", "each"].iter().filter_map(|w| span_l.find(w)).any(|p| p < first_type);
        out.push((n.clone(), if shared { None } else { t }));
    }
    out
}

pub(super) fn stated_type(text: &str) -> (Option<UserType>, bool) {
    let text = NOT_TYPE.replace_all(text, "");
    let types: Vec<UserType> = TYPE_RE.find_iter(&text).filter_map(|m| type_word(m.as_str())).collect();
    let ft = types.contains(&UserType::FullTime);
    let pt = types.contains(&UserType::PartTime);
    match (ft, pt) {
        (true, false) => (Some(UserType::FullTime), false),
        (false, true) => (Some(UserType::PartTime), false),
        (true, true) => (None, true),
        _ => (None, false),
    }
}

/// A date that is someone's last day or start: "today was her last day",
/// "Monday is his first day".
pub(super) static LAST_DAY_AFTER: LazyLock<Regex> = LazyLock::new(|| {
    crate::reading::keywords(
        r"(?i)^\S+\s+(?:was|is|will\s+be)\s+(?:his|her|their|my|the)\s+(?:last|first|final)\s+day\b",
    )
});

/// Every date of `text` that a cue ties to a change, in order.
pub(super) fn dates_for(text: &str, sent: Option<NaiveDate>) -> Vec<NaiveDate> {
    let lower = text.to_ascii_lowercase();
    if !DATE_CUE.is_match(&lower) {
        return Vec::new();
    }
    dates_in(text, sent)
        .into_iter()
        .filter_map(|(pos, d)| {
            let before = &lower[..pos.min(lower.len())];
            let window_start = before.char_indices().rev().nth(30).map(|(i, _)| i).unwrap_or(0);
            // the cue before the date ("starts Monday"), or just after it ("today
            // was her last day")
            let after = lower.get(pos..).unwrap_or("");
            let after = after.char_indices().nth(30).map_or(after, |(i, _)| &after[..i]);
            (DATE_CUE.is_match(&before[window_start..]) || LAST_DAY_AFTER.is_match(after)).then_some(d)
        })
        .collect()
}

/// One item of a list: a name with its type, or a counted line.
pub(super) fn item_person(text: &str) -> Option<(String, Option<UserType>)> {
    let first = text.split(" | ").next().unwrap_or(text);
    let cut = first.find([',', '(', ':', '–', '—']).into_iter().chain(first.find(" - ")).min().unwrap_or(first.len());
    let candidate = first[..cut].trim();
    if candidate.is_empty() || candidate.chars().any(|c| c.is_ascii_digit()) || candidate.split_whitespace().count() > 5
    {
        return None;
    }
    let names = names_in(candidate);
    if names.len() != 1 || names[0].len() + 3 < candidate.len() {
        return None;
    }
    let (t, _) = stated_type(text);
    Some((names[0].clone(), t))
}

pub(super) fn is_header_row(text: &str) -> bool {
    let first = text.split(" | ").next().unwrap_or("").trim().to_ascii_lowercase();
    text.contains(" | ") && (first == "name" || first == "employee" || first == "user" || first.ends_with(" name"))
}

/// People named in a clause: not the sender's own names, not a place or a
/// company ("moved on from Mustard Seed").
pub(super) fn person_names(clause: &str, names_to_skip: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for n in names_in(clause) {
        // "Dr. Anita Shah ... (Dr. Shah is going to 3 days)": one person
        if !out.iter().any(|o| same_person(o, &n)) {
            out.push(n);
        }
    }
    out.into_iter()
        .filter(|n| !names_to_skip.contains(n))
        .filter(|n| {
            let Some(at) = clause.find(n.as_str()) else { return true };
            let before = clause[..at].trim_end().rsplit(char::is_whitespace).next().unwrap_or("");
            !PLACE_PREPOSITIONS.iter().any(|p| before.eq_ignore_ascii_case(p))
        })
        .collect()
}

/// Two mentions of one person: the same surname, and the same first name
/// or a title in place of it ("Dr. Anita Shah", "Dr. Shah").
pub(super) fn same_person(a: &str, b: &str) -> bool {
    let words = |s: &str| s.split_whitespace().map(|w| w.trim_end_matches('.').to_string()).collect::<Vec<_>>();
    let (wa, wb) = (words(a), words(b));
    let (Some(la), Some(lb)) = (wa.last(), wb.last()) else { return false };
    la == lb && (wa[0] == wb[0] || wa[0] == "Dr" || wb[0] == "Dr")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_cue_is_in_the_set() {
        for re in [
            &*MOVE_FROM_TO,
            &MOVE_TO,
            &TOTAL,
            &REMOVE,
            &ADD,
            &REMOVED_PAST,
            &ADDED_PAST,
            &NEGATED,
            &REQUEST,
            &IMPERATIVE,
            &PRONOUN,
            &TENTATIVE,
            &HYPOTHETICAL,
            &ALREADY_DONE,
        ] {
            assert!(CUES.holds(re), "{}", re.as_str());
        }
    }
}
