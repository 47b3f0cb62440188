//! CPU seconds of the server: the given processes and all their descendants, from /proc.
//!
//! Descendants matter because a contender is often a launcher (`kvorum dev` runs each node as a
//! child process); they are found by walking `/proc/<pid>/task/<tid>/children` from each given
//! pid. A descendant that exits during the measured window takes its CPU time with it (its
//! parent collects it only when it reaps it), so servers should stay up while measured.

use std::collections::BTreeSet;
use std::path::Path;

/// Linux reports CPU times in USER_HZ ticks, which is 100 on every architecture it supports
/// for userspace (the kernel's HZ may differ, USER_HZ does not).
pub const TICKS_PER_SECOND: u64 = 100;

/// `pids` and every process descended from them, each once (pids that are gone are left out).
pub fn with_descendants(proc_root: &Path, pids: &[u32]) -> Vec<u32> {
    let mut seen = BTreeSet::new();
    let mut todo: Vec<u32> = pids.to_vec();
    while let Some(pid) = todo.pop() {
        if !proc_root.join(pid.to_string()).exists() || !seen.insert(pid) {
            continue;
        }
        todo.extend(children(proc_root, pid));
    }
    seen.into_iter().collect()
}

/// Direct children of every thread of `pid`.
fn children(proc_root: &Path, pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(proc_root.join(pid.to_string()).join("task")) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for task in tasks.flatten() {
        if let Ok(text) = std::fs::read_to_string(task.path().join("children")) {
            out.extend(
                text.split_whitespace()
                    .filter_map(|p| p.parse::<u32>().ok()),
            );
        }
    }
    out
}

/// User + system CPU seconds used so far by `pids` and their descendants.
pub fn tree_cpu_seconds(pids: &[u32]) -> f64 {
    let root = Path::new("/proc");
    with_descendants(root, pids)
        .into_iter()
        .filter_map(|pid| crate::cpu_seconds(root, pid, TICKS_PER_SECOND))
        .sum()
}

/// CPU seconds this process (the load generator) has used so far.
pub fn own_cpu_seconds() -> f64 {
    crate::cpu_seconds(Path::new("/proc"), std::process::id(), TICKS_PER_SECOND).unwrap_or(0.0)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};

    #[test]
    fn finds_children_and_grandchildren_of_this_process() {
        // sh (child) starts sleep (grandchild) and waits for it.
        let mut child = Command::new("sh")
            .args(["-c", "sleep 30 & wait"])
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let me = std::process::id();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let tree = loop {
            let tree = with_descendants(Path::new("/proc"), &[me]);
            if tree.len() >= 3 || std::time::Instant::now() > deadline {
                break tree;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        let grandchildren = children(Path::new("/proc"), child.id());
        // Kill the grandchild first (by its pid), then the child.
        for pid in &grandchildren {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(*pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(tree.contains(&me));
        assert!(tree.contains(&child.id()), "{tree:?}");
        assert_eq!(grandchildren.len(), 1, "sh should have one child (sleep)");
        assert!(tree.contains(&grandchildren[0]), "{tree:?}");
        assert!(tree_cpu_seconds(&[me]) >= own_cpu_seconds());
        assert!(with_descendants(Path::new("/proc"), &[u32::MAX]).is_empty());
    }
}
