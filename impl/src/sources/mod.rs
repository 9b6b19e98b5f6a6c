//! The event sources: the threads that observe events and feed them to the engine core, and
//! the one way to start an engine (fresh, or after a restart).
//!
//! | source | observes | started |
//! |---|---|---|
//! | [`parent`] | the parent's `execute()`; the user's retry | when the model wants the parent's thread (a new request: at start, after a retry); one for the retries |
//! | [`pool`] | a pool thread picking a child up and its `execute()` returning | at start, a fixed number |
//! | [`poller`] | the callback poller's dispatches | at start |
//! | [`grandchild`] | a grandchild's `execute()` and its work on the host | per grandchild the model wants carried out |
//! | [`host`] | the host's merge job ending or failing | per job the model wants watched: the one `VM.merge` started, or one re-issued after a restart |
//!
//! The core hands work to the sources through [`Launch`]; the sources call the core's `apply`.
//! What each thread does next is the model's answer ([`livemerge_model::wants`]): no source tries
//! `step` to decide.

pub mod grandchild;
pub mod host;
pub mod parent;
pub mod poller;
pub mod pool;

use crate::engine::{Engine, Launch, Parts, Work};
use crate::storage::{HostJob, StorageError};
use crate::sync::{lock, wait};
use livemerge_model::{Event, MAX_DISKS};
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// How an engine starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// The user asked to remove the snapshot: a new engine on a new directory.
    Fresh,
    /// A killed engine's directory: `Restart` is applied first, then what is in flight goes on.
    Restart,
}

/// A host job as `VM.merge` started it (or failed to start it: its watcher sees it fail).
pub(crate) type StartedJob = Result<Box<dyn HostJob>, StorageError>;

/// Host jobs `VM.merge` started, per disk, until the dispatch of its `MergeReachesHost` hands
/// each to the watcher it launches ([`Work::HostJob`]).
#[derive(Default)]
pub(crate) struct Started(Mutex<[Option<StartedJob>; MAX_DISKS]>);

impl Started {
    /// Leaves disk `d`'s new job for its watcher.
    pub(crate) fn put(&self, d: usize, job: StartedJob) {
        lock(&self.0)[d] = Some(job);
    }

    /// Takes disk `d`'s new job, if one waits for a watcher.
    pub(crate) fn take(&self, d: usize) -> Option<StartedJob> {
        lock(&self.0)[d].take()
    }
}

/// The sources' side of the engine: the pool's queue, the host jobs started for a watcher, and
/// the threads each piece of work gets.
#[derive(Default)]
pub(crate) struct Sources {
    queue: Mutex<VecDeque<usize>>,
    queued: Condvar,
    started: Arc<Started>,
}

impl Sources {
    /// Takes the next child off the pool's queue; None once the engine stops.
    fn next_child(&self, engine: &Engine) -> Option<usize> {
        let mut q = lock(&self.queue);
        loop {
            if engine.stopping() {
                return None;
            }
            if let Some(d) = q.pop_front() {
                return Some(d);
            }
            q = wait(&self.queued, q, Duration::from_millis(50));
        }
    }
}

impl Launch for Sources {
    fn launch(&self, engine: &Arc<Engine>, work: Work) {
        let me = Arc::clone(engine);
        match work {
            Work::Parent => engine.spawn(move || parent::execute(me)),
            Work::Child(d) => {
                lock(&self.queue).push_back(d);
                self.queued.notify_one();
            }
            Work::Grandchild(d, id) => {
                let started = Arc::clone(&self.started);
                engine.spawn(move || grandchild::follow(me, d, id, started))
            }
            // Taken here, under the engine's lock, in the dispatch of the step that wants it.
            Work::HostJob(d) => match self.started.take(d) {
                Some(job) => engine.spawn(move || host::watch(&me, d, job)),
                None => engine.spawn(move || host::rewatch(me, d)),
            },
        }
    }

    fn wake(&self) {
        self.queued.notify_all();
    }
}

/// The one way to start an engine: its core; `Restart` if it restarts; the pool and the
/// poller; the work the state asks for, a parent `execute()` thread included when the model
/// wants one (a fresh removal, or one whose request left no trace before the engine died: resume
/// submits it again, as the user would), and a thread for `retries` user retries.
pub fn start(parts: Parts, how: Start, retries: usize) -> Arc<Engine> {
    let sources = Arc::new(Sources::default());
    let pool_threads = parts.settings.pool_threads;
    let engine = Engine::new(parts, Arc::clone(&sources) as Arc<dyn Launch>);
    if how == Start::Restart {
        // Before any source runs, so that none of them acts on the dead engine's state. A
        // restart that changes nothing (the removal had already ended) is refused: fine.
        let _ = engine.apply(Event::Restart);
    }
    for _ in 0..pool_threads {
        let (me, src) = (Arc::clone(&engine), Arc::clone(&sources));
        engine.spawn(move || pool::worker(me, src));
    }
    let me = Arc::clone(&engine);
    engine.spawn(move || poller::run(me));
    engine.kick();
    if retries > 0 {
        let me = Arc::clone(&engine);
        engine.spawn(move || parent::user(me, retries));
    }
    engine
}
