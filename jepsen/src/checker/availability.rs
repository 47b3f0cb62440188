//! Availability: which share of the operations sent to each node succeeded, during each fault
//! and outside them. In `eventual` mode both sides of a partition should keep serving; in
//! `strong` mode the minority side should refuse quickly (`fail`) rather than time out (`info`).
//! Reported, not judged.

use serde::Serialize;

use crate::history::{History, NemesisPeriod, OpOutcome};

/// Outcomes of the operations invoked on one node during one period.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NodeShare {
    pub node: u64,
    pub ok: usize,
    pub fail: usize,
    pub info: usize,
}

/// One period: a fault (`name`, `detail`) or the quiet time between faults (`quiet`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Period {
    pub name: String,
    pub detail: String,
    pub start_ms: u64,
    pub end_ms: u64,
    pub nodes: Vec<NodeShare>,
}

pub fn check(history: &History, nemesis: &[NemesisPeriod]) -> Vec<Period> {
    let mut periods: Vec<Period> = nemesis
        .iter()
        .map(|p| Period {
            name: p.name.clone(),
            detail: p.detail.clone(),
            start_ms: p.start_ms,
            end_ms: p.end_ms,
            nodes: Vec::new(),
        })
        .collect();
    let mut quiet = Period {
        name: "quiet".into(),
        detail: "no fault active".into(),
        start_ms: 0,
        end_ms: history
            .ops()
            .iter()
            .filter_map(|o| o.complete_ms)
            .max()
            .unwrap_or(0),
        nodes: Vec::new(),
    };
    for op in history.ops() {
        let at = op.invoke_ms;
        let target = periods
            .iter_mut()
            .find(|p| p.start_ms <= at && at < p.end_ms)
            .unwrap_or(&mut quiet);
        let share = match target.nodes.iter().position(|s| s.node == op.node) {
            Some(i) => &mut target.nodes[i],
            None => {
                target.nodes.push(NodeShare {
                    node: op.node,
                    ..NodeShare::default()
                });
                let last = target.nodes.len() - 1;
                &mut target.nodes[last]
            }
        };
        match op.outcome() {
            OpOutcome::Ok => share.ok += 1,
            OpOutcome::Fail => share.fail += 1,
            OpOutcome::Info => share.info += 1,
        }
    }
    periods.insert(0, quiet);
    for p in &mut periods {
        p.nodes.sort_by_key(|s| s.node);
    }
    periods
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::OpKind;

    #[test]
    fn operations_count_toward_the_fault_active_when_they_began() {
        let mut h = History::new();
        for (node, at, outcome) in [
            (1, 5, OpOutcome::Ok),
            (1, 15, OpOutcome::Fail),
            (2, 16, OpOutcome::Ok),
        ] {
            let i = h.invoke(1, node, "k", OpKind::Read, None, at);
            h.complete(i, outcome, None, String::new(), at + 1);
        }
        let fault = NemesisPeriod {
            name: "partition".into(),
            detail: "n1 | n2".into(),
            start_ms: 10,
            end_ms: 20,
        };
        let periods = check(&h, &[fault]);
        assert_eq!(
            periods[0].nodes,
            vec![NodeShare {
                node: 1,
                ok: 1,
                fail: 0,
                info: 0
            }]
        );
        assert_eq!(
            periods[1].nodes,
            vec![
                NodeShare {
                    node: 1,
                    ok: 0,
                    fail: 1,
                    info: 0
                },
                NodeShare {
                    node: 2,
                    ok: 1,
                    fail: 0,
                    info: 0
                }
            ]
        );
    }
}
