//! `kvorum-jepsen check DIR`: judges a stored run again with the current checkers, from its
//! `run.json`, `history.jsonl`, `final.json` and node logs, so a checker fix never loses the
//! evidence of past runs.

use std::path::Path;

use serde_json::Value;

use super::final_state::Convergence;
use super::verdict::{judge, Evidence, Verdict};
use super::workload::{Mode, Workload};
use crate::checker::{logs, FinalView};
use crate::report::jsonl;

#[derive(Debug, thiserror::Error)]
pub enum RecheckError {
    #[error("{file}: {reason}")]
    Bad { file: String, reason: String },
}

fn bad(file: &str, reason: impl ToString) -> RecheckError {
    RecheckError::Bad {
        file: file.to_owned(),
        reason: reason.to_string(),
    }
}

pub fn recheck(dir: &Path) -> Result<Verdict, RecheckError> {
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).map_err(|e| bad(name, e));
    let run: Value = serde_json::from_str(&read("run.json")?).map_err(|e| bad("run.json", e))?;
    let workload = run["config"]["workload"]
        .as_str()
        .and_then(Workload::parse)
        .ok_or_else(|| bad("run.json", "no known config.workload"))?;
    let mode = run["config"]["mode"]
        .as_str()
        .and_then(Mode::parse)
        .ok_or_else(|| bad("run.json", "no known config.mode"))?;
    let file =
        std::fs::File::open(dir.join("history.jsonl")).map_err(|e| bad("history.jsonl", e))?;
    let (history, periods) =
        jsonl::read(std::io::BufReader::new(file)).map_err(|e| bad("history.jsonl", e))?;
    let after: Value =
        serde_json::from_str(&read("final.json")?).map_err(|e| bad("final.json", e))?;
    let convergence: Convergence =
        serde_json::from_value(after["convergence"].clone()).map_err(|e| bad("final.json", e))?;
    let handoff: Convergence =
        serde_json::from_value(after["handoff"].clone()).map_err(|e| bad("final.json", e))?;
    let crashes = run["config"]["nemesis"]["families"]
        .as_array()
        .is_some_and(|families| families.iter().any(|f| f == "Kill"));
    let finals: Vec<FinalView> =
        serde_json::from_value(after["finals"].clone()).map_err(|e| bad("final.json", e))?;
    let aborted = after["aborted"].as_str().map(str::to_owned);
    let nodes = run["config"]["nodes"].as_u64().unwrap_or(0);
    let logs: Vec<_> = (1..=nodes)
        .map(|n| {
            let text = std::fs::read_to_string(dir.join(format!("nodes/n{n}/node.log")))
                .unwrap_or_default();
            logs::scan(&format!("n{n}"), &text)
        })
        .collect();
    Ok(judge(&Evidence {
        workload,
        mode,
        history: &history,
        nemesis: &periods,
        crashes,
        handoff: &handoff,
        convergence: &convergence,
        finals: &finals,
        logs: &logs,
        aborted,
    }))
}
