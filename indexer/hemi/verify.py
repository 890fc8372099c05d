"""Verify a Hemi block before anything is written (pure: JSON in, checked records out, no DB).

The explorer stores hashes it has recomputed, not ones a node asserted: the header is
re-encoded and hashed, every transaction re-encoded and hashed, and both tries rebuilt and
compared with the header's roots. Any mismatch raises :class:`BlockRejected`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from indexer.hashing import keccak256
from indexer.hemi import keystones, l1info, mappers
from indexer.hemi.headers import encode_header
from indexer.hemi.mpt import ordered_trie_root
from indexer.hemi.records import LEGACY_TX, HemiBlock, HemiReceipt, HemiTransaction
from indexer.hemi.rlpcodec import TransactionEncodeError, encode_receipt, encode_transaction
from indexer.hemi.rlpfast import encode_string


class BlockRejected(Exception):
    """A block whose data does not verify (hash, tx hashes, roots, decoding); nothing was written."""

    def __init__(self, number: int | None, reason: str) -> None:
        self.number = number
        self.reason = reason
        super().__init__(f"hemi block {number}: {reason}")

    def __reduce__(self) -> tuple:
        # Raised in fetch worker processes and pickled back to the writer.
        return (type(self), (self.number, self.reason))


@dataclass(frozen=True)
class PreparedBlock:
    block: HemiBlock
    receipts: tuple[HemiReceipt, ...]
    header_rlp: bytes
    raw_txs: tuple[bytes, ...]
    raw_receipts: tuple[bytes, ...]
    l1_origin_number: int | None


def anvil_impersonated_hash(tx: HemiTransaction, raw: bytes) -> bytes | None:
    """The hash anvil gives a transaction sent from an impersonated account, else None.

    anvil cannot sign for an impersonated sender, so it stores a zero signature and, to keep
    hashes unique per sender, hashes ``rlp_encode(tx) ‖ sender`` - where a typed transaction's
    RLP form is its 2718 envelope wrapped as an RLP string. The devnet relies on this for the
    system accounts (0xDeaD…0001, 0x8888…8888); a real chain never produces it.
    """
    if tx.r != 0 or tx.s != 0:
        return None
    encoded = raw if tx.tx_type == LEGACY_TX else encode_string(raw)
    return keccak256(encoded + tx.from_address)


def prepare_block(block_json: Any, receipts_json: Any, *, accept_impersonated: bool = False) -> PreparedBlock:
    """Map and verify a block and its receipts; raise :class:`BlockRejected` on any mismatch.

    1. Map the JSON strictly (``mappers``).
    2. Re-encode the header: keccak(header RLP) must equal the reported block hash.
    3. Re-encode every transaction: keccak(raw) must equal its hash; the trie of the raw
       transactions must give the header's transactionsRoot.
    4. Receipts must be one per transaction, in order, for this block; the trie of their
       consensus encodings must give the header's receiptsRoot.
    5. Read the L1 origin from the block's L1-info transaction (None when it has none).
    """
    number = block_json.get("number") if isinstance(block_json, dict) else None
    try:
        cache = mappers.ValueCache()  # block hash, tx hashes, addresses... parsed once per block
        block = mappers.map_block(block_json, cache)
        receipts = tuple(mappers.map_receipt(r, cache) for r in receipts_json)
    except mappers.HemiDecodeError as exc:
        raise BlockRejected(_int_or_none(number), f"does not decode: {exc}") from exc
    if block.transactions is None:
        raise BlockRejected(block.number, "fetched without full transaction objects")
    try:
        header_rlp = encode_header(block)
        raw_txs = tuple(encode_transaction(tx) for tx in block.transactions)
        raw_receipts = tuple(encode_receipt(r) for r in receipts)
    except (ValueError, TransactionEncodeError) as exc:
        raise BlockRejected(block.number, f"cannot be re-encoded: {exc}") from exc
    if keccak256(header_rlp) != block.hash:
        computed = keccak256(header_rlp).hex()
        raise BlockRejected(block.number, f"header hashes to 0x{computed}, not 0x{block.hash.hex()}")
    for tx, raw in zip(block.transactions, raw_txs, strict=True):
        if keccak256(raw) != tx.hash and not (accept_impersonated and anvil_impersonated_hash(tx, raw) == tx.hash):
            raise BlockRejected(block.number, f"transaction 0x{tx.hash.hex()} re-encodes to a different hash")
    if ordered_trie_root(list(raw_txs)) != block.transactions_root:
        raise BlockRejected(block.number, "rebuilt transactionsRoot differs from the header")
    if len(receipts) != len(block.transactions):
        raise BlockRejected(block.number, f"{len(receipts)} receipts for {len(block.transactions)} transactions")
    for i, (tx, receipt) in enumerate(zip(block.transactions, receipts, strict=True)):
        if receipt.transaction_hash != tx.hash or receipt.transaction_index != i or receipt.block_hash != block.hash:
            raise BlockRejected(block.number, f"receipt {i} belongs to another transaction or block")
        if any(log.log_index is None for log in receipt.logs):
            raise BlockRejected(block.number, f"receipt {i} has a log without logIndex")
    if ordered_trie_root(list(raw_receipts)) != block.receipts_root:
        raise BlockRejected(block.number, "rebuilt receiptsRoot differs from the header")
    return PreparedBlock(block, receipts, header_rlp, raw_txs, raw_receipts, l1_origin_of(block))


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value, 16)
    except (TypeError, ValueError):
        return None


def l1_origin_of(block: HemiBlock) -> int | None:
    """The block's L1 origin number, or None when its first transaction is no L1-info call.

    A real Hemi block opens with the 0x7E L1-info deposit (``keystones.l1_origin_of``). The
    devnet (anvil, no deposit tx type) sends the same calldata as an ordinary transaction from
    the impersonated depositor 0xDeaD…0001 - an address with no private key, so on a real
    chain no such transaction can exist and accepting it cannot be abused.
    """
    try:
        return keystones.l1_origin_of(block)
    except keystones.KeystoneBuildError:
        pass
    if not block.transactions:
        return None
    tx = block.transactions[0]
    if tx.from_address != l1info.L1_INFO_DEPOSITOR:
        return None
    try:
        return l1info.decode_l1_info(tx.input).number
    except l1info.L1InfoDecodeError as exc:
        raise BlockRejected(block.number, f"L1-info transaction does not decode: {exc}") from exc
