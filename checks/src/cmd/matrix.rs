//! `livemerge matrix`: check every configuration of a matrix (releases x disks x faults x
//! restarts x retries) with the same BFS as `check`, print one table, and compare each verdict and
//! shortest length with the baseline `findings.json`. Exit 0 when all agree, 1 when one changed
//! (listed), 2 on bad input; `--update` rewrites the baseline, `--junit` writes a JUnit report.

use super::{usage, Fail};
use crate::files::write_atomically;
use crate::matrix::axes::{self, Axes};
use crate::matrix::baseline::Baseline;
use crate::matrix::{self, junit, table, Row};
use clap::Args;
use livemerge_model::{Faults, Release, MODEL_VERSION};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Args, Debug)]
pub struct MatrixArgs {
    // The axes are parsed by clap, each list whole (hence `::std::vec::Vec`: clap would take a
    // plain `Vec` for a repeated flag).
    /// Releases to check: `all`, or a comma-separated list of 3.5.0, 3.5.7, 3.6.0, 3.6.1, 4.0.0,
    /// 4.0.2, 4.1.0, 4.2.0, 4.3.0, 4.4.0, 4.5.7 [default: all]. `--pollers` is an alias.
    #[arg(long, alias = "pollers", value_parser = axes::parse_releases)]
    pub(crate) releases: Option<::std::vec::Vec<Release>>,
    /// Disk counts: a range `1..3`, a number, or a comma-separated list [default: 1..3].
    #[arg(long, value_parser = axes::parse_disks)]
    pub(crate) disks: Option<::std::vec::Vec<u8>>,
    /// Fault sets, comma-separated: `none`, `all`, or fault names joined by `+`
    /// (merge-job-fails+delete-volume-fails; image-info-fails) [default: none,all].
    #[arg(long, value_parser = axes::parse_fault_sets)]
    pub(crate) faults: Option<::std::vec::Vec<Faults>>,
    /// Restart counts: a range, a number or a list [default: 0,1].
    #[arg(long, value_parser = axes::parse_numbers)]
    pub(crate) restarts: Option<::std::vec::Vec<u8>>,
    /// Retry counts (removals started again after a failed one): a range, a number or a list
    /// [default: 1].
    #[arg(long, value_parser = axes::parse_numbers)]
    pub(crate) retries: Option<::std::vec::Vec<u8>>,
    /// The baseline to compare with (and to rewrite with --update).
    #[arg(long, value_name = "FILE", default_value = "findings.json")]
    pub(crate) baseline: PathBuf,
    /// Rewrite the baseline with this run's table (its configurations only) and exit 0.
    #[arg(long)]
    pub(crate) update: bool,
    /// Also write the results as JUnit XML to FILE.
    #[arg(long, value_name = "FILE")]
    pub(crate) junit: Option<PathBuf>,
    /// Threads in all (default: all cores); the configurations are spread over them.
    #[arg(long, value_parser = crate::bounds::threads)]
    pub(crate) threads: Option<usize>,
    /// No progress lines on stderr.
    #[arg(long, short)]
    pub(crate) quiet: bool,
}

pub fn run(args: MatrixArgs) -> Result<u8, Fail> {
    let axes = axes_of(&args);
    let configs = axes.configurations().map_err(usage)?;
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if let Some(file) = &args.junit {
        // Refused before the run, not after the table: a report that cannot be written.
        let dir = file
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."));
        if !dir.is_dir() || file.is_dir() {
            return Err(usage(format!(
                "--junit {}: cannot write there (no such directory, or a directory)",
                file.display()
            )));
        }
    }
    let shown = args.baseline.display().to_string();
    // Read the baseline before the (possibly long) run: a bad file is an error at once.
    let baseline = match Baseline::load(&args.baseline) {
        Ok(b) => Some(b),
        Err(_) if args.update && !args.baseline.exists() => None,
        Err(e) if args.update => {
            eprintln!("livemerge: replacing an unreadable baseline: {e}");
            None
        }
        Err(e) => {
            return Err(usage(format!(
                "{e} (livemerge matrix --update writes a new baseline)"
            )))
        }
    };

    let start = Instant::now();
    let finished = Mutex::new((0usize, start));
    let total = configs.len();
    let quiet = args.quiet;
    let rows = matrix::run(&configs, threads, &|_row: &Row| {
        let mut g = livemerge_impl::sync::lock(&finished);
        g.0 += 1;
        if !quiet && g.1.elapsed() >= Duration::from_secs(2) {
            g.1 = Instant::now();
            eprintln!(
                "livemerge: {}/{total} configurations checked ({:.0}s)",
                g.0,
                start.elapsed().as_secs_f64()
            );
        }
    });
    let seconds = start.elapsed().as_secs_f64();
    let current = Baseline::from_rows(&rows);
    let diffs = baseline
        .as_ref()
        .map(|b| b.compare(&current))
        .unwrap_or_default();

    say!(
        "livemerge matrix: {} configuration(s) (releases {}; disks {}; faults {}; restarts {}; retries {}), {threads} thread(s), {seconds:.2} s",
        rows.len(),
        join(&axes.releases),
        join(&axes.disks),
        axes.faults.iter().map(|f| axes::fault_set_name(*f)).collect::<Vec<_>>().join(","),
        join(&axes.restarts),
        join(&axes.retries)
    );
    say_raw!("{}", table::render(&rows, &diffs));
    say!("");

    if let Some(file) = &args.junit {
        let xml = junit::render(&rows, &diffs, &shown)
            .map_err(|e| usage(format!("cannot write the JUnit report: {e}")))?;
        write_atomically(file, xml.as_bytes()).map_err(usage)?;
    }

    let verdicts: usize = current
        .configurations
        .iter()
        .map(|c| c.properties.len())
        .sum();
    if let Some(b) = &baseline {
        if b.model_version != MODEL_VERSION {
            say!(
                "note: {shown} was written by model version {}, this is model version {MODEL_VERSION}",
                b.model_version
            );
        }
        let compared: std::collections::HashSet<&str> = current
            .configurations
            .iter()
            .map(|c| c.configuration.as_str())
            .collect();
        let other = b
            .configurations
            .iter()
            .filter(|c| !compared.contains(c.configuration.as_str()))
            .count();
        if other > 0 {
            say!("note: {other} configuration(s) of {shown} are outside these axes and were not compared");
        }
    }
    if args.update {
        current.save(&args.baseline).map_err(usage)?;
        if !diffs.is_empty() {
            say!("{} difference(s) from the old baseline:", diffs.len());
            for d in &diffs {
                say!("  {d}");
            }
        }
        say!(
            "wrote {shown}: {} configuration(s), {verdicts} verdict(s)",
            rows.len()
        );
        return Ok(0);
    }
    if diffs.is_empty() {
        say!(
            "all {verdicts} verdicts and lengths match {shown}: the VIOL cells are known findings (docs/findings.md), expected by the baseline"
        );
        return Ok(0);
    }
    say!(
        "{} difference(s) from {shown} (configuration: \"property\": baseline -> now):",
        diffs.len()
    );
    for d in &diffs {
        say!("  {d}");
    }
    say!("a verdict or a length changed; if the change is meant, run `livemerge matrix --update` and commit {shown}");
    Ok(1)
}

/// The axes the flags select, over the defaults.
fn axes_of(args: &MatrixArgs) -> Axes {
    let d = Axes::default();
    Axes {
        releases: args.releases.clone().unwrap_or(d.releases),
        disks: args.disks.clone().unwrap_or(d.disks),
        faults: args.faults.clone().unwrap_or(d.faults),
        restarts: args.restarts.clone().unwrap_or(d.restarts),
        retries: args.retries.clone().unwrap_or(d.retries),
    }
}

fn join<T: std::fmt::Display>(v: &[T]) -> String {
    v.iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join(",")
}
