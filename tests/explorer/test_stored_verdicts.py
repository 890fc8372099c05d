"""Stored verdicts: computed by the audit modules, refreshed from the durable chain.changed work
every cursor move records, read by the lists with filters, keyset pages and bounded queries."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from explorer import verdict_store
from explorer.models import BlockVerdict, DepositVerdict, MintVerdict, WithdrawalVerdict
from explorer.queries import verdicts
from explorer.verdicts import FAILED, PENDING, VERIFIED
from indexer.core import cursor as chain_cursor
from indexer.core import work
from indexer.core.cursor import CHAIN_CHANGED
from indexer.models import WorkItem
from tests.explorer.conftest import h32
from tests.explorer.verdict_checks import assert_stored_agrees_with_live


@pytest.fixture(autouse=True)
def _hemibtc(monkeypatch, tunnel):
    from hemiscope import networks

    preset = replace(networks.current(), hemibtc_address="0x" + tunnel.HEMIBTC.hex())
    monkeypatch.setattr(networks, "current", lambda: preset)


@pytest.fixture
def story(story, chains):
    """The backed, published deposit story, its Bitcoin blocks scanned (so a missing deposit is
    a finding, not a wait for indexing)."""
    from django.utils import timezone

    def build(**kwargs):
        built = story(**kwargs)
        chains.btc.BitcoinBlock.objects.update(scanned_at=timezone.now())
        return built

    return build


def backfill() -> None:
    verdict_store.record_sweep(backfill=True)
    verdict_store.refresh_all()


def test_a_backfill_stores_what_the_audit_modules_judge_for_every_kind(chains, tunnel, story):
    hemi, btc, good = story()
    unbacked = tunnel.mint(hemi[14], h32("no such deposit"))
    young = tunnel.deposit(btc[115], label="young")

    backfill()

    assert MintVerdict.objects.get(pk=good.pk).verdict == VERIFIED
    failed = MintVerdict.objects.get(pk=unbacked.pk)
    assert failed.verdict == FAILED and failed.reason.startswith("Bitcoin lock: unbacked mint")
    assert failed.bitcoin_height == 115 and failed.hemi_number is None  # no Hemi cursor in this data set
    assert DepositVerdict.objects.get(pk=young.pk).stage == "confirming"
    assert BlockVerdict.objects.count() == 31
    assert assert_stored_agrees_with_live() > 30
    assert not work.open_items([CHAIN_CHANGED]).exists()


def test_withdrawals_are_stored_with_their_status_and_evidence(chains, tunnel, withdrawals):
    withdrawals.initiate(index=0)
    withdrawals.pay(index=0)
    withdrawals.finalize(index=0)
    withdrawals.initiate(index=1)
    withdrawals.initiate(index=2)
    withdrawals.challenge(index=2)
    backfill()
    stages = dict(WithdrawalVerdict.objects.values_list("withdrawal__uuid", "stage"))
    assert stages == {0: "finalized", 1: "pending", 2: "challenged"}
    assert WithdrawalVerdict.objects.get(withdrawal__uuid=0).evidence["payout_height"] == 103
    assert assert_stored_agrees_with_live()
    # A payout appearing later in a new Bitcoin block re-judges the challenged withdrawal.
    withdrawals.pay(index=2, height=108)
    verdict_store.refresh({"chain": "bitcoin", "from_height": 108, "height": 110})
    assert WithdrawalVerdict.objects.get(withdrawal__uuid=2).reason.startswith("paid on Bitcoin AND challenged")


def test_the_migration_records_a_backfill_only_on_a_database_with_indexed_rows(chains):
    from django.apps import apps

    backfill_migration = __import__("explorer.migrations.0001_stored_verdicts", fromlist=["record_backfill"])
    backfill_migration.record_backfill(apps, None)
    assert not WorkItem.objects.filter(kind=CHAIN_CHANGED).exists()
    chains.hemi_chain(2)
    backfill_migration.record_backfill(apps, None)
    (item,) = WorkItem.objects.filter(kind=CHAIN_CHANGED)
    assert item.payload["sweep"] == "backfill" and item.state == WorkItem.PENDING


def test_every_cursor_move_records_the_lowest_changed_height():
    chain_cursor.advance("bitcoin", None, (100, h32("b100")))
    chain_cursor.advance("bitcoin", (100, h32("b100")), (103, h32("b103")))
    assert not chain_cursor.advance("bitcoin", (100, h32("b100")), (104, h32("b104")))  # lost the CAS
    chain_cursor.advance("bitcoin", (103, h32("b103")), (101, h32("b101")))  # a reorg's rewind
    chain_cursor.reset("bitcoin", (101, h32("other-101")))
    payloads = [i.payload for i in WorkItem.objects.filter(kind=CHAIN_CHANGED).order_by("id")]
    assert [(p["from_height"], p["height"]) for p in payloads] == [(100, 100), (101, 103), (102, 101), (101, 101)]


def _judged(monkeypatch) -> dict[str, set]:
    seen: dict[str, set] = {k: set() for k in verdict_store.KINDS}
    real = verdict_store.store

    def spy(kind, ids, **kw):
        ids = set(ids)
        seen[kind] |= ids
        return real(kind, ids, **kw)

    monkeypatch.setattr(verdict_store, "store", spy)
    return seen


def test_a_new_bitcoin_block_rejudges_only_unsettled_rows(chains, tunnel, story, monkeypatch):
    hemi, btc, good = story()
    settled_mints = [tunnel.mint(hemi[1 + i], tunnel.deposit(btc[101], label=f"s{i}").transaction.txid_internal)
                     for i in range(8)]  # fmt: skip
    backfill()
    assert MintVerdict.objects.filter(settled=False).count() == 0  # superfinal and judged: settled
    young = tunnel.deposit(btc[115], label="young")
    backfill()
    assert not DepositVerdict.objects.get(pk=young.pk).settled

    chain_cursor.advance("bitcoin", None, (115, bytes(btc[115].hash_internal)))
    verdict_store.refresh_all()
    judged = _judged(monkeypatch)
    new = chains.btc_chain(116, start=116)[116]  # one new block on top (an unlinked row is enough here)
    chain_cursor.advance("bitcoin", (115, bytes(btc[115].hash_internal)), (116, bytes(new.hash_internal)))
    verdict_store.refresh_all()

    assert judged["deposit"] == {young.pk}  # the young deposit only: everything else is settled
    assert judged["mint"].isdisjoint({m.pk for m in settled_mints} | {good.pk})
    assert not judged["withdrawal"]


def test_duplicate_delivery_of_a_change_judges_the_same_rows_to_the_same_verdicts(chains, tunnel, story):
    hemi, _btc, _ = story()
    tunnel.mint(hemi[14], h32("missing"))
    backfill()
    before = list(MintVerdict.objects.order_by("pk").values_list("pk", "verdict", "stage", "reason"))
    payload = {"chain": "hemi", "from_height": 0, "height": 30}
    verdict_store.refresh(payload)
    verdict_store.refresh(payload)  # the same change delivered twice
    assert list(MintVerdict.objects.order_by("pk").values_list("pk", "verdict", "stage", "reason")) == before


def test_a_bitcoin_reorg_below_a_deposit_flips_its_mint_without_a_page_view(chains, tunnel, story):
    _hemi, btc, mint = story()
    backfill()
    assert MintVerdict.objects.get(pk=mint.pk).verdict == VERIFIED
    # The deposit's block (101) is orphaned: the indexer marks it (dropping first publications
    # that pointed into the orphaned blocks) and rewinds its cursor.
    chains.btc.BitcoinBlock.objects.filter(height__gte=101).update(in_active_chain=False)
    chains.btc.KeystoneFirstPublication.objects.all().delete()
    chain_cursor.advance("bitcoin", None, (115, bytes(btc[115].hash_internal)))
    chain_cursor.advance("bitcoin", (115, bytes(btc[115].hash_internal)), (100, bytes(btc[100].hash_internal)))
    verdict_store.refresh_all()
    stored = MintVerdict.objects.get(pk=mint.pk)
    assert stored.verdict == FAILED and "orphaned" in stored.reason
    assert stored.bitcoin_height == 100
    assert assert_stored_agrees_with_live()


def test_a_vault_rescan_change_rejudges_the_vaults_unbacked_mints(chains, tunnel, story):
    from indexer.bitcoin.vaults import record_vault_change

    hemi, btc, _ = story()
    late = tunnel.mint(hemi[14], h32("found-late"))
    backfill()
    assert MintVerdict.objects.get(pk=late.pk).verdict == FAILED
    tx = tunnel.deposit(btc[102], label="found-late")  # what a rescan of block 102 would find
    assert bytes(tx.transaction.txid_internal) == h32("found-late")
    record_vault_change(tunnel.VAULT)
    verdict_store.refresh_all()
    assert (
        MintVerdict.objects.get(pk=late.pk).reason != ""
        and "unbacked" not in MintVerdict.objects.get(pk=late.pk).reason
    )
    assert assert_stored_agrees_with_live()


def test_an_unjudged_row_reads_pending_and_is_left_out_of_verdict_filters(chains, tunnel, story):
    story()
    page = verdicts.mints(verdicts.PageRequest(verdicts.MINTS, None, 25))
    assert verdicts.verdict_of(page.items[0]).verdict == PENDING
    assert verdicts.verdict_of(page.items[0]).reason == verdicts.NOT_JUDGED
    assert not verdicts.mints(verdicts.PageRequest(verdicts.MINTS, None, 25), verdicts.Filter(PENDING)).items


def _mints_with(tunnel, hemi, btc, n: int, *, backed: bool) -> list:
    out = []
    for i in range(n):
        txid = tunnel.deposit(btc[101], label=f"m{backed}{i}").transaction.txid_internal if backed else h32(f"x{i}")
        out.append(tunnel.mint(hemi[1 + i % 20], txid))
    return out


def test_api_lists_filter_by_verdict_and_stage_newest_first(client, chains, tunnel, story):
    hemi, btc, good = story()
    bad = _mints_with(tunnel, hemi, btc, 3, backed=False)
    backfill()
    body = client.get("/api/v1/tunnel/mints?verdict=failed").json()
    assert [i["transaction_hash"] for i in body["items"]] == ["0x" + bytes(m.transaction.hash).hex() for m in bad[::-1]]
    assert all(i["verdict"] == "failed" and i["reason"].startswith("Bitcoin lock") for i in body["items"])
    verified = client.get("/api/v1/tunnel/mints?verdict=verified").json()["items"]
    assert [i["transaction_hash"] for i in verified] == ["0x" + bytes(good.transaction.hash).hex()]
    assert verified[0]["computed_at"]["bitcoin_height"] == 115
    assert client.get("/api/v1/tunnel/mints?stage=superfinal").json()["items"]
    assert client.get("/api/v1/tunnel/deposits?verdict=verified&stage=minted").json()["items"]
    assert client.get("/api/v1/tunnel/withdrawals?verdict=pending").json()["items"] == []
    for bad_query in ("verdict=ok", "stage=minted"):
        r = client.get("/api/v1/tunnel/mints?" + bad_query)
        assert r.status_code == 400 and r.json()["error"].startswith(bad_query.split("=")[0])


def _walk(client, url: str, row_pattern: str, param: str = "cursor") -> tuple[list[str], int]:
    rows, pages, link = [], 0, url
    while link:
        html = client.get(link).content.decode()
        assert "<html" in html
        rows += re.findall(row_pattern, html)
        pages += 1
        nxt = re.search(rf'rel="next" href="([^"#]*[?&]{param}=[^"#]+)', html)
        link = nxt.group(1).replace("&amp;", "&") if nxt else None
    return rows, pages


@pytest.mark.parametrize(
    ("path", "param"),
    [
        ("/tunnel", "cursor"),
        ("/token/0x" + "aa" * 20, "mints_cursor"),
        ("/address/0x" + "c0" * 20, "mints_cursor"),
        ("/provenance/address/0x" + "c0" * 20, "cursor"),
    ],
)
def test_pages_list_every_mint_with_stored_verdicts_in_bounded_queries(
    client, chains, tunnel, story, path, param, django_assert_max_num_queries
):
    hemi, btc, _ = story()
    mints = _mints_with(tunnel, hemi, btc, 60, backed=True) + _mints_with(tunnel, hemi, btc, 10, backed=False)
    backfill()
    with django_assert_max_num_queries(40):  # the same at any page size: no per-row verdict work
        first = client.get(path)
    assert first.status_code == 200
    rows, pages = _walk(client, path, r'href="/provenance/mint/(0x[0-9a-f]{64})"', param)
    expected = ["0x" + bytes(m.transaction.hash).hex() for m in sorted([*mints, _], key=lambda m: -m.pk)]
    assert pages >= 3 and rows == expected  # every mint, once, newest first: no row cap


def test_a_page_costs_the_same_queries_at_two_table_sizes(client, chains, tunnel, story):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    hemi, btc, _ = story()
    _mints_with(tunnel, hemi, btc, 30, backed=True)
    backfill()
    urls = [
        "/",
        "/tunnel",
        "/tunnel?verdict=verified",
        "/provenance/address/0x" + "c0" * 20 + "?verdict=failed",
        "/token/0x" + "aa" * 20,
        "/address/0x" + "c0" * 20,
        "/api/v1/tunnel/mints?limit=100",
        "/api/v1/tunnel/deposits?limit=100",
        "/api/v1/tunnel/withdrawals?verdict=failed",
    ]

    def count(url):
        with CaptureQueriesContext(connection) as q:
            assert client.get(url).status_code == 200
        return len(q)

    small = {u: count(u) for u in urls}
    _mints_with(tunnel, hemi, btc, 120, backed=False)
    backfill()
    assert {u: count(u) for u in urls} == small
    assert all(n <= 30 for n in small.values()), small


def test_a_row_waiting_only_for_bitcoin_blocks_is_skipped_by_hemi_changes(chains, tunnel, story, monkeypatch):
    _hemi, _btc, mint = story(btc_tip=110)  # published at 105: 5 confirmations, not superfinal yet
    backfill()
    stored = MintVerdict.objects.get(pk=mint.pk)
    assert (stored.verdict, stored.stage, stored.settled, stored.waiting_for_bitcoin) == (
        PENDING,
        "confirming",
        False,
        True,
    )
    judged = _judged(monkeypatch)
    verdict_store.refresh({"chain": "hemi", "from_height": 31, "height": 31})
    assert mint.pk not in judged["mint"]
    verdict_store.refresh({"chain": "bitcoin", "from_height": 111, "height": 111})
    assert mint.pk in judged["mint"]


def test_the_mint_page_says_where_its_live_verdict_and_the_stored_one_were_computed(client, chains, tunnel, story):
    _hemi, _btc, mint = story()
    tx = "0x" + bytes(mint.transaction.hash).hex()
    html = client.get(f"/provenance/mint/{tx}").content.decode()
    assert "Computed live at Bitcoin tip 115" in html and "Not stored yet" in html
    backfill()
    html = client.get(f"/provenance/mint/{tx}").content.decode()
    assert 'Lists show the stored verdict <strong class="verdict-verified">verified</strong>' in html
    assert "computed at Bitcoin tip 115" in html


def test_a_backlog_of_chain_changes_is_handled_in_one_run(chains, tunnel, story, monkeypatch):
    _hemi, btc, _ = story()
    backfill()
    for height in range(100, 116):  # sixteen cursor moves waiting (a worker that was down)
        previous = chain_cursor.position("bitcoin")
        chain_cursor.advance("bitcoin", previous, (height, bytes(btc[height].hash_internal)))
    runs = []
    real = verdict_store.refresh
    monkeypatch.setattr(verdict_store, "refresh", lambda payload, **kw: runs.append(payload) or real(payload, **kw))
    result = verdict_store.refresh_all()
    assert len(runs) == 1 and result.done == 1
    assert not work.open_items([CHAIN_CHANGED]).exists()  # the coalesced items are done too


def test_a_block_stored_with_an_integrity_flag_makes_its_mint_pending(chains, tunnel, story):
    hemi, _btc, mint = story()
    backfill()
    assert MintVerdict.objects.get(pk=mint.pk).verdict == VERIFIED
    # The Hemi ingest writes a block's flags with the block, in the transaction that moves
    # the cursor onto it (here: the block re-indexed after a reorg, with a failed re-hash).
    chains.hemi.BlockIntegrityIssue.objects.create(
        block=hemi[12], check_name="receiptsRoot", expected="0x01", found="0x02"
    )
    chain_cursor.advance("hemi", None, (30, bytes(hemi[30].hash)))
    chain_cursor.advance("hemi", (30, bytes(hemi[30].hash)), (11, bytes(hemi[11].hash)))
    verdict_store.refresh_all()
    stored = MintVerdict.objects.get(pk=mint.pk)
    assert stored.verdict == PENDING and "integrity" in stored.reason
    assert BlockVerdict.objects.get(block=hemi[12]).verdict == PENDING
    assert assert_stored_agrees_with_live()


def test_the_tunnel_pages_deposit_and_withdrawal_lists_filter_by_their_own_verdict(
    client, chains, tunnel, withdrawals, django_assert_max_num_queries
):
    withdrawals.initiate(index=0)
    withdrawals.pay(index=0)
    withdrawals.finalize(index=0)
    withdrawals.initiate(index=1)
    backfill()

    def uuids(query: str) -> list[int]:
        with django_assert_max_num_queries(40):
            response = client.get("/tunnel" + query)
        assert response.status_code == 200
        section = response.content.decode().split('id="withdrawals"', 1)[1]
        return [int(u) for u in re.findall(r"<td>(\d+)</td>", section)]

    assert uuids("") == [1, 0]  # newest first
    assert uuids("?withdrawals_verdict=verified") == [0]
    assert uuids("?withdrawals_verdict=pending") == [1]
    assert uuids("?withdrawals_stage=finalized") == [0]
    assert uuids("?withdrawals_verdict=failed") == []
    # The deposit filter is the deposits list's own: it leaves the withdrawals alone.
    assert uuids("?deposits_verdict=failed") == [1, 0]
    for bad in ("withdrawals_verdict=ok", "deposits_stage=paid"):
        response = client.get("/tunnel?" + bad)
        assert response.status_code == 400 and bad.split("=")[0] in response.content.decode()

    # Past one page, the pager keeps the list's own filter.
    for index in range(2, 32):
        withdrawals.initiate(index=index)
    backfill()
    rows, pages = _walk(client, "/tunnel?withdrawals_verdict=pending", r"<td>(\d+)</td>", "withdrawals_cursor")
    assert pages == 2 and [int(u) for u in rows] == list(range(31, 0, -1))  # uuid 0 is verified: left out


def test_the_sweeps_batched_block_links_are_the_per_block_rule(chains, django_assert_max_num_queries):
    """The sweep judges every block through ``hemi_block_links`` (two queries a batch); each link
    must be exactly what ``hemi_block_link`` says for that block, on every branch of the rule:
    linked, flagged, orphaned, a broken parent link and a gap before the keystone."""
    from explorer import provenance

    hemi = chains.hemi_chain(70)
    chains.hemi.BlockIntegrityIssue.objects.create(block=hemi[45], check_name="receiptsRoot", expected="0x", found="0x")
    chains.hemi.BlockIntegrityIssue.objects.create(block=hemi[45], check_name="stateRoot", expected="0x", found="0x")
    chains.hemi.Block.objects.filter(pk=hemi[7].pk).update(canonical=False)  # orphaned: period 1 has a gap
    chains.hemi.Block.objects.filter(pk=hemi[33].pk).update(parent_hash=h32("elsewhere"))  # broken link
    chains.hemi.Block.objects.filter(number__gt=60).delete()  # the last period waits for its keystone
    blocks = list(chains.hemi.Block.objects.order_by("number"))

    per_block = [provenance.hemi_block_link(b) for b in blocks]
    with django_assert_max_num_queries(2):
        batched = provenance.hemi_block_links(blocks)

    assert batched == per_block
    verdicts = {link.evidence["number"]: [c.verdict for c in link.checks] for link in batched}
    assert verdicts[45] == [PENDING, VERIFIED, VERIFIED]  # flagged, canonical, linked to keystone 50
    assert "receiptsRoot, stateRoot" in batched[45].checks[0].detail
    assert verdicts[7] == [FAILED, PENDING]  # orphaned, and its period lost a canonical block
    assert verdicts[30] == [VERIFIED, FAILED]  # 33's parent does not link back to 32
    assert verdicts[40] == [VERIFIED, VERIFIED]
    assert verdicts[60] == [VERIFIED, PENDING]  # keystone 75 not indexed yet
