"""Mints judged together (``provenance.for_mints``: the stored-verdict sweep and reports) get
exactly the links and finality each gets judged alone, in a number of queries that does not grow
with the list; blocks judged together likewise (``verdict_store.judge_blocks``).

One chain holds mints that take every branch of the rules side by side, sharing rows where a
batch could mix them up: two mints in one Hemi block, two deposits in one Bitcoin block relayed
once (the relay lies after one mint and before the other), a deposit credited twice, an unknown
deposit, a block stored unverified, too few hVM confirmations, a wrong minted amount, another
vault, and mints in periods anchored, anchored by a descendant, and not produced yet.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from explorer import provenance, verdict_store
from explorer.at import At
from explorer.verdicts import FAILED, PENDING, VERIFIED
from tests.explorer.conftest import h32


@pytest.fixture
def mixed(chains, tunnel):
    hemi = chains.hemi_chain(60)
    btc = chains.btc_chain(125, start=100)
    heights = {"a": 101, "b": 103, "c": 102, "d": 106, "e": 106, "twice": 101, "vault": 102, "f": 101, "g": 107}
    deposit = {name: tunnel.deposit(btc[height], label=name) for name, height in heights.items()}
    txid = {name: d.transaction.txid_internal for name, d in deposit.items()}
    tunnel.relay(hemi[10], [btc[h] for h in range(100, 105)], tip=btc[104])
    tunnel.relay(hemi[30], [btc[h] for h in range(105, 111)], tip=btc[110])
    mints = {
        "verified": tunnel.mint(hemi[12], txid["a"]),
        "two confirmations": tunnel.mint(hemi[13], txid["b"]),
        "wrong amount": tunnel.mint(hemi[12], txid["c"], minted=1),
        "relayed after the mint": tunnel.mint(hemi[27], txid["d"]),
        "relayed before the mint": tunnel.mint(hemi[33], txid["e"]),
        "credited twice (1)": tunnel.mint(hemi[14], txid["twice"]),
        "credited twice (2)": tunnel.mint(hemi[15], txid["twice"]),
        "another vault": tunnel.mint(hemi[16], txid["vault"], vault=b"\x0b" * 20),
        "unknown deposit": tunnel.mint(hemi[17], h32("never deposited")),
        "unverified block": tunnel.mint(hemi[20], txid["f"]),
        "keystone 75 not produced": tunnel.mint(hemi[55], txid["g"]),
    }
    chains.hemi.BlockIntegrityIssue.objects.create(block=hemi[20], check_name="stateRoot", expected="0x", found="0x")
    chains.publish(btc[105], chains.keystone_of(hemi[25]).abbreviate())  # anchors 1..25
    chains.publish(btc[118], chains.keystone_of(hemi[50]).abbreviate())  # anchors 26..50, 8 confirmations
    return mints


def reloaded(mints):
    """Fresh rows, as the sweep and reports load them (nothing cached on the instances)."""
    from indexer.hemi.models import DepositConfirmation

    rows = DepositConfirmation.objects.select_related("transaction", "block", "log").in_bulk([m.pk for m in mints])
    return [rows[m.pk] for m in mints]


@pytest.mark.parametrize("at", [None, At(btc_height=118, hemi_block=40), At(btc_height=104, hemi_block=20)])
def test_a_batch_judges_every_mint_as_it_is_judged_alone(mixed, tunnel, at):
    mints = [m for m in mixed.values() if at is None or m.block.number <= at.hemi_block]
    batch = provenance.for_mints(reloaded(mints), hemibtc=tunnel.HEMIBTC, at=at)
    alone = [provenance.for_mints(reloaded([m]), hemibtc=tunnel.HEMIBTC, at=at)[0] for m in mints]
    assert batch == alone
    # ... and the single-mint page path reads the same links and finality.
    for p, m in zip(batch, mints, strict=True):
        page = provenance.for_mint(reloaded([m])[0], hemibtc=tunnel.HEMIBTC, at=at)
        assert (page.links, page.finality) == (p.links, p.finality)
        assert page.timeline  # the page path adds what the batch leaves out
    if at is None:
        verdicts = {name: p.verdict for name, p in zip(mixed, batch, strict=True)}
        assert verdicts == {
            "verified": VERIFIED,
            "two confirmations": FAILED,
            "wrong amount": FAILED,
            "relayed after the mint": FAILED,
            "relayed before the mint": PENDING,  # backed (5 hVM confirmations); keystone 50 has 8 of 10
            "credited twice (1)": FAILED,
            "credited twice (2)": FAILED,
            "another vault": FAILED,
            "unknown deposit": PENDING,  # a deposit this index may not have scanned yet: a wait, not "unbacked"
            "unverified block": PENDING,
            "keystone 75 not produced": PENDING,  # backed, 4 hVM confirmations; its anchoring waits
        }
        reasons = {name: verdict_store.first_reason(p.links) for name, p in zip(mixed, batch, strict=True)}
        assert "never relayed into the hVM before the mint" in reasons["relayed after the mint"]
        sequencer = {name: p.links[1] for name, p in zip(mixed, batch, strict=True)}
        assert "never appeared in an hVM update" in sequencer["relayed after the mint"].checks[0].detail
        assert sequencer["relayed before the mint"].evidence["relayed_in_block"] == 30
        assert reasons["relayed before the mint"].startswith("Bitcoin anchoring: waiting for")
        assert "5 confirmations" in sequencer["relayed before the mint"].checks[1].detail
        assert "credited 2 times" in reasons["credited twice (2)"]
        assert reasons["unknown deposit"].startswith("Bitcoin lock: pending ("), reasons["unknown deposit"]
        assert reasons["wrong amount"].endswith("minted amount is wrong")
        assert reasons["another vault"].endswith("deposit pays another vault")
        stages = {name: p.finality.stage for name, p in zip(mixed, batch, strict=True)}
        assert stages["relayed after the mint"] != stages["verified"]  # 8 confirmations of keystone 50


def test_a_batch_costs_the_queries_of_one_mint(mixed, tunnel):
    """Every deposit found: the batch reads in as many queries as one mint (the rare mint whose
    deposit is missing asks why, on its own)."""
    found = [m for name, m in mixed.items() if name != "unknown deposit"]
    with CaptureQueriesContext(connection) as one:
        provenance.for_mints(reloaded(found[:1]), hemibtc=tunnel.HEMIBTC)
    with CaptureQueriesContext(connection) as many:
        provenance.for_mints(reloaded(found), hemibtc=tunnel.HEMIBTC)
    assert len(many) == len(one) <= 16


def test_the_sweep_judges_a_batch_of_blocks_in_as_many_queries_as_one(chains, tunnel, mixed):
    from indexer.hemi.models import Block

    blocks = list(Block.objects.defer("header_rlp").order_by("number"))
    with CaptureQueriesContext(connection) as one:
        first = verdict_store.judge_blocks(blocks[12:13])
    with CaptureQueriesContext(connection) as many:
        judged = verdict_store.judge_blocks(blocks)
    assert len(many) == len(one) <= 6
    assert judged[12] == first[0]
    for block, row in zip(blocks, judged, strict=True):
        live = provenance.for_block(block)
        assert (row["verdict"], row["stage"], row["reason"]) == (
            live.verdict,
            live.finality.stage,
            verdict_store.first_reason(live.links),
        ), block.number
