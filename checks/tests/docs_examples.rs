//! The console examples of README.md and docs/*.md, run against the built `livemerge` with
//! `trycmd`: each ```` ```console ```` block's `$ livemerge ...` lines are run, and what they
//! print (stdout and stderr together) must match the lines below them (`...` stands for any
//! lines, `[..]` for any text within a line, `? N` for an exit code other than 0). A change of
//! output fails here until the page is updated.
//!
//! The pages are copied into a temporary directory and each page's commands run in a directory
//! of its own there (`PAGE.in/`, which trycmd takes as the working directory), so files the
//! examples write (`--save cx/`, `--dir vm/`) never land in the repository and go with the test.
//! Pages whose examples need qemu-img (the engine on real volumes) are the slow tier's.
//! After a deliberate change of output, `TRYCMD=overwrite LIVEMERGE_EXAMPLES_WRITE_BACK=1` updates
//! the pages (then read the diff: it is the change a reader will see).

use std::path::{Path, PathBuf};

/// Pages whose examples run the engine on qcow2 volumes (qemu-img, qemu-io): slow tier.
const SLOW: &[&str] = &[
    "docs/engine.md",
    "docs/conformance.md",
    "docs/many-removals.md",
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// README.md and every page under docs/ (not docs/readings/, which has no examples).
fn pages() -> Vec<String> {
    let mut v = vec!["README.md".to_string()];
    let mut docs: Vec<String> = std::fs::read_dir(root().join("docs"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".md"))
        .map(|n| format!("docs/{n}"))
        .collect();
    docs.sort();
    v.extend(docs);
    v
}

fn run_examples(which: &[String]) {
    let scratch = tempfile::Builder::new()
        .prefix("livemerge-examples-")
        .tempdir()
        .unwrap();
    let cases = trycmd::TestCases::new();
    cases
        .register_bin("livemerge", PathBuf::from(env!("CARGO_BIN_EXE_livemerge")))
        .timeout(std::time::Duration::from_secs(120));
    for page in which {
        let flat = page.replace('/', "-");
        let copy = scratch.path().join(&flat);
        std::fs::copy(root().join(page), &copy).unwrap();
        // The examples' working directory, with the repository's baseline for `matrix`.
        let dir = copy.with_extension("in");
        std::fs::create_dir(&dir).unwrap();
        std::fs::copy(root().join("findings.json"), dir.join("findings.json")).unwrap();
        cases.case(&copy);
    }
    cases.run();
    // `TRYCMD=overwrite LIVEMERGE_EXAMPLES_WRITE_BACK=1 cargo test ...` rewrites the examples'
    // outputs in the copies; this carries them back to the pages. Only when asked: a test run
    // never writes into the repository.
    if std::env::var_os("LIVEMERGE_EXAMPLES_WRITE_BACK").is_some() {
        for page in which {
            let copy = scratch.path().join(page.replace('/', "-"));
            std::fs::copy(&copy, root().join(page)).unwrap();
        }
    }
}

#[test]
fn examples_that_need_no_qemu() {
    let fast: Vec<String> = pages()
        .into_iter()
        .filter(|p| !SLOW.contains(&p.as_str()))
        .collect();
    run_examples(&fast);
}

#[test]
#[ignore = "slow tier: the engine's examples need qemu-img and take seconds"]
fn examples_of_the_engine_on_real_volumes() {
    let slow: Vec<String> = SLOW.iter().map(|s| s.to_string()).collect();
    run_examples(&slow);
}
