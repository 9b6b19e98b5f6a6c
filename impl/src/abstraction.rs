//! The abstraction function: from what is really there (the database's rows, storage's facts) to
//! a model [`State`], so the model's own property predicates can judge reality.
//!
//! Where each field of the abstract state comes from:
//!
//! | field | source |
//! |---|---|
//! | parent / child `status`, `executed`, `callbackNotified` | the command's row in `command_entities` (no row: `NoRow`) |
//! | child `step`, grandchild status | the row's `command_params` |
//! | `snapshot` | the `snapshots` row's status (no row: deleted) |
//! | disk in the snapshot | the `snapshots` row's `disk_ids` |
//! | `images` | the disk's rows in `images` (which volumes, `OK`/`ILLEGAL`, parent, active) |
//! | top in chain, top exists, base holds top's data, job running | storage ([`DiskFacts`]) |
//! | the rest: `begun`, `registered` (the poller's memory), `queued` (the pool's queue), `created`, restarts; `executed`/`callbackNotified`/step of a command whose row is gone | the engine's persisted model state: oVirt keeps these in memory only, or they went with a deleted row |
//! | `expired` (a command expired on the way: sticky, across retries) | the persisted state: an expired command's row reads `FAILED` like any failed one, so no row tells it (`State::observed` keeps the engine's memory of it) |
//!
//! A `Stranded` grandchild (a restart left its row ACTIVE with no thread, up to 3.6) is read
//! back from `command_params.grandchild` (`STRANDED`) like every other phase.
//!
//! Every field the safety properties read (snapshot row, disks in it, image rows, host facts)
//! comes from the real rows and storage; `idle` also reads rows and real jobs.

use crate::db::{Db, Layout, Rows};
use crate::error::{Error, Result};
use crate::storage::{DiskFacts, Host, Storage};
use livemerge_model::{
    ChildRow, CmdStatus, CommandRow, DiskObservation, Images, Observation, Snapshot, State, Step,
    Task,
};
use std::path::Path;

/// Maps rows and facts to a model state; `memory` supplies what oVirt only keeps in memory.
/// This reads the rows into an [`Observation`]; which state fields it decides is
/// [`State::observed`]'s business.
pub fn abstract_state(
    layout: &Layout,
    rows: &Rows,
    facts: &[DiskFacts],
    memory: &State,
) -> Result<State> {
    // Rows the engine cannot read, or a layout that does not match storage, mean a database
    // that is not (or no longer) what an engine wrote.
    observation(layout, rows, facts)
        .and_then(|o| State::observed(memory, &o))
        .map_err(Error::Db)
}

/// The rows and facts in the model's terms.
fn observation(
    layout: &Layout,
    rows: &Rows,
    facts: &[DiskFacts],
) -> std::result::Result<Observation, String> {
    let row = |id: &str| rows.commands.iter().find(|c| c.command_id == id);
    let parent = match row(&layout.parent_command_id) {
        Some(c) => Some(CommandRow {
            status: CmdStatus::from_ovirt_name(&c.status)
                .ok_or_else(|| format!("parent command has unknown status '{}'", c.status))?,
            executed: c.executed,
            notified: c.callback_notified,
        }),
        None => None,
    };
    let snapshot = match &rows.snapshot {
        None => Snapshot::Deleted,
        Some(r) => Snapshot::from_ovirt_name(&r.status)
            .ok_or_else(|| format!("snapshot row has unknown status '{}'", r.status))?,
    };
    if facts.len() != layout.disks.len() {
        return Err(format!(
            "storage has {} disk(s), the layout {}",
            facts.len(),
            layout.disks.len()
        ));
    }
    let mut disks = Vec::with_capacity(layout.disks.len());
    for (i, (ids, f)) in layout.disks.iter().zip(facts).enumerate() {
        let child = match row(&ids.child_command_id) {
            Some(c) => {
                let p = &c.command_params;
                Some(ChildRow {
                    row: CommandRow {
                        status: CmdStatus::from_ovirt_name(&c.status).ok_or_else(|| {
                            format!("disk-{}'s child has unknown status '{}'", i + 1, c.status)
                        })?,
                        executed: c.executed,
                        notified: c.callback_notified,
                    },
                    step: p["step"]
                        .as_str()
                        .and_then(Step::from_ovirt_name)
                        .ok_or_else(|| format!("disk-{}'s child has no readable step", i + 1))?,
                    task: p["grandchild"]
                        .as_str()
                        .and_then(Task::from_ovirt_name)
                        .ok_or_else(|| {
                            format!("disk-{}'s child has no readable grandchild", i + 1)
                        })?,
                })
            }
            None => None,
        };
        disks.push(DiskObservation {
            child,
            in_snapshot: rows
                .snapshot
                .as_ref()
                .map(|r| r.disk_ids.contains(&ids.disk_id)),
            images: images_of(rows, &ids.base_image, &ids.top_image)
                .ok_or_else(|| format!("disk-{}'s image rows describe no known chain", i + 1))?,
            top_in_chain: f.top_in_chain,
            top_exists: f.top_exists,
            base_has_top: f.base_has_top,
            job_running: f.job_running,
        });
    }
    Ok(Observation {
        parent,
        snapshot,
        disks,
    })
}

/// The chain a disk's image rows describe.
fn images_of(rows: &Rows, base: &str, top: &str) -> Option<Images> {
    let b = rows.images.iter().find(|r| r.image_guid == base)?;
    let t = rows.images.iter().find(|r| r.image_guid == top);
    if b.image_status != "OK" || b.parent_id.is_some() {
        return None;
    }
    match t {
        None if b.active => Some(Images::Merged),
        Some(t) if t.parent_id.as_deref() == Some(base) && t.active && !b.active => {
            match t.image_status.as_str() {
                "OK" => Some(Images::BaseAndTop),
                "ILLEGAL" => Some(Images::TopIllegal),
                _ => None,
            }
        }
        Some(t) if t.parent_id.is_none() && t.image_status == "ILLEGAL" && b.active => {
            Some(Images::MergedOrphan)
        }
        _ => None,
    }
}

/// Where two states differ, as `path: left vs right` lines (empty when equal).
pub fn discrepancies(left: &State, right: &State) -> Vec<String> {
    fn walk(path: &str, a: &serde_json::Value, b: &serde_json::Value, out: &mut Vec<String>) {
        use serde_json::Value::{Array, Object};
        match (a, b) {
            (Object(x), Object(y)) => {
                let mut keys: Vec<_> = x.keys().chain(y.keys()).collect();
                keys.sort();
                keys.dedup();
                for k in keys {
                    let n = serde_json::Value::Null;
                    walk(
                        &format!("{path}.{k}"),
                        x.get(k).unwrap_or(&n),
                        y.get(k).unwrap_or(&n),
                        out,
                    );
                }
            }
            (Array(x), Array(y)) if x.len() == y.len() && !x.iter().all(|v| v.is_string()) => {
                for (i, (u, v)) in x.iter().zip(y).enumerate() {
                    let name = if path.ends_with("disks") {
                        format!("{path}[disk-{}]", i + 1)
                    } else {
                        format!("{path}[{i}]")
                    };
                    walk(&name, u, v, out);
                }
            }
            _ if a != b => out.push(format!("{}: {a} vs {b}", path.trim_start_matches('.'))),
            _ => {}
        }
    }
    let mut out = Vec::new();
    let a = serde_json::to_value(left).expect("states serialize");
    let b = serde_json::to_value(right).expect("states serialize");
    walk("", &a, &b, &mut out);
    out
}

/// What is really there, and its abstraction.
#[derive(Clone, Debug)]
pub struct Observed {
    pub rows: Rows,
    pub facts: Vec<DiskFacts>,
    /// The engine's persisted model state (the last state it committed).
    pub persisted: State,
    /// [`abstract_state`] of the rows and facts.
    pub state: State,
}

/// Reads the rows and storage's facts and abstracts them.
pub fn observe(db: &Db, storage: &dyn Storage, layout: &Layout) -> Result<Observed> {
    let persisted = db.load()?.state;
    let rows = db.read_rows()?;
    let facts = (0..storage.disks())
        .map(|d| storage.facts(d))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(Error::from)?;
    let state = abstract_state(layout, &rows, &facts, &persisted)?;
    Ok(Observed {
        rows,
        facts,
        persisted,
        state,
    })
}

/// [`observe`] on an engine directory with qcow2 disks (no engine may be running on it).
pub fn observe_dir(dir: &Path) -> Result<Observed> {
    observe_removal(dir, 0)
}

/// [`observe_dir`] for removal `vm` of an engine directory that holds several (its rows, and
/// its disks under `vm-K/`).
pub fn observe_removal(dir: &Path, vm: u32) -> Result<Observed> {
    let path = crate::db::db_path(dir)?;
    let all = Db::open_read(&path)?;
    let vms = all.removals()?;
    let db = all.for_vm(vm);
    let p = db.load()?;
    let n = p.layout.disks.len();
    let dir = &crate::db::vm_dir(dir, vm, vms);
    if p.layout.host == Host::Live {
        let files = crate::storage::live::files::open_files(dir, n)?;
        return observe(&db, &files, &p.layout);
    }
    let storage = crate::storage::qcow2::Qcow2::open(dir, n)?;
    observe(&db, &storage, &p.layout)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::project;
    use livemerge_model::{successors, Config, Faults, Release};
    use std::collections::HashSet;

    /// Every state `cfg` reaches.
    fn reachable(cfg: &Config) -> Vec<State> {
        let s0 = State::initial(cfg.n());
        let mut seen = HashSet::from([s0]);
        let mut todo = vec![s0];
        while let Some(s) = todo.pop() {
            for (_, t) in successors(cfg, &s) {
                if seen.insert(t) {
                    todo.push(t);
                }
            }
        }
        seen.into_iter().collect()
    }

    /// The storage facts a state stands for.
    fn facts_of(s: &State, n: usize) -> Vec<DiskFacts> {
        (0..n)
            .map(|i| {
                let f = s.disk(i).flags();
                DiskFacts {
                    top_in_chain: f.top_in_chain(),
                    top_exists: f.top_exists(),
                    base_has_top: f.base_has_top(),
                    job_running: f.job_running(),
                }
            })
            .collect()
    }

    /// The rows of every reachable state, read back with that state as the engine's memory,
    /// abstract to the state itself: every grandchild phase (`STRANDED` included) survives the
    /// database, and so does the sticky `expired` flag, which no row holds.
    #[test]
    fn every_reachable_state_survives_its_rows_stranded_and_expired_included() {
        let (mut stranded, mut expired) = (0, 0);
        for release in Release::ALL {
            let cfg = Config {
                disks: 1,
                release,
                faults: Faults::ALL,
                restarts: 1,
                retries: 1,
                symmetry: false,
            };
            let layout = Layout::new(Host::Memory, 1, 7);
            for s in reachable(&cfg) {
                let back = abstract_state(&layout, &project(&s, &layout), &facts_of(&s, 1), &s)
                    .unwrap_or_else(|e| panic!("{release}: {e}"));
                assert_eq!(back, s, "{release}: {:?}", discrepancies(&back, &s));
                stranded += usize::from(s.disk(0).task() == Task::Stranded);
                expired += usize::from(s.parent().flags().expired());
            }
        }
        assert!(stranded > 0, "some release strands a grandchild");
        assert!(expired > 0, "some release expires a command");
    }
}
