//! The history of each finding, from the checker's own verdicts (`findings.json`): for every
//! property, the releases where it is violated, where that began and where it ended, each time
//! with the changes of the release that brought it or fixed it (`model::rules`). A release is
//! compared with the one its rules are written against, not with the one before it in time: 3.5.7
//! is the 3.5 branch, so a fix in 3.5.7 does not reach 3.6.0.

use super::baseline::Baseline;
use livemerge_model::properties::{self, Expectation};
use livemerge_model::rules::Rules;
use livemerge_model::Release;
use std::collections::BTreeSet;

/// One property's history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct History {
    pub property: &'static str,
    /// The releases (of those checked) where some configuration violates it.
    pub violated: Vec<Release>,
    /// Releases where it is violated and the release they are written against is not (or there
    /// is none): where it began.
    pub appears: Vec<Release>,
    /// Releases where it holds and the release they are written against violates it.
    pub fixed: Vec<Release>,
    /// Whether the last release checked violates it.
    pub in_latest: bool,
}

/// The release a configuration name (`release 4.0.2, 1 disk(s), ...`) is about.
fn release_of(configuration: &str) -> Option<Release> {
    configuration
        .strip_prefix("release ")?
        .split(',')
        .next()?
        .parse()
        .ok()
}

/// The history of every always- and eventually-property over the releases `baseline` checks.
pub fn histories(baseline: &Baseline) -> Vec<History> {
    let checked: BTreeSet<Release> = baseline
        .configurations
        .iter()
        .filter_map(|c| release_of(&c.configuration))
        .collect();
    let violated = |release: Release, property: &str| {
        baseline.configurations.iter().any(|c| {
            release_of(&c.configuration) == Some(release)
                && c.properties
                    .iter()
                    .any(|p| p.property == property && p.verdict == "violated")
        })
    };
    let latest = checked.iter().next_back().copied();
    properties::ALL
        .iter()
        .filter(|p| p.expectation != Expectation::Sometimes)
        .map(|p| {
            let v: Vec<Release> = checked
                .iter()
                .copied()
                .filter(|&r| violated(r, p.name))
                .collect();
            let was = |r: Release| {
                Rules::of(r)
                    .previous
                    .filter(|prev| checked.contains(prev))
                    .map(|prev| v.contains(&prev))
            };
            History {
                property: p.name,
                appears: v
                    .iter()
                    .copied()
                    .filter(|&r| was(r) != Some(true))
                    .collect(),
                fixed: checked
                    .iter()
                    .copied()
                    .filter(|&r| !v.contains(&r) && was(r) == Some(true))
                    .collect(),
                in_latest: latest.is_some_and(|l| v.contains(&l)),
                violated: v,
            }
        })
        .collect()
}

fn with_changes(releases: &[Release]) -> String {
    if releases.is_empty() {
        return "-".into();
    }
    releases
        .iter()
        .map(|&r| format!("{r} ({})", Rules::of(r).changes.join("; ")))
        .collect::<Vec<_>>()
        .join("<br>")
}

/// The histories as a Markdown table.
pub fn markdown(histories: &[History], latest: Option<Release>) -> String {
    let latest = latest.map_or("the latest release".to_string(), |r| r.to_string());
    let mut out = format!(
        "| property | violated in | appears in (with that release's changes) | fixed in (with that release's changes) | in {latest} |\n|---|---|---|---|---|\n"
    );
    for h in histories {
        let violated = if h.violated.is_empty() {
            "never".to_string()
        } else {
            h.violated
                .iter()
                .map(Release::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let now = if h.violated.is_empty() {
            "holds (never violated)".to_string()
        } else if h.in_latest {
            format!("**still violated in {latest}**")
        } else {
            "fixed".to_string()
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            h.property,
            violated,
            with_changes(&h.appears),
            with_changes(&h.fixed),
            now
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::baseline::{ConfigEntry, PropEntry};

    fn entry(release: &str, property: &str, verdict: &str) -> ConfigEntry {
        ConfigEntry {
            configuration: format!(
                "release {release}, 1 disk(s), faults none, 0 restart(s), 1 retry"
            ),
            properties: vec![PropEntry {
                property: property.into(),
                verdict: verdict.into(),
                length: None,
            }],
        }
    }

    #[test]
    fn a_fix_on_a_branch_does_not_reach_the_main_line() {
        let p = properties::SNAPSHOT_REMOVED_IMPLIES_MERGE_DONE;
        let b = Baseline {
            format: String::new(),
            version: 1,
            model_version: 1,
            configurations: vec![
                entry("3.5.0", p, "violated"),
                entry("3.5.7", p, "holds"),
                entry("3.6.0", p, "violated"),
                entry("3.6.1", p, "holds"),
                entry("4.5.7", p, "violated"),
            ],
        };
        let h = histories(&b).into_iter().find(|h| h.property == p).unwrap();
        // 3.6.0 is written against 3.5.0, which violates it too: no new appearance.
        assert_eq!(h.appears, vec![Release::V3_5_0, Release::V4_5_7]);
        assert_eq!(h.fixed, vec![Release::V3_5_7, Release::V3_6_1]);
        assert!(h.in_latest);
        let table = markdown(&[h], Some(Release::V4_5_7));
        assert!(table.contains("3.6.1 (16d82699a41 (BZ 1280160)"), "{table}");
        assert!(table.contains("**still violated in 4.5.7**"), "{table}");
    }

    #[test]
    fn a_release_whose_previous_was_not_checked_starts_a_history() {
        let p = properties::NO_DATA_LOST;
        let b = Baseline {
            format: String::new(),
            version: 1,
            model_version: 1,
            configurations: vec![entry("4.0.2", p, "violated"), entry("4.1.0", p, "holds")],
        };
        let h = histories(&b).into_iter().find(|h| h.property == p).unwrap();
        assert_eq!(h.appears, vec![Release::V4_0_2]);
        assert_eq!(h.fixed, vec![Release::V4_1_0]);
        assert!(!h.in_latest);
    }
}
