//! Connection commands: PING, ECHO, HELLO, QUIT, SELECT, CLIENT.

use bytes::Bytes;
use kvorum_resp::{Frame, Protocol};

use super::{printable, spec, syntax_error, CommandSpec, Ctx, Outcome, NO_KEYS};

/// The commands of this family.
pub(super) static COMMANDS: &[CommandSpec] = &[
    spec("ping", -1, &["fast", "stale"], NO_KEYS, ping),
    spec("echo", 2, &["fast", "stale"], NO_KEYS, echo),
    spec(
        "hello",
        -1,
        &["noscript", "loading", "stale", "fast", "no_auth"],
        NO_KEYS,
        hello,
    ),
    spec("quit", -1, &["fast", "no_auth"], NO_KEYS, quit),
    spec("select", 2, &["loading", "stale", "fast"], NO_KEYS, select),
    spec(
        "client",
        -2,
        &["noscript", "loading", "stale"],
        NO_KEYS,
        client,
    ),
];

pub fn ping(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let _ = ctx;
    match args {
        [_] => Frame::simple("PONG").into(),
        [_, message] => Frame::bulk(message.clone()).into(),
        _ => super::wrong_arity("ping").into(),
    }
}

pub fn echo(_ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    Frame::bulk(args[1].clone()).into()
}

pub fn quit(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Outcome {
    ctx.session.closing = true;
    Frame::ok().into()
}

/// Only database 0 exists until namespaces map to database indexes.
pub fn select(_ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    match std::str::from_utf8(&args[1])
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
    {
        Some(0) => Frame::ok().into(),
        Some(_) => Frame::error("ERR DB index is out of range").into(),
        None => Frame::error("ERR value is not an integer or out of range").into(),
    }
}

/// `HELLO [protover [AUTH username password] [SETNAME clientname]]`.
pub fn hello(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let mut protocol = ctx.session.protocol;
    let mut name = None;
    if let Some(version) = args.get(1) {
        protocol = match version.as_ref() {
            b"2" => Protocol::Resp2,
            b"3" => Protocol::Resp3,
            _ => return Frame::error("NOPROTO unsupported protocol version").into(),
        };
        let mut rest = &args[2..];
        while let Some(option) = rest.first() {
            if option.eq_ignore_ascii_case(b"AUTH") && rest.len() >= 3 {
                // No password is configured yet: every user is accepted, as with Redis's
                // default `nopass` user.
                rest = &rest[3..];
            } else if option.eq_ignore_ascii_case(b"SETNAME") && rest.len() >= 2 {
                if let Err(e) = check_client_name(&rest[1]) {
                    return e.into();
                }
                name = Some(rest[1].clone());
                rest = &rest[2..];
            } else {
                return Frame::error(format!(
                    "ERR Syntax error in HELLO option '{}'",
                    printable(option)
                ))
                .into();
            }
        }
    }
    ctx.session.protocol = protocol;
    if name.is_some() {
        ctx.session.name = name;
    }
    let proto = match protocol {
        Protocol::Resp2 => 2,
        Protocol::Resp3 => 3,
    };
    Frame::map(vec![
        (Frame::bulk("server"), Frame::bulk("kvorum")),
        (
            Frame::bulk("version"),
            Frame::bulk(env!("CARGO_PKG_VERSION")),
        ),
        (Frame::bulk("proto"), Frame::integer(proto)),
        (Frame::bulk("id"), Frame::integer(ctx.session.id as i64)),
        (Frame::bulk("mode"), Frame::bulk("standalone")),
        (Frame::bulk("role"), Frame::bulk("master")),
        (Frame::bulk("modules"), Frame::array(vec![])),
    ])
    .into()
}

/// `CLIENT ID | GETNAME | SETNAME name | SETINFO LIB-NAME|LIB-VER value | INFO`.
pub fn client(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let sub = args[1].to_ascii_uppercase();
    let session = &mut *ctx.session;
    match (sub.as_slice(), &args[2..]) {
        (b"ID", []) => Frame::integer(session.id as i64).into(),
        (b"GETNAME", []) => session
            .name
            .clone()
            .map(Frame::bulk)
            .unwrap_or_else(Frame::null)
            .into(),
        (b"SETNAME", [name]) => match check_client_name(name) {
            Ok(()) => {
                session.name = (!name.is_empty()).then(|| name.clone());
                Frame::ok().into()
            }
            Err(e) => e.into(),
        },
        (b"SETINFO", [attr, value]) => {
            if value.iter().any(|&b| b == b' ' || b == b'\n' || b == b'\r') {
                return Frame::error(format!(
                    "ERR {} cannot contain spaces, newlines or special characters.",
                    printable(attr)
                ))
                .into();
            }
            match attr.to_ascii_uppercase().as_slice() {
                b"LIB-NAME" => session.lib_name = Some(value.clone()),
                b"LIB-VER" => session.lib_ver = Some(value.clone()),
                _ => {
                    return Frame::error(format!("ERR Unrecognized option '{}'", printable(attr)))
                        .into()
                }
            }
            Frame::ok().into()
        }
        (b"INFO", []) => {
            let text = format!(
                "id={} name={} lib-name={} lib-ver={} resp={} consistency={}\n",
                session.id,
                session.name.as_deref().map(printable).unwrap_or_default(),
                session
                    .lib_name
                    .as_deref()
                    .map(printable)
                    .unwrap_or_default(),
                session
                    .lib_ver
                    .as_deref()
                    .map(printable)
                    .unwrap_or_default(),
                match session.protocol {
                    Protocol::Resp2 => 2,
                    Protocol::Resp3 => 3,
                },
                match session.consistency.to_string() {
                    s if s.is_empty() => "default".to_owned(),
                    s => s.replace(' ', ","),
                },
            );
            Frame::verbatim_text(text).into()
        }
        (b"ID" | b"GETNAME" | b"SETNAME" | b"SETINFO" | b"INFO", _) => syntax_error().into(),
        _ => Frame::error(format!(
            "ERR unknown subcommand '{}'. Try CLIENT HELP.",
            printable(&args[1])
        ))
        .into(),
    }
}

fn check_client_name(name: &[u8]) -> Result<(), Frame> {
    if name.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
        return Err(Frame::error(
            "ERR Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    Ok(())
}
