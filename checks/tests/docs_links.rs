//! Every relative link in README.md and docs/ resolves to a file inside the repository (and,
//! for a `#section` of a Markdown page, to one of its headings): nothing points outside it, so
//! the manual reads the same in every clone. Reads the files; writes nothing.

mod common;

use common::manual::{pages, root};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The text outside fenced code blocks and inline code spans.
fn prose(text: &str) -> String {
    let mut out = String::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") || line.trim_start().starts_with("~~~") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        // Drop `code` spans: a link target is never inside one.
        let mut in_code = false;
        for c in line.chars() {
            if c == '`' {
                in_code = !in_code;
            } else if !in_code {
                out.push(c);
            }
        }
        out.push('\n');
    }
    out
}

/// The targets of inline links and images: `[text](target)`, `![alt](target "title")`.
fn targets(text: &str) -> Vec<String> {
    let mut v = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("](") {
        rest = &rest[i + 2..];
        let end = rest.find(')').unwrap_or(rest.len());
        let t = rest[..end].split_whitespace().next().unwrap_or("");
        v.push(t.trim_matches(|c| c == '<' || c == '>').to_string());
        rest = &rest[end..];
    }
    v
}

/// GitHub's anchors of a page's headings: lower case, punctuation dropped, spaces to hyphens.
fn anchors(text: &str) -> BTreeSet<String> {
    prose(text)
        .lines()
        .filter(|l| l.starts_with('#'))
        .map(|l| {
            l.trim_start_matches('#')
                .trim()
                .to_lowercase()
                .chars()
                .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
                .map(|c| if c == ' ' { '-' } else { c })
                .collect()
        })
        .collect()
}

fn raw_anchors(path: &Path) -> BTreeSet<String> {
    // Headings may hold code spans (`livemerge check`): anchors keep their words.
    let text = std::fs::read_to_string(path).unwrap().replace('`', "");
    anchors(&text)
}

#[test]
fn every_relative_link_resolves_inside_the_repository() {
    let root = root();
    let files = pages();
    let mut broken = Vec::new();
    let mut checked = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let shown = file.strip_prefix(&root).unwrap().display().to_string();
        for t in targets(&prose(&text)) {
            if t.is_empty() || t.contains("://") || t.starts_with("mailto:") {
                continue;
            }
            checked += 1;
            let (path, anchor) = match t.split_once('#') {
                Some((p, a)) => (p, Some(a)),
                None => (t.as_str(), None),
            };
            let target = if path.is_empty() {
                file.clone()
            } else {
                file.parent().unwrap().join(path)
            };
            match target.canonicalize() {
                Err(_) => broken.push(format!("{shown}: {t}: no such file")),
                Ok(p) if !p.starts_with(&root) => {
                    broken.push(format!("{shown}: {t}: outside the repository"))
                }
                Ok(p) => {
                    if let Some(a) = anchor {
                        if p.extension().is_some_and(|x| x == "md") && !raw_anchors(&p).contains(a)
                        {
                            broken.push(format!("{shown}: {t}: no heading #{a}"));
                        }
                    }
                }
            }
        }
    }
    assert!(
        checked > 20,
        "only {checked} links found: is the reader right?"
    );
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn the_front_page_is_at_most_300_lines() {
    let text = std::fs::read_to_string(root().join("README.md")).unwrap();
    assert!(
        text.lines().count() <= 300,
        "{} lines",
        text.lines().count()
    );
}

#[test]
fn the_manuals_index_links_every_page() {
    let root = root();
    let docs = root.join("docs");
    let index = docs.join("README.md");
    let linked: BTreeSet<PathBuf> = targets(&prose(&std::fs::read_to_string(&index).unwrap()))
        .into_iter()
        .filter(|t| !t.contains("://"))
        .filter_map(|t| docs.join(t.split('#').next().unwrap()).canonicalize().ok())
        .collect();
    let pages: Vec<PathBuf> = pages()
        .into_iter()
        .filter(|p| p.starts_with(&docs))
        .collect();
    let missing: Vec<String> = pages
        .iter()
        .filter(|p| **p != index && !linked.contains(&p.canonicalize().unwrap()))
        .map(|p| p.strip_prefix(&root).unwrap().display().to_string())
        .collect();
    assert!(pages.len() > 10, "pages found: {pages:?}");
    assert!(
        missing.is_empty(),
        "docs/README.md does not link: {missing:?}"
    );
}
