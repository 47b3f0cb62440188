"""A minimal RESP2/RESP3 client that keeps every reply's exact wire type.

redis-py folds RESP3 sets into lists, simple strings into bulk strings and verbatim strings into
plain text, which is what applications see and what the family tests check. A few behaviours are
about the wire itself (which type a reply has, what HELLO or RESET does to the protocol of the
connection, inline commands), and for those the tests use this client: it sends exactly what it is
given and returns each reply as a Python value whose class names its RESP type.
"""

import socket


class Simple(str):
    """`+...`: a simple string."""


class Error(str):
    """`-...` or `!...`: an error reply (returned, never raised, so tests can compare its text)."""


class Double(float):
    """`,...`: a RESP3 double."""


class BigNumber(int):
    """`(...`: a RESP3 big number."""


class Verbatim(bytes):
    """`=...`: a RESP3 verbatim string; `format` holds its three-letter type (`txt`, `mkd`)."""

    format = b""


class RSet(list):
    """`~...`: a RESP3 set, kept in wire order (members may be unhashable)."""


class Push(list):
    """`>...`: a RESP3 push message."""


class Map(dict):
    """`%...`: a RESP3 map."""


class ProtocolError(Exception):
    """The target sent bytes that are not RESP."""


def encode(*args) -> bytes:
    """Encodes one command as a RESP array of bulk strings."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        if isinstance(arg, str):
            arg = arg.encode()
        elif isinstance(arg, int):
            arg = str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(out)


class Wire:
    """One TCP connection; replies are read one at a time, in order."""

    def __init__(self, host: str, port: int, timeout: float = 10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data: bytes):
        self.sock.sendall(data)

    def call(self, *args):
        """Sends one command and returns its reply."""
        self.send(encode(*args))
        return self.read()

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed by the target")
        self.buf += chunk

    def _line(self) -> bytes:
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n: int) -> bytes:
        while len(self.buf) < n + 2:
            self._fill()
        data, tail, self.buf = self.buf[:n], self.buf[n : n + 2], self.buf[n + 2 :]
        if tail != b"\r\n":
            raise ProtocolError(f"bulk of {n} bytes not followed by CRLF: {tail!r}")
        return data

    def read_until_close(self) -> bytes:
        """Everything the target sends until it closes the connection (after QUIT)."""
        while True:
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            self.buf += chunk
        data, self.buf = self.buf, b""
        return data

    def read(self):
        """Reads one reply; attributes (`|`) are skipped as a client that ignores them would."""
        line = self._line()
        if not line:
            raise ProtocolError("empty line where a reply was expected")
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return Simple(rest.decode())
        if kind == b"-":
            return Error(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        if kind == b"_":
            return None
        if kind == b",":
            return Double(float(rest))
        if kind == b"#":
            if rest not in (b"t", b"f"):
                raise ProtocolError(f"bad boolean {rest!r}")
            return rest == b"t"
        if kind == b"(":
            return BigNumber(int(rest))
        if kind == b"!":
            return Error(self._exact(int(rest)).decode())
        if kind == b"=":
            data = self._exact(int(rest))
            value = Verbatim(data[4:])
            value.format = data[:3]
            return value
        if kind == b"~":
            return RSet(self.read() for _ in range(int(rest)))
        if kind == b">":
            return Push(self.read() for _ in range(int(rest)))
        if kind == b"%":
            out = Map()
            for _ in range(int(rest)):
                key = self.read()
                out[_hashable(key)] = self.read()
            return out
        if kind == b"|":
            for _ in range(int(rest) * 2):
                self.read()
            return self.read()
        raise ProtocolError(f"unknown reply type {line!r}")


def _hashable(value):
    return tuple(value) if isinstance(value, list) else value
