"""Check a Hemi block header and the commitments it makes (pure, no I/O).

* ``compute_block_hash`` re-encodes the header from the mapped RPC fields and hashes it, so a
  stored block hash is something we computed, not something a node told us.
* ``compute_transactions_root`` / ``compute_receipts_root`` rebuild the two tries from the
  re-encoded transactions and receipts (``rlpcodec``), and the ``prove_*`` helpers give a
  Merkle-Patricia proof that one transaction/receipt sits at its index under the header.

Header RLP list (go-ethereum ``types.Header``; fork fields are ``rlp:"optional"``)::

    [parentHash, sha3Uncles, miner, stateRoot, transactionsRoot, receiptsRoot, logsBloom,
     difficulty, number, gasLimit, gasUsed, timestamp, extraData, mixHash, nonce,
     baseFee?, withdrawalsRoot?, blobGasUsed?, excessBlobGas?, parentBeaconBlockRoot?,
     requestsHash?]

An optional field is present iff the RPC JSON had it. Like go-ethereum's encoder we refuse a
later optional field whose predecessors are missing: such a header cannot come from a real
node, and silently encoding it would make the hash check meaningless.
"""

from __future__ import annotations

from collections.abc import Sequence

from indexer.hashing import keccak256
from indexer.hemi.mpt import ordered_trie_proof, ordered_trie_root, verify_ordered_proof
from indexer.hemi.records import HemiBlock, HemiReceipt, HemiTransaction, Withdrawal
from indexer.hemi.rlpcodec import encode_receipt, encode_transaction
from indexer.hemi.rlpfast import encode_list


class HeaderEncodeError(ValueError):
    """The mapped header cannot be encoded (optional fields out of order)."""


class BlockHashMismatch(ValueError):
    def __init__(self, number: int, reported: bytes, computed: bytes) -> None:
        self.number = number
        self.reported = reported
        self.computed = computed
        super().__init__(
            f"block {number}: node reports hash 0x{reported.hex()}, header fields hash to 0x{computed.hex()}"
        )


class RootMismatch(ValueError):
    """A rebuilt trie root differs from the one committed in the header."""

    def __init__(self, what: str, number: int, header_root: bytes, computed: bytes) -> None:
        self.what = what
        super().__init__(
            f"block {number}: {what} in header 0x{header_root.hex()}, rebuilt 0x{computed.hex()}"
        )


def header_fields(block: HemiBlock) -> list[bytes | int]:
    """The header's RLP items in consensus order (ints encode as minimal big-endian strings)."""
    fields: list[bytes | int] = [
        block.parent_hash,
        block.sha3_uncles,
        block.miner,
        block.state_root,
        block.transactions_root,
        block.receipts_root,
        block.logs_bloom,
        block.difficulty,
        block.number,
        block.gas_limit,
        block.gas_used,
        block.timestamp,
        block.extra_data,
        block.mix_hash,
        block.nonce,  # [8]byte in go: always an 8-byte string, even when zero
    ]
    optional: list[tuple[str, bytes | int | None]] = [
        ("baseFeePerGas", block.base_fee_per_gas),
        ("withdrawalsRoot", block.withdrawals_root),
        ("blobGasUsed", block.blob_gas_used),
        ("excessBlobGas", block.excess_blob_gas),
        ("parentBeaconBlockRoot", block.parent_beacon_block_root),
        ("requestsHash", block.requests_hash),
    ]
    missing: str | None = None
    for name, value in optional:
        if value is None:
            missing = missing or name
            continue
        if missing is not None:
            raise HeaderEncodeError(f"block {block.number}: {name} present but earlier {missing} is absent")
        fields.append(value)
    return fields


def encode_header(block: HemiBlock) -> bytes:
    return encode_list(header_fields(block))


def compute_block_hash(block: HemiBlock) -> bytes:
    return keccak256(encode_header(block))


def verify_block_hash(block: HemiBlock) -> None:
    computed = compute_block_hash(block)
    if computed != block.hash:
        raise BlockHashMismatch(block.number, block.hash, computed)


# --------------------------------------------------------------------------- tries


def _full_transactions(block: HemiBlock) -> tuple[HemiTransaction, ...]:
    if block.transactions is None:
        raise ValueError(f"block {block.number} was fetched without full transaction objects")
    return block.transactions


def compute_transactions_root(transactions: Sequence[HemiTransaction]) -> bytes:
    return ordered_trie_root([encode_transaction(tx) for tx in transactions])


def compute_receipts_root(receipts: Sequence[HemiReceipt]) -> bytes:
    return ordered_trie_root([encode_receipt(r) for r in receipts])


def compute_withdrawals_root(withdrawals: Sequence[Withdrawal]) -> bytes:
    """EIP-4895 withdrawals trie (empty on Hemi; checked on L1 data in tests)."""
    return ordered_trie_root([encode_list([w.index, w.validator_index, w.address, w.amount_gwei]) for w in withdrawals])


def verify_transactions_root(block: HemiBlock) -> None:
    computed = compute_transactions_root(_full_transactions(block))
    if computed != block.transactions_root:
        raise RootMismatch("transactionsRoot", block.number, block.transactions_root, computed)


def verify_receipts_root(block: HemiBlock, receipts: Sequence[HemiReceipt]) -> None:
    """``receipts`` must be the block's receipts in transaction order."""
    for i, receipt in enumerate(receipts):
        if receipt.block_hash != block.hash or receipt.transaction_index != i:
            raise ValueError(f"block {block.number}: receipt {i} belongs to another block or position")
    computed = compute_receipts_root(receipts)
    if computed != block.receipts_root:
        raise RootMismatch("receiptsRoot", block.number, block.receipts_root, computed)


def prove_transaction(block: HemiBlock, index: int) -> list[bytes]:
    """Proof nodes for transaction ``index`` under ``block.transactions_root``."""
    return ordered_trie_proof([encode_transaction(tx) for tx in _full_transactions(block)], index)


def prove_receipt(receipts: Sequence[HemiReceipt], index: int) -> list[bytes]:
    return ordered_trie_proof([encode_receipt(r) for r in receipts], index)


def verify_transaction_proof(transactions_root: bytes, index: int, proof: Sequence[bytes]) -> bytes:
    """The raw transaction proven at ``index``; ``keccak256`` of it is the tx hash."""
    return verify_ordered_proof(transactions_root, index, proof)


def verify_receipt_proof(receipts_root: bytes, index: int, proof: Sequence[bytes]) -> bytes:
    return verify_ordered_proof(receipts_root, index, proof)
