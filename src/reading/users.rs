//! Requests to change user counts: who is added, removed or moved between
//! full-time and part-time, or the new totals; with every doubt recorded.
//!
//! A request is read in clauses. Each clause with an action ("add",
//! "remove", "left the firm", "from full-time to part-time", "bill us for")
//! becomes a group of people: a count ("two part-time receptionists"),
//! names ("Brian Cole and Lisa Tran"), the list that follows it, or a
//! pronoun ("please remove him") that points back at an earlier group, so
//! the same person is never counted twice.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use chrono::NaiveDate;
use regex::Regex;

use super::dates::dates_in;
use super::text::{Unit, sentences};
use super::words::{NOT_NAMES, NOT_PEOPLE, TYPE_DOUBT, USER_NOUNS, VAGUE, count_word};
use crate::domain::UserType;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    Add,
    Remove,
    Move { from: UserType, to: UserType },
    Total,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Strength {
    /// Mentioned, but not asked for (past tense, a question, negated).
    Weak,
    /// Asked for.
    Strong,
}

#[derive(Debug, Clone)]
struct Group {
    act: Act,
    strength: Strength,
    count: Option<i64>,
    vague: bool,
    stated_type: Option<UserType>,
    names: Vec<(String, Option<UserType>)>,
    tentative: bool,
    type_doubt: bool,
    date: Option<NaiveDate>,
    /// Came from a sentence whose only people are a pronoun.
    pronoun_only: bool,
    /// Asked as a question ("Do they need to be added?").
    question: bool,
    /// The sentences and rows it was read from.
    said: Vec<String>,
    /// The sentence its date was read from.
    date_said: Option<String>,
}

/// What a request says about user counts.
#[derive(Debug, Clone, Default)]
pub struct Finding {
    pub adjustments: BTreeMap<UserType, i64>,
    pub totals: Option<(Option<i64>, Option<i64>)>,
    pub names_added: Vec<String>,
    pub names_removed: Vec<String>,
    pub effective_date: Option<NaiveDate>,
    /// When the changes take effect on different dates: the net change per
    /// date and type (in date order), each with the sentences behind it;
    /// `effective_date` is then `None`.
    pub dated: Vec<(NaiveDate, UserType, i64, Vec<String>)>,
    pub strength: Option<Strength>,
    /// Why a person must look; empty when the reading is certain.
    pub doubts: Vec<String>,
    /// Users are mentioned but nothing is asked, and no question either:
    /// history ("we welcomed 18 new team members"), or the sender says
    /// nothing is to change yet. News, left for people as `other`.
    pub asks_nothing: bool,
    /// (act, count) per action, for comparing with the subject.
    pub totals_by_act: Vec<(&'static str, i64)>,
    /// What each figure was read from: (`adjustments[0]`, `totals.full_time`,
    /// `effective_date`; the sentence or row).
    pub evidence: Vec<(String, String)>,
}

impl Finding {
    pub fn found(&self) -> bool {
        self.strength.is_some()
    }

    /// The figures found (none when nothing was): what two readings of one
    /// request must agree on.
    pub fn figures(&self) -> Option<Figures> {
        self.found().then(|| Figures { adjustments: self.adjustments.clone(), totals: self.totals })
    }
}

/// Net changes per type and new totals, as one reading found them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Figures {
    pub adjustments: BTreeMap<UserType, i64>,
    pub totals: Option<(Option<i64>, Option<i64>)>,
}

fn type_word(s: &str) -> Option<UserType> {
    let s = s.to_ascii_lowercase();
    let s = s.replace([' ', '-'], "");
    if s.starts_with("fulltime") {
        Some(UserType::FullTime)
    } else if s.starts_with("parttime") {
        Some(UserType::PartTime)
    } else {
        None
    }
}

static TYPE_RE: LazyLock<Regex> = LazyLock::new(|| super::keywords(r"(?i)\b(full|part)[- ]?time\b"));
static MOVE_FROM_TO: LazyLock<Regex> = LazyLock::new(|| {
    super::keywords(
        r"(?i)\bfrom\s+(full|part)[- ]?time(?:\s+status)?\s+(?:to|into)\s+(full|part)[- ]?time\b|\b(full|part)[- ]?time\s*(?:→|->|=>|⇒)\s*(full|part)[- ]?time\b",
    )
});
static MOVE_TO: LazyLock<Regex> = LazyLock::new(|| {
    super::keywords(
        r"(?i)\b(mov(?:e|es|ed|ing)|switch(?:es|ed|ing)?|return(?:s|ed|ing)?|cut(?:s|ting)?\s+back|chang(?:e|es|ed|ing)|convert(?:s|ed|ing)?|going|goes|go|transition(?:s|ed|ing)?|reduc(?:e|es|ed|ing)|becom(?:e|es|ing)|drop(?:s|ped|ping)?\s+(?:down\s+)?)\b[^.;:]{0,40}?\bto\s+(?:be\s+)?(?:a\s+)?(full|part)[- ]?time\b",
    )
});
static TOTAL: LazyLock<Regex> = LazyLock::new(|| {
    super::keywords(
        r"(?i)\b(?:bill|charge|invoice)\s+(?:us|me|our\b[^.;:]{0,60}?)\s+for\s+(?:a\s+total\s+of\s+)?(?:\d{1,3}|[a-z]+)\s+(?:full|part|users|people|staff|employees|seats)|\bwe\s+(?:now\s+|currently\s+|will\s+)?(?:have|are\s+(?:now\s+)?at|are\s+down\s+to|are\s+up\s+to|will\s+be\s+at)\s+(?:a\s+total\s+of\s+)?\d{1,3}\s+(?:full|part|users|people|staff|employees|seats)|\b(?:new|updated|current|correct)\s+(?:user\s+)?(?:count|total|headcount)\b|\bheadcount\s+(?:is|will\s+be|of)\s+\d|\bbring(?:s|ing)?\s+(?:us|our\s+total|the\s+total|you)\s+to\s+\d|\b(?:that|this|which|it)(?:'ll|\s+will|\s+would)?\s+(?:make|makes|bring|brings|leave|leaves|put|puts)\s+(?:us\s+)?(?:at\s+|to\s+)?(?:a\s+total\s+of\s+)?(?:\d{1,3}|[a-z]+(?:-[a-z]+)?)\s+(?:full|part|users|people|staff|employees|seats|total)|\b\d{1,3}\s+(?:full|part)[- ]?time(?:\s+(?:users|people|staff|employees|seats))?\s+(?:in\s+)?total\b|\b(?:our|the)\s+(?:new\s+|updated\s+)?(?:numbers|counts|user\s+counts?|totals|headcounts?)\b[^.;?]{0,60}?\d{1,3}\s+(?:full|part)|\bthe\s+(?:\d{1,3}|[a-z]+)\s+(?:full|part)[- ]?time(?:rs|\s+users|\s+staff|\s+people)?\s+(?:are|is)\s+(?:still\s+)?(?:correct|right|accurate|unchanged|the\s+same)\b|\bwe(?:'re|\s+are)\s+(?:now\s+)?(?:at|down\s+to|up\s+to)\s+(?:a\s+total\s+of\s+)?(?:\d{1,3}|[a-z]+(?:-[a-z]+)?)\s+(?:full|part|users|people|staff|employees|seats|agents)|\b(?:no\s+longer|don't|do\s+not)\s+have\s+any\s+(?:full|part)[- ]?time",
    )
});
static REMOVE: LazyLock<Regex> = LazyLock::new(|| {
    super::keywords(
        r"(?i)\b(remove|removing|delete|deleting|drop|dropping|deactivate|deactivating|offboard|offboarding|terminate|terminating|cancel|cancelling|canceling)\b|\bno\s+longer\s+(?:with|employed|working|works|here|at|part\s+of|on)\b|\b(left|leaving|leavers?|departures?|retired|retiring|resigned|resigning|departed|departing|quit|quitting)\b|\blast\s+day\b|\bstop\s+(?:billing|charging)\b|\blet\s+go\b|\btake\b[^.;]{0,30}\boff\b|\b(?:decrease|decreasing|reduce|reducing|lower)\b[^.;]{0,30}\b(?:users?|seats?|licenses?|count|headcount)\b",
    )
});
static REMOVED_PAST: LazyLock<Regex> =
    LazyLock::new(|| super::keywords(r"(?i)\b(removed|deleted|dropped|deactivated|disabled)\b"));
static ADD: LazyLock<Regex> = LazyLock::new(|| {
    super::keywords(
        r"(?i)\b(add|adds|adding|onboard|onboarding|hire|hires|hired|hiring|joining|joins)\b|\bnew\s+(?:full[- ]?time\s+|part[- ]?time\s+)?(?:users?|staff|employees?|hires?|people|team\s+members?|members?|seats?|licenses?)\b|\bstart(?:ing)?\s+billing\s+for\b|\b(?:\d{1,3}|one|two|three|four|five|six|seven|eight|nine|ten|a\s+few|a\s+couple\s+of|some|several)\s+(?:more|additional|extra)\s+(?:full[- ]?time\s+|part[- ]?time\s+)?(?:[a-z-]+\s+){0,2}?(?:users?|seats?|licen[cs]es?|people|staff|employees|logins?|accounts?|mailboxes)\b|\bbring(?:s|ing)?\s+on\b|\b(?:increase|increasing|bump|raise)\b[^.;]{0,30}\b(?:users?|seats?|licenses?|count|headcount)\b|\bnew\s+(?:[a-z-]+\s+){0,3}?[a-z-]+\s+(?:starting|start|starts|joining|join|joins|beginning|begins|coming\s+on)\b|\bnew\s+(?:starters?|joiners?|arrivals?)\b|\b(?:starters|joiners|arrivals)\b",
    )
});
static ADDED_PAST: LazyLock<Regex> = LazyLock::new(|| super::keywords(r"(?i)\b(added|welcomed|onboarded)\b"));
static REQUEST: LazyLock<Regex> = LazyLock::new(|| {
    super::keywords(
        r"(?i)\b(please|pls|kindly|can\s+you|could\s+you|would\s+you|can\s+we|we\s+need|we'll\s+need|we\s+will\s+need|need\s+to|we'd\s+like|i'd\s+like|we\s+would\s+like|i\s+would\s+like|go\s+ahead|make\s+sure|update\s+our|bill\s+(?:us|our)|we're\s+(?:also\s+)?(?:adding|removing)|we\s+are\s+(?:also\s+)?(?:adding|removing)|will\s+be\s+(?:joining|leaving)|(?:is|are)\s+(?:joining|leaving)|starting|starts|effective|as\s+of|has\s+left|have\s+left|left\s+the|no\s+longer|(?:is|are)\s+going\s+from|is\s+moving|are\s+moving|hired|retired|resigned|last\s+day|let\s+go)\b",
    )
});
static IMPERATIVE: LazyLock<Regex> = LazyLock::new(|| {
    super::keywords(
        r"(?i)^\s*(?:\d+[.)]\s*|-\s*)?(?:also,?\s+|and\s+)?(add|remove|drop|delete|cancel|deactivate|adding|removing|move|switch|change|convert)\b",
    )
});
static NEGATED: LazyLock<Regex> = LazyLock::new(|| {
    super::keywords(
        r"(?i)\b(don't|do\s+not|didn't|did\s+not|haven't|have\s+not|hasn't|has\s+not|won't|will\s+not|no\s+need\s+to|not\s+to|never|cannot|can't|shouldn't)\b[^.;]{0,25}\b(add|remove|bill|charge|change|drop|delete|cancel|move|switch|added|removed)",
    )
});
static TENTATIVE: LazyLock<Regex> = LazyLock::new(|| {
    super::keywords(
        r"(?i)\b(may\s+[a-z]|might|maybe|possibly|possible|perhaps|probably|considering|thinking\s+(?:about|of)|plan\s+to|planning\s+(?:to|on)|hope\s+to|hoping\s+to|potentially|tentative|tentatively|if|unless|not\s+yet|nothing\s+to\s+change|will\s+confirm|let\s+you\s+know|heads\s+up|next\s+quarter|in\s+the\s+future|eventually|at\s+some\s+point|down\s+the\s+road|could\s+be|expect\s+to|expecting\s+to|once\s+(?:hr|we|the|they)|pending|waiting\s+on|not\s+sure|unsure|undecided)\b",
    )
});
static PRONOUN: LazyLock<Regex> = LazyLock::new(|| {
    super::keywords(
        r"(?i)\b(him|her|them|they|he|she|his|their|these|those|both|the\s+following|each\s+of\s+them|the\s+change|this\s+change|these\s+changes|the\s+changes)\b",
    )
});
static NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?:Dr\.?\s+)?(?:Mc|Mac|[OD]['’])?\p{Lu}[\p{Ll}\p{M}'’]+(?:-\p{L}[\p{Ll}\p{M}'’]+)?(?:\s+\p{Lu}\.)?(?:\s+(?:(?:de|van|von|der|da|del|la|le|di|du|dos|das|bin|al)\s+)?(?:Mc|Mac|[OD]['’])?\p{Lu}[\p{Ll}\p{M}'’]+(?:-\p{L}[\p{Ll}\p{M}'’]+)?){0,2}")
        .expect("regex")
});
static DATE_CUE: LazyLock<Regex> = LazyLock::new(|| {
    super::keywords(
        r"(?i)\b(start|starts|starting|started|effective|as\s+of|from|beginning|begins|begin|on|after|since|commencing|until|through|last\s+day|first\s+day)\b",
    )
});

static NO_FULL_TIME: LazyLock<Regex> =
    LazyLock::new(|| super::keywords(r"\b(no|zero|(?:don't|do\s+not|no\s+longer)\s+have\s+any)\s+full[- ]?time"));
static NO_PART_TIME: LazyLock<Regex> =
    LazyLock::new(|| super::keywords(r"\b(no|zero|(?:don't|do\s+not|no\s+longer)\s+have\s+any)\s+part[- ]?time"));

/// A sentence that gives one type to the people just named or counted:
/// "All three are part-time", "Both is part time, not full time", "he was
/// part time".
static GROUP_TYPE: LazyLock<Regex> = LazyLock::new(|| {
    super::keywords(
        r"(?i)\b(?:all|both|each|they|they're|these|those|everyone|he|she|he's|she's)\b[^.;]{0,30}?\b(?:are|is|was|were|be|'re|'s|work|works|as)\b[^.;]{0,20}?\b(?:full|part)[- ]?tim",
    )
});
/// "not full-time", taken out before a sentence's type is read.
static NOT_TYPE: LazyLock<Regex> = LazyLock::new(|| super::keywords(r"(?i)\bnot\s+(?:a\s+)?(?:full|part)[- ]?time\w*"));
/// The type left open on purpose: "full-time or part-time", "whether she'll be full- or part-time".
static TYPE_OPEN: LazyLock<Regex> = LazyLock::new(|| {
    super::keywords(
        r"(?i)\b(?:full|part)(?:[- ]?time)?\s*(?:-\s*)?(?:or|/)\s*(?:full|part)[- ]?time\b|\bwhether\b[^.;]{0,40}\b(?:full|part)[- ]?time",
    )
});
/// An action asked about as a price or a plan, not asked for: "a quote for
/// adding 10 seats", "what would it cost to add".
static HYPOTHETICAL: LazyLock<Regex> = LazyLock::new(|| {
    super::keywords(
        r"(?i)\b(?:quote|quotation|estimate|pricing|price|cost|costs|budget)\s+(?:for|of|to|on)\b|\bhow\s+much\b|\bwhat\s+(?:would|will|does)\b",
    )
});
/// The sender says nothing is to change now: "please don't add anything yet".
static NO_CHANGE_NOW: LazyLock<Regex> = LazyLock::new(|| {
    super::keywords(
        r"(?i)\b(?:don't|do\s+not|no\s+need\s+to)\s+(?:add|remove|change|make)\s+(?:anything|any\s+changes?|anyone)\b|\bfor\s+budget(?:ing)?\s+(?:purposes\s+)?only\b|\bno\s+changes?\s+(?:yet|for\s+now|needed|at\s+this\s+time)\b",
    )
});
/// A total stated as the new count, not as background: "now", "down to",
/// "that makes", "please bill".
static TOTAL_NOW: LazyLock<Regex> = LazyLock::new(|| {
    super::keywords(
        r"(?i)\b(?:now|new|updated?|after|down\s+to|up\s+to|make|makes|bring|brings|will\s+be|going\s+forward|from\s+now|effective|starting|as\s+of|please|bill|charge|invoice|total|correct|right|accurate|unchanged|same|replaces?|no\s+longer|numbers|counts)\b",
    )
});
/// A request to bill the counts given: "please update our billing to reflect this".
static UPDATE_REQUEST: LazyLock<Regex> = LazyLock::new(|| {
    super::keywords(
        r"(?i)\b(?:please|kindly|can\s+you|could\s+you)\b[^.?]{0,40}\b(?:update|bill|charge|adjust|change|reflect|use|invoice|correct)\b",
    )
});
/// Words before a capitalised run that make it a place or a company, not a
/// person: "moved on from Mustard Seed", "works at Acme".
const PLACE_PREPOSITIONS: &[&str] = &["from", "at", "in"];

/// Stems of every action the patterns below know; a clause with none of
/// them is not a request and skips the patterns (one literal-set search).
static ACT_STEMS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)add(?:s|ed|ing)?(?-u:\b)|remov|delet|drop|deactiv|offboard|onboard|terminat|cancel|no longer|left|leav|retir|resign|depart|quit|last day|stop billing|stop charging|let go|take |decreas|reduc|lower|increas|bump|raise|hire|hiring|join|welcom|new (?:full|part|user|staff|employee|hire|people|team|member|seat|licen)|(?:more|additional|extra) (?:full|part|user|seat|licen|people|staff|employee)|(?:bill|charge|invoice) (?:us|me|our)|to (?:be )?(?:a )?(?:full|part)[- ]?time|from (?:full|part)[- ]?time|(?:user|new|updated|current|correct|head) ?count|(?:new|updated|current|correct|a) total|total of|bring|billing for|we (?:now |currently |will )?(?:have|are)|we're|disabled|starter|joiner|arrival|leaver|departure|bring|makes? |numbers|counts|totals|(?:are|is) (?:still )?(?:correct|right|accurate|unchanged|the same)|have any|new [a-z]|time\s*(?:→|->|=>|⇒)|return|cut",
    )
    .expect("regex")
});

/// A clause and the action it asks for, if any.
type ReadClause = (String, Option<Asked>);

/// Can `text` hold a request about users at all? (A cheap test before the
/// full reading.)
pub fn could_ask(text: &str) -> bool {
    ACT_STEMS.is_match(text) || super::text::lines(text).any(|l| l.contains(':') && LABEL_ACT.is_match(l))
}

/// Verbs whose position starts a new clause.
static CLAUSE_VERB: LazyLock<Regex> = LazyLock::new(|| {
    super::keywords(
        r"(?i)\b(add|adding|remove|removing|drop|dropping|delete|deleting|hire|hired|hiring|left|leaving|retired|retiring|resigned|deactivate|cancel|move|moving|switch|switching|going\s+from|bill\s+us|bill\s+our)\b",
    )
});

/// People named in `text`, as written.
pub fn names_in(text: &str) -> Vec<String> {
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
            if NOT_NAMES.contains(&bare) || bare.chars().all(|c| c.is_uppercase()) && bare.len() > 1 {
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
fn counts_in(lower: &str) -> (Vec<(i64, Option<UserType>)>, bool) {
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
static CUES: LazyLock<super::OnePass> = LazyLock::new(|| {
    super::OnePass::new(vec![
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
    ])
});

/// The action a clause asks for, with the cues read on the way.
#[derive(Debug, Clone, Copy)]
struct Asked {
    act: Act,
    strength: Strength,
    /// Points back at people ("him", "them", "the following").
    pronoun: bool,
    /// "maybe", "if", "planning to".
    tentative: bool,
    /// Ends in a question mark.
    question: bool,
}

/// An action verb whose object is a thing, not people: "to add
/// information", "cancel scheduled payments", "remove the attachment".
static THING_ACTION: LazyLock<Regex> = LazyLock::new(|| {
    super::keywords(
        r"(?i)\b(?:add|adding|remove|removing|delete|deleting|drop|dropping|cancel|cancelling|canceling|deactivate)\s+(?:(?:the|a|an|any|our|your|my|this|that|some|all|more|additional|scheduled|recurring|further|extra|upcoming|future|pending|automatic|online)\s+)*(?:[a-z-]+\s+)?(?:information|info|details?|notes?|comments?|context|attachments?|files?|documents?|payments?|invoices?|meetings?|appointments?|orders?|subscriptions?|requests?|tickets?|questions?|money|funds|it|this|that|replies|reply|messages?|emails?)\b",
    )
});

/// A list item led by its action as a label: "- New: 3 court reporters",
/// "Removed: Glenn Ortiz". A label, even a past participle, names what the
/// item asks for; it is not history. A bare "New:" must be followed by a
/// count ("New: Datacore Backup for Microsoft 365" announces a product).
static LABEL_ACT: LazyLock<Regex> = LazyLock::new(|| {
    super::keywords(
        r"(?i)^\s*(?:[-*•]\s*|\d+[.)]\s*)?(?:(new\s*:\s*(?:\d{1,3}|a|an|one|two|three|four|five|six|seven|eight|nine|ten|twelve)\s|(?:new\s+(?:hires?|users?|staff|employees?)|added|additions?|starters?|joiners?|starting)\s*:)|((?:removed|removals?|leavers?|leaving|departures?|departing|terminated|terminations?)\s*:))\s*\S",
    )
});

static ALREADY_DONE: LazyLock<Regex> = LazyLock::new(|| {
    super::keywords(
        r"(?i)\b(?:already|previously)\s+(?:been\s+)?(?:sent|submitted|processed|handled|done|set\s+up|taken\s+care\s+of|reported|sent\s+over)\b",
    )
});

fn act_of(clause: &str) -> Option<Asked> {
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
    if !any_act || cue.has(&NEGATED) || HYPOTHETICAL.is_match(&lower) {
        return None;
    }
    // "which HR already sent to your help desk": done before, not asked now
    let past = cue.has(&REMOVED_PAST) || cue.has(&ADDED_PAST) || ALREADY_DONE.is_match(&lower);
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
fn clauses(sentence: &str) -> Vec<ReadClause> {
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
fn typed_names(clause: &str, names: &[String]) -> Vec<(String, Option<UserType>)> {
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

fn stated_type(text: &str) -> (Option<UserType>, bool) {
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
static LAST_DAY_AFTER: LazyLock<Regex> = LazyLock::new(|| {
    super::keywords(r"(?i)^\S+\s+(?:was|is|will\s+be)\s+(?:his|her|their|my|the)\s+(?:last|first|final)\s+day\b")
});

fn date_for(text: &str, sent: Option<NaiveDate>) -> Option<NaiveDate> {
    dates_for(text, sent).into_iter().next()
}

/// Every date of `text` that a cue ties to a change, in order.
fn dates_for(text: &str, sent: Option<NaiveDate>) -> Vec<NaiveDate> {
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
fn item_person(text: &str) -> Option<(String, Option<UserType>)> {
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

fn is_header_row(text: &str) -> bool {
    let first = text.split(" | ").next().unwrap_or("").trim().to_ascii_lowercase();
    text.contains(" | ") && (first == "name" || first == "employee" || first == "user" || first.ends_with(" name"))
}

/// Reads the request in `units`. `sent` resolves relative dates; `names_to_skip`
/// are the sender's own names (a signature is not a person to add).
pub fn analyze(units: &[Unit], sent: Option<NaiveDate>, names_to_skip: &[String]) -> Finding {
    let mut groups: Vec<Group> = Vec::new();
    let mut totals: (Option<i64>, Option<i64>) = (None, None);
    let mut total_conflict = false;
    let mut total_untyped = false;
    let mut any_total = false;
    let mut pending_items: Vec<(String, Option<UserType>)> = Vec::new();
    let mut pending_rows: Vec<String> = Vec::new();
    let mut pending_date: Option<(NaiveDate, String)> = None;
    let mut two_dates_in_one = false;
    let mut totals_said: (Option<String>, Option<String>) = (None, None);
    let mut last_unit_led_list = false;
    let mut units_since_group = 0usize;
    let mut unbound_dates: Vec<(NaiveDate, String)> = Vec::new();
    // a total said as the new count ("now", "that makes"), not as background
    let mut total_now = false;
    let mut type_conflict = false;

    for unit in units {
        if unit.field {
            // a form's field is read only when its label is an action ("Add: …")
            let label = unit.text.split(':').next().unwrap_or("");
            if act_of(label).is_none() && !LABEL_ACT.is_match(&unit.text) {
                continue;
            }
        }
        // a unit from `units` is one sentence already; an item may hold several
        let unit_sentences = if unit.item { sentences(&unit.text) } else { vec![unit.text.clone()] };
        // each clause with its action, worked out once
        let read_sentences: Vec<(String, Vec<ReadClause>)> = unit_sentences
            .into_iter()
            .map(|s| {
                let cl = clauses(&s);
                (s, cl)
            })
            .collect();
        let acts_here = unit.item && read_sentences.iter().any(|(_, cl)| cl.iter().any(|(_, a)| a.is_some()));
        if unit.item && !acts_here {
            if is_header_row(&unit.text) {
                continue;
            }
            if let Some(person) = item_person(&unit.text) {
                if names_to_skip.iter().any(|s| s == &person.0) {
                    continue;
                }
                let attach = groups.last_mut().filter(|_| last_unit_led_list || units_since_group <= 3);
                match attach {
                    Some(g) if g.act != Act::Total => {
                        if !g.names.iter().any(|(n, _)| n == &person.0) {
                            g.names.push(person);
                            g.said.push(unit.text.clone());
                        }
                    }
                    _ => {
                        pending_items.push(person);
                        pending_rows.push(unit.text.clone());
                    }
                }
            }
            continue;
        }
        units_since_group += 1;
        for (sentence, clause_list) in read_sentences {
            let has_act = clause_list.iter().any(|(_, a)| a.is_some());
            // dates matter only where a group has been or is being formed
            let sentence_date = if has_act || !groups.is_empty() { date_for(&sentence, sent) } else { None };
            if has_act && sentence_date.is_some() {
                let mut all = dates_for(&sentence, sent);
                all.dedup();
                if all.len() > 1 {
                    // "add Mei starting 10/26 and Robert starting 11/2": whose date is which is a person's call
                    two_dates_in_one = true;
                }
            }
            let mut acted = false;
            for (clause, found) in clause_list {
                let Some(Asked { act, strength, pronoun, tentative, question }) = found else { continue };
                acted = true;
                let lower = clause.to_ascii_lowercase();
                if act == Act::Total {
                    if lower.trim_end().ends_with('?') {
                        continue;
                    }
                    any_total = true;
                    total_now |= TOTAL_NOW.is_match(&lower);
                    let (mut vals, _) = counts_in(&lower);
                    // "11 users: 8 full-time and 3 part-time": 11 is their sum, not a third figure
                    let typed_sum: i64 = vals.iter().filter(|v| v.1.is_some()).map(|v| v.0).sum();
                    if vals.iter().filter(|v| v.1.is_some()).count() >= 2 {
                        vals.retain(|v| v.1.is_some() || v.0 != typed_sum);
                    }
                    let mut found_typed = false;
                    // one type's new total, and the sentence that says it
                    let mut record = |t: UserType, n: i64| {
                        found_typed = true;
                        let (slot, said) = match t {
                            UserType::FullTime => (&mut totals.0, &mut totals_said.0),
                            UserType::PartTime => (&mut totals.1, &mut totals_said.1),
                        };
                        total_conflict |= slot.is_some_and(|x| x != n);
                        *slot = Some(n);
                        *said = Some(sentence.clone());
                    };
                    // "we are now at twenty-two agents, and all of them are full-time"
                    let group_type = match (GROUP_TYPE.is_match(&lower), stated_type(&lower)) {
                        (true, (Some(t), false)) => Some(t),
                        _ => None,
                    };
                    for (n, t) in vals {
                        match t.or(group_type) {
                            Some(t) => record(t, n),
                            None => total_untyped = true,
                        }
                    }
                    if NO_FULL_TIME.is_match(&lower) {
                        record(UserType::FullTime, 0);
                    }
                    if NO_PART_TIME.is_match(&lower) {
                        record(UserType::PartTime, 0);
                    }
                    if !found_typed {
                        total_untyped = true;
                    }
                    continue;
                }
                let (mut counts, vague) = counts_in(&lower);
                // "3 new users: 2 full-time and 1 part-time" is three, not six
                let typed_sum: i64 = counts.iter().filter(|c| c.1.is_some()).map(|c| c.0).sum();
                if counts.iter().any(|c| c.1.is_some()) && counts.iter().any(|c| c.1.is_none() && c.0 == typed_sum) {
                    counts.retain(|c| c.1.is_some());
                }
                let names = person_names(&clause, names_to_skip);
                let named = typed_names(&clause, &names);
                let (st, both_types) = stated_type(&clause);
                let type_doubt = TYPE_DOUBT.iter().any(|w| lower.contains(w));
                let count = if counts.is_empty() { None } else { Some(counts.iter().map(|c| c.0).sum()) };
                let count_type = match counts.as_slice() {
                    [(_, t)] => *t,
                    _ => None,
                };
                let unclear = both_types && named.iter().all(|n| n.1.is_none()) && counts.len() < 2;
                let stated = if matches!(act, Act::Move { .. }) || unclear { None } else { count_type.or(st) };
                let has_people = count.is_some() || !names.is_empty() || vague;
                // a clause that only points back ("please remove him") joins the group it points at
                if !has_people {
                    let same = groups.iter_mut().rev().find(|g| {
                        g.act == act || (matches!(act, Act::Add | Act::Remove) && matches!(g.act, Act::Move { .. }))
                    });
                    let joins = same.filter(|g| g.act == act);
                    if let Some(g) = joins {
                        g.strength = g.strength.max(strength);
                        g.tentative |= tentative;
                        if g.stated_type.is_none() {
                            g.stated_type = stated;
                        }
                        if g.date.is_none() && sentence_date.is_some() {
                            g.date = sentence_date;
                            g.date_said = Some(sentence.clone());
                        }
                        g.said.push(sentence.clone());
                        units_since_group = 0;
                        continue;
                    }
                }
                // the same names again ("Kevin Marsh left ... please remove Kevin Marsh")
                if !names.is_empty()
                    && let Some(g) = groups
                        .iter_mut()
                        .find(|g| g.act == act && names.iter().all(|n| g.names.iter().any(|(gn, _)| gn == n)))
                {
                    g.strength = g.strength.max(strength);
                    if g.stated_type.is_none() {
                        g.stated_type = stated;
                    }
                    g.said.push(sentence.clone());
                    continue;
                }
                let mut g = Group {
                    act,
                    strength,
                    count,
                    vague: vague && count.is_none(),
                    stated_type: stated,
                    names: named,
                    tentative,
                    type_doubt,
                    date: None,
                    pronoun_only: !has_people && pronoun,
                    question,
                    said: vec![sentence.clone()],
                    date_said: None,
                };
                match (sentence_date, pending_date.take()) {
                    (Some(d), _) => (g.date, g.date_said) = (Some(d), Some(sentence.clone())),
                    (None, Some((d, said))) => (g.date, g.date_said) = (Some(d), Some(said)),
                    (None, None) => {}
                }
                if !has_people && !pending_items.is_empty() {
                    g.names.append(&mut pending_items);
                    g.said.append(&mut pending_rows);
                    g.pronoun_only = false;
                }
                if both_types && counts.len() >= 2 {
                    // "2 full-time and 1 part-time": one group per type
                    for (n, t) in &counts {
                        let mut part = g.clone();
                        part.count = Some(*n);
                        part.stated_type = *t;
                        part.names.clear();
                        groups.push(part);
                    }
                } else {
                    groups.push(g);
                }
                units_since_group = 0;
            }
            if !acted {
                type_for_group(&sentence, &mut groups, &mut type_conflict);
                names_for_group(&sentence, &mut groups, names_to_skip);
            }
            if !acted && let Some(d) = sentence_date {
                // "Please make the change effective November 1."
                let empty = groups.is_empty();
                match groups.iter_mut().rev().find(|g| g.date.is_none()) {
                    Some(g) => (g.date, g.date_said) = (Some(d), Some(sentence.clone())),
                    None if empty => pending_date = Some((d, sentence.clone())),
                    None => unbound_dates.push((d, sentence.clone())),
                }
            }
        }
        last_unit_led_list = unit.leads_list;
    }

    if super::debugging() {
        eprintln!("groups: {groups:#?}");
    }
    let all_text: String = units.iter().map(|u| u.text.as_str()).collect::<Vec<_>>().join("\n");
    if any_total && !total_now && !UPDATE_REQUEST.is_match(&all_text) {
        // "we currently have 8 full-time and 3 part-time, if that matters": background
        any_total = false;
        totals = (None, None);
        total_untyped = false;
        total_conflict = false;
    }
    let mut f = Finding::default();
    if groups.is_empty() && !any_total {
        return f;
    }
    let no_change_now = NO_CHANGE_NOW.is_match(&all_text);
    if no_change_now {
        for g in &mut groups {
            g.strength = Strength::Weak;
        }
        f.doubts.push("the sender says nothing is to change yet".into());
    }
    if TYPE_OPEN.is_match(&all_text) && groups.iter().any(|g| matches!(g.act, Act::Add | Act::Remove)) {
        f.doubts.push("the message leaves the type (full-time or part-time) open".into());
    }
    if type_conflict {
        f.doubts.push("the message gives the same people two different types".into());
    }
    f.strength = groups.iter().map(|g| g.strength).chain(any_total.then_some(Strength::Strong)).max();
    let mut per_date = false;
    if two_dates_in_one {
        f.doubts.push("one sentence gives more than one date".into());
    }
    let mut dates: Vec<NaiveDate> = groups.iter().filter_map(|g| g.date).collect();
    dates.sort();
    dates.dedup();
    match dates.as_slice() {
        [] => {
            if let Some((d, said)) = pending_date.or(unbound_dates.into_iter().next()) {
                f.effective_date = Some(d);
                f.evidence.push(("effective_date".into(), said));
            }
        }
        [one] => {
            f.effective_date = Some(*one);
            if let Some(said) = groups.iter().find(|g| g.date == Some(*one)).and_then(|g| g.date_said.clone()) {
                f.evidence.push(("effective_date".into(), said));
            }
        }
        _ => {
            // each change from its own date, when every change has one
            let undated =
                groups.iter().any(|g| g.strength == Strength::Strong && g.act != Act::Total && g.date.is_none());
            if undated || any_total {
                f.doubts.push("the changes take effect on different dates".into());
            } else {
                per_date = true;
            }
        }
    }
    let mut by_date: BTreeMap<(NaiveDate, UserType), (i64, Vec<String>)> = BTreeMap::new();
    // the sentences and rows behind each type's change
    let mut backing: BTreeMap<UserType, Vec<String>> = BTreeMap::new();
    for g in groups.iter().filter(|g| g.strength == Strength::Strong) {
        let label = match g.act {
            Act::Add => "add",
            Act::Remove => "remove",
            Act::Move { .. } => "move",
            Act::Total => "total",
        };
        if g.vague {
            f.doubts.push(format!("the number of users to {label} is not exact"));
            continue;
        }
        if g.tentative {
            f.doubts.push(format!("the request to {label} users sounds tentative, not final"));
        }
        let n_names = g.names.len() as i64;
        let n = match (g.count, n_names) {
            (Some(c), 0) => c,
            (None, 0) => {
                f.doubts.push(format!("could not tell how many users to {label}"));
                continue;
            }
            (None, k) => k,
            (Some(c), k) if c == k => c,
            (Some(c), k) => {
                f.doubts.push(format!("says {c} users to {label} but names {k}"));
                c.max(k)
            }
        };
        f.totals_by_act.push((label, n));
        let named_types: Vec<Option<UserType>> = g.names.iter().map(|(_, t)| *t).collect();
        let all_named_typed = !named_types.is_empty() && named_types.iter().all(Option::is_some);
        let mut per_type: BTreeMap<UserType, i64> = BTreeMap::new();
        match g.act {
            Act::Move { from, to } => {
                *per_type.entry(from).or_default() -= n;
                *per_type.entry(to).or_default() += n;
            }
            Act::Add | Act::Remove => {
                let sign = if g.act == Act::Add { 1 } else { -1 };
                if all_named_typed && (g.count.is_none() || g.count == Some(n_names)) {
                    for t in named_types.into_iter().flatten() {
                        *per_type.entry(t).or_default() += sign;
                    }
                } else {
                    let t = match (g.stated_type, named_types.iter().flatten().next()) {
                        (Some(t), _) => t,
                        (None, Some(t)) if named_types.iter().flatten().all(|x| x == t) => *t,
                        _ => {
                            if g.names.is_empty() {
                                f.doubts.push(format!(
                                    "the type (full-time or part-time) of the users to {label} is not stated"
                                ));
                            } else if g.type_doubt {
                                f.doubts.push(format!(
                                    "the type of the users to {label} is not stated, and the wording suggests it may not be full-time"
                                ));
                            }
                            UserType::FullTime
                        }
                    };
                    if g.stated_type.is_none() && named_types.iter().any(Option::is_some) && !all_named_typed {
                        f.doubts.push(format!("only some of the users to {label} have a stated type"));
                    }
                    *per_type.entry(t).or_default() += sign * n;
                }
                let names = g.names.iter().map(|(n, _)| n.clone());
                if g.act == Act::Add {
                    f.names_added.extend(names);
                } else {
                    f.names_removed.extend(names);
                }
            }
            Act::Total => {}
        }
        for (t, d) in per_type {
            *f.adjustments.entry(t).or_default() += d;
            backing.entry(t).or_default().extend(g.said.iter().cloned());
            if per_date && let Some(date) = g.date {
                let e = by_date.entry((date, t)).or_default();
                e.0 += d;
                e.1.extend(g.said.iter().cloned());
                e.1.extend(g.date_said.iter().cloned());
            }
        }
    }
    if groups.iter().all(|g| g.strength == Strength::Weak) && !any_total {
        f.doubts.push("mentions user changes but does not ask for one".into());
        f.asks_nothing = no_change_now || groups.iter().all(|g| !g.question);
    }
    f.adjustments.retain(|_, d| *d != 0);
    if per_date {
        f.dated =
            by_date.into_iter().filter(|(_, (d, _))| *d != 0).map(|((date, t), (d, s))| (date, t, d, s)).collect();
        for (i, (_, _, _, said)) in f.dated.iter_mut().enumerate() {
            said.dedup();
            f.evidence.extend(said.iter().map(|s| (format!("adjustments[{i}]"), s.clone())));
        }
    } else {
        for (i, t) in f.adjustments.keys().enumerate() {
            let mut said = backing.remove(t).unwrap_or_default();
            said.dedup();
            f.evidence.extend(said.into_iter().map(|s| (format!("adjustments[{i}]"), s)));
        }
    }
    if any_total {
        for (field, said) in [("totals.full_time", &totals_said.0), ("totals.part_time", &totals_said.1)] {
            if let Some(s) = said {
                f.evidence.push((field.into(), s.clone()));
            }
        }
        if total_conflict {
            f.doubts.push("two different totals for the same user type".into());
        }
        if total_untyped {
            f.doubts.push("a total without saying full-time or part-time".into());
        }
        if totals.0.is_some() || totals.1.is_some() {
            f.totals = Some(totals);
        } else {
            f.doubts.push("could not read the new totals".into());
        }
    }
    f.doubts.dedup();
    f
}

/// People named in a clause: not the sender's own names, not a place or a
/// company ("moved on from Mustard Seed").
fn person_names(clause: &str, names_to_skip: &[String]) -> Vec<String> {
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
fn same_person(a: &str, b: &str) -> bool {
    let words = |s: &str| s.split_whitespace().map(|w| w.trim_end_matches('.').to_string()).collect::<Vec<_>>();
    let (wa, wb) = (words(a), words(b));
    let (Some(la), Some(lb)) = (wa.last(), wb.last()) else { return false };
    la == lb && (wa[0] == wb[0] || wa[0] == "Dr" || wb[0] == "Dr")
}

/// A sentence with no action that gives the last group of people one type
/// ("All three are part-time"). Records a conflict with a type already given.
fn type_for_group(sentence: &str, groups: &mut [Group], conflict: &mut bool) {
    let lower = sentence.to_ascii_lowercase();
    if !GROUP_TYPE.is_match(&lower) {
        return;
    }
    let (Some(t), false) = stated_type(&lower) else { return };
    let Some(g) = groups.iter_mut().rev().find(|g| matches!(g.act, Act::Add | Act::Remove)) else { return };
    match g.stated_type {
        None => g.stated_type = Some(t),
        Some(x) if x != t => *conflict = true,
        Some(_) => {}
    }
    g.said.push(sentence.to_string());
}

/// "Please add both. Caleb Frost is full-time, Imani Scott is part-time.":
/// a group that only points at people ("both", "them") takes the people a
/// following sentence names, when it gives each of them a type.
fn names_for_group(sentence: &str, groups: &mut [Group], names_to_skip: &[String]) {
    let Some(g) = groups.last_mut() else { return };
    if !g.pronoun_only || !g.names.is_empty() || g.count.is_some() || !matches!(g.act, Act::Add | Act::Remove) {
        return;
    }
    let names = person_names(sentence, names_to_skip);
    if names.is_empty() {
        return;
    }
    let typed = typed_names(sentence, &names);
    if typed.iter().all(|(_, t)| t.is_some()) {
        g.names = typed;
        g.pronoun_only = false;
        g.said.push(sentence.to_string());
    }
}

/// The one type a subject gives the people it asks about ("Add 3
/// part-time users"), when it asks for something and names one type.
pub fn subject_type(subject: &str) -> Option<UserType> {
    let asked = act_of(subject)?;
    if !matches!(asked.act, Act::Add | Act::Remove) {
        return None;
    }
    match stated_type(&subject.to_ascii_lowercase()) {
        (Some(t), false) => Some(t),
        _ => None,
    }
}

/// The subject read as a request ("Add 2 users"), for checking the body.
pub fn subject_counts(subject: &str) -> Vec<(&'static str, i64)> {
    let Some(Asked { act, .. }) = act_of(subject) else { return vec![] };
    let (counts, _) = counts_in(&subject.to_ascii_lowercase());
    let label = match act {
        Act::Add => "add",
        Act::Remove => "remove",
        Act::Move { .. } => "move",
        Act::Total => return vec![],
    };
    let n: i64 = counts.iter().map(|c| c.0).sum();
    if n > 0 { vec![(label, n)] } else { vec![] }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reading::text::units;

    fn read(text: &str) -> Finding {
        analyze(&units(text), NaiveDate::from_ymd_opt(2026, 11, 11), &[])
    }

    fn adj(f: &Finding) -> Vec<(UserType, i64)> {
        f.adjustments.iter().map(|(t, d)| (*t, *d)).collect()
    }

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
        ] {
            assert!(CUES.holds(re), "{}", re.as_str());
        }
    }

    #[test]
    fn counts_and_lists() {
        let f = read(
            "Please add two new full-time users starting December 1, 2026:\n\n  - Maria Lopez (Hygienist)\n  - Tom Baker (Hygienist)\n",
        );
        assert_eq!(adj(&f), [(UserType::FullTime, 2)]);
        assert!(f.doubts.is_empty(), "{:?}", f.doubts);
        assert_eq!(f.names_added, ["Maria Lopez", "Tom Baker"]);
        assert_eq!(f.effective_date, NaiveDate::from_ymd_opt(2026, 12, 1));
    }

    #[test]
    fn pronouns_do_not_count_twice() {
        let f = read("Kevin Marsh left the firm today. Please remove him from our user count as of October 31.");
        assert_eq!(adj(&f), [(UserType::FullTime, -1)]);
        assert!(f.doubts.is_empty(), "{:?}", f.doubts);
    }

    #[test]
    fn moves_and_mixed_names() {
        let f = read(
            "Please remove Brian Cole and Lisa Tran (both full-time) - they left last week. We're also adding Marcus Webb as full-time and Ana Ruiz as part-time, both starting Monday, December 7.",
        );
        assert_eq!(adj(&f), [(UserType::FullTime, -1), (UserType::PartTime, 1)]);
        assert!(f.doubts.is_empty(), "{:?}", f.doubts);
        let f = read("Sarah Kim is going from full-time to part-time. Please make the change effective November 1.");
        assert_eq!(adj(&f), [(UserType::FullTime, -1), (UserType::PartTime, 1)]);
        assert_eq!(f.effective_date, NaiveDate::from_ymd_opt(2026, 11, 1));
    }

    #[test]
    fn totals() {
        let f = read(
            "Effective January 1, 2027, please bill our Agreement Remote Only IT for 12 full-time users and no part-time users.",
        );
        assert_eq!(f.totals, Some((Some(12), Some(0))));
        assert!(f.adjustments.is_empty());
        assert!(f.doubts.is_empty(), "{:?}", f.doubts);
    }

    #[test]
    fn doubts() {
        assert!(!read("Can you add a couple of users for us starting next month?").doubts.is_empty());
        assert!(!read("We may need 3 more users next quarter.").doubts.is_empty());
        assert!(!read("Please remove the intern from our account after Friday.").doubts.is_empty());
        assert!(!read("Please add 2 users: Ann Lee, Bo Chen, Cy Dorn").doubts.is_empty());
        // hours and signatures are not users
        let f =
            read("Please add Priya Nair as a part-time user starting next Monday. She works about 20 hours a week.");
        assert_eq!(adj(&f), [(UserType::PartTime, 1)]);
        assert!(f.doubts.is_empty(), "{:?}", f.doubts);
    }

    #[test]
    fn totals_said_as_the_new_count() {
        // "that makes", "the N part-time are correct", "here are our numbers", "N ... total"
        let f = read("Lisa Tran left us, so please take her off. That makes 7 full-time; the 2 part-time are correct.");
        assert_eq!(f.totals, Some((Some(7), Some(2))));
        assert_eq!(adj(&f), [(UserType::FullTime, -1)]);
        assert!(f.doubts.is_empty(), "{:?}", f.doubts);
        let f = read("Now that our hiring is done, here are our numbers: 31 full-time and 9 part-time staff accounts.");
        assert_eq!(f.totals, Some((Some(31), Some(9))));
        assert!(f.adjustments.is_empty());
        let f = read(
            "Please add Ollie Grant as a part-timer. That'll make 5 part-time users total. Full-time stays the same.",
        );
        assert_eq!(f.totals, Some((None, Some(5))));
        // the grand total that is the sum of the types is not a third figure
        let f = read(
            "Dr. Kevin Ma's last day with us was Friday. Please remove his user. After that we have 11 users: 8 full-time and 3 part-time.",
        );
        assert_eq!(f.totals, Some((Some(8), Some(3))));
        assert!(f.doubts.is_empty(), "{:?}", f.doubts);
        // "twenty-two" in words; "no longer have any part-timers" is zero
        let f = read("We're down to twenty-two agents, all full-time. We no longer have any part-timers.");
        assert_eq!(f.totals.and_then(|t| t.1), Some(0));
    }

    #[test]
    fn counts_given_as_background_are_not_totals() {
        let f = read("What is the rate per user? We currently have 8 full-time and 3 part-time, if that matters.");
        assert!(!f.found(), "{f:?}");
        // the same figures with a request to bill them are totals
        let f = read(
            "We currently have 15 full-time and 4 part-time employees. Please update our billing to reflect this.",
        );
        assert_eq!(f.totals, Some((Some(15), Some(4))));
    }

    #[test]
    fn a_type_stated_once_for_the_group() {
        let f = read(
            "We have three new home health aides starting on the 23rd: Tasha Greene, Mohammed Farah and Lily Nguyen. All three are part-time. Please add them to our agreement.",
        );
        assert_eq!(adj(&f), [(UserType::PartTime, 3)]);
        assert!(f.doubts.is_empty(), "{:?}", f.doubts);
        let f = read("Please add 2 more users, Ana Ruiz and Jo Park. Both is part time, not full time.");
        assert_eq!(adj(&f), [(UserType::PartTime, 2)]);
    }

    #[test]
    fn a_type_left_open_is_not_defaulted() {
        let f = read(
            "We're adding Priya Raman as a new user starting December 1. We haven't decided yet whether she'll be full-time or part-time.",
        );
        assert!(!f.doubts.is_empty(), "{f:?}");
    }

    #[test]
    fn prices_quotes_and_no_change_yet_are_not_requests() {
        let f = read("Could you send me a quote for adding 10 more seats (full-time)? This is for budgeting only.");
        assert!(f.strength != Some(Strength::Strong), "{f:?}");
        let f = read("We plan to grow. Please add 3 full-time users in January. Please don't add anything yet.");
        assert!(!f.doubts.is_empty(), "{f:?}");
    }

    #[test]
    fn places_and_form_fields_are_not_people() {
        let f = read("Please remove these folks, who have moved on from Mustard Seed:\n\nAaron Bell\nCynthia Moore\n");
        assert_eq!(adj(&f), [(UserType::FullTime, -2)]);
        assert_eq!(f.names_removed, ["Aaron Bell", "Cynthia Moore"]);
        let f = read(
            "Contact:   Gloria Menendez\nType:      User Change > New User\nPriority:  3 - Normal\n\nNothing else.",
        );
        assert!(!f.found(), "{f:?}");
    }

    #[test]
    fn changes_on_different_dates_keep_their_own_dates() {
        let f = read(
            "A few changes:\n  * Add: Mei Lin, legal assistant, starts Monday 10/26\n  * Add: Robert Okonkwo, associate, starts Monday 11/2\n  * Remove: Stacy Bauer, paralegal - today was her last day\nPlease reflect these on our next invoice.",
        );
        assert!(f.doubts.is_empty(), "{:?}", f.doubts);
        assert_eq!(f.effective_date, None);
        let dated: Vec<(String, i64)> = f.dated.iter().map(|(d, _, n, _)| (d.to_string(), *n)).collect();
        // "today" is the message's date, 2026-11-11 in these tests
        assert_eq!(dated, [("2026-10-26".into(), 1), ("2026-11-02".into(), 1), ("2026-11-11".into(), -1)]);
        // two dates in one sentence, or a change with no date beside dated ones, is a person's call
        let f = read("Please add Mei Lin starting 10/26 and Robert Okonkwo starting 11/2.");
        assert!(f.doubts.iter().any(|d| d.contains("more than one date")), "{:?}", f.doubts);
        let f = read(
            "Please add Mei Lin starting 10/26.\nPlease add Robert Okonkwo starting 11/2.\nWe also need you to remove Stacy Bauer.",
        );
        assert!(f.doubts.iter().any(|d| d.contains("different dates")), "{:?}", f.doubts);
    }

    #[test]
    fn a_type_stated_once_for_a_total_or_for_people_named_later() {
        let f = read(
            "Quick update: we are now at twenty-two agents on the system, and all of them are full-time. We no longer have any part-timers.\nPlease update our agreement to match.",
        );
        assert_eq!(f.totals, Some((Some(22), Some(0))), "{f:?}");
        assert!(f.doubts.is_empty(), "{:?}", f.doubts);
        let f = read(
            "Yes, please add both to our billing. Caleb Frost is full-time, Imani Scott is part-time (20 hrs/wk).",
        );
        assert_eq!(adj(&f), [(UserType::FullTime, 1), (UserType::PartTime, 1)], "{f:?}");
        assert!(f.doubts.is_empty(), "{:?}", f.doubts);
        // people done before ("already sent") are history beside the totals asked for
        let f = read(
            "Please bill us for 57 full-time and 12 part-time users. This is after the new line hires, which HR already sent to your help desk.",
        );
        assert_eq!(f.totals, Some((Some(57), Some(12))));
        assert!(f.doubts.is_empty(), "{:?}", f.doubts);
    }

    #[test]
    fn a_list_item_led_by_its_action() {
        let f = read(
            "Attached is a CSV of our user changes. In short, for December 1:\n\n- New: 3 court reporters (full-time) - Brianna Cole, Jonah Wex, Felicia Amato\n- Removed: Glenn Ortiz, our part-time scopist, who left last week\n",
        );
        assert_eq!(adj(&f), [(UserType::FullTime, 3), (UserType::PartTime, -1)], "{f:?}");
        assert!(f.doubts.is_empty(), "{:?}", f.doubts);
        // a product announced as new is no one to add
        let f = read("2) New: Datacore Backup for Microsoft 365\nProtect mailboxes from $2.10 per user per month.");
        assert!(!f.found(), "{f:?}");
    }

    #[test]
    fn things_added_or_cancelled_are_not_people() {
        for text in [
            "To add information, reply to this email and keep [Ticket #48213] in the subject line.",
            "To view or cancel scheduled payments, sign in to First Ohio Business Online and go to Payments > Bill Pay.",
            "Estimated arrival: Nov 27, 2026",
        ] {
            assert!(!read(text).found(), "{text}");
        }
        // people still are
        assert_eq!(adj(&read("Please add Maria Lopez.")), [(UserType::FullTime, 1)]);
        assert_eq!(adj(&read("Please cancel the account for Tom Baker, he left.")), [(UserType::FullTime, -1)]);
    }

    #[test]
    fn an_arrow_between_types_is_a_move() {
        let f = read("Name | Change | Type\nTasha Reed | Full-time → Part-time | \n");
        assert_eq!(adj(&f), [(UserType::FullTime, -1), (UserType::PartTime, 1)]);
    }

    #[test]
    fn questions_and_history_are_not_requests() {
        let f = read(
            "We haven't added anyone since October - if anything we removed three people at the end of October. Can you explain?",
        );
        assert!(f.strength != Some(Strength::Strong), "{f:?}");
    }
}
