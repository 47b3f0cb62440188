//! Short text forms of what the simulator does, for the optional event trace of a replayed seed
//! (`kvorum-jepsen sim --seed S --trace`).

use kvorum_consistency::{Kind, Message, Object};

use super::client;

/// An object as `{value@node:counter ts …}`, siblings in dot order; a counter or set as what a
/// read of it shows (ignoring expiry: the workloads set no TTL).
pub fn object(o: &Object) -> String {
    if o.kind() != Kind::Register {
        return format!("{:?}", client::final_state(Some(o), 0));
    }
    let siblings: Vec<String> = o
        .siblings()
        .iter()
        .map(|s| {
            let value = s.value.as_deref().map_or_else(
                || "⊥".to_owned(),
                |b| String::from_utf8_lossy(b).into_owned(),
            );
            format!("{value}@{}:{} {}", s.dot.node.0, s.dot.counter, s.ts)
        })
        .collect();
    format!("{{{}}}", siblings.join(", "))
}

fn maybe(o: Option<&Object>) -> String {
    o.map_or_else(|| "none".to_owned(), object)
}

/// A peer message in one line.
pub fn message(m: &Message) -> String {
    match m {
        Message::Fetch { op, key } => format!("Fetch op={op} {}", key_name(&key.key)),
        Message::Fetched { op, result } => match result {
            Ok(o) => format!("Fetched op={op} {}", maybe(o.as_ref())),
            Err(e) => format!("Fetched op={op} error {e}"),
        },
        Message::Store { op, key, object: o } => {
            format!("Store op={op} {} {}", key_name(&key.key), object(o))
        }
        Message::StoreHint {
            op,
            key,
            object: o,
            target,
        } => format!(
            "StoreHint op={op} {} for {} {}",
            key_name(&key.key),
            target.0,
            object(o)
        ),
        Message::Stored {
            op,
            result,
            durable,
        } => format!("Stored op={op} {result:?} durable={durable}"),
        Message::Forward { op, .. } => format!("Forward op={op}"),
        Message::Forwarded { op, reply } => {
            format!("Forwarded op={op} {}", client::describe_reply(reply))
        }
        Message::List { op, partition, .. } => format!("List op={op} p{}", partition.0),
        Message::Listed { op, result } => match result {
            Ok(page) => format!("Listed op={op} {} keys", page.keys.len()),
            Err(e) => format!("Listed op={op} error {e}"),
        },
        Message::Catalog { catalog } => format!("Catalog {} entries", catalog.entries().len()),
        Message::Ae { op, .. } => format!("Ae op={op}"),
        Message::AeAnswered { op, .. } => format!("AeAnswered op={op}"),
    }
}

fn key_name(key: &[u8]) -> String {
    String::from_utf8_lossy(key).into_owned()
}
