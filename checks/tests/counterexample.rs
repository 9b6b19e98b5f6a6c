//! Counterexamples as files: check -> save -> show -> replay-model, and broken files.

mod common;

use common::{livemerge, saved_bug, stderr, stdout, BUG};
use std::path::Path;
use std::process::Output;

fn text(o: &Output) -> (String, String) {
    (stdout(o), stderr(o))
}

/// A scratch directory of the test's own, removed when the test ends (passed or failed).
struct Scratch(tempfile::TempDir);

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        self.0.path()
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        self.0.path()
    }
}

fn tmp(name: &str) -> Scratch {
    Scratch(
        tempfile::Builder::new()
            .prefix(&format!("livemerge-test-{name}-"))
            .tempdir()
            .unwrap(),
    )
}

#[test]
fn check_save_show_replay_round_trip() {
    let dir = tmp("roundtrip");
    let file = saved_bug(&dir);
    let check = text(&livemerge(&[
        "check", "--poller", "3.6.0", "--disks", "1", "-q",
    ]))
    .0;

    // show prints the same numbered steps as check.
    let o = livemerge(&["show", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    let shown = text(&o).0;
    let steps = |s: &str| -> Vec<String> {
        s.split("counterexample to always \"snapshot removed implies merge done\"")
            .nth(1)
            .unwrap_or(s)
            .lines()
            .filter(|l| {
                l.trim_start()
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_digit())
            })
            .map(str::to_string)
            .collect()
    };
    let from_check: Vec<_> = steps(&check).into_iter().take(5).collect();
    assert_eq!(steps(&shown), from_check);
    assert!(shown.contains("sees disk-1 NOT_STARTED -> parent SUCCEEDED"));

    // the diagram
    let svg = dir.join("bug.svg");
    let o = livemerge(&[
        "show",
        file.to_str().unwrap(),
        "--svg",
        svg.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    let svg = std::fs::read_to_string(svg).unwrap();
    assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
    assert!(
        svg.contains("class=\"violation\""),
        "the breaking step is highlighted"
    );
    assert!(svg.contains("broken: snapshot removed implies merge done"));
    assert!(svg.contains("doPolling -&gt; SUCCEEDED (sees NOT_STARTED)"));

    // replay-model: still a violation (exit 1)
    let o = livemerge(&["check", "--replay-model", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{:?}", text(&o));
    assert!(text(&o)
        .0
        .contains("still violates always \"snapshot removed implies merge done\" after 5 steps"));

    // the same interleaving under the fixed poller: the model refuses it where 3.6.1 waits
    let o = livemerge(&[
        "check",
        "--replay-model",
        file.to_str().unwrap(),
        "--poller",
        "3.6.1",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let out = text(&o).0;
    assert!(out.contains("found for another configuration"), "{out}");
    assert!(out.contains("the model now refuses step 4 (poller: dispatch RemoveSnapshot): the parent's doPolling waits"), "{out}");
}

#[test]
fn every_saved_file_is_valid_json_with_the_documented_fields() {
    let dir = tmp("fields");
    saved_bug(&dir);
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(names.contains(&BUG.to_string()), "{names:?}");
    assert!(
        names.iter().all(|n| n.ends_with(".json")),
        "no temporary files left: {names:?}"
    );
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join(BUG)).unwrap()).unwrap();
    assert_eq!(v["format"], "livemerge-counterexample");
    assert_eq!(v["version"], 1);
    assert_eq!(v["configuration"]["release"], "3.6.0");
    assert_eq!(v["property"]["name"], "snapshot removed implies merge done");
    let events = v["events"].as_array().unwrap();
    assert_eq!(events.len(), 5);
    assert_eq!(v["states"].as_array().unwrap().len(), 6);
    assert_eq!(v["states"][5]["snapshot"], "Deleted");
}

fn broken_file(dir: &Path, name: &str, content: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p
}

#[test]
fn broken_files_get_one_line_and_exit_2() {
    let dir = tmp("broken");
    let good = std::fs::read_to_string(saved_bug(&dir)).unwrap();
    let cases = [
        ("empty.json", String::new(), "empty file"),
        (
            "truncated.json",
            good[..good.len() / 2].to_string(),
            "truncated JSON",
        ),
        ("garbage.json", "not json at all".to_string(), "not JSON"),
        (
            "foreign.json",
            "{\"hello\": 1}".to_string(),
            "not a livemerge counterexample",
        ),
        (
            "version.json",
            good.replace("\"version\": 1", "\"version\": 99"),
            "format version 99",
        ),
        (
            "disks.json",
            good.replace("\"disks\": 1", "\"disks\": 0"),
            "bad configuration",
        ),
        (
            "event.json",
            good.replace("parent_begins", "parent_explodes"),
            "malformed counterexample",
        ),
        (
            "short.json",
            good.replacen("\"snapshot\": \"Ok\"", "\"snapshot\": \"Gone\"", 1),
            "malformed counterexample",
        ),
    ];
    for (name, content, want) in cases {
        let p = broken_file(&dir, name, &content);
        for cmd in [vec!["show"], vec!["check", "--replay-model"]] {
            let mut args = cmd.clone();
            args.push(p.to_str().unwrap());
            let o = livemerge(&args);
            let (out, err) = text(&o);
            assert_eq!(o.status.code(), Some(2), "{name} {cmd:?}: {out} {err}");
            assert_eq!(err.lines().count(), 1, "{name}: one line: {err}");
            assert!(err.contains(want), "{name}: want {want:?} in {err}");
            assert!(!err.contains("panicked"));
        }
    }
    let o = livemerge(&["show", dir.join("missing.json").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("cannot read"));
    // A device is refused, not read forever.
    for args in [
        vec!["show", "/dev/zero"],
        vec!["check", "--replay-model", "/dev/zero"],
    ] {
        let o = livemerge(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(text(&o).1.contains("not a regular file"), "{args:?}");
    }
}

#[test]
fn events_the_model_refuses() {
    let dir = tmp("refused");
    let good = std::fs::read_to_string(saved_bug(&dir)).unwrap();
    // Swap "execute() returns" before the child is started: the model refuses it.
    let mut v: serde_json::Value = serde_json::from_str(&good).unwrap();
    let events = v["events"].as_array_mut().unwrap();
    events.swap(1, 2);
    let p = broken_file(&dir, "refused.json", &serde_json::to_string(&v).unwrap());
    let o = livemerge(&["show", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o).1;
    assert!(err.contains("step 2 (RemoveSnapshot.execute() returns) is refused by the model: the parent has children left to start"), "{err}");
    // replay-model says where the model now refuses it, and exits 0.
    let o = livemerge(&["check", "--replay-model", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    assert!(text(&o).0.contains("the model now refuses step 2"));
}

#[test]
fn save_into_a_file_is_refused() {
    let dir = tmp("savefile");
    let f = broken_file(&dir, "plain", "x");
    let o = livemerge(&[
        "check",
        "--disks",
        "1",
        "--poller",
        "3.6.0",
        "-q",
        "--save",
        f.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("not a directory"));
    assert_eq!(
        std::fs::read_to_string(f).unwrap(),
        "x",
        "nothing overwritten"
    );
}
