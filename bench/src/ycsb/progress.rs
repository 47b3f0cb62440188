//! A one-line progress bar on stderr, redrawn twice a second: phase, elapsed time, operations
//! per second over the last half second, and errors. The clients only bump two shared atomic
//! counters; the drawing happens in its own task.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

/// Counters the clients bump and the bar reads.
#[derive(Debug, Default)]
pub struct Counters {
    pub ops: AtomicU64,
    pub errors: AtomicU64,
    pub done: AtomicBool,
}

const WIDTH: usize = 30;

/// The bar's text: `[=====>      ] 42% measure  4.2/10s  51234 ops/s  0 errors`.
pub fn line(
    fraction: f64,
    phase: &str,
    elapsed: f64,
    total: f64,
    rate: f64,
    errors: u64,
) -> String {
    let fraction = fraction.clamp(0.0, 1.0);
    let filled = (fraction * WIDTH as f64).round() as usize;
    let mut bar = "=".repeat(filled);
    if filled < WIDTH {
        bar.push('>');
        bar.push_str(&" ".repeat(WIDTH - filled - 1));
    }
    format!(
        "[{bar}] {:>3.0}% {phase:<8} {elapsed:>5.1}/{total:.0}s {rate:>9.0} ops/s {errors} errors",
        fraction * 100.0
    )
}

/// Draws until `counters.done` is set; `measure_from`: when warm-up ends; `end`: when the run
/// ends; `max_ops`: the operation bound, if any (the bar shows whichever bound is nearer).
pub async fn show(
    counters: Arc<Counters>,
    start: Instant,
    measure_from: Instant,
    end: Instant,
    max_ops: Option<u64>,
) {
    let total = (end - start).as_secs_f64();
    let mut last_ops = 0;
    let mut last = Instant::now();
    let mut stderr = std::io::stderr();
    while !counters.done.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = Instant::now();
        let ops = counters.ops.load(Ordering::Relaxed);
        let rate = (ops - last_ops.min(ops)) as f64 / (now - last).as_secs_f64().max(1e-3);
        (last_ops, last) = (ops, now);
        let elapsed = (now - start).as_secs_f64();
        let mut fraction = elapsed / total.max(1e-3);
        let phase = if now < measure_from {
            "warm-up"
        } else {
            "measure"
        };
        if let Some(max) = max_ops {
            fraction = fraction.max(ops as f64 / max.max(1) as f64);
        }
        let text = line(
            fraction,
            phase,
            elapsed.min(total),
            total,
            rate,
            counters.errors.load(Ordering::Relaxed),
        );
        let _ = write!(stderr, "\r{text}");
        let _ = stderr.flush();
    }
    let _ = writeln!(stderr);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_fills_with_the_fraction() {
        let empty = line(0.0, "warm-up", 0.0, 12.0, 0.0, 0);
        assert!(
            empty.starts_with(&format!("[>{}]", " ".repeat(WIDTH - 1))),
            "{empty}"
        );
        let half = line(0.5, "measure", 6.0, 12.0, 1234.0, 2);
        assert!(
            half.contains(&format!("[{}>", "=".repeat(WIDTH / 2))),
            "{half}"
        );
        assert!(half.contains(" 50% ") && half.contains("1234 ops/s") && half.contains("2 errors"));
        let full = line(1.5, "measure", 12.0, 12.0, 0.0, 0);
        assert!(
            full.starts_with(&format!("[{}]", "=".repeat(WIDTH))),
            "{full}"
        );
    }
}
