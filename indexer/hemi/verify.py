"""Verify a Hemi block before anything is written (pure: JSON in, checked records out, no DB).

The explorer stores hashes it has recomputed, not ones a node asserted: the header is
re-encoded and hashed, every transaction re-encoded and hashed, and both tries rebuilt and
compared with the header's roots.

What happens when one of those re-hash checks fails is ``HEMI_VERIFY_STRICT``'s choice
(``strict`` below): strict (the devnet's and the tests' default) raises :class:`BlockRejected`
and the follower stops at the block; lenient (testnet's and mainnet's) returns the block with
its failed checks in ``PreparedBlock.integrity`` - which check, what was expected, what was
found - and the writer stores it flagged. A real Hemi block our encoder gets wrong (the 0x7C /
0x7D encodings had never met one) then costs a flag instead of the whole index. JSON that
does not decode, and receipts that belong to another block, are refused in both modes: there
is nothing trustworthy to store.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from indexer.core.errors import Refusal
from indexer.hashing import keccak256
from indexer.hemi import keystones, l1info, mappers
from indexer.hemi.headers import encode_header
from indexer.hemi.mpt import ordered_trie_root
from indexer.hemi.records import LEGACY_TX, HemiBlock, HemiReceipt, HemiTransaction
from indexer.hemi.rlpcodec import TransactionEncodeError, encode_receipt, encode_transaction
from indexer.hemi.rlpfast import encode_string

# Failed checks kept per block; a block with more (thousands of transactions that all re-encode
# differently) is summed up in one last issue.
MAX_ISSUES = 20
STRICT_HINT = (
    "HEMI_VERIFY_STRICT is on, so indexing stops at this block; set HEMI_VERIFY_STRICT=false to store "
    "such blocks flagged and go on"
)


class BlockRejected(Refusal):
    """A block whose data does not verify (hash, tx hashes, roots, decoding); nothing was written.

    ``rehash`` is True for a re-hash check that lenient mode would have flagged instead."""

    code = "block-rejected"

    def __init__(self, number: int | None, reason: str, rehash: bool = False) -> None:
        self.number = number
        self.reason = reason
        self.rehash = rehash
        super().__init__(f"hemi block {number}: {reason}" + (f". {STRICT_HINT}" if rehash else ""))

    def __reduce__(self) -> tuple:
        # Raised in fetch worker processes and pickled back to the writer.
        return (type(self), (self.number, self.reason, self.rehash))


class IntegrityIssue(NamedTuple):
    """One re-hash check a block failed: stored with the block when verification is lenient."""

    check: str  # "header hash", "transaction hash", "transactionsRoot", "receiptsRoot", ...
    expected: str  # what the chain says (the header's root, the node's hash)
    found: str  # what we recomputed, or why we could not
    tx_index: int | None = None  # the transaction (or receipt) concerned, if one


@dataclass(frozen=True)
class PreparedBlock:
    block: HemiBlock
    receipts: tuple[HemiReceipt, ...]
    header_rlp: bytes
    raw_txs: tuple[bytes, ...]
    raw_receipts: tuple[bytes, ...]
    l1_origin_number: int | None
    # Failed re-hash checks (lenient mode only; strict mode raises instead). Empty: verified.
    integrity: tuple[IntegrityIssue, ...] = ()


class _Issues:
    """Failed re-hash checks: raised at once when strict, collected when lenient."""

    def __init__(self, number: int, strict: bool) -> None:
        self.number = number
        self.strict = strict
        self.items: list[IntegrityIssue] = []
        self.dropped = 0

    def fail(self, reason: str, issue: IntegrityIssue) -> None:
        if self.strict:
            raise BlockRejected(self.number, reason, rehash=True)
        if len(self.items) < MAX_ISSUES:
            self.items.append(issue)
        else:
            self.dropped += 1

    def result(self) -> tuple[IntegrityIssue, ...]:
        if self.dropped:
            more = IntegrityIssue("more checks failed", "", f"{self.dropped} more failed checks not listed")
            return (*self.items, more)
        return tuple(self.items)


def _hex(raw: bytes) -> str:
    return "0x" + raw.hex()


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


def prepare_block(
    block_json: Any, receipts_json: Any, *, accept_impersonated: bool = False, strict: bool = True
) -> PreparedBlock:
    """Map and verify a block and its receipts.

    1. Map the JSON strictly (``mappers``).
    2. Re-encode the header: keccak(header RLP) must equal the reported block hash.
    3. Re-encode every transaction: keccak(raw) must equal its hash; the trie of the raw
       transactions must give the header's transactionsRoot.
    4. Receipts must be one per transaction, in order, for this block; the trie of their
       consensus encodings must give the header's receiptsRoot.
    5. Read the L1 origin from the block's L1-info transaction (None when it has none).

    A failed re-hash check (2-4: an encoding, a hash, a root) raises :class:`BlockRejected`
    when ``strict``; otherwise it is listed in ``integrity`` and the rest is still checked
    (a transaction that cannot be encoded is kept with empty raw bytes). Steps 1, 4's
    receipt/transaction pairing and 5 raise in both modes.
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
    if len(receipts) != len(block.transactions):
        raise BlockRejected(block.number, f"{len(receipts)} receipts for {len(block.transactions)} transactions")
    for i, (tx, receipt) in enumerate(zip(block.transactions, receipts, strict=True)):
        if receipt.transaction_hash != tx.hash or receipt.transaction_index != i or receipt.block_hash != block.hash:
            raise BlockRejected(block.number, f"receipt {i} belongs to another transaction or block")
        if any(log.log_index is None for log in receipt.logs):
            raise BlockRejected(block.number, f"receipt {i} has a log without logIndex")
    issues = _Issues(block.number, strict)
    header_rlp = _check_header(block, issues)
    raw_txs = _check_transactions(block, issues, accept_impersonated)
    raw_receipts = _check_receipts(block, receipts, issues)
    return PreparedBlock(
        block, receipts, header_rlp, raw_txs, raw_receipts, l1_origin_of(block), integrity=issues.result()
    )


def _check_header(block: HemiBlock, issues: _Issues) -> bytes:
    try:
        header_rlp = encode_header(block)
    except ValueError as exc:
        issues.fail(f"cannot be re-encoded: {exc}", IntegrityIssue("header encoding", _hex(block.hash), str(exc)))
        return b""
    computed = keccak256(header_rlp)
    if computed != block.hash:
        issues.fail(
            f"header hashes to {_hex(computed)}, not {_hex(block.hash)}",
            IntegrityIssue("header hash", _hex(block.hash), _hex(computed)),
        )
    return header_rlp


def _check_transactions(block: HemiBlock, issues: _Issues, accept_impersonated: bool) -> tuple[bytes, ...]:
    raw_txs: list[bytes] = []
    encoded_all = True
    for i, tx in enumerate(block.transactions or ()):
        try:
            raw = encode_transaction(tx)
        except (ValueError, TransactionEncodeError) as exc:
            issues.fail(
                f"cannot be re-encoded: {exc}", IntegrityIssue("transaction encoding", _hex(tx.hash), str(exc), i)
            )
            raw_txs.append(b"")
            encoded_all = False
            continue
        raw_txs.append(raw)
        computed = keccak256(raw)
        if computed != tx.hash and not (accept_impersonated and anvil_impersonated_hash(tx, raw) == tx.hash):
            issues.fail(
                f"transaction {_hex(tx.hash)} re-encodes to a different hash",
                IntegrityIssue("transaction hash", _hex(tx.hash), _hex(computed), i),
            )
    if not encoded_all:
        issues.fail(
            "transactionsRoot cannot be rebuilt",
            IntegrityIssue(
                "transactionsRoot", _hex(block.transactions_root), "not rebuilt: a transaction did not encode"
            ),
        )
    elif (root := ordered_trie_root(raw_txs)) != block.transactions_root:
        issues.fail(
            "rebuilt transactionsRoot differs from the header",
            IntegrityIssue("transactionsRoot", _hex(block.transactions_root), _hex(root)),
        )
    return tuple(raw_txs)


def _check_receipts(block: HemiBlock, receipts: tuple[HemiReceipt, ...], issues: _Issues) -> tuple[bytes, ...]:
    raw_receipts: list[bytes] = []
    encoded_all = True
    for i, receipt in enumerate(receipts):
        try:
            raw_receipts.append(encode_receipt(receipt))
        except (ValueError, TransactionEncodeError) as exc:
            issues.fail(
                f"receipt {i} cannot be re-encoded: {exc}",
                IntegrityIssue("receipt encoding", _hex(receipt.transaction_hash), str(exc), i),
            )
            raw_receipts.append(b"")
            encoded_all = False
    if not encoded_all:
        issues.fail(
            "receiptsRoot cannot be rebuilt",
            IntegrityIssue("receiptsRoot", _hex(block.receipts_root), "not rebuilt: a receipt did not encode"),
        )
    elif (root := ordered_trie_root(raw_receipts)) != block.receipts_root:
        issues.fail(
            "rebuilt receiptsRoot differs from the header",
            IntegrityIssue("receiptsRoot", _hex(block.receipts_root), _hex(root)),
        )
    return tuple(raw_receipts)


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
