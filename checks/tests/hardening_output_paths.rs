//! Hardening, class 1: every file the tool writes (`show --svg`, `check --save`, `schedules
//! --save`, `run`/`replay`/`resume --trace`) refuses a target that exists and is not a regular
//! file (a FIFO, a symlink to a device, a directory, a dangling symlink): exit 2, one line,
//! the target unchanged, no temporary file left behind. A regular file is replaced whole.

mod common;
use common::{livemerge, saved_bug, stderr, CHECK_BUG};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::Command;

fn mkfifo(p: &Path) {
    let ok = Command::new("mkfifo").arg(p).status().expect("mkfifo runs");
    assert!(ok.success());
}

/// The hostile targets, each with a way to tell it is still what it was.
fn hostile_targets(dir: &Path) -> Vec<(PathBuf, &'static str)> {
    let fifo = dir.join("fifo");
    mkfifo(&fifo);
    let devnull = dir.join("devnull");
    std::os::unix::fs::symlink("/dev/null", &devnull).unwrap();
    let devzero = dir.join("devzero");
    std::os::unix::fs::symlink("/dev/zero", &devzero).unwrap();
    let sub = dir.join("a-directory");
    std::fs::create_dir(&sub).unwrap();
    let dangling = dir.join("dangling");
    std::os::unix::fs::symlink(dir.join("nowhere/at/all"), &dangling).unwrap();
    vec![
        (fifo, "fifo"),
        (devnull, "link:/dev/null"),
        (devzero, "link:/dev/zero"),
        (sub, "dir"),
        (dangling, "dangling"),
    ]
}

fn assert_unchanged(p: &Path, what: &str) {
    let lm = std::fs::symlink_metadata(p).expect("target still exists");
    match what {
        "fifo" => assert!(lm.file_type().is_fifo(), "{} replaced", p.display()),
        "dir" => {
            assert!(lm.is_dir());
            assert_eq!(std::fs::read_dir(p).unwrap().count(), 0, "written into");
        }
        link => {
            assert!(lm.file_type().is_symlink(), "{} replaced", p.display());
            if let Some(dev) = link.strip_prefix("link:") {
                assert_eq!(std::fs::read_link(p).unwrap(), Path::new(dev));
                assert!(std::fs::metadata(dev).unwrap().file_type().is_char_device());
            }
        }
    }
}

/// Nothing but the named entries is in `dir` (no temporary file left behind).
fn assert_only(dir: &Path, names: &[&str]) {
    let mut found: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    let mut want: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(found, want);
}

/// No temporary file of ours is left in `dir`.
fn assert_no_temporary(dir: &Path) {
    for e in std::fs::read_dir(dir).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.ends_with(".tmp"), "left behind: {name}");
    }
}

fn assert_refused(o: &std::process::Output, args: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    assert!(err.starts_with("livemerge: "), "{args:?}: {err}");
    assert!(err.contains("refusing"), "{args:?}: {err}");
}

const NAMES: [&str; 5] = ["fifo", "devnull", "devzero", "a-directory", "dangling"];

#[test]
#[ignore = "slow tier: runs the engine on qcow2 volumes (qemu-img, qemu-io) (scripts/test runs it)"]
fn class1_output_paths_refuse_what_is_not_a_regular_file() {
    let cxdir = tempfile::tempdir().unwrap();
    let cx = saved_bug(cxdir.path());
    let cx = cx.to_str().unwrap();
    let t = tempfile::tempdir().unwrap();
    let targets = hostile_targets(t.path());
    for (p, what) in &targets {
        let ps = p.to_str().unwrap();
        let runs: Vec<Vec<&str>> = vec![
            vec!["show", cx, "--svg", ps],
            vec!["replay", cx, "--dir", "/nonexistent-never/x", "--trace", ps],
            vec!["run", "--dir", "/nonexistent-never/y", "--trace", ps],
        ];
        for args in runs {
            let o = livemerge(&args);
            assert_refused(&o, &args);
            assert_unchanged(p, what);
        }
    }
    assert_only(t.path(), &NAMES);
    assert!(!Path::new("/nonexistent-never").exists());
}

#[test]
fn class1_save_refuses_a_fifo_or_device_at_the_file_name() {
    let t = tempfile::tempdir().unwrap();
    let slug = "snapshot-removed-implies-merge-done.json";
    for (i, what) in ["fifo", "link:/dev/null", "dir"].into_iter().enumerate() {
        let dir = t.path().join(format!("save{i}"));
        std::fs::create_dir(&dir).unwrap();
        let target = dir.join(slug);
        match what {
            "fifo" => mkfifo(&target),
            "dir" => std::fs::create_dir(&target).unwrap(),
            _ => std::os::unix::fs::symlink("/dev/null", &target).unwrap(),
        }
        let args = [&CHECK_BUG[..], &["--save", dir.to_str().unwrap()]].concat();
        let o = livemerge(&args);
        assert_refused(&o, &args);
        assert_unchanged(&target, what);
        assert_no_temporary(&dir);
    }
}

#[test]
fn class1_a_regular_target_is_replaced_whole() {
    let t = tempfile::tempdir().unwrap();
    let cx = saved_bug(t.path());
    let out = t.path().join("out.svg");
    std::fs::write(&out, "old").unwrap();
    let o = livemerge(&["show", cx.to_str().unwrap(), "--svg", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let svg = std::fs::read_to_string(&out).unwrap();
    assert!(svg.starts_with("<svg") || svg.starts_with("<?xml"), "{svg}");
    assert_no_temporary(t.path());
}

#[test]
#[ignore = "slow tier: runs the engine on qcow2 volumes (qemu-img, qemu-io) (scripts/test runs it)"]
fn class1_engine_directory_files_refuse_what_is_not_a_regular_file() {
    // A directory that looks like an interrupted setup of ours, its marker a FIFO or a symlink
    // to a device: refused at once, not waited on or written through.
    let t = tempfile::tempdir().unwrap();
    for (i, what) in ["fifo", "link:/dev/null"].into_iter().enumerate() {
        let dir = t.path().join(format!("vm{i}"));
        std::fs::create_dir(&dir).unwrap();
        let marker = dir.join(".livemerge-setup");
        match what {
            "fifo" => mkfifo(&marker),
            _ => std::os::unix::fs::symlink("/dev/null", &marker).unwrap(),
        }
        let args = ["run", "--dir", dir.to_str().unwrap(), "--tick-ms", "5"];
        let t0 = std::time::Instant::now();
        let o = livemerge(&args);
        assert!(t0.elapsed() < std::time::Duration::from_secs(20), "hung");
        assert_refused(&o, &args);
        assert_unchanged(&marker, what);
        assert_only(&dir, &[".livemerge-setup"]);
    }
}
