//! Hardening, class 4: `audit` checks every field of a trace record, ties the trace to its
//! engine directory and its configuration to the directory's database, and refuses flags that
//! contradict the trace's header. Each tampered field is tried, with and without `--dir`.

mod common;
use common::{livemerge, printed, run_traced};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// A real removal on qcow2 files with a trace, in `root/name`; returns (dir, trace).
fn traced_run(root: &Path, name: &str) -> (PathBuf, PathBuf) {
    let dir = root.join(name);
    let trace = root.join(format!("{name}.jsonl"));
    let o = run_traced(
        &dir,
        &trace,
        &["--disks", "2", "--poller", "4.0", "--tick-ms", "5"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", printed(&o));
    (dir, trace)
}

fn values(p: &Path) -> Vec<Value> {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn write(p: &Path, v: &[Value]) {
    let text: Vec<String> = v.iter().map(|x| x.to_string()).collect();
    std::fs::write(p, text.join("\n") + "\n").unwrap();
}

fn audit(trace: &Path, extra: &[&str]) -> (Option<i32>, String) {
    let mut args = vec!["audit", trace.to_str().unwrap()];
    args.extend(extra);
    let o = livemerge(&args);
    (o.status.code(), printed(&o))
}

/// The index of the first record (not header) whose event is `name`.
fn find(v: &[Value], name: &str) -> usize {
    v.iter()
        .position(|x| x["event"]["event"] == name)
        .unwrap_or_else(|| panic!("no {name} in the trace"))
}

type Tamper = (&'static str, fn(&mut Vec<Value>) -> usize, &'static str);

#[test]
#[ignore = "slow tier: runs the engine on qcow2 volumes (qemu-img, qemu-io) (scripts/test runs it)"]
fn class4_audit_checks_every_field_of_a_record() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, trace) = traced_run(tmp.path(), "vm");
    let good = values(&trace);
    assert!(
        good[0].get("layout").is_some(),
        "the header names the layout"
    );
    let d = dir.to_str().unwrap();
    for extra in [&[][..], &["--dir", d][..]] {
        let (code, text) = audit(&trace, extra);
        assert_eq!(code, Some(0), "{text}");
    }
    let edited = tmp.path().join("edited.jsonl");
    let cases: &[Tamper] = &[
        (
            "seq",
            |v| {
                v[3]["seq"] = json!(999);
                3
            },
            "seq 999 where 3 comes next",
        ),
        (
            "seq repeated",
            |v| {
                v[4]["seq"] = v[3]["seq"].clone();
                4
            },
            "where 4 comes next",
        ),
        (
            "t_ms",
            |v| {
                v[5]["t_ms"] = json!(v[4]["t_ms"].as_u64().unwrap() + 1_000_000);
                6
            },
            "goes back in time",
        ),
        (
            "source unknown",
            |v| {
                v[2]["source"] = json!("martian");
                2
            },
            "source \"martian\" is not one of",
        ),
        (
            "source wrong actor",
            |v| {
                let k = find(v, "parent_begins");
                v[k]["source"] = json!("pool");
                k
            },
            "source \"pool\" cannot produce",
        ),
        (
            "source poller for a pool pick-up",
            |v| {
                let k = find(v, "pool_picks_up");
                v[k]["source"] = json!("poller");
                k
            },
            "cannot produce",
        ),
        (
            "source grandchild for a pool pick-up",
            |v| {
                let k = find(v, "pool_picks_up");
                v[k]["source"] = json!("grandchild");
                k
            },
            "source \"grandchild\" cannot produce",
        ),
        (
            "logged_source outside a backfill",
            |v| {
                v[2]["logged_source"] = json!("parent");
                2
            },
            "logged_source in a record that is not backfilled",
        ),
        (
            "db status",
            |v| {
                let k = find(v, "parent_begins");
                v[k]["db"]["commands"][0]["status"] = json!("SUCCEEDED");
                k
            },
            "db is not the rows of the state after",
        ),
        (
            "db row dropped",
            |v| {
                v[3]["db"]["images"] = json!([]);
                3
            },
            "db is not the rows",
        ),
        (
            "storage shape",
            |v| {
                v[3]["storage"]["disks"] = json!([]);
                3
            },
            "storage is not",
        ),
        (
            "storage missing",
            |v| {
                v[3]["storage"] = Value::Null;
                3
            },
            "storage is not",
        ),
    ];
    for (what, tamper, want) in cases {
        let mut v = good.clone();
        let k = tamper(&mut v);
        write(&edited, &v);
        for extra in [&[][..], &["--dir", d][..]] {
            let (code, text) = audit(&edited, extra);
            assert_eq!(code, Some(1), "{what} {extra:?}: {text}");
            assert!(text.contains(&format!(":{}: ", k + 1)), "{what}: {text}");
            assert!(text.contains(want), "{what} {extra:?}: {text}");
        }
    }

    // Each record names the model's actor of its event; an older engine's names (a grandchild's
    // execute() run by the pool, its worker called the task) still audit.
    let grandchild_events = [
        "grandchild_picks_up",
        "merge_reaches_host",
        "merge_refused",
        "grandchild_returns",
        "task_ends",
        "delete_volume_fails",
    ];
    let mut older = good.clone();
    let mut renamed = 0;
    for r in older.iter_mut().filter(|r| r.get("event").is_some()) {
        let e = r["event"]["event"].as_str().unwrap().to_string();
        if grandchild_events.contains(&e.as_str()) {
            assert_eq!(r["source"], "grandchild", "{r}");
            r["source"] = json!(if e.starts_with("task") || e.starts_with("delete") {
                "task"
            } else {
                "pool"
            });
            renamed += 1;
        }
    }
    assert!(renamed > 10, "{renamed} grandchild records");
    write(&edited, &older);
    for extra in [&[][..], &["--dir", d][..]] {
        let (code, text) = audit(&edited, extra);
        assert_eq!(code, Some(0), "an older engine's names {extra:?}: {text}");
    }

    // A field the format does not have: malformed (exit 2).
    let mut v = good.clone();
    v[3]["extra"] = json!("smuggled");
    write(&edited, &v);
    let (code, text) = audit(&edited, &[]);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("line 4: malformed record"), "{text}");
    assert!(text.contains("extra"), "{text}");

    // The header's poller changed: conforms on its own only if the events agree, but never
    // against the directory whose database says 4.0.2.
    let mut v = good.clone();
    v[0]["configuration"]["release"] = json!("3.6.0");
    write(&edited, &v);
    let (code, text) = audit(&edited, &["--dir", d]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains(":1: the header's configuration"), "{text}");

    // The header's layout names another VM: not this directory's trace.
    let mut v = good.clone();
    v[0]["layout"]["vm_id"] = json!("00000000-0000-0000-0000-000000000000");
    write(&edited, &v);
    let (code, text) = audit(&edited, &["--dir", d]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("another engine directory"), "{text}");

    // A header without a layout cannot be tied to a directory.
    let mut v = good.clone();
    v[0].as_object_mut().unwrap().remove("layout");
    write(&edited, &v);
    let (code, text) = audit(&edited, &["--dir", d]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("no layout"), "{text}");

    // Flags that contradict the header: an error, not silently ignored.
    for (flags, want) in [
        (&["--poller", "3.6.0"][..], "--release 3.6.0 disagrees"),
        (&["--disks", "3"][..], "--disks 3 disagrees"),
    ] {
        let (code, text) = audit(&trace, flags);
        assert_eq!(code, Some(2), "{flags:?}: {text}");
        assert!(text.contains(want), "{text}");
        assert_eq!(text.lines().count(), 1, "{text}");
    }
    // Flags that agree are fine.
    let (code, text) = audit(&trace, &["--poller", "4.0", "--disks", "2"]);
    assert_eq!(code, Some(0), "{text}");
}

#[test]
#[ignore = "slow tier: runs the engine on qcow2 volumes (qemu-img, qemu-io) (scripts/test runs it)"]
fn class4_a_trace_is_tied_to_its_engine_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir_a, trace_a) = traced_run(tmp.path(), "a");
    let (dir_b, trace_b) = traced_run(tmp.path(), "b");
    // Both removals ended the same way, so only the ids tell them apart.
    for (trace, dir) in [(&trace_a, &dir_b), (&trace_b, &dir_a)] {
        let (code, text) = audit(trace, &["--dir", dir.to_str().unwrap()]);
        assert_eq!(code, Some(1), "{text}");
        assert!(text.contains("another engine directory"), "{text}");
    }
    // Two engines' traces in one file.
    let mut both = values(&trace_a);
    both.extend(values(&trace_b));
    let cat = tmp.path().join("both.jsonl");
    write(&cat, &both);
    let (code, text) = audit(&cat, &[]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("the layout changes"), "{text}");
}
