"""JSON-RPC over :mod:`indexer.core.http`: single and batched calls, every bad reply named.

Shared by the Hemi client (``hemi/rpc.py``), the Bitcoin node source (``bitcoin/rpc.py``) and
the devnet's bcoin adapter. What is checked here, once for all of them:

* the HTTP status: 401/403 -> :class:`AccessDenied`; 429 and 5xx without a JSON-RPC reply
  in the body -> :class:`ServerBusy` (transient; Bitcoin Core answers a failed call with HTTP
  500 *and* a JSON-RPC error object, which is a reply, not a busy server); any other status
  without a reply -> :class:`HttpStatusError`;
* the body: JSON (pydantic-core's parser: a quarter less CPU than ``json.loads`` on block
  replies, a bounded nesting depth, and lone UTF-16 surrogates refused) or :class:`BadReply`;
* the shape: a single call answers one object with ``result`` or ``error``; a batch answers a
  list with exactly one object per request id - an id that is missing, repeated, unknown or not
  an integer is a :class:`BadReply`, never a ``TypeError`` from hashing a list.

Error *objects* (the node refusing a call) are returned as :class:`ErrorObject` values: what
they mean (not found, rate limited, reverted...) differs per chain, so the chain classifies.
A batch whose reply would pass the size cap is split in halves and sent again, so a run of
unusually large blocks slows the indexer down instead of stopping it.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic_core import from_json

from indexer.core.errors import PermanentError, TransientError
from indexer.core.http import HttpClient, ReplyTooLarge

DEFAULT_MAX_REPLY_BYTES = 128 << 20


class BadReply(PermanentError):
    """A reply that is not what JSON-RPC (or the method) promises: not JSON, wrong shape, bad
    ids, or a result of the wrong type (``null``, ``"0xzz"``, ``[]`` where a number belongs)."""


class AccessDenied(PermanentError):
    """HTTP 401/403: the node refused our credentials."""


class HttpStatusError(PermanentError):
    """An HTTP status other than success that carries no JSON-RPC reply."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


class ServerBusy(TransientError):
    """HTTP 429 or 5xx without a JSON-RPC reply: overloaded, restarting, or a proxy in trouble."""


@dataclass(frozen=True, slots=True)
class ErrorObject:
    """A JSON-RPC error object as the node sent it."""

    code: int | None
    message: str
    data: Any = None


@dataclass(frozen=True, slots=True)
class Reply:
    """One call's answer: ``error`` is None on success (``result`` may legitimately be null)."""

    result: Any = None
    error: ErrorObject | None = None


def _short(value: Any) -> str:
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text[:100]


def error_object(raw: Any) -> ErrorObject:
    if not isinstance(raw, dict):
        return ErrorObject(None, str(raw)[:500])
    code = raw.get("code")
    return ErrorObject(
        code if isinstance(code, int) and not isinstance(code, bool) else None,
        str(raw.get("message", ""))[:500],
        raw.get("data"),
    )


def _is_reply(body: Any) -> bool:
    return isinstance(body, list) or (isinstance(body, dict) and ("result" in body or "error" in body))


class JsonRpcClient:
    """JSON-RPC calls to one URL. ``version`` is the ``jsonrpc`` member sent ("1.0" for
    Bitcoin Core/bcoin, "2.0" for EVM nodes); ids are this client's own counter."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float,
        max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES,
        version: str = "2.0",
        connect_timeout: float | None = None,
    ) -> None:
        kwargs = {} if connect_timeout is None else {"connect_timeout": connect_timeout}
        self.http = HttpClient(
            url,
            timeout=timeout,
            max_reply_bytes=max_reply_bytes,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
            **kwargs,
        )
        self.url = url
        self.version = version
        self._ids = itertools.count(1)

    @property
    def timeout(self) -> float:
        return self.http.timeout

    def close(self) -> None:
        self.http.close()

    def _post(self, payload: Any, what: str) -> Any:
        reply = self.http.request("POST", json.dumps(payload, separators=(",", ":")).encode(), what=what)
        status = reply.status
        if status in (401, 403):
            raise AccessDenied(f"{what}: HTTP {status}: the node refused our credentials")
        try:
            body = from_json(reply.body) if reply.body else None
        except ValueError as exc:
            body = None
            if status == 200:
                raise BadReply(f"{what}: reply is not JSON ({exc}): {reply.body[:200]!r}") from exc
        if _is_reply(body) and status != 429:
            return body
        if status == 429 or status >= 500:
            err = ServerBusy(f"{what}: HTTP {status}: {reply.body[:200]!r}")
            err.retry_after = reply.retry_after
            raise err
        if status != 200:
            raise HttpStatusError(f"{what}: HTTP {status}: {reply.body[:200]!r}", status=status)
        raise BadReply(f"{what}: not a JSON-RPC reply: {_short(body)}")

    def call(self, method: str, params: Sequence[Any] = ()) -> Reply:
        """One call; its result, or the node's error object. Transport and shape errors raise."""
        request_id = next(self._ids)
        body = self._post({"jsonrpc": self.version, "id": request_id, "method": method, "params": list(params)}, method)
        if not isinstance(body, dict):
            raise BadReply(f"{method}: expected one reply object, got {_short(body)}")
        if body.get("error") is not None:
            # A server that could not parse the request answers id null: still its error.
            if body.get("id") not in (request_id, None):
                raise BadReply(f"{method}: reply id {_short(body.get('id'))} is not the request's {request_id}")
            return Reply(error=error_object(body["error"]))
        if body.get("id") != request_id:
            raise BadReply(f"{method}: reply id {_short(body.get('id'))} is not the request's {request_id}")
        return Reply(result=body.get("result"))

    def batch(self, calls: Sequence[tuple[str, Sequence[Any]]], what: str = "") -> list[Reply]:
        """Many calls in one POST; replies in the order of ``calls`` (servers may reorder).

        A whole-batch error object (a server or proxy refusing the batch itself) becomes that
        error for every call. A reply over the size cap is retried as two half batches.
        """
        if not calls:
            return []
        what = what or f"{calls[0][0]} x{len(calls)}"
        ids = [next(self._ids) for _ in calls]
        payload = [
            {"jsonrpc": self.version, "id": i, "method": m, "params": list(p)}
            for i, (m, p) in zip(ids, calls, strict=True)
        ]
        try:
            body = self._post(payload, what)
        except ReplyTooLarge:
            if len(calls) == 1:
                raise
            half = len(calls) // 2
            return self.batch(calls[:half], what) + self.batch(calls[half:], what)
        if isinstance(body, dict):
            if body.get("error") is None:
                raise BadReply(f"{what}: a batch was answered with one object: {_short(body)}")
            return [Reply(error=error_object(body["error"]))] * len(calls)
        if not isinstance(body, list):
            raise BadReply(f"{what}: batch reply is not a JSON array: {_short(body)}")
        position = {request_id: n for n, request_id in enumerate(ids)}
        replies: list[Reply | None] = [None] * len(calls)
        for item in body:
            if not isinstance(item, dict):
                raise BadReply(f"{what}: batch reply item is not an object: {_short(item)}")
            request_id = item.get("id")
            n = position.get(request_id) if isinstance(request_id, int) and not isinstance(request_id, bool) else None
            if n is None:
                raise BadReply(f"{what}: batch reply item with unknown id {_short(request_id)}")
            if replies[n] is not None:
                raise BadReply(f"{what}: batch reply repeats id {request_id}")
            if "result" not in item and "error" not in item:
                raise BadReply(f"{what}: batch reply item {request_id} has neither result nor error")
            error = item.get("error")
            replies[n] = Reply(error=error_object(error)) if error is not None else Reply(result=item.get("result"))
        missing = [ids[n] for n, r in enumerate(replies) if r is None]
        if missing:
            raise BadReply(f"{what}: batch reply lacks {len(missing)} of {len(calls)} ids (first: {missing[0]})")
        return replies  # type: ignore[return-value]


# ----------------------------------------------------------------------------- result checks
# Typed readers for scalar results: a wrong type or malformed text is a BadReply naming the call.


def quantity(value: Any, what: str) -> int:
    """An EVM hex quantity (``"0x2a"``) -> int."""
    if isinstance(value, str) and len(value) > 2 and value[:2] in ("0x", "0X"):
        try:
            return int(value[2:], 16)
        except ValueError:
            pass
    raise BadReply(f"{what}: expected a hex quantity, got {_short(value)}")


def hex_data(value: Any, what: str, *, length: int | None = None) -> bytes:
    """EVM hex data (``"0x..."``, even length) -> bytes, optionally of an exact length."""
    if isinstance(value, str) and value[:2] in ("0x", "0X"):
        try:
            raw = bytes.fromhex(value[2:])
        except ValueError:
            raw = None
        if raw is not None and (length is None or len(raw) == length):
            return raw
    want = "hex data" if length is None else f"{length} bytes of hex"
    raise BadReply(f"{what}: expected {want}, got {_short(value)}")


def plain_hex(value: Any, what: str, *, length: int | None = None) -> bytes:
    """Bitcoin-style hex without a prefix -> bytes, optionally of an exact length."""
    if isinstance(value, str):
        try:
            raw = bytes.fromhex(value)
        except ValueError:
            raw = None
        if raw is not None and (length is None or len(raw) == length):
            return raw
    want = "hex" if length is None else f"{length} bytes of hex"
    raise BadReply(f"{what}: expected {want}, got {_short(value)}")


def integer(value: Any, what: str) -> int:
    """A JSON integer (not a boolean, not a float, not text)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise BadReply(f"{what}: expected an integer, got {_short(value)}")


def json_object(value: Any, what: str) -> dict:
    if isinstance(value, dict):
        return value
    raise BadReply(f"{what}: expected an object, got {_short(value)}")
