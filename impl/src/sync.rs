//! Locks that outlive a panicking thread (the one home of `unwrap_or_else(|e| e.into_inner())`,
//! used by the checker's search threads too). A worker that panics while holding a lock poisons it;
//! the engine's data under the lock is still whole (every change is one assignment of a state
//! `step` returned), so the others go on with it rather than panic in turn.

use std::sync::{Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

/// Locks `m`, poisoned or not.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Waits on `cv` for at most `d`, poisoned or not.
pub fn wait<'a, T>(cv: &Condvar, g: MutexGuard<'a, T>, d: Duration) -> MutexGuard<'a, T> {
    cv.wait_timeout(g, d).unwrap_or_else(|e| e.into_inner()).0
}

/// Takes `l` for reading, poisoned or not.
pub fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}

/// Takes `l` for writing, poisoned or not.
pub fn write<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}

/// The value inside `m`, poisoned or not.
pub fn take<T>(m: Mutex<T>) -> T {
    m.into_inner().unwrap_or_else(|e| e.into_inner())
}
