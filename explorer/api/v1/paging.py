"""Keyset pages and query parameters of the API.

A list answers ``{"items": [...], "next": <URL of the next page or null>, "next_page_params":
{"cursor": ..., ...} | null}``. The cursor is the read layer's one codec
(``explorer/queries/cursor.py``): opaque, signed, bound to its list. ``next_page_params`` is
the Blockscout v2 name for "what to pass back"; ``next`` is the same as a ready link.

Every query parameter an endpoint does not declare is refused with a 400 naming it, so a typo
(``?form_block=``) never silently returns an unfiltered list.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from urllib.parse import urlencode

from drf_spectacular.utils import OpenApiParameter, extend_schema_serializer
from rest_framework import serializers

from explorer.params import BadParameter, digits
from explorer.queries.cursor import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page, PageRequest, decode, parse_limit

# Parameters every endpoint accepts: DRF's format override (only JSON is rendered anyway).
ALWAYS_ALLOWED = frozenset({"format"})
MAX_INT = 2**63 - 1


def check_known(query, allowed: set[str] | frozenset[str]) -> None:
    for name in query:
        if name not in allowed and name not in ALWAYS_ALLOWED:
            known = ", ".join(sorted(allowed)) or "none"
            raise BadParameter(f"{name[:40]}: unknown parameter (this endpoint takes: {known})")


def page_request(query, list_name: str, *, arity: int = 1, default: int = DEFAULT_PAGE_SIZE,
                 maximum: int = MAX_PAGE_SIZE) -> PageRequest:  # fmt: skip
    raw = query.get("cursor")
    after = decode(list_name, raw, arity) if raw else None
    return PageRequest(list_name, after, parse_limit(query.get("limit"), default, maximum))


def int_param(query, name: str, *, minimum: int = 0) -> int | None:
    text = query.get(name)
    if text in (None, ""):
        return None
    if not digits(text) or len(text) > 19 or not minimum <= int(text) <= MAX_INT:
        raise BadParameter(f"{name}: must be a whole number from {minimum} to {MAX_INT}, got {text[:40]!r}")
    return int(text)


def time_param(query, name: str) -> int | None:
    """A unix time in seconds, or an ISO 8601 date/time (UTC when no offset is given)."""
    text = query.get(name)
    if text in (None, ""):
        return None
    if digits(text) and len(text) <= 12:
        return int(text)
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadParameter(f"{name}: must be unix seconds or an ISO 8601 date/time, got {text[:40]!r}") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp())


def range_params(query, low: str, high: str, *, time: bool = False) -> tuple[int | None, int | None]:
    read = time_param if time else int_param
    lo, hi = read(query, low), read(query, high)
    if lo is not None and hi is not None and lo > hi:
        raise BadParameter(f"{low}: is after {high} ({lo} > {hi})")
    return lo, hi


def hex_param(query, name: str, size: int) -> bytes | None:
    text = query.get(name)
    if text in (None, ""):
        return None
    body = text[2:] if text[:2].lower() == "0x" else ""
    if len(body) != 2 * size or any(c not in "0123456789abcdefABCDEF" for c in body):
        raise BadParameter(f"{name}: must be 0x and {2 * size} hex digits")
    return bytes.fromhex(body)


def paged_body(request, items: list, next_cursor: str | None) -> dict:
    """The list envelope; ``next`` keeps every filter and the limit, with the new cursor."""
    if next_cursor is None:
        return {"items": items, "next": None, "next_page_params": None}
    params = {k: v for k, v in request.query_params.items() if k != "cursor"}
    params["cursor"] = next_cursor
    url = request.build_absolute_uri(request.path) + "?" + urlencode(params)
    return {"items": items, "next": url, "next_page_params": params}


def body_of(request, page: Page, serializer_class, rows=None, context: dict | None = None) -> dict:
    data = serializer_class(page.items if rows is None else rows, many=True, context=context or {}).data
    return paged_body(request, data, page.next_cursor)


class _NextParams(serializers.Serializer):
    cursor = serializers.CharField(help_text="Opaque keyset cursor: pass it back unchanged.")


@cache
def page_of(item: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """The list envelope's schema for one item serializer (one component per item type)."""
    name = item.__name__.removesuffix("Serializer") + "PageSerializer"
    # many=False: a list action answers ONE envelope object, not an array of them.
    return extend_schema_serializer(many=False)(
        type(
            name,
            (serializers.Serializer,),
            {
                "items": item(many=True),
                "next": serializers.URLField(allow_null=True, help_text="The next page (null on the last one)."),
                "next_page_params": _NextParams(
                    allow_null=True,
                    help_text="Query parameters of the next page (Blockscout's name): this page's filters and "
                    "limit plus `cursor`. Null on the last page.",
                ),
                "__module__": __name__,
            },
        )
    )


def paging_parameters(*, default: int = DEFAULT_PAGE_SIZE, maximum: int = MAX_PAGE_SIZE) -> list[OpenApiParameter]:
    return [
        OpenApiParameter(
            "cursor",
            {"type": "string", "pattern": r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$", "maxLength": 512},
            description="Keyset cursor from the previous page's `next_page_params.cursor` (opaque, signed, "
            "bound to this list). A cursor this list did not issue is a 400 naming `cursor`.",
        ),
        OpenApiParameter(
            "limit",
            {"type": "integer", "minimum": 1, "maximum": maximum},
            description=f"Rows per page, 1 to {maximum} (default {default}).",
        ),
    ]


def range_parameters(low: str, high: str, what: str, *, time: bool = False) -> list[OpenApiParameter]:
    if time:
        kind = {"type": "string", "maxLength": 40}
        note = "inclusive; unix seconds or ISO 8601, UTC when no offset"
    else:
        kind = {"type": "integer", "minimum": 0, "maximum": MAX_INT}
        note = "inclusive"
    return [
        OpenApiParameter(low, kind, description=f"Lowest {what} ({note})."),
        OpenApiParameter(high, kind, description=f"Highest {what} ({note})."),
    ]


def address_filter(name: str, description: str) -> OpenApiParameter:
    return OpenApiParameter(name, {"type": "string", "pattern": r"^0x[0-9a-fA-F]{40}$"}, description=description)
