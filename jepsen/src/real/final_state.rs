//! After the final heal: wait until hinted handoff has drained, compare every replica's own
//! copy of every key (convergence, judged *before* any read could repair it), then read every
//! key at `ALL` through every node (the final views the checkers judge).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use kvorum_resp::Frame;
use serde::{Deserialize, Serialize};

use super::client::{text, Answer};
use super::cluster::command;
use super::workload::Workload;
use crate::checker::{FinalState, FinalView};

/// How the replicas looked once hints had drained.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Convergence {
    pub keys: usize,
    pub converged: usize,
    /// Keys whose replicas still differ at the deadline, with each node's copy.
    pub diverged: BTreeMap<String, Vec<String>>,
    /// Time from the final heal until every replica agreed (or the deadline).
    pub wait_ms: u64,
    /// Hints still pending at the end, per node.
    pub hints_left: Vec<u64>,
}

impl Convergence {
    pub fn valid(&self) -> bool {
        self.diverged.is_empty()
    }
}

/// Pending hints on one node (`INFO hints`), `None` if it did not answer.
fn hints_pending(addr: SocketAddr) -> Option<u64> {
    let Answer::Ok(frame) = command(addr, &["INFO", "hints"]) else {
        return None;
    };
    text(&frame)?
        .lines()
        .find_map(|l| l.strip_prefix("hints_count:"))
        .and_then(|v| v.trim().parse().ok())
}

/// Every node's own copy of `key` (`REPLICA GET`), as text; `None` for nil.
fn copies(addrs: &[SocketAddr], key: &str) -> Vec<Option<String>> {
    addrs
        .iter()
        .map(|&addr| match command(addr, &["REPLICA", "GET", key]) {
            Answer::Ok(Frame::Null) => None,
            Answer::Ok(frame) => Some(render(&frame)),
            other => Some(format!("<{}>", other.note())),
        })
        .collect()
}

fn render(frame: &Frame) -> String {
    match frame {
        Frame::Array(items) | Frame::Set(items) => {
            let mut parts: Vec<String> = items.iter().map(render).collect();
            parts.sort();
            format!("[{}]", parts.join(" "))
        }
        Frame::Integer(n) => n.to_string(),
        other => text(other).unwrap_or_else(|| format!("{other:?}")),
    }
}

/// Waits (up to `within`) for hints to drain and for every key's copies to agree: either no
/// node holds it, or exactly `replication` nodes hold the same copy.
pub fn converge(
    addrs: &[SocketAddr],
    keys: &[String],
    replication: usize,
    within: Duration,
) -> Convergence {
    let start = Instant::now();
    let mut report;
    loop {
        let hints: Vec<u64> = addrs
            .iter()
            .map(|&a| hints_pending(a).unwrap_or(u64::MAX))
            .collect();
        report = Convergence {
            keys: keys.len(),
            hints_left: hints.clone(),
            ..Convergence::default()
        };
        if hints.iter().all(|&h| h == 0) {
            for key in keys {
                let held = copies(addrs, key);
                let present: Vec<&String> = held.iter().flatten().collect();
                let agree = present.windows(2).all(|w| w[0] == w[1]);
                if agree && (present.is_empty() || present.len() == replication) {
                    report.converged += 1;
                } else {
                    report.diverged.insert(
                        key.clone(),
                        held.iter()
                            .enumerate()
                            .map(|(i, c)| format!("n{}: {}", i + 1, c.as_deref().unwrap_or("nil")))
                            .collect(),
                    );
                }
            }
            if report.diverged.is_empty() {
                break;
            }
        }
        if start.elapsed() > within {
            if report.converged + report.diverged.len() < keys.len() {
                // Hints never drained: the keys were not compared, so none counts as converged.
                for key in keys {
                    report
                        .diverged
                        .entry(key.clone())
                        .or_insert_with(|| vec!["hints never drained".into()]);
                }
            }
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    report.wait_ms = start.elapsed().as_millis() as u64;
    report
}

/// Reads every key at `ALL` through every node. A read that fails is retried for a while; a
/// key that cannot be read at all is reported as [`FinalState::Other`], which the checkers
/// treat as a wrong view.
pub fn read_all(addrs: &[SocketAddr], keys: &[String], workload: Workload) -> Vec<FinalView> {
    let mut views = Vec::new();
    for key in keys {
        for (i, &addr) in addrs.iter().enumerate() {
            let args: Vec<&str> = match workload {
                Workload::Register | Workload::Counter => vec!["WITH", "ALL", "--", "GET", key],
                Workload::Set => vec!["WITH", "ALL", "--", "SMEMBERS", key],
                Workload::Siblings => vec!["WITH", "ALL", "--", "GETCTX", key],
            };
            let deadline = Instant::now() + Duration::from_secs(20);
            let answer = loop {
                let answer = command(addr, &args);
                if matches!(answer, Answer::Ok(_)) || Instant::now() > deadline {
                    break answer;
                }
                std::thread::sleep(Duration::from_millis(300));
            };
            views.push(FinalView {
                key: key.clone(),
                source: format!("read at ALL via n{}", i + 1),
                state: decode(&answer, workload),
            });
        }
    }
    views
}

fn decode(answer: &Answer, workload: Workload) -> FinalState {
    let Answer::Ok(frame) = answer else {
        return FinalState::Other(format!("no answer: {}", answer.note()));
    };
    let numbers = |items: &[Frame]| -> Option<std::collections::BTreeSet<u64>> {
        items
            .iter()
            .filter(|f| !f.is_null())
            .map(|f| text(f).and_then(|t| t.parse().ok()))
            .collect()
    };
    let other = || FinalState::Other(format!("{frame:?}"));
    match (workload, frame) {
        (_, Frame::Null) => FinalState::Absent,
        (Workload::Counter, f) => text(f)
            .and_then(|t| t.parse().ok())
            .map_or_else(other, FinalState::Counter),
        (Workload::Register, f) => text(f)
            .and_then(|t| t.parse().ok())
            .map_or_else(other, |v: u64| FinalState::Set([v].into())),
        (Workload::Set, Frame::Array(items) | Frame::Set(items)) => {
            numbers(items).map_or_else(other, FinalState::Set)
        }
        (Workload::Siblings, f) => match f.as_items() {
            Some([_, siblings]) => siblings
                .as_items()
                .and_then(numbers)
                .map_or_else(other, FinalState::Set),
            _ => other(),
        },
        _ => other(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_answers_decode_per_workload() {
        let set = Answer::Ok(Frame::Array(vec![Frame::bulk("3"), Frame::bulk("1")]));
        assert_eq!(decode(&set, Workload::Set), FinalState::Set([1, 3].into()));
        let counter = Answer::Ok(Frame::bulk("-7"));
        assert_eq!(decode(&counter, Workload::Counter), FinalState::Counter(-7));
        let ctx = Answer::Ok(Frame::Array(vec![
            Frame::bulk("01"),
            Frame::Array(vec![Frame::bulk("5"), Frame::Null]),
        ]));
        assert_eq!(
            decode(&ctx, Workload::Siblings),
            FinalState::Set([5].into())
        );
        assert_eq!(
            decode(&Answer::Ok(Frame::Null), Workload::Set),
            FinalState::Absent
        );
        assert!(matches!(
            decode(&Answer::Info("lost".into()), Workload::Set),
            FinalState::Other(_)
        ));
        assert!(matches!(
            decode(&Answer::Ok(Frame::bulk("x")), Workload::Counter),
            FinalState::Other(_)
        ));
    }
}
