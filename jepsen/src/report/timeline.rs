//! `timeline.html`: the run as a Gantt chart, for finding out what happened around a moment.
//! Each operation is a box from its invocation to its completion, coloured by outcome (Jepsen's
//! timeline colours), with the whole operation in its hover text; a track above the lanes shows
//! the nemesis periods, which are also shaded faintly across every lane.
//!
//! Lanes are grouped by node. Because a client whose operation ended `info` continues as a new
//! process, a run has many short-lived processes; processes of the same node that never overlap
//! in time share a lane (Jepsen's process `p + concurrency` likewise takes over the thread of
//! `p`), and the lane's label lists them. A process stays with the node of its first operation.
//!
//! The page is one self-contained file: inline CSS, a few lines of inline JS for zooming (the
//! page is complete without it), boxes as absolutely positioned elements placed in percent of
//! the run, so tens of thousands of operations cost one small element each and zooming is a
//! change of one width.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::escape::{self, num};
use super::outcome_name;
use super::packing;
use super::palette;
use super::ticks;
use crate::history::{History, NemesisPeriod, Op, OpKind, OpOutcome};

/// Members of a set read listed in the hover text before it says how many more there are.
const SHOWN_MEMBERS: usize = 16;

/// A self-contained HTML page showing every operation of `history` on a time line, with the
/// `nemesis` periods on a track of their own.
pub fn timeline_html(history: &History, nemesis: &[NemesisPeriod], title: &str) -> String {
    let end = ticks::run_end_ms(history, nemesis);
    let ops = history.ops();
    let pct = |ms: u64| num(ms as f64 / end as f64 * 100.0, 4);

    let mut html = String::with_capacity(4_096 + ops.len() * 220);
    let title = escape::text(title);
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\n<style>{STYLE}.ok{{background:{ok}}}.in{{background:{info}}}.fa{{background:{fail}}}\n</style></head>\n<body>\n<h1>{title}</h1>\n",
        ok = palette::timeline_outcome(OpOutcome::Ok),
        info = palette::timeline_outcome(OpOutcome::Info),
        fail = palette::timeline_outcome(OpOutcome::Fail),
    );
    let lanes = lanes(ops);
    let _ = writeln!(
        html,
        "<p class=\"sum\">{}</p>",
        escape::text(&summary(ops, &lanes, end))
    );
    key(&mut html, nemesis);
    html.push_str(
        "<p class=\"zoom\"><label>zoom <input type=\"range\" id=\"zoom\" min=\"0\" max=\"10\" step=\"0.5\" value=\"0\"></label> <span id=\"zoomv\">×1</span> <span class=\"hint\">hover a box for the operation</span></p>\n",
    );

    // The label column and the scrolling canvas hold the same rows in the same order.
    let mut labels = String::new();
    let mut canvas = String::new();
    labels.push_str("<div class=\"row axis\">time</div>\n");
    canvas.push_str("<div class=\"row axis\" id=\"axis\">");
    let mut grid = String::new();
    let step = ticks::nice_step(end as f64, 10);
    let decimals = ticks::decimals(step / 1_000.0);
    for t in ticks::ticks(0.0, end as f64, step) {
        let left = num(t / end as f64 * 100.0, 4);
        let _ = write!(
            canvas,
            "<span class=\"t\" style=\"left:{left}%\">{} s</span>",
            num(t / 1_000.0, decimals)
        );
        let _ = write!(grid, "<div class=\"g\" style=\"left:{left}%\"></div>");
    }
    canvas.push_str("</div>\n");

    let spans: Vec<(f64, f64)> = nemesis
        .iter()
        .map(|p| (p.start_ms as f64, p.end_ms.max(p.start_ms) as f64))
        .collect();
    let (rows, used) = packing::first_fit(&spans, usize::MAX);
    let mut bands = String::new();
    for row in 0..used.max(1) {
        labels.push_str(if row == 0 {
            "<div class=\"row fr\">faults</div>\n"
        } else {
            "<div class=\"row fr\"></div>\n"
        });
        canvas.push_str("<div class=\"row fr\">");
        if used == 0 {
            canvas.push_str("<span class=\"none\">no faults</span>");
        }
        for (period, _) in nemesis.iter().zip(&rows).filter(|(_, r)| **r == row) {
            let colour = palette::fault(&period.name);
            let (left, width) = (
                pct(period.start_ms),
                pct(period.end_ms.saturating_sub(period.start_ms)),
            );
            let tip = format!(
                "{} from {} to {}\n{}",
                period.name,
                seconds(period.start_ms),
                seconds(period.end_ms),
                period.detail
            );
            let _ = write!(
                canvas,
                "<div class=\"f\" style=\"left:{left}%;width:{width}%;background:{colour}\" title=\"{}\">{}</div>",
                escape::text(&tip),
                escape::text(&period.name)
            );
            let _ = write!(
                bands,
                "<div class=\"band\" style=\"left:{left}%;width:{width}%;background:{colour}\"></div>"
            );
        }
        canvas.push_str("</div>\n");
    }

    for (node, node_lanes) in &lanes {
        let processes: usize = node_lanes.iter().map(|l| l.processes.len()).sum();
        let count: usize = node_lanes.iter().map(|l| l.ops.len()).sum();
        let _ = writeln!(
            labels,
            "<div class=\"row grp\" title=\"{count} operations by {processes} processes\">n{node}</div>"
        );
        canvas.push_str("<div class=\"row grp\"></div>\n");
        for lane in node_lanes {
            let names: Vec<String> = lane.processes.iter().map(|p| format!("p{p}")).collect();
            let _ = writeln!(
                labels,
                "<div class=\"row\" title=\"{}\">{}</div>",
                names.join(", "),
                names.join(" ")
            );
            canvas.push_str("<div class=\"row\">");
            for &index in &lane.ops {
                let Some(op) = ops.get(index) else {
                    continue;
                };
                let done = op.complete_ms.unwrap_or(end).max(op.invoke_ms);
                let class = match op.outcome {
                    Some(OpOutcome::Ok) => "ok",
                    Some(OpOutcome::Info) => "in",
                    Some(OpOutcome::Fail) => "fa",
                    None => "pe",
                };
                let _ = write!(
                    canvas,
                    "<div class=\"o {class}\" style=\"left:{}%;width:{}%\" title=\"{}\"></div>",
                    pct(op.invoke_ms),
                    pct(done - op.invoke_ms),
                    escape::text(&describe(index, op))
                );
            }
            canvas.push_str("</div>\n");
        }
    }

    let _ = write!(
        html,
        "<div class=\"tl\">\n<div class=\"labels\">\n{labels}</div>\n<div class=\"scroll\" id=\"scroll\"><div class=\"canvas\" id=\"canvas\">\n<div id=\"grid\">{grid}</div>\n{bands}\n{canvas}</div></div>\n</div>\n"
    );
    if ops.is_empty() {
        html.push_str("<p class=\"sum\">No operations were recorded.</p>\n");
    }
    let _ = write!(
        html,
        "<script>\nvar END_MS = {end};\n{SCRIPT}</script>\n</body></html>\n"
    );
    html
}

/// One lane of the timeline: processes that follow each other, and their operations.
struct Lane {
    processes: Vec<u64>,
    ops: Vec<usize>,
}

/// The lanes of each node: a process's life runs from its first invocation to its last
/// completion (or the end, if pending); lives that do not overlap share a lane.
fn lanes(ops: &[Op]) -> BTreeMap<u64, Vec<Lane>> {
    struct Life {
        node: u64,
        first: u64,
        last: u64,
        ops: Vec<usize>,
    }
    let mut lives: BTreeMap<u64, Life> = BTreeMap::new();
    for (index, op) in ops.iter().enumerate() {
        let last = op.complete_ms.unwrap_or(u64::MAX).max(op.invoke_ms);
        let life = lives.entry(op.process).or_insert(Life {
            node: op.node,
            first: op.invoke_ms,
            last,
            ops: Vec::new(),
        });
        life.first = life.first.min(op.invoke_ms);
        life.last = life.last.max(last);
        life.ops.push(index);
    }
    let mut by_node: BTreeMap<u64, Vec<(u64, Life)>> = BTreeMap::new();
    for (process, life) in lives {
        by_node.entry(life.node).or_default().push((process, life));
    }
    let mut out = BTreeMap::new();
    for (node, mut processes) in by_node {
        processes.sort_by_key(|(process, life)| (life.first, *process));
        let spans: Vec<(f64, f64)> = processes
            .iter()
            .map(|(_, life)| (life.first as f64, life.last as f64))
            .collect();
        let (rows, used) = packing::first_fit(&spans, usize::MAX);
        let mut node_lanes: Vec<Lane> = (0..used)
            .map(|_| Lane {
                processes: Vec::new(),
                ops: Vec::new(),
            })
            .collect();
        for ((process, life), row) in processes.into_iter().zip(rows) {
            if let Some(lane) = node_lanes.get_mut(row) {
                lane.processes.push(process);
                lane.ops.extend(life.ops);
            }
        }
        out.insert(node, node_lanes);
    }
    out
}

fn summary(ops: &[Op], lanes: &BTreeMap<u64, Vec<Lane>>, end: u64) -> String {
    let count = |outcome: Option<OpOutcome>| ops.iter().filter(|op| op.outcome == outcome).count();
    let processes: usize = lanes
        .values()
        .flatten()
        .map(|lane| lane.processes.len())
        .sum();
    format!(
        "{} operations ({} ok, {} info, {} fail, {} pending at the end) by {processes} processes on {} nodes over {}",
        ops.len(),
        count(Some(OpOutcome::Ok)),
        count(Some(OpOutcome::Info)),
        count(Some(OpOutcome::Fail)),
        count(None),
        lanes.len(),
        ticks::duration(end)
    )
}

/// The colour key: outcomes, then each fault family present.
fn key(html: &mut String, nemesis: &[NemesisPeriod]) {
    html.push_str("<p class=\"key\">");
    for (class, outcome) in [
        ("ok", "ok"),
        ("in", "info (may have happened)"),
        ("fa", "fail (did not happen)"),
        ("pe", "pending at the end"),
    ] {
        let _ = write!(html, "<span><i class=\"{class}\"></i>{outcome}</span>");
    }
    let mut seen: Vec<&str> = Vec::new();
    for period in nemesis {
        if !seen.contains(&period.name.as_str()) {
            seen.push(&period.name);
            let _ = write!(
                html,
                "<span><i style=\"background:{}\"></i>{}</span>",
                palette::fault(&period.name),
                escape::text(&period.name)
            );
        }
    }
    html.push_str("</p>\n");
}

/// The hover text of an operation: what it was, how it ended, who sent it where, the reply.
fn describe(index: usize, op: &Op) -> String {
    let mut text = format!("#{index} {} {}", op.kind.name(), op.key);
    match op.kind {
        OpKind::Write | OpKind::SAdd | OpKind::SRem => {
            let _ = write!(text, " {}", show(op.value));
        }
        OpKind::WriteCtx => {
            let _ = write!(text, " {} over {}", show(op.value), members(&op.observed));
        }
        OpKind::Incr(delta) => {
            let _ = write!(text, " by {delta}");
        }
        OpKind::Read if op.outcome == Some(OpOutcome::Ok) => {
            let _ = write!(text, " → {}", show(op.value));
            if op.siblings > 1 {
                let _ = write!(text, " ({} siblings)", op.siblings);
            }
        }
        OpKind::ReadSet | OpKind::ReadCtx if op.outcome == Some(OpOutcome::Ok) => {
            let _ = write!(text, " → {}", members(&op.observed));
        }
        OpKind::Read | OpKind::ReadSet | OpKind::ReadCtx => {}
    }
    match (op.outcome, op.complete_ms) {
        (Some(outcome), Some(done)) => {
            let _ = write!(
                text,
                "\n{} after {} ms ({} → {})",
                outcome_name(outcome),
                done.saturating_sub(op.invoke_ms),
                seconds(op.invoke_ms),
                seconds(done)
            );
        }
        _ => {
            let _ = write!(text, "\npending since {}", seconds(op.invoke_ms));
        }
    }
    let _ = write!(text, "\np{} via n{}", op.process, op.node);
    if !op.note.is_empty() {
        let _ = write!(text, "\n{}", op.note);
    }
    text
}

fn show(value: Option<u64>) -> String {
    value.map_or_else(|| "nil".to_owned(), |v| v.to_string())
}

/// `[1, 2, 3]`, or the first few members and how many more.
fn members(values: &[u64]) -> String {
    let shown: Vec<String> = values
        .iter()
        .take(SHOWN_MEMBERS)
        .map(u64::to_string)
        .collect();
    if values.len() > SHOWN_MEMBERS {
        format!(
            "[{}, … {} more]",
            shown.join(", "),
            values.len() - SHOWN_MEMBERS
        )
    } else {
        format!("[{}]", shown.join(", "))
    }
}

fn seconds(ms: u64) -> String {
    format!("{} s", num(ms as f64 / 1_000.0, 3))
}

const STYLE: &str = "
body{font:13px sans-serif;margin:16px;color:#222}
h1{font-size:18px;margin:0 0 4px}
.sum{color:#555;margin:0 0 8px}
.key span{display:inline-block;margin-right:16px}
.key i{display:inline-block;width:16px;height:11px;margin-right:5px;vertical-align:-1px;border:1px solid rgba(0,0,0,.25)}
.zoom{margin:0 0 8px}.zoom input{vertical-align:middle}.hint{color:#888;margin-left:12px}
.tl{display:flex;border:1px solid #ccc}
.labels{flex:0 0 160px;border-right:1px solid #ccc;background:#fafafa;overflow:hidden}
.scroll{flex:1 1 auto;overflow-x:auto;overflow-y:hidden}
.canvas{position:relative;width:calc(100% - 24px);margin-right:24px}
.row{height:16px;position:relative;white-space:nowrap}
.labels .row{font:11px monospace;padding:0 6px;overflow:hidden;text-overflow:ellipsis;line-height:16px}
.row.axis{height:22px;border-bottom:1px solid #ccc;line-height:22px}
.row.fr{height:18px;line-height:18px}
.row.grp{height:18px;line-height:18px;background:rgba(0,0,0,.05);border-top:1px solid #ddd;font-weight:bold}
.t{position:absolute;transform:translateX(-50%);font-size:11px;color:#444}
.t:first-child{transform:none}
#grid{position:absolute;top:22px;bottom:0;left:0;right:0;pointer-events:none}
.g{position:absolute;top:0;bottom:0;border-left:1px solid #eee}
.band{position:absolute;top:23px;bottom:0;opacity:.12;pointer-events:none}
.none{color:#999;font-size:11px;padding-left:4px}
.f{position:absolute;top:2px;height:14px;color:#fff;font-size:11px;line-height:14px;overflow:hidden;padding-left:3px;box-sizing:border-box;min-width:2px;border-radius:2px}
.o{position:absolute;top:2px;height:12px;min-width:2px;box-sizing:border-box;border-right:1px solid rgba(0,0,0,.3)}
.o:hover,.f:hover{outline:2px solid #000;z-index:2}
.pe{background:repeating-linear-gradient(45deg,#ddd 0 3px,#aaa 3px 6px)}
";

/// Zoom: widen the canvas (keeping the middle of the view in place) and redraw the time ticks
/// for the new width. Everything else is positioned in percent and follows by itself. The zoom
/// level goes into the address (`#zoom=4&at=12.5` also centres 12.5 s) so a view can be shared.
const SCRIPT: &str = "(function () {
  var canvas = document.getElementById('canvas'), scroll = document.getElementById('scroll');
  var zoom = document.getElementById('zoom'), shown = document.getElementById('zoomv');
  var axis = document.getElementById('axis'), grid = document.getElementById('grid');
  function nice(raw) {
    var p = Math.pow(10, Math.floor(Math.log10(raw))), m = raw / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
  }
  function ticks() {
    var step = nice(END_MS / Math.max(1, canvas.clientWidth / 90));
    var digits = step >= 1000 ? 0 : step >= 100 ? 1 : step >= 10 ? 2 : 3;
    var a = '', g = '';
    for (var i = 0; i * step <= END_MS; i++) {
      var left = (i * step / END_MS * 100) + '%';
      a += '<span class=\"t\" style=\"left:' + left + '\">' + (i * step / 1000).toFixed(digits) + ' s</span>';
      g += '<div class=\"g\" style=\"left:' + left + '\"></div>';
    }
    axis.innerHTML = a;
    grid.innerHTML = g;
  }
  function apply(middle) {
    var factor = Math.pow(2, Number(zoom.value));
    canvas.style.width = 'calc(' + (factor * 100) + '% - 24px)';
    shown.textContent = '\\u00d7' + (factor < 10 ? factor.toFixed(1).replace('.0', '') : Math.round(factor));
    scroll.scrollLeft = middle * canvas.clientWidth - scroll.clientWidth / 2;
    ticks();
  }
  zoom.addEventListener('input', function () {
    apply((scroll.scrollLeft + scroll.clientWidth / 2) / canvas.clientWidth);
    history.replaceState(null, '', '#zoom=' + zoom.value);
  });
  window.addEventListener('resize', ticks);
  // A link may carry a zoom level (#zoom=4) and the point to centre, in seconds (&at=12.5).
  var wanted = /zoom=([0-9.]+)/.exec(location.hash), at = /at=([0-9.]+)/.exec(location.hash);
  if (wanted) {
    zoom.value = wanted[1];
  }
  apply(at ? Number(at[1]) * 1000 / END_MS : 0);
})();
";

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::report::testing;

    #[test]
    fn every_operation_is_a_box_and_every_fault_is_on_the_track() {
        let (h, nemesis) = testing::run(3_000, 60);
        let html = timeline_html(&h, &nemesis, "register under partitions");
        testing::well_formed(&html).unwrap();
        assert_eq!(html.matches("<div class=\"o ").count(), h.ops().len());
        assert_eq!(html.matches("<div class=\"f\"").count(), nemesis.len());
        assert_eq!(html.matches("<div class=\"band\"").count(), nemesis.len());
        assert_eq!(html.matches("class=\"o pe\"").count(), 1);
        assert!(html.contains(">partition</div>"));
        assert!(html.contains(">kill</div>"));
        assert!(html.contains("title=\"kill from 25 s to 30.5 s&#10;SIGKILL n3\""));
        // Lanes are grouped under each node.
        for node in 1..=5 {
            assert!(html.contains(&format!(">n{node}</div>")), "node {node}");
        }
    }

    #[test]
    fn hover_text_says_what_the_operation_did() {
        let mut h = History::new();
        let w = h.invoke(3, 2, "k1", OpKind::Write, Some(42), 1_000);
        h.complete(w, OpOutcome::Ok, None, "written".into(), 1_015);
        let html = timeline_html(&h, &[], "t");
        assert!(
            html.contains("title=\"#0 write k1 42&#10;ok after 15 ms (1 s → 1.015 s)&#10;p3 via n2&#10;written\""),
            "{html}"
        );
    }

    #[test]
    fn run_text_is_escaped() {
        let mut h = History::new();
        let w = h.invoke(0, 1, "<&\">", OpKind::Write, Some(1), 0);
        h.complete(w, OpOutcome::Fail, None, "<b>no</b>".into(), 5);
        let nemesis = [NemesisPeriod {
            name: "<kill>".into(),
            detail: "a & b".into(),
            start_ms: 1,
            end_ms: 2,
        }];
        let html = timeline_html(&h, &nemesis, "a <title> & \"quotes\"");
        testing::well_formed(&html).unwrap();
        assert!(html.contains("#0 write &lt;&amp;&quot;&gt; 1"));
        assert!(html.contains("&lt;b&gt;no&lt;/b&gt;"));
        assert!(html.contains("<h1>a &lt;title&gt; &amp; &quot;quotes&quot;</h1>"));
        assert!(!html.contains("<&\">"));
        assert!(!html.contains("<kill>"));
    }

    #[test]
    fn empty_and_pending_only_histories_render() {
        let html = timeline_html(&History::new(), &[], "empty");
        testing::well_formed(&html).unwrap();
        assert!(html.contains("No operations were recorded"));
        let mut h = History::new();
        h.invoke(0, 1, "k", OpKind::Read, None, 5);
        let html = timeline_html(&h, &[], "pending");
        testing::well_formed(&html).unwrap();
        assert!(html.contains("1 pending at the end"));
        assert_eq!(html.matches("class=\"o pe\"").count(), 1);
    }

    #[test]
    fn processes_that_follow_each_other_share_a_lane() {
        let mut h = History::new();
        let a = h.invoke(0, 1, "k", OpKind::Write, Some(1), 0);
        h.complete(a, OpOutcome::Info, None, "timeout".into(), 10);
        let b = h.invoke(10, 1, "k", OpKind::Write, Some(2), 12);
        h.complete(b, OpOutcome::Ok, None, "written".into(), 20);
        let c = h.invoke(1, 1, "k", OpKind::Read, None, 5);
        h.complete(c, OpOutcome::Ok, Some((Some(1), 1)), "read".into(), 15);
        let html = timeline_html(&h, &[], "lanes");
        assert!(html.contains("<div class=\"row\" title=\"p0, p10\">p0 p10</div>"));
        assert!(html.contains("<div class=\"row\" title=\"p1\">p1</div>"));
    }
}
