//! The hello: the first exchange of a native connection.
//!
//! It checks the protocol version (the ALPN already names it, so a mismatch here means a client
//! that sends another version's hello over this version's ALPN) and the credentials. With
//! `[auth] requirepass` set, the hello must carry that password, unless the client presented a
//! certificate of the cluster CA at the TLS handshake, which authenticates it as well as the
//! password would (the TLS layer has already verified it against the CA). Without a password
//! configured, every client is admitted, as RESP admits every connection.

use kvorum_wire::native::{
    Applied, ErrorKind, ErrorReply, Hello, Welcome, NATIVE_PROTOCOL_VERSION,
};

use crate::session::constant_time_eq;

/// Whether `hello` may open the connection. `requirepass` is the configured password,
/// `certified` whether the client presented a certificate of the cluster CA.
pub(super) fn check(
    hello: &Hello,
    requirepass: Option<&[u8]>,
    certified: bool,
) -> Result<(), ErrorReply> {
    if hello.protocol != NATIVE_PROTOCOL_VERSION {
        return Err(ErrorReply {
            kind: ErrorKind::Invalid,
            applied: Applied::No,
            message: format!(
                "ERR native protocol version {} is not supported; this node speaks version \
                 {NATIVE_PROTOCOL_VERSION}",
                hello.protocol
            ),
        });
    }
    let Some(expected) = requirepass else {
        return Ok(());
    };
    if certified {
        return Ok(());
    }
    let refused = |message: &str| ErrorReply {
        kind: ErrorKind::Auth,
        applied: Applied::No,
        message: message.to_owned(),
    };
    match &hello.password {
        // Compared in time that does not depend on how much of the password is right.
        Some(given) if constant_time_eq(expected, given.as_bytes()) => Ok(()),
        Some(_) => Err(refused("WRONGPASS invalid password")),
        None => Err(refused(
            "NOAUTH this cluster requires a password ([auth] requirepass) or a client \
             certificate of the cluster CA",
        )),
    }
}

/// A successful hello's answer.
pub(super) fn welcome(node: u64) -> Welcome {
    Welcome {
        node,
        version: env!("CARGO_PKG_VERSION").to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hello(protocol: u8, password: Option<&str>) -> Hello {
        Hello {
            protocol,
            password: password.map(str::to_owned),
            client_name: None,
        }
    }

    fn kind(result: Result<(), ErrorReply>) -> Option<ErrorKind> {
        result.err().map(|e| {
            assert_eq!(e.applied, Applied::No);
            e.kind
        })
    }

    #[test]
    fn a_password_or_a_certificate_opens_the_connection() {
        let v = NATIVE_PROTOCOL_VERSION;
        let pass = Some(&b"hunter2"[..]);
        assert_eq!(kind(check(&hello(v, None), None, false)), None);
        assert_eq!(kind(check(&hello(v, Some("x")), None, false)), None);
        assert_eq!(kind(check(&hello(v, Some("hunter2")), pass, false)), None);
        assert_eq!(kind(check(&hello(v, None), pass, true)), None);
        assert_eq!(
            kind(check(&hello(v, Some("hunter3")), pass, false)),
            Some(ErrorKind::Auth)
        );
        assert_eq!(
            kind(check(&hello(v, None), pass, false)),
            Some(ErrorKind::Auth)
        );
        assert_eq!(
            kind(check(&hello(v + 1, Some("hunter2")), pass, false)),
            Some(ErrorKind::Invalid)
        );
    }
}
