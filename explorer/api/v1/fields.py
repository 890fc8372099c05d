"""Serializer fields for chain values, each with the schema it promises.

* EVM hashes and addresses: ``0x`` + lower-case hex, never reversed.
* Bitcoin block hashes, txids and keystone ids: DISPLAY order (the reversed digest explorers
  print), without ``0x``; the column holds internal order, so the field reverses it.
* uint256 and satoshi amounts: decimal strings (JavaScript numbers lose precision past 2**53).
* Times: ISO 8601 in UTC, from the chain's own unix timestamp.
"""

from __future__ import annotations

from datetime import UTC, datetime

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

HEX32 = r"^0x[0-9a-f]{64}$"
HEX20 = r"^0x[0-9a-f]{40}$"
DISPLAY32 = r"^[0-9a-f]{64}$"


def _bytes(value) -> bytes:
    return bytes(value)


@extend_schema_field({"type": "string", "pattern": HEX32, "description": "32-byte EVM hash, 0x-hex (EVM order)."})
class EvmHash(serializers.Field):
    def to_representation(self, value) -> str:
        return "0x" + _bytes(value).hex()


@extend_schema_field({"type": "string", "pattern": HEX20, "description": "20-byte EVM address, 0x-hex, lower case."})
class EvmAddress(serializers.Field):
    def to_representation(self, value) -> str:
        return "0x" + _bytes(value).hex()


@extend_schema_field({"type": "string", "pattern": r"^0x([0-9a-f]{2})*$", "description": "Bytes as 0x-hex."})
class HexBytes(serializers.Field):
    def to_representation(self, value) -> str:
        return "0x" + _bytes(value).hex()


@extend_schema_field(
    {
        "type": "string",
        "pattern": DISPLAY32,
        "description": "Bitcoin hash in DISPLAY byte order (the reversed double-SHA256 digest that "
        "block explorers and bitcoind RPC print), 64 hex digits, no 0x.",
    }
)
class BitcoinHashDisplay(serializers.Field):
    """Reads an ``*_internal`` column (raw digest) and shows it reversed."""

    def to_representation(self, value) -> str:
        return _bytes(value)[::-1].hex()


@extend_schema_field({"type": "string", "pattern": r"^[0-9]+$", "description": "uint256 as a decimal string."})
class Uint256(serializers.Field):
    def to_representation(self, value) -> str:
        return str(int(value))


@extend_schema_field({"type": "string", "pattern": r"^-?[0-9]+$", "description": "Satoshis as a decimal string."})
class Sats(serializers.Field):
    def to_representation(self, value) -> str:
        return str(int(value))


@extend_schema_field({"type": "string", "format": "date-time", "description": "ISO 8601, UTC (the chain's time)."})
class UnixTime(serializers.Field):
    def to_representation(self, value) -> str:
        return datetime.fromtimestamp(int(value), UTC).isoformat().replace("+00:00", "Z")


def hex0x(value) -> str | None:
    return None if value is None else "0x" + bytes(value).hex()


def display(value) -> str | None:
    return None if value is None else bytes(value)[::-1].hex()


def iso(unix: int | None) -> str | None:
    return None if unix is None else datetime.fromtimestamp(int(unix), UTC).isoformat().replace("+00:00", "Z")
