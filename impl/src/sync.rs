//! Locks that outlive a panicking thread. A worker that panics while holding a lock poisons it;
//! the engine's data under the lock is still whole (every change is one assignment of a state
//! `step` returned), so the others go on with it rather than panic in turn.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// Locks `m`, poisoned or not.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Waits on `cv` for at most `d`, poisoned or not.
pub(crate) fn wait<'a, T>(cv: &Condvar, g: MutexGuard<'a, T>, d: Duration) -> MutexGuard<'a, T> {
    cv.wait_timeout(g, d).unwrap_or_else(|e| e.into_inner()).0
}
