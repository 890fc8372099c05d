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


class _Noted(serializers.Field):
    """A field whose schema description always ends with what its encoding is (a field's own
    help_text would otherwise replace it)."""

    note = ""

    def __init__(self, **kwargs):
        text = kwargs.pop("help_text", None)
        kwargs["help_text"] = f"{text} {self.note}" if text else self.note
        super().__init__(**kwargs)


@extend_schema_field({"type": "string", "pattern": HEX32})
class EvmHash(_Noted):
    note = "32-byte EVM hash, 0x-hex (EVM order, never reversed)."

    def to_representation(self, value) -> str:
        return "0x" + _bytes(value).hex()


@extend_schema_field({"type": "string", "pattern": HEX20})
class EvmAddress(_Noted):
    note = "20-byte EVM address, 0x-hex, lower case."

    def to_representation(self, value) -> str:
        return "0x" + _bytes(value).hex()


@extend_schema_field({"type": "string", "pattern": r"^0x([0-9a-f]{2})*$"})
class HexBytes(_Noted):
    note = "Bytes as 0x-hex."

    def to_representation(self, value) -> str:
        return "0x" + _bytes(value).hex()


@extend_schema_field({"type": "string", "pattern": DISPLAY32})
class BitcoinHashDisplay(_Noted):
    """Reads an ``*_internal`` column (raw digest) and shows it reversed."""

    note = (
        "Bitcoin hash in DISPLAY byte order (the reversed double-SHA256 digest that block explorers "
        "and bitcoind RPC print), 64 hex digits, no 0x."
    )

    def to_representation(self, value) -> str:
        return _bytes(value)[::-1].hex()


@extend_schema_field({"type": "string", "pattern": r"^[0-9]+$"})
class Uint256(_Noted):
    note = "uint256 as a decimal string."

    def to_representation(self, value) -> str:
        return str(int(value))


@extend_schema_field({"type": "string", "pattern": r"^-?[0-9]+$"})
class Sats(_Noted):
    note = "Satoshis as a decimal string."

    def to_representation(self, value) -> str:
        return str(int(value))


@extend_schema_field({"type": "string", "format": "date-time"})
class UnixTime(_Noted):
    note = "ISO 8601, UTC (the chain's time)."

    def to_representation(self, value) -> str:
        return datetime.fromtimestamp(int(value), UTC).isoformat().replace("+00:00", "Z")
