"""Connection commands: PING, ECHO, HELLO, SELECT, RESET and CLIENT, as clients call them when they
connect and as pools call them when they hand a connection back."""

import pytest

from conftest import PORTS, TARGET, make_client, open_wire, server_version
from wire import Error, Map, Simple, Verbatim

HELLO_FIELDS = {"server", "version", "proto", "id", "mode", "role", "modules"}


def parse_client_line(line):
    """`id=1 addr=... name=x` → dict (values may be empty, never contain spaces)."""
    fields = {}
    for item in line.strip().split(" "):
        name, _, value = item.partition("=")
        fields[name] = value
    return fields


def text(reply) -> str:
    return reply.decode() if isinstance(reply, bytes) else str(reply)


# --- PING, ECHO --------------------------------------------------------------------------------


def test_ping(r, raw, wire_proto):
    assert r.ping() is True
    assert raw.execute_command("PING") == "PONG"
    reply = wire_proto.call("PING")
    assert isinstance(reply, Simple) and reply == "PONG"
    reply = wire_proto.call("PING", "hello world")
    assert type(reply) is bytes and reply == b"hello world"


def test_ping_every_node(clients):
    for client in clients:
        assert client.ping() is True


def test_echo(r, rb):
    assert r.echo("hello") == "hello"
    assert rb.echo(b"\x00\xff\r\n") == b"\x00\xff\r\n"
    assert r.echo("") == ""


# --- HELLO -------------------------------------------------------------------------------------


def test_hello_3_then_2(wire):
    reply = wire.call("HELLO", "3")
    assert isinstance(reply, Map)
    fields = {key.decode(): value for key, value in reply.items()}
    assert set(fields) >= HELLO_FIELDS
    assert fields["proto"] == 3
    assert isinstance(fields["id"], int)
    assert fields["id"] == wire.call("CLIENT", "ID")
    assert isinstance(fields["modules"], list)
    assert fields["mode"] in (b"standalone", b"cluster", b"sentinel")
    assert fields["role"] in (b"master", b"replica")

    reply = wire.call("HELLO", "2")
    assert type(reply) is list and len(reply) % 2 == 0
    fields = dict(zip((key.decode() for key in reply[::2]), reply[1::2]))
    assert set(fields) >= HELLO_FIELDS
    assert fields["proto"] == 2


def test_hello_switches_reply_shapes(wire, k):
    wire.call("HSET", k(), "f", "v")
    assert type(wire.call("HGETALL", k())) is list
    wire.call("HELLO", "3")
    assert isinstance(wire.call("HGETALL", k()), Map)
    assert wire.call("GET", k("missing")) is None
    wire.call("HELLO", "2")
    assert type(wire.call("HGETALL", k())) is list


def test_hello_without_version_reports_current_protocol(wire):
    reply = wire.call("HELLO")
    assert type(reply) is list
    assert reply[reply.index(b"proto") + 1] == 2
    wire.call("HELLO", "3")
    assert wire.call("HELLO")[b"proto"] == 3


def test_hello_setname(wire):
    reply = wire.call("HELLO", "3", "SETNAME", "compat-hello")
    assert isinstance(reply, Map)
    assert wire.call("CLIENT", "GETNAME") == b"compat-hello"


@pytest.mark.parametrize(
    "args, message",
    [
        (["4"], "NOPROTO unsupported protocol version"),
        (["1"], "NOPROTO unsupported protocol version"),
        (["x"], "ERR Protocol version is not an integer or out of range"),
        (["3", "BOGUS"], "ERR Syntax error in HELLO option 'BOGUS'"),
        (
            ["3", "SETNAME", "a b"],
            "ERR Client names cannot contain spaces, newlines or special characters.",
        ),
    ],
)
def test_hello_errors(wire_proto, protocol, args, message):
    reply = wire_proto.call("HELLO", *args)
    assert isinstance(reply, Error) and reply == message
    # A refused HELLO changes nothing: the connection keeps its protocol.
    shape = wire_proto.call("HGETALL", "compat:none")
    assert isinstance(shape, Map) if protocol == 3 else type(shape) is list


def test_redis_py_handshake_in_both_protocols(protocol):
    client = make_client(PORTS[0], protocol, client_name="compat-pool")
    try:
        assert client.client_getname() == "compat-pool"
        assert client.ping() is True
    finally:
        client.close()


# --- SELECT ------------------------------------------------------------------------------------


def test_select_every_db(wire_proto):
    for db in range(16):
        assert wire_proto.call("SELECT", db) == "OK"
    assert wire_proto.call("SELECT", 0) == "OK"


@pytest.mark.parametrize(
    "db, message",
    [
        ("16", "ERR DB index is out of range"),
        ("-1", "ERR DB index is out of range"),
        ("x", "ERR value is not an integer or out of range"),
    ],
)
def test_select_errors(wire_proto, db, message):
    assert wire_proto.call("SELECT", db) == message


def test_dbs_are_separate_keyspaces(wire_proto, k):
    assert wire_proto.call("SELECT", 1) == "OK"
    assert wire_proto.call("SET", k(), "in db 1") == "OK"
    assert wire_proto.call("GET", k()) == b"in db 1"
    assert wire_proto.call("SELECT", 0) == "OK"
    assert wire_proto.call("GET", k()) is None
    assert wire_proto.call("EXISTS", k()) == 0
    assert wire_proto.call("SET", k(), "in db 0") == "OK"
    assert wire_proto.call("SELECT", 1) == "OK"
    assert wire_proto.call("GET", k()) == b"in db 1"
    assert wire_proto.call("DEL", k()) == 1
    assert wire_proto.call("SELECT", 0) == "OK"
    assert wire_proto.call("GET", k()) == b"in db 0"


def test_db_on_every_node(protocol, k):
    writers = [make_client(port, protocol, db=1) for port in PORTS]
    readers0 = [make_client(port, protocol, db=0) for port in PORTS]
    try:
        for i, writer in enumerate(writers):
            writer.set(k(str(i)), "db1")
        for i in range(len(writers)):
            for reader in writers:
                assert reader.get(k(str(i))) == "db1"
            for reader in readers0:
                assert reader.get(k(str(i))) is None
    finally:
        for client in writers + readers0:
            client.close()


# --- RESET -------------------------------------------------------------------------------------


def test_reset(wire, k):
    wire.call("HELLO", "3", "SETNAME", "compat-reset")
    assert wire.call("SELECT", 2) == "OK"
    wire.call("SET", k(), "in db 2")
    reply = wire.call("RESET")
    assert isinstance(reply, Simple) and reply == "RESET"
    # Back to RESP2, db 0, no name.
    assert type(wire.call("HGETALL", k("none"))) is list
    assert wire.call("CLIENT", "GETNAME") is None
    assert wire.call("GET", k()) is None
    info = parse_client_line(text(wire.call("CLIENT", "INFO")))
    assert info["db"] == "0"
    assert info["resp"] == "2"
    assert info["name"] == ""


def test_reset_keeps_the_client_id(wire_proto):
    before = wire_proto.call("CLIENT", "ID")
    wire_proto.call("RESET")
    assert wire_proto.call("CLIENT", "ID") == before


# --- CLIENT ------------------------------------------------------------------------------------


def test_client_id(protocol):
    first = open_wire(protocol=protocol)
    second = open_wire(protocol=protocol)
    try:
        a = first.call("CLIENT", "ID")
        b = second.call("CLIENT", "ID")
        assert type(a) is int and type(b) is int
        assert 0 < a < b
        assert first.call("CLIENT", "ID") == a
    finally:
        first.close()
        second.close()


def test_client_setname_getname(r, raw, wire_proto):
    assert wire_proto.call("CLIENT", "GETNAME") is None
    reply = wire_proto.call("CLIENT", "SETNAME", "compat-name")
    assert isinstance(reply, Simple) and reply == "OK"
    assert wire_proto.call("CLIENT", "GETNAME") == b"compat-name"
    assert wire_proto.call("CLIENT", "SETNAME", "") == "OK"
    assert wire_proto.call("CLIENT", "GETNAME") is None
    assert r.client_setname("compat-py") is True
    assert r.client_getname() == "compat-py"


@pytest.mark.parametrize("name", ["a b", "a\nb", "caf\xe9"])
def test_client_setname_rejects_special_characters(wire_proto, name):
    reply = wire_proto.call("CLIENT", "SETNAME", name)
    assert reply == "ERR Client names cannot contain spaces, newlines or special characters."
    assert wire_proto.call("CLIENT", "GETNAME") is None


def test_client_info(wire_proto, protocol):
    wire_proto.call("CLIENT", "SETNAME", "compat-info")
    wire_proto.call("SELECT", 3)
    reply = wire_proto.call("CLIENT", "INFO")
    if protocol == 3:
        assert isinstance(reply, Verbatim) and reply.format == b"txt"
    else:
        assert type(reply) is bytes
    assert reply.endswith(b"\n")
    info = parse_client_line(text(reply))
    assert info["id"] == str(wire_proto.call("CLIENT", "ID"))
    assert info["name"] == "compat-info"
    assert info["db"] == "3"
    assert info["resp"] == str(protocol)
    host, _, port = info["addr"].rpartition(":")
    assert host and port.isdigit()
    assert info["laddr"].endswith(f":{PORTS[0]}")
    for field in ("age", "idle", "flags", "cmd", "user"):
        assert field in info


def test_client_info_parsed_by_redis_py(r, protocol):
    r.client_setname("compat-py-info")
    info = r.client_info()
    assert info["name"] == "compat-py-info"
    assert int(info["id"]) == r.client_id()
    assert str(info["resp"]) == str(protocol)


def test_client_list(wire_proto, protocol):
    wire_proto.call("CLIENT", "SETNAME", "compat-list")
    my_id = wire_proto.call("CLIENT", "ID")
    reply = wire_proto.call("CLIENT", "LIST")
    if protocol == 3:
        assert isinstance(reply, Verbatim) and reply.format == b"txt"
    lines = [parse_client_line(line) for line in text(reply).strip().split("\n")]
    mine = [line for line in lines if line["id"] == str(my_id)]
    assert len(mine) == 1 and mine[0]["name"] == "compat-list"
    assert all("addr" in line for line in lines)
    only = text(wire_proto.call("CLIENT", "LIST", "ID", my_id)).strip().split("\n")
    assert len(only) == 1 and parse_client_line(only[0])["id"] == str(my_id)
    normal = text(wire_proto.call("CLIENT", "LIST", "TYPE", "normal"))
    assert f"id={my_id} " in normal
    assert wire_proto.call("CLIENT", "LIST", "TYPE", "bogus") == "ERR Unknown client type 'bogus'"
    assert wire_proto.call("CLIENT", "LIST", "ID", "x") == "ERR Invalid client ID"


def test_client_list_parsed_by_redis_py(r):
    r.client_setname("compat-py-list")
    names = [entry["name"] for entry in r.client_list()]
    assert "compat-py-list" in names


def setinfo_supported():
    """CLIENT SETINFO arrived in Redis 7.2; an older Redis lacks it, kvorum must have it."""
    if TARGET == "redis":
        with make_client(PORTS[0], 2) as client:
            if server_version(client) < (7, 2):
                pytest.skip("this Redis predates CLIENT SETINFO (7.2)")


def test_client_setinfo(wire_proto):
    setinfo_supported()
    assert wire_proto.call("CLIENT", "SETINFO", "LIB-NAME", "compat-lib") == "OK"
    assert wire_proto.call("CLIENT", "SETINFO", "LIB-VER", "1.2.3") == "OK"
    info = parse_client_line(text(wire_proto.call("CLIENT", "INFO")))
    assert info["lib-name"] == "compat-lib"
    assert info["lib-ver"] == "1.2.3"


def test_client_setinfo_errors(wire_proto):
    setinfo_supported()
    assert wire_proto.call("CLIENT", "SETINFO", "lib-name", "a b") == (
        "ERR lib-name cannot contain spaces, newlines or special characters."
    )
    assert wire_proto.call("CLIENT", "SETINFO", "bogus", "x") == "ERR Unrecognized option 'bogus'"
