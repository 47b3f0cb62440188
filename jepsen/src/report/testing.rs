//! Test support for the report module: a made-up but plausible run ([`run`]): clients on five
//! nodes doing every kind of operation for a minute, through two partitions (the minority side
//! times out or is refused) and the kill of one node, ending with one operation still pending;
//! deterministic (a fixed-seed generator, no clock). And a check that markup is well formed
//! ([`well_formed`]), which is what a browser or an image converter needs.

use crate::history::{History, NemesisPeriod, OpKind, OpOutcome};

/// xorshift64*: enough randomness for a picture, and the same picture every time.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo).max(1)
    }
}

struct Planned {
    process: u64,
    node: u64,
    key: String,
    kind: OpKind,
    value: Option<u64>,
    invoke: u64,
    done: Option<(u64, OpOutcome, Option<u64>, usize, String)>,
    observed: Vec<u64>,
}

/// The three fault periods of [`run`].
pub(crate) fn faults() -> Vec<NemesisPeriod> {
    vec![
        NemesisPeriod {
            name: "partition".to_owned(),
            detail: "n1 n2 | n3 n4 n5".to_owned(),
            start_ms: 10_000,
            end_ms: 20_000,
        },
        NemesisPeriod {
            name: "kill".to_owned(),
            detail: "SIGKILL n3".to_owned(),
            start_ms: 25_000,
            end_ms: 30_500,
        },
        NemesisPeriod {
            name: "partition".to_owned(),
            detail: "n1 n4 | n2 n3 n5".to_owned(),
            start_ms: 38_000,
            end_ms: 45_000,
        },
    ]
}

/// About `ops` operations over `seconds` s by two clients per node, with [`faults`] applied.
pub(crate) fn run(ops: usize, seconds: u64) -> (History, Vec<NemesisPeriod>) {
    let nemesis = faults();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let clients = 10u64;
    let end = seconds * 1_000;
    // Each client does ops / clients operations, one at a time, spread over the run.
    let gap = end / (ops as u64 / clients).max(1);
    let mut planned: Vec<Planned> = Vec::new();
    let mut next_value = 1u64;
    let mut last_written = 0u64;
    for client in 0..clients {
        let node = client % 5 + 1;
        let mut process = client;
        let mut t = rng.range(0, gap);
        // Client 0 stops early and leaves one last operation pending at the end.
        let stop = if client == 0 { end - 1_500 } else { end };
        while t < stop {
            let key = format!("k{}", rng.range(0, 8));
            let roll = rng.unit();
            let (kind, value) = if roll < 0.4 {
                (OpKind::Read, None)
            } else if roll < 0.7 {
                next_value += 1;
                (OpKind::Write, Some(next_value))
            } else if roll < 0.8 {
                (OpKind::Incr(rng.range(1, 5) as i64), None)
            } else if roll < 0.9 {
                next_value += 1;
                (OpKind::SAdd, Some(next_value))
            } else if roll < 0.95 {
                (OpKind::SRem, Some(rng.range(1, next_value + 1)))
            } else {
                (OpKind::ReadSet, None)
            };
            let minority = |at: u64| {
                nemesis.iter().any(|p| {
                    p.name == "partition"
                        && (p.start_ms..p.end_ms).contains(&at)
                        && p.detail
                            .split('|')
                            .next()
                            .is_some_and(|side| side.contains(&format!("n{node}")))
                })
            };
            let killed = |at: u64| {
                node == 3
                    && nemesis
                        .iter()
                        .any(|p| p.name == "kill" && (p.start_ms..p.end_ms).contains(&at))
            };
            // Log-normal-ish latency around 6 ms with a long tail.
            let mut latency = (6.0 * (rng.unit() * 2.5 - 0.6).exp() * (1.0 + rng.unit())) as u64;
            let (outcome, note) = if killed(t) {
                latency = rng.range(0, 2);
                (OpOutcome::Fail, "connection refused".to_owned())
            } else if minority(t) {
                let r = rng.unit();
                if r < 0.55 {
                    latency = 1_000 + rng.range(0, 30);
                    (OpOutcome::Info, "timeout(acks=1,needed=2)".to_owned())
                } else if r < 0.85 {
                    latency = rng.range(1, 4);
                    (OpOutcome::Fail, "unavailable(alive=2,needed=3)".to_owned())
                } else {
                    latency += rng.range(20, 200);
                    (OpOutcome::Ok, "slow".to_owned())
                }
            } else if killed(t + latency) {
                (OpOutcome::Info, "crashed".to_owned())
            } else if rng.unit() < 0.01 {
                (OpOutcome::Fail, "busy".to_owned())
            } else {
                let note = match kind {
                    OpKind::Read | OpKind::ReadSet | OpKind::ReadCtx => "read",
                    _ => "written",
                };
                (OpOutcome::Ok, note.to_owned())
            };
            if let (OpKind::Write, OpOutcome::Ok) = (kind, outcome) {
                last_written = value.unwrap_or(0);
            }
            let (read, siblings) = match (kind, outcome) {
                (OpKind::Read, OpOutcome::Ok) => {
                    let siblings = if rng.unit() < 0.05 { 2 } else { 1 };
                    (Some(last_written), siblings)
                }
                _ => (None, 0),
            };
            let observed = if kind == OpKind::ReadSet && outcome == OpOutcome::Ok {
                (1..6).map(|i| i * 7).collect()
            } else {
                Vec::new()
            };
            planned.push(Planned {
                process,
                node,
                key,
                kind,
                value,
                invoke: t,
                done: Some((t + latency, outcome, read, siblings, note)),
                observed,
            });
            if outcome == OpOutcome::Info {
                process += clients;
            }
            t += latency + rng.range(gap * 3 / 8, gap * 9 / 8);
        }
        if client == 0 {
            planned.push(Planned {
                process,
                node,
                key: "k0".to_owned(),
                kind: OpKind::Write,
                value: Some(next_value + 1),
                invoke: t.max(end - 1_000),
                done: None,
                observed: Vec::new(),
            });
        }
    }
    // Replay in time order so the history's event order is the order things happened.
    let mut events: Vec<(u64, bool, usize)> = Vec::new();
    for (i, p) in planned.iter().enumerate() {
        events.push((p.invoke, false, i));
        if let Some((done, ..)) = &p.done {
            events.push((*done, true, i));
        }
    }
    events.sort_by_key(|&(at, completion, i)| (at, completion, i));
    let mut history = History::new();
    let mut index_of = vec![usize::MAX; planned.len()];
    for (_, completion, i) in events {
        let Some(p) = planned.get(i) else { continue };
        if completion {
            if let (Some((at, outcome, read, siblings, note)), Some(&index)) =
                (&p.done, index_of.get(i))
            {
                history.complete(index, *outcome, Some((*read, *siblings)), note.clone(), *at);
                if !p.observed.is_empty() {
                    history.observe(index, p.observed.clone());
                }
            }
        } else if let Some(slot) = index_of.get_mut(i) {
            *slot = history.invoke(p.process, p.node, &p.key, p.kind, p.value, p.invoke);
        }
    }
    (history, nemesis)
}

/// Checks that every element of `markup` is closed in order, attributes are quoted in pairs and
/// every `&` starts an entity. HTML void elements (`meta`, `input`) need no end tag; scripts are
/// not looked into.
pub(crate) fn well_formed(markup: &str) -> Result<(), String> {
    let without_script;
    let markup = match (markup.find("<script>"), markup.find("</script>")) {
        (Some(start), Some(end)) if start < end => {
            without_script = format!("{}{}", &markup[..start], &markup[end + "</script>".len()..]);
            without_script.as_str()
        }
        _ => markup,
    };
    let mut open: Vec<&str> = Vec::new();
    let mut rest = markup;
    while let Some(at) = rest.find('<') {
        let (text, after) = rest.split_at(at);
        entities(text)?;
        let after = after.get(1..).unwrap_or("");
        let end = after.find('>').ok_or_else(|| {
            format!(
                "tag never closed: {}",
                after.chars().take(40).collect::<String>()
            )
        })?;
        let (tag, next) = after.split_at(end);
        rest = next.get(1..).unwrap_or("");
        if tag.starts_with('!') || tag.starts_with('?') {
            continue;
        }
        if tag.matches('"').count() % 2 != 0 {
            return Err(format!("unbalanced quotes in <{tag}>"));
        }
        entities(tag)?;
        if let Some(name) = tag.strip_prefix('/') {
            match open.pop() {
                Some(top) if top == name.trim() => {}
                top => return Err(format!("</{name}> closes {top:?}")),
            }
        } else if !tag.ends_with('/') {
            let name = tag.split_whitespace().next().unwrap_or("");
            if !matches!(name, "meta" | "input" | "br") {
                open.push(name);
            }
        }
    }
    entities(rest)?;
    match open.last() {
        None => Ok(()),
        Some(name) => Err(format!("<{name}> never closed")),
    }
}

fn entities(text: &str) -> Result<(), String> {
    for (at, _) in text.match_indices('&') {
        let entity = text.get(at..).unwrap_or("");
        let known = ["&amp;", "&lt;", "&gt;", "&quot;", "&#39;", "&#10;"];
        if !known.iter().any(|e| entity.starts_with(e)) {
            return Err(format!(
                "bare & in {}",
                entity.chars().take(20).collect::<String>()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::report::{jsonl, plot, timeline};

    #[test]
    fn synthetic_run_has_what_the_tests_rely_on() {
        let (h, nemesis) = run(3_000, 60);
        let ops = h.ops();
        assert!((2_500..=3_500).contains(&ops.len()), "{}", ops.len());
        assert_eq!(ops.iter().filter(|op| op.outcome.is_none()).count(), 1);
        for outcome in [OpOutcome::Ok, OpOutcome::Info, OpOutcome::Fail] {
            assert!(ops.iter().any(|op| op.outcome == Some(outcome)));
        }
        assert_eq!(nemesis.len(), 3);
    }

    #[test]
    fn well_formed_catches_broken_markup() {
        assert!(well_formed("<svg><g></g></svg>").is_ok());
        assert!(well_formed("<svg><g></svg>").is_err());
        assert!(well_formed("<svg><text>a & b</text></svg>").is_err());
        assert!(well_formed("<svg><rect x=\"1/></svg>").is_err());
    }

    /// Writes the artifacts of the synthetic run into the directory named by
    /// `KVORUM_REPORT_SAMPLES`, to look at them: `cargo test -p kvorum-jepsen --lib
    /// report::testing -- --ignored`.
    #[test]
    #[ignore = "writes files; run by hand to look at the artifacts"]
    fn write_samples() {
        let Some(dir) = std::env::var_os("KVORUM_REPORT_SAMPLES") else {
            return;
        };
        let dir = std::path::PathBuf::from(dir);
        std::fs::create_dir_all(&dir).unwrap();
        let (h, nemesis) = run(3_000, 60);
        let title = "register, N=5 R=2 W=2, seed 7";
        std::fs::write(
            dir.join("latency.svg"),
            plot::latency_svg(&h, &nemesis, title),
        )
        .unwrap();
        std::fs::write(dir.join("rate.svg"), plot::rate_svg(&h, &nemesis, title)).unwrap();
        std::fs::write(
            dir.join("timeline.html"),
            timeline::timeline_html(&h, &nemesis, title),
        )
        .unwrap();
        let mut file = std::fs::File::create(dir.join("history.jsonl")).unwrap();
        jsonl::write(&h, &nemesis, &mut file).unwrap();
        let (big, big_nemesis) = run(20_000, 300);
        std::fs::write(
            dir.join("timeline-20000.html"),
            timeline::timeline_html(&big, &big_nemesis, "20 000 operations"),
        )
        .unwrap();
        std::fs::write(
            dir.join("latency-20000.svg"),
            plot::latency_svg(&big, &big_nemesis, "20 000 operations"),
        )
        .unwrap();
        let empty = crate::history::History::new();
        std::fs::write(
            dir.join("latency-empty.svg"),
            plot::latency_svg(&empty, &[], "empty"),
        )
        .unwrap();
        std::fs::write(
            dir.join("rate-empty.svg"),
            plot::rate_svg(&empty, &[], "empty"),
        )
        .unwrap();
    }
}
