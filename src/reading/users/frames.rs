//! Phase 1: what each sentence and list row says on its own: the clauses
//! that ask for something (who, what, how many), the date a cue ties to
//! them, and the one type a sentence gives to the people before it. No
//! sentence is read in the light of another here; that is the next phase.

use chrono::NaiveDate;

use super::clause::{
    Asked, LABEL_ACT, NO_FULL_TIME, NO_PART_TIME, TOTAL_NOW, act_of, clauses, counts_in, dates_for, is_header_row,
    item_person, person_names, stated_type, typed_names, types_a_group,
};
use super::{Act, Strength};
use crate::domain::UserType;
use crate::reading::text::{Unit, sentences};
use crate::reading::words::TYPE_DOUBT;

/// A unit of the request, read.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Frame {
    /// A paragraph's sentence, or a list item that asks for something
    /// itself (an item may hold several sentences).
    Unit { sentences: Vec<Said>, leads_list: bool },
    /// A list item or table row that names one person and asks nothing
    /// itself ("- Maria Lopez (Hygienist)"): one of the people an action
    /// before it is about.
    Row { person: (String, Option<UserType>), text: String },
}

/// One sentence.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Said {
    pub text: String,
    /// Some clause has an action (a question about totals included).
    pub acts: bool,
    /// The clauses that ask about people or totals, in order.
    pub asks: Vec<Ask>,
    /// The first date a cue ties to a change ("starting December 1"); looked
    /// for only in a sentence that acts or follows one that did.
    pub date: Option<NaiveDate>,
    /// It acts and ties more than one date to its action ("add Mei starting
    /// 10/26 and Robert starting 11/2").
    pub two_dates: bool,
    /// A sentence with no action that gives the people before it one type
    /// ("All three are part-time").
    pub group_type: Option<UserType>,
}

/// A clause with an action.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Ask {
    People(People),
    /// New totals ("we're at 31 full-time and 9 part-time now").
    Total(Total),
}

/// Who a clause adds, removes or moves.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct People {
    pub act: Act,
    pub strength: Strength,
    pub tentative: bool,
    pub question: bool,
    /// Points back at people ("him", "them", "the following").
    pub pronoun: bool,
    /// Each count with its type ("2 full-time and 1 part-time"); a sum that
    /// repeats its typed parts ("3 new users: 2 full-time and 1 part-time")
    /// is left out.
    pub counts: Vec<(i64, Option<UserType>)>,
    /// "a few", "a couple more".
    pub vague: bool,
    /// The people named, each with a type when the clause gives it one.
    pub named: Vec<(String, Option<UserType>)>,
    /// The one type the clause gives its people (none for a move, or when
    /// it names both types without saying whose is which).
    pub stated: Option<UserType>,
    /// Two counts of different types: one group for each.
    pub split_by_type: bool,
    /// Wording that suggests the type may not be full-time ("aide", "intern").
    pub type_doubt: bool,
}

impl People {
    pub fn count(&self) -> Option<i64> {
        if self.counts.is_empty() { None } else { Some(self.counts.iter().map(|c| c.0).sum()) }
    }

    /// It counts or names someone, rather than only pointing back.
    pub fn has_people(&self) -> bool {
        !self.counts.is_empty() || !self.named.is_empty() || self.vague
    }
}

/// New totals said in a clause, each type's in the order said.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Total {
    pub values: Vec<(UserType, i64)>,
    /// A figure without a type, or no typed figure at all.
    pub untyped: bool,
    /// Said as the new count ("now", "that makes"), not as background.
    pub now: bool,
}

/// Reads every unit. `sent` resolves relative dates; `names_to_skip` are
/// the sender's own names (a signature is not a person to add).
pub(super) fn frames(units: &[Unit], sent: Option<NaiveDate>, names_to_skip: &[String]) -> Vec<Frame> {
    let mut out = Vec::new();
    // dates matter only where people have been or are being asked about
    let mut asked_about_people = false;
    for unit in units {
        if unit.field {
            // a form's field is read only when its label is an action ("Add: …")
            let label = unit.text.split(':').next().unwrap_or("");
            if act_of(label).is_none() && !LABEL_ACT.is_match(&unit.text) {
                continue;
            }
        }
        // a unit from `units` is one sentence already; an item may hold several
        let texts = if unit.item { sentences(&unit.text) } else { vec![unit.text.clone()] };
        let read: Vec<_> = texts.into_iter().map(|s| (clauses(&s), s)).collect();
        let acts = read.iter().any(|(cl, _)| cl.iter().any(|(_, a)| a.is_some()));
        if unit.item && !acts {
            if !is_header_row(&unit.text)
                && let Some(person) = item_person(&unit.text)
                && !names_to_skip.iter().any(|s| s == &person.0)
            {
                out.push(Frame::Row { person, text: unit.text.clone() });
            }
            continue;
        }
        let mut said = Vec::new();
        for (clause_list, text) in read {
            let acts = clause_list.iter().any(|(_, a)| a.is_some());
            let dates = if acts || asked_about_people { dates_for(&text, sent) } else { Vec::new() };
            let mut distinct = dates.clone();
            distinct.dedup();
            let mut asks = Vec::new();
            for (clause, asked) in clause_list {
                let Some(asked) = asked else { continue };
                match asked.act {
                    Act::Total => {
                        if let Some(t) = total(&clause) {
                            asks.push(Ask::Total(t));
                        }
                    }
                    _ => asks.push(Ask::People(people(&clause, asked, names_to_skip))),
                }
            }
            asked_about_people |= asks.iter().any(|a| matches!(a, Ask::People(_)));
            let group_type = if acts { None } else { group_type(&text) };
            said.push(Said {
                date: dates.first().copied(),
                two_dates: acts && distinct.len() > 1,
                acts,
                asks,
                group_type,
                text,
            });
        }
        out.push(Frame::Unit { sentences: said, leads_list: unit.leads_list });
    }
    out
}

/// The totals a clause states; none for a question.
fn total(clause: &str) -> Option<Total> {
    let lower = clause.to_ascii_lowercase();
    if lower.trim_end().ends_with('?') {
        return None;
    }
    let (mut vals, _) = counts_in(&lower);
    // "11 users: 8 full-time and 3 part-time": 11 is their sum, not a third figure
    let typed_sum: i64 = vals.iter().filter(|v| v.1.is_some()).map(|v| v.0).sum();
    if vals.iter().filter(|v| v.1.is_some()).count() >= 2 {
        vals.retain(|v| v.1.is_some() || v.0 != typed_sum);
    }
    // "we are now at twenty-two agents, and all of them are full-time"
    let group_type = match (types_a_group(&lower), stated_type(&lower)) {
        (true, (Some(t), false)) => Some(t),
        _ => None,
    };
    let mut t = Total { values: Vec::new(), untyped: false, now: TOTAL_NOW.is_match(&lower) };
    for (n, ty) in vals {
        match ty.or(group_type) {
            Some(ty) => t.values.push((ty, n)),
            None => t.untyped = true,
        }
    }
    if NO_FULL_TIME.is_match(&lower) {
        t.values.push((UserType::FullTime, 0));
    }
    if NO_PART_TIME.is_match(&lower) {
        t.values.push((UserType::PartTime, 0));
    }
    if t.values.is_empty() {
        t.untyped = true;
    }
    Some(t)
}

/// Who a clause with an action about people is about.
fn people(clause: &str, asked: Asked, names_to_skip: &[String]) -> People {
    let lower = clause.to_ascii_lowercase();
    let (mut counts, vague) = counts_in(&lower);
    // "3 new users: 2 full-time and 1 part-time" is three, not six
    let typed_sum: i64 = counts.iter().filter(|c| c.1.is_some()).map(|c| c.0).sum();
    if counts.iter().any(|c| c.1.is_some()) && counts.iter().any(|c| c.1.is_none() && c.0 == typed_sum) {
        counts.retain(|c| c.1.is_some());
    }
    let named = typed_names(clause, &person_names(clause, names_to_skip));
    let (st, both_types) = stated_type(clause);
    let count_type = match counts.as_slice() {
        [(_, t)] => *t,
        _ => None,
    };
    let unclear = both_types && named.iter().all(|n| n.1.is_none()) && counts.len() < 2;
    let stated = if matches!(asked.act, Act::Move { .. }) || unclear { None } else { count_type.or(st) };
    People {
        act: asked.act,
        strength: asked.strength,
        tentative: asked.tentative,
        question: asked.question,
        pronoun: asked.pronoun,
        split_by_type: both_types && counts.len() >= 2,
        counts,
        vague,
        named,
        stated,
        type_doubt: TYPE_DOUBT.iter().any(|w| lower.contains(w)),
    }
}

/// The one type a sentence gives to a group: "All three are part-time",
/// "he was part time".
fn group_type(sentence: &str) -> Option<UserType> {
    let lower = sentence.to_ascii_lowercase();
    if !types_a_group(&lower) {
        return None;
    }
    match stated_type(&lower) {
        (Some(t), false) => Some(t),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reading::text::units;

    fn read(text: &str) -> Vec<Frame> {
        frames(&units(text), NaiveDate::from_ymd_opt(2026, 11, 11), &["Dana Whitfield".to_string()])
    }

    fn said(f: &Frame) -> &[Said] {
        match f {
            Frame::Unit { sentences, .. } => sentences,
            Frame::Row { .. } => panic!("a row: {f:?}"),
        }
    }

    #[test]
    fn a_sentence_with_two_actions_gives_two_clauses() {
        let f = read("Please remove Brian Cole and add two part-time receptionists starting December 1.");
        let s = &said(&f[0])[0];
        let [Ask::People(remove), Ask::People(add)] = s.asks.as_slice() else { panic!("{s:?}") };
        assert_eq!(remove.act, Act::Remove);
        assert_eq!(remove.named, [("Brian Cole".to_string(), None)]);
        assert_eq!(add.act, Act::Add);
        assert_eq!((add.count(), add.stated), (Some(2), Some(UserType::PartTime)));
        assert_eq!(s.date, NaiveDate::from_ymd_opt(2026, 12, 1));
        assert!(!s.two_dates);
    }

    #[test]
    fn list_rows_are_people_and_the_senders_name_is_not() {
        let f =
            read("Please add these two full-time users:\n\n- Maria Lopez\n- Tom Baker\n\nThanks,\nDana Whitfield\n");
        let rows: Vec<_> = f
            .iter()
            .filter_map(|f| match f {
                Frame::Row { person, .. } => Some(person.0.as_str()),
                Frame::Unit { .. } => None,
            })
            .collect();
        assert_eq!(rows, ["Maria Lopez", "Tom Baker"]);
        assert!(matches!(&f[0], Frame::Unit { leads_list: true, .. }));
    }

    #[test]
    fn totals_with_their_types_and_as_news_or_as_the_new_count() {
        let f = read("We're at 31 full-time and 9 part-time now.");
        let [Ask::Total(t)] = said(&f[0])[0].asks.as_slice() else { panic!("{f:?}") };
        assert_eq!(t.values, [(UserType::FullTime, 31), (UserType::PartTime, 9)]);
        assert!(t.now && !t.untyped);
        // a question about totals acts, but states none
        let f = read("Can you bill us for 12 users instead?");
        let s = &said(&f[0])[0];
        assert!(s.acts && s.asks.is_empty(), "{s:?}");
    }

    #[test]
    fn a_sentence_without_an_action_can_type_the_group_and_carry_a_date() {
        let f = read("Please add Ana Ruiz and Ben Ito. Both are part-time. The change is effective December 7.");
        let s: Vec<_> = f.iter().flat_map(said).collect();
        assert_eq!(s[1].group_type, Some(UserType::PartTime));
        assert!(!s[1].acts);
        assert_eq!(s[2].date, NaiveDate::from_ymd_opt(2026, 12, 7));
    }

    #[test]
    fn a_date_is_not_looked_for_before_anyone_is_asked_about() {
        let f = read("Our office closes on December 24. Please remove Kevin Marsh.");
        let all: Vec<_> = f.iter().flat_map(said).collect();
        assert_eq!(all[0].date, None, "{all:?}");
    }
}
