"""L1-attributes deposit calldata: selectors, real vectors, byte-identical round trips."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from eth_abi import encode as abi_encode

from indexer.hashing import keccak256
from indexer.hemi.l1info import (
    BEDROCK_SELECTOR,
    BEDROCK_SIGNATURE,
    ECOTONE_SELECTOR,
    ECOTONE_SIGNATURE,
    ISTHMUS_SELECTOR,
    ISTHMUS_SIGNATURE,
    L1_BLOCK_PREDEPLOY,
    L1_INFO_DEPOSITOR,
    L1BlockInfo,
    L1InfoDecodeError,
    decode_l1_info,
    encode_l1_info,
)
from indexer.hemi.mappers import map_transaction

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "hemi"
OP_BATCHER = bytes.fromhex("6887246668a3b87f54deb3b94ba47a6f63f32985")

# Bedrock calldata as produced by op-node's marshalBinaryBedrock on an OP devnet (L2 block 10;
# overhead 2100 / scalar 1e6 are the devnet defaults), quoted from an OP-stack client's tests.
BEDROCK_DEVNET = bytes.fromhex(
    "015d8eb9"
    "0000000000000000000000000000000000000000000000000000000000000003"
    "00000000000000000000000000000000000000000000000000000000675909a7"
    "00000000000000000000000000000000000000000000000000000000291c1fa4"
    "c0b780315ec9a1c3a47c0456f4d65c0b8e48179e3c120a5d3585a1e819fedc33"
    "0000000000000000000000000000000000000000000000000000000000000001"
    "00000000000000000000000090f79bf6eb2c4f870365e785982e1f101e93b906"
    "0000000000000000000000000000000000000000000000000000000000000834"
    "00000000000000000000000000000000000000000000000000000000000f4240"
)


OP_MAINNET_INPUT = bytes.fromhex(
    json.loads((FIXTURES / "op-mainnet-l1info-deposit-tx.json").read_text())["input"][2:]
)


def test_selectors_are_keccak_of_the_signatures():
    assert keccak256(BEDROCK_SIGNATURE.encode())[:4] == BEDROCK_SELECTOR == bytes.fromhex("015d8eb9")
    assert keccak256(ECOTONE_SIGNATURE.encode())[:4] == ECOTONE_SELECTOR == bytes.fromhex("440a5e20")
    assert keccak256(ISTHMUS_SIGNATURE.encode())[:4] == ISTHMUS_SELECTOR == bytes.fromhex("098999be")


def test_constants():
    assert L1_INFO_DEPOSITOR.hex() == "deaddeaddeaddeaddeaddeaddeaddeaddead0001"
    assert L1_BLOCK_PREDEPLOY.hex() == "4200000000000000000000000000000000000015"


def test_real_op_mainnet_ecotone_l1_info():
    tx = map_transaction(json.loads((FIXTURES / "op-mainnet-l1info-deposit-tx.json").read_text()))
    assert tx.from_address == L1_INFO_DEPOSITOR and tx.to_address == L1_BLOCK_PREDEPLOY
    info = decode_l1_info(tx.input)
    assert info.layout == "ecotone"
    assert info.number == 21095047  # Ethereum block of 2024-11-01
    assert info.timestamp == 1730491199
    assert info.sequence_number == 3
    assert info.base_fee == 0x12439EE7E
    assert info.blob_base_fee == 0x63F363E9
    assert info.base_fee_scalar == 0x146B and info.blob_base_fee_scalar == 0xF79C5
    assert info.block_hash.hex() == "73e96e7145ff001c81b9562cba7b6104eeb12a2bc4ab9f07c27d45cd81a98662"
    assert info.batcher_address == OP_BATCHER
    assert info.l1_fee_overhead is None
    assert encode_l1_info(info) == tx.input


def test_bedrock_devnet_vector_round_trips_and_matches_generic_abi():
    info = decode_l1_info(BEDROCK_DEVNET)
    assert (info.layout, info.number, info.timestamp, info.sequence_number) == ("bedrock", 3, 0x675909A7, 1)
    assert info.base_fee == 0x291C1FA4
    assert info.l1_fee_overhead == 2100 and info.l1_fee_scalar == 1_000_000
    assert info.batcher_address.hex() == "90f79bf6eb2c4f870365e785982e1f101e93b906"
    assert encode_l1_info(info) == BEDROCK_DEVNET
    generic = BEDROCK_SELECTOR + abi_encode(
        ["uint64", "uint64", "uint256", "bytes32", "uint64", "bytes32", "uint256", "uint256"],
        [3, 0x675909A7, 0x291C1FA4, info.block_hash, 1, info.batcher_hash, 2100, 1_000_000],
    )
    assert generic == BEDROCK_DEVNET


def test_isthmus_layout_appends_operator_fee_fields():
    ecotone = decode_l1_info(OP_MAINNET_INPUT)
    isthmus = dataclasses.replace(
        ecotone, layout="isthmus", operator_fee_scalar=7, operator_fee_constant=2**40
    )
    data = encode_l1_info(isthmus)
    assert len(data) == 176 and data[:4] == ISTHMUS_SELECTOR
    assert data[4:164] == encode_l1_info(ecotone)[4:164]
    assert data[164:168] == (7).to_bytes(4, "big") and data[168:176] == (2**40).to_bytes(8, "big")
    assert decode_l1_info(data) == isthmus


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "unknown L1 info selector"),
        (bytes.fromhex("deadbeef") + bytes(160), "unknown L1 info selector"),
        (BEDROCK_DEVNET[:-1], "bedrock L1 info must be 260 bytes, got 259"),
        (BEDROCK_DEVNET + b"\x00", "got 261"),
        (ECOTONE_SELECTOR + bytes(159), "ecotone L1 info must be 164 bytes"),
        (ISTHMUS_SELECTOR + bytes(160), "isthmus L1 info must be 176 bytes"),
        # number word with a bit above uint64
        (BEDROCK_DEVNET[:4] + (2**64).to_bytes(32, "big") + BEDROCK_DEVNET[36:], "number"),
    ],
)
def test_malformed_calldata_is_rejected(data, reason):
    with pytest.raises(L1InfoDecodeError, match=reason):
        decode_l1_info(data)


def test_encoder_refuses_out_of_range_fields():
    info = L1BlockInfo(
        layout="ecotone", number=1, timestamp=1, base_fee=1, block_hash=bytes(32), sequence_number=0,
        batcher_hash=bytes(32), base_fee_scalar=2**32, blob_base_fee_scalar=0, blob_base_fee=1,
    )  # fmt: skip
    with pytest.raises(L1InfoDecodeError, match="baseFeeScalar"):
        encode_l1_info(info)
