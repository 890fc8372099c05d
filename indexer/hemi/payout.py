"""Hemi PoP payout system transactions (type 0x7D, spec §5.3).

Two call shapes exist on chain:

* v1 (op-node + bssd): ``mintPoPRewards(uint64 blockRewarded, address[] miners,
  uint256[] amounts)`` - selector ``0x1725877d`` - on GovernanceToken ``0x4200…0042``;
  ``amounts`` are token base units.
* v2 (op-geth, PoPPayoutsV2): ``mintPoPRewards(uint64 _blockRewarded, address[] _accounts,
  uint32[] _relPubHeights)`` - selector ``0x1966be6c``; the second array is Bitcoin
  publication heights *relative* to the keystone's first publication, not amounts.

Decoding is strict: eth_abi decodes, then we re-encode and demand identical bytes, which
rejects non-canonical offsets, dirty padding and trailing data that a lenient ABI decoder
would let through. Both arrays must have the same length (op-node's own decoder requires it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_abi.exceptions import DecodingError

from indexer.hemi.records import POP_PAYOUT_TX
from indexer.hemi.rlpcodec import SYSTEM_TX_GAS, SystemTxDecodeError, decode_system_tx, encode_system_tx

MINT_POP_REWARDS_V1_SIGNATURE = "mintPoPRewards(uint64,address[],uint256[])"
MINT_POP_REWARDS_V2_SIGNATURE = "mintPoPRewards(uint64,address[],uint32[])"
# keccak256(signature)[:4]; both are checked against the signatures in tests.
MINT_POP_REWARDS_V1_SELECTOR = bytes.fromhex("1725877d")
MINT_POP_REWARDS_V2_SELECTOR = bytes.fromhex("1966be6c")

GOVERNANCE_TOKEN_PREDEPLOY = bytes.fromhex("4200000000000000000000000000000000000042")

_V1_TYPES = ["uint64", "address[]", "uint256[]"]
_V2_TYPES = ["uint64", "address[]", "uint32[]"]


class PayoutDecodeError(ValueError):
    """Bytes that are not a canonical mintPoPRewards call / 0x7D envelope."""


@dataclass(frozen=True, slots=True)
class PopPayoutCall:
    """A decoded mintPoPRewards call.

    ``version`` 1: ``values`` are reward amounts (uint256). ``version`` 2: ``values`` are
    relative publication heights (uint32).
    """

    version: int
    block_rewarded: int  # the Hemi keystone block number being paid for
    miners: tuple[bytes, ...]  # 20-byte EVM addresses
    values: tuple[int, ...]

    @property
    def amounts(self) -> tuple[int, ...]:
        if self.version != 1:
            raise AttributeError("v2 payouts carry relative publication heights, not amounts")
        return self.values

    @property
    def relative_publication_heights(self) -> tuple[int, ...]:
        if self.version != 2:
            raise AttributeError("v1 payouts carry amounts, not publication heights")
        return self.values


@dataclass(frozen=True, slots=True)
class PopPayoutTx:
    to_address: bytes | None
    gas: int
    data: bytes
    call: PopPayoutCall | None  # None when the data is not a known mintPoPRewards call


def _types_for(version: int) -> tuple[bytes, list[str]]:
    if version == 1:
        return MINT_POP_REWARDS_V1_SELECTOR, _V1_TYPES
    if version == 2:
        return MINT_POP_REWARDS_V2_SELECTOR, _V2_TYPES
    raise ValueError(f"unknown payout version {version}")


def encode_mint_pop_rewards(
    block_rewarded: int, miners: Sequence[bytes], values: Sequence[int], *, version: int = 1
) -> bytes:
    selector, types = _types_for(version)
    if len(miners) != len(values):
        raise PayoutDecodeError(f"{len(miners)} miners but {len(values)} values")
    if any(len(m) != 20 for m in miners):
        raise PayoutDecodeError("every miner address must be 20 bytes")
    return selector + abi_encode(types, [block_rewarded, ["0x" + m.hex() for m in miners], list(values)])


def decode_mint_pop_rewards(calldata: bytes) -> PopPayoutCall:
    """Decode either mintPoPRewards variant, chosen by selector."""
    selector = calldata[:4]
    if selector == MINT_POP_REWARDS_V1_SELECTOR:
        version = 1
    elif selector == MINT_POP_REWARDS_V2_SELECTOR:
        version = 2
    else:
        raise PayoutDecodeError(f"selector 0x{selector.hex()} is not a mintPoPRewards variant")
    _, types = _types_for(version)
    try:
        block_rewarded, miners_text, values = abi_decode(types, calldata[4:])
    except (DecodingError, ValueError, OverflowError) as exc:
        raise PayoutDecodeError(f"v{version} calldata does not decode: {exc}") from exc
    miners = tuple(bytes.fromhex(m[2:]) for m in miners_text)
    if len(miners) != len(values):
        raise PayoutDecodeError(f"{len(miners)} miners but {len(values)} values")
    call = PopPayoutCall(version, block_rewarded, miners, tuple(values))
    if encode_mint_pop_rewards(block_rewarded, miners, values, version=version) != calldata:
        raise PayoutDecodeError(
            f"v{version} calldata is not canonically encoded (offsets, padding or trailing bytes)"
        )
    return call


def encode_pop_payout_tx(
    call_data: bytes, *, to_address: bytes | None = GOVERNANCE_TOKEN_PREDEPLOY, gas: int = SYSTEM_TX_GAS
) -> bytes:
    return encode_system_tx(POP_PAYOUT_TX, to_address, gas, call_data)


def decode_pop_payout_tx(raw: bytes) -> PopPayoutTx:
    """Decode a raw 0x7D transaction; ``call`` is decoded when the selector is known.

    An unknown selector is not an error here (v2 contents are UNCONFIRMED in the spec); a
    known selector with bad ABI data is.
    """
    try:
        envelope = decode_system_tx(raw, expected_type=POP_PAYOUT_TX)
    except SystemTxDecodeError as exc:
        raise PayoutDecodeError(f"bad 0x7D envelope: {exc}") from exc
    call = None
    if envelope.data[:4] in (MINT_POP_REWARDS_V1_SELECTOR, MINT_POP_REWARDS_V2_SELECTOR):
        call = decode_mint_pop_rewards(envelope.data)
    return PopPayoutTx(envelope.to_address, envelope.gas, envelope.data, call)
