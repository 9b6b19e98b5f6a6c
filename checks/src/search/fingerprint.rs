//! 64-bit fingerprints of states, for the BFS's visited set. A state is fed through its own
//! `Hash` implementation into a byte buffer (fixed-width integers as they are, wider ones as
//! varints), then the bytes are hashed once with xxh3. Packing first keeps the hash independent
//! of the state's fields (the model may change them) while hashing each state in one call.
//!
//! Two different states get the same fingerprint with probability about 2^-64 (xxh3 passes
//! SMHasher); [`collision_probability`] turns that into a bound for a whole search.

use std::hash::{Hash, Hasher};
use xxhash_rust::xxh3::xxh3_64_with_seed;

/// The fingerprint of `v`; never 0 (the visited set marks empty slots with 0).
#[inline]
pub fn of<T: Hash>(v: &T) -> u64 {
    let mut p = Packer {
        buf: [0; BUF + 16],
        len: 0,
        seed: 0,
    };
    v.hash(&mut p);
    match p.finish() {
        0 => 1,
        fp => fp,
    }
}

/// The probability that a search which stored `n` distinct states' fingerprints merged two of
/// them (and so skipped a state): the birthday bound n(n-1)/2 / 2^64.
pub fn collision_probability(n: u64) -> f64 {
    let n = n as f64;
    (n * (n - 1.0) / 2.0 / 2f64.powi(64)).min(1.0)
}

/// How many bytes are hashed at once; a state packs into fewer.
const BUF: usize = 128;

/// Collects what `Hash` writes. Every write has a fixed width or is a varint (prefix-free), so
/// different states give different byte strings.
struct Packer {
    /// `BUF` bytes and room for one more write of up to 16 bytes, so that a write checks only
    /// whether the buffer is past `BUF`.
    buf: [u8; BUF + 16],
    len: usize,
    /// The hash of what no longer fit in `buf` (large values only).
    seed: u64,
}

impl Packer {
    #[cold]
    fn flush(&mut self) {
        self.seed = xxh3_64_with_seed(&self.buf[..self.len], self.seed);
        self.len = 0;
    }

    #[inline(always)]
    fn put<const K: usize>(&mut self, bytes: [u8; K]) {
        if self.len > BUF {
            self.flush();
        }
        self.buf[self.len..self.len + K].copy_from_slice(&bytes);
        self.len += K;
    }

    #[inline]
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.put([v as u8 | 0x80]);
            v >>= 7;
        }
        self.put([v as u8]);
    }
}

impl Hasher for Packer {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.put([b]);
        }
    }

    #[inline(always)]
    fn write_u8(&mut self, i: u8) {
        self.put([i]);
    }

    #[inline(always)]
    fn write_u16(&mut self, i: u16) {
        self.put(i.to_le_bytes());
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.varint(i.into());
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.varint(i);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.varint(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        xxh3_64_with_seed(&self.buf[..self.len], self.seed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn different_values_pack_differently() {
        // A varint and a byte that would read alike without the continuation bit.
        assert_ne!(of(&(300u32, 1u8)), of(&(44u32, 2u8, 1u8)));
        assert_ne!(of(&[1u16, 2]), of(&[1u16, 2, 0]));
        assert_eq!(of(&vec![7u8; 1000]), of(&vec![7u8; 1000]));
        assert_ne!(of(&vec![7u8; 1000]), of(&vec![7u8; 1001]));
    }

    #[test]
    fn the_collision_bound_grows_with_the_square() {
        assert_eq!(collision_probability(1), 0.0);
        let p = collision_probability(20_000_000);
        assert!(p > 1e-5 && p < 1.2e-5, "{p}");
    }
}
