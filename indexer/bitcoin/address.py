"""Bitcoin addresses <-> scriptPubKeys, per network (pure, no Django, no I/O).

Supported script templates: P2PKH, P2SH (base58check) and witness v0 P2WPKH/P2WSH (bech32,
BIP173) and v1 P2TR (bech32m, BIP350). Base58check and both bech32 variants are implemented
here rather than pulled from a library: they are short, and the regtest parameters we need
are bcoin's, which general-purpose libraries do not know.

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

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(_B58)}


def _checksum(payload: bytes) -> bytes:
    return sha256(sha256(payload))[:4]


def base58check_encode(payload: bytes) -> str:
    data = payload + _checksum(payload)
    num = int.from_bytes(data, "big")
    chars = []
    while num:
        num, rem = divmod(num, 58)
        chars.append(_B58[rem])
    # Each leading zero byte is written as a literal "1" (the base-58 digit zero).
    zeros = len(data) - len(data.lstrip(b"\x00"))
    return "1" * zeros + "".join(reversed(chars))


def base58check_decode(text: str) -> bytes:
    """Decode and verify the 4-byte checksum; returns the payload (version byte included)."""
    if not text:
        raise AddressError("empty base58 string")
    num = 0
    for char in text:
        digit = _B58_INDEX.get(char)
        if digit is None:
            raise AddressError(f"invalid base58 character {char!r}")
        num = num * 58 + digit
    body = num.to_bytes((num.bit_length() + 7) // 8, "big") if num else b""
    zeros = len(text) - len(text.lstrip("1"))
    data = b"\x00" * zeros + body
    if len(data) < 5:
        raise AddressError("base58check string too short")
    payload, check = data[:-4], data[-4:]
    if _checksum(payload) != check:
        raise AddressError("bad base58check checksum")
    return payload


# --------------------------------------------------------------------------- bech32 / bech32m

_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_CHARSET_INDEX = {c: i for i, c in enumerate(_CHARSET)}
_GEN = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
BECH32_CONST = 1
BECH32M_CONST = 0x2BC830A3


def _polymod(values: list[int]) -> int:
    chk = 1
    for value in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ value
        for i in range(5):
            if (top >> i) & 1:
                chk ^= _GEN[i]
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def bech32_encode(hrp: str, data: list[int], const: int) -> str:
    values = _hrp_expand(hrp) + data
    polymod = _polymod([*values, 0, 0, 0, 0, 0, 0]) ^ const
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(_CHARSET[d] for d in data + checksum)


def bech32_decode(text: str) -> tuple[str, list[int], int]:
    """Returns (hrp, 5-bit data without checksum, checksum constant: BECH32_CONST/BECH32M_CONST)."""
    if any(ord(c) < 33 or ord(c) > 126 for c in text):
        raise AddressError("bech32 string has characters outside US-ASCII 33..126")
    if text.lower() != text and text.upper() != text:
        raise AddressError("bech32 string mixes upper and lower case")
    text = text.lower()
    sep = text.rfind("1")
    if sep < 1 or sep + 7 > len(text) or len(text) > 90:
        raise AddressError("bech32 string has a bad separator position or length")
    hrp = text[:sep]
    try:
        data = [_CHARSET_INDEX[c] for c in text[sep + 1 :]]
    except KeyError as exc:
        raise AddressError(f"invalid bech32 character {exc.args[0]!r}") from None
    const = _polymod(_hrp_expand(hrp) + data)
    if const not in (BECH32_CONST, BECH32M_CONST):
        raise AddressError("bad bech32 checksum")
    return hrp, data[:-6], const


def _convert_bits(data: list[int] | bytes, from_bits: int, to_bits: int, pad: bool) -> list[int]:
    acc = bits = 0
    out = []
    maxv = (1 << to_bits) - 1
    for value in data:
        if value < 0 or value >> from_bits:
            raise AddressError("bit group out of range")
        acc = (acc << from_bits) | value
        bits += from_bits
        while bits >= to_bits:
            bits -= to_bits
            out.append((acc >> bits) & maxv)
    if pad:
        if bits:
            out.append((acc << (to_bits - bits)) & maxv)
    elif bits >= from_bits or ((acc << (to_bits - bits)) & maxv):
        raise AddressError("non-zero or excess padding in bech32 data")
    return out


def segwit_encode(hrp: str, version: int, program: bytes) -> str:
    const = BECH32_CONST if version == 0 else BECH32M_CONST
    return bech32_encode(hrp, [version, *_convert_bits(program, 8, 5, True)], const)


def segwit_decode(hrp: str, address: str) -> tuple[int, bytes]:
    """BIP173/BIP350 segwit address -> (witness version, program); checks hrp and variant."""
    got_hrp, data, const = bech32_decode(address)
    if got_hrp != hrp:
        raise AddressError(f"address hrp {got_hrp!r} is not this network's {hrp!r}")
    if not data:
        raise AddressError("segwit address without witness version")
    version = data[0]
    if version > 16:
        raise AddressError(f"invalid witness version {version}")
    program = bytes(_convert_bits(data[1:], 5, 8, False))
    if not 2 <= len(program) <= 40:
        raise AddressError(f"witness program of {len(program)} bytes")
    if version == 0 and len(program) not in (20, 32):
        raise AddressError(f"witness v0 program must be 20 or 32 bytes, got {len(program)}")
    # BIP350: v0 keeps the original bech32 checksum, every later version uses bech32m.
    if (version == 0) != (const == BECH32_CONST):
        raise AddressError("wrong bech32 variant for the witness version")
    return version, program


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
