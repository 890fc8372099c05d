"""Bounds on untrusted evidence, checked before any recursive parser sees the bytes (pure, no Django).

Python's ``json`` and pyrlp decoders recurse once per nesting level and build every value in
memory, so a hostile file can exhaust the recursion limit (``[[[[...`` or an RLP list nested
a thousand deep) or memory (a small text of many tiny containers expands ~20x as objects).
Here the size, the amount of structure and the nesting depth are measured first, by scans
that allocate nothing per value, and anything over a limit becomes a named ``BoundsError``.
The offline verifier bounds each bundle this way; a verifier of whole reports can reuse the
same limits per bundle.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from itertools import accumulate


class BoundsError(ValueError):
    """Input refused before or while parsing: too large, too deep, too much structure, or not JSON."""


@dataclass(frozen=True)
class JsonLimits:
    # A devnet bundle is ~30 kB; a mainnet bundle whose keystone was anchored a day late holds
    # ~7,000 Hemi headers (~10 MB). 32 MiB leaves room and still bounds memory to a few times that.
    max_bytes: int = 32 * 1024 * 1024
    # Quotes, backslashes, commas and opening brackets: every value, key and escape needs some,
    # so this bounds the objects the parser builds (and the work of the depth scan) whatever
    # the text. A bundle has ~4 per header or proof node.
    max_structure: int = 1_000_000
    # A bundle nests 4 deep (bundle > section > item > list); 32 is generous and far below the
    # interpreter's recursion limit.
    max_depth: int = 32
    # Every integer in a bundle is a height, index or amount (a uint256 has 78 digits); long
    # digit strings cost quadratic time to convert, so they are refused before conversion.
    max_int_digits: int = 80


DEFAULT_JSON_LIMITS = JsonLimits()

# A backslash and the byte it escapes: removing these pairs left to right lexes JSON escapes
# exactly (``\\`` pairs first, so ``\\"`` still ends a string); outside strings a backslash is
# invalid JSON anyway, which json.loads reports.
_ESCAPE_PAIR = re.compile(rb"\\.", re.DOTALL)
# With escapes gone, a string is a quote, non-quotes, a quote. The pattern starts with a literal,
# so an unterminated string costs one scan to the end, never a rescan per position.
_STRING = re.compile(rb'"[^"]*"')
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_DEPTH_STEP = tuple(1 if b in b"[{" else -1 if b in b"]}" else 0 for b in range(256))


def json_structure(data: bytes) -> int:
    """Quotes, backslashes, commas and opening brackets anywhere in ``data`` (C-speed counts)."""
    return sum(data.count(c) for c in (b'"', b"\\", b",", b"[", b"{"))


def json_depth(data: bytes) -> int:
    """Maximum nesting depth of a JSON text, without parsing it (strings and escapes skipped).

    Exact for valid JSON. For invalid JSON the text up to the first error is read exactly as a
    left-to-right parser reads it, so the depth is at least as deep as the parser gets. Its
    work grows with ``json_structure(data)``, which the caller bounds first.
    """
    outside = _STRING.sub(b"", _ESCAPE_PAIR.sub(b"", data))
    brackets = outside.translate(None, _NOT_BRACKET)
    return max(accumulate(map(_DEPTH_STEP.__getitem__, brackets)), default=0)


def load_json(data: bytes, limits: JsonLimits = DEFAULT_JSON_LIMITS) -> object:
    """Parse strict JSON (UTF-8, no NaN/Infinity) within ``limits``; BoundsError names what is wrong."""
    if len(data) > limits.max_bytes:
        raise BoundsError(f"larger than the {limits.max_bytes}-byte limit")
    structure = json_structure(data)
    if structure > limits.max_structure:
        raise BoundsError(
            f"{structure} quotes, backslashes, commas and brackets, over the limit of {limits.max_structure}"
        )
    depth = json_depth(data)
    if depth > limits.max_depth:
        raise BoundsError(f"nested {depth} deep, over the limit of {limits.max_depth}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BoundsError(f"not UTF-8: {exc}") from None

    def parse_int(digits: str) -> int:
        if len(digits.lstrip("-")) > limits.max_int_digits:
            raise BoundsError(f"an integer has more than {limits.max_int_digits} digits")
        return int(digits)

    def refuse_constant(name: str):
        raise BoundsError(f"{name} is not JSON")

    try:
        return json.loads(text, parse_int=parse_int, parse_constant=refuse_constant)
    except BoundsError:
        raise
    except ValueError as exc:  # json.JSONDecodeError is a ValueError
        raise BoundsError(f"not JSON: {exc}") from None


def rlp_depth(data: bytes) -> int:
    """Deepest list nesting a recursive RLP decoder reaches in ``data``, found without recursion.

    The walk follows pyrlp's own order (depth-first) and keeps going where pyrlp would stop
    with an error (a child overrunning its list, a bad length prefix), and on through every
    top-level item, since a typed transaction or receipt is a type byte followed by its RLP
    payload: it may count deeper than a decoder gets, never less.
    """
    size = len(data)
    ends: list[int] = []  # where each open list's payload ends
    deepest = pos = 0
    while True:
        while ends and pos >= ends[-1]:
            ends.pop()
        if pos >= size:
            return deepest
        prefix = data[pos]
        if prefix < 0x80:  # a single byte
            pos += 1
        elif prefix < 0xB8:  # a short string
            pos += 1 + prefix - 0x80
        elif prefix < 0xC0:  # a long string: its length takes (prefix - 0xB7) bytes
            width = prefix - 0xB7
            pos += 1 + width + int.from_bytes(data[pos + 1 : pos + 1 + width], "big")
        else:  # a list: descend into its payload, as the decoder does
            if prefix < 0xF8:
                payload, length = pos + 1, prefix - 0xC0
            else:
                width = prefix - 0xF7
                payload, length = pos + 1 + width, int.from_bytes(data[pos + 1 : pos + 1 + width], "big")
            ends.append(payload + length)
            deepest = max(deepest, len(ends))
            pos = payload
