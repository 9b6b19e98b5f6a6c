//! The bounds of every duration and count flag, in one place: clap checks them while parsing
//! (so a value out of range is a one-line usage error, exit 2, before anything runs), and the
//! engine's own limits come from `livemerge_impl::settings` so that a database written by one
//! cannot hold what the other refuses.
//!
//! | flag | bound |
//! |---|---|
//! | `--tick-ms` | 1 to 60,000 |
//! | `--command-lifetime` | 1 to 18,000,000 ticks |
//! | `--start-cost-ms`, `--job-ms` | 0 to 60,000 |
//! | `--limit-secs` | more than 0, at most a year |
//! | `--timeout` | more than 0, at most a year |
//! | `--threads`, `--pool-threads` | 1 to 256 |
//! | `--max-states` | at least 1 |
//! | `--runs` (`stress`) | 1 to 1,000,000 |
//! | `--runs` (`schedules`) | 1 to 1,000,000, and `--seed` + `--runs` must fit in 64 bits |
//! | `--disks`, `--max-n` | 1 to the model's `MAX_DISKS` |
//! | `--restarts` | 0 to 3 (the model's configuration) |

use livemerge_impl::settings::{
    MAX_COMMAND_LIFETIME_TICKS, MAX_COST_MS, MAX_LIMIT_SECS, MAX_POOL_THREADS, MAX_TICK_MS,
};

/// The most runs of `stress` or `schedules` in one invocation.
pub(crate) const MAX_RUNS: u64 = 1_000_000;

fn number<T: std::str::FromStr>(s: &str) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    s.trim()
        .parse::<T>()
        .map_err(|e| format!("'{s}' is not a number ({e})"))
}

fn in_range<T: PartialOrd + std::fmt::Display + Copy>(v: T, lo: T, hi: T) -> Result<T, String> {
    if v >= lo && v <= hi {
        Ok(v)
    } else {
        Err(format!("{v} is not between {lo} and {hi}"))
    }
}

/// `--tick-ms`: the poller's tick.
pub(crate) fn tick_ms(s: &str) -> Result<u64, String> {
    in_range(number(s)?, 1, MAX_TICK_MS)
}

/// `--command-lifetime`: how many ticks a command may stay ACTIVE before it expires.
pub(crate) fn lifetime_ticks(s: &str) -> Result<u64, String> {
    in_range(number(s)?, 1, MAX_COMMAND_LIFETIME_TICKS)
}

/// `--start-cost-ms`, `--job-ms`: a simulated cost (fractions allowed).
pub(crate) fn cost_ms(s: &str) -> Result<f64, String> {
    let v: f64 = number(s)?;
    if !v.is_finite() {
        return Err(format!("{s} is not a finite number"));
    }
    in_range(v, 0.0, MAX_COST_MS as f64)
}

/// `--limit-secs`, `--timeout`: a wall-clock limit in seconds.
pub(crate) fn secs(s: &str) -> Result<f64, String> {
    let v: f64 = number(s)?;
    if !(v > 0.0 && v <= MAX_LIMIT_SECS as f64) {
        return Err(format!(
            "{s} is not more than 0 and at most {MAX_LIMIT_SECS} (a year)"
        ));
    }
    Ok(v)
}

/// `--threads`, `--pool-threads`.
pub(crate) fn threads(s: &str) -> Result<usize, String> {
    in_range(number(s)?, 1, MAX_POOL_THREADS)
}

/// `--max-states`: a search bound of 0 would explore nothing and call it incomplete.
/// `--max-memory`: a size with a unit (`512M`, `2G`, `1.5G`, `1T`, `4096K`; `MiB`, `GiB` and a
/// trailing `B` are accepted too, all binary) or a bare number of MiB, as MiB (at least 1).
pub(crate) fn memory_mib(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let lower = t.to_ascii_lowercase();
    let digits = lower.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &lower[digits.len()..];
    let scale: f64 = match unit.trim_end_matches('b').trim_end_matches('i') {
        "" | "m" => 1.0,
        "k" => 1.0 / 1024.0,
        "g" => 1024.0,
        "t" => 1024.0 * 1024.0,
        _ => {
            return Err(format!(
            "'{s}' is not a size: give a number with K, M, G or T (512M, 2G), or a number of MiB"
        ))
        }
    };
    let v: f64 = number(digits)?;
    let mib = (v * scale).ceil();
    if !mib.is_finite() || mib < 1.0 || mib > u64::MAX as f64 / 2.0 {
        return Err(format!("'{s}' is not a size between 1 MiB and 8 EiB"));
    }
    Ok(mib as u64)
}

pub(crate) fn max_states(s: &str) -> Result<u64, String> {
    match number(s)? {
        0 => Err("0 states explores nothing: give at least 1".into()),
        v => Ok(v),
    }
}

/// `--runs` of `stress`.
pub(crate) fn runs_u32(s: &str) -> Result<u32, String> {
    in_range(number(s)?, 1, MAX_RUNS as u32)
}

/// `--vms` of `run` and `stress`: removals in one engine, 1 to `livemerge_impl::MAX_VMS`.
pub(crate) fn vms(s: &str) -> Result<u32, String> {
    in_range(number(s)?, 1, livemerge_impl::MAX_VMS)
}

/// `--runs` of `schedules`.
pub(crate) fn runs(s: &str) -> Result<u64, String> {
    in_range(number(s)?, 1, MAX_RUNS)
}

/// `--disks`, `--max-n`: a number of disks.
pub(crate) fn disks(s: &str) -> Result<u8, String> {
    disk_count(number(s)?)
}

/// A number of disks already read (one of the matrix's `--disks 1..3`, a trace header's): 1 to
/// the model's `MAX_DISKS`, the most a state holds. Every disk count a user gives meets this.
pub(crate) fn disk_count(n: u8) -> Result<u8, String> {
    in_range(n, 1, livemerge_model::MAX_DISKS as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each of `values` is refused by `parse`.
    fn refuses<T: std::fmt::Debug>(parse: fn(&str) -> Result<T, String>, values: &[&str]) {
        for v in values {
            assert!(parse(v).is_err(), "{v} is accepted: {:?}", parse(v));
        }
    }

    #[test]
    fn sizes_take_the_units_people_type() {
        assert_eq!(memory_mib("512M"), Ok(512));
        assert_eq!(memory_mib("512"), Ok(512));
        assert_eq!(memory_mib("2G"), Ok(2048));
        assert_eq!(memory_mib("2GiB"), Ok(2048));
        assert_eq!(memory_mib("1.5g"), Ok(1536));
        assert_eq!(memory_mib("1T"), Ok(1 << 20));
        assert_eq!(memory_mib("4096K"), Ok(4));
        assert_eq!(memory_mib("1K"), Ok(1), "rounded up to 1 MiB");
        refuses(memory_mib, &["0", "0G", "lots", "2Q", "-1G", "G", "1e400G"]);
    }

    #[test]
    fn bounds_hold_at_their_edges() {
        assert_eq!(tick_ms("1"), Ok(1));
        assert_eq!(tick_ms("60000"), Ok(60_000));
        refuses(tick_ms, &["0", "60001", "2305843009213693952"]);
        refuses(cost_ms, &["NaN", "inf", "-1"]);
        refuses(secs, &["0", "1e300"]);
        refuses(threads, &["257"]);
        refuses(max_states, &["0"]);
        refuses(runs, &["0"]);
        refuses(disks, &["0", "9"]);
    }
}
