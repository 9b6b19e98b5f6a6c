//! Crash test: the `livemerge` engine is killed with SIGKILL at random points of a removal on
//! real qcow2 volumes, then `livemerge resume` restarts it through the model's restart rules.
//! After each resume, the invariants are judged on the real database and storage (not on what
//! the engine says), and every block written is read back with qemu-io.

mod common;
#[path = "../../impl/tests/common/mod.rs"]
mod engine;

use common::livemerge;
use engine::{assert_log_is_model_steps, reads};
use livemerge_impl::abstraction::observe_dir;
use livemerge_impl::db::Db;
use livemerge_model::properties::{self, Expectation};
use livemerge_model::{Event, State};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const KILLS: usize = 24;
const SETUP_KILLS: usize = 3;
const DISKS: usize = 3;

fn sleep_unless_done(child: &mut std::process::Child, d: Duration) {
    let t0 = Instant::now();
    while t0.elapsed() < d && child.try_wait().unwrap().is_none() {
        std::thread::sleep(Duration::from_micros(300));
    }
}

#[test]
#[ignore = "slow tier: kills and resumes the engine on qcow2 volumes (qemu-img, qemu-io), over 30 s (scripts/test runs it)"]
fn killed_at_random_points_the_engine_resumes_without_breaking_an_invariant_or_losing_data() {
    let mut rng = fastrand::Rng::with_seed(0x1280160);
    let (mut kills, mut attempts, mut ended, mut stuck, mut in_setup) = (0, 0, 0, 0, 0);
    let (mut failed_marked, mut failed_cleanly) = (0, 0);
    let mut kill_points = Vec::new();
    while kills < KILLS {
        attempts += 1;
        assert!(
            attempts < 3 * KILLS,
            "the engine kept finishing before it could be killed"
        );
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("vm");
        let d = dir.to_str().unwrap();
        let trace = tmp.path().join("trace.jsonl");
        let mut child = Command::new(env!("CARGO_BIN_EXE_livemerge"))
            .args([
                "run",
                "--dir",
                d,
                "--disks",
                "3",
                "--poller",
                "4.0",
                "--tick-ms",
                "10",
            ])
            // The pool's start cost keeps children queued for a while after the parent
            // returned, so kills also land while children are NOT_STARTED.
            .args(["--start-cost-ms", "20", "--trace", trace.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // A few kills land in the setup (a delay from the spawn). The others land in the
        // removal itself, spread over its events: wait until the trace shows event k committed
        // (k random over a whole removal's ~46 events), then a few random milliseconds more.
        let during_setup = attempts <= SETUP_KILLS;
        if during_setup {
            sleep_unless_done(&mut child, Duration::from_millis(rng.u64(..150)));
        } else {
            let k = 1 + rng.u64(..46) as usize;
            let t0 = Instant::now();
            while child.try_wait().unwrap().is_none() && t0.elapsed() < Duration::from_secs(30) {
                let lines = std::fs::read_to_string(&trace).map_or(0, |t| t.lines().count());
                if lines >= k {
                    break;
                }
                std::thread::sleep(Duration::from_micros(300));
            }
            sleep_unless_done(&mut child, Duration::from_millis(rng.u64(..8)));
        }
        if let Some(st) = child.try_wait().unwrap() {
            assert!(st.success(), "the engine failed on its own: {st}");
            continue; // finished before the kill point: not a crash
        }
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        kills += 1;

        if !dir.join("engine.db").exists() {
            // Killed during setup: nothing to resume, and `run` can start over.
            in_setup += 1;
            let o = livemerge(&["resume", "--dir", d]);
            assert_eq!(o.status.code(), Some(2));
            assert!(String::from_utf8_lossy(&o.stderr).contains("not an engine directory"));
            let o = livemerge(&["run", "--dir", d, "--tick-ms", "10"]);
            assert_eq!(
                o.status.code(),
                Some(0),
                "{}",
                String::from_utf8_lossy(&o.stdout)
            );
            continue;
        }
        // Where the kill landed: how many events the killed engine had committed.
        let at = Db::open_read(&dir.join("engine.db"))
            .unwrap()
            .load()
            .unwrap()
            .seq;
        kill_points.push(at);
        let t = trace.to_str().unwrap();
        let o = livemerge(&["resume", "--dir", d, "--limit-secs", "20", "--trace", t]);
        let out = String::from_utf8_lossy(&o.stdout);
        let code = o.status.code();
        // 1: the removal ended with one of 4.0's known findings (a kill after VM.merge reached
        // the host leaves the host merged and the rows marked ILLEGAL; see docs/releases.md).
        assert!(
            code == Some(0) || code == Some(1) || code == Some(3),
            "kill at event {at}: resume exited {code:?}\n{out}{}",
            String::from_utf8_lossy(&o.stderr)
        );
        // Judge reality, not the engine's word.
        let obs = observe_dir(&dir).expect("the directory is readable after resume");
        let cfg = Db::open_read(&dir.join("engine.db"))
            .unwrap()
            .load()
            .unwrap()
            .settings
            .model_config();
        let known_4_0_findings = [
            properties::DB_AGREES_WHEN_IDLE,
            properties::RETRY_CAN_COMPLETE,
        ];
        for p in properties::all(&cfg) {
            if p.expectation == Expectation::Always && !known_4_0_findings.contains(&p.name) {
                assert!(
                    (p.holds)(&cfg, &obs.state),
                    "kill at event {at}: '{}' violated on the real DB and storage\n{out}",
                    p.name
                );
            }
        }
        for disk in 0..DISKS {
            assert!(
                reads(&dir, disk, 0xa0 + disk as u8, 0),
                "kill at event {at}: base data of disk {disk}\n{out}"
            );
            assert!(
                reads(&dir, disk, 0xb0 + disk as u8, 65536),
                "kill at event {at}: top data of disk {disk}\n{out}"
            );
        }
        assert_log_is_model_steps(&dir, State::initial(DISKS));
        let log = Db::open_read(&dir.join("engine.db"))
            .unwrap()
            .event_log()
            .unwrap();
        assert!(log.iter().filter(|r| r.event == Event::Restart).count() <= 1);
        // The trace, across the kill and the resume, conforms to the model step for step, and
        // the real rows and volumes match its last state.
        let a = livemerge(&["audit", t, "--dir", d]);
        let audit = format!(
            "{}{}",
            String::from_utf8_lossy(&a.stdout),
            String::from_utf8_lossy(&a.stderr)
        );
        // Every step conforms; a known 4.0 finding may be reported as a property violation.
        let only_known = code == Some(1)
            && known_4_0_findings
                .iter()
                .any(|p| audit.contains(&format!("violates always \"{p}\"")));
        assert!(
            a.status.code() == Some(0) || only_known,
            "kill at event {at}: audit: {audit}"
        );
        if code == Some(0) && obs.rows.snapshot.is_none() {
            ended += 1;
            assert!(
                obs.facts.iter().all(|f| !f.top_in_chain && !f.top_exists),
                "{out}"
            );
        } else if code == Some(0) {
            // A restart failed a grandchild or a child before its merge: a clean failure.
            failed_cleanly += 1;
            assert!(
                properties::removal_failed_cleanly(&cfg, &obs.state),
                "kill at event {at}: ended, kept the snapshot, but not cleanly\n{out}"
            );
        } else if code == Some(1) {
            failed_marked += 1;
            assert!(out.contains("removal ended"), "{out}");
        } else {
            stuck += 1;
            assert!(out.contains("removal did not end"), "{out}");
        }
    }
    kill_points.sort();
    eprintln!(
        "{kills} kills in {attempts} attempts: {in_setup} during setup, {ended} resumed to the end, {failed_cleanly} failed cleanly, {failed_marked} ended with rows marked ILLEGAL, {stuck} stuck (oVirt 4.0's EXECUTION_FAILED liveness bug); events committed at the kills: {kill_points:?}"
    );
    assert!(ended > 0, "some resumes must finish the removal");
}
