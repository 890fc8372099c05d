"""Hemi keystones: the full L2Keystone, its 76-byte abbreviation and its id (pure, no Django).

Protocol facts (see docs/protocol.md):

* every Hemi block whose number is a positive multiple of ``KEYSTONE_PERIOD`` is a keystone;
* the abbreviation keeps *prefixes* of the EVM-order hashes (11 bytes of the parent hash,
  12 of the previous keystone's hash and of the keystone's own hash) and the full state root;
* the keystone id is ``dsha256(abbreviation)`` - without the ``HEMI`` magic - and, like a
  Bitcoin hash, is shown byte-reversed (display order).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from indexer.hashing import dsha256

KEYSTONE_PERIOD = 25
ABREV_VERSION = 1
ABREV_SIZE = 76
LEGACY_HEADER_SIZE = 73
ZERO_HASH = b"\x00" * 32

_ABREV = struct.Struct(">BII11s12s32s12s")
_LEGACY = struct.Struct(">BI12s12s32s12s")
assert _ABREV.size == ABREV_SIZE and _LEGACY.size == LEGACY_HEADER_SIZE


class KeystoneDecodeError(ValueError):
    """Bytes that claim to be a keystone abbreviation but are not one."""


def is_keystone_number(number: int) -> bool:
    return number > 0 and number % KEYSTONE_PERIOD == 0


def keystone_number_for(block_number: int) -> int:
    """The keystone that covers ``block_number``: itself if a keystone, else the next one."""
    if block_number < 0:
        raise ValueError("block number must be >= 0")
    if block_number == 0:
        return KEYSTONE_PERIOD
    rem = block_number % KEYSTONE_PERIOD
    return block_number if rem == 0 else block_number + KEYSTONE_PERIOD - rem


@dataclass(frozen=True, slots=True)
class KeystoneAbrev:
    """The 76-byte abbreviated keystone (version 1) that PoP miners put on Bitcoin."""

    l1_block_number: int
    l2_block_number: int
    parent_ep_hash_prefix: bytes  # 11 bytes
    prev_keystone_ep_hash_prefix: bytes  # 12 bytes
    state_root: bytes  # 32 bytes
    ep_hash_prefix: bytes  # 12 bytes
    version: int = ABREV_VERSION

    def to_bytes(self) -> bytes:
        return _ABREV.pack(
            self.version,
            self.l1_block_number,
            self.l2_block_number,
            self.parent_ep_hash_prefix,
            self.prev_keystone_ep_hash_prefix,
            self.state_root,
            self.ep_hash_prefix,
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> KeystoneAbrev:
        if len(data) != ABREV_SIZE:
            raise KeystoneDecodeError(f"abbreviated keystone must be {ABREV_SIZE} bytes, got {len(data)}")
        if data[0] != ABREV_VERSION:
            raise KeystoneDecodeError(f"unsupported keystone abbreviation version {data[0]}")
        version, l1, l2, parent, prev, root, ep = _ABREV.unpack(data)
        return cls(l1, l2, parent, prev, root, ep, version)

    @property
    def id_internal(self) -> bytes:
        """dsha256 of the 76 bytes, internal order (the raw digest)."""
        return dsha256(self.to_bytes())

    @property
    def id_display(self) -> str:
        """Keystone id as Hemi's services print it: byte-reversed hex of the digest."""
        return self.id_internal[::-1].hex()


@dataclass(frozen=True, slots=True)
class LegacyKeystoneHeader:
    """The legacy 73-byte ``hemi.Header`` payload (decode only)."""

    block_number: int
    parent_ep_hash_prefix: bytes  # 12 bytes
    prev_keystone_ep_hash_prefix: bytes  # 12 bytes
    state_root: bytes  # 32 bytes
    ep_hash_prefix: bytes  # 12 bytes
    version: int = 1

    @classmethod
    def from_bytes(cls, data: bytes) -> LegacyKeystoneHeader:
        if len(data) != LEGACY_HEADER_SIZE:
            raise KeystoneDecodeError(f"legacy header must be {LEGACY_HEADER_SIZE} bytes, got {len(data)}")
        if data[0] != 1:
            raise KeystoneDecodeError(f"unsupported legacy header version {data[0]}")
        version, number, parent, prev, root, ep = _LEGACY.unpack(data)
        return cls(number, parent, prev, root, ep, version)

    def to_bytes(self) -> bytes:
        return _LEGACY.pack(
            self.version,
            self.block_number,
            self.parent_ep_hash_prefix,
            self.prev_keystone_ep_hash_prefix,
            self.state_root,
            self.ep_hash_prefix,
        )

    @property
    def id_internal(self) -> bytes:
        return dsha256(self.to_bytes())

    @property
    def id_display(self) -> str:
        return self.id_internal[::-1].hex()


@dataclass(frozen=True, slots=True)
class L2Keystone:
    """The full keystone as op-node builds it (all hashes full length, EVM order)."""

    l1_block_number: int
    l2_block_number: int
    parent_ep_hash: bytes
    prev_ep_keystone_hash: bytes  # 32 zero bytes when there is no previous keystone
    state_root: bytes
    ep_hash: bytes
    version: int = 1

    def __post_init__(self) -> None:
        for name in ("parent_ep_hash", "prev_ep_keystone_hash", "state_root", "ep_hash"):
            if len(getattr(self, name)) != 32:
                raise KeystoneDecodeError(f"{name} must be 32 bytes")
        for name in ("l1_block_number", "l2_block_number"):
            value = getattr(self, name)
            if not 0 <= value < 2**32:
                raise KeystoneDecodeError(f"{name} {value} does not fit in uint32")

    def abbreviate(self) -> KeystoneAbrev:
        return KeystoneAbrev(
            l1_block_number=self.l1_block_number,
            l2_block_number=self.l2_block_number,
            parent_ep_hash_prefix=self.parent_ep_hash[:11],
            prev_keystone_ep_hash_prefix=self.prev_ep_keystone_hash[:12],
            state_root=self.state_root,
            ep_hash_prefix=self.ep_hash[:12],
            version=self.version,
        )

    def to_json(self) -> dict:
        """Hemi's wire JSON (hex without 0x, key ``prev_ep_keystone_hash``)."""
        return {
            "version": self.version,
            "l1_block_number": self.l1_block_number,
            "l2_block_number": self.l2_block_number,
            "parent_ep_hash": self.parent_ep_hash.hex(),
            "prev_ep_keystone_hash": self.prev_ep_keystone_hash.hex(),
            "state_root": self.state_root.hex(),
            "ep_hash": self.ep_hash.hex(),
        }

    @classmethod
    def from_json(cls, obj: dict) -> L2Keystone:
        def h(key: str) -> bytes:
            text = obj[key]
            return bytes.fromhex(text[2:] if text.startswith("0x") else text)

        return cls(
            l1_block_number=int(obj["l1_block_number"]),
            l2_block_number=int(obj["l2_block_number"]),
            parent_ep_hash=h("parent_ep_hash"),
            prev_ep_keystone_hash=h("prev_ep_keystone_hash"),
            state_root=h("state_root"),
            ep_hash=h("ep_hash"),
            version=int(obj.get("version", 1)),
        )
