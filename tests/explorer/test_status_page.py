"""/status: per chain the node tip, our cursor, lag, and while backfilling a progress bar with
rate and ETA; the workers, pending follow-up work and alerts; in a bounded number of queries."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from explorer.queries import status


def progress(cursor=1999, tip=11_000, rate=50.0) -> status.ChainProgress:
    from explorer.queries.indexing import ChainStatus

    chain = ChainStatus("hemi", cursor, b"\x01" * 32, None, tip, 3.0 if tip is not None else None)
    return status.ChainProgress(chain, start=1000, rate=rate, batch=100)


def test_progress_lag_and_eta_while_backfilling():
    p = progress()
    assert p.lag == 9001 and p.backfilling
    assert (p.done, p.total) == (1000, 10_001) and round(p.percent, 2) == 10.0
    assert p.eta_seconds == 9001 / 50.0


def test_following_the_tip_is_not_backfilling_and_unknowns_stay_unknown():
    assert not progress(cursor=10_950).backfilling  # within one batch of the tip
    assert progress(cursor=11_005).lag == 0  # a cursor a moment ahead of an old reading
    unknown = progress(tip=None, rate=None)
    assert unknown.lag is None and unknown.percent is None and unknown.eta_seconds is None
    assert progress(rate=None).eta_seconds is None


def test_the_page_shows_cursors_reorgs_and_alerts_in_a_bounded_number_of_queries(client, story, chains):
    from dataclasses import replace

    from indexer.bitcoin.models import BitcoinBlock
    from indexer.models import ChainCursor

    hemi, btc, _ = story()
    ChainCursor.objects.create(chain="hemi", height=30, block_hash=hemi[30].hash)
    ChainCursor.objects.create(chain="bitcoin", height=115, block_hash=btc[115].hash_internal)
    BitcoinBlock.objects.filter(height=114).update(in_active_chain=False)
    forged = replace(chains.keystone_of(hemi[25]), state_root=b"\xee" * 32).abbreviate()
    chains.publish(btc[107], forged, first=False)
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/status")
    assert response.status_code == 200 and len(queries) <= 12
    html = response.content.decode()
    assert 'href="/block/30"' in html and 'href="/btc/block/115"' in html
    assert "Alternate keystone published" in html and "hemi-integrity" not in html
    assert btc[114].hash_display in html  # the orphaned block, under recent reorgs
    assert 'id="status" hx-get=' in html  # the page follows the indexers live


def test_pending_durable_work_is_counted_per_kind_with_its_last_error(client, db):
    from indexer.core import work
    from indexer.core.errors import TransientError

    work.add([work.Work("bitcoin.vault_rescan", "0xaa"), work.Work("bitcoin.vault_rescan", "0xbb"),
              work.Work("hemi.vault_custody", "0xcc")])  # fmt: skip
    item = work.claim(["hemi.vault_custody"])
    work.release(item, TransientError("node timed out"))
    html = client.get("/status").content.decode()
    assert "None: every recorded follow-up is done." not in html
    rows = status.pending_work().kinds
    assert [(k.kind, k.pending, k.running, k.failed) for k in rows] == [
        ("bitcoin.vault_rescan", 2, 0, 0),
        ("hemi.vault_custody", 1, 0, 0),
    ]
    assert "node timed out" in rows[1].last_error and "node timed out" in html


def test_with_nothing_pending_the_page_says_so(client, db):
    assert "None: every recorded follow-up is done." in client.get("/status").content.decode()


def test_a_backfill_shows_a_progress_bar_with_rate_and_eta(client, db, monkeypatch):
    """What the workers record (node tips, heartbeat, rates) stands in for the recorder here;
    the cursors are real rows."""
    from types import SimpleNamespace

    from hemiscope import telemetry
    from indexer.models import ChainCursor

    ChainCursor.objects.create(chain="hemi", height=4_999, block_hash=b"\x01" * 32)
    ChainCursor.objects.create(chain="bitcoin", height=200, block_hash=b"\x02" * 32)
    tips = {"hemi": 10_000, "bitcoin": 201}
    monkeypatch.setattr(telemetry, "node_tip", lambda chain: SimpleNamespace(height=tips[chain], age_seconds=4.0))
    recorded = status.Readings(heartbeat_age=7.0, rates={"hemi": 25.0, "bitcoin": 0.5})
    monkeypatch.setattr(status, "readings", lambda: recorded)
    html = client.get("/status").content.decode()
    # devnet starts at 0: 5 000 of 10 001 Hemi blocks, 5 001 to go at 25 blocks/s = 200 s
    assert '<progress id="progress-hemi" max="10001" value="5000">' in html
    assert "Backfilling: 5,000 of 10,001 blocks (50.0%)" in html and "About 3 min to the tip at 25.0 blocks/s" in html
    assert "5,001 blocks behind the node" in html
    assert "Following the tip" in html and "1 block behind the node" in html  # Bitcoin: within a batch
    assert "7 s ago" in html


def test_indexer_refusals_and_integrity_show_as_they_do_on_healthz(client, story):
    from indexer.core import alerts
    from indexer.hemi.models import BlockIntegrityIssue

    hemi, *_ = story()
    alerts.record("bitcoin", "reorg-too-deep", "a reorg of 1500 blocks is deeper than BITCOIN_MAX_REORG_DEPTH")
    BlockIntegrityIssue.objects.create(block=hemi[20], check_name="transactions root", expected="0x01", found="0x02")
    html = client.get("/status").content.decode()
    assert "bitcoin-reorg-too-deep" in html and "deeper than BITCOIN_MAX_REORG_DEPTH" in html
    assert "hemi-integrity" in html and "1 Hemi block(s) stored with failed re-hash checks" in html
