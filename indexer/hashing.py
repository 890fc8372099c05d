"""Hash primitives shared by both chains (pure, no Django).

Byte-order vocabulary used across Hemiscope:

* ``*_internal``: raw digest bytes as produced by double-SHA256 (Bitcoin's on-wire order).
* ``*_display``: the byte-reversed hex string that explorers show for txids/block hashes.
* EVM hashes (keccak) have a single natural order and are never reversed.
"""

from __future__ import annotations

import hashlib

from sha3 import keccak_256 as _keccak_256


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def dsha256(data: bytes) -> bytes:
    """SHA256(SHA256(data)); the result is in *internal* order."""
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


def keccak256(data: bytes) -> bytes:
    """Keccak-256 as Ethereum uses it (original Keccak padding, not ``hashlib.sha3_256``).

    Through safe-pysha3's C type: one object and one digest call, about 1 us for a transaction.
    The Hemi ingest hashes every transaction and every trie node (three-plus digests per
    transaction); ``eth_hash`` over pycryptodome costs about 7 us per digest, and even
    pycryptodome's C core driven through ctypes cost 2-3 us (three foreign calls per digest).
    Accepts what ``eth_hash`` accepts (bytes-like) and raises TypeError on text.
    """
    return _keccak_256(data).digest()


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
