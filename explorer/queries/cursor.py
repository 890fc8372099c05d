"""The one keyset cursor codec every paged list (pages and API) uses.

A cursor names the last row of the page the client saw, as the values of the list's sort key
(for example ``(block number,)`` or ``(row id,)``). The next page is "rows strictly after that
key" in the list's fixed order - never OFFSET, so a page is one index range scan however deep
the client walks, and rows arriving at the head of the list (new blocks) never shift a page.

The wire form is opaque and tamper-evident::

    base64url( version byte | list name | key as JSON ) "." base64url( HMAC-SHA256 tag[:12] )

The tag covers the version and the list name, so a cursor from one list is refused by another,
and a hand-edited key is refused instead of reaching SQL. Every way a cursor can be wrong is a
:class:`BadCursor` naming ``cursor`` - the pages turn it into a 400, never a 500.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.conf import settings

from explorer.params import BadParameter, digits

VERSION = 1
TAG_BYTES = 12
MAX_CURSOR_CHARS = 512
DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 100

T = TypeVar("T")


class BadCursor(BadParameter):
    """A ``cursor`` query parameter that this list did not issue (or that was altered)."""

    def __init__(self, reason: str, param: str = "cursor") -> None:
        super().__init__(f"{param}: {reason}")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not text or any(c not in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" for c in text):
        raise BadCursor("not a cursor this site issued (bad characters)")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise BadCursor("not a cursor this site issued (bad encoding)") from None


def _tag(body: bytes) -> bytes:
    key = hashlib.sha256(b"hemiscope-cursor:" + settings.SECRET_KEY.encode()).digest()
    return hmac.new(key, body, hashlib.sha256).digest()[:TAG_BYTES]


def encode(list_name: str, key: Sequence[int]) -> str:
    """The opaque cursor for "after ``key``" in ``list_name``."""
    payload = json.dumps([int(k) for k in key], separators=(",", ":")).encode()
    body = bytes([VERSION]) + list_name.encode() + b"\x00" + payload
    return _b64(body) + "." + _b64(_tag(body))


def decode(list_name: str, text: str, arity: int, param: str = "cursor") -> tuple[int, ...]:
    """The key a cursor of ``list_name`` carries (``arity`` integers), or :class:`BadCursor`
    naming ``param`` (the query parameter it came in)."""
    try:
        return _decode(list_name, text, arity)
    except BadCursor as exc:
        raise BadCursor(str(exc).removeprefix("cursor: "), param) from None


def _decode(list_name: str, text: str, arity: int) -> tuple[int, ...]:
    if len(text) > MAX_CURSOR_CHARS:
        raise BadCursor(f"longer than {MAX_CURSOR_CHARS} characters")
    body_text, dot, tag_text = text.partition(".")
    if not dot:
        raise BadCursor("not a cursor this site issued (no tag)")
    body, tag = _unb64(body_text), _unb64(tag_text)
    if not hmac.compare_digest(tag, _tag(body)):
        raise BadCursor("altered, expired by a key change, or not issued by this site")
    if body[0] != VERSION:
        raise BadCursor(f"version {body[0]} is not supported")
    name, sep, payload = body[1:].partition(b"\x00")
    if not sep or name.decode(errors="replace") != list_name:
        raise BadCursor(f"issued for another list, not {list_name}")
    try:
        key = json.loads(payload)
    except ValueError:
        raise BadCursor("malformed key") from None
    if not (isinstance(key, list) and len(key) == arity and all(type(k) is int for k in key)):
        raise BadCursor("malformed key")
    return tuple(key)


def parse_limit(value: str | None, default: int = DEFAULT_PAGE_SIZE, maximum: int = MAX_PAGE_SIZE) -> int:
    """``?limit=`` as a page size in 1..``maximum``, or a BadParameter naming ``limit``."""
    if value in (None, ""):
        return default
    if not digits(value) or len(value) > 6 or not 1 <= int(value) <= maximum:
        raise BadParameter(f"limit: must be an integer from 1 to {maximum}")
    return int(value)


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a keyset list: its rows and the cursor of the next page (None at the end)."""

    items: list[T]
    next_cursor: str | None

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


@dataclass(frozen=True)
class PageRequest:
    """What a client asked for: the list, the key after which to start, and the page size."""

    list_name: str
    after: tuple[int, ...] | None
    limit: int

    @classmethod
    def from_query(
        cls, list_name: str, query: Any, arity: int, default: int = DEFAULT_PAGE_SIZE, param: str = "cursor"
    ) -> PageRequest:
        """From a request's ``GET``: ``cursor`` (or ``param``, for the second list on a page)
        and ``limit``; raises BadParameter naming either."""
        raw = query.get(param)
        after = decode(list_name, raw, arity, param) if raw else None
        limit = parse_limit(query.get("limit"), default) if param == "cursor" else default
        return cls(list_name, after, limit)

    def page(self, rows: Sequence[T], key_of) -> Page[T]:
        """Cut ``rows`` (fetched with ``limit + 1``) to a page; the extra row says there is more."""
        rows = list(rows)
        more = len(rows) > self.limit
        items = rows[: self.limit]
        return Page(items, encode(self.list_name, key_of(items[-1])) if more and items else None)


def first_page(list_name: str, limit: int = DEFAULT_PAGE_SIZE) -> PageRequest:
    return PageRequest(list_name, None, limit)
