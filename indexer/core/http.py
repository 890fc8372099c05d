"""HTTP for the indexers' RPC clients: one keep-alive connection, a TOTAL deadline per call and
a cap on the reply size.

Why not ``requests``: its timeouts apply to each socket read, so a server that drips one byte
a second holds a "2 s" call as long as it likes, and a reply is read whole before anyone can
look at its size. Here every socket operation of a call - connect, send, each read of the
status line, headers and body - is given only the time left until the call's deadline
(:class:`_DeadlineSocket`), so no server can stretch a call past ``timeout`` seconds; and the
body is read in pieces, refused as soon as it passes ``max_reply_bytes`` (or at once when its
Content-Length says it will).

Errors are the core's: :class:`DeadlineExceeded` and :class:`ConnectionFailed` are transient,
:class:`ReplyTooLarge` permanent (the same request would bring the same reply). HTTP status
codes are the caller's business (``jsonrpc.py``, ``bitcoin/esplora.py``). No proxy support:
the indexers talk to their nodes directly.
"""

from __future__ import annotations

import base64
import http.client
import io
import select
import socket
import ssl
import time
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import unquote, urlsplit

from indexer.core.errors import PermanentError, TransientError

DEFAULT_CONNECT_TIMEOUT = 5.0
# Replies are read in pieces of this size when their length is not announced.
READ_CHUNK = 1 << 20
# What a request on a kept-alive connection the server already closed fails with.
_STALE_KEEPALIVE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


class DeadlineExceeded(TransientError):
    """The call did not finish within its total deadline (slow or stalled server)."""


class ConnectionFailed(TransientError):
    """No connection, or it broke before a whole reply arrived."""


class ReplyTooLarge(PermanentError):
    """The reply is (or announces itself as) larger than the client's cap; it was not read whole."""

    def __init__(self, message: str, *, limit: int) -> None:
        super().__init__(message)
        self.limit = limit


@dataclass(frozen=True, slots=True)
class HttpReply:
    status: int
    body: bytes
    retry_after: float | None  # seconds, from a numeric Retry-After header


class _Budget:
    """The time left of one call."""

    __slots__ = ("deadline", "timeout")

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout

    def remaining(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"deadline of {self.timeout:g}s passed")
        return left


class _DeadlineSocket:
    """A socket whose every blocking operation may last only until the call's deadline.

    http.client reads through a buffered file that loops over ``recv_into`` (a header line or
    a body of n bytes may take many reads); setting the socket timeout once would bound each
    read, not their sum. So the timeout is set again, to the time left, before each one.
    """

    def __init__(self, sock: socket.socket, conn: _Connection) -> None:
        self._sock = sock
        self._conn = conn
        # Like socket.socket: http.client closes the connection while the response still reads
        # from its file; the descriptor really closes when the last file is closed too.
        self._io_refs = 0
        self._closed = False

    def _arm(self) -> None:
        self._sock.settimeout(self._conn.budget.remaining())

    def recv_into(self, buffer: Any, nbytes: int = 0) -> int:
        self._arm()
        return self._sock.recv_into(buffer, nbytes)

    def recv(self, nbytes: int) -> bytes:
        self._arm()
        return self._sock.recv(nbytes)

    def sendall(self, data: Any) -> None:
        # Since Python 3.5 the socket timeout bounds the whole sendall, not each send.
        self._arm()
        self._sock.sendall(data)

    def makefile(self, mode: str = "rb", *args: Any, **kwargs: Any) -> io.BufferedReader:
        self._io_refs += 1
        return io.BufferedReader(socket.SocketIO(self, "rb"))  # type: ignore[arg-type]

    def _decref_socketios(self) -> None:  # called by SocketIO.close()
        self._io_refs -= 1
        if self._closed and self._io_refs <= 0:
            self._sock.close()

    def setsockopt(self, *args: Any) -> None:
        self._sock.setsockopt(*args)

    def fileno(self) -> int:
        return self._sock.fileno()

    def close(self) -> None:
        self._closed = True
        if self._io_refs <= 0:
            self._sock.close()

    def abort(self) -> None:
        """Close the descriptor now, even while a response still holds its file: after a
        deadline or an oversized reply nothing more may be read, and the server must see it."""
        self._closed = True
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()

    def dropped(self) -> bool:
        """An idle keep-alive connection the server closed (or wrote to) must not be reused."""
        try:
            readable, _, _ = select.select([self._sock], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(readable)


class _Connection(http.client.HTTPConnection):
    """http.client's connection, connecting (and TLS-wrapping) within the call's budget."""

    def __init__(self, host: str, port: int, *, tls: bool, connect_timeout: float) -> None:
        super().__init__(host, port)
        self.tls = tls
        self.connect_timeout = connect_timeout
        self.budget = _Budget(connect_timeout)

    def connect(self) -> None:
        raw = socket.create_connection(
            (self.host, self.port), timeout=min(self.connect_timeout, self.budget.remaining())
        )
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.tls:
            raw.settimeout(self.budget.remaining())
            raw = _tls_context().wrap_socket(raw, server_hostname=self.host)
        self.sock = _DeadlineSocket(raw, self)  # type: ignore[assignment]


@cache
def _tls_context() -> ssl.SSLContext:
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


class HttpClient:
    """Requests to one base URL over one keep-alive connection. Not thread-safe: one per thread.

    ``timeout`` is the total deadline of each call in seconds (connect + send + whole reply);
    ``max_reply_bytes`` the largest body accepted. Credentials in the URL
    (``http://user:pass@host/``) become a Basic authorization header.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float,
        max_reply_bytes: int,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        headers: dict[str, str] | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise PermanentError(f"not an http(s) URL: {url!r}")
        if timeout <= 0 or max_reply_bytes <= 0:
            raise ValueError("timeout and max_reply_bytes must be positive")
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.tls = parts.scheme == "https"
        self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.timeout = timeout
        self.max_reply_bytes = max_reply_bytes
        self.connect_timeout = connect_timeout
        self.headers = dict(headers or {})
        if parts.username is not None or parts.password is not None:
            token = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}".encode()
            self.headers["Authorization"] = "Basic " + base64.b64encode(token).decode()
        # For messages: never the credentials.
        self.display_url = f"{parts.scheme}://{self.host}:{self.port}{parts.path or '/'}"
        self._conn: _Connection | None = None

    def close(self) -> None:
        if self._conn is not None:
            sock = self._conn.sock
            if isinstance(sock, _DeadlineSocket):
                sock.abort()
            self._conn.close()
            self._conn = None

    def _connection(self, budget: _Budget) -> _Connection:
        conn = self._conn
        if conn is not None and conn.sock is not None and conn.sock.dropped():  # type: ignore[attr-defined]
            self.close()
            conn = None
        if conn is None:
            conn = self._conn = _Connection(self.host, self.port, tls=self.tls, connect_timeout=self.connect_timeout)
        conn.budget = budget
        return conn

    def request(self, method: str, body: bytes | None = None, *, path: str = "", what: str = "") -> HttpReply:
        """One HTTP exchange within the deadline; ``path`` is appended to the URL's path.

        A kept-alive connection the server closed while idle fails on first use; that one
        failure is retried once on a fresh connection, within the same deadline (every call
        the indexers make is a read, so sending it twice is harmless).
        """
        what = what or f"{method} {self.display_url}{path}"
        budget = _Budget(self.timeout)
        headers = self.headers if body is None else {**self.headers, "Content-Length": str(len(body))}
        target = self.path.rstrip("/") + path if path else self.path
        for attempt in (0, 1):
            conn = self._connection(budget)
            reused = conn.sock is not None
            try:
                conn.request(method, target, body=body, headers=headers)
                response = conn.getresponse()
                data = self._read_capped(response, what)
            except TimeoutError as exc:  # socket.timeout is TimeoutError since 3.10
                self.close()
                raise DeadlineExceeded(f"{what}: no whole reply within {self.timeout:g}s") from exc
            except ReplyTooLarge:
                self.close()
                raise
            except _STALE_KEEPALIVE:
                self.close()
                if reused and attempt == 0:
                    continue
                raise ConnectionFailed(f"{what}: the server closed the connection") from None
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                raise ConnectionFailed(f"{what}: {type(exc).__name__}: {exc}") from exc
            if response.will_close:
                self.close()
            return HttpReply(response.status, data, _retry_after(response.getheader("Retry-After")))
        raise AssertionError("unreachable")

    def _read_capped(self, response: http.client.HTTPResponse, what: str) -> bytes:
        cap = self.max_reply_bytes
        announced = response.getheader("Content-Length")
        if announced is not None and announced.strip().isascii() and announced.strip().isdigit():
            if int(announced) > cap:
                raise ReplyTooLarge(f"{what}: reply announces {int(announced)} bytes, the limit is {cap}", limit=cap)
            return response.read()  # exactly the announced length, each read within the deadline
        pieces: list[bytes] = []
        total = 0
        while True:
            piece = response.read(min(READ_CHUNK, cap + 1 - total))
            if not piece:
                return b"".join(pieces)
            total += len(piece)
            if total > cap:
                raise ReplyTooLarge(f"{what}: reply passed the limit of {cap} bytes; stopped reading", limit=cap)
            pieces.append(piece)


def _retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff
