//! `livemerge matrix` against the checked-in baseline, against copies of it with one verdict or
//! one length changed, with malformed baselines, and its JUnit report read by a JUnit parser.

mod common;

use common::{livemerge, stderr, stdout};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn checked_in() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../findings.json")
}

fn baseline_json() -> Value {
    serde_json::from_slice(&std::fs::read(checked_in()).expect("findings.json is checked in"))
        .expect("findings.json is JSON")
}

/// Runs the matrix over the default axes against `baseline`, with extra arguments.
fn matrix(baseline: &Path, extra: &[&str]) -> std::process::Output {
    let b = baseline.to_str().unwrap();
    let mut args = vec!["matrix", "-q", "--baseline", b];
    args.extend_from_slice(extra);
    livemerge(&args)
}

/// Writes `v` to a fresh file in `dir`.
fn write(dir: &Path, name: &str, v: &Value) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_vec_pretty(v).unwrap()).unwrap();
    p
}

/// The first (configuration, property index) whose entry satisfies `pick`.
fn find(v: &Value, pick: impl Fn(&Value) -> bool) -> (usize, usize) {
    for (c, conf) in v["configurations"].as_array().unwrap().iter().enumerate() {
        for (p, prop) in conf["properties"].as_array().unwrap().iter().enumerate() {
            if pick(prop) {
                return (c, p);
            }
        }
    }
    panic!("no such entry in findings.json");
}

#[test]
#[ignore = "slow tier: runs the whole matrix, over 20 s (scripts/test runs it)"]
fn the_checked_in_baseline_matches_and_every_configuration_is_in_the_table() {
    let out = matrix(&checked_in(), &[]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    let base = baseline_json();
    let configs = base["configurations"].as_array().unwrap();
    let verdicts: usize = configs
        .iter()
        .map(|c| c["properties"].as_array().unwrap().len())
        .sum();
    assert!(
        text.contains(&format!("all {verdicts} verdicts and lengths match")),
        "{text}"
    );
    // One table row per configuration: as many rows as the baseline has configurations.
    let rows = text
        .lines()
        .filter(|l| l.contains(" none ") || l.contains(" all "))
        .count();
    assert_eq!(rows, configs.len(), "{text}");
    // The known finding of bug 1280160 is in the table, with its 5-step counterexample length
    // taken from the baseline rather than written here.
    let (c, p) = find(&base, |p| {
        p["property"] == "snapshot removed implies merge done" && p["verdict"] == "violated"
    });
    let len = &base["configurations"][c]["properties"][p]["length"];
    assert!(text.contains(&format!("VIOL {len}")), "{text}");
}

#[test]
#[ignore = "slow tier: runs the whole matrix, over 20 s (scripts/test runs it)"]
fn a_flipped_verdict_is_a_difference_naming_its_configuration_and_property() {
    let dir = tempfile::tempdir().unwrap();
    let mut base = baseline_json();
    let (c, p) = find(&base, |p| p["verdict"] == "holds");
    let entry = &mut base["configurations"][c]["properties"][p];
    entry["verdict"] = "violated".into();
    entry["length"] = 3.into();
    let prop = entry["property"].as_str().unwrap().to_string();
    let config = base["configurations"][c]["configuration"]
        .as_str()
        .unwrap()
        .to_string();
    let file = write(dir.path(), "flipped.json", &base);
    let out = matrix(&file, &[]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("1 difference(s)"), "{text}");
    let line = format!("  {config}: \"{prop}\": violated (3 steps) -> holds");
    assert!(
        text.lines().any(|l| l == line),
        "no line {line:?} in:\n{text}"
    );
}

#[test]
#[ignore = "slow tier: runs the whole matrix, over 20 s (scripts/test runs it)"]
fn a_changed_length_is_a_difference_naming_its_configuration_and_property() {
    let dir = tempfile::tempdir().unwrap();
    let mut base = baseline_json();
    let (c, p) = find(&base, |p| p["verdict"] == "violated");
    let entry = &mut base["configurations"][c]["properties"][p];
    let len = entry["length"].as_u64().unwrap();
    entry["length"] = (len + 1).into();
    let prop = entry["property"].as_str().unwrap().to_string();
    let config = base["configurations"][c]["configuration"]
        .as_str()
        .unwrap()
        .to_string();
    let file = write(dir.path(), "longer.json", &base);
    let out = matrix(&file, &[]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let line = format!(
        "  {config}: \"{prop}\": violated ({} steps) -> violated ({len} steps)",
        len + 1
    );
    assert!(
        text.lines().any(|l| l == line),
        "no line {line:?} in:\n{text}"
    );
    assert!(
        text.contains(&format!("VIOL {len}*")),
        "changed cell not starred:\n{text}"
    );
}

#[test]
#[ignore = "slow tier: runs the whole matrix, over 20 s (scripts/test runs it)"]
fn the_junit_report_is_read_by_a_junit_parser() {
    let dir = tempfile::tempdir().unwrap();
    let mut base = baseline_json();
    let (c, p) = find(&base, |p| p["verdict"] == "holds");
    base["configurations"][c]["properties"][p]["verdict"] = "never".into();
    let config = base["configurations"][c]["configuration"]
        .as_str()
        .unwrap()
        .to_string();
    let prop = base["configurations"][c]["properties"][p]["property"]
        .as_str()
        .unwrap()
        .to_string();
    let file = write(dir.path(), "never.json", &base);
    let xml = dir.path().join("report.xml");
    let out = matrix(&file, &["--junit", xml.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));

    let reader = std::io::BufReader::new(std::fs::File::open(&xml).unwrap());
    let report = junit_parser::from_reader(reader).expect("valid JUnit XML");
    let configs = base["configurations"].as_array().unwrap();
    assert_eq!(report.suites.len(), configs.len());
    assert_eq!(report.failures, 1);
    let mut expected_violations = 0;
    for (suite, conf) in report.suites.iter().zip(configs) {
        assert_eq!(suite.name, conf["configuration"].as_str().unwrap());
        let props = conf["properties"].as_array().unwrap();
        assert_eq!(suite.cases.len(), props.len(), "suite {}", suite.name);
        for (case, entry) in suite.cases.iter().zip(props) {
            assert_eq!(case.original_name, entry["property"].as_str().unwrap());
            if suite.name == config && case.original_name == prop {
                assert!(case.status.is_failure(), "{case:?}");
                continue;
            }
            assert!(case.status.is_success(), "{}: {case:?}", suite.name);
            if entry["verdict"] == "violated" {
                // An expected violation passes, with its counterexample (unescaped by the
                // parser: the steps' quotes and apostrophes survive the round trip).
                expected_violations += 1;
                let out = case
                    .system_out
                    .as_deref()
                    .expect("counterexample in system-out");
                let steps = entry["length"].as_u64().unwrap();
                assert!(
                    out.contains(&format!(
                        "\"{}\" ({steps} steps, shortest)",
                        case.original_name
                    )),
                    "{out}"
                );
                assert!(out.contains(&format!("{steps:>5}. ")), "{out}");
            }
        }
    }
    assert!(expected_violations > 0);
    let failed = report
        .suites
        .iter()
        .flat_map(|s| &s.cases)
        .find(|c| c.status.is_failure())
        .unwrap();
    let junit_parser::TestStatus::Failure(f) = &failed.status else {
        unreachable!()
    };
    assert!(
        f.message
            .contains(&format!("{config}: \"{prop}\": never -> ")),
        "{}",
        f.message
    );
}

#[test]
#[ignore = "slow tier: runs the whole matrix, over 20 s (scripts/test runs it)"]
fn update_rewrites_the_baseline_to_what_is_checked_in() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("findings.json");
    std::fs::write(&file, b"{}").unwrap();
    let out = matrix(&file, &["--update"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        std::fs::read_to_string(checked_in()).unwrap(),
        "the checked-in findings.json is not what the matrix finds: run `livemerge matrix --update`"
    );
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "temporary files left: {names:?}");
}

#[test]
fn a_reduced_axis_compares_only_its_configurations() {
    let out = matrix(&checked_in(), &["--disks", "1..2", "--releases", "3.6.0"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("livemerge matrix: 8 configuration(s)"),
        "{text}"
    );
    assert!(
        text.contains("outside these axes and were not compared"),
        "{text}"
    );
}

#[test]
fn a_malformed_baseline_is_a_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut bad_verdict = baseline_json();
    bad_verdict["configurations"][0]["properties"][0]["verdict"] = "maybe".into();
    let mut no_length = baseline_json();
    let (c, p) = find(&no_length, |p| p["verdict"] == "violated");
    no_length["configurations"][c]["properties"][p]["length"] = Value::Null;
    let mut twice = baseline_json();
    let first = twice["configurations"][0].clone();
    twice["configurations"].as_array_mut().unwrap().push(first);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        (
            "truncated",
            b"{\"format\": \"livemerge-findings\", ".to_vec(),
        ),
        ("not json", b"verdicts!".to_vec()),
        (
            "foreign",
            br#"{"format": "something-else", "version": 1}"#.to_vec(),
        ),
        (
            "future",
            br#"{"format": "livemerge-findings", "version": 9}"#.to_vec(),
        ),
        ("bad verdict", serde_json::to_vec(&bad_verdict).unwrap()),
        ("no length", serde_json::to_vec(&no_length).unwrap()),
        ("listed twice", serde_json::to_vec(&twice).unwrap()),
    ];
    for (what, bytes) in cases {
        let file = dir.path().join("b.json");
        std::fs::write(&file, &bytes).unwrap();
        let out = matrix(&file, &[]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{what}: {err}");
        assert_eq!(err.lines().count(), 1, "{what}: {err}");
        assert!(err.starts_with("livemerge: "), "{what}: {err}");
        assert!(!err.contains("panicked"), "{what}: {err}");
        assert!(stdout(&out).is_empty(), "{what}: ran the matrix anyway");
    }
    let missing = matrix(&dir.path().join("absent.json"), &[]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        stderr(&missing).contains("--update"),
        "{}",
        stderr(&missing)
    );
}

#[test]
fn bad_axes_are_one_line_errors() {
    for args in [
        ["--disks", "0"],
        ["--disks", "3..1"],
        ["--pollers", "5.0"],
        ["--faults", "sometimes"],
        ["--restarts", "9"],
    ] {
        let out = matrix(&checked_in(), &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert_eq!(
            stderr(&out).lines().count(),
            1,
            "{args:?}: {}",
            stderr(&out)
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let nowhere = dir.path().join("no/such/dir/report.xml");
    for target in [nowhere.as_path(), dir.path()] {
        let out = matrix(&checked_in(), &["--junit", target.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{target:?}");
        assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
        assert!(stdout(&out).is_empty(), "ran the matrix anyway");
    }
}
