"""Hash primitives shared by both chains (pure, no Django).

Byte-order vocabulary used across Hemiscope:

* ``*_internal``: raw digest bytes as produced by double-SHA256 (Bitcoin's on-wire order).
* ``*_display``: the byte-reversed hex string that explorers show for txids/block hashes.
* EVM hashes (keccak) have a single natural order and are never reversed.
"""

from __future__ import annotations

import hashlib

from eth_hash.auto import keccak as _keccak


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def dsha256(data: bytes) -> bytes:
    """SHA256(SHA256(data)); the result is in *internal* order."""
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


def keccak256(data: bytes) -> bytes:
    return _keccak(data)


def internal_to_display(digest_internal: bytes) -> str:
    """Internal-order digest bytes -> display-order hex (what explorers show)."""
    if len(digest_internal) != 32:
        raise ValueError(f"expected a 32-byte digest, got {len(digest_internal)} bytes")
    return digest_internal[::-1].hex()


def display_to_internal(hash_display: str) -> bytes:
    """Display-order hex (optionally 0x-prefixed) -> internal-order digest bytes."""
    text = hash_display[2:] if hash_display[:2] in ("0x", "0X") else hash_display
    raw = bytes.fromhex(text)
    if len(raw) != 32:
        raise ValueError(f"expected 64 hex characters, got {len(text)}")
    return raw[::-1]
