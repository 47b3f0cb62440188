//! From a recorded run to `results.json`: every checker that applies to the workload, each
//! with its own verdict, and the run's verdict (`false` dominates `unknown` dominates `true`,
//! as in Jepsen). What a mode does not promise is measured and reported, not judged: the
//! `eventual` register's stale reads and overwritten writes are its cost.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::{json, Value};

use super::final_state::Convergence;
use super::workload::{Mode, Workload};
use crate::checker::logs::LogFindings;
use crate::checker::{
    availability, counter, linearizable, set, set_full, siblings, stale_reads, FinalState,
    FinalView,
};
use crate::history::{History, NemesisPeriod, OpKind, OpOutcome};

/// Search steps per key for the linearizability check; a key beyond it is `unknown`.
const WGL_BUDGET: u64 = 2_000_000;

/// A run's verdict, Jepsen's three-valued one.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Validity {
    True,
    Unknown,
    False,
}

impl Validity {
    fn of(ok: bool) -> Validity {
        if ok {
            Validity::True
        } else {
            Validity::False
        }
    }
}

/// Everything the checkers get: the history, the faults, and what was found after the heal.
pub struct Evidence<'a> {
    pub workload: Workload,
    pub mode: Mode,
    pub history: &'a History,
    pub nemesis: &'a [NemesisPeriod],
    /// Whether the nemesis killed processes: a coordinator killed between answering a client
    /// and storing its hints loses them (only read repair, or the anti-entropy still to come,
    /// brings those replicas up to date), so convergence by handoff alone is then measured,
    /// not required.
    pub crashes: bool,
    /// Replicas compared after the heal, before any read.
    pub handoff: &'a Convergence,
    /// Replicas compared after the final reads at `ALL`.
    pub convergence: &'a Convergence,
    pub finals: &'a [FinalView],
    pub logs: &'a [LogFindings],
    /// Set when the run itself could not do what it set out to (a fault that failed).
    pub aborted: Option<String>,
}

pub struct Verdict {
    pub valid: Validity,
    pub results: Value,
    /// One line per check for the terminal.
    pub summary: Vec<String>,
}

pub fn judge(e: &Evidence<'_>) -> Verdict {
    let mut checks: BTreeMap<&str, (Validity, Value)> = BTreeMap::new();
    let stats = stats(e.history);
    let info_share =
        stats["info"].as_f64().unwrap_or(0.0) / stats["total"].as_f64().unwrap_or(1.0).max(1.0);

    let unreadable: Vec<String> = e
        .history
        .ops()
        .iter()
        .enumerate()
        .filter(|(_, o)| o.note.starts_with("unreadable reply"))
        .map(|(i, o)| format!("#{i}: {}", o.note))
        .collect();
    checks.insert(
        "replies",
        (
            Validity::of(unreadable.is_empty()),
            json!({ "unreadable": unreadable }),
        ),
    );
    let panics: Vec<&LogFindings> = e.logs.iter().filter(|l| !l.panics.is_empty()).collect();
    checks.insert(
        "logs",
        (Validity::of(panics.is_empty()), json!({ "nodes": e.logs })),
    );
    let mut handoff = serde_json::to_value(e.handoff).unwrap_or(Value::Null);
    handoff["judged"] = json!(!e.crashes);
    checks.insert(
        "handoff",
        (Validity::of(e.crashes || e.handoff.valid()), handoff),
    );
    checks.insert(
        "convergence",
        (
            Validity::of(e.convergence.valid()),
            serde_json::to_value(e.convergence).unwrap_or(Value::Null),
        ),
    );

    match e.workload {
        Workload::Register => {
            let report = linearizable::check_history(e.history, WGL_BUDGET);
            let stale = stale_reads::check(e.history);
            let overwritten = overwritten_writes(e.history, e.finals);
            let details = json!({
                "keys": report.keys,
                "ops_checked": report.ops_checked,
                "violations": report.violations.iter().map(|v| json!({
                    "key": v.key,
                    "longest_linearizable_prefix": v.prefix.iter().map(|&i| describe(e.history, i)).collect::<Vec<_>>(),
                    "cannot_follow": describe(e.history, v.blocked),
                })).collect::<Vec<_>>(),
                "unknown_keys": report.unknown,
                "stale_reads": stale.len(),
                "stale_examples": stale.iter().take(5).map(|s| format!("{s:?}")).collect::<Vec<_>>(),
                "overwritten_writes": overwritten,
                "judged": e.mode == Mode::Strong,
            });
            let validity = if e.mode == Mode::Strong {
                if !report.violations.is_empty() {
                    Validity::False
                } else if !report.unknown.is_empty() {
                    Validity::Unknown
                } else {
                    Validity::True
                }
            } else {
                // Not promised: measured. The cost is in the details.
                Validity::True
            };
            checks.insert("linearizable", (validity, details));
        }
        Workload::Set => {
            let violations = set::check(e.history, e.finals);
            checks.insert(
                "set",
                (
                    Validity::of(violations.is_empty()),
                    json!({
                        "violations": violations.iter().take(50).map(ToString::to_string).collect::<Vec<_>>(),
                        "violation_count": violations.len(),
                    }),
                ),
            );
            let mut reads = serde_json::to_value(set_full::check(e.history)).unwrap_or(Value::Null);
            reads["judged"] = json!(false);
            checks.insert("set_reads", (Validity::True, reads));
        }
        Workload::Counter => {
            let violations = counter::check(e.history, e.finals);
            checks.insert(
                "counter",
                (
                    Validity::of(violations.is_empty()),
                    json!({
                        "violations": violations.iter().take(50).map(ToString::to_string).collect::<Vec<_>>(),
                        "finals": e.finals.iter().map(|v| format!("{} {}: {:?}", v.key, v.source, v.state)).collect::<Vec<_>>(),
                    }),
                ),
            );
        }
        Workload::Siblings => {
            let report = siblings::check(e.history, e.finals);
            checks.insert(
                "siblings",
                (
                    Validity::of(report.valid()),
                    serde_json::to_value(&report).unwrap_or(Value::Null),
                ),
            );
        }
    }

    if let Some(reason) = &e.aborted {
        checks.insert("run", (Validity::False, json!({ "aborted": reason })));
    }
    let valid = checks
        .values()
        .map(|(v, _)| *v)
        .max()
        .unwrap_or(Validity::True);
    let summary = checks
        .iter()
        .map(|(name, (v, details))| format!("{name}: {}", line(name, *v, details)))
        .collect();
    let results = json!({
        "valid": valid,
        "workload": e.workload,
        "mode": e.mode,
        "stats": stats,
        "info_share": info_share,
        "checks": checks.iter().map(|(k, (v, d))| (k.to_string(), json!({"valid": v, "details": d}))).collect::<BTreeMap<_, _>>(),
        "availability": availability::check(e.history, e.nemesis),
    });
    Verdict {
        valid,
        results,
        summary,
    }
}

/// A short human line for one check.
fn line(name: &str, v: Validity, d: &Value) -> String {
    let verdict = match v {
        // What the mode does not promise is measured: say so rather than "ok".
        Validity::True if d["judged"] == json!(false) => "measured",
        Validity::True => "ok",
        Validity::Unknown => "UNKNOWN",
        Validity::False => "FAILED",
    };
    let extra = match name {
        "linearizable" => format!(
            "{} keys, {} violations, {} unknown, {} stale reads, {} overwritten writes",
            d["keys"],
            d["violations"].as_array().map_or(0, Vec::len),
            d["unknown_keys"].as_array().map_or(0, Vec::len),
            d["stale_reads"],
            d["overwritten_writes"]["count"],
        ),
        "set" => format!("{} violations", d["violation_count"]),
        "set_reads" => format!(
            "{} acknowledged, {} reads, {} stale, worst {} ms",
            d["acknowledged"], d["reads"], d["stale"], d["worst_staleness_ms"]
        ),
        "counter" => format!(
            "{} violations",
            d["violations"].as_array().map_or(0, Vec::len)
        ),
        "siblings" => format!(
            "{} acknowledged, {} lost, {} invented, max {} siblings",
            d["acknowledged"],
            d["lost"].as_array().map_or(0, Vec::len),
            d["invented"].as_array().map_or(0, Vec::len),
            d["max_siblings"]
        ),
        "convergence" => format!(
            "after the final reads, {}/{} keys agree on every replica",
            d["converged"], d["keys"]
        ),
        "handoff" => format!(
            "after the heal, {}/{} keys agree on every replica by hinted handoff alone in {} ms{}",
            d["converged"],
            d["keys"],
            d["wait_ms"],
            if d["judged"] == json!(true) {
                ""
            } else {
                "; measured, not required: processes were killed"
            }
        ),
        "logs" => "panics scanned".to_owned(),
        _ => String::new(),
    };
    format!("{verdict} ({extra})")
}

/// Operation counts by outcome and by function.
fn stats(history: &History) -> Value {
    let mut by_f: BTreeMap<&str, [usize; 3]> = BTreeMap::new();
    let mut totals = [0usize; 3];
    for op in history.ops() {
        let slot = match op.outcome() {
            OpOutcome::Ok => 0,
            OpOutcome::Fail => 1,
            OpOutcome::Info => 2,
        };
        by_f.entry(op.kind.name()).or_default()[slot] += 1;
        totals[slot] += 1;
    }
    json!({
        "total": history.ops().len(),
        "ok": totals[0], "fail": totals[1], "info": totals[2],
        "by_function": by_f.iter().map(|(f, c)| (f.to_string(), json!({"ok": c[0], "fail": c[1], "info": c[2]}))).collect::<BTreeMap<_, _>>(),
    })
}

/// Acknowledged register writes that no read ever returned and that no final read shows:
/// writes a later write replaced before anyone saw them (the register's last-writer cost in
/// `eventual` mode; with `strong` a replaced write is simply an earlier one).
fn overwritten_writes(history: &History, finals: &[FinalView]) -> Value {
    let read: BTreeSet<u64> = history
        .ops()
        .iter()
        .filter(|o| o.kind == OpKind::Read && o.outcome() == OpOutcome::Ok)
        .filter_map(|o| o.value)
        .collect();
    let in_finals: BTreeSet<u64> = finals
        .iter()
        .filter_map(|v| match &v.state {
            FinalState::Set(values) => Some(values.iter().copied()),
            _ => None,
        })
        .flatten()
        .collect();
    let acked: Vec<u64> = history
        .ops()
        .iter()
        .filter(|o| o.kind == OpKind::Write && o.outcome() == OpOutcome::Ok)
        .filter_map(|o| o.value)
        .collect();
    let unseen = acked
        .iter()
        .filter(|v| !read.contains(v) && !in_finals.contains(v))
        .count();
    json!({ "acknowledged": acked.len(), "count": unseen })
}

fn describe(history: &History, index: usize) -> String {
    history.ops().get(index).map_or_else(
        || format!("#{index}"),
        |o| {
            format!(
                "#{index} p{} n{} {} {} {:?} {:?} [{}..{} ms] {}",
                o.process,
                o.node,
                o.kind.name(),
                o.key,
                o.value,
                o.outcome(),
                o.invoke_ms,
                o.complete_ms.map_or("?".into(), |c| c.to_string()),
                o.note
            )
        },
    )
}
