//! `docs/outcomes.md` accounts for every answer the engine's code handles from outside; this
//! holds it to the model: every event the model can take has a row there, named as the trace and
//! saved counterexamples spell it, and every event the page names exists.

use livemerge_model::Event;
use std::collections::BTreeSet;

const PAGE: &str = include_str!("../../docs/outcomes.md");

/// The serialized name of an event (`merge_refused`), as in traces and saved files.
fn name(e: Event) -> String {
    let v = serde_json::to_value(e).expect("events serialize");
    v["event"].as_str().expect("a tagged event").to_string()
}

/// The backquoted words of the last column of every table row.
fn named_in_model_column(page: &str) -> BTreeSet<String> {
    page.lines()
        .filter(|l| l.starts_with('|') && !l.starts_with("|---"))
        .filter_map(|l| l.trim_end_matches('|').rsplit('|').next())
        .flat_map(|cell| {
            cell.split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The events of the model that `page` has no row for.
fn missing(page: &str) -> Vec<String> {
    let named = named_in_model_column(page);
    Event::candidates(1)
        .map(name)
        .filter(|n| !named.contains(n))
        .collect()
}

#[test]
fn every_event_of_the_model_has_a_row() {
    let missing = missing(PAGE);
    assert!(
        missing.is_empty(),
        "docs/outcomes.md has no row for {missing:?}"
    );
}

#[test]
fn the_page_names_no_event_the_model_lacks() {
    let events: BTreeSet<_> = Event::candidates(1).map(name).collect();
    let looks_like_event = |w: &str| {
        !w.is_empty()
            && w.chars().all(|c| c.is_ascii_lowercase() || c == '_')
            && w.contains('_')
            && !w.contains("__")
    };
    // Rule names (`extend_step`) sit in the same column; they are fields of `rules::Rules`.
    let rules = format!(
        "{:?}",
        livemerge_model::Rules::of(livemerge_model::Release::V4_1_0)
    );
    let unknown: Vec<_> = named_in_model_column(PAGE)
        .into_iter()
        .filter(|w| looks_like_event(w) && !events.contains(w) && !rules.contains(w.as_str()))
        .collect();
    assert!(unknown.is_empty(), "docs/outcomes.md names {unknown:?}");
}

#[test]
fn the_check_can_fail() {
    // A page without the expiry row would be caught.
    let without: String = PAGE
        .lines()
        .filter(|l| !l.contains("`expire`"))
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(missing(&without), vec!["expire".to_string()]);
}
