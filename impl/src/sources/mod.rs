//! The event sources: the threads that observe events and feed them to the engine core, and
//! the one way to start an engine (fresh, or after a restart).
//!
//! | source | observes | started |
//! |---|---|---|
//! | [`parent`] | the parent's `execute()`; the user's retry | when the model accepts `ParentBegins`; per retry |
//! | [`pool`] | a pool thread picking a child up and its `execute()` returning | at start, a fixed number |
//! | [`poller`] | the callback poller's dispatches | at start |
//! | [`grandchild`] | a grandchild's `execute()` and its work on the host | per grandchild the model wants carried out |
//! | [`host`] | the host's merge job ending or failing | per job started, or re-watched after a restart |
//!
//! The core hands work to the sources through [`Launch`]; the sources call the core's `apply`.

pub mod grandchild;
pub mod host;
pub mod parent;
pub mod poller;
pub mod pool;

use crate::engine::{Engine, Launch, Parts, Source, Work};
use crate::sync::{lock, wait};
use livemerge_model::{step, Event};
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

/// The sources' side of the engine: the pool's queue, and the threads each piece of work gets.
#[derive(Default)]
pub(crate) struct Sources {
    queue: Mutex<VecDeque<usize>>,
    queued: Condvar,
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
            Work::Child(d) => {
                lock(&self.queue).push_back(d);
                self.queued.notify_one();
            }
            Work::Grandchild(d, id) => engine.spawn(move || grandchild::follow(me, d, id)),
            Work::HostJob(d) => engine.spawn(move || host::rewatch(me, d)),
        }
    }

    fn wake(&self) {
        self.queued.notify_all();
    }
}

/// The one way to start an engine: its core; `Restart` if it restarts; the pool and the
/// poller; the work the state asks for, a parent `execute()` thread if the model accepts
/// `ParentBegins` (a fresh removal, or one whose request left no trace before the engine died:
/// resume submits it again, as the user would), and a thread for `retries` user retries.
pub fn start(parts: Parts, how: Start, retries: usize) -> Arc<Engine> {
    let sources = Arc::new(Sources::default());
    let pool_threads = parts.settings.pool_threads;
    let engine = Engine::new(parts, Arc::clone(&sources) as Arc<dyn Launch>);
    if how == Start::Restart {
        // Before any source runs, so that none of them acts on the dead engine's state. A
        // restart that changes nothing (the removal had already ended) is refused: fine.
        let _ = engine.apply(Source::Resume, Event::Restart);
    }
    for _ in 0..pool_threads {
        let (me, src) = (Arc::clone(&engine), Arc::clone(&sources));
        engine.spawn(move || pool::worker(me, src));
    }
    let me = Arc::clone(&engine);
    engine.spawn(move || poller::run(me));
    engine.kick();
    if step(engine.config(), &engine.state(), Event::ParentBegins).is_ok() {
        parent::spawn_execute(&engine);
    }
    if retries > 0 {
        let me = Arc::clone(&engine);
        engine.spawn(move || parent::user(me, retries));
    }
    engine
}
