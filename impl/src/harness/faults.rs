//! Fault plans: the outcome a model path gives each host call a backend makes, so that a replay
//! meets its path's faults on the attempts the path fails them.

use crate::storage::{FaultPlan, InjectedFaults};
use livemerge_model::{step, Config, Event, State};

/// The outcomes a path of events gives each disk's merge jobs, deletions and image queries,
/// in order (the model says which `TaskEnds` called `deleteVolume`, and which child's
/// `execute()` asks `GetImageInfo`).
pub fn of_path(cfg: &Config, events: &[Event]) -> InjectedFaults {
    let n = cfg.n();
    let mut plan = FaultPlan {
        merge: vec![Default::default(); n],
        delete: vec![Default::default(); n],
        image_info: vec![Default::default(); n],
    };
    let asks_host = livemerge_model::Rules::of(cfg.release).initial_step_asks_host;
    let mut s = State::initial(n);
    for &e in events {
        let Ok((t, transition)) = step(cfg, &s, e) else {
            break;
        };
        match e {
            Event::HostJobEnds(d) => plan.merge[d as usize].push_back(false),
            Event::HostJobFails(d) => plan.merge[d as usize].push_back(true),
            Event::DeleteVolumeFails(d) => plan.delete[d as usize].push_back(true),
            Event::TaskEnds(d) if transition.called_delete_volume() => {
                plan.delete[d as usize].push_back(false)
            }
            Event::ChildReturns(d) if asks_host => plan.image_info[d as usize].push_back(false),
            Event::ImageInfoFails(d) => plan.image_info[d as usize].push_back(true),
            _ => {}
        }
        s = t;
    }
    InjectedFaults {
        plan: Some(plan),
        ..InjectedFaults::default()
    }
}
