"""Deterministic devnet keys and bcoin-regtest address encoding (pure, no I/O).

bcoin regtest does not use Bitcoin Core's regtest prefixes: P2PKH is version 0x3c (``R…``),
P2SH 0x26, bech32 hrp ``rb`` and WIF 0x5a. Core-style ``bcrt1…``/``m…`` addresses are refused
by the node. The address codec is the indexer's (``indexer.bitcoin.address``, network
"regtest" = bcoin's parameters): one codec in the project, so the devnet cannot write an
address the indexer would read differently.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property

import coincurve
from bitcoin.base58 import CBase58Data

from devnet.constants import BCOIN_BECH32_HRP, BCOIN_P2PKH_VERSION, BCOIN_P2SH_VERSION, BCOIN_WIF_VERSION
from indexer.bitcoin import address as codec
from indexer.hashing import keccak256, sha256

_KEY_DOMAIN = b"hemiscope-devnet-key/"


AddressError = codec.AddressError
REGTEST = "regtest"  # the indexer's name for bcoin's regtest parameters


def hash160(data: bytes) -> bytes:
    return hashlib.new("ripemd160", sha256(data)).digest()


def p2pkh_script(pubkey_hash: bytes) -> bytes:
    return codec.p2pkh_script(pubkey_hash)


def p2sh_script(script_hash: bytes) -> bytes:
    return codec.p2sh_script(script_hash)


def p2wpkh_script(pubkey_hash: bytes) -> bytes:
    return codec.witness_script(0, pubkey_hash)


def p2pkh_address(pubkey_hash: bytes) -> str:
    return codec.base58check_encode(bytes([BCOIN_P2PKH_VERSION]) + pubkey_hash)


def p2sh_address(script_hash: bytes) -> str:
    return codec.base58check_encode(bytes([BCOIN_P2SH_VERSION]) + script_hash)


def segwit_address(witness_version: int, program: bytes) -> str:
    # bcoin 1.0.2 writes even v1 programs in bech32 (not bech32m): so do we, for the node.
    return codec.segwit_encode(BCOIN_BECH32_HRP, witness_version, program, bcoin_v1=True)


def address_to_script(address: str) -> bytes:
    """bcoin-regtest address -> scriptPubKey (the same forms the devnet vault accepts)."""
    return codec.script_from_address(address, REGTEST)


@dataclass(frozen=True)
class DevKey:
    """A secp256k1 key with every encoding the devnet needs (compressed pubkey everywhere)."""

    secret: bytes

    def __post_init__(self) -> None:
        if len(self.secret) != 32:
            raise ValueError("a secp256k1 secret is 32 bytes")

    @classmethod
    def from_label(cls, label: str) -> DevKey:
        """Same label, same key, on every machine: scenarios can name their actors."""
        return cls(sha256(_KEY_DOMAIN + label.encode()))

    @classmethod
    def from_int(cls, value: int) -> DevKey:
        return cls(value.to_bytes(32, "big"))

    @cached_property
    def _private(self) -> coincurve.PrivateKey:
        return coincurve.PrivateKey(self.secret)

    @cached_property
    def pubkey(self) -> bytes:
        """33-byte compressed public key."""
        return self._private.public_key.format(compressed=True)

    @cached_property
    def pubkey_hash(self) -> bytes:
        return hash160(self.pubkey)

    @property
    def p2pkh_script(self) -> bytes:
        return p2pkh_script(self.pubkey_hash)

    @property
    def p2pkh_address(self) -> str:
        return p2pkh_address(self.pubkey_hash)

    @property
    def p2wpkh_script(self) -> bytes:
        return p2wpkh_script(self.pubkey_hash)

    @property
    def p2wpkh_address(self) -> str:
        return segwit_address(0, self.pubkey_hash)

    @property
    def wif(self) -> str:
        # trailing 0x01 marks the compressed public key
        return str(CBase58Data.from_bytes(self.secret + b"\x01", BCOIN_WIF_VERSION))

    @cached_property
    def evm_address(self) -> str:
        """The EVM address of the same key: how Hemi names a PoP miner (hemi-protocol.md 3.3)."""
        uncompressed = self._private.public_key.format(compressed=False)
        return "0x" + keccak256(uncompressed[1:])[12:].hex()

    def sign_digest(self, digest: bytes) -> bytes:
        """DER ECDSA signature over a 32-byte digest (RFC 6979, low-S, so deterministic)."""
        return self._private.sign(digest, hasher=None)
