//! 64-bit fingerprints of states, for the BFS's visited set: xxh3 over the state's packed bytes
//! ([`State::packed`], which the model keeps in step with its fields), in one call per state.
//! (Feeding the state through its derived `Hash` instead took a call per field: 18% of a
//! search's time, against 4% now, `perf record` at 3 disks.)
//!
//! Two different states get the same fingerprint with probability about 2^-64 (xxh3 passes
//! SMHasher); [`collision_probability`] turns that into a bound for a whole search.

use livemerge_model::State;
use xxhash_rust::xxh3::xxh3_64;

/// The fingerprint of `s`: xxh3 over [`State::packed`] (fixed bytes, distinct for distinct
/// states); never 0 (the visited set marks empty slots with 0).
#[inline]
pub(crate) fn of(s: &State) -> u64 {
    match xxh3_64(&s.packed()) {
        0 => 1,
        fp => fp,
    }
}

/// The probability that a search which stored `n` distinct states' fingerprints merged two of
/// them (and so skipped a state): the birthday bound n(n-1)/2 / 2^64.
pub(crate) fn collision_probability(n: u64) -> f64 {
    let n = n as f64;
    (n * (n - 1.0) / 2.0 / 2f64.powi(64)).min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_stable_and_tell_states_apart() {
        let a = State::initial(2);
        assert_eq!(of(&a), of(&State::initial(2)));
        assert_ne!(of(&a), of(&State::initial(3)));
        assert_ne!(of(&a), 0);
    }

    #[test]
    fn the_collision_bound_grows_with_the_square() {
        assert_eq!(collision_probability(1), 0.0);
        let p = collision_probability(20_000_000);
        assert!(p > 1e-5 && p < 1.2e-5, "{p}");
    }
}
