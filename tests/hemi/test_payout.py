"""PoP payout (0x7D): envelope golden vectors and strict mintPoPRewards decoding."""

from __future__ import annotations

import pytest

from indexer.hashing import keccak256
from indexer.hemi.payout import (
    GOVERNANCE_TOKEN_PREDEPLOY,
    MINT_POP_REWARDS_V1_SELECTOR,
    MINT_POP_REWARDS_V1_SIGNATURE,
    MINT_POP_REWARDS_V2_SELECTOR,
    MINT_POP_REWARDS_V2_SIGNATURE,
    PayoutDecodeError,
    decode_mint_pop_rewards,
    decode_pop_payout_tx,
    encode_mint_pop_rewards,
    encode_pop_payout_tx,
)

# Reward addresses derived from the real PoP miner keys of spec §3.6 (a) and (b).
MINER_A = bytes.fromhex("d5115a20f25da7e9740e4fe6feeb151e90e277d6")
MINER_B = bytes.fromhex("4591b9f8db2680bb1b5346f65c1e7cf07b5c7a87")
ONE_HEMI = 10**18


def word(n: int) -> str:
    return f"{n:064x}"


def test_selectors_are_keccak_of_the_signatures():
    assert keccak256(MINT_POP_REWARDS_V1_SIGNATURE.encode())[:4] == MINT_POP_REWARDS_V1_SELECTOR
    assert keccak256(MINT_POP_REWARDS_V2_SIGNATURE.encode())[:4] == MINT_POP_REWARDS_V2_SELECTOR
    assert (MINT_POP_REWARDS_V1_SELECTOR.hex(), MINT_POP_REWARDS_V2_SELECTOR.hex()) == (
        "1725877d",
        "1966be6c",
    )


def test_envelope_golden_vectors_from_op_geth():
    assert (
        encode_pop_payout_tx(b"\xc9\x4f").hex()
        == "7ddc944200000000000000000000000000000000000042830f424082c94f"
    )
    assert encode_pop_payout_tx(b"\xc9\x4f", to_address=None).hex() == "7dc880830f424082c94f"
    tx = decode_pop_payout_tx(bytes.fromhex("7ddc944200000000000000000000000000000000000042830f424082c94f"))
    assert tx.to_address == GOVERNANCE_TOKEN_PREDEPLOY and tx.gas == 1_000_000
    assert tx.data == b"\xc9\x4f" and tx.call is None  # not a mintPoPRewards selector
    assert decode_pop_payout_tx(bytes.fromhex("7dc880830f424082c94f")).to_address is None


def test_v1_layout_matches_op_node_marshal_binary():
    """op-node writes: selector, block, 0x60, 0x20*(4+n), n, addresses, n, amounts."""
    data = encode_mint_pop_rewards(225, [MINER_A, MINER_B], [3 * ONE_HEMI, ONE_HEMI])
    expected = (
        "1725877d" + word(225) + word(0x60) + word(0x20 * 6) + word(2)
        + "00" * 12 + MINER_A.hex() + "00" * 12 + MINER_B.hex()
        + word(2) + word(3 * ONE_HEMI) + word(ONE_HEMI)
    )  # fmt: skip
    assert data.hex() == expected
    call = decode_mint_pop_rewards(data)
    assert (call.version, call.block_rewarded) == (1, 225)
    assert call.miners == (MINER_A, MINER_B)
    assert call.amounts == (3 * ONE_HEMI, ONE_HEMI)


def test_v2_carries_relative_publication_heights():
    data = encode_mint_pop_rewards(2634175, [MINER_A, MINER_B], [0, 8], version=2)
    assert data[:4].hex() == "1966be6c"
    call = decode_mint_pop_rewards(data)
    assert call.version == 2 and call.relative_publication_heights == (0, 8)
    with pytest.raises(AttributeError):
        _ = call.amounts


def test_full_0x7d_transaction_decodes_its_call():
    data = encode_mint_pop_rewards(100, [MINER_A], [ONE_HEMI])
    tx = decode_pop_payout_tx(encode_pop_payout_tx(data))
    assert tx.call is not None and tx.call.miners == (MINER_A,)


VALID_V1 = encode_mint_pop_rewards(225, [MINER_A, MINER_B], [3, 1])


def patch_word(data: bytes, index: int, value: int) -> bytes:
    start = 4 + 32 * index
    return data[:start] + value.to_bytes(32, "big") + data[start + 32 :]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x12\x34\x56\x78", "not a mintPoPRewards variant"),
        (VALID_V1 + b"\x00" * 32, "not canonically encoded"),  # trailing word
        (patch_word(VALID_V1, 1, 0x80), "does not decode|not canonically"),  # address array moved
        (patch_word(VALID_V1, 0, 2**64), "does not decode"),  # uint64 with dirty padding
        (VALID_V1[:-1], "does not decode"),
        (patch_word(VALID_V1, 6, 1), "2 miners but 1 values"),  # amounts length word
    ],
)
def test_strict_decoder_rejects_non_canonical_calls(data, reason):
    with pytest.raises(PayoutDecodeError, match=reason):
        decode_mint_pop_rewards(data)


def test_address_with_dirty_padding_is_rejected():
    bad = patch_word(VALID_V1, 4, int.from_bytes(b"\x01" + bytes(11) + MINER_A, "big"))
    with pytest.raises(PayoutDecodeError):
        decode_mint_pop_rewards(bad)


def test_v2_height_above_uint32_is_rejected():
    data = encode_mint_pop_rewards(1, [MINER_A], [5], version=2)
    bad = data[:-32] + (2**32).to_bytes(32, "big")
    with pytest.raises(PayoutDecodeError, match="does not decode"):
        decode_mint_pop_rewards(bad)


def test_mismatched_lengths_cannot_be_encoded():
    with pytest.raises(PayoutDecodeError, match="2 miners but 1 values"):
        encode_mint_pop_rewards(1, [MINER_A, MINER_B], [1])
