//! `kvorum-bench`: reproducible performance figures for kvorum, and the same figures for
//! Redis and etcd measured in the same run, so that only same-run ratios are reported
//! (docs/BENCHMARKS.md).
//!
//! The library holds the YCSB-style load generator; the binary's subcommands (`run`, `compare`,
//! `hops`, `space`, `repair-impact`, in `main.rs` and its modules) drive it.
//!
//! - [`driver`]: one connection to one contender: RESP (kvorum, redis-server; optional
//!   `CONSISTENCY` and `WAIT`), kvorum's native client, etcd's JSON gateway. A batch of
//!   operations is one pipeline.
//! - [`ycsb`]: workloads A–F plus write-only and read-only, uniform / zipfian / latest keys,
//!   the load phase, closed- and open-loop runs with warm-up and bounds, HDR histograms per
//!   operation and per second, and server CPU per operation from /proc.
//! - [`machine`]: the date, commit, machine and server versions a report records, and how busy
//!   the machine was (a disturbed run shows it).
//! - [`report`]: `results.json`, a self-contained `report.html` with SVG plots, and the
//!   `bench-results/latest.json` summary.
//!
//! [`cpu_seconds`] reads one process's CPU time; [`ycsb::cpu`] sums it over a process tree.

use std::path::Path;

pub mod driver;
pub mod machine;
pub mod report;
pub mod ycsb;

/// User + system CPU seconds a process has used, from `/proc/<pid>/stat` (fields 14 and 15, in
/// clock ticks of `ticks_per_second`). `None` if the process is gone or the file is malformed.
pub fn cpu_seconds(proc_root: &Path, pid: u32, ticks_per_second: u64) -> Option<f64> {
    let stat = std::fs::read_to_string(proc_root.join(pid.to_string()).join("stat")).ok()?;
    parse_cpu_ticks(&stat).map(|ticks| ticks as f64 / ticks_per_second.max(1) as f64)
}

/// utime + stime from the text of a `/proc/<pid>/stat` file. The command name (field 2) may
/// hold spaces and parentheses, so fields are counted after its last `)`.
pub fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace().skip(11); // field 3 is the first here
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_utime_and_stime_even_with_odd_process_names() {
        let stat =
            "1234 (kv (orum) x) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 8 0 1 1 1";
        assert_eq!(parse_cpu_ticks(stat), Some(300));
        assert_eq!(parse_cpu_ticks("garbage"), None);
    }

    #[test]
    fn reads_this_process() {
        assert!(cpu_seconds(Path::new("/proc"), std::process::id(), 100).is_some());
    }
}
