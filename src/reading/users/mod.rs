//! Requests to change user counts: who is added, removed or moved between
//! full-time and part-time, or the new totals; with every doubt recorded.
//!
//! The reader is a pipeline of three phases, each in its own module and
//! tested on its own:
//!
//! 1. [`frames`]: each sentence and list row on its own: the clauses that
//!    ask for something (an action with who, how many and of what type,
//!    read by [`clause`]), the date a cue ties to them, the one type a
//!    sentence without an action gives to the people before it;
//! 2. [`gather`]: the frames gathered into groups of people, each asked for
//!    once: a pronoun ("please remove him") joins the group it points at,
//!    names said again join theirs, list rows join the action that leads
//!    them; totals per type;
//! 3. [`decide`]: the groups weighed into figures (a net change per type,
//!    new totals, the dates) and the doubts that keep them from certain.
//!
//! The message as a whole (the plain and HTML parts, the subject, a quote
//! and a forward) is weighed in `reading::read`.

mod clause;
mod decide;
mod frames;
mod gather;

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::text::Unit;
use crate::domain::UserType;
use clause::{ACT_STEMS, Asked, LABEL_ACT, act_of, counts_in, stated_type};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    Add,
    Remove,
    Move { from: UserType, to: UserType },
    Total,
}

impl Act {
    /// The action as the reasons name it ("users to add").
    fn label(self) -> &'static str {
        match self {
            Act::Add => "add",
            Act::Remove => "remove",
            Act::Move { .. } => "move",
            Act::Total => "total",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Strength {
    /// Mentioned, but not asked for (past tense, a question, negated).
    Weak,
    /// Asked for.
    Strong,
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

/// Reads the request in `units`. `sent` resolves relative dates; `names_to_skip`
/// are the sender's own names (a signature is not a person to add).
pub fn analyze(units: &[Unit], sent: Option<NaiveDate>, names_to_skip: &[String]) -> Finding {
    let gathered = gather::gather(frames::frames(units, sent, names_to_skip), names_to_skip);
    if super::debugging() {
        eprintln!("groups: {:#?}", gathered.groups);
    }
    let all_text: String = units.iter().map(|u| u.text.as_str()).collect::<Vec<_>>().join("\n");
    decide::decide(gathered, &all_text)
}

/// Can `text` hold a request about users at all? (A cheap test before the
/// full reading.)
pub fn could_ask(text: &str) -> bool {
    ACT_STEMS.is_match(text) || super::text::lines(text).any(|l| l.contains(':') && LABEL_ACT.is_match(l))
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
