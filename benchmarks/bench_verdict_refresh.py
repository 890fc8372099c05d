"""Benchmark: refreshing stored verdicts after one new block, with 100 000 mints stored.

The peer, measured in the same run: judging every mint live (what lists did before verdicts
were stored, and what a refresh without the "only changed rows" plan would cost), extrapolated
from the measured cost of judging a sample of mints. The refresh handles the real
``chain.changed`` work item the cursor move records, through the same drain the worker runs.

Run through the services launcher (it needs PostgreSQL): ``make bench``, or
``python -m hemiscope.services run -- python benchmarks/bench_verdict_refresh.py``.
It creates its own throwaway database (``bench_verdict_refresh``) and drops it at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hemiscope.settings")
os.environ.setdefault("DEBUG", "true")

from bench_provenance import h, populate  # noqa: E402 - after the path and settings setup

SAMPLE = 300  # mints judged live to price the peer
RECENT = 100  # the newest mints are left waiting for a PoP publication: unsettled, as on a live chain


def seed_verdicts(sample_stage: dict) -> None:
    """Stored verdicts for every row, as a finished backfill leaves them: the sample judged for
    real, everything else written in bulk (set-wise, it is not what is measured), then the
    newest rows judged for real so the unsettled ones are exactly what the data says."""
    from django.db import connection
    from django.utils import timezone

    from explorer import verdict_store
    from explorer.models import BlockVerdict, DepositVerdict, MintVerdict

    now = timezone.now()
    common = (
        "verdict, stage, reason, settled, waiting_for_bitcoin, bitcoin_height, bitcoin_hash_internal,"
        " hemi_number, hemi_hash, depends_bitcoin_height, depends_hemi_number, computed_at"
    )
    with connection.cursor() as cur:
        for model, subject, table in (
            (MintVerdict, "mint_id", "hemi_depositconfirmation"),
            (DepositVerdict, "deposit_id", "bitcoin_tunneldeposit"),
            (BlockVerdict, "block_id", "hemi_block"),
        ):
            cur.execute(
                f"INSERT INTO {model._meta.db_table} ({subject}, {common})"  # noqa: S608 - constant names
                f" SELECT id, %s, %s, '', true, false, NULL, NULL, NULL, NULL, 0, 0, %s FROM {table}"
                " ON CONFLICT DO NOTHING",
                [sample_stage["verdict"], sample_stage["stage"], now],
            )
        cur.execute("ANALYZE")
    # The newest rows judged for real: they are the ones a young chain leaves unsettled.
    for kind, model in (("mint", MintVerdict), ("deposit", DepositVerdict), ("block", BlockVerdict)):
        newest = list(model.objects.order_by("-pk").values_list("pk", flat=True)[:SAMPLE])
        verdict_store.store(kind, newest)


def new_bitcoin_block() -> None:
    """A new Bitcoin block on the tip, and the cursor move that records its chain.changed item."""
    from indexer.bitcoin.models import BitcoinBlock
    from indexer.core import cursor

    tip = BitcoinBlock.objects.order_by("-height").first()
    height = tip.height + 1
    block = BitcoinBlock.objects.create(
        hash_internal=h(f"btc{height}"),
        height=height,
        prev_hash_internal=tip.hash_internal,
        merkle_root_internal=h("m"),
        version=1,
        time=height,
        bits=0x207FFFFF,
        nonce=0,
        header_raw=b"\0" * 80,
        chainwork=Decimal(height),
    )
    position = cursor.position("bitcoin")
    cursor.advance("bitcoin", position, (height, bytes(block.hash_internal)))


def list_pages(mints: int) -> None:
    """The lists' side: one page of mints filtered by a verdict few rows have (the pending
    ones) and by the one most have, at this table size - an index range scan either way."""
    from explorer.queries import verdicts
    from explorer.queries.cursor import PageRequest

    for verdict in ("pending", "verified", "failed"):
        times = []
        for _ in range(20):
            start = time.perf_counter()
            page = verdicts.mints(PageRequest(verdicts.MINTS, None, 100), verdicts.Filter(verdict))
            times.append((time.perf_counter() - start) * 1000)
        print(
            f"list page ?verdict={verdict} (100 rows max, {len(page.items)} found), {mints} mints stored: "
            f"median {statistics.median(times):.1f} ms"
        )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mints", type=int, default=100_000)
    parser.add_argument("--blocks", type=int, default=5, help="new Bitcoin blocks measured")
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment

    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    # Its own throwaway database, so a test run on the same server is not clobbered.
    connection.settings_dict["TEST"] = {**connection.settings_dict.get("TEST", {}), "NAME": "bench_verdict_refresh"}
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        from explorer import verdict_store
        from indexer.bitcoin.models import BitcoinBlock
        from indexer.core import cursor
        from indexer.hemi.models import DepositConfirmation

        t0 = time.perf_counter()
        populate(args.mints)
        # The newest blocks' keystones not published yet: their mints pend, as recent mints do.
        from indexer.bitcoin.models import KeystoneFirstPublication
        from indexer.keystone import keystone_number_for

        newest = DepositConfirmation.objects.order_by("-pk").values_list("block__number", flat=True)[RECENT - 1]
        KeystoneFirstPublication.objects.filter(l2_block_number__gte=keystone_number_for(newest)).delete()
        tip = BitcoinBlock.objects.order_by("-height").first()
        cursor.advance("bitcoin", None, (tip.height, bytes(tip.hash_internal)))
        verdict_store.refresh_all()  # the item the first cursor position recorded: nothing stored yet
        print(f"populated {args.mints} mints in {time.perf_counter() - t0:.1f} s")

        # The peer: judge a sample of mints live, spread over the table.
        ids = list(DepositConfirmation.objects.order_by("pk").values_list("pk", flat=True))
        sample = ids[:: max(1, len(ids) // SAMPLE)][:SAMPLE]
        start = time.perf_counter()
        verdict_store.store("mint", sample)
        per_mint_s = (time.perf_counter() - start) / len(sample)
        from explorer.models import MintVerdict

        typical = MintVerdict.objects.filter(pk=sample[len(sample) // 2]).values("verdict", "stage").first()
        seed_verdicts(typical)
        unsettled = MintVerdict.objects.filter(settled=False).count()

        queries: list[str] = []

        def count(execute, sql, params, many, context):
            queries.append(sql)
            return execute(sql, params, many, context)

        times = []
        for _ in range(args.blocks):
            new_bitcoin_block()
            queries.clear()
            start = time.perf_counter()
            with connection.execute_wrapper(count):
                result = verdict_store.refresh_all()
            times.append(time.perf_counter() - start)
            assert result.done == 1, result
        median = statistics.median(times)
        naive = per_mint_s * args.mints
        print(
            f"refresh after one new Bitcoin block, {args.mints} mints stored ({unsettled} unsettled): "
            f"median {median * 1000:.0f} ms, {len(queries)} SQL queries (last block)"
        )
        print(f"peer: judging every mint live = {per_mint_s * 1000:.1f} ms x {args.mints} = {naive:.0f} s")
        print(f"  ratio peer/refresh = {naive / median:.0f}x")
        list_pages(args.mints)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
