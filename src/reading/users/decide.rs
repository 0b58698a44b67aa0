//! Phase 3: the groups and totals weighed into figures (a net change per
//! type, new totals, an effective date or a date per change), with every
//! doubt that keeps the reading from being certain. A doubt is written only
//! when what it says is true of the message.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::clause::{NO_CHANGE_NOW, TYPE_OPEN, UPDATE_REQUEST};
use super::gather::{Gathered, Group, Totals};
use super::{Act, Finding, Strength};
use crate::domain::UserType;

/// Decides what the gathered request asks. `all_text` is the request's
/// whole text, for what is said of the message as a whole ("no changes
/// yet", "full-time or part-time").
pub(super) fn decide(mut g: Gathered, all_text: &str) -> Finding {
    if g.totals.any && !g.totals.now && !UPDATE_REQUEST.is_match(all_text) {
        // "we currently have 8 full-time and 3 part-time, if that matters": background
        g.totals = Totals::default();
    }
    let mut f = Finding::default();
    if g.groups.is_empty() && !g.totals.any {
        return f;
    }
    let no_change_now = NO_CHANGE_NOW.is_match(all_text);
    if no_change_now {
        for group in &mut g.groups {
            group.strength = Strength::Weak;
        }
        f.doubts.push("the sender says nothing is to change yet".into());
    }
    if TYPE_OPEN.is_match(all_text) && g.groups.iter().any(|g| matches!(g.act, Act::Add | Act::Remove)) {
        f.doubts.push("the message leaves the type (full-time or part-time) open".into());
    }
    if g.type_conflict {
        f.doubts.push("the message gives the same people two different types".into());
    }
    f.strength = g.groups.iter().map(|g| g.strength).chain(g.totals.any.then_some(Strength::Strong)).max();
    if g.two_dates_in_one {
        f.doubts.push("one sentence gives more than one date".into());
    }
    let per_date = dates(&g, &mut f);

    let mut by_date: BTreeMap<(NaiveDate, UserType), (i64, Vec<String>)> = BTreeMap::new();
    // the sentences and rows behind each type's change
    let mut backing: BTreeMap<UserType, Vec<String>> = BTreeMap::new();
    for group in g.groups.iter().filter(|g| g.strength == Strength::Strong) {
        let Some(n) = how_many(group, &mut f.doubts) else { continue };
        f.totals_by_act.push((group.act.label(), n));
        let names = group.names.iter().map(|(n, _)| n.clone());
        match group.act {
            Act::Add => f.names_added.extend(names),
            Act::Remove => f.names_removed.extend(names),
            Act::Move { .. } | Act::Total => {}
        }
        for (t, d) in per_type(group, n, &mut f.doubts) {
            *f.adjustments.entry(t).or_default() += d;
            backing.entry(t).or_default().extend(group.said.iter().cloned());
            if per_date && let Some(date) = group.date {
                let e = by_date.entry((date, t)).or_default();
                e.0 += d;
                e.1.extend(group.said.iter().cloned());
                e.1.extend(group.date_said.iter().cloned());
            }
        }
    }
    if g.groups.iter().all(|g| g.strength == Strength::Weak) && !g.totals.any {
        f.doubts.push("mentions user changes but does not ask for one".into());
        f.asks_nothing = no_change_now || g.groups.iter().all(|g| !g.question);
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
    if g.totals.any {
        totals(g.totals, &mut f);
    }
    f.doubts.dedup();
    f
}

/// The effective date, or whether each change keeps its own (true when
/// every change asked for has a date and they differ).
fn dates(g: &Gathered, f: &mut Finding) -> bool {
    let mut dates: Vec<NaiveDate> = g.groups.iter().filter_map(|g| g.date).collect();
    dates.sort();
    dates.dedup();
    match dates.as_slice() {
        [] => false,
        [one] => {
            f.effective_date = Some(*one);
            if let Some(said) = g.groups.iter().find(|g| g.date == Some(*one)).and_then(|g| g.date_said.clone()) {
                f.evidence.push(("effective_date".into(), said));
            }
            false
        }
        _ => {
            let undated =
                g.groups.iter().any(|g| g.strength == Strength::Strong && g.act != Act::Total && g.date.is_none());
            if undated || g.totals.any {
                f.doubts.push("the changes take effect on different dates".into());
                false
            } else {
                true
            }
        }
    }
}

/// How many people a group is: its count, its names, or both when they
/// agree; none when it cannot be told.
fn how_many(g: &Group, doubts: &mut Vec<String>) -> Option<i64> {
    let label = g.act.label();
    if g.vague {
        doubts.push(format!("the number of users to {label} is not exact"));
        return None;
    }
    if g.tentative {
        doubts.push(format!("the request to {label} users sounds tentative, not final"));
    }
    match (g.count, g.names.len() as i64) {
        (Some(c), 0) => Some(c),
        (None, 0) => {
            doubts.push(format!("could not tell how many users to {label}"));
            None
        }
        (None, k) => Some(k),
        (Some(c), k) if c == k => Some(c),
        (Some(c), k) => {
            doubts.push(format!("says {c} users to {label} but names {k}"));
            Some(c.max(k))
        }
    }
}

/// The net change per type of a group of `n` people: each named person by
/// their own type when every one has one, else by the type stated for the
/// group (full-time, with a doubt, when none is).
fn per_type(g: &Group, n: i64, doubts: &mut Vec<String>) -> BTreeMap<UserType, i64> {
    let mut out = BTreeMap::new();
    let sign = match g.act {
        Act::Move { from, to } => {
            *out.entry(from).or_default() -= n;
            *out.entry(to).or_default() += n;
            return out;
        }
        Act::Total => return out,
        Act::Add => 1,
        Act::Remove => -1,
    };
    let label = g.act.label();
    let named_types: Vec<Option<UserType>> = g.names.iter().map(|(_, t)| *t).collect();
    let all_named_typed = !named_types.is_empty() && named_types.iter().all(Option::is_some);
    if all_named_typed && (g.count.is_none() || g.count == Some(g.names.len() as i64)) {
        for t in named_types.into_iter().flatten() {
            *out.entry(t).or_default() += sign;
        }
        return out;
    }
    let t = match (g.stated_type, named_types.iter().flatten().next()) {
        (Some(t), _) => t,
        (None, Some(t)) if named_types.iter().flatten().all(|x| x == t) => *t,
        _ => {
            if g.names.is_empty() {
                doubts.push(format!("the type (full-time or part-time) of the users to {label} is not stated"));
            } else if g.type_doubt {
                doubts.push(format!(
                    "the type of the users to {label} is not stated, and the wording suggests it may not be full-time"
                ));
            }
            UserType::FullTime
        }
    };
    if g.stated_type.is_none() && named_types.iter().any(Option::is_some) && !all_named_typed {
        doubts.push(format!("only some of the users to {label} have a stated type"));
    }
    *out.entry(t).or_default() += sign * n;
    out
}

/// The new totals, with the sentences that say them.
fn totals(t: Totals, f: &mut Finding) {
    for (field, said) in [("totals.full_time", &t.full_time), ("totals.part_time", &t.part_time)] {
        if let Some((_, s)) = said {
            f.evidence.push((field.into(), s.clone()));
        }
    }
    if t.conflict {
        f.doubts.push("two different totals for the same user type".into());
    }
    if t.untyped {
        f.doubts.push("a total without saying full-time or part-time".into());
    }
    let (ft, pt) = (t.full_time.map(|x| x.0), t.part_time.map(|x| x.0));
    if ft.is_some() || pt.is_some() {
        f.totals = Some((ft, pt));
    } else {
        f.doubts.push("could not read the new totals".into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(act: Act, count: Option<i64>, names: &[(&str, Option<UserType>)]) -> Group {
        Group {
            act,
            strength: Strength::Strong,
            count,
            vague: false,
            stated_type: None,
            names: names.iter().map(|(n, t)| (n.to_string(), *t)).collect(),
            tentative: false,
            type_doubt: false,
            date: None,
            pronoun_only: false,
            question: false,
            said: vec![format!("{act:?}")],
            date_said: None,
        }
    }

    fn with(groups: Vec<Group>) -> Gathered {
        Gathered { groups, ..Gathered::default() }
    }

    #[test]
    fn names_and_a_count_that_disagree_are_a_doubt_and_the_larger_is_shown() {
        let g =
            group(Act::Remove, Some(4), &[("A B", None), ("C D", None), ("E F", None), ("G H", None), ("I J", None)]);
        let mut doubts = Vec::new();
        assert_eq!(how_many(&g, &mut doubts), Some(5));
        assert_eq!(doubts, ["says 4 users to remove but names 5"]);
    }

    #[test]
    fn each_named_person_by_their_own_type() {
        let ft = Some(UserType::FullTime);
        let pt = Some(UserType::PartTime);
        let g = group(Act::Add, None, &[("A B", ft), ("C D", pt), ("E F", pt)]);
        let mut doubts = Vec::new();
        let got = per_type(&g, 3, &mut doubts);
        assert_eq!(got, BTreeMap::from([(UserType::FullTime, 1), (UserType::PartTime, 2)]));
        assert!(doubts.is_empty());
        // a type for some only: the rest are not guessed
        let g = group(Act::Add, Some(2), &[("A B", pt), ("C D", None)]);
        per_type(&g, 2, &mut doubts);
        assert_eq!(doubts, ["only some of the users to add have a stated type"]);
    }

    #[test]
    fn an_untyped_count_is_a_doubt() {
        let f = decide(with(vec![group(Act::Add, Some(3), &[])]), "");
        assert_eq!(f.adjustments, BTreeMap::from([(UserType::FullTime, 3)]));
        assert_eq!(f.doubts, ["the type (full-time or part-time) of the users to add is not stated"]);
    }

    #[test]
    fn changes_on_different_dates_keep_them_only_when_every_change_has_one() {
        let day = |d| NaiveDate::from_ymd_opt(2026, 12, d);
        let mut a = group(Act::Add, Some(1), &[]);
        a.stated_type = Some(UserType::PartTime);
        a.date = day(1);
        let mut b = group(Act::Remove, Some(1), &[]);
        b.stated_type = Some(UserType::PartTime);
        b.date = day(15);
        let f = decide(with(vec![a.clone(), b.clone()]), "");
        assert_eq!(f.effective_date, None);
        assert_eq!(
            f.dated.iter().map(|d| (d.0, d.2)).collect::<Vec<_>>(),
            [(day(1).unwrap(), 1), (day(15).unwrap(), -1)]
        );
        b.date = None;
        let mut c = b.clone();
        c.date = day(20);
        let f = decide(with(vec![a, b, c]), "");
        assert!(f.dated.is_empty());
        assert!(f.doubts.contains(&"the changes take effect on different dates".to_string()), "{:?}", f.doubts);
    }

    #[test]
    fn totals_said_as_background_are_dropped_unless_an_update_is_asked() {
        let mut g = Gathered::default();
        g.totals.any = true;
        g.totals.full_time = Some((8, "we currently have 8 full-time".into()));
        assert!(!decide(g.clone(), "we currently have 8 full-time, if that matters").found());
        let f = decide(g, "we currently have 8 full-time; please update our billing");
        assert_eq!(f.totals, Some((Some(8), None)));
    }

    #[test]
    fn nothing_asked_when_the_sender_says_no_change_yet() {
        let f = decide(with(vec![group(Act::Add, Some(2), &[])]), "Please don't add anyone yet.");
        assert_eq!(f.strength, Some(Strength::Weak));
        assert!(f.asks_nothing);
        assert!(f.adjustments.is_empty());
    }
}
