"""Rebuilding a keystone from Hemi block data (spec §2.2-§2.4)."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path

import pytest

from indexer.hemi.headers import compute_block_hash
from indexer.hemi.keystones import (
    KeystoneBuildError,
    build_keystone,
    build_keystone_from_blocks,
    l1_origin_of,
    prev_keystone_number,
)
from indexer.hemi.l1info import decode_l1_info, encode_l1_info
from indexer.hemi.mappers import HemiBlock, map_block, map_transaction
from indexer.hemi.rlpcodec import compute_transaction_hash
from indexer.keystone import ZERO_HASH

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "hemi"
OP_DEPOSIT = json.loads((FIXTURES / "op-mainnet-l1info-deposit-tx.json").read_text())
L1_ORIGIN = 7720859  # the Sepolia L1 origin of the real testnet keystone 2634175 (spec §3.6 a)


def block_json(number: int, l1_origin: int = L1_ORIGIN) -> dict:
    """A Hemi-shaped block whose tx 0 is an Ecotone L1-info deposit naming ``l1_origin``.

    The deposit is the real OP mainnet one with its L1 number replaced; tx and block hashes
    are recomputed so the block is internally consistent.
    """
    info = dataclasses.replace(decode_l1_info(bytes.fromhex(OP_DEPOSIT["input"][2:])), number=l1_origin)
    tx = copy.deepcopy(OP_DEPOSIT)
    tx["input"] = "0x" + encode_l1_info(info).hex()
    tx.update(blockNumber=hex(number), transactionIndex="0x0", hash="0x" + "00" * 32)
    tx["hash"] = "0x" + compute_transaction_hash(map_transaction(tx)).hex()
    obj = {
        "hash": "0x" + "00" * 32, "parentHash": "0x" + f"{number - 1:064x}",
        "sha3Uncles": "0x1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347",
        "miner": "0x4200000000000000000000000000000000000011", "stateRoot": "0x" + "5a" * 32,
        "transactionsRoot": "0x" + "33" * 32, "receiptsRoot": "0x" + "44" * 32,
        "logsBloom": "0x" + "00" * 256, "difficulty": "0x0", "number": hex(number),
        "gasLimit": hex(30_000_000), "gasUsed": hex(46_913), "timestamp": hex(1739286001),
        "extraData": "0x", "mixHash": "0x" + "55" * 32, "nonce": "0x0000000000000000",
        "baseFeePerGas": "0xfc", "transactions": [tx],
    }  # fmt: skip
    block_hash = compute_block_hash(map_block({**obj, "transactions": []}))
    obj["hash"] = "0x" + block_hash.hex()
    obj["transactions"][0]["blockHash"] = obj["hash"]
    return obj


def block(number: int, **kwargs: int) -> HemiBlock:
    return map_block(block_json(number, **kwargs))


def test_previous_keystone_numbers():
    assert prev_keystone_number(50) == 25
    assert prev_keystone_number(2634175) == 2634150
    # Block 0 is never a keystone, so keystone 25 has no predecessor (op-node sends zeros).
    assert prev_keystone_number(25) is None
    for not_keystone in (0, 24, 26):
        with pytest.raises(KeystoneBuildError):
            prev_keystone_number(not_keystone)


def test_l1_origin_from_the_real_op_mainnet_l1_info_deposit():
    obj = json.loads(json.dumps(block_json(2634175)))
    obj["transactions"][0] = dict(OP_DEPOSIT, blockHash=obj["hash"], blockNumber=obj["number"])
    assert l1_origin_of(map_block(obj)) == 21095047


def test_keystone_fields_come_from_the_keystone_block():
    keystone_block = block(2634175)
    prev_hash = bytes.fromhex("d5141f39022b7382f04df2de") + b"\x77" * 20
    keystone = build_keystone(keystone_block, prev_hash, l1_origin_of(keystone_block))
    assert keystone.l1_block_number == L1_ORIGIN
    assert keystone.l2_block_number == 2634175
    assert keystone.parent_ep_hash == keystone_block.parent_hash
    assert keystone.prev_ep_keystone_hash == prev_hash
    assert keystone.state_root == b"\x5a" * 32
    assert keystone.ep_hash == keystone_block.hash
    abbrev = keystone.abbreviate().to_bytes()
    # version 1, L1 and L2 numbers big-endian - the same leading bytes as the real PoP payload
    assert abbrev[:9].hex() == "010075cf9b002831bf"
    assert abbrev[9:20] == keystone_block.parent_hash[:11]
    assert abbrev[20:32] == bytes.fromhex("d5141f39022b7382f04df2de")
    assert abbrev[64:76] == keystone_block.hash[:12]


def test_build_from_blocks_uses_the_previous_keystone_hash():
    keystone = build_keystone_from_blocks(block(50), block(25))
    assert keystone.prev_ep_keystone_hash == block(25).hash


def test_keystone_25_gets_zero_previous_hash():
    keystone = build_keystone_from_blocks(block(25), None)
    assert keystone.prev_ep_keystone_hash == ZERO_HASH
    with pytest.raises(KeystoneBuildError, match="expected zero hash"):
        build_keystone(block(25), b"\x01" * 32, L1_ORIGIN)
    with pytest.raises(KeystoneBuildError, match="no previous keystone block"):
        build_keystone_from_blocks(block(25), block(25))


def test_wrong_previous_block_is_refused():
    with pytest.raises(KeystoneBuildError, match="needs block 25"):
        build_keystone_from_blocks(block(50), block(75))
    with pytest.raises(KeystoneBuildError, match="needs block 25"):
        build_keystone_from_blocks(block(50), None)


def test_non_keystone_block_is_refused():
    with pytest.raises(KeystoneBuildError, match="not a keystone"):
        build_keystone(block(2634176), ZERO_HASH, L1_ORIGIN)


def test_l1_origin_must_fit_uint32():
    with pytest.raises(KeystoneBuildError, match="uint32"):
        build_keystone(block(50), b"\x01" * 32, 2**32)


def test_l1_origin_needs_the_l1_info_deposit_first():
    obj = block_json(50)
    obj["transactions"][0]["from"] = "0x" + "11" * 20
    with pytest.raises(KeystoneBuildError, match="not the L1-info deposit"):
        l1_origin_of(map_block(obj))
    hashes_only = block_json(50)
    hashes_only["transactions"] = [hashes_only["transactions"][0]["hash"]]
    with pytest.raises(KeystoneBuildError, match="full transactions"):
        l1_origin_of(map_block(hashes_only))


def test_garbled_l1_info_is_a_keystone_error():
    obj = block_json(50)
    obj["transactions"][0]["input"] = obj["transactions"][0]["input"][:-2]
    with pytest.raises(KeystoneBuildError, match="must be 164 bytes"):
        l1_origin_of(map_block(obj))
