"""Fixtures shared by every family.

The target is named by environment variables (run.sh sets them):

- `COMPAT_HOST` (default 127.0.0.1) and `COMPAT_PORTS` (comma-separated RESP ports, one per node;
  against a single Redis server every entry is the same port);
- `COMPAT_TARGET`: `redis` or `kvorum`, read only by `redis_only`/`kvorum_only`;
- `COMPAT_PASSWORD`: set when the target requires a password (enables the AUTH tests);
- `COMPAT_SCRATCH_DB` (default 9): the db that tests needing a whole keyspace (DBSIZE, KEYS,
  RANDOMKEY, FLUSHDB) empty and use; nothing else touches it.

Every test that uses `r`, `raw`, `clients` or `wire_proto` runs twice, in RESP2 and in RESP3,
because clients see different reply shapes in each. Keys come from `k`, which gives every test
its own prefix, so tests neither depend on nor disturb each other's keys or their placement.
"""

import os
import re
import uuid

import pytest
import redis

from wire import Wire

HOST = os.environ.get("COMPAT_HOST", "127.0.0.1")
PORTS = [int(p) for p in os.environ.get("COMPAT_PORTS", "6379").split(",") if p.strip()]
TARGET = os.environ.get("COMPAT_TARGET", "redis")
PASSWORD = os.environ.get("COMPAT_PASSWORD") or None
SCRATCH_DB = int(os.environ.get("COMPAT_SCRATCH_DB", "9"))
SOCKET_TIMEOUT = float(os.environ.get("COMPAT_SOCKET_TIMEOUT", "10"))

# One id per run, so keys of a run never meet keys left by an earlier run on the same target.
RUN_ID = uuid.uuid4().hex[:8]


def pytest_runtest_setup(item):
    """Honours `@pytest.mark.redis_only(reason)` and `@pytest.mark.kvorum_only(reason)`."""
    for mark, target in (("redis_only", "redis"), ("kvorum_only", "kvorum")):
        marker = item.get_closest_marker(mark)
        if marker is not None and TARGET != target:
            pytest.skip(f"{mark}: {marker.args[0] if marker.args else 'no reason given'}")


def redis_only(reason: str) -> bool:
    """True when the target is Redis: guards an assertion kvorum deliberately does not meet.

    Use as `if redis_only("why"): assert ...`; the reason documents the difference.
    """
    assert reason
    return TARGET == "redis"


def kvorum_only(reason: str) -> bool:
    """True when the target is kvorum: guards an assertion only kvorum meets."""
    assert reason
    return TARGET == "kvorum"


def server_version(client) -> tuple:
    """The `redis_version` INFO reports, as a tuple of ints (kvorum reports the one it matches)."""
    text = client.info("server").get("redis_version", "0")
    return tuple(int(x) for x in re.findall(r"\d+", str(text))[:3])


def make_client(port, protocol, db=0, decode=True, callbacks=True, **extra):
    """A redis-py client; `callbacks=False` returns replies as the RESP parser gives them."""
    kwargs = dict(
        host=HOST,
        port=port,
        db=db,
        protocol=protocol,
        decode_responses=decode,
        socket_timeout=SOCKET_TIMEOUT,
        socket_connect_timeout=SOCKET_TIMEOUT,
        password=PASSWORD,
    )
    kwargs.update(extra)
    client = redis.Redis(**kwargs)
    if not callbacks:
        client.response_callbacks.clear()
    return client


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def protocol(request):
    return request.param


@pytest.fixture
def k(request):
    """`k("name")` → a key name unique to this test (and this run)."""
    test = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    prefix = f"compat:{RUN_ID}:{test}:"
    return lambda name="k": prefix + name


@pytest.fixture
def r(protocol):
    """redis-py on the first node, replies parsed as an application sees them."""
    client = make_client(PORTS[0], protocol)
    yield client
    client.close()


@pytest.fixture
def rb(protocol):
    """Like `r`, but values stay bytes (for binary-safety tests)."""
    client = make_client(PORTS[0], protocol, decode=False)
    yield client
    client.close()


@pytest.fixture
def raw(protocol):
    """redis-py on the first node with no reply callbacks: `OK` stays "OK", flat lists stay flat."""
    client = make_client(PORTS[0], protocol, callbacks=False)
    yield client
    client.close()


@pytest.fixture
def clients(protocol):
    """One redis-py client per node, in node order (all the same server against Redis)."""
    made = [make_client(port, protocol) for port in PORTS]
    yield made
    for client in made:
        client.close()


@pytest.fixture
def node_pairs(clients):
    """Every (writer, reader) pair of distinct nodes; one pair (the same server) against Redis."""
    if len(clients) == 1:
        return [(clients[0], clients[0])]
    return [(a, b) for i, a in enumerate(clients) for j, b in enumerate(clients) if i != j]


@pytest.fixture
def scratch(protocol):
    """A client on the emptied scratch db, for tests that look at a whole keyspace."""
    client = make_client(PORTS[0], protocol, db=SCRATCH_DB)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


def open_wire(port=None, protocol=2, db=0):
    """A `Wire` connection, authenticated when the target has a password, in `protocol`."""
    conn = Wire(HOST, port or PORTS[0], timeout=SOCKET_TIMEOUT)
    if protocol == 3 or PASSWORD:
        args = ["HELLO", str(protocol)]
        if PASSWORD:
            args += ["AUTH", "default", PASSWORD]
        reply = conn.call(*args)
        assert isinstance(reply, (dict, list)), reply
    if db:
        assert conn.call("SELECT", db) == "OK"
    return conn


@pytest.fixture
def wire_proto(protocol):
    """A `Wire` connection on the first node speaking `protocol`."""
    conn = open_wire(protocol=protocol)
    yield conn
    conn.close()


@pytest.fixture
def wire():
    """A `Wire` connection on the first node, in RESP2 (tests switch it themselves)."""
    conn = open_wire()
    yield conn
    conn.close()


def err_text(excinfo) -> str:
    """The message of a redis-py error as the server sent it (redis-py strips a leading `ERR `)."""
    return str(excinfo.value)
