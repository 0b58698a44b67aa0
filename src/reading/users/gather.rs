//! Phase 2: the frames of a message gathered into groups of people, each
//! asked for once. A clause that only points back ("please remove him")
//! joins the group it points at, names said again join their group, list
//! rows join the action that leads them, a sentence without an action gives
//! the group before it a type or a date; totals are kept per type.

use chrono::NaiveDate;

use super::clause::{person_names, typed_names};
use super::frames::{Ask, Frame, People, Said, Total};
use super::{Act, Strength};
use crate::domain::UserType;

/// People asked about together: one action, its count or names, its type,
/// its date, and the sentences it was read from.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Group {
    pub act: Act,
    pub strength: Strength,
    pub count: Option<i64>,
    pub vague: bool,
    pub stated_type: Option<UserType>,
    pub names: Vec<(String, Option<UserType>)>,
    pub tentative: bool,
    pub type_doubt: bool,
    pub date: Option<NaiveDate>,
    /// Came from a sentence whose only people are a pronoun.
    pub pronoun_only: bool,
    /// Asked as a question ("Do they need to be added?").
    pub question: bool,
    /// The sentences and rows it was read from.
    pub said: Vec<String>,
    /// The sentence its date was read from.
    pub date_said: Option<String>,
}

/// New totals per type, as said across the message.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Totals {
    /// Some clause states totals.
    pub any: bool,
    /// One of them is said as the new count, not as background.
    pub now: bool,
    pub full_time: Option<(i64, String)>,
    pub part_time: Option<(i64, String)>,
    /// Two different totals for one type.
    pub conflict: bool,
    /// A total without a type.
    pub untyped: bool,
}

impl Totals {
    fn add(&mut self, t: &Total, sentence: &str) {
        self.any = true;
        self.now |= t.now;
        self.untyped |= t.untyped;
        for &(ty, n) in &t.values {
            let slot = match ty {
                UserType::FullTime => &mut self.full_time,
                UserType::PartTime => &mut self.part_time,
            };
            self.conflict |= slot.as_ref().is_some_and(|(x, _)| *x != n);
            *slot = Some((n, sentence.to_string()));
        }
    }
}

/// Everything the message asks, gathered.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Gathered {
    pub groups: Vec<Group>,
    pub totals: Totals,
    /// One sentence ties two dates to its action.
    pub two_dates_in_one: bool,
    /// A group was given two different types.
    pub type_conflict: bool,
}

/// Gathers the frames. `names_to_skip` are the sender's own names, for a
/// sentence that names the people a pronoun pointed at.
pub(super) fn gather(frames: Vec<Frame>, names_to_skip: &[String]) -> Gathered {
    let mut g = Gathering::default();
    for frame in frames {
        match frame {
            Frame::Row { person, text } => g.row(person, text),
            Frame::Unit { sentences, leads_list } => {
                g.units_since_group += 1;
                for s in sentences {
                    g.sentence(s, names_to_skip);
                }
                g.last_unit_led_list = leads_list;
            }
        }
    }
    g.out
}

#[derive(Default)]
struct Gathering {
    out: Gathered,
    /// Rows read before the action they belong to ("…the following: [rows] Please add them").
    pending_rows: Vec<((String, Option<UserType>), String)>,
    last_unit_led_list: bool,
    units_since_group: usize,
}

impl Gathering {
    /// A row joins the last group when it follows the sentence that leads
    /// the list, or comes soon after it.
    fn row(&mut self, person: (String, Option<UserType>), text: String) {
        let near = self.last_unit_led_list || self.units_since_group <= 3;
        match self.out.groups.last_mut().filter(|_| near) {
            Some(g) if g.act != Act::Total => {
                if !g.names.iter().any(|(n, _)| *n == person.0) {
                    g.names.push(person);
                    g.said.push(text);
                }
            }
            _ => self.pending_rows.push((person, text)),
        }
    }

    fn sentence(&mut self, s: Said, names_to_skip: &[String]) {
        self.out.two_dates_in_one |= s.two_dates;
        for ask in &s.asks {
            match ask {
                Ask::Total(t) => self.out.totals.add(t, &s.text),
                Ask::People(p) => self.people(p, &s),
            }
        }
        if s.acts {
            return;
        }
        if let Some(t) = s.group_type {
            self.type_group(t, &s.text);
        }
        self.name_group(&s.text, names_to_skip);
        if let Some(d) = s.date {
            // "Please make the change effective November 1." (a sentence
            // without an action has a date only after someone was asked
            // about: frames looks no earlier); one for a group that has
            // its date already is not a date of the change
            if let Some(g) = self.out.groups.iter_mut().rev().find(|g| g.date.is_none()) {
                (g.date, g.date_said) = (Some(d), Some(s.text));
            }
        }
    }

    fn people(&mut self, p: &People, s: &Said) {
        let groups = &mut self.out.groups;
        // a clause that only points back ("please remove him") joins the group it points at
        if !p.has_people() {
            let same = groups.iter_mut().rev().find(|g| {
                g.act == p.act || (matches!(p.act, Act::Add | Act::Remove) && matches!(g.act, Act::Move { .. }))
            });
            if let Some(g) = same.filter(|g| g.act == p.act) {
                g.strength = g.strength.max(p.strength);
                g.tentative |= p.tentative;
                if g.stated_type.is_none() {
                    g.stated_type = p.stated;
                }
                if g.date.is_none() && s.date.is_some() {
                    g.date = s.date;
                    g.date_said = Some(s.text.clone());
                }
                g.said.push(s.text.clone());
                self.units_since_group = 0;
                return;
            }
        }
        // the same names again ("Kevin Marsh left ... please remove Kevin Marsh")
        if !p.named.is_empty()
            && let Some(g) = groups
                .iter_mut()
                .find(|g| g.act == p.act && p.named.iter().all(|(n, _)| g.names.iter().any(|(gn, _)| gn == n)))
        {
            g.strength = g.strength.max(p.strength);
            if g.stated_type.is_none() {
                g.stated_type = p.stated;
            }
            g.said.push(s.text.clone());
            return;
        }
        let count = p.count();
        let mut g = Group {
            act: p.act,
            strength: p.strength,
            count,
            vague: p.vague && count.is_none(),
            stated_type: p.stated,
            names: p.named.clone(),
            tentative: p.tentative,
            type_doubt: p.type_doubt,
            date: None,
            pronoun_only: !p.has_people() && p.pronoun,
            question: p.question,
            said: vec![s.text.clone()],
            date_said: None,
        };
        if let Some(d) = s.date {
            (g.date, g.date_said) = (Some(d), Some(s.text.clone()));
        }
        if !p.has_people() && !self.pending_rows.is_empty() {
            for (person, row) in self.pending_rows.drain(..) {
                g.names.push(person);
                g.said.push(row);
            }
            g.pronoun_only = false;
        }
        if p.split_by_type {
            // "2 full-time and 1 part-time": one group per type
            for (n, t) in &p.counts {
                let mut part = g.clone();
                part.count = Some(*n);
                part.stated_type = *t;
                part.names.clear();
                groups.push(part);
            }
        } else {
            groups.push(g);
        }
        self.units_since_group = 0;
    }

    /// "All three are part-time": the last group added or removed takes the
    /// type; a different type already given is a conflict.
    fn type_group(&mut self, t: UserType, sentence: &str) {
        let Some(g) = self.out.groups.iter_mut().rev().find(|g| matches!(g.act, Act::Add | Act::Remove)) else {
            return;
        };
        match g.stated_type {
            None => g.stated_type = Some(t),
            Some(x) if x != t => self.out.type_conflict = true,
            Some(_) => {}
        }
        g.said.push(sentence.to_string());
    }

    /// "Please add both. Caleb Frost is full-time, Imani Scott is
    /// part-time.": a group that only points at people ("both", "them")
    /// takes the people a following sentence names, when it gives each of
    /// them a type.
    fn name_group(&mut self, sentence: &str, names_to_skip: &[String]) {
        let Some(g) = self.out.groups.last_mut() else { return };
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
}

#[cfg(test)]
mod tests {
    use super::super::frames::frames;
    use super::*;
    use crate::reading::text::units;

    fn read(text: &str) -> Gathered {
        gather(frames(&units(text), NaiveDate::from_ymd_opt(2026, 11, 11), &[]), &[])
    }

    #[test]
    fn a_pronoun_joins_the_group_it_points_at() {
        let g = read("Kevin Marsh left the firm last week. Please remove him from billing.");
        assert_eq!(g.groups.len(), 1, "{g:?}");
        assert_eq!(g.groups[0].act, Act::Remove);
        assert_eq!(g.groups[0].strength, Strength::Strong);
        assert_eq!(g.groups[0].names, [("Kevin Marsh".to_string(), None)]);
        assert_eq!(g.groups[0].said.len(), 2);
    }

    #[test]
    fn rows_join_the_sentence_that_leads_them_or_wait_for_one() {
        let g = read("Please add the following full-time users:\n\n- Maria Lopez\n- Tom Baker\n");
        assert_eq!(g.groups[0].names.len(), 2);
        let g = read("New people:\n\n- Maria Lopez\n- Tom Baker\n\nPlease add them.");
        assert_eq!(g.groups.len(), 1, "{g:?}");
        assert_eq!(g.groups[0].names.len(), 2);
        assert!(!g.groups[0].pronoun_only);
    }

    #[test]
    fn a_later_sentence_types_or_dates_the_group_and_a_second_type_conflicts() {
        let g = read("Please add Ana Ruiz and Ben Ito. Both are part-time. Make it effective December 7.");
        assert_eq!(g.groups[0].stated_type, Some(UserType::PartTime));
        assert_eq!(g.groups[0].date, NaiveDate::from_ymd_opt(2026, 12, 7));
        assert!(!g.type_conflict);
        let g = read("Please add two part-time users. They are full-time.");
        assert!(g.type_conflict, "{g:?}");
    }

    #[test]
    fn two_counts_of_different_types_make_two_groups() {
        let g = read("Please add 2 full-time and 1 part-time users.");
        let parts: Vec<_> = g.groups.iter().map(|g| (g.count, g.stated_type)).collect();
        assert_eq!(parts, [(Some(2), Some(UserType::FullTime)), (Some(1), Some(UserType::PartTime))]);
    }

    #[test]
    fn totals_keep_the_sentence_and_notice_a_conflict() {
        let g = read("We now have 20 full-time users. Correction: we now have 21 full-time users.");
        assert!(g.totals.any && g.totals.now && g.totals.conflict, "{:?}", g.totals);
        assert_eq!(g.totals.full_time.as_ref().map(|t| t.0), Some(21));
    }

    #[test]
    fn a_date_goes_to_the_last_group_without_one() {
        let g = read("Please remove Brian Cole starting December 1. Please add Ana Ruiz. Effective December 7, 2026.");
        let dates: Vec<_> = g.groups.iter().map(|g| g.date.map(|d| d.to_string())).collect();
        assert_eq!(dates, [Some("2026-12-01".into()), Some("2026-12-07".into())], "{g:?}");
        let g = read("Please remove Brian Cole starting December 1. Our office is closed on December 24.");
        assert_eq!(g.groups[0].date.map(|d| d.to_string()), Some("2026-12-01".into()), "{g:?}");
    }
}
