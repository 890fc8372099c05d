"""Block hash and header commitments.

Independent references: (1) hashes recorded from real Goerli nodes, (2) py-evm's
``CancunBlockHeader``/``PragueBlockHeader`` classes for the fork fields an OP-stack/Hemi block
carries (blob gas fields, parent beacon root, requests hash) that the Goerli data predates.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import rlp

from indexer.hashing import keccak256
from indexer.hemi.headers import (
    BlockHashMismatch,
    HeaderEncodeError,
    RootMismatch,
    compute_block_hash,
    compute_receipts_root,
    compute_withdrawals_root,
    encode_header,
    prove_receipt,
    prove_transaction,
    verify_block_hash,
    verify_receipt_proof,
    verify_receipts_root,
    verify_transaction_proof,
    verify_transactions_root,
)
from indexer.hemi.mappers import HemiBlock, map_block, map_receipt
from indexer.hemi.mpt import EMPTY_TRIE_ROOT, ProofError
from indexer.hemi.rlpcodec import encode_receipt

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "hemi"
SHANGHAI = "goerli-block-8656414-shanghai.json"
LONDON = "goerli-block-8651337-london.json"


def load_block(name: str) -> HemiBlock:
    return map_block(json.loads((FIXTURES / name).read_text()))


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (SHANGHAI, "a16c6bcda4fdca88b5761965c4d724f7afc6a6900d9051a204e544870adb3452"),
        (LONDON, "9ef7cd2241202b919a0e51240818a8666c73f7ce4b908931e3ae6d26d30f7663"),
    ],
)
def test_real_goerli_headers_hash_to_their_recorded_hash(name, expected):
    block = load_block(name)
    assert compute_block_hash(block).hex() == expected
    verify_block_hash(block)


def test_a_changed_header_field_is_a_hash_mismatch():
    block = load_block(SHANGHAI)._replace(gas_used=1)
    with pytest.raises(BlockHashMismatch) as exc:
        verify_block_hash(block)
    assert exc.value.number == 8656414
    assert exc.value.reported.hex().startswith("a16c6bcd")


def test_dropping_an_optional_field_changes_the_hash():
    block = load_block(SHANGHAI)
    without = block._replace(withdrawals_root=None)
    assert compute_block_hash(without) != block.hash


def test_optional_field_after_a_missing_one_is_refused():
    block = load_block(LONDON)._replace(parent_beacon_block_root=b"\x00" * 32)
    with pytest.raises(HeaderEncodeError, match="parentBeaconBlockRoot present but earlier withdrawalsRoot"):
        encode_header(block)


def _fork_header_json(**extra: str) -> dict:
    """An OP-stack style header (zero difficulty/nonce, Ecotone blob fields)."""
    return {
        "hash": "0x" + "00" * 32,
        "parentHash": "0x" + "11" * 32,
        "sha3Uncles": "0x1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347",
        "miner": "0x4200000000000000000000000000000000000011",
        "stateRoot": "0x" + "22" * 32,
        "transactionsRoot": "0x" + "33" * 32,
        "receiptsRoot": "0x" + "44" * 32,
        "logsBloom": "0x" + "00" * 255 + "01",
        "difficulty": "0x0",
        "number": hex(2634175),
        "gasLimit": hex(30_000_000),
        "gasUsed": hex(46_913),
        "timestamp": hex(1739286001),
        "extraData": "0x",
        "mixHash": "0x" + "55" * 32,
        "nonce": "0x0000000000000000",
        "baseFeePerGas": "0xfc",
        "withdrawalsRoot": "0x" + EMPTY_TRIE_ROOT.hex(),
        "blobGasUsed": "0x0",
        "excessBlobGas": "0x0",
        "parentBeaconBlockRoot": "0x" + "66" * 32,
        "transactions": [],
        **extra,
    }


def _py_evm_header(cls, block: HemiBlock, **extra):
    return cls(
        parent_hash=block.parent_hash, uncles_hash=block.sha3_uncles, coinbase=block.miner,
        state_root=block.state_root, transaction_root=block.transactions_root,
        receipt_root=block.receipts_root, bloom=int.from_bytes(block.logs_bloom, "big"),
        difficulty=block.difficulty, block_number=block.number, gas_limit=block.gas_limit,
        gas_used=block.gas_used, timestamp=block.timestamp, extra_data=block.extra_data,
        mix_hash=block.mix_hash, nonce=block.nonce, base_fee_per_gas=block.base_fee_per_gas,
        withdrawals_root=block.withdrawals_root, blob_gas_used=block.blob_gas_used,
        excess_blob_gas=block.excess_blob_gas, parent_beacon_block_root=block.parent_beacon_block_root,
        **extra,
    )  # fmt: skip


def test_ecotone_shaped_header_matches_py_evm_cancun_header():
    from eth.vm.forks.cancun.blocks import CancunBlockHeader

    block = map_block(_fork_header_json())
    assert compute_block_hash(block) == _py_evm_header(CancunBlockHeader, block).hash


def test_isthmus_shaped_header_with_requests_hash_matches_py_evm_prague_header():
    from eth.vm.forks.prague.blocks import PragueBlockHeader

    requests_hash = keccak256(b"")  # any 32 bytes; real Isthmus uses sha256 of empty requests
    block = map_block(_fork_header_json(requestsHash="0x" + requests_hash.hex()))
    reference = _py_evm_header(PragueBlockHeader, block, requests_hash=requests_hash)
    assert compute_block_hash(block) == reference.hash
    assert encode_header(block) == rlp.encode(reference)


def test_nonce_is_encoded_as_an_eight_byte_string_not_an_integer():
    block = map_block(_fork_header_json())
    assert rlp.decode(encode_header(block))[14] == b"\x00" * 8


# --------------------------------------------------------------------------- tries


@pytest.mark.parametrize("name", [SHANGHAI, LONDON])
def test_transactions_root_is_rebuilt_from_real_transactions(name):
    verify_transactions_root(load_block(name))


def test_reordered_transactions_do_not_rebuild_the_root():
    block = load_block(SHANGHAI)
    txs = list(block.transactions)
    txs[0], txs[1] = txs[1], txs[0]
    with pytest.raises(RootMismatch, match="transactionsRoot"):
        verify_transactions_root(block._replace(transactions=tuple(txs)))


def test_withdrawals_root_is_rebuilt_from_real_withdrawals():
    block = load_block(SHANGHAI)
    assert compute_withdrawals_root(block.withdrawals) == block.withdrawals_root


def test_empty_block_roots_are_the_empty_trie():
    assert compute_withdrawals_root([]) == EMPTY_TRIE_ROOT
    assert compute_receipts_root([]) == EMPTY_TRIE_ROOT


@pytest.mark.parametrize("index", [0, 1, 17, 28])
def test_transaction_proof_from_a_real_block_proves_its_hash(index):
    block = load_block(SHANGHAI)
    proof = prove_transaction(block, index)
    raw = verify_transaction_proof(block.transactions_root, index, proof)
    assert keccak256(raw) == block.transactions[index].hash


def test_transaction_proof_for_another_index_fails():
    block = load_block(SHANGHAI)
    proof = prove_transaction(block, 5)
    with pytest.raises(ProofError):
        verify_transaction_proof(block.transactions_root, 6, proof)


def _receipts_for(block_hash: bytes, count: int) -> list:
    out = []
    for i in range(count):
        out.append(
            map_receipt(
                {
                    "blockHash": "0x" + block_hash.hex(), "blockNumber": "0x1", "from": "0x" + "11" * 20,
                    "to": "0x" + "22" * 20, "cumulativeGasUsed": hex(21000 * (i + 1)), "gasUsed": hex(21000),
                    "logsBloom": "0x" + "00" * 256, "logs": [], "status": hex(i % 2),
                    "transactionHash": "0x" + f"{i:064x}", "transactionIndex": hex(i),
                    "type": "0x7e" if i == 0 else "0x2",
                    **({"depositNonce": "0x3", "depositReceiptVersion": "0x1"} if i == 0 else {}),
                }
            )
        )  # fmt: skip
    return out


def test_receipts_root_check_and_receipt_proof():
    block_hash = b"\xab" * 32
    receipts = _receipts_for(block_hash, 20)
    root = compute_receipts_root(receipts)
    block = map_block(_fork_header_json())._replace(hash=block_hash, receipts_root=root)
    verify_receipts_root(block, receipts)
    proof = prove_receipt(receipts, 13)
    assert verify_receipt_proof(root, 13, proof) == encode_receipt(receipts[13])
    with pytest.raises(RootMismatch, match="receiptsRoot"):
        verify_receipts_root(block, receipts[:-1])


def test_receipts_from_another_block_are_refused():
    receipts = _receipts_for(b"\xcd" * 32, 2)
    block = map_block(_fork_header_json())._replace(hash=b"\xab" * 32)
    with pytest.raises(ValueError, match="another block or position"):
        verify_receipts_root(block, receipts)
