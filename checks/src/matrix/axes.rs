//! The matrix's axes: which releases, disk counts, fault sets, restart and retry counts to cross, as
//! given on the command line (`--disks 1..3`, `--faults none,all`, ...).

use livemerge_model::{Config, Faults, Release};

/// The values of each axis; the matrix is their cross product.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Axes {
    pub(crate) releases: Vec<Release>,
    pub(crate) disks: Vec<u8>,
    pub(crate) faults: Vec<Faults>,
    pub(crate) restarts: Vec<u8>,
    pub(crate) retries: Vec<u8>,
}

impl Default for Axes {
    /// Every release modelled x 1 to 3 disks x no faults / all faults x 0 or 1 restart, with one
    /// retry of a failed removal.
    fn default() -> Self {
        Axes {
            releases: Release::ALL.to_vec(),
            disks: vec![1, 2, 3],
            faults: vec![Faults::NONE, Faults::ALL],
            restarts: vec![0, 1],
            retries: vec![1],
        }
    }
}

impl Axes {
    /// Every configuration of the matrix, in table order (poller, then faults, restarts, disks),
    /// each validated by the model. Symmetry is on: verdicts and shortest lengths are the same
    /// without it (a test of the search checks that), and it is much faster.
    pub fn configurations(&self) -> Result<Vec<Config>, String> {
        let mut out = Vec::new();
        for &release in &self.releases {
            for &faults in &self.faults {
                for &restarts in &self.restarts {
                    for &retries in &self.retries {
                        for &disks in &self.disks {
                            let cfg = Config {
                                disks,
                                release,
                                faults,
                                restarts,
                                retries,
                                symmetry: true,
                            };
                            cfg.validate().map_err(|e| e.to_string())?;
                            out.push(cfg);
                        }
                    }
                }
            }
        }
        Ok(out)
    }
}

/// `1..3` (inclusive), `2`, or `1,3`: a set of small numbers, in the order given, without repeats.
pub(crate) fn parse_numbers(s: &str) -> Result<Vec<u8>, String> {
    let mut out: Vec<u8> = Vec::new();
    for part in s.split(',') {
        let num = |t: &str| {
            t.trim()
                .parse::<u8>()
                .map_err(|_| format!("'{t}' is not a number from 0 to 255"))
        };
        let values: Vec<u8> = match part.split_once("..") {
            Some((a, b)) => {
                let (a, b) = (num(a)?, num(b)?);
                if a > b {
                    return Err(format!("empty range '{part}'"));
                }
                (a..=b).collect()
            }
            None => vec![num(part)?],
        };
        for v in values {
            if !out.contains(&v) {
                out.push(v);
            }
        }
    }
    Ok(out)
}

/// Disk counts: `1..3`, `2` or `1,3`, each one a state can hold.
pub(crate) fn parse_disks(s: &str) -> Result<Vec<u8>, String> {
    let disks = parse_numbers(s)?;
    for &n in &disks {
        crate::bounds::disk_count(n)?;
    }
    Ok(disks)
}

/// `3.6.0,4.0.2` or `all`: each name read by the release's own `FromStr`.
pub(crate) fn parse_releases(s: &str) -> Result<Vec<Release>, String> {
    if s == "all" {
        return Ok(Release::ALL.to_vec());
    }
    let mut out = Vec::new();
    for name in s.split(',') {
        let p: Release = name
            .trim()
            .parse()
            .map_err(|e: livemerge_model::ConfigError| e.0)?;
        if !out.contains(&p) {
            out.push(p);
        }
    }
    Ok(out)
}

/// A comma-separated list of fault sets, each `none`, `all`, or fault names joined by `+`
/// (`none,merge-job-fails,all`).
pub(crate) fn parse_fault_sets(s: &str) -> Result<Vec<Faults>, String> {
    let mut out = Vec::new();
    for set in s.split(',') {
        let f: Faults = set
            .trim()
            .replace('+', ",")
            .parse()
            .map_err(|e| format!("{e}"))?;
        if !out.contains(&f) {
            out.push(f);
        }
    }
    Ok(out)
}

/// A fault set as the table and the baseline name it: `none`, `all`, or names joined by `+`.
pub(crate) fn fault_set_name(f: Faults) -> String {
    if f == Faults::ALL {
        "all".to_string()
    } else {
        f.to_string().replace(',', "+")
    }
}

/// The name of a configuration in the baseline, the table's differences and the JUnit report.
pub(crate) fn config_name(cfg: &Config) -> String {
    format!(
        "release {}, {} disk(s), faults {}, {} restart(s), {} retr{}",
        cfg.release,
        cfg.disks,
        fault_set_name(cfg.faults),
        cfg.restarts,
        cfg.retries,
        if cfg.retries == 1 { "y" } else { "ies" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_accept_ranges_and_lists() {
        assert_eq!(parse_numbers("1..3").unwrap(), vec![1, 2, 3]);
        assert_eq!(parse_numbers("2").unwrap(), vec![2]);
        assert_eq!(parse_numbers("3,1,3").unwrap(), vec![3, 1]);
        assert!(parse_numbers("3..1").is_err());
        assert!(parse_numbers("x").is_err());
        assert!(parse_numbers("").is_err());
        assert_eq!(parse_disks("1..3").unwrap(), vec![1, 2, 3]);
        assert!(parse_disks("0..2").is_err());
        assert!(parse_disks("9").is_err());
    }

    #[test]
    fn releases_are_read_by_the_release_itself() {
        assert_eq!(parse_releases("all").unwrap(), Release::ALL.to_vec());
        assert_eq!(parse_releases("4.0, 4.0.0").unwrap(), vec![Release::V4_0_0]);
        let e = parse_releases("3.6.0,x").unwrap_err();
        assert_eq!(e, "x".parse::<Release>().unwrap_err().0);
    }

    #[test]
    fn fault_sets_round_trip_through_their_names() {
        let sets = parse_fault_sets("none,all,merge-job-fails").unwrap();
        assert_eq!(sets.len(), 3);
        let names: Vec<_> = sets.into_iter().map(fault_set_name).collect();
        assert_eq!(names, ["none", "all", "merge-job-fails"]);
        assert!(parse_fault_sets("sometimes").is_err());
    }

    #[test]
    fn a_bad_configuration_is_refused_by_the_model() {
        let axes = Axes {
            disks: vec![0],
            ..Axes::default()
        };
        assert!(axes.configurations().is_err());
        assert_eq!(
            Axes::default().configurations().unwrap().len(),
            Release::ALL.len() * 3 * 2 * 2
        );
    }
}
