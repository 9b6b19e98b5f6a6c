//! Auditing an engine trace against the model. A trace (the JSON lines `livemerge run --trace`
//! writes, see `impl/src/trace.rs`) conforms when: its first state is the configuration's initial
//! state; each record's `before` is the previous record's `after`; each event is enabled in its
//! `before` state; each `after` is exactly what `model::step` gives; and every always-property
//! holds in every state. Every other field of a record is checked too: `seq` runs 1, 2, 3, ...;
//! `t_ms` never decreases between two headers (and is 0 in a record backfilled from the event
//! log); `source` is the model's actor of that event (`Event::actor`, by its name; an older
//! engine's names are read too), or, for a record backfilled from the event log, `event_log`,
//! and then `logged_source` is; `db` is exactly the projection of `after` onto the
//! rows of the header's layout; `storage` has one entry per disk (its content is informational:
//! `audit --dir` checks the real end state). A record with any other field is malformed. The
//! first line that breaks one of these is reported with its number.
//! Separately, the first state where an always-property breaks is a violation: the engine may
//! follow the model faithfully into one (a buggy poller), so the audit goes on checking
//! conformance after it.
//!
//! A line of the form `{"livemerge_trace": 1, "configuration": {...}, "layout": {...}}` (1 is
//! `livemerge_impl::trace::TRACE_FORMAT`, the version read; `trace::parse_header` reads it) names the
//! configuration and the engine directory's ids (the engine writes one when a trace file is
//! opened, so a `resume` adds one too; they must all agree). With `--dir`, both must be that
//! directory's (its database's settings and layout). Without a header, the caller supplies the
//! configuration and `db` cannot be checked (no ids). Flags that contradict the header are an
//! error, not silently ignored.

use livemerge_impl::db::{project, Layout};
use livemerge_impl::trace::{self, ReadRecord, BACKFILL};
use livemerge_model::properties::{self, Expectation};
use livemerge_model::{describe_event, step, Actor, Config, Event, Release, State};
use std::io::BufRead;

/// Why an audit could not even start (exit 2), as opposed to a divergence (exit 1).
#[derive(Debug, PartialEq)]
pub struct Unreadable(pub String);

/// The first line where the trace departs from the model.
#[derive(Debug, PartialEq)]
pub(crate) struct Divergence {
    pub(crate) line: usize,
    pub(crate) message: String,
}

/// What an audit found.
#[derive(Debug, PartialEq)]
pub struct Audit {
    pub(crate) config: Config,
    /// Steps checked before the end or the divergence.
    pub(crate) steps: usize,
    pub(crate) last: Option<State>,
    pub(crate) divergence: Option<Divergence>,
    /// The first line whose state breaks an always-property (while conforming up to there).
    pub(crate) violation: Option<Divergence>,
}

/// What the auditor is told besides the trace.
#[derive(Clone, Debug, Default)]
pub struct Expect {
    /// The configuration of a trace that names none.
    pub fallback: Option<Config>,
    /// `--disks` / `--poller` as given: a header that says otherwise is an error.
    pub disks: Option<u8>,
    pub release: Option<Release>,
    /// The engine directory's configuration and layout (`--dir`): every header must name them.
    pub dir: Option<(Config, Layout)>,
    /// Judge the always-properties too (off: conformance alone).
    pub invariants: bool,
}

/// Whether an engine from before the actors were one vocabulary named `event`'s thread `name`:
/// it called the thread of a grandchild's `execute()` (VM.merge included) `pool`, and the end of
/// an EXECUTION_FAILED grandchild by its own callback `poller`. Its traces still audit.
fn older_name(name: &str, event: Event) -> bool {
    match name {
        "pool" => matches!(
            event,
            Event::GrandchildPicksUp(_)
                | Event::MergeReachesHost(_)
                | Event::MergeRefused(_)
                | Event::GrandchildReturns(_)
        ),
        "poller" => matches!(event, Event::TaskEnds(_)),
        _ => false,
    }
}

/// The first difference between two states, as `path: recorded vs model`.
fn state_difference(recorded: &State, model: &State) -> String {
    livemerge_impl::abstraction::discrepancies(recorded, model)
        .into_iter()
        .next()
        .map(|d| format!("{d} (trace vs model)"))
        .unwrap_or_else(|| "the states differ".to_string())
}

/// Audits trace lines from `input`. `config` is used when the trace names none.
pub fn audit(input: impl BufRead, config: Option<Config>) -> Result<Audit, Unreadable> {
    audit_with(input, config, true)
}

/// [`audit`], optionally without judging the invariants: conformance alone (an engine that
/// faithfully follows a buggy poller into a violation still conforms).
pub(crate) fn audit_with(
    input: impl BufRead,
    config: Option<Config>,
    invariants: bool,
) -> Result<Audit, Unreadable> {
    audit_expect(
        input,
        &Expect {
            fallback: config,
            invariants,
            ..Expect::default()
        },
    )
}

/// Whether `named`, a record's source (or a backfilled record's `logged_source`), is the model's
/// actor of `event`; why not, if it is not.
fn source_fits(named: &str, event: Event) -> Result<(), String> {
    let Some(actor) = Actor::from_name(named) else {
        let names: Vec<&str> = Actor::ALL.iter().map(|a| a.name()).collect();
        return Err(format!(
            "source \"{named}\" is not one of {}, {BACKFILL}",
            names.join(", ")
        ));
    };
    let want = event.actor();
    if actor != want && !older_name(named, event) {
        let ev = serde_json::to_string(&event).unwrap_or_default();
        return Err(format!(
            "source \"{named}\" cannot produce {ev} (only {want} does)"
        ));
    }
    Ok(())
}

/// Why a record's own fields (not its states) are wrong, if they are.
fn record_fields(
    r: &ReadRecord,
    c: &Config,
    layout: Option<&Layout>,
    seq: u64,
    t_ms: u64,
) -> Option<String> {
    if r.seq != seq {
        return Some(format!(
            "seq {} where {seq} comes next (records are numbered 1, 2, 3, ...)",
            r.seq
        ));
    }
    let backfilled = r.source == BACKFILL;
    let named = if backfilled {
        match &r.logged_source {
            Some(l) => l.as_str(),
            None => return Some("a backfilled record without logged_source".into()),
        }
    } else {
        if r.logged_source.is_some() {
            return Some("logged_source in a record that is not backfilled".into());
        }
        r.source.as_str()
    };
    if let Err(why) = source_fits(named, r.event) {
        return Some(why);
    }
    if backfilled {
        if r.t_ms != 0 {
            return Some(format!("a backfilled record with t_ms {} (not 0)", r.t_ms));
        }
        if !r.db.is_null() || !r.storage.is_null() {
            return Some("a backfilled record with db or storage facts".into());
        }
        return None;
    }
    if r.t_ms < t_ms {
        return Some(format!(
            "t_ms {} goes back in time (the previous record says {t_ms})",
            r.t_ms
        ));
    }
    if let Some(l) = layout {
        let want = serde_json::to_value(project(&r.after, l)).unwrap_or_default();
        if r.db != want {
            return Some(
                "db is not the rows of the state after (db::project of after onto the layout)"
                    .into(),
            );
        }
    } else if !r.db.is_object() {
        return Some("db is not an object of rows".into());
    }
    let disks_ok = r
        .storage
        .get("disks")
        .and_then(|d| d.as_array())
        .is_some_and(|d| d.len() == c.n());
    if !disks_ok || r.storage.get("observed").is_none() {
        return Some(format!(
            "storage is not {{\"disks\": [one entry per disk ({})], \"observed\": ...}}",
            c.n()
        ));
    }
    None
}

/// Audits trace lines from `input` with everything the caller knows (see [`Expect`]).
pub fn audit_expect(input: impl BufRead, expect: &Expect) -> Result<Audit, Unreadable> {
    let mut a = Auditor::new(expect);
    for (i, line) in input.split(b'\n').enumerate() {
        let n = i + 1;
        let line = line.map_err(|e| Unreadable(format!("cannot read the trace: {e}")))?;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let value = a.json(n, &line)?;
        let judged = if trace::is_header(&value) {
            a.header(n, value)
        } else {
            a.record(n, value)
        };
        match judged {
            Ok(()) => {}
            Err(Stop::Unreadable(u)) => return Err(u),
            Err(Stop::Diverged { config, message }) => return Ok(a.diverged(config, n, message)),
        }
    }
    a.finish()
}

/// Why the audit stops at a line: the input cannot be judged there, or it departs from the
/// model (the audit's configuration at that point, and why).
enum Stop {
    Unreadable(Unreadable),
    Diverged { config: Config, message: String },
}

impl From<Unreadable> for Stop {
    fn from(u: Unreadable) -> Stop {
        Stop::Unreadable(u)
    }
}

fn diverged(config: Config, message: impl Into<String>) -> Stop {
    Stop::Diverged {
        config,
        message: message.into(),
    }
}

/// An audit in progress: what the lines read so far established.
struct Auditor<'e> {
    expect: &'e Expect,
    /// The configuration: the first header's, else the caller's fallback.
    cfg: Option<Config>,
    /// The layout the headers named.
    layout: Option<Layout>,
    /// The state after the last record.
    prev: Option<State>,
    steps: usize,
    /// A header or a record was read (a line before one that is not a trace is unreadable).
    seen_line: bool,
    /// The `seq` the next record must have.
    seq: u64,
    /// The last record's `t_ms` since the last header.
    t_ms: u64,
    /// The always-properties (judged with `expect.invariants`), once a configuration is known.
    props: Vec<properties::Prop>,
    violation: Option<Divergence>,
}

impl<'e> Auditor<'e> {
    fn new(expect: &'e Expect) -> Self {
        Auditor {
            expect,
            cfg: expect.fallback,
            layout: None,
            prev: None,
            steps: 0,
            seen_line: false,
            seq: 1,
            t_ms: 0,
            props: Vec::new(),
            violation: None,
        }
    }

    /// Line `n` as JSON: a line that is not JSON cannot be judged, the input is unreadable there.
    fn json(&self, n: usize, line: &[u8]) -> Result<serde_json::Value, Unreadable> {
        serde_json::from_slice(line).map_err(|e| {
            if !self.seen_line {
                Unreadable(format!("line {n}: not a livemerge trace ({e})"))
            } else {
                let what = if e.is_eof() { "truncated" } else { "not JSON" };
                Unreadable(format!("line {n}: {what} ({e})"))
            }
        })
    }

    /// A header: checked against the flags, `--dir` and the earlier headers, then it names the
    /// configuration and layout of the records after it.
    fn header(&mut self, n: usize, value: serde_json::Value) -> Result<(), Stop> {
        let h = trace::parse_header(value).map_err(|e| Unreadable(format!("line {n}: {e}")))?;
        header_against_flags(self.expect, &h, n)?;
        let hc = Config {
            symmetry: false,
            ..h.configuration
        };
        let here = self.cfg.unwrap_or(hc);
        let why = header_against_dir(self.expect, hc, &h).or_else(|| self.header_changes(&h));
        if let Some(message) = why {
            return Err(diverged(here, message));
        }
        match self.cfg {
            Some(c) if self.seen_line && c != hc => {
                return Err(diverged(
                    c,
                    format!("the configuration changes to ({})", h.configuration),
                ));
            }
            _ => self.cfg = Some(hc),
        }
        if h.layout.is_some() {
            self.layout = h.layout;
        }
        // A new engine process: its clock starts again.
        self.t_ms = 0;
        self.seen_line = true;
        Ok(())
    }

    /// What a header changes in the layout the earlier ones named, if it may not.
    fn header_changes(&self, h: &trace::Header) -> Option<String> {
        if let (Some(old), Some(new)) = (&self.layout, &h.layout) {
            if old != new {
                return Some(format!(
                    "the layout changes (VM {} to VM {}): two engines' traces in one file",
                    old.vm_id, new.vm_id
                ));
            }
        }
        if self.seen_line && self.layout.is_some() && h.layout.is_none() {
            return Some("a header without the layout the earlier one named".into());
        }
        None
    }

    /// A record: its step checked against the model, its fields against the header's.
    fn record(&mut self, n: usize, value: serde_json::Value) -> Result<(), Stop> {
        let c = self.cfg.ok_or_else(|| {
            Unreadable(
                "the trace names no configuration: give --poller (and --disks) for it".into(),
            )
        })?;
        if self.expect.dir.is_some() && self.layout.is_none() {
            return Err(diverged(c, "a record before any header naming the engine directory: the trace cannot be tied to --dir"));
        }
        let record: ReadRecord = serde_json::from_value(value).map_err(|e| {
            if !self.seen_line {
                Unreadable(format!("line {n}: not a livemerge trace record ({e})"))
            } else {
                Unreadable(format!("line {n}: malformed record ({e})"))
            }
        })?;
        if self.layout.as_ref().is_some_and(|l| l.disks.len() != c.n()) {
            return Err(diverged(
                c,
                "the header's layout and configuration disagree on the disks",
            ));
        }
        self.seen_line = true;
        if self.props.is_empty() && self.expect.invariants {
            self.props = properties::all(&c)
                .into_iter()
                .filter(|p| p.expectation == Expectation::Always)
                .collect();
        }
        let after = self.step(&c, &record).map_err(|why| diverged(c, why))?;
        if let Some(why) = record_fields(&record, &c, self.layout.as_ref(), self.seq, self.t_ms) {
            return Err(diverged(c, why));
        }
        self.seq += 1;
        if record.source != BACKFILL {
            self.t_ms = record.t_ms;
        }
        self.steps += 1;
        self.prev = Some(after);
        if self.violation.is_none() {
            if let Some(p) = self.props.iter().find(|p| !(p.holds)(&c, &after)) {
                self.violation = Some(Divergence {
                    line: n,
                    message: format!("violates always \"{}\"", p.name),
                });
            }
        }
        Ok(())
    }

    /// The record's step as the model takes it: its `before` follows on from the previous
    /// record, its event is enabled there, and its `after` is what `step` gives.
    fn step(&self, c: &Config, record: &ReadRecord) -> Result<State, String> {
        let expected_before = self.prev.unwrap_or_else(|| State::initial(c.n()));
        if record.before != expected_before {
            let what = if self.prev.is_none() {
                "the first state is not the configuration's initial state"
            } else {
                "the state before differs from the previous line's state after"
            };
            let d = state_difference(&record.before, &expected_before);
            return Err(format!("{what}: {d}"));
        }
        let (after, _) = step(c, &record.before, record.event).map_err(|r| {
            format!(
                "event {} ({}) is not enabled in the recorded state: {r}",
                serde_json::to_string(&record.event).unwrap_or_default(),
                describe_event(record.event)
            )
        })?;
        if record.after != after {
            let d = state_difference(&record.after, &after);
            return Err(format!(
                "the state after is not what model::step gives: {d}"
            ));
        }
        Ok(after)
    }

    /// The audit stopped at line `line`, which departs from the model.
    fn diverged(self, config: Config, line: usize, message: String) -> Audit {
        Audit {
            config,
            steps: self.steps,
            last: self.prev,
            divergence: Some(Divergence { line, message }),
            violation: self.violation,
        }
    }

    /// The end of the input: every record conformed.
    fn finish(self) -> Result<Audit, Unreadable> {
        match self.cfg {
            Some(c) if self.seen_line => Ok(Audit {
                config: c,
                steps: self.steps,
                last: self.prev,
                divergence: None,
                violation: self.violation,
            }),
            _ => Err(Unreadable("empty trace".into())),
        }
    }
}

/// A header the flags contradict, or one whose configuration no engine runs (exit 2).
fn header_against_flags(expect: &Expect, h: &trace::Header, n: usize) -> Result<(), Unreadable> {
    // The engine steps with unbounded restarts, so only the disk count is checked.
    if crate::bounds::disk_count(h.configuration.disks).is_err() {
        return Err(Unreadable(format!(
            "line {n}: bad configuration: {} disks",
            h.configuration.disks
        )));
    }
    if let Some(d) = expect.disks.filter(|d| *d != h.configuration.disks) {
        return Err(Unreadable(format!(
            "--disks {d} disagrees with the trace's header (line {n}: {} disk(s)); leave it out",
            h.configuration.disks
        )));
    }
    if let Some(p) = expect.release.filter(|p| *p != h.configuration.release) {
        return Err(Unreadable(format!(
            "--release {p} disagrees with the trace's header (line {n}: release {}); leave it out",
            h.configuration.release
        )));
    }
    Ok(())
}

/// Why a header is not the engine directory's (`--dir`), if it is not; `hc` is its
/// configuration as the engine steps it.
fn header_against_dir(expect: &Expect, hc: Config, h: &trace::Header) -> Option<String> {
    let (dc, dl) = expect.dir.as_ref()?;
    if *dc != hc {
        return Some(format!(
            "the header's configuration ({hc}) is not the engine directory's ({dc})"
        ));
    }
    match &h.layout {
        None => Some(
            "the header names no engine directory (no layout): it cannot be tied to --dir".into(),
        ),
        Some(l) if l != dl => Some(format!(
            "the trace belongs to another engine directory (its header names VM {}, the directory's database VM {})",
            l.vm_id, dl.vm_id
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_is_the_events_actor_by_its_name_or_an_older_engines() {
        for e in Event::candidates(2) {
            let actor = e.actor();
            assert_eq!(source_fits(actor.name(), e), Ok(()), "{e:?}");
            for other in Actor::ALL.into_iter().filter(|a| *a != actor) {
                let older = matches!(
                    (other, e),
                    (
                        Actor::Pool,
                        Event::GrandchildPicksUp(_)
                            | Event::MergeReachesHost(_)
                            | Event::MergeRefused(_)
                            | Event::GrandchildReturns(_)
                    ) | (Actor::Poller, Event::TaskEnds(_))
                );
                let got = source_fits(other.name(), e);
                assert_eq!(got.is_ok(), older, "{other:?} for {e:?}: {got:?}");
                if let Err(why) = got {
                    assert!(why.contains("cannot produce"), "{why}");
                    assert!(why.contains(&format!("only {actor} does")), "{why}");
                }
            }
        }
        // An older engine's names for the grandchild's worker and the restart.
        assert_eq!(source_fits("task", Event::TaskEnds(1)), Ok(()));
        assert_eq!(source_fits("task", Event::DeleteVolumeFails(0)), Ok(()));
        assert_eq!(source_fits("resume", Event::Restart), Ok(()));
        assert!(source_fits("task", Event::PollChild(0)).is_err());
        assert!(source_fits("resume", Event::UserRetries).is_err());
        let unknown = source_fits("martian", Event::ParentBegins).unwrap_err();
        assert!(
            unknown.contains("source \"martian\" is not one of"),
            "{unknown}"
        );
        assert!(
            unknown.contains("grandchild") && unknown.contains("event_log"),
            "{unknown}"
        );
        assert!(source_fits(BACKFILL, Event::ParentBegins).is_err());
    }
}
