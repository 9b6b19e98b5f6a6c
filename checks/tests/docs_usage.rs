//! The usage lines in README.md and docs/ (```` ```text ```` blocks whose lines start with
//! `livemerge SUBCOMMAND`) agree with the binary: every flag they show is one that subcommand's
//! `--help` lists, every flag its `--help` lists is shown in some usage line of that subcommand,
//! and a list of releases names every release the model has. So a flag added, renamed or dropped
//! fails here until the manual says so. Reads the pages; writes nothing.

mod common;

use common::manual::{pages, root};
use common::{livemerge, stdout};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// A usage line: where it is, its subcommand, and its text with its continuation lines.
struct Usage {
    at: String,
    sub: String,
    text: String,
}

/// The usage lines of ```` ```text ```` blocks: a line `livemerge SUB ...` followed by lines that
/// start with spaces and `[` (its continuation). Lines of output (`livemerge check: ...`) are not
/// usage.
fn usages(page: &Path) -> Vec<Usage> {
    let text = std::fs::read_to_string(page).unwrap();
    let name = page.strip_prefix(root()).unwrap().display().to_string();
    let mut out: Vec<Usage> = Vec::new();
    let mut in_text = false;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_start();
        if t.starts_with("```") {
            in_text = !in_text && t == "```text";
            continue;
        }
        if !in_text {
            continue;
        }
        if let Some(rest) = line.strip_prefix("livemerge ") {
            let sub = rest.split_whitespace().next().unwrap_or("");
            if !sub.is_empty() && sub.chars().all(|c| c.is_ascii_lowercase()) {
                out.push(Usage {
                    at: format!("{name}:{}", i + 1),
                    sub: sub.to_string(),
                    text: rest.to_string(),
                });
                continue;
            }
        }
        match out.last_mut() {
            Some(u) if line.starts_with(' ') && t.starts_with('[') => {
                u.text.push(' ');
                u.text.push_str(t);
            }
            _ => {}
        }
    }
    out
}

/// The `--long` flags in a text.
fn flags(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let b = text.as_bytes();
    let mut i = 0;
    while let Some(at) = text[i..].find("--") {
        let start = i + at;
        let before_ok = start == 0 || !b[start - 1].is_ascii_alphanumeric() && b[start - 1] != b'-';
        let mut end = start + 2;
        while end < b.len()
            && (b[end].is_ascii_lowercase() || b[end].is_ascii_digit() || b[end] == b'-')
        {
            end += 1;
        }
        if before_ok && end > start + 2 && b[start + 2].is_ascii_lowercase() {
            out.insert(text[start..end].trim_end_matches('-').to_string());
        }
        i = end.max(start + 2);
    }
    out
}

/// The flags `livemerge SUB --help` lists (its option lines), without `--help` itself.
fn help_flags(sub: &str) -> BTreeSet<String> {
    let o = livemerge(&[sub, "--help"]);
    assert_eq!(o.status.code(), Some(0), "livemerge {sub} --help");
    let help = stdout(&o);
    let mut out = BTreeSet::new();
    for line in help.lines() {
        let t = line.trim_start();
        let opt = t.strip_prefix("-q, ").unwrap_or(t);
        if let Some(f) = opt.strip_prefix("--") {
            let name: String = f
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')
                .collect();
            if name != "help" && !name.is_empty() {
                out.insert(format!("--{name}"));
            }
        }
    }
    out
}

#[test]
fn usage_lines_show_the_flags_the_binary_takes() {
    let all: Vec<Usage> = pages().iter().flat_map(|p| usages(p)).collect();
    assert!(
        all.iter().any(|u| u.sub == "check") && all.iter().any(|u| u.sub == "matrix"),
        "usage lines are found"
    );
    // Every subcommand has a usage line somewhere.
    let top = stdout(&livemerge(&["--help"]));
    let subs: Vec<&str> = top
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|s| *s != "help")
        .collect();
    assert!(subs.contains(&"check") && subs.len() > 5, "{top}");
    let mut wrong: Vec<String> = subs
        .iter()
        .filter(|s| !all.iter().any(|u| u.sub == **s))
        .map(|s| format!("no usage line in README.md or docs/ shows `livemerge {s}`"))
        .collect();
    let mut shown: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let releases: Vec<&str> = livemerge_model::Release::ALL
        .iter()
        .map(|r| r.name())
        .collect();
    for u in &all {
        let takes = help_flags(&u.sub);
        let mut shown_here = flags(&u.text);
        if u.text.split([' ', '[', ']']).any(|w| w == "-q") {
            shown_here.insert("--quiet".to_string());
        }
        for f in shown_here {
            if !takes.contains(&f) {
                wrong.push(format!("{}: `livemerge {}` takes no {f}", u.at, u.sub));
            }
            shown.entry(u.sub.clone()).or_default().insert(f);
        }
        // A list of releases (`3.5.0|3.5.7|...`) names them all.
        for word in u.text.split([' ', '[', ']']) {
            if word.contains('|') && word.split('|').any(|w| releases.contains(&w)) {
                let listed: BTreeSet<&str> = word.split('|').collect();
                for r in &releases {
                    if !listed.contains(r) {
                        wrong.push(format!("{}: the release list lacks {r}", u.at));
                    }
                }
            }
        }
    }
    for (sub, seen) in &shown {
        for f in help_flags(sub) {
            if !seen.contains(&f) {
                wrong.push(format!(
                    "`livemerge {sub} --help` lists {f}, which no usage line in README.md or docs/ shows"
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_reader_of_usage_lines_finds_flags_and_continuations() {
    let text = "x --disks N [--max-n N] [--release a|b] -- --x- ---y";
    assert_eq!(
        flags(text).into_iter().collect::<Vec<_>>(),
        ["--disks", "--max-n", "--release", "--x"]
    );
}
