"""Hash primitives shared by both chains (pure, no Django).

Byte-order vocabulary used across Hemiscope:

* ``*_internal``: raw digest bytes as produced by double-SHA256 (Bitcoin's on-wire order).
* ``*_display``: the byte-reversed hex string that explorers show for txids/block hashes.
* EVM hashes (keccak) have a single natural order and are never reversed.
"""

from __future__ import annotations

import ctypes
import hashlib
import threading
from collections.abc import Callable

from eth_hash.auto import keccak as _keccak


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def dsha256(data: bytes) -> bytes:
    """SHA256(SHA256(data)); the result is in *internal* order."""
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


def _direct_keccak256() -> Callable[[bytes], bytes] | None:
    """keccak256 through pycryptodome's C core with one reused state per thread, or None.

    Why: ``eth_hash`` (pycryptodome backend) builds a Python hash object, a smart pointer and
    a fresh C state for every digest, about 7 us; the Hemi ingest path hashes every
    transaction and every trie node (three-plus digests per transaction), and this way costs
    about 2 us. The C library is pycryptodome's own (pinned in requirements.txt) but reached
    through a private name, so it is loaded into our own ``CDLL`` handle (argtypes set here
    touch nothing of pycryptodome's), checked against ``eth_hash`` below, and abandoned -
    falling back to ``eth_hash`` - on any error or difference.
    """
    try:
        from Crypto.Hash import keccak as pycryptodome_keccak

        dll = ctypes.CDLL(pycryptodome_keccak._raw_keccak_lib._name)
    except (ImportError, AttributeError, OSError):
        return None
    state_ref = ctypes.POINTER(ctypes.c_void_p)
    for name, argtypes in (
        ("keccak_init", [state_ref, ctypes.c_size_t, ctypes.c_ubyte]),
        ("keccak_destroy", [ctypes.c_void_p]),
        ("keccak_reset", [ctypes.c_void_p]),
        ("keccak_absorb", [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]),
        ("keccak_digest", [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_ubyte]),
    ):
        getattr(dll, name).argtypes = argtypes
        getattr(dll, name).restype = ctypes.c_int
    reset, absorb, digest = dll.keccak_reset, dll.keccak_absorb, dll.keccak_digest

    class _State:
        """One Keccak-256 state (capacity 64 bytes, 24 rounds) and output buffer per thread."""

        def __init__(self) -> None:
            self.pointer = ctypes.c_void_p()
            if dll.keccak_init(ctypes.byref(self.pointer), 64, 24):
                raise MemoryError("keccak_init failed")
            self.out = ctypes.create_string_buffer(32)

        def __del__(self) -> None:  # the thread (and its local) went away
            dll.keccak_destroy(self.pointer)

    local = threading.local()

    def keccak256(data: bytes) -> bytes:
        if data.__class__ is not bytes:  # bytearray, memoryview, or a wrong type: eth_hash decides
            return _keccak(data)
        try:
            state = local.state
        except AttributeError:
            state = local.state = _State()
        pointer = state.pointer
        # Padding 0x01 is original Keccak (Ethereum), not SHA-3's 0x06.
        if reset(pointer) or absorb(pointer, data, len(data)) or digest(pointer, state.out, 32, 0x01):
            raise RuntimeError("keccak C core returned an error")
        return state.out.raw

    try:
        vectors = [b"", b"abc", bytes(range(256)) * 3]
        if all(keccak256(v) == _keccak(v) for v in vectors):
            return keccak256
    except (ctypes.ArgumentError, RuntimeError, MemoryError, TypeError):
        pass
    return None


keccak256: Callable[[bytes], bytes] = _direct_keccak256() or _keccak


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
