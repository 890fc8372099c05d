"""Parsing of user-supplied path parameters: a clear 400 for malformed input."""

from __future__ import annotations

from django.http import Http404


class BadParameter(ValueError):
    """A path parameter that is not what the URL promises; shown to the user as a 400."""


_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def digits(text: str) -> bool:
    """True for a non-empty string of ASCII digits 0-9 only. ``str.isdigit`` alone also takes
    superscripts and other Unicode digits, on which ``int()`` raises (a 500) or which it reads
    as numbers nobody typed ("\u0663" is 3): a parameter is a number only in ASCII."""
    return text.isascii() and text.isdigit()


def parse_hex(value: str, size: int, what: str) -> bytes:
    text = value[2:] if value[:2].lower() == "0x" else value
    # Digits first: bytes.fromhex skips whitespace, so 38 digits and two spaces would pass a
    # length check and come back as 19 bytes.
    if not all(c in _HEX_DIGITS for c in text):
        raise BadParameter(f"{what} must be hexadecimal")
    if len(text) != 2 * size:
        raise BadParameter(f"{what} must be {2 * size} hex characters (optionally 0x-prefixed), got {len(text)}")
    return bytes.fromhex(text)


def parse_evm_hash(value: str) -> bytes:
    return parse_hex(value, 32, "a Hemi transaction hash")


def parse_address(value: str) -> bytes:
    return parse_hex(value, 20, "an address")


def get_or_404(queryset, message: str):
    obj = queryset.first()
    if obj is None:
        raise Http404(message)
    return obj
