"""Audit reports read stored verdicts where they are current, judge live only the rest, and
write the same bytes either way (explorer.reports.items.judge, queries.verdicts.
current_verified_mints). Built on the stored-verdict tests' chains (tests/explorer/conftest.py)."""

from __future__ import annotations

import functools
import io
from dataclasses import replace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from explorer import verdict_store
from explorer.models import MintVerdict
from explorer.queries import tunnel as tunnel_queries
from explorer.reports import collect
from explorer.reports.build import write_report
from explorer.reports.request import make_request
from explorer.verdicts import FAILED, VERIFIED
from indexer.core import cursor as chain_cursor
from tests.explorer.conftest import h32


@pytest.fixture(autouse=True)
def _hemibtc(monkeypatch, tunnel):
    from hemiscope import networks

    preset = replace(networks.current(), hemibtc_address="0x" + tunnel.HEMIBTC.hex())
    monkeypatch.setattr(networks, "current", lambda: preset)


@pytest.fixture
def judged_live(monkeypatch) -> list:
    """The mints each report judged live (through the tunnel pages' helper), by id."""
    seen: list = []
    real = tunnel_queries.mint_verdicts

    def spy(mints, at=None):
        seen.extend(m.pk for m in mints)
        return real(mints) if at is None else real(mints, at)

    monkeypatch.setattr(tunnel_queries, "mint_verdicts", spy)
    return seen


def report(fmt: str, tunnel, scope: str = "token", **pins) -> bytes:
    out = io.BytesIO()
    selectors = {"id": "0x" + tunnel.HEMIBTC.hex()} if scope == "token" else {}
    write_report(make_request(scope, **selectors, **pins), fmt, out)
    return out.getvalue()


def backed_mints(tunnel, hemi, btc, n: int, label: str = "more") -> list:
    """``n`` more backed mints like the story's: deposit in block 101, minted in relayed,
    published Hemi blocks 12..19 - verified and superfinal."""
    return [
        tunnel.mint(hemi[12 + i % 8], tunnel.deposit(btc[101], label=f"{label}{i}").transaction.txid_internal)
        for i in range(n)
    ]


def backfill() -> None:
    verdict_store.record_sweep(backfill=True)
    verdict_store.refresh_all()


def test_stored_and_live_verdicts_write_byte_identical_csv_and_json(chains, tunnel, story, judged_live):
    hemi, btc, story_mint = story()
    backed_mints(tunnel, hemi, btc, 3)
    unbacked = tunnel.mint(hemi[14], h32("no-such-deposit"))  # failed: always judged live
    live = {(fmt, scope): report(fmt, tunnel, scope) for fmt in ("csv", "json") for scope in ("token", "tunnel")}
    assert not MintVerdict.objects.exists()
    assert set(judged_live) == set(chains.hemi.DepositConfirmation.objects.values_list("pk", flat=True))

    backfill()
    assert MintVerdict.objects.filter(verdict=VERIFIED, settled=True).count() == 4
    judged_live.clear()
    stored = {(fmt, scope): report(fmt, tunnel, scope) for fmt in ("csv", "json") for scope in ("token", "tunnel")}
    assert stored == live
    assert set(judged_live) == {unbacked.pk}  # the verified ones came from the stored verdicts
    assert b",verified,superfinal,," in live[("csv", "token")]
    assert f"{story_mint.block.number}".encode() in live[("csv", "token")]


def test_a_stored_verdict_a_pending_reorg_reaches_is_judged_live(chains, tunnel, story, judged_live):
    _hemi, btc, mint = story()
    backfill()
    report("csv", tunnel)
    assert judged_live == []  # current: read from the store
    # The deposit's block is orphaned; the cursor move records the change, which the verdict
    # worker has not handled yet: the stored "verified" is stale.
    chains.btc.BitcoinBlock.objects.filter(height__gte=101).update(in_active_chain=False)
    chains.btc.KeystoneFirstPublication.objects.all().delete()
    chain_cursor.advance("bitcoin", None, (115, bytes(btc[115].hash_internal)))
    chain_cursor.advance("bitcoin", (115, bytes(btc[115].hash_internal)), (100, bytes(btc[100].hash_internal)))
    assert MintVerdict.objects.get(pk=mint.pk).verdict == VERIFIED
    data = report("csv", tunnel).decode()
    assert judged_live == [mint.pk]
    assert f",{FAILED},Bitcoin lock," in data and "orphaned" in data
    # Once the refresh has run, the stored verdict is the live one (failed: still judged live).
    verdict_store.refresh_all()
    judged_live.clear()
    assert report("csv", tunnel).decode() == data and judged_live == [mint.pk]


def test_a_pending_hemi_reorg_at_or_below_a_verdicts_blocks_makes_it_judged_live(chains, tunnel, story, judged_live):
    hemi, _btc, mint = story()
    backfill()
    current = report("csv", tunnel)
    # The Hemi cursor rewinds to block 11 (a reorg from block 12, the mint's): not refreshed yet.
    chain_cursor.advance("hemi", None, (30, bytes(hemi[30].hash)))
    chain_cursor.advance("hemi", (30, bytes(hemi[30].hash)), (11, bytes(hemi[11].hash)))
    assert report("csv", tunnel) == current  # the rows did not change here: the same verdict, live
    assert judged_live == [mint.pk]


def test_a_change_above_what_a_verdict_was_judged_on_does_not_make_it_stale(chains, tunnel, story, judged_live):
    hemi, btc, mint = story()
    backfill()
    stored = MintVerdict.objects.get(pk=mint.pk)
    # New blocks on both chains, not handled yet: above every block the verdict depends on.
    chain_cursor.advance("bitcoin", None, (115, bytes(btc[115].hash_internal)))
    chain_cursor.advance("hemi", None, (30, bytes(hemi[30].hash)))
    assert stored.depends_bitcoin_height <= 115 - 10 and stored.depends_hemi_number < 30
    report("csv", tunnel)
    assert judged_live == []


def test_a_second_credit_of_the_same_txid_is_judged_live_before_its_refresh(chains, tunnel, story, judged_live):
    hemi, _btc, mint = story()
    backfill()
    before = report("csv", tunnel).decode()
    again = tunnel.mint(hemi[16], mint.deposit_txid_internal)  # no cursor move, no refresh yet
    data = report("csv", tunnel).decode()
    assert sorted(judged_live) == sorted([mint.pk, again.pk])
    assert "credited 2 times" in data and data != before


def _csv_queries(tunnel, monkeypatch, batch: int) -> int:
    monkeypatch.setattr(collect, "iter_batches", functools.partial(_real_iter_batches, size=batch))
    with CaptureQueriesContext(connection) as ctx:
        report("csv", tunnel)
    return len(ctx.captured_queries)


_real_iter_batches = collect.iter_batches


def test_a_csv_of_stored_settled_verdicts_costs_a_few_queries_per_batch(
    chains, tunnel, story, judged_live, monkeypatch
):
    hemi, btc, _ = story()
    backed_mints(tunnel, hemi, btc, 7)  # 8 mints
    backfill()
    at_8 = _csv_queries(tunnel, monkeypatch, batch=4)  # 2 full batches and an empty one
    backed_mints(tunnel, hemi, btc, 8, label="later")
    backfill()
    at_16 = _csv_queries(tunnel, monkeypatch, batch=4)  # 4 full batches and an empty one
    assert judged_live == []
    per_batch = (at_16 - at_8) / 2
    # The batch itself, the stored verdicts, the open work items, the txids' canonical mints,
    # the deposits' heights, and the savepoint pair of the snapshot inside a test transaction
    # (outside one: SET TRANSACTION ISOLATION LEVEL instead): 7, whatever the batch size.
    assert per_batch == 7, (at_8, at_16)
    # Against live judging: ~15 queries per mint.
    assert at_16 < 16 * 5


def test_a_pinned_report_reads_a_stored_verdict_only_where_it_cannot_differ_at_the_pins(
    chains, tunnel, story, judged_live
):
    """The story's mint: deposit at Bitcoin 101, hVM view tip 104, publication 105 (its verdict
    depends on 105 and on Hemi 25). Read from the store where the publication is 10 deep at the
    pinned height and Hemi 25 is at or below the pinned block; judged live (the same bytes as
    with no store at all) everywhere else."""
    _, _, mint = story()
    pins = [(115, 30), (115, 25), (114, 30), (110, 30), (115, 24), (103, 30)]

    def reports() -> dict:
        return {(h, n, fmt): report(fmt, tunnel, at_btc_height=h, at_hemi_block=n) for h, n in pins
                for fmt in ("csv", "json")}  # fmt: skip

    live = reports()
    assert set(judged_live) == {mint.pk}
    backfill()
    assert MintVerdict.objects.filter(pk=mint.pk, verdict=VERIFIED, settled=True).exists()
    for h, n in pins:
        judged_live.clear()
        for fmt in ("csv", "json"):
            assert report(fmt, tunnel, at_btc_height=h, at_hemi_block=n) == live[h, n, fmt], (h, n, fmt)
        assert judged_live == ([] if (h, n) in ((115, 30), (115, 25)) else [mint.pk, mint.pk]), (h, n)
    assert b",verified,superfinal," in live[115, 25, "csv"] and b",pending," in live[114, 30, "csv"]


def test_a_pinned_csv_of_verdicts_settled_at_the_pins_costs_a_few_queries_per_batch(
    chains, tunnel, story, judged_live, monkeypatch
):
    def pinned_csv_queries(batch: int) -> int:
        monkeypatch.setattr(collect, "iter_batches", functools.partial(_real_iter_batches, size=batch))
        with CaptureQueriesContext(connection) as ctx:
            report("csv", tunnel, at_btc_height=115, at_hemi_block=29)
        return len(ctx.captured_queries)

    hemi, btc, _ = story()
    backed_mints(tunnel, hemi, btc, 7)  # 8 mints
    backfill()
    at_8 = pinned_csv_queries(batch=4)
    backed_mints(tunnel, hemi, btc, 8, label="later")
    backfill()
    at_16 = pinned_csv_queries(batch=4)
    assert judged_live == []
    # The unpinned report's 7 per batch, and the verdicts' depends and the mints' hVM views.
    assert (at_16 - at_8) / 2 == 9, (at_8, at_16)


def test_a_stored_verdict_whose_hvm_view_lies_above_the_pinned_height_is_judged_live(chains, tunnel, judged_live):
    """Deposit at 101, publication at 105 (10 deep from 115), but the mint's hVM view saw
    Bitcoin up to 117: pinned at 115 or 116 that view's tip is not there, so the stored
    "verified" is not what the pins give - judged live, pending."""
    hemi = chains.hemi_chain(30)
    btc = chains.btc_chain(120, start=100)
    deposit = tunnel.deposit(btc[101])
    tunnel.relay(hemi[10], [btc[h] for h in range(100, 118)], tip=btc[117])
    mint = tunnel.mint(hemi[12], deposit.transaction.txid_internal)
    chains.publish(btc[105], chains.keystone_of(hemi[25]).abbreviate())
    pins = [(115, 30), (116, 30), (117, 30), (120, 30)]
    live = {pin: report("csv", tunnel, at_btc_height=pin[0], at_hemi_block=pin[1]) for pin in pins}
    backfill()
    assert MintVerdict.objects.filter(pk=mint.pk, verdict=VERIFIED, settled=True).exists()
    for pin in pins:
        judged_live.clear()
        assert report("csv", tunnel, at_btc_height=pin[0], at_hemi_block=pin[1]) == live[pin], pin
        assert judged_live == ([mint.pk] if pin[0] < 117 else []), pin
    assert b",pending,Bitcoin lock," in live[116, 30] and b",verified,superfinal," in live[117, 30]
