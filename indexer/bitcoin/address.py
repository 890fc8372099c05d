"""Bitcoin addresses <-> scriptPubKeys, per network (pure, no Django, no I/O).

Supported script templates: P2PKH, P2SH (base58check) and witness v0 P2WPKH/P2WSH (bech32,
BIP173) and v1 P2TR (bech32m, BIP350). The encodings come from libraries: base58check from
python-bitcoinlib (already our reference decoder), bech32/bech32m from ``bech32m`` (the BIP350
reference code; python-bitcoinlib's and the ``bech32`` package's predate bech32m). This
module adds what they do not know: the per-network parameters (bcoin's regtest ones
included), script templates, and errors that say what is wrong. The devnet's key helpers
(``devnet/btckeys.py``) use this module too: one codec in the project.

Network parameters:

* mainnet: P2PKH version 0x00 ("1..."), P2SH 0x05 ("3..."), hrp ``bc``;
* testnet3 / testnet4: 0x6f ("m"/"n"), 0xc4 ("2"), hrp ``tb``;
* regtest, as bcoin 1.0.2 does it (the devnet's node and its BtcAddress contract): P2PKH 0x3c
  ("R"), P2SH 0x26, hrp ``rb``. Bitcoin Core's ``bcrt`` addresses are refused by bcoin, so they
  are refused here too. bcoin *displays* P2TR outputs in bech32 rather than bech32m; we follow
  BIP350 (bech32m) because that is what the rest of the world parses.
"""

from __future__ import annotations

from dataclasses import dataclass

import bech32m
from bech32m import codecs as _bech32_codec
from bitcoin import base58 as b58
from bitcoin.base58 import CBase58Data
from Crypto.Hash import RIPEMD160

from indexer.hashing import sha256


class AddressError(ValueError):
    """A string that is not a valid address for the network, or a script with no address."""


@dataclass(frozen=True, slots=True)
class AddressParams:
    p2pkh_version: int
    p2sh_version: int
    hrp: str


PARAMS: dict[str, AddressParams] = {
    "mainnet": AddressParams(0x00, 0x05, "bc"),
    "testnet3": AddressParams(0x6F, 0xC4, "tb"),
    "testnet4": AddressParams(0x6F, 0xC4, "tb"),
    "regtest": AddressParams(0x3C, 0x26, "rb"),
}


# Every hrp we might be handed, including Core's regtest one, which we refuse by name.
_KNOWN_HRPS = frozenset({p.hrp for p in PARAMS.values()} | {"bcrt"})


def params_for(network: str) -> AddressParams:
    try:
        return PARAMS[network]
    except KeyError:
        raise AddressError(f"unknown Bitcoin network {network!r}") from None


# --------------------------------------------------------------------------- base58check


def base58check_encode(payload: bytes) -> str:
    """Version byte + data -> base58check text (leading zero bytes become "1"s)."""
    return str(CBase58Data.from_bytes(payload[1:], payload[0]))


def base58check_decode(text: str) -> bytes:
    """Decode and verify the 4-byte checksum; returns the payload (version byte included)."""
    if not text:
        raise AddressError("empty base58 string")
    bad = next((c for c in text if c not in b58.B58_DIGITS), None)
    if bad is not None:
        raise AddressError(f"invalid base58 character {bad!r}")
    try:
        data = CBase58Data(text)
    except b58.Base58ChecksumError:
        raise AddressError("bad base58check checksum") from None
    except (b58.Base58Error, ValueError, IndexError) as exc:
        raise AddressError(f"base58check string too short or malformed: {exc}") from None
    return bytes([data.nVersion]) + bytes(data)


# --------------------------------------------------------------------------- bech32 / bech32m


def segwit_encode(hrp: str, version: int, program: bytes, *, bcoin_v1: bool = False) -> str:
    """Witness version + program -> address: bech32 for v0, bech32m for v1+ (BIP350).

    ``bcoin_v1``: write v1+ programs in bech32 as bcoin 1.0.2 displays them (devnet only;
    nothing else parses those)."""
    if bcoin_v1 and version:
        return _bech32_codec.bech32_encode(
            hrp, bytes([version]) + _bech32_codec.convertbits(program, 8, 5), _bech32_codec.Encoding.BECH32
        )
    try:
        return bech32m.encode(hrp, version, program)
    except bech32m.DecodeError:
        raise AddressError(f"cannot encode a witness v{version} program of {len(program)} bytes") from None


def segwit_decode(hrp: str, address: str) -> tuple[int, bytes]:
    """BIP173/BIP350 segwit address -> (witness version, program); checks hrp and variant."""
    try:
        version, program = bech32m.decode(hrp, address)
    except bech32m.HrpDoesNotMatch:
        got = address.lower()[: address.rfind("1")]
        raise AddressError(f"address hrp {got!r} is not this network's {hrp!r}") from None
    except bech32m.DecodeError:
        raise AddressError(
            "not a valid segwit address (checksum, characters, length, witness version or program)"
        ) from None
    return version, bytes(program)


# --------------------------------------------------------------------------- scripts


def p2pkh_script(hash160: bytes) -> bytes:
    return b"\x76\xa9\x14" + hash160 + b"\x88\xac"


def p2sh_script(hash160: bytes) -> bytes:
    return b"\xa9\x14" + hash160 + b"\x87"


def witness_script(version: int, program: bytes) -> bytes:
    # OP_0 is 0x00; OP_1..OP_16 are 0x51..0x60.
    return bytes([0 if version == 0 else 0x50 + version, len(program)]) + program


def hash160(data: bytes) -> bytes:
    # pycryptodome rather than hashlib: OpenSSL 3 builds may not offer RIPEMD-160 at all.
    return RIPEMD160.new(sha256(data)).digest()


def script_from_address(address: str, network: str) -> bytes:
    """The scriptPubKey an address pays to on ``network``; raises AddressError otherwise."""
    params = params_for(network)
    address = address.strip()
    lower = address.lower()
    # Any known hrp goes the bech32 way, so "bc1..." on testnet says "wrong hrp", not "bad base58".
    if lower[: lower.rfind("1")] in _KNOWN_HRPS:
        version, program = segwit_decode(params.hrp, address)
        return witness_script(version, program)
    payload = base58check_decode(address)
    if len(payload) != 21:
        raise AddressError(f"base58 address payload is {len(payload)} bytes, expected 21")
    if payload[0] == params.p2pkh_version:
        return p2pkh_script(payload[1:])
    if payload[0] == params.p2sh_version:
        return p2sh_script(payload[1:])
    raise AddressError(f"address version 0x{payload[0]:02x} is not P2PKH/P2SH on {network}")


def address_from_script(script: bytes, network: str) -> str | None:
    """The address of a standard script on ``network``, or None for scripts without one
    (OP_RETURN, bare multisig, non-standard) - callers show those as raw hex."""
    params = params_for(network)
    n = len(script)
    if n == 25 and script[:3] == b"\x76\xa9\x14" and script[23:] == b"\x88\xac":
        return base58check_encode(bytes([params.p2pkh_version]) + script[3:23])
    if n == 23 and script[:2] == b"\xa9\x14" and script[22] == 0x87:
        return base58check_encode(bytes([params.p2sh_version]) + script[2:22])
    if n >= 4 and (script[0] == 0 or 0x51 <= script[0] <= 0x60) and script[1] == n - 2 and 2 <= n - 2 <= 40:
        version = 0 if script[0] == 0 else script[0] - 0x50
        program = script[2:]
        if version == 0 and len(program) not in (20, 32):
            return None
        return segwit_encode(params.hrp, version, program)
    return None
