"""``page``/``offset`` lists for the Etherscan-style dialect (``explorer/api/etherscan``): the one
place OFFSET is allowed, because its clients page that way. Upstream caps ``page x offset`` at
10 000, so the deepest request reads 10 000 index entries per side, never a table scan; the
row order is still deterministic with a unique tiebreak (row id, drawn in chain order by the
single writer, or block number then position).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from indexer.hemi.models import Block, Log, TokenTransfer, Transaction

# Upstream's cap on page x offset (Etherscan and Blockscout).
MAX_WINDOW = 10_000


@dataclass(frozen=True)
class Window:
    """Rows ``start`` .. ``start + size`` of a list; ``start + size`` <= MAX_WINDOW."""

    start: int
    size: int
    ascending: bool
    blocks: tuple[int | None, int | None] = (None, None)  # startblock / endblock, inclusive

    @property
    def end(self) -> int:
        return self.start + self.size


def _in_blocks(qs, w: Window, field: str = "block__number"):
    if w.blocks[0] is not None:
        qs = qs.filter(**{f"{field}__gte": w.blocks[0]})
    if w.blocks[1] is not None:
        qs = qs.filter(**{f"{field}__lte": w.blocks[1]})
    return qs


def _merged(w: Window, sides: list) -> list:
    """Rows of "side A or side B" in id order without an OR scan: each side is one index range
    scan of at most ``w.end`` rows; merge by id, drop a row both sides hold (self-transfer)."""
    order = "id" if w.ascending else "-id"
    fetched = [list(side.order_by(order)[: w.end]) for side in sides]
    sign = 1 if w.ascending else -1
    seen: set[int] = set()
    rows = []
    for row in heapq.merge(*fetched, key=lambda r: sign * r.id):
        if row.id not in seen:
            seen.add(row.id)
            rows.append(row)
    return rows[w.start : w.end]


def address_transactions(address: bytes, w: Window) -> list[Transaction]:
    """Canonical transactions from or to ``address`` (indexes hemi_tx_sender_id, hemi_tx_to_id)."""
    base = _in_blocks(Transaction.objects.canonical().select_related("block").defer("block__header_rlp"), w)
    return _merged(w, [base.filter(sender=address), base.filter(to=address)])


def token_transfers(address: bytes | None, token_id: int | None, w: Window) -> list[TokenTransfer]:
    """Canonical token transfers from or to ``address`` and/or of one token."""
    base = TokenTransfer.objects.filter(canonical=True).select_related("token", "log__transaction", "block")
    base = _in_blocks(
        base.defer(
            "log__transaction__raw", "log__transaction__receipt_raw", "log__transaction__input", "block__header_rlp"
        ),
        w,
    )  # the items show none of them (Etherscan's tokentx says "input": "deprecated")
    if token_id is not None:
        base = base.filter(token_id=token_id)
    if address is None:
        return _merged(w, [base])
    return _merged(w, [base.filter(sender=address), base.filter(recipient=address)])


def logs(address: bytes | None, topics: dict[int, bytes], w: Window) -> list[Log]:
    """Canonical logs in block order (block number, log index), of one emitter and/or with the
    given topics (topic position -> value, all must match). The emitter uses index
    hemi_log_address_topic; a topics-only query is bounded by the block range and the window."""
    qs = Log.objects.canonical().select_related("block", "transaction").defer(
        "block__header_rlp", "transaction__raw", "transaction__receipt_raw", "transaction__input"
    )
    if address is not None:
        qs = qs.filter(address=address)
    for position, value in topics.items():
        qs = qs.filter(**{f"topic{position}": value})
    qs = _in_blocks(qs, w)
    order = ("block__number", "log_index") if w.ascending else ("-block__number", "-log_index")
    return list(qs.order_by(*order)[w.start : w.end])


def block_number_at_time(timestamp: int, closest: str) -> int | None:
    """The canonical block at or before (``closest="before"``) or at or after ``timestamp``.

    Block times never decrease with the number, so this is a binary search over numbers, each
    probe one lookup on the canonical-number index (about 25 probes for 30 million blocks)
    rather than a scan of an unindexed timestamp column."""
    bounds = Block.objects.canonical().order_by("number").values_list("number", flat=True)
    low, high = bounds.first(), bounds.last()
    if low is None:
        return None

    def time_at(n: int) -> int | None:
        return Block.objects.canonical().filter(number=n).values_list("timestamp", flat=True).first()

    # Invariant: every number below `lo` is before the target time (or a gap in the index).
    lo, hi = low, high + 1
    while lo < hi:
        mid = (lo + hi) // 2
        t = time_at(mid)
        if t is None or t < timestamp:
            lo = mid + 1
        else:
            hi = mid
    # `lo` is the first block at or after `timestamp` (high + 1: none).
    if closest == "after":
        return lo if lo <= high else None
    if lo <= high and time_at(lo) == timestamp:
        return lo
    return lo - 1 if lo - 1 >= low else None
