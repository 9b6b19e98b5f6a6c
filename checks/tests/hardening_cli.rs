//! Hardening, classes 3 and 9 (and the flag members of class 8): every duration and count flag
//! has a bound checked while parsing, and every usage error is one line, `livemerge: ...`,
//! exit 2, before anything runs. A bare `livemerge` prints a one-line usage to stderr.

mod common;
use common::{livemerge, stderr, stdout};

/// Exit 2, nothing on stdout, exactly one line on stderr that starts with `livemerge: ` and
/// mentions `needle`.
fn assert_one_line(args: &[&str], needle: &str) {
    let o = livemerge(args);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    assert_eq!(stdout(&o), "", "{args:?}");
    assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    assert!(err.starts_with("livemerge: "), "{args:?}: {err}");
    assert!(err.contains(needle), "{args:?}: {err} lacks {needle}");
    assert!(!err.contains("panicked"), "{args:?}: {err}");
}

#[test]
fn class3_every_duration_and_count_flag_is_bounded() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["stress", "--tick-ms", "2305843009213693952", "--runs", "1"],
            "--tick-ms",
        ),
        (&["stress", "--tick-ms", "60001", "--runs", "1"], "60000"),
        (&["stress", "--tick-ms", "0", "--runs", "1"], "--tick-ms"),
        (
            &[
                "run",
                "--dir",
                "/nonexistent-x",
                "--tick-ms",
                "99999999999999",
            ],
            "--tick-ms",
        ),
        (
            &["replay", "f.json", "--dir", "d", "--tick-ms", "61000"],
            "--tick-ms",
        ),
        (&["stress", "--start-cost-ms", "NaN"], "--start-cost-ms"),
        (&["stress", "--start-cost-ms=-1"], "--start-cost-ms"),
        (&["stress", "--job-ms", "inf"], "--job-ms"),
        (&["stress", "--job-ms", "1e12"], "--job-ms"),
        (&["stress", "--limit-secs", "0"], "--limit-secs"),
        (&["stress", "--limit-secs", "1e300"], "--limit-secs"),
        (&["resume", "--dir", "d", "--limit-secs=-5"], "--limit-secs"),
        (&["stress", "--pool-threads", "100000"], "--pool-threads"),
        (&["stress", "--command-lifetime", "0"], "--command-lifetime"),
        (
            &[
                "run",
                "--dir",
                "/nonexistent-x",
                "--command-lifetime",
                "18000001",
            ],
            "--command-lifetime",
        ),
        (
            &["replay", "f.json", "--dir", "d", "--command-lifetime=-1"],
            "--command-lifetime",
        ),
        (&["stress", "--backoff", "sometimes"], "--backoff"),
        (&["stress", "--runs", "0"], "--runs"),
        (&["stress", "--runs", "4294967295"], "--runs"),
        (&["schedules", "--runs", "0"], "--runs"),
        (&["schedules", "--runs", "99999999999"], "--runs"),
        (&["check", "--threads", "0"], "--threads"),
        (&["check", "--threads", "257"], "--threads"),
        (&["check", "--timeout", "0"], "--timeout"),
        (&["check", "--timeout", "NaN"], "--timeout"),
        (&["check", "--max-states", "0"], "--max-states"),
        (
            &["check", "--strategy", "dfs", "--max-states", "0"],
            "--max-states",
        ),
        (&["check", "--disks", "0"], "--disks"),
        (&["check", "--disks", "200"], "--disks"),
        (&["schedules", "--disks", "9"], "--disks"),
    ];
    for (args, needle) in cases {
        assert_one_line(args, needle);
    }
}

#[test]
fn class8_schedules_refuse_seeds_that_do_not_exist() {
    assert_one_line(
        &[
            "schedules",
            "--seed",
            "18446744073709551610",
            "--runs",
            "100",
        ],
        "only 6 seed(s)",
    );
    // The last six seeds exist: they run, and the report counts exactly them.
    let o = livemerge(&[
        "schedules",
        "--seed",
        "18446744073709551610",
        "--runs",
        "6",
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("6 schedule(s) (seeds 18446744073709551610 to 18446744073709551615)"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn class9_usage_errors_are_one_line() {
    let cases: &[(&[&str], &str)] = &[
        (&["chek"], "unrecognized subcommand"),
        (&["check", "--bogus"], "--bogus"),
        (&["check", "--poller", "9.9"], "9.9"),
        (&["check", "--strategy", "sideways"], "sideways"),
        (&["check", "--faults", "meteor"], "meteor"),
        (&["show"], "FILE"),
        (&["audit"], "TRACE"),
        (&["run"], "--dir"),
        (
            &["check", "--replay-model", "x.json", "--save", "d"],
            "--save",
        ),
        (&["check", "--seed=-1"], "--seed"),
        (&["explore", "--listen"], "--listen"),
    ];
    for (args, needle) in cases {
        assert_one_line(args, needle);
    }
    // A bare `livemerge`: a short usage naming the commands, on stderr.
    assert_one_line(&[], "usage: livemerge <check|");
    // Help is not an error: whole, on stdout, exit 0.
    let o = livemerge(&["check", "--help"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("Usage: livemerge check"));
}
