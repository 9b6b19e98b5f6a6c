//! The breadth-first search as it was before fingerprints (it stores every state in full), kept
//! as the reference that the lean search in `search::bfs` must agree with: the same unique
//! states, verdicts and counterexample lengths. It ignores every limit but the thread count.

use hashbrown::HashTable;
use livemerge_checks::search::{verdict, Finding, SearchLimits, SearchOutcome};
use livemerge_model::properties::{self, Expectation, Prop};
use livemerge_model::{successors, Config, Event, LiveMerge, State};
use rustc_hash::FxBuildHasher;
use std::hash::BuildHasher;
use std::time::Instant;

const NONE: u32 = u32::MAX;

/// The visited states, each with how it was first reached.
struct Store {
    states: Vec<State>,
    parent: Vec<u32>,
    event: Vec<Event>,
    index: HashTable<u32>,
    hasher: FxBuildHasher,
}

impl Store {
    fn path_to(&self, mut i: u32) -> Vec<Event> {
        let mut events = Vec::new();
        while self.parent[i as usize] != NONE {
            events.push(self.event[i as usize]);
            i = self.parent[i as usize];
        }
        events.reverse();
        events
    }

    /// Inserts `s` unless it is known; returns whether it was new.
    fn insert(&mut self, hash: u64, s: State, parent: u32, event: Event) -> bool {
        let states = &self.states;
        if self
            .index
            .find(hash, |&i| states[i as usize] == s)
            .is_some()
        {
            return false;
        }
        let i = self.states.len() as u32;
        let hasher = &self.hasher;
        let states = &self.states;
        self.index.insert_unique(hash, i, |&j| {
            if j == i {
                hasher.hash_one(s)
            } else {
                hasher.hash_one(states[j as usize])
            }
        });
        self.states.push(s);
        self.parent.push(parent);
        self.event.push(event);
        true
    }
}

/// What one worker found in its slice of a level.
#[derive(Default)]
struct Chunk {
    succ: Vec<(u64, u32, Event, State)>,
    generated: u64,
    /// Per property, the first state index in this slice that is a witness.
    witness: Vec<Option<u32>>,
}

fn expand(
    cfg: &Config,
    props: &[Prop],
    states: &[State],
    lo: usize,
    hi: usize,
    hasher: &FxBuildHasher,
    model: &LiveMerge,
) -> Chunk {
    let mut c = Chunk {
        witness: vec![None; props.len()],
        ..Chunk::default()
    };
    for (i, s) in states[lo..hi].iter().enumerate() {
        let idx = (lo + i) as u32;
        let mut terminal = true;
        for (e, t) in successors(cfg, s) {
            terminal = false;
            let t = model.representative(t);
            c.generated += 1;
            c.succ.push((hasher.hash_one(t), idx, e, t));
        }
        for (k, p) in props.iter().enumerate() {
            if c.witness[k].is_some() {
                continue;
            }
            let holds = (p.holds)(cfg, s);
            let witness = match p.expectation {
                Expectation::Always => !holds,
                Expectation::Sometimes => holds,
                // The model is acyclic (a test checks it) and "removal ended" is stable, so
                // "eventually" fails exactly on a terminal state where it does not hold, or on a
                // state from which every end breaks it (a command expired).
                Expectation::Eventually => {
                    terminal && !holds || p.doomed.is_some_and(|doomed| doomed(cfg, s))
                }
            };
            if witness {
                c.witness[k] = Some(idx);
            }
        }
    }
    c
}

/// Runs the search to completion or to a limit.
pub fn run(cfg: &Config, limits: &SearchLimits) -> SearchOutcome {
    let start = Instant::now();
    let model = LiveMerge::new(*cfg);
    let props = properties::all(cfg);
    let threads = limits.threads.max(1);
    let mut store = Store {
        states: Vec::new(),
        parent: Vec::new(),
        event: Vec::new(),
        index: HashTable::new(),
        hasher: FxBuildHasher,
    };
    let init = model.representative(State::initial(cfg.n()));
    store.insert(store.hasher.hash_one(init), init, NONE, Event::ParentBegins);
    let mut witness: Vec<Option<u32>> = vec![None; props.len()];
    let mut generated = 1u64;
    let mut depth = 0u64;
    let mut lo = 0usize;
    let stopped_by: Option<String> = None;

    while lo < store.states.len() {
        let hi = store.states.len();
        let chunks: Vec<Chunk> = {
            let states = &store.states;
            let hasher = &store.hasher;
            let (props, model) = (&props, &model);
            let per = (hi - lo).div_ceil(threads);
            std::thread::scope(|scope| {
                let handles: Vec<_> = (0..threads)
                    .map(|t| (lo + t * per, (lo + (t + 1) * per).min(hi)))
                    .filter(|(a, b)| a < b)
                    .map(|(a, b)| {
                        scope.spawn(move || expand(cfg, props, states, a, b, hasher, model))
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().expect("worker panicked"))
                    .collect()
            })
        };
        // Chunks are in index order, so the first witness seen is the lowest index in the level.
        for c in &chunks {
            for (k, w) in c.witness.iter().enumerate() {
                if witness[k].is_none() {
                    witness[k] = *w;
                }
            }
        }
        for c in chunks {
            generated += c.generated;
            for (h, p, e, t) in c.succ {
                store.insert(h, t, p, e);
            }
        }
        lo = hi;
        if store.states.len() > lo {
            depth += 1;
        }
    }
    let complete = stopped_by.is_none();
    let findings = props
        .iter()
        .zip(&witness)
        .map(|(p, w)| Finding {
            prop: *p,
            verdict: verdict(p.expectation, w.is_some(), complete),
            path: w.map(|i| store.path_to(i)),
        })
        .collect();
    SearchOutcome {
        strategy: "bfs",
        threads,
        generated,
        unique: store.states.len() as u64,
        walks: None,
        max_depth: depth,
        seconds: start.elapsed().as_secs_f64(),
        complete,
        stopped_by,
        findings,
        collision_probability: None,
    }
}
