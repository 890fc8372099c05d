"""Hemi transactions: one transaction with everything its page (or serializer) shows, in a
fixed number of queries: the row with its block, its logs, its token transfers, and the
provenance rows (mint, hVM update, PoP payout) that link it to Bitcoin."""

from __future__ import annotations

from dataclasses import dataclass, field

from explorer import decoding
from explorer.queries.cursor import Page, PageRequest
from indexer.hemi.models import DepositConfirmation, HvmHeader, Log, TokenTransfer, Transaction

TX_TYPE_NAMES = {
    0x00: "legacy",
    0x01: "access list (EIP-2930)",
    0x02: "dynamic fee (EIP-1559)",
    0x03: "blob (EIP-4844)",
    0x04: "set code (EIP-7702)",
    0x7C: "Hemi Bitcoin attributes (0x7C)",
    0x7D: "Hemi PoP payout (0x7D)",
    0x7E: "OP deposit (0x7E)",
}


def get_transaction(tx_hash: bytes) -> Transaction | None:
    """The canonical transaction with this hash, else the newest orphaned copy (1 query)."""
    return (
        Transaction.objects.filter(hash=tx_hash)
        .select_related("block")
        .defer("block__header_rlp")
        .order_by("-canonical", "-id")
        .first()
    )


@dataclass(frozen=True)
class LogView:
    log: Log
    decoded: decoding.Decoded | None


@dataclass(frozen=True)
class Fee:
    """What the sender paid, in wei: execution (gas used x effective price) + the L1 data fee."""

    execution_wei: int | None
    l1_wei: int | None
    total_wei: int | None


def log_view(log: Log) -> LogView:
    """A log with its event decoded for the ABIs we know."""
    return LogView(log, decoding.decode_log((log.topic0, log.topic1, log.topic2, log.topic3), bytes(log.data)))


def fee_of(tx: Transaction) -> Fee:
    price = tx.effective_gas_price if tx.effective_gas_price is not None else tx.gas_price
    execution = int(tx.gas_used) * int(price) if price is not None else None
    l1 = int(tx.l1_fee) if tx.l1_fee is not None else None
    total = None if execution is None else execution + (l1 or 0)
    return Fee(execution, l1, total)


@dataclass
class TransactionDetail:
    tx: Transaction
    type_name: str
    fee: Fee
    decoded_input: decoding.Decoded | None
    system: decoding.SystemFields | None
    logs: list[LogView] = field(default_factory=list)
    transfers: list[TokenTransfer] = field(default_factory=list)
    mints: list[DepositConfirmation] = field(default_factory=list)
    transfers_overflow: bool = False


def transaction_detail(
    tx: Transaction, *, with_logs: bool = True, transfer_limit: int | None = None
) -> TransactionDetail:
    """Everything the page shows beyond the row: 3 queries (logs, transfers, mints). The API
    pages logs separately (``with_logs=False``) and inlines at most ``transfer_limit`` transfers
    (one more is fetched to tell that there are more: ``transfers_overflow``)."""
    logs = list(Log.objects.filter(transaction=tx).order_by("log_index")) if with_logs else []
    transfers_qs = (
        TokenTransfer.objects.filter(log__transaction=tx).select_related("token", "log").order_by("log__log_index")
    )
    transfers = list(transfers_qs if transfer_limit is None else transfers_qs[: transfer_limit + 1])
    overflow = transfer_limit is not None and len(transfers) > transfer_limit
    transfers = transfers[:transfer_limit] if overflow else transfers
    mints = list(DepositConfirmation.objects.filter(transaction=tx).select_related("log", "transaction").order_by("id"))
    raw = bytes(tx.raw)
    return TransactionDetail(
        tx=tx,
        type_name=TX_TYPE_NAMES.get(tx.type, f"type 0x{tx.type:02x}"),
        fee=fee_of(tx),
        decoded_input=decoding.decode_input(bytes(tx.input)),
        system=decoding.decode_system_fields(raw) if raw else None,
        logs=[log_view(log) for log in logs],
        transfers=transfers,
        transfers_overflow=overflow,
        mints=mints,
    )


LOGS = "tx-logs"


def logs(tx: Transaction, req: PageRequest) -> Page[Log]:
    """A transaction's logs in log-index order (one range scan of its block's log positions)."""
    qs = Log.objects.filter(block_id=tx.block_id, transaction=tx).order_by("log_index")
    if req.after is not None:
        qs = qs.filter(log_index__gt=req.after[0])
    return req.page(qs[: req.limit + 1], lambda log: (log.log_index,))


@dataclass(frozen=True)
class RelayedHeader:
    """A Bitcoin header an hVM update relayed, and the tunnel deposits in that block with the
    mints that credit them: what this relay let the sequencer see."""

    header: HvmHeader
    deposits: list  # [(TunnelDeposit, [DepositConfirmation])]


def relayed_headers(tx: Transaction) -> list[RelayedHeader]:
    """The Bitcoin headers an hVM update transaction relayed, in order, each with its tunnel
    deposits and their mints (1 query for any other transaction, 3 for a relay)."""
    from indexer.bitcoin.models import TunnelDeposit

    headers = list(
        HvmHeader.objects.filter(update__transaction=tx).order_by("position").only(
            "position", "btc_hash_internal", "prev_hash_internal"
        )
    )
    if not headers:
        return []
    deposits = list(
        TunnelDeposit.objects.filter(block__hash_internal__in=[bytes(h.btc_hash_internal) for h in headers])
        .select_related("transaction", "block")
        .only("transaction__txid_internal", "block__hash_internal")
        .order_by("id")
    )
    mints: dict[bytes, list] = {}
    for m in (
        DepositConfirmation.objects.canonical()
        .filter(deposit_txid_internal__in=[bytes(d.transaction.txid_internal) for d in deposits])
        .select_related("transaction")
        .only("deposit_txid_internal", "transaction__hash")
    ):
        mints.setdefault(bytes(m.deposit_txid_internal), []).append(m)
    by_block: dict[bytes, list] = {}
    for d in deposits:
        by_block.setdefault(bytes(d.block.hash_internal), []).append(
            (d, mints.get(bytes(d.transaction.txid_internal), []))
        )
    return [RelayedHeader(h, by_block.get(bytes(h.btc_hash_internal), [])) for h in headers]
