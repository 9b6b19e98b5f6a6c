//! The BFS's visited set: 64-bit fingerprints in open-addressing tables (linear probing), one
//! per shard, filled by every worker at once with a compare-and-swap per new state and no lock.
//!
//! A shard grows only while no worker runs (between rounds of the search), a few shards at a
//! time (one per thread), so growing never needs twice the whole table. Slots are addressed by
//! multiply-shift rather than by mask, so a shard can grow by a quarter instead of doubling: its
//! load stays between 0.64 and 0.8, which is 10 to 12.5 bytes per state.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

const SHARD_BITS: u32 = 6;
const SHARDS: usize = 1 << SHARD_BITS;
/// Large enough that the 10% of slots kept free when full outlast any number (up to 256) of
/// racing workers. Unit tests use tiny shards, so that they fill up in the middle of a round.
const MIN_SLOTS: usize = if cfg!(test) { 64 } else { 4096 };

pub(crate) enum Insert {
    New,
    Known,
    /// The shard is nearly full: grow it and try again.
    Full,
}

/// A cache line each, so that workers counting inserts in different shards do not contend.
#[repr(align(64))]
struct Shard {
    slots: Box<[AtomicU64]>,
    count: AtomicUsize,
}

impl Shard {
    fn new(slots: usize) -> Shard {
        Shard {
            slots: (0..slots).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicUsize::new(0),
        }
    }

    fn wants_growth(&self) -> bool {
        self.count.load(Relaxed) * 5 >= self.slots.len() * 4
    }

    fn grown(&self) -> Shard {
        let mut bigger = Shard::new(self.slots.len() + self.slots.len() / 4);
        let n = bigger.slots.len();
        for slot in self.slots.iter() {
            let fp = slot.load(Relaxed);
            if fp == 0 {
                continue;
            }
            let mut i = bigger.home(fp);
            while *bigger.slots[i].get_mut() != 0 {
                i = if i + 1 == n { 0 } else { i + 1 };
            }
            *bigger.slots[i].get_mut() = fp;
        }
        *bigger.count.get_mut() = self.count.load(Relaxed);
        bigger
    }

    fn full(&self) -> bool {
        self.count.load(Relaxed) * 10 >= self.slots.len() * 9
    }

    /// Where `fp`'s probe sequence starts: the shard index took the top bits, so use the rest.
    #[inline]
    fn home(&self, fp: u64) -> usize {
        (((fp << SHARD_BITS) as u128 * self.slots.len() as u128) >> 64) as usize
    }
}

/// How often an insert found its shard full (unit tests check that the search recovers).
#[cfg(test)]
pub(crate) static FULL: AtomicUsize = AtomicUsize::new(0);

pub(crate) struct Visited {
    shards: Vec<Shard>,
}

impl Default for Visited {
    fn default() -> Self {
        Visited {
            shards: (0..SHARDS).map(|_| Shard::new(MIN_SLOTS)).collect(),
        }
    }
}

impl Visited {
    #[inline]
    fn shard(&self, fp: u64) -> &Shard {
        &self.shards[(fp >> (64 - SHARD_BITS)) as usize]
    }

    /// Asks the CPU to fetch `fp`'s slot now, so that a later `insert` does not wait for it.
    #[inline]
    pub(crate) fn prefetch(&self, fp: u64) {
        #[cfg(target_arch = "x86_64")]
        {
            let s = self.shard(fp);
            let p = s.slots[s.home(fp)].as_ptr() as *const i8;
            // SAFETY: a prefetch is only a hint; it reads nothing and cannot fault.
            #[allow(unused_unsafe)]
            unsafe {
                std::arch::x86_64::_mm_prefetch(p, std::arch::x86_64::_MM_HINT_T0)
            };
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = fp;
    }

    /// Adds the fingerprint `fp` (never 0) unless it is there.
    #[inline]
    pub(crate) fn insert(&self, fp: u64) -> Insert {
        let s = self.shard(fp);
        let n = s.slots.len();
        let mut i = s.home(fp);
        loop {
            let v = s.slots[i].load(Relaxed);
            if v == fp {
                return Insert::Known;
            }
            if v == 0 {
                if s.full() {
                    #[cfg(test)]
                    FULL.fetch_add(1, Relaxed);
                    return Insert::Full;
                }
                match s.slots[i].compare_exchange(0, fp, Relaxed, Relaxed) {
                    Ok(_) => {
                        s.count.fetch_add(1, Relaxed);
                        return Insert::New;
                    }
                    Err(x) if x == fp => return Insert::Known,
                    Err(_) => {}
                }
            }
            i += 1;
            if i == n {
                i = 0;
            }
        }
    }

    /// Some shard is over 4/5 full.
    pub(crate) fn wants_growth(&self) -> bool {
        self.shards.iter().any(Shard::wants_growth)
    }

    /// The bytes that growing every shard that wants it would add, at its peak.
    pub(crate) fn growth_bytes(&self, threads: usize) -> u64 {
        let grow: usize = self
            .shards
            .iter()
            .filter(|s| s.wants_growth())
            .map(|s| s.slots.len() / 4)
            .sum();
        let largest = self.shards.iter().map(|s| s.slots.len()).max().unwrap_or(0);
        // One shard per thread at a time: its old table lives on while the new one fills.
        ((grow + threads * largest) * 8) as u64
    }

    /// Grows every shard that is over 4/5 full by a quarter, on `threads` threads. No worker
    /// may run meanwhile.
    pub(crate) fn grow(&mut self, threads: usize) {
        let mut todo: Vec<&mut Shard> = self
            .shards
            .iter_mut()
            .filter(|s| s.wants_growth())
            .collect();
        let per = todo.len().div_ceil(threads.max(1)).max(1);
        std::thread::scope(|scope| {
            for part in todo.chunks_mut(per) {
                scope.spawn(move || {
                    for s in part.iter_mut() {
                        **s = s.grown();
                    }
                });
            }
        });
    }

    /// How many fingerprints are stored.
    pub(crate) fn len(&self) -> u64 {
        self.shards
            .iter()
            .map(|s| s.count.load(Relaxed) as u64)
            .sum()
    }

    /// The memory the tables take.
    pub(crate) fn bytes(&self) -> u64 {
        self.shards.iter().map(|s| s.slots.len() as u64 * 8).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fingerprint_is_found_again_after_growing() {
        let mut v = Visited::default();
        let fps: Vec<u64> = (1..=200_000u64)
            .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
            .collect();
        for &fp in &fps {
            loop {
                match v.insert(fp) {
                    Insert::New => break,
                    Insert::Known => panic!("{fp} was not there"),
                    Insert::Full => v.grow(2),
                }
            }
            if v.wants_growth() {
                v.grow(2);
            }
        }
        assert_eq!(v.len(), fps.len() as u64);
        for &fp in &fps {
            assert!(matches!(v.insert(fp), Insert::Known));
        }
        // Grown by a quarter at 4/5: never more than 1/0.64 times the fingerprints' own size.
        assert!(
            v.bytes() * 64 <= 100 * 8 * fps.len() as u64 + (SHARDS * MIN_SLOTS * 8 * 64) as u64
        );
    }
}
