//! Server commands clients call when they connect: COMMAND, CONFIG GET, INFO.

use bytes::Bytes;
use kvorum_resp::Frame;

use super::{all, printable, spec, CommandSpec, Ctx, Outcome, NO_KEYS};

/// The commands of this family.
pub(super) static COMMANDS: &[CommandSpec] = &[
    spec("command", -1, &["loading", "stale"], NO_KEYS, command),
    spec(
        "config",
        -2,
        &["admin", "noscript", "loading", "stale"],
        NO_KEYS,
        config,
    ),
    spec("info", -1, &["loading", "stale"], NO_KEYS, info),
];

/// `COMMAND`, `COMMAND COUNT`, `COMMAND INFO name...`, `COMMAND DOCS [name...]`.
pub fn command(_ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let Some(sub) = args.get(1) else {
        return Frame::array(all().map(spec_info).collect()).into();
    };
    match sub.to_ascii_uppercase().as_slice() {
        b"COUNT" => Frame::integer(all().count() as i64).into(),
        b"INFO" => Frame::array(
            args[2..]
                .iter()
                .map(|name| {
                    super::lookup(name)
                        .map(spec_info)
                        .unwrap_or_else(Frame::null)
                })
                .collect(),
        )
        .into(),
        // Documentation is not served yet; an empty answer lets clients (redis-cli) carry on.
        b"DOCS" => Frame::map(vec![]).into(),
        _ => Frame::error(format!(
            "ERR unknown subcommand '{}'. Try COMMAND HELP.",
            printable(sub)
        ))
        .into(),
    }
}

fn spec_info(spec: &CommandSpec) -> Frame {
    Frame::array(vec![
        Frame::bulk(spec.name),
        Frame::integer(spec.arity),
        Frame::set(spec.flags.iter().map(|f| Frame::simple(*f)).collect()),
        Frame::integer(spec.keys.0),
        Frame::integer(spec.keys.1),
        Frame::integer(spec.keys.2),
    ])
}

/// `CONFIG GET parameter...`: the parameters clients and tools read on connect. Unknown ones
/// are simply absent from the answer, as with Redis.
pub fn config(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    if !args[1].eq_ignore_ascii_case(b"GET") {
        return Frame::error(format!(
            "ERR unknown subcommand '{}'. Try CONFIG HELP.",
            printable(&args[1])
        ))
        .into();
    }
    if args.len() < 3 {
        return super::wrong_arity("config|get").into();
    }
    let appendonly = if ctx.shared.fsync == "never" {
        "no"
    } else {
        "yes"
    };
    let known: [(&str, String); 3] = [
        ("save", String::new()),
        ("appendonly", appendonly.to_owned()),
        ("databases", "1".to_owned()),
    ];
    let mut pairs = Vec::new();
    for pattern in &args[2..] {
        for (name, value) in &known {
            if pattern.eq_ignore_ascii_case(name.as_bytes()) || pattern.as_ref() == b"*" {
                pairs.push((Frame::bulk(*name), Frame::bulk(value.clone())));
            }
        }
    }
    Frame::map(pairs).into()
}

/// `INFO [section]`: the server section (clients read the version from it).
fn info_text(ctx: &Ctx<'_>) -> String {
    use std::fmt::Write;
    use std::sync::atomic::Ordering::Relaxed;
    let shared = ctx.shared;
    let mut text = format!(
        "# Server\r\nredis_version:7.2.0\r\nkvorum_version:{}\r\nredis_mode:standalone\r\nnode_id:{}\r\n\
         uptime_in_seconds:{}\r\nreplication_factor:{}\r\n\r\n# Clients\r\nconnected_clients:{}\r\n",
        env!("CARGO_PKG_VERSION"),
        shared.node.0,
        shared.started.elapsed().as_secs(),
        shared.policy.n,
        shared.connected_clients.load(Relaxed),
    );
    let h = shared.hints.stats();
    let _ = write!(
        text,
        "\r\n# Hints\r\nhints_count:{}\r\nhints_bytes:{}\r\nhints_stored:{}\r\nhints_merged:{}\r\n\
         hints_delivered:{}\r\nhints_refused_bytes:{}\r\nhints_refused_age:{}\r\nhandoff_attempts_failed:{}\r\n",
        h.count,
        h.bytes,
        h.stored,
        h.merged,
        h.delivered,
        h.refused_bytes,
        h.refused_age,
        shared.handoff.failed.load(Relaxed),
    );
    for b in shared.hints.backlog() {
        let _ = write!(
            text,
            "hints_backlog_n{}:hints={},bytes={}\r\n",
            b.target, b.hints, b.bytes
        );
    }
    text
}

pub fn info(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Outcome {
    Frame::verbatim_text(info_text(ctx)).into()
}
