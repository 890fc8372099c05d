"""The numbers behind /charts (and their CSV downloads), each a fixed number of queries over a
bounded window: the newest keystones, the newest Bitcoin blocks, or a time span ending at the
newest indexed block.

* Anchoring latency per keystone: Hemi keystone block -> first Bitcoin publication anchoring it
  (its own or a later keystone's, as finality counts) -> superfinal (the Bitcoin block 10 on top).
* PoP publications per Bitcoin block.
* Tunnel flows per time bucket: Bitcoin deposits (by Bitcoin block time), hemiBTC mints and
  withdrawals (by Hemi block time); counts and satoshis.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, F, Sum

from explorer.finality import SUPERFINALITY_CONFIRMATIONS
from explorer.params import BadParameter
from explorer.queries import keystones
from hemiscope import networks
from indexer.bitcoin.models import BitcoinBlock, PopPublication, TunnelDeposit
from indexer.hemi.models import Block, DepositConfirmation, Keystone, WithdrawalInitiation

KEYSTONE_WINDOW = 100
BLOCK_WINDOW = 100
# Span name -> (seconds shown, bucket seconds): about 24-52 buckets each.
SPANS = {
    "1h": (3600, 120),
    "1d": (86_400, 3600),
    "7d": (7 * 86_400, 6 * 3600),
    "30d": (30 * 86_400, 86_400),
    "1y": (364 * 86_400, 7 * 86_400),
}


@dataclass(frozen=True)
class LatencyPoint:
    keystone: int
    keystone_time: int
    publication_height: int | None
    anchoring_keystone: int | None
    published_after: int | None  # seconds from the keystone block to its first publication
    superfinal_after: int | None  # seconds to the Bitcoin block that made it superfinal


def anchoring_latency(limit: int = KEYSTONE_WINDOW) -> list[LatencyPoint]:
    """The newest ``limit`` canonical keystones, oldest first (5 queries). Bitcoin times are
    set by miners and may run a little behind Hemi's; a negative latency is shown as it is."""
    rows = list(
        Keystone.objects.canonical()
        .order_by("-number")
        .values_list("number", "block__timestamp")[:limit]
    )
    rows.reverse()
    finality = keystones.finality_for_numbers([n for n, _ in rows])
    heights = set()
    for f in finality.values():
        if f.publication_height is not None:
            heights |= {f.publication_height, f.publication_height + SUPERFINALITY_CONFIRMATIONS}
    times = dict(BitcoinBlock.objects.active().filter(height__in=heights).values_list("height", "time"))
    out = []
    for number, ts in rows:
        f = finality[number]
        pub_time = times.get(f.publication_height) if f.publication_height is not None else None
        final_time = (
            times.get(f.publication_height + SUPERFINALITY_CONFIRMATIONS) if f.publication_height is not None else None
        )
        out.append(
            LatencyPoint(
                keystone=number,
                keystone_time=ts,
                publication_height=f.publication_height,
                anchoring_keystone=f.anchoring_keystone_number,
                published_after=None if pub_time is None else pub_time - ts,
                superfinal_after=None if final_time is None else final_time - ts,
            )
        )
    return out


@dataclass(frozen=True)
class PopCount:
    height: int
    hash_display: str
    time: int
    publications: int


def pop_per_block(limit: int = BLOCK_WINDOW) -> list[PopCount]:
    """PoP outputs in each of the newest ``limit`` scanned active Bitcoin blocks, oldest first
    (2 queries)."""
    blocks = list(
        BitcoinBlock.objects.active()
        .filter(scanned_at__isnull=False)
        .order_by("-height")
        .only("id", "height", "hash_internal", "time")[:limit]
    )
    counts = dict(
        PopPublication.objects.filter(block_id__in=[b.id for b in blocks])
        .values("block_id")
        .annotate(n=Count("id"))
        .values_list("block_id", "n")
    )
    return [PopCount(b.height, b.hash_display, b.time, counts.get(b.id, 0)) for b in reversed(blocks)]


@dataclass(frozen=True)
class FlowBucket:
    start: int  # unix seconds
    deposits: int
    deposit_sats: int
    mints: int
    minted_sats: int
    withdrawals: int
    withdrawn_sats: int


def default_span() -> str:
    return "1h" if networks.current().name == "devnet" else "30d"


def parse_span(value: str | None) -> str:
    if value in (None, ""):
        return default_span()
    if value not in SPANS:
        raise BadParameter(f"span: one of {', '.join(SPANS)}")
    return value


def _window_end() -> int | None:
    """The newest indexed block time of either chain: the window ends there, not at the wall
    clock, so an indexer still backfilling last year still charts its data (2 queries)."""
    hemi = Block.objects.canonical().order_by("-number").values_list("timestamp", flat=True).first()
    btc = BitcoinBlock.objects.active().order_by("-height").values_list("time", flat=True).first()
    known = [t for t in (hemi, btc) if t is not None]
    return max(known) if known else None


def _bucketed(qs, time_field: str, sats_field: str, start: int, end: int, size: int) -> dict[int, tuple[int, int]]:
    rows = (
        qs.filter(**{f"{time_field}__gte": start, f"{time_field}__lt": end})
        .annotate(bucket=(F(time_field) - start) / size)
        .values("bucket")
        .annotate(n=Count("id"), sats=Sum(sats_field))
        .values_list("bucket", "n", "sats")
    )
    return {int(b): (n, int(s or 0)) for b, n, s in rows}


def tunnel_flows(span: str) -> list[FlowBucket]:
    """Deposits, mints and withdrawals per bucket over ``span`` ending at the newest indexed
    block (5 queries). Buckets are aligned to multiples of the bucket size. Each aggregate reads
    its tunnel table joined to block times: tunnel rows number in the thousands, not the
    millions of blocks, and only their blocks are looked up (by primary key)."""
    seconds, size = SPANS[span]
    newest = _window_end()
    if newest is None:
        return []
    end = (newest // size + 1) * size
    start = end - seconds
    deposits = _bucketed(
        TunnelDeposit.objects.filter(block__in_active_chain=True), "block__time", "value_sats", start, end, size
    )
    mints = _bucketed(DepositConfirmation.objects.canonical(), "block__timestamp", "net_sats", start, end, size)
    withdrawals = _bucketed(
        WithdrawalInitiation.objects.canonical(), "block__timestamp", "withdrawal_sats", start, end, size
    )
    out = []
    for i in range(seconds // size):
        d, m, w = deposits.get(i, (0, 0)), mints.get(i, (0, 0)), withdrawals.get(i, (0, 0))
        out.append(FlowBucket(start + i * size, d[0], d[1], m[0], m[1], w[0], w[1]))
    return out
