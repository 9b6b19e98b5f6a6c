//! The abstract system behind `check --disks any`: the reachable *views* of every number of disks,
//! computed as a fixpoint with the model's own [`step`].
//!
//! A view is the controller (the state with its disks blanked: parent, snapshot, counters) and a
//! multiset of at most K disks' local states (K = `--threshold`). The abstraction of a concrete
//! state with N disks is the set of its views; the abstraction of a set of states is the union.
//! A *configuration* of the abstraction is a small concrete state (the controller and at most
//! K + W disks, W = `--witnesses`) all of whose views are known; the fixpoint steps every
//! configuration with [`step`] and adds the views of every successor until nothing new appears.
//! `docs/any-disks.md` (*Why it covers every N*) argues why this covers every N.

use hashbrown::{HashMap, HashSet};
use livemerge_model::{properties, step, Config, Disk, Event, State, MAX_DISKS};
use rustc_hash::FxBuildHasher;
use std::time::Instant;

/// The largest view size `--threshold` accepts.
pub(crate) const MAX_THRESHOLD: usize = 3;

type Map<K, V> = HashMap<K, V, FxBuildHasher>;
type Set<K> = HashSet<K, FxBuildHasher>;

/// A view: a controller and a sorted multiset of local states, both by their index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct View {
    pub ctrl: u32,
    pub(crate) len: u8,
    pub(crate) disks: [u16; MAX_THRESHOLD],
}

impl View {
    pub fn locals(&self) -> &[u16] {
        &self.disks[..self.len as usize]
    }
}

/// A configuration the fixpoint stepped, and the view whose arrival made it complete.
#[derive(Clone, Debug)]
pub struct Configuration {
    pub state: State,
    pub n: usize,
    pub trigger: u32,
}

impl Configuration {
    /// The configuration with its disk at position `first` moved to the front (0: as stored).
    pub fn ordered(&self, first: u8) -> State {
        let mut disks = [Disk::default(); MAX_DISKS];
        disks[..self.n].copy_from_slice(self.state.disks(self.n));
        disks[..=first as usize].rotate_right(1);
        self.state.with_disks(&disks[..self.n])
    }
}

/// Where a view came from: `None` for the views of the initial states, else the configuration,
/// the disk order it was stepped in (see [`Configuration::ordered`]) and the event whose
/// successor has it (the event names the configuration's disk positions).
pub(crate) type Origin = Option<(u32, u8, Event)>;

/// An always-property violated by a configuration of the abstraction.
#[derive(Clone, Debug)]
pub struct AbstractViolation {
    pub configuration: u32,
}

/// The abstraction of one configuration (poller, faults, restarts) for every number of disks.
pub struct Abstraction {
    pub cfg: Config,
    pub threshold: usize,
    pub(crate) witnesses: usize,
    pub controllers: Vec<State>,
    ctrl_index: Map<State, u32>,
    pub locals: Vec<Disk>,
    local_index: Map<Disk, u16>,
    pub views: Vec<View>,
    pub origins: Vec<Origin>,
    view_index: Map<View, u32>,
    /// Per controller: the local states that appear in one of its views (sorted set).
    present: Vec<Vec<u16>>,
    pub configurations: Vec<Configuration>,
    done: Set<(u32, Vec<u16>)>,
    props: Vec<properties::Prop>,
    /// Per always- and eventually-property of `properties::all(cfg)`: the first configuration
    /// that violates it (an eventually-property: a terminal configuration that does not satisfy
    /// it, or one that shows its doom).
    pub violations: Vec<Option<AbstractViolation>>,
    pub(crate) steps: u64,
    pub(crate) seconds: f64,
}

/// Why the abstraction cannot be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooLarge(pub String);

/// Why a bounded build gave no abstraction: refused parameters, or the bound reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildError {
    Refused(TooLarge),
    /// `--max-memory` reached: no verdict (exit 3).
    Incomplete(String),
}

impl BuildError {
    fn into_too_large(self) -> TooLarge {
        match self {
            BuildError::Refused(t) => t,
            BuildError::Incomplete(why) => TooLarge(why),
        }
    }
}

impl From<TooLarge> for BuildError {
    fn from(t: TooLarge) -> BuildError {
        BuildError::Refused(t)
    }
}

impl std::fmt::Display for TooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The number of `x` among `items`, with whether it is new there (then added, numbered
/// `number(its position)`); `index` maps each item to its number.
fn intern<T: Copy + Eq + std::hash::Hash, I: Copy>(
    items: &mut Vec<T>,
    index: &mut Map<T, I>,
    x: T,
    number: impl FnOnce(usize) -> I,
) -> (I, bool) {
    if let Some(&i) = index.get(&x) {
        return (i, false);
    }
    let i = number(items.len());
    items.push(x);
    index.insert(x, i);
    (i, true)
}

/// The controller of a state: everything but its disks (which become `Disk::default()`).
pub fn controller(s: &State) -> State {
    s.with_disks(&[])
}

/// Every sub-multiset of positions `0..n` of size 1..=k, as position lists (increasing).
fn subsets(n: usize, k: usize, out: &mut Vec<Vec<usize>>) {
    out.clear();
    let mut cur = Vec::new();
    fn go(start: usize, n: usize, k: usize, cur: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
        if !cur.is_empty() {
            out.push(cur.clone());
        }
        if cur.len() == k {
            return;
        }
        for i in start..n {
            cur.push(i);
            go(i + 1, n, k, cur, out);
            cur.pop();
        }
    }
    go(0, n, k, &mut cur, out);
}

impl Abstraction {
    /// Builds the fixpoint for `cfg` (its `disks` is ignored) with views of `threshold` disks and
    /// configurations of up to `threshold + witnesses` disks.
    pub fn build(cfg: &Config, threshold: usize, witnesses: usize) -> Result<Self, TooLarge> {
        Self::build_within(cfg, threshold, witnesses, None).map_err(|e| e.into_too_large())
    }

    /// [`Abstraction::build`] that stops, incomplete, once it holds more than `max_memory_mib`.
    pub fn build_within(
        cfg: &Config,
        threshold: usize,
        witnesses: usize,
        max_memory_mib: Option<u64>,
    ) -> Result<Self, BuildError> {
        if !(1..=MAX_THRESHOLD).contains(&threshold) {
            return Err(TooLarge(format!(
                "--threshold must be between 1 and {MAX_THRESHOLD}, got {threshold}"
            ))
            .into());
        }
        if witnesses == 0 || threshold + witnesses > MAX_DISKS {
            return Err(TooLarge(format!(
                "--witnesses must be at least 1 and --threshold + --witnesses at most {MAX_DISKS} (a state holds {MAX_DISKS} disks), got {threshold} + {witnesses}"
            ))
            .into());
        }
        let start = Instant::now();
        let props = properties::all(cfg);
        let mut a = Abstraction {
            cfg: Config {
                symmetry: false,
                ..*cfg
            },
            threshold,
            witnesses,
            controllers: Vec::new(),
            ctrl_index: Map::default(),
            locals: Vec::new(),
            local_index: Map::default(),
            views: Vec::new(),
            origins: Vec::new(),
            view_index: Map::default(),
            present: Vec::new(),
            configurations: Vec::new(),
            done: Set::default(),
            violations: vec![None; props.len()],
            props,
            steps: 0,
            seconds: 0.0,
        };
        // The initial state of every N has the views of the initial state of N = 1..=K.
        let mut work = Vec::new();
        for n in 1..=threshold {
            a.add_views(&State::initial(n), n, None, &mut work);
        }
        let mut subs = Vec::new();
        let budget = max_memory_mib.map(crate::search::memory::Budget::new);
        let mut expanded = 0u64;
        while let Some(v) = work.pop() {
            a.expand(v, &mut subs, &mut work);
            expanded += 1;
            if expanded.is_multiple_of(1024) {
                if let Some(b) = budget.filter(|b| b.exceeded()) {
                    return Err(BuildError::Incomplete(format!(
                        "{} after {} configurations: the abstraction is incomplete, no verdict",
                        b.reason(),
                        a.configurations.len()
                    )));
                }
            }
        }
        a.seconds = start.elapsed().as_secs_f64();
        Ok(a)
    }

    fn ctrl_id(&mut self, c: State) -> u32 {
        let (i, new) = intern(&mut self.controllers, &mut self.ctrl_index, c, |n| n as u32);
        if new {
            self.present.push(Vec::new());
        }
        i
    }

    fn local_id(&mut self, d: Disk) -> u16 {
        intern(&mut self.locals, &mut self.local_index, d, |n| n as u16).0
    }

    /// Adds the views of `s` (its first `n` disks); new ones go on the work list.
    fn add_views(&mut self, s: &State, n: usize, origin: Origin, work: &mut Vec<u32>) {
        let ctrl = self.ctrl_id(controller(s));
        let ids: Vec<u16> = s.disks(n).iter().map(|d| self.local_id(*d)).collect();
        let mut subs = Vec::new();
        subsets(n, self.threshold, &mut subs);
        for sub in &subs {
            let mut disks = [0u16; MAX_THRESHOLD];
            for (j, &p) in sub.iter().enumerate() {
                disks[j] = ids[p];
            }
            disks[..sub.len()].sort_unstable();
            let v = View {
                ctrl,
                len: sub.len() as u8,
                disks,
            };
            if self.view_index.contains_key(&v) {
                continue;
            }
            let i = self.views.len() as u32;
            self.views.push(v);
            self.origins.push(origin);
            self.view_index.insert(v, i);
            if v.len == 1 {
                let p = &mut self.present[ctrl as usize];
                if let Err(at) = p.binary_search(&v.disks[0]) {
                    p.insert(at, v.disks[0]);
                }
            }
            work.push(i);
        }
    }

    /// Whether every sub-multiset of `m` of size 1..=K is a known view of `ctrl`.
    fn complete(&self, ctrl: u32, m: &[u16], subs: &mut Vec<Vec<usize>>) -> bool {
        subsets(m.len(), self.threshold, subs);
        subs.iter().all(|sub| {
            let mut disks = [0u16; MAX_THRESHOLD];
            for (j, &p) in sub.iter().enumerate() {
                disks[j] = m[p];
            }
            disks[..sub.len()].sort_unstable();
            self.view_index.contains_key(&View {
                ctrl,
                len: sub.len() as u8,
                disks,
            })
        })
    }

    /// Steps every configuration that contains view `v` and whose views are all known.
    fn expand(&mut self, v: u32, subs: &mut Vec<Vec<usize>>, work: &mut Vec<u32>) {
        let view = self.views[v as usize];
        let max = self.threshold + self.witnesses;
        let present = self.present[view.ctrl as usize].clone();
        // Extra local states, as a non-decreasing sequence of indices into `present`.
        let mut extra: Vec<usize> = Vec::new();
        loop {
            let mut m: Vec<u16> = view.locals().to_vec();
            m.extend(extra.iter().map(|&i| present[i]));
            m.sort_unstable();
            if self.complete(view.ctrl, &m, subs) && self.done.insert((view.ctrl, m.clone())) {
                self.step_configuration(view.ctrl, &m, v, work);
            }
            // Next multiset of extras: grow while below the bound, else advance the last index.
            if present.is_empty() {
                break;
            }
            if view.len as usize + extra.len() < max {
                extra.push(extra.last().copied().unwrap_or(0));
                continue;
            }
            loop {
                match extra.last_mut() {
                    None => return,
                    Some(last) if *last + 1 < present.len() => {
                        *last += 1;
                        break;
                    }
                    Some(_) => {
                        extra.pop();
                    }
                }
            }
        }
    }

    /// Checks the properties on one configuration and adds the views of its successors.
    fn step_configuration(&mut self, ctrl: u32, m: &[u16], trigger: u32, work: &mut Vec<u32>) {
        let n = m.len();
        let mut disks = [Disk::default(); MAX_DISKS];
        for (slot, &id) in disks.iter_mut().zip(m) {
            *slot = self.locals[id as usize];
        }
        let s = self.controllers[ctrl as usize].with_disks(&disks[..n]);
        let cfg = Config {
            disks: n as u8,
            ..self.cfg
        };
        let id = self.configurations.len() as u32;
        let conf = Configuration {
            state: s,
            n,
            trigger,
        };
        for (k, p) in self.props.iter().enumerate() {
            if p.expectation == properties::Expectation::Always
                && self.violations[k].is_none()
                && !(p.holds)(&cfg, &s)
            {
                self.violations[k] = Some(AbstractViolation { configuration: id });
            }
        }
        // A rule that picks "the first disk such that ..." (the parent starts children in disk
        // order) may pick any disk of a larger state: every distinct local state goes first once.
        let orders: Vec<u8> = (0..n)
            .filter(|&p| p == 0 || m[p] != m[p - 1])
            .map(|p| p as u8)
            .collect();
        let mut succ = Vec::new();
        for e in Event::candidates(n) {
            match e.disk() {
                // Identical disks give identical successors up to their order.
                Some(d) if d > 0 && m[d] == m[d - 1] => {}
                Some(_) => succ.extend(step(&cfg, &s, e).ok().map(|(s, _)| s).map(|t| (t, 0, e))),
                None => {
                    for &o in &orders {
                        let before = conf.ordered(o);
                        succ.extend(
                            step(&cfg, &before, e)
                                .ok()
                                .map(|(s, _)| s)
                                .map(|t| (t, o, e)),
                        );
                    }
                }
            }
        }
        // A configuration with no successor is terminal: an eventually-property it does not
        // satisfy there (or whose doom it already shows) is violated by it (see the module's
        // comment for why a terminal state of any N has such a sub-configuration).
        let terminal = succ.is_empty();
        for (k, p) in self.props.iter().enumerate() {
            if p.expectation == properties::Expectation::Eventually
                && self.violations[k].is_none()
                && p.witnessed(&cfg, &s, terminal)
            {
                self.violations[k] = Some(AbstractViolation { configuration: id });
            }
        }
        self.configurations.push(conf);
        self.steps += succ.len() as u64;
        for (t, o, e) in succ {
            self.add_views(&t, n, Some((id, o, e)), work);
        }
    }

    /// The number of configurations stepped.
    pub fn configuration_count(&self) -> usize {
        self.configurations.len()
    }

    /// Whether every view of `s` (first `n` disks) is in the abstraction: `s` is covered.
    pub fn covers(&self, s: &State, n: usize) -> bool {
        let Some(&ctrl) = self.ctrl_index.get(&controller(s)) else {
            return false;
        };
        let mut ids = Vec::with_capacity(n);
        for d in s.disks(n) {
            match self.local_index.get(d) {
                Some(&i) => ids.push(i),
                None => return false,
            }
        }
        let mut subs = Vec::new();
        self.complete(ctrl, &ids, &mut subs)
    }

    /// The chain of configurations that led to configuration `c`: each one's trigger view was
    /// produced by the previous one's event. First element: a configuration of initial views.
    /// Each element: a configuration, and the order and event that lead on to the next one.
    pub fn derivation(&self, c: u32) -> Vec<(u32, Option<(u8, Event)>)> {
        let mut chain = vec![(c, None)];
        let mut cur = c;
        while let Some((prev, o, e)) =
            self.origins[self.configurations[cur as usize].trigger as usize]
        {
            chain.push((prev, Some((o, e))));
            cur = prev;
            if chain.len() > self.configurations.len() {
                break;
            }
        }
        chain.reverse();
        chain
    }
}
