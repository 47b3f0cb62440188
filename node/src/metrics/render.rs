//! The Prometheus text exposition format (version 0.0.4): for each metric a `# HELP` and a
//! `# TYPE` line, then its samples; histograms as cumulative `_bucket{le=...}` samples ending
//! with `le="+Inf"`, then `_sum` and `_count`. Latencies are in seconds, as Prometheus names
//! them (`_seconds`).
//!
//! Label values are only ever our own static strings or numbers, so no escaping is needed; the
//! writer still escapes `\`, `"` and newlines in case that ever changes.

use std::fmt::Write as _;

use super::{HistogramSnapshot, Metrics, LATENCY_BUCKETS_US, REPLIES};
use crate::storage::hints::HintStats;

/// Figures other parts of the node keep, read at scrape time.
#[derive(Clone, Debug, Default)]
pub struct NodeFigures {
    pub node_id: u64,
    pub uptime_seconds: u64,
    pub connections_open: u64,
    pub connections_received: u64,
    pub connections_rejected: u64,
    pub error_replies: u64,
    /// `(peer id, up)` of every configured peer.
    pub peers: Vec<(u64, bool)>,
    pub hints: HintStats,
    pub handoff_failed: u64,
    /// Bytes the storage engine occupies on disk (`None`: it could not tell).
    pub storage_bytes: Option<u64>,
    pub fsyncs: u64,
    pub fsyncs_failed: u64,
    pub fsync_latency: HistogramSnapshot,
    pub expired_keys_purged: u64,
    pub antientropy: crate::antientropy::AeFigures,
    pub corrupt_records: u64,
}
/// The whole `/metrics` page.
pub fn render(metrics: &Metrics, node: &NodeFigures) -> String {
    let mut w = Writer::default();
    let node_label = node.node_id.to_string();

    w.header(
        "kvorum_node_info",
        "gauge",
        "Always 1; labels name this node and build.",
    );
    w.sample(
        "kvorum_node_info",
        &[
            ("node", &node_label),
            ("version", env!("CARGO_PKG_VERSION")),
        ],
        1,
    );
    w.header(
        "kvorum_uptime_seconds",
        "gauge",
        "Seconds since this node started.",
    );
    w.sample("kvorum_uptime_seconds", &[], node.uptime_seconds);

    // Requests.
    let series = metrics.request_series();
    w.header(
        "kvorum_requests_total",
        "counter",
        "RESP commands whose reply was sent, by namespace, command family, consistency class and outcome.",
    );
    for (ns, family, consistency, outcome, s) in &series {
        let labels = request_labels(ns, family, consistency, outcome);
        w.sample("kvorum_requests_total", &labels, s.count);
    }
    w.header(
        "kvorum_request_duration_seconds",
        "histogram",
        "Time from a RESP command's dispatch to its reply being ready, by namespace, command family, consistency class and outcome.",
    );
    for (ns, family, consistency, outcome, s) in &series {
        let labels = request_labels(ns, family, consistency, outcome);
        w.histogram("kvorum_request_duration_seconds", &labels, s);
    }
    w.header(
        "kvorum_error_replies_total",
        "counter",
        "Error replies sent to RESP clients (any command).",
    );
    w.sample("kvorum_error_replies_total", &[], node.error_replies);

    // Replication.
    w.header(
        "kvorum_coordinator_replies_total",
        "counter",
        "Requests this node coordinated, by reply: value, written, refused, unavailable (too few replicas reachable), timeout (too few answered in time), failed.",
    );
    for (kind, count) in REPLIES.iter().zip(metrics.replies()) {
        w.sample(
            "kvorum_coordinator_replies_total",
            &[("reply", kind)],
            count,
        );
    }
    w.header(
        "kvorum_write_acks_total",
        "counter",
        "Replicas holding a write when its client was answered (coordinator included), summed over written requests.",
    );
    w.sample("kvorum_write_acks_total", &[], load(&metrics.write_acks));
    w.header(
        "kvorum_replica_responses_total",
        "counter",
        "Answers received from other replicas, by message (fetched: a read, stored: a write) and result.",
    );
    for (message, result, counter) in [
        ("fetched", "ok", &metrics.replica_fetched_ok),
        ("fetched", "error", &metrics.replica_fetched_error),
        ("stored", "ok", &metrics.replica_stored_ok),
        ("stored", "error", &metrics.replica_stored_error),
    ] {
        w.sample(
            "kvorum_replica_responses_total",
            &[("message", message), ("result", result)],
            load(counter),
        );
    }
    w.header(
        "kvorum_read_repairs_total",
        "counter",
        "Stale replicas sent a repair after a read.",
    );
    w.sample(
        "kvorum_read_repairs_total",
        &[],
        load(&metrics.read_repairs),
    );
    w.header(
        "kvorum_strong_write_backs_total",
        "counter",
        "STRONG reads that wrote back to a majority before answering.",
    );
    w.sample(
        "kvorum_strong_write_backs_total",
        &[],
        load(&metrics.write_backs),
    );
    w.header(
        "kvorum_inline_reads_total",
        "counter",
        "Storage reads the replication driver ran itself instead of on a storage worker.",
    );
    w.sample(
        "kvorum_inline_reads_total",
        &[],
        load(&metrics.inline_reads),
    );
    w.header(
        "kvorum_inline_read_pauses_total",
        "counter",
        "Reads slow enough to have waited for the disk; each sent reads to the storage workers for a second.",
    );
    w.sample(
        "kvorum_inline_read_pauses_total",
        &[],
        load(&metrics.inline_read_pauses),
    );
    w.header(
        "kvorum_siblings_created_total",
        "counter",
        "Concurrent values added to keys' sibling sets by writes and merges on this node.",
    );
    w.sample(
        "kvorum_siblings_created_total",
        &[],
        load(&metrics.siblings_created),
    );
    w.header(
        "kvorum_siblings_resolved_total",
        "counter",
        "Sibling values removed by writes that saw them (or by merges) on this node.",
    );
    w.sample(
        "kvorum_siblings_resolved_total",
        &[],
        load(&metrics.siblings_resolved),
    );

    // Anti-entropy and corruption.
    let ae = &node.antientropy;
    for (name, help, value) in [
        (
            "kvorum_antientropy_rounds_total",
            "Anti-entropy rounds run (scheduled, requested, and corrupt-record repairs).",
            ae.rounds,
        ),
        (
            "kvorum_antientropy_partitions_compared_total",
            "Partition roots compared with a peer.",
            ae.partitions_compared,
        ),
        (
            "kvorum_antientropy_partitions_differing_total",
            "Partition comparisons that found a difference.",
            ae.partitions_differing,
        ),
        (
            "kvorum_antientropy_keys_pulled_total",
            "Keys whose local state changed by merging a peer's.",
            ae.keys_pulled,
        ),
        (
            "kvorum_antientropy_keys_pushed_total",
            "Keys whose state changed on a peer by merging ours.",
            ae.keys_pushed,
        ),
        (
            "kvorum_antientropy_tombstones_purged_total",
            "Tombstones purged from this node's store.",
            ae.tombstones_purged,
        ),
        (
            "kvorum_antientropy_errors_total",
            "Exchange steps that failed (retried next round).",
            ae.errors,
        ),
    ] {
        w.header(name, "counter", help);
        w.sample(name, &[], value);
    }
    w.header(
        "kvorum_storage_corrupt_records_total",
        "counter",
        "Stored records that failed their checksum when read (never served; repaired from the other replicas).",
    );
    w.sample(
        "kvorum_storage_corrupt_records_total",
        &[],
        node.corrupt_records,
    );

    // Hinted handoff.
    let h = &node.hints;
    for (name, help, value) in [
        (
            "kvorum_hints_stored_total",
            "Changes stored as a new hint.",
            h.stored,
        ),
        (
            "kvorum_hints_merged_total",
            "Changes merged into an existing hint.",
            h.merged,
        ),
        (
            "kvorum_hints_delivered_total",
            "Hints deleted after their target acknowledged them.",
            h.delivered,
        ),
        (
            "kvorum_handoff_failures_total",
            "Hand-offs not acknowledged (the hint stays for the next round).",
            node.handoff_failed,
        ),
    ] {
        w.header(name, "counter", help);
        w.sample(name, &[], value);
    }
    w.header(
        "kvorum_hints_refused_total",
        "counter",
        "Changes not hinted, by reason: bytes (hints.max_bytes reached), age (the target's backlog is older than hints.max_age_ms).",
    );
    w.sample(
        "kvorum_hints_refused_total",
        &[("reason", "bytes")],
        h.refused_bytes,
    );
    w.sample(
        "kvorum_hints_refused_total",
        &[("reason", "age")],
        h.refused_age,
    );
    w.header("kvorum_hints", "gauge", "Hints stored now.");
    w.sample("kvorum_hints", &[], h.count);
    w.header(
        "kvorum_hints_bytes",
        "gauge",
        "Bytes of the hints stored now (keys plus values).",
    );
    w.sample("kvorum_hints_bytes", &[], h.bytes);

    // Storage.
    if let Some(bytes) = node.storage_bytes {
        w.header(
            "kvorum_storage_bytes",
            "gauge",
            "Bytes the storage engine occupies on disk.",
        );
        w.sample("kvorum_storage_bytes", &[], bytes);
    }
    w.header(
        "kvorum_fsyncs_total",
        "counter",
        "Storage syncs run by group commit, by result.",
    );
    w.sample(
        "kvorum_fsyncs_total",
        &[("result", "ok")],
        node.fsyncs.saturating_sub(node.fsyncs_failed),
    );
    w.sample(
        "kvorum_fsyncs_total",
        &[("result", "error")],
        node.fsyncs_failed,
    );
    w.header(
        "kvorum_fsync_duration_seconds",
        "histogram",
        "Time one storage sync took.",
    );
    w.histogram("kvorum_fsync_duration_seconds", &[], &node.fsync_latency);
    w.header(
        "kvorum_expired_keys_purged_total",
        "counter",
        "Expired keys whose data the purger dropped.",
    );
    w.sample(
        "kvorum_expired_keys_purged_total",
        &[],
        node.expired_keys_purged,
    );

    // Connections and peers.
    w.header("kvorum_connections", "gauge", "Open RESP connections.");
    w.sample("kvorum_connections", &[], node.connections_open);
    w.header(
        "kvorum_connections_total",
        "counter",
        "RESP connections accepted, by result: served, or rejected (limits.max_connections reached).",
    );
    w.sample(
        "kvorum_connections_total",
        &[("result", "served")],
        node.connections_received
            .saturating_sub(node.connections_rejected),
    );
    w.sample(
        "kvorum_connections_total",
        &[("result", "rejected")],
        node.connections_rejected,
    );
    w.header(
        "kvorum_peer_up",
        "gauge",
        "1 if the failure detector considers the peer up, 0 if down.",
    );
    for (peer, up) in &node.peers {
        w.sample(
            "kvorum_peer_up",
            &[("peer", &peer.to_string())],
            u64::from(*up),
        );
    }
    w.header(
        "kvorum_admin_requests_total",
        "counter",
        "HTTP admin requests, by result: served, or bad (refused for their size or shape).",
    );
    w.sample(
        "kvorum_admin_requests_total",
        &[("result", "served")],
        load(&metrics.admin_requests),
    );
    w.sample(
        "kvorum_admin_requests_total",
        &[("result", "bad")],
        load(&metrics.admin_bad_requests),
    );
    w.out
}

fn load(counter: &std::sync::atomic::AtomicU64) -> u64 {
    counter.load(std::sync::atomic::Ordering::Relaxed)
}

#[derive(Default)]
struct Writer {
    out: String,
}

impl Writer {
    fn header(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(
            self.out,
            "# HELP {name} {}",
            help.replace('\\', "\\\\").replace('\n', "\\n")
        );
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    fn labels(&mut self, labels: &[(&str, &str)], extra: Option<(&str, &str)>) {
        let all: Vec<(&str, &str)> = labels.iter().copied().chain(extra).collect();
        if all.is_empty() {
            return;
        }
        self.out.push('{');
        for (i, (name, value)) in all.iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            let value = value
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n");
            let _ = write!(self.out, "{name}=\"{value}\"");
        }
        self.out.push('}');
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: u64) {
        self.out.push_str(name);
        self.labels(labels, None);
        let _ = writeln!(self.out, " {value}");
    }

    fn histogram(&mut self, name: &str, labels: &[(&str, &str)], h: &HistogramSnapshot) {
        let mut cumulative = 0u64;
        for (i, count) in h.buckets.iter().enumerate() {
            cumulative += count;
            let le = match LATENCY_BUCKETS_US.get(i) {
                Some(us) => seconds(*us),
                None => "+Inf".to_owned(),
            };
            let _ = write!(self.out, "{name}_bucket");
            self.labels(labels, Some(("le", &le)));
            let _ = writeln!(self.out, " {cumulative}");
        }
        let _ = write!(self.out, "{name}_sum");
        self.labels(labels, None);
        let _ = writeln!(self.out, " {}", seconds(h.sum_us));
        let _ = write!(self.out, "{name}_count");
        self.labels(labels, None);
        let _ = writeln!(self.out, " {}", h.count);
    }
}

/// Microseconds as seconds in decimal, exactly (`2500` → `0.0025`).
fn seconds(us: u64) -> String {
    let text = format!("{}.{:06}", us / 1_000_000, us % 1_000_000);
    let text = text.trim_end_matches('0');
    text.strip_suffix('.').unwrap_or(text).to_owned()
}

/// The label set of one request series, the same for its counter and its histogram.
fn request_labels<'a>(
    ns: &'a str,
    family: &'a str,
    consistency: &'a str,
    outcome: &'a str,
) -> [(&'static str, &'a str); 4] {
    [
        ("ns", ns),
        ("family", family),
        ("consistency", consistency),
        ("outcome", outcome),
    ]
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::RequestLabels;
    use super::*;
    use std::time::Duration;

    fn page() -> String {
        let m = Metrics::new();
        let labels = RequestLabels {
            ns: 0,
            family: 2,
            consistency: 2,
        };
        m.record_request(labels, false, Duration::from_micros(300));
        m.record_request(labels, false, Duration::from_millis(30));
        m.record_request(labels, false, Duration::from_secs(30));
        render(
            &m,
            &NodeFigures {
                node_id: 1,
                peers: vec![(2, true), (3, false)],
                ..NodeFigures::default()
            },
        )
    }

    #[test]
    fn seconds_are_exact_decimals() {
        assert_eq!(seconds(100), "0.0001");
        assert_eq!(seconds(2_500), "0.0025");
        assert_eq!(seconds(1_000_000), "1");
        assert_eq!(seconds(10_000_000), "10");
        assert_eq!(seconds(1_234_567), "1.234567");
        assert_eq!(seconds(0), "0");
    }

    #[test]
    fn every_metric_has_help_and_type_before_its_samples() {
        let page = page();
        let mut declared: Vec<String> = Vec::new();
        for line in page.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let mut words = rest.split(' ');
                let name = words.next().unwrap();
                let kind = words.next().unwrap();
                assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
                assert!(
                    page.contains(&format!("# HELP {name} ")),
                    "{name} has no HELP"
                );
                declared.push(name.to_owned());
            } else if !line.starts_with('#') {
                let name = line.split(['{', ' ']).next().unwrap();
                let base = ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|s| name.strip_suffix(s))
                    .filter(|b| declared.iter().any(|d| d == b))
                    .unwrap_or(name);
                assert_eq!(declared.last().map(String::as_str), Some(base), "{line}");
                let value = line.rsplit(' ').next().unwrap();
                assert!(value.parse::<f64>().is_ok(), "{line}");
            }
        }
    }

    #[test]
    fn histogram_buckets_are_cumulative_and_end_with_inf_sum_and_count() {
        let page = page();
        let prefix = "kvorum_request_duration_seconds_bucket{ns=\"0\",family=\"strings\",consistency=\"quorum\",outcome=\"ok\",le=";
        let buckets: Vec<(String, u64)> = page
            .lines()
            .filter_map(|l| l.strip_prefix(prefix))
            .map(|rest| {
                let (le, value) = rest.split_once("} ").unwrap();
                (le.trim_matches('"').to_owned(), value.parse().unwrap())
            })
            .collect();
        assert_eq!(buckets.len(), LATENCY_BUCKETS_US.len() + 1);
        assert!(buckets.windows(2).all(|w| w[0].1 <= w[1].1));
        assert_eq!(buckets[0], ("0.0001".to_owned(), 0));
        assert_eq!(buckets[2], ("0.0005".to_owned(), 1));
        assert_eq!(buckets.last().unwrap(), &("+Inf".to_owned(), 3));
        assert!(page.contains(
            "kvorum_request_duration_seconds_count{ns=\"0\",family=\"strings\",consistency=\"quorum\",outcome=\"ok\"} 3\n"
        ));
        assert!(page.contains(
            "kvorum_request_duration_seconds_sum{ns=\"0\",family=\"strings\",consistency=\"quorum\",outcome=\"ok\"} 30.0303\n"
        ));
        assert!(page.contains(
            "kvorum_requests_total{ns=\"0\",family=\"strings\",consistency=\"quorum\",outcome=\"ok\"} 3\n"
        ));
        assert!(page.contains("kvorum_fsync_duration_seconds_bucket{le=\"+Inf\"} 0\n"));
        assert!(page.contains("kvorum_peer_up{peer=\"3\"} 0\n"));
    }
}
