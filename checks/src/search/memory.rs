//! How much memory a search may use: `--max-memory`, or by default most of what the machine has
//! available when the search starts, so that a search that would not fit stops and says it is
//! incomplete instead of meeting the kernel's OOM killer.

/// The process's resident memory now, in MiB (Linux; `None` elsewhere).
pub(crate) fn resident_mib() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // Every Linux this runs on uses 4 KiB pages for anonymous memory by default.
    Some((pages * 4096) >> 20)
}

/// The memory the machine has available (`MemAvailable`), in MiB.
pub(crate) fn available_mib() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib >> 10)
}

/// The default bound: nine tenths of the memory available now (`None` where that is unknown).
pub(crate) fn default_limit_mib() -> Option<u64> {
    available_mib().map(|m| (m / 10 * 9).max(1))
}

/// A bound on the memory a search adds to the process, checked by sampling the resident size.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Budget {
    limit_mib: u64,
    start_mib: u64,
}

impl Budget {
    /// A budget of `limit_mib` on top of what the process holds now.
    pub(crate) fn new(limit_mib: u64) -> Budget {
        Budget {
            limit_mib,
            start_mib: resident_mib().unwrap_or(0),
        }
    }

    /// Whether the search has used more than its budget.
    pub(crate) fn exceeded(&self) -> bool {
        resident_mib().is_some_and(|now| now.saturating_sub(self.start_mib) > self.limit_mib)
    }

    /// Why a search stopped for it.
    pub(crate) fn reason(&self) -> String {
        format!("--max-memory {} MiB reached", self.limit_mib)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_notices_memory_the_search_holds() {
        let b = Budget::new(8);
        assert!(!b.exceeded());
        // Touch 64 MiB so that it is resident.
        let v = vec![1u8; 64 << 20];
        assert!(v.iter().step_by(4096).all(|&x| x == 1));
        assert!(b.exceeded(), "{}", b.reason());
        drop(v);
        assert!(available_mib().is_some_and(|m| m > 0));
        assert!(default_limit_mib().unwrap() <= available_mib().unwrap());
    }
}
