"""Decode ERC-20 metadata returned by ``eth_call`` (pure, defensive).

Token contracts are written by anyone: ``name()``/``symbol()`` may return an ABI ``string``,
a ``bytes32`` (early tokens such as MKR), nothing, revert, or garbage; ``decimals()`` may not
fit a uint8. Each decoder returns a value *and* a ``problem`` string instead of raising, so the
indexer can store what it got, show the problem, and move on.

Text is treated as untrusted data: control and bidi-override characters are removed (they can
reorder or hide what a user sees), length is capped, and markup such as ``<script>`` is kept
verbatim - escaping is the template's job and nothing here is ever marked safe.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

MAX_TEXT_CHARS = 256
MAX_DECIMALS = 255  # decimals() is uint8

# Invisible formatting characters that change how surrounding text is displayed.
_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


@dataclass(frozen=True, slots=True)
class TokenText:
    value: str | None
    problem: str | None = None
    truncated: bool = False


@dataclass(frozen=True, slots=True)
class TokenNumber:
    value: int | None
    problem: str | None = None


def _join(*problems: str | None) -> str | None:
    parts = [p for p in problems if p]
    return "; ".join(parts) if parts else None


def clean_text(text: str, max_chars: int = MAX_TEXT_CHARS) -> TokenText:
    """Drop control/bidi characters and NULs, cap the length; report what changed."""
    kept = "".join(ch for ch in text if unicodedata.category(ch) != "Cc" and ch not in _BIDI_CONTROLS)
    problem = None
    if len(kept) != len(text):
        problem = f"removed {len(text) - len(kept)} control character(s)"
    truncated = len(kept) > max_chars
    if truncated:
        problem = _join(problem, f"truncated from {len(kept)} to {max_chars} characters")
        kept = kept[:max_chars]
    return TokenText(kept, problem, truncated)


def _decode_utf8(raw: bytes) -> tuple[str, str | None]:
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError:
        return raw.decode("utf-8", errors="replace"), "not valid UTF-8 (invalid bytes replaced)"


def _abi_string(raw: bytes) -> bytes | None:
    """The bytes of an ABI-encoded single ``string`` return value, or None if not one.

    Accepts only a well-formed encoding: offset 0x20, length within the data, zero padding.
    Trailing data after the padded string is tolerated by Solidity's decoder and here too.
    """
    if len(raw) < 64 or len(raw) % 32:
        return None
    offset = int.from_bytes(raw[:32], "big")
    if offset != 32:
        return None
    length = int.from_bytes(raw[32:64], "big")
    if length > len(raw) - 64:
        return None
    padded_end = 64 + (length + 31) // 32 * 32
    if any(raw[64 + length : padded_end]):
        return None
    return raw[64 : 64 + length]


def decode_text_result(raw: bytes | None) -> TokenText:
    """Decode the return data of ``name()`` or ``symbol()``.

    ``raw`` is None when the call reverted or the node returned an error.
    """
    if raw is None:
        return TokenText(None, "call reverted")
    if not raw:
        return TokenText(None, "empty return data (no such function or not a contract)")
    string_bytes = _abi_string(raw)
    if string_bytes is not None:
        text, utf8_problem = _decode_utf8(string_bytes)
        cleaned = clean_text(text)
        return TokenText(cleaned.value, _join(utf8_problem, cleaned.problem), cleaned.truncated)
    if len(raw) == 32:
        # bytes32 convention: right-padded with NULs.
        text, utf8_problem = _decode_utf8(raw.rstrip(b"\x00"))
        cleaned = clean_text(text)
        return TokenText(
            cleaned.value, _join("returned bytes32", utf8_problem, cleaned.problem), cleaned.truncated
        )
    return TokenText(None, f"unrecognised return data ({len(raw)} bytes)")


def _uint_word(raw: bytes | None, what: str) -> tuple[int | None, str | None]:
    if raw is None:
        return None, "call reverted"
    if len(raw) < 32:
        return None, f"{what} return data is {len(raw)} bytes, expected 32"
    problem = f"{len(raw) - 32} trailing byte(s) ignored" if len(raw) > 32 else None
    return int.from_bytes(raw[:32], "big"), problem


def decode_decimals_result(raw: bytes | None) -> TokenNumber:
    value, problem = _uint_word(raw, "decimals()")
    if value is None:
        return TokenNumber(None, problem)
    if value > MAX_DECIMALS:
        return TokenNumber(None, _join(problem, f"decimals {value} does not fit uint8"))
    return TokenNumber(value, problem)


def decode_total_supply_result(raw: bytes | None) -> TokenNumber:
    value, problem = _uint_word(raw, "totalSupply()")
    return TokenNumber(value, problem)
