"""AUTH: what a client sees before and after authenticating.

Most of these need a target that requires a password and run only when `COMPAT_PASSWORD` names
it; run.sh starts such a target for them (see README). One test checks the reply of a target
without a password and runs only when `COMPAT_PASSWORD` is unset.
"""

import pytest
import redis

from conftest import HOST, PASSWORD, PORTS, SOCKET_TIMEOUT, make_client
from wire import Error, Map, Wire

needs_password = pytest.mark.skipif(PASSWORD is None, reason="COMPAT_PASSWORD is not set")

WRONGPASS = "WRONGPASS invalid username-password pair or user is disabled."


def bare_wire(port=None):
    """A connection that has not authenticated."""
    return Wire(HOST, port or PORTS[0], timeout=SOCKET_TIMEOUT)


@pytest.mark.skipif(PASSWORD is not None, reason="the target has a password")
def test_auth_without_a_configured_password(wire_proto):
    assert wire_proto.call("AUTH", "anything") == (
        "ERR AUTH <password> called without any password configured for the default user. "
        "Are you sure your configuration is correct?"
    )
    # The default user has no password at all, so any password opens it.
    assert wire_proto.call("AUTH", "default", "anything") == "OK"
    assert wire_proto.call("PING") == "PONG"


@needs_password
@pytest.mark.parametrize("port", PORTS)
def test_commands_need_auth_first(port):
    with bare_wire(port) as conn:
        for args in (
            ["GET", "compat:auth"],
            ["PING"],
            ["CLIENT", "ID"],
            ["SET", "compat:auth", "v"],
        ):
            reply = conn.call(*args)
            assert isinstance(reply, Error) and reply == "NOAUTH Authentication required.", args


@needs_password
def test_auth_wrong_then_right():
    with bare_wire() as conn:
        assert conn.call("AUTH", "wrong-" + PASSWORD) == WRONGPASS
        assert conn.call("AUTH", "default", "wrong-" + PASSWORD) == WRONGPASS
        assert conn.call("GET", "compat:auth") == "NOAUTH Authentication required."
        assert conn.call("AUTH", PASSWORD) == "OK"
        assert conn.call("PING") == "PONG"
    with bare_wire() as conn:
        assert conn.call("AUTH", "default", PASSWORD) == "OK"
        assert conn.call("PING") == "PONG"


@needs_password
def test_hello_before_auth():
    with bare_wire() as conn:
        reply = conn.call("HELLO", "3")
        assert isinstance(reply, Error) and reply.startswith(
            "NOAUTH HELLO must be called with the client already authenticated"
        )
        assert conn.call("HELLO", "3", "AUTH", "default", "wrong-" + PASSWORD) == WRONGPASS
        reply = conn.call("HELLO", "3", "AUTH", "default", PASSWORD)
        assert isinstance(reply, Map) and reply[b"proto"] == 3
        assert conn.call("PING") == "PONG"


@needs_password
def test_hello_auth_with_setname():
    with bare_wire() as conn:
        reply = conn.call("HELLO", "2", "AUTH", "default", PASSWORD, "SETNAME", "compat-auth")
        assert type(reply) is list
        assert conn.call("CLIENT", "GETNAME") == b"compat-auth"


@needs_password
def test_redis_py_with_and_without_password(protocol):
    good = make_client(PORTS[0], protocol)
    try:
        assert good.ping() is True
    finally:
        good.close()
    bad = make_client(PORTS[0], protocol, password="wrong-" + PASSWORD)
    try:
        with pytest.raises(redis.AuthenticationError):
            bad.ping()
    finally:
        bad.close()
    missing = make_client(PORTS[0], protocol, password=None)
    try:
        with pytest.raises(redis.AuthenticationError):
            missing.get("compat:auth")
    finally:
        missing.close()


@needs_password
def test_reset_keeps_the_connection_authenticated_as_default():
    # With requirepass, RESET logs the connection out: the default user needs the password.
    with bare_wire() as conn:
        assert conn.call("AUTH", PASSWORD) == "OK"
        assert conn.call("RESET") == "RESET"
        assert conn.call("PING") == "NOAUTH Authentication required."
