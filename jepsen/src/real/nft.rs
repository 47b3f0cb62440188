//! The firewall side of network faults, as text: the `nft` batch that gives one node namespace
//! its rules, and the check of what `nft -j list table` reads back.
//!
//! Pure (no I/O) so that both directions are unit-tested without root; [`super::net`] runs the
//! batches and feeds the listings back here.
//!
//! Each node namespace holds one table `inet jepsen` with one chain `input` (filter hook, policy
//! accept). A fault state is at most two rules in that chain:
//! - `ip saddr { … } drop`: the node's grudge, every packet from those nodes dropped on input
//!   (Jepsen's inbound-only semantics, so one-way partitions are expressible);
//! - `ip saddr { … } numgen random mod 100 < P drop`: packet loss from the other nodes.
//!
//! A batch first flushes the table, then adds the rules, and `nft -f` applies a file as one
//! transaction: a node never sees half of a fault state. The read-back is compared rule for rule
//! with what was meant, because a fault that silently failed to apply makes a passing run
//! meaningless.

use std::collections::BTreeSet;
use std::fmt;
use std::net::Ipv4Addr;

use serde::Serialize;
use serde_json::Value;

use super::net::NetFaults;

/// The table's family and name in every node namespace.
pub const FAMILY: &str = "inet";
pub const TABLE: &str = "jepsen";
/// The one chain of the table, hooked on input.
pub const CHAIN: &str = "input";

/// One rule of a node's chain.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Rule {
    /// Drop every packet from these sources.
    Drop { from: BTreeSet<Ipv4Addr> },
    /// Drop `percent` of the packets from these sources, drawn at random per packet.
    Loss {
        from: BTreeSet<Ipv4Addr>,
        percent: u8,
    },
}

impl fmt::Display for Rule {
    /// The rule as `nft` syntax, the way it is written into a batch.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::Drop { from } => write!(f, "ip saddr {} drop", address_set(from)),
            // nft bounds the comparand by the modulus, so 100% is written as `<= 99`.
            Rule::Loss { from, percent } if *percent >= 100 => write!(
                f,
                "ip saddr {} numgen random mod 100 <= 99 drop",
                address_set(from)
            ),
            Rule::Loss { from, percent } => write!(
                f,
                "ip saddr {} numgen random mod 100 < {percent} drop",
                address_set(from)
            ),
        }
    }
}

/// A fault state that cannot be expressed for this topology.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum FaultsError {
    #[error("the faults name node index {node}, but the topology has {nodes} node(s)")]
    NodeOutOfRange { node: usize, nodes: usize },
    #[error("packet loss for node index {node} is {percent}%; it must be 0..=100")]
    LossPercent { node: usize, percent: u8 },
}

/// Checks that `faults` only names nodes of a `nodes`-node topology and sane percentages.
pub fn validate(faults: &NetFaults, nodes: usize) -> Result<(), FaultsError> {
    let in_range = |node: usize| {
        if node < nodes {
            Ok(())
        } else {
            Err(FaultsError::NodeOutOfRange { node, nodes })
        }
    };
    for (&node, from) in &faults.grudge {
        in_range(node)?;
        for &other in from {
            in_range(other)?;
        }
    }
    for (&node, &percent) in &faults.loss_percent {
        in_range(node)?;
        if percent > 100 {
            return Err(FaultsError::LossPercent { node, percent });
        }
    }
    Ok(())
}

/// The rules node `node` must hold for `faults`, in chain order; `addrs[i]` is node `i`'s
/// address. A node never drops its own packets (a grudge naming itself is ignored), and a loss of
/// 0% is no rule at all.
pub fn node_rules(
    faults: &NetFaults,
    node: usize,
    addrs: &[Ipv4Addr],
) -> Result<Vec<Rule>, FaultsError> {
    validate(faults, addrs.len())?;
    let mut rules = Vec::new();
    let grudge: BTreeSet<Ipv4Addr> = faults
        .grudge
        .get(&node)
        .into_iter()
        .flatten()
        .filter(|&&other| other != node)
        .filter_map(|&other| addrs.get(other).copied())
        .collect();
    if !grudge.is_empty() {
        rules.push(Rule::Drop { from: grudge });
    }
    let percent = faults.loss_percent.get(&node).copied().unwrap_or(0);
    let peers: BTreeSet<Ipv4Addr> = addrs
        .iter()
        .enumerate()
        .filter(|&(other, _)| other != node)
        .map(|(_, &addr)| addr)
        .collect();
    if percent > 0 && !peers.is_empty() {
        rules.push(Rule::Loss {
            from: peers,
            percent,
        });
    }
    Ok(rules)
}

/// The batch that creates the table and chain if missing, empties them and adds `rules`.
/// `label` (the namespace) becomes a comment on the first line so a logged batch says where it
/// ran. `nft -f` applies the whole batch in one transaction.
pub fn batch(label: &str, rules: &[Rule]) -> String {
    let mut text = format!(
        "# {label}\n\
         add table {FAMILY} {TABLE}\n\
         add chain {FAMILY} {TABLE} {CHAIN} {{ type filter hook input priority 0; policy accept; }}\n\
         flush table {FAMILY} {TABLE}\n"
    );
    for rule in rules {
        text.push_str(&format!("add rule {FAMILY} {TABLE} {CHAIN} {rule}\n"));
    }
    text
}

/// What `nft -j list table inet jepsen` showed: the chains (name, type, hook, policy) and the
/// rules of the input chain.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Listing {
    pub chains: Vec<ChainInfo>,
    pub rules: Vec<Rule>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainInfo {
    pub name: String,
    pub kind: Option<String>,
    pub hook: Option<String>,
    pub policy: Option<String>,
}

/// A listing that is not what the harness writes.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ListingError {
    #[error("`nft -j` output is not JSON: {0}")]
    NotJson(String),
    #[error("`nft -j` output has no `nftables` array")]
    NoArray,
    #[error("unexpected rule in table {FAMILY} {TABLE}: {0}")]
    UnexpectedRule(String),
}

/// Parses `nft -j list table inet jepsen` into a [`Listing`]. Any rule that is not one of the two
/// shapes the harness writes is an error, not something to skip: an unknown rule could be
/// dropping packets nobody accounted for.
pub fn parse_listing(json: &str) -> Result<Listing, ListingError> {
    let value: Value =
        serde_json::from_str(json).map_err(|err| ListingError::NotJson(err.to_string()))?;
    let items = value
        .get("nftables")
        .and_then(Value::as_array)
        .ok_or(ListingError::NoArray)?;
    let mut listing = Listing::default();
    for item in items {
        if let Some(chain) = item.get("chain") {
            let text = |key: &str| chain.get(key).and_then(Value::as_str).map(str::to_string);
            listing.chains.push(ChainInfo {
                name: text("name").unwrap_or_default(),
                kind: text("type"),
                hook: text("hook"),
                policy: text("policy"),
            });
        } else if let Some(rule) = item.get("rule") {
            let unexpected = || ListingError::UnexpectedRule(rule.to_string());
            if rule.get("chain").and_then(Value::as_str) != Some(CHAIN) {
                return Err(unexpected());
            }
            let exprs = rule
                .get("expr")
                .and_then(Value::as_array)
                .ok_or_else(unexpected)?;
            listing
                .rules
                .push(parse_rule(exprs).ok_or_else(unexpected)?);
        }
    }
    Ok(listing)
}

/// Compares a listing with the rules a node should hold; the error says what differs.
pub fn verify(listing: &Listing, expected: &[Rule]) -> Result<(), String> {
    match listing.chains.as_slice() {
        [chain]
            if chain.name == CHAIN
                && chain.kind.as_deref() == Some("filter")
                && chain.hook.as_deref() == Some("input")
                && chain.policy.as_deref() == Some("accept") => {}
        chains => {
            return Err(format!(
                "expected one chain `{CHAIN}` (filter, hook input, policy accept), found {chains:?}"
            ))
        }
    }
    let mut found = listing.rules.clone();
    let mut wanted = expected.to_vec();
    found.sort();
    wanted.sort();
    if found == wanted {
        Ok(())
    } else {
        Err(format!(
            "expected rules [{}], found [{}]",
            rules_text(&wanted),
            rules_text(&found)
        ))
    }
}

fn rules_text(rules: &[Rule]) -> String {
    rules
        .iter()
        .map(Rule::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

fn address_set(addrs: &BTreeSet<Ipv4Addr>) -> String {
    let list: Vec<String> = addrs.iter().map(Ipv4Addr::to_string).collect();
    format!("{{ {} }}", list.join(", "))
}

/// One rule's expressions: a source match, optionally a random-number match, then `drop`.
fn parse_rule(exprs: &[Value]) -> Option<Rule> {
    match exprs {
        [source, drop] if is_drop(drop) => Some(Rule::Drop {
            from: parse_source(source)?,
        }),
        [source, numgen, drop] if is_drop(drop) => Some(Rule::Loss {
            from: parse_source(source)?,
            percent: parse_numgen(numgen)?,
        }),
        _ => None,
    }
}

fn is_drop(expr: &Value) -> bool {
    expr.as_object()
        .is_some_and(|object| object.len() == 1 && object.contains_key("drop"))
}

/// `{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": …}}`
/// where the right side is one address, or `{"set": [...]}` of addresses or `{"range": [a, b]}`.
fn parse_source(expr: &Value) -> Option<BTreeSet<Ipv4Addr>> {
    let matched = expr.get("match")?;
    let payload = matched.get("left")?.get("payload")?;
    if matched.get("op")?.as_str()? != "=="
        || payload.get("protocol")?.as_str()? != "ip"
        || payload.get("field")?.as_str()? != "saddr"
    {
        return None;
    }
    let right = matched.get("right")?;
    let mut addrs = BTreeSet::new();
    match right.get("set").and_then(Value::as_array) {
        Some(elements) => {
            for element in elements {
                add_element(element, &mut addrs)?;
            }
        }
        None => add_element(right, &mut addrs)?,
    }
    Some(addrs)
}

fn add_element(element: &Value, addrs: &mut BTreeSet<Ipv4Addr>) -> Option<()> {
    if let Some(text) = element.as_str() {
        addrs.insert(text.parse().ok()?);
        return Some(());
    }
    let [low, high] = element.get("range")?.as_array()?.as_slice() else {
        return None;
    };
    let low: Ipv4Addr = low.as_str()?.parse().ok()?;
    let high: Ipv4Addr = high.as_str()?.parse().ok()?;
    // Ranges appear only if nft merged adjacent addresses; ours span one /24 at most.
    if u32::from(high).checked_sub(u32::from(low))? > 255 {
        return None;
    }
    addrs.extend((u32::from(low)..=u32::from(high)).map(Ipv4Addr::from));
    Some(())
}

/// `{"match": {"op": "<", "left": {"numgen": {"mode": "random", "mod": 100, "offset": 0}},
/// "right": P}}`, or `"op": "<="` with `P - 1`.
fn parse_numgen(expr: &Value) -> Option<u8> {
    let matched = expr.get("match")?;
    let numgen = matched.get("left")?.get("numgen")?;
    let offset = numgen.get("offset").and_then(Value::as_u64).unwrap_or(0);
    if numgen.get("mode")?.as_str()? != "random"
        || numgen.get("mod")?.as_u64()? != 100
        || offset != 0
    {
        return None;
    }
    let right = matched.get("right")?.as_u64()?;
    let percent = match matched.get("op")?.as_str()? {
        "<" => right,
        "<=" => right.checked_add(1)?,
        _ => return None,
    };
    u8::try_from(percent).ok().filter(|&p| p <= 100)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn addrs(n: u8) -> Vec<Ipv4Addr> {
        (0..n).map(|i| Ipv4Addr::new(198, 18, 0, 11 + i)).collect()
    }

    fn set(last_octets: &[u8]) -> BTreeSet<Ipv4Addr> {
        last_octets
            .iter()
            .map(|&o| Ipv4Addr::new(198, 18, 0, o))
            .collect()
    }

    fn faults(grudge: &[(usize, &[usize])], loss: &[(usize, u8)]) -> NetFaults {
        NetFaults {
            grudge: grudge
                .iter()
                .map(|&(node, from)| (node, from.iter().copied().collect()))
                .collect(),
            loss_percent: loss.iter().copied().collect::<BTreeMap<_, _>>(),
        }
    }

    /// What `nft -j list table inet jepsen` printed (nftables 1.0.6) after a batch with a
    /// two-address drop, a one-address drop and a 20% loss rule.
    const LISTING: &str = r#"{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}, {"table": {"family": "inet", "name": "jepsen", "handle": 1}}, {"chain": {"family": "inet", "table": "jepsen", "name": "input", "handle": 1, "type": "filter", "hook": "input", "prio": 0, "policy": "accept"}}, {"rule": {"family": "inet", "table": "jepsen", "chain": "input", "handle": 3, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": {"set": ["198.18.0.11", "198.18.0.12"]}}}, {"drop": null}]}}, {"rule": {"family": "inet", "table": "jepsen", "chain": "input", "handle": 4, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": "198.18.0.13"}}, {"drop": null}]}}, {"rule": {"family": "inet", "table": "jepsen", "chain": "input", "handle": 6, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": {"set": ["198.18.0.11", "198.18.0.13"]}}}, {"match": {"op": "<", "left": {"numgen": {"mode": "random", "mod": 100, "offset": 0}}, "right": 20}}, {"drop": null}]}}]}"#;

    const EMPTY: &str = r#"{"nftables": [{"metainfo": {"version": "1.0.6", "json_schema_version": 1}}, {"table": {"family": "inet", "name": "jepsen", "handle": 1}}, {"chain": {"family": "inet", "table": "jepsen", "name": "input", "handle": 1, "type": "filter", "hook": "input", "prio": 0, "policy": "accept"}}]}"#;

    #[test]
    fn a_grudge_becomes_one_drop_rule_of_the_dropped_addresses() {
        let f = faults(&[(1, &[0, 2]), (0, &[1])], &[]);
        let rules = node_rules(&f, 1, &addrs(3)).unwrap();
        assert_eq!(
            rules,
            vec![Rule::Drop {
                from: set(&[11, 13])
            }]
        );
        assert_eq!(
            batch("jx-n2", &rules),
            "# jx-n2\n\
             add table inet jepsen\n\
             add chain inet jepsen input { type filter hook input priority 0; policy accept; }\n\
             flush table inet jepsen\n\
             add rule inet jepsen input ip saddr { 198.18.0.11, 198.18.0.13 } drop\n"
        );
        assert!(node_rules(&f, 2, &addrs(3)).unwrap().is_empty());
    }

    #[test]
    fn loss_applies_to_every_other_node_and_never_to_the_node_itself() {
        let f = faults(&[(0, &[0, 2])], &[(0, 20), (1, 0)]);
        let rules = node_rules(&f, 0, &addrs(3)).unwrap();
        assert_eq!(
            rules,
            vec![
                Rule::Drop { from: set(&[13]) },
                Rule::Loss {
                    from: set(&[12, 13]),
                    percent: 20
                }
            ]
        );
        assert!(batch("jx-n1", &rules).ends_with(
            "add rule inet jepsen input ip saddr { 198.18.0.12, 198.18.0.13 } \
             numgen random mod 100 < 20 drop\n"
        ));
        assert!(
            node_rules(&f, 1, &addrs(3)).unwrap().is_empty(),
            "0% is no rule"
        );
    }

    #[test]
    fn total_loss_stays_within_what_nft_accepts() {
        let rules = node_rules(&faults(&[], &[(2, 100)]), 2, &addrs(3)).unwrap();
        assert!(batch("jx-n3", &rules)
            .contains("ip saddr { 198.18.0.11, 198.18.0.12 } numgen random mod 100 <= 99 drop"));
        let listed = LISTING
            .replace(r#""op": "<""#, r#""op": "<=""#)
            .replace(r#""right": 20"#, r#""right": 99"#);
        assert_eq!(
            parse_listing(&listed).unwrap().rules[2],
            Rule::Loss {
                from: set(&[11, 13]),
                percent: 100
            }
        );
    }

    #[test]
    fn no_faults_is_a_flush_only() {
        let text = batch(
            "jx-n1",
            &node_rules(&NetFaults::default(), 0, &addrs(5)).unwrap(),
        );
        assert!(text.contains("flush table inet jepsen"));
        assert!(!text.contains("add rule"));
    }

    #[test]
    fn faults_outside_the_topology_are_refused() {
        let f = faults(&[(0, &[5])], &[]);
        assert_eq!(
            node_rules(&f, 0, &addrs(5)),
            Err(FaultsError::NodeOutOfRange { node: 5, nodes: 5 })
        );
        assert_eq!(
            validate(&faults(&[], &[(7, 10)]), 3),
            Err(FaultsError::NodeOutOfRange { node: 7, nodes: 3 })
        );
        assert_eq!(
            validate(&faults(&[], &[(1, 101)]), 3),
            Err(FaultsError::LossPercent {
                node: 1,
                percent: 101
            })
        );
    }

    #[test]
    fn a_real_listing_parses_into_the_rules_that_were_written() {
        let listing = parse_listing(LISTING).unwrap();
        assert_eq!(listing.chains.len(), 1);
        assert_eq!(
            listing.rules,
            vec![
                Rule::Drop {
                    from: set(&[11, 12])
                },
                Rule::Drop { from: set(&[13]) },
                Rule::Loss {
                    from: set(&[11, 13]),
                    percent: 20
                },
            ]
        );
        assert_eq!(verify(&listing, &listing.rules.clone()), Ok(()));
        assert_eq!(verify(&parse_listing(EMPTY).unwrap(), &[]), Ok(()));
    }

    #[test]
    fn verification_names_what_is_missing_or_extra() {
        let empty = parse_listing(EMPTY).unwrap();
        let wanted = [Rule::Drop { from: set(&[12]) }];
        let err = verify(&empty, &wanted).unwrap_err();
        assert!(err.contains("ip saddr { 198.18.0.12 } drop"), "{err}");
        let full = parse_listing(LISTING).unwrap();
        assert!(verify(&full, &[]).is_err(), "leftover rules are an error");
        let no_chain = Listing::default();
        assert!(verify(&no_chain, &[]).unwrap_err().contains("one chain"));
    }

    #[test]
    fn unknown_rules_and_garbage_are_errors() {
        let accept = LISTING.replace(r#"{"drop": null}"#, r#"{"accept": null}"#);
        assert!(matches!(
            parse_listing(&accept),
            Err(ListingError::UnexpectedRule(_))
        ));
        let daddr = LISTING.replace("saddr", "daddr");
        assert!(parse_listing(&daddr).is_err());
        let modulo = LISTING.replace(r#""mod": 100"#, r#""mod": 50"#);
        assert!(parse_listing(&modulo).is_err());
        assert!(matches!(
            parse_listing("table inet jepsen {"),
            Err(ListingError::NotJson(_))
        ));
        assert_eq!(parse_listing("{}"), Err(ListingError::NoArray));
    }

    #[test]
    fn merged_ranges_are_understood() {
        let ranged = LISTING.replace(
            r#"["198.18.0.11", "198.18.0.12"]"#,
            r#"[{"range": ["198.18.0.11", "198.18.0.14"]}]"#,
        );
        let listing = parse_listing(&ranged).unwrap();
        assert_eq!(
            listing.rules[0],
            Rule::Drop {
                from: set(&[11, 12, 13, 14])
            }
        );
    }
}
