//! Symmetry reduction over disks. Disks are interchangeable (the parent's loop order aside, which
//! only ever picks among identical unstarted disks), so a state and any permutation of its disks
//! behave alike. The canonical representative sorts the disks; the checker stores only those.
//!
//! stateright 0.31 applies its own `symmetry()` in DFS only; handing it canonical states from
//! `next_state` makes the reduction work in every search, ours included. A counterexample found
//! on canonical states names canonical disk positions: [`Permutation`] maps them back.

use crate::config::MAX_DISKS;
use crate::state::State;

/// `canonical.disks[i] == concrete.disks[perm.0[i]]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Permutation(pub [u8; MAX_DISKS]);

impl Permutation {
    pub fn identity() -> Permutation {
        let mut p = [0u8; MAX_DISKS];
        for (i, v) in p.iter_mut().enumerate() {
            *v = i as u8;
        }
        Permutation(p)
    }

    /// The concrete disk behind canonical position `i`.
    pub fn concrete(&self, i: usize) -> usize {
        self.0[i] as usize
    }
}

/// The canonical representative of `s` (first `n` disks sorted) and the permutation used.
pub fn canonicalize(s: &State, n: usize) -> (State, Permutation) {
    let mut perm = Permutation::identity();
    perm.0[..n].sort_by(|&a, &b| s.disks[a as usize].cmp(&s.disks[b as usize]));
    let mut t = *s;
    for i in 0..n {
        t.disks[i] = s.disks[perm.0[i] as usize];
    }
    (t, perm)
}

/// Only the representative, sorted in place (the checker's hot path).
pub fn canonical(mut s: State, n: usize) -> State {
    s.disks[..n].sort_unstable();
    s
}

/// One step of a concrete path: the event as it happened, the state it led to and the branch of
/// `step` it took.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConcreteStep {
    pub event: crate::Event,
    pub before: State,
    pub after: State,
    pub transition: crate::Transition,
}

impl ConcreteStep {
    /// `event` applied to `before` by [`step`](crate::step).
    pub fn new(
        cfg: &crate::Config,
        before: &State,
        event: crate::Event,
    ) -> Result<ConcreteStep, crate::Refused> {
        let (after, transition) = crate::step(cfg, before, event)?;
        Ok(ConcreteStep {
            event,
            before: *before,
            after,
            transition,
        })
    }
}

/// Maps a path found on canonical states (events naming canonical disk positions) back to the
/// concrete disks, replaying it through `step`. Without symmetry the path is already concrete.
///
/// Fails with the index of the first event that the model refuses.
pub fn concretize(
    cfg: &crate::Config,
    events: &[crate::Event],
) -> Result<Vec<ConcreteStep>, (usize, crate::Refused)> {
    let n = cfg.n();
    let mut x = State::initial(n);
    let mut perm = Permutation::identity();
    let mut out = Vec::with_capacity(events.len());
    for (i, &e) in events.iter().enumerate() {
        let ce = match e.disk() {
            Some(d) if cfg.symmetry && d < n => e.with_disk(perm.concrete(d)),
            _ => e,
        };
        let st = ConcreteStep::new(cfg, &x, ce).map_err(|r| (i, r))?;
        if cfg.symmetry {
            perm = canonicalize(&st.after, n).1;
        }
        x = st.after;
        out.push(st);
    }
    Ok(out)
}
