//! The facts a reader needs to reproduce or judge a run (when, which commit, which machine,
//! which server versions), and how busy the machine was, for every subcommand's report.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `YYYY-MM-DD HH:MM:SS UTC` for Unix time `secs` (proleptic Gregorian calendar; no time
/// zone database needed).
pub fn utc(secs: u64) -> String {
    let (year, month, day, hour, minute, second) =
        kvorum_jepsen::report::civil::utc_parts(secs as i64);
    format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02} UTC")
}

/// The first line a command prints (stdout, else stderr), if it runs.
fn first_line(program: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let text = if output.stdout.is_empty() {
        output.stderr
    } else {
        output.stdout
    };
    String::from_utf8_lossy(&text)
        .lines()
        .next()
        .map(|l| l.trim().to_owned())
}

/// The commit checked out in the current folder (with `+changes` if tracked files differ
/// from it), or `None` outside a git checkout.
fn commit() -> Option<String> {
    let git = Path::new("git");
    let head = first_line(git, &["rev-parse", "--short=12", "HEAD"])?;
    let dirty = Command::new("git")
        // No optional locks: a status must not take the index lock from someone at work in
        // the same checkout.
        .args([
            "--no-optional-locks",
            "status",
            "--porcelain",
            "--untracked-files=no",
        ])
        .stdin(Stdio::null())
        .output()
        .ok()
        .is_some_and(|o| o.status.success() && !o.stdout.is_empty());
    Some(if dirty {
        format!("{head} +changes")
    } else {
        head
    })
}

/// A `key: value` line of a /proc file.
fn proc_field(path: &str, key: &str) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_owned())
}

fn os_name() -> Option<String> {
    let text = std::fs::read_to_string("/etc/os-release").ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_owned())
}

/// Date, commit, CPUs, memory, kernel, OS and the servers' versions (`name`, binary: asked
/// for `--version`), in report order.
pub fn facts(started: u64, servers: &[(&str, Option<&Path>)]) -> Vec<(String, String)> {
    let mut facts = vec![
        ("date".to_owned(), utc(started)),
        ("unix time".to_owned(), started.to_string()),
    ];
    if let Some(commit) = commit() {
        facts.push(("commit".to_owned(), commit));
    }
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    facts.push(("CPUs (nproc)".to_owned(), cpus.to_string()));
    if let Some(model) = proc_field("/proc/cpuinfo", "model name") {
        facts.push(("CPU model".to_owned(), model));
    }
    if let Some(memory) = proc_field("/proc/meminfo", "MemTotal") {
        facts.push(("memory".to_owned(), memory));
    }
    if let Ok(kernel) = std::fs::read_to_string("/proc/sys/kernel/osrelease") {
        facts.push(("kernel".to_owned(), kernel.trim().to_owned()));
    }
    if let Some(os) = os_name() {
        facts.push(("OS".to_owned(), os));
    }
    for &(name, bin) in servers {
        if let Some(bin) = bin {
            let version = first_line(bin, &["--version"]).unwrap_or_else(|| "unknown".into());
            facts.push((format!("{name} version"), version));
        }
    }
    facts
}

/// CPU seconds the whole machine has been busy (all cores: user, nice, system, irq, softirq,
/// steal), from the first line of `/proc/stat`; `None` if it cannot be read.
pub fn busy_seconds() -> Option<f64> {
    parse_busy(&std::fs::read_to_string("/proc/stat").ok()?)
}

/// The busy ticks of `/proc/stat`'s `cpu` line, in seconds (USER_HZ is 100). Idle and iowait
/// are not busy; guest time is already inside user.
fn parse_busy(stat: &str) -> Option<f64> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    let field = |i: usize| fields.get(i).copied().unwrap_or(0);
    // user nice system idle iowait irq softirq steal
    let busy = field(0) + field(1) + field(2) + field(5) + field(6) + field(7);
    Some(busy as f64 / 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine_busy_time_leaves_out_idle_and_iowait() {
        let stat = "cpu  100 20 30 5000 700 1 2 3 0 0\ncpu0 50 10 15 2500 350 0 1 1 0 0\n";
        assert_eq!(parse_busy(stat), Some(1.56));
        assert_eq!(parse_busy("intr 1 2 3"), None);
        assert!(busy_seconds().is_some_and(|s| s > 0.0));
    }

    #[test]
    fn formats_utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(1_700_000_000), "2023-11-14 22:13:20 UTC");
        assert_eq!(utc(4_102_444_799), "2099-12-31 23:59:59 UTC");
    }
}
