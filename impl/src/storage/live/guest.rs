//! The guest: a writer on each disk's NBD export, and the check that nothing it wrote is lost.
//!
//! Each disk's guest area is the 4 KiB blocks from 128 KiB on (below it lie the base's and the
//! top's setup patterns). Every `--guest-write-ms` the guest writes one random block of each
//! disk with a content unique to (disk, block, sequence number), with FUA. Before a write it
//! appends `w DISK BLOCK SEQ` to `guest.log` in the engine directory and after the server's
//! acknowledgement `a DISK BLOCK SEQ` (one `write(2)` each: a SIGKILL cannot lose a line that was
//! written). The verdict then knows, per block, the last acknowledged content, and the content
//! of a write that was in flight when something died (either may be there).
//!
//! At the pivot the host job holds the disk's pause lock: the guest's writes to that disk wait
//! while QEMU drains and switches it to base, so no acknowledged write lands in the window where
//! the files could not say which volume is the VM's (see `Live`'s merge job).

use super::nbd::Nbd;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

pub const LOG: &str = "guest.log";
pub const BLOCK: u64 = 4096;
/// The guest area: from here to the end of the 1 MiB disk.
pub const FIRST: u64 = 128 * 1024;
pub const DISK_SIZE: u64 = 1024 * 1024;
pub const BLOCKS: u64 = (DISK_SIZE - FIRST) / BLOCK;

/// What the guest and the host's jobs share, per disk.
pub struct Shared {
    /// Held for reading by each guest write, for writing by a pivot.
    pub pause: Vec<RwLock<()>>,
    /// A merge job runs.
    pub merging: Vec<AtomicBool>,
    /// Writes acknowledged in this process, and those acknowledged while a merge job ran.
    pub writes: Vec<AtomicU64>,
    pub during_merge: Vec<AtomicU64>,
}

impl Shared {
    pub fn new(n: usize) -> Shared {
        Shared {
            pause: (0..n).map(|_| RwLock::new(())).collect(),
            merging: (0..n).map(|_| AtomicBool::new(false)).collect(),
            writes: (0..n).map(|_| AtomicU64::new(0)).collect(),
            during_merge: (0..n).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

/// The content of block `b` of disk `d` written with sequence number `seq`.
pub fn content(d: usize, b: u64, seq: u64) -> Vec<u8> {
    let mut v = vec![(seq % 251) as u8 + 1; BLOCK as usize];
    v[0..4].copy_from_slice(b"LMG1");
    v[4..8].copy_from_slice(&(d as u32).to_le_bytes());
    v[8..16].copy_from_slice(&b.to_le_bytes());
    v[16..24].copy_from_slice(&seq.to_le_bytes());
    v
}

/// A running guest.
pub struct Guest {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Guest {
    /// Starts writing to the `n` disks exported on `socket`, one block per disk every `every`.
    pub fn start(
        dir: &Path,
        socket: PathBuf,
        n: usize,
        every: Duration,
        shared: Arc<Shared>,
    ) -> Result<Guest, String> {
        let log_path = dir.join(LOG);
        let next = expectations(dir, n)?.1 + 1;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| format!("cannot open {}: {e}", log_path.display()))?;
        let stop = Arc::new(AtomicBool::new(false));
        let st = Arc::clone(&stop);
        let handle = std::thread::spawn(move || {
            run(socket, n, every, shared, Mutex::new(log), st, next);
        });
        Ok(Guest {
            stop,
            handle: Some(handle),
        })
    }

    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl Drop for Guest {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run(
    socket: PathBuf,
    n: usize,
    every: Duration,
    shared: Arc<Shared>,
    log: Mutex<std::fs::File>,
    stop: Arc<AtomicBool>,
    mut seq: u64,
) {
    let mut conns: Vec<Option<Nbd>> = (0..n).map(|_| None).collect();
    let mut rng = fastrand::Rng::new();
    let line = |s: String| {
        let mut f = crate::sync::lock(&log);
        f.write_all(s.as_bytes())
    };
    while !stop.load(Ordering::SeqCst) {
        for (d, conn) in conns.iter_mut().enumerate() {
            if conn.is_none() {
                // The host may be down (killed) or not serving yet: try again next round.
                *conn = Nbd::connect(&socket, &super::daemon::export(d)).ok();
            }
            let Some(c) = conn.as_mut() else { continue };
            let b = rng.u64(0..BLOCKS);
            let data = content(d, b, seq);
            let _pause = crate::sync::read(&shared.pause[d]);
            if line(format!("w {d} {b} {seq}\n")).is_err() {
                return;
            }
            match c.write(FIRST + b * BLOCK, &data) {
                Ok(()) => {
                    if line(format!("a {d} {b} {seq}\n")).is_err() {
                        return;
                    }
                    shared.writes[d].fetch_add(1, Ordering::SeqCst);
                    if shared.merging[d].load(Ordering::SeqCst) {
                        shared.during_merge[d].fetch_add(1, Ordering::SeqCst);
                    }
                }
                Err(_) => *conn = None,
            }
            seq += 1;
        }
        std::thread::sleep(every);
    }
}

/// Per block: the last acknowledged sequence number, and writes in flight after it.
#[derive(Clone, Debug, Default)]
pub struct BlockExpectation {
    pub acked: Option<u64>,
    pub in_flight: Vec<u64>,
}

impl BlockExpectation {
    /// Whether `data` is a content this block may hold.
    pub fn accepts(&self, d: usize, b: u64, data: &[u8]) -> bool {
        let ok = |seq: u64| data == content(d, b, seq).as_slice();
        match self.acked {
            None => data.iter().all(|&x| x == 0) || self.in_flight.iter().any(|&s| ok(s)),
            Some(a) => ok(a) || self.in_flight.iter().any(|&s| s > a && ok(s)),
        }
    }
}

/// What `guest.log` says each block of each disk must hold, and the highest sequence number.
pub fn expectations(dir: &Path, n: usize) -> Result<(Vec<Vec<BlockExpectation>>, u64), String> {
    let mut exp = vec![vec![BlockExpectation::default(); BLOCKS as usize]; n];
    let text = match std::fs::read_to_string(dir.join(LOG)) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(format!("cannot read {LOG}: {e}")),
    };
    let mut max = 0;
    let mut pending: HashMap<(usize, u64), Vec<u64>> = HashMap::new();
    for l in text.lines() {
        let f: Vec<&str> = l.split(' ').collect();
        // A line cut by a kill mid-write is the only malformed one; it was never acknowledged.
        let [k, d, b, s] = f[..] else { continue };
        let (Ok(d), Ok(b), Ok(s)) = (d.parse::<usize>(), b.parse::<u64>(), s.parse::<u64>()) else {
            continue;
        };
        if d >= n || b >= BLOCKS {
            continue;
        }
        max = max.max(s);
        match k {
            "w" => pending.entry((d, b)).or_default().push(s),
            "a" => {
                let e = &mut exp[d][b as usize];
                e.acked = Some(e.acked.map_or(s, |a| a.max(s)));
                if let Some(p) = pending.get_mut(&(d, b)) {
                    p.retain(|&x| x != s);
                }
            }
            _ => {}
        }
    }
    for ((d, b), p) in pending {
        exp[d][b as usize].in_flight = p;
    }
    Ok((exp, max))
}

/// Blocks of disk `d` whose content `read(block)` does not match what the guest wrote.
pub fn lost_blocks(
    exp: &[BlockExpectation],
    d: usize,
    mut read: impl FnMut(u64) -> Result<Vec<u8>, String>,
) -> Result<Vec<u64>, String> {
    let mut lost = Vec::new();
    for b in 0..BLOCKS {
        let data = read(b)?;
        if !exp[b as usize].accepts(d, b, &data) {
            lost.push(b);
        }
    }
    Ok(lost)
}

/// The guest's verdict on a run: every block read back through the export (while the daemon
/// ran) and from the image files (after it stopped).
#[derive(Clone, Debug, Default)]
pub struct GuestVerdict {
    /// Writes acknowledged over the directory's whole life (every engine and resume).
    pub acknowledged: u64,
    /// Per disk, in this process: writes acknowledged, and those acknowledged during a merge job.
    pub writes: Vec<u64>,
    pub during_merge: Vec<u64>,
    /// Per disk, blocks lost as read through the export (`Err`: could not be read, e.g. the
    /// daemon had died) and as read from the active volume's file after the daemon stopped.
    pub export: Vec<Result<Vec<u64>, String>>,
    pub files: Vec<Result<Vec<u64>, String>>,
    /// Per disk, the volume the files were read from.
    pub read_from: Vec<String>,
    /// Per disk, the chain the daemon served the guest from when the run ended, leaf first.
    pub serving: Vec<String>,
}

impl GuestVerdict {
    /// No block lost, and the files were read (the export may be unreadable after a crash).
    pub fn intact(&self) -> bool {
        self.export
            .iter()
            .all(|r| r.as_ref().map_or(true, |l| l.is_empty()))
            && self
                .files
                .iter()
                .all(|r| r.as_ref().is_ok_and(|l| l.is_empty()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(lines: &str) -> (tempfile::TempDir, Vec<Vec<BlockExpectation>>, u64) {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join(LOG), lines).unwrap();
        let (e, max) = expectations(t.path(), 2).unwrap();
        (t, e, max)
    }

    #[test]
    fn the_last_acknowledged_write_is_what_a_block_must_hold() {
        let (_t, e, max) = log("w 0 3 1\na 0 3 1\nw 0 3 5\na 0 3 5\nw 1 3 6\n");
        assert_eq!(max, 6);
        assert!(e[0][3].accepts(0, 3, &content(0, 3, 5)));
        // An older write, another block's or another disk's content: lost.
        assert!(!e[0][3].accepts(0, 3, &content(0, 3, 1)));
        assert!(!e[0][3].accepts(0, 4, &content(0, 3, 5)));
        assert!(!e[0][3].accepts(0, 3, &content(1, 3, 5)));
        assert!(!e[0][3].accepts(0, 3, &[0; BLOCK as usize]));
    }

    #[test]
    fn a_write_in_flight_at_a_crash_may_or_may_not_be_there() {
        // Disk 1's block 3: never acknowledged, in flight: zeros or the new content.
        let (_t, e, _) = log("w 0 3 1\na 0 3 1\nw 0 3 2\nw 1 3 6\nw 1 3 7");
        assert!(e[1][3].accepts(1, 3, &[0; BLOCK as usize]));
        assert!(e[1][3].accepts(1, 3, &content(1, 3, 6)));
        // Disk 0's block 3: the acknowledged write or the one in flight after it.
        assert!(e[0][3].accepts(0, 3, &content(0, 3, 1)));
        assert!(e[0][3].accepts(0, 3, &content(0, 3, 2)));
        // A line cut by the kill ("w 1 3 7" has no newline but parses; a cut "w 1" is skipped).
        let (_t, e, _) = log("w 1");
        assert!(e[1][3].accepts(1, 3, &[0; BLOCK as usize]));
    }
}
