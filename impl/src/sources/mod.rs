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
//!
//! One engine process may run many removals at once, as oVirt's one engine runs every VM's
//! ([`Fleet`]): each removal has its own core (its state, changed only by `step`, its rows, its
//! trace), and they share what oVirt shares: the pool's threads and queue ([`Pool`]), the
//! poller's thread, and the database's connection.

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
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

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

/// The pool's queue, shared by every removal of one engine process: children of all of them
/// wait in one queue, in the order their parents started them, for the same threads.
#[derive(Default)]
pub(crate) struct Pool {
    queue: Mutex<VecDeque<(Arc<Engine>, usize)>>,
    queued: Condvar,
    stop: AtomicBool,
}

impl Pool {
    /// Takes the next child (its removal's engine and its disk) off the queue; None once the
    /// pool stops.
    fn next_child(&self) -> Option<(Arc<Engine>, usize)> {
        let mut q = lock(&self.queue);
        loop {
            if self.stop.load(Ordering::SeqCst) {
                return None;
            }
            if let Some(x) = q.pop_front() {
                return Some(x);
            }
            q = wait(&self.queued, q, Duration::from_millis(50));
        }
    }

    fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        // The queue holds engines: emptied, so that none outlives the run through it.
        lock(&self.queue).clear();
        self.queued.notify_all();
    }
}

/// One removal's sources, as its core sees them: the shared pool, the host jobs started for a
/// watcher, and the threads each piece of work gets.
pub(crate) struct Sources {
    pool: Arc<Pool>,
    started: Arc<Started>,
}

impl Launch for Sources {
    fn launch(&self, engine: &Arc<Engine>, work: Work) {
        let me = Arc::clone(engine);
        match work {
            Work::Parent => engine.spawn(move || parent::execute(me)),
            Work::Child(d) => {
                let mut q = lock(&self.pool.queue);
                // Checked under the queue's lock, which `Pool::stop` takes to empty it: a child
                // is queued before the pool empties its queue, or not at all.
                if !self.pool.stop.load(Ordering::SeqCst) {
                    q.push_back((me, d));
                    self.pool.queued.notify_one();
                }
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
        self.pool.queued.notify_all();
    }
}

/// The removals of one engine process, running: one core each, and the threads they share
/// (the pool's and the poller's). Started by [`start`]; ended by [`Fleet::wait_end`] and
/// [`Fleet::shutdown`].
pub struct Fleet {
    engines: Vec<Arc<Engine>>,
    pool: Arc<Pool>,
    threads: Vec<JoinHandle<()>>,
}

/// The one way to start engines: a core per removal; `Restart` on each if they restart; the
/// pool (`pool_threads` of the first removal's settings, for all of them) and the poller; the
/// work each state asks for, a parent `execute()` thread included when the model wants one (a
/// fresh removal, or one whose request left no trace before the engine died: resume submits it
/// again, as the user would), and, for each removal, a thread for `retries` user retries.
pub fn start(parts: Vec<Parts>, how: Start, retries: usize) -> Fleet {
    let pool = Arc::new(Pool::default());
    let pool_threads = parts.first().map_or(0, |p| p.settings.pool_threads);
    let engines: Vec<Arc<Engine>> = parts
        .into_iter()
        .map(|p| {
            let sources = Sources {
                pool: Arc::clone(&pool),
                started: Arc::default(),
            };
            Engine::new(p, Arc::new(sources) as Arc<dyn Launch>)
        })
        .collect();
    if how == Start::Restart {
        for e in &engines {
            // Before any source runs, so that none of them acts on the dead engine's state. A
            // restart that changes nothing (the removal had already ended) is refused: fine.
            let _ = e.apply(Event::Restart);
        }
    }
    let mut threads = Vec::new();
    for _ in 0..pool_threads {
        let p = Arc::clone(&pool);
        threads.push(std::thread::spawn(move || pool::worker(p)));
    }
    let all = engines.clone();
    threads.push(std::thread::spawn(move || poller::run(all)));
    for e in &engines {
        e.kick();
        if retries > 0 {
            let me = Arc::clone(e);
            e.spawn(move || parent::user(me, retries));
        }
    }
    Fleet {
        engines,
        pool,
        threads,
    }
}

impl Fleet {
    /// Every removal's core, in the order their parts were given.
    pub fn engines(&self) -> &[Arc<Engine>] {
        &self.engines
    }

    /// Waits until every removal is over (quiescent, failed, or past `limit`), stopping each as
    /// soon as it is, so that nothing the others do (the poller's expiry pass) moves it on after
    /// it was judged over. Per removal: true if it became quiescent ([`Engine::wait_end`]), and
    /// when it was judged over.
    pub fn wait_end(&self, limit: Duration) -> Vec<(bool, Instant)> {
        if let [e] = self.engines.as_slice() {
            let quiescent = e.wait_end(limit);
            e.shutdown();
            return vec![(quiescent, Instant::now())];
        }
        let deadline = Instant::now() + limit;
        let mut over: Vec<Option<(bool, Instant)>> = vec![None; self.engines.len()];
        loop {
            for (e, o) in self.engines.iter().zip(over.iter_mut()) {
                if o.is_none() {
                    if let Some(q) = e.over(deadline) {
                        e.shutdown();
                        *o = Some((q, Instant::now()));
                    }
                }
            }
            if over.iter().all(Option::is_some) {
                return over.into_iter().flatten().collect();
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Stops every removal and every thread, and waits for them (a running host job is waited
    /// for, not abandoned).
    pub fn shutdown(&mut self) {
        for e in &self.engines {
            e.shutdown();
        }
        self.pool.stop();
        for h in self.threads.drain(..) {
            let _ = h.join();
        }
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        self.shutdown();
    }
}
