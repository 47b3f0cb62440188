//! Colours and marker shapes, in one place so every artifact of a run speaks the same visual
//! language. Outcome colours are Jepsen's (blue `ok`, orange `info`, pink `fail`), so anyone who
//! has read a Jepsen report reads ours; fault colours avoid those three hues so a shaded period
//! never hides what happened inside it.

use crate::history::{OpKind, OpOutcome};

/// Point and line colour of an outcome in the SVG plots (Jepsen's `perf` colours).
pub(crate) fn plot_outcome(outcome: OpOutcome) -> &'static str {
    match outcome {
        OpOutcome::Ok => "#81BFFC",
        OpOutcome::Info => "#FFA400",
        OpOutcome::Fail => "#FF1E90",
    }
}

/// A darker shade of [`plot_outcome`] for thin lines, which the light point colours would make
/// hard to follow.
pub(crate) fn line_outcome(outcome: OpOutcome) -> &'static str {
    match outcome {
        OpOutcome::Ok => "#3A8EDB",
        OpOutcome::Info => "#F08C00",
        OpOutcome::Fail => "#E0157A",
    }
}

/// Box colour of an outcome in the timeline (Jepsen's `timeline` colours).
pub(crate) fn timeline_outcome(outcome: OpOutcome) -> &'static str {
    match outcome {
        OpOutcome::Ok => "#6DB6FE",
        OpOutcome::Info => "#FFAA26",
        OpOutcome::Fail => "#FEB5DA",
    }
}

/// Every outcome, in the order legends list them and plots draw them (rarer ones last, on top).
pub(crate) const OUTCOMES: [OpOutcome; 3] = [OpOutcome::Ok, OpOutcome::Fail, OpOutcome::Info];

/// The colour of a fault family; unknown names get a neutral grey.
pub(crate) fn fault(name: &str) -> &'static str {
    match name {
        "partition" => "#6A3DB8",
        "loss" => "#00897B",
        "kill" => "#7A5545",
        "pause" => "#9E9D24",
        "clock" => "#2E7D32",
        _ => "#616161",
    }
}

/// The shape that marks an operation function in a scatter plot. Filled shapes for the plain
/// operations, hollow ones for the set and causal-context operations.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Marker {
    Circle,
    Square,
    TriangleUp,
    Diamond,
    TriangleDown,
    HollowCircle,
    HollowSquare,
    HollowDiamond,
}

pub(crate) fn marker(kind: OpKind) -> Marker {
    match kind {
        OpKind::Read => Marker::Circle,
        OpKind::Write => Marker::Square,
        OpKind::Incr(_) => Marker::TriangleUp,
        OpKind::SAdd => Marker::Diamond,
        OpKind::SRem => Marker::TriangleDown,
        OpKind::ReadSet => Marker::HollowCircle,
        OpKind::ReadCtx => Marker::HollowSquare,
        OpKind::WriteCtx => Marker::HollowDiamond,
    }
}

/// Every operation function once, in legend order (the delta of `Incr` is irrelevant here).
pub(crate) const KINDS: [OpKind; 8] = [
    OpKind::Read,
    OpKind::Write,
    OpKind::Incr(0),
    OpKind::SAdd,
    OpKind::SRem,
    OpKind::ReadSet,
    OpKind::ReadCtx,
    OpKind::WriteCtx,
];

/// Position of `kind` in [`KINDS`].
pub(crate) fn kind_slot(kind: OpKind) -> usize {
    match kind {
        OpKind::Read => 0,
        OpKind::Write => 1,
        OpKind::Incr(_) => 2,
        OpKind::SAdd => 3,
        OpKind::SRem => 4,
        OpKind::ReadSet => 5,
        OpKind::ReadCtx => 6,
        OpKind::WriteCtx => 7,
    }
}

impl Marker {
    pub(crate) fn hollow(self) -> bool {
        matches!(
            self,
            Marker::HollowCircle | Marker::HollowSquare | Marker::HollowDiamond
        )
    }

    /// An SVG path centred on (`x`, `y`) about `2 r` across.
    pub(crate) fn path(self, x: f64, y: f64, r: f64) -> String {
        use super::escape::num;
        let (px, py) = (num(x, 1), num(y, 1));
        let d = match self {
            Marker::Circle | Marker::HollowCircle => format!(
                "M{} {py}a{r} {r} 0 1 0 {d} 0a{r} {r} 0 1 0 -{d} 0",
                num(x - r, 1),
                r = num(r, 1),
                d = num(2.0 * r, 1)
            ),
            Marker::Square | Marker::HollowSquare => {
                let s = r * 0.9;
                format!(
                    "M{} {}h{d}v{d}h-{d}z",
                    num(x - s, 1),
                    num(y - s, 1),
                    d = num(2.0 * s, 1)
                )
            }
            Marker::TriangleUp => format!(
                "M{px} {}l{h} {v}h-{w}z",
                num(y - r * 1.1, 1),
                h = num(r * 1.1, 1),
                v = num(r * 1.9, 1),
                w = num(r * 2.2, 1)
            ),
            Marker::TriangleDown => format!(
                "M{px} {}l{h} -{v}h-{w}z",
                num(y + r * 1.1, 1),
                h = num(r * 1.1, 1),
                v = num(r * 1.9, 1),
                w = num(r * 2.2, 1)
            ),
            Marker::Diamond | Marker::HollowDiamond => {
                let s = num(r * 1.2, 1);
                format!("M{px} {}l{s} {s}l-{s} {s}l-{s} -{s}z", num(y - r * 1.2, 1))
            }
        };
        format!(r#"<path d="{d}"/>"#)
    }
}
