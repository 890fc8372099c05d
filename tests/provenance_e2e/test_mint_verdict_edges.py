"""Verdict edges of issue 12 on a real devnet treasury lock (indexed with ``manage.py sync``):

* item 3 - the mint's Hemi block cannot be re-hashed (a proxy in front of anvil changes one
  receipt of the mint block): strict verification stops ``sync`` at that block with a named
  error; lenient verification stores it flagged, indexing goes on, and the mint reads
  "pending (integrity ...)", never verified or failed;
* a deposit below ``BITCOIN_START_HEIGHT`` used to read "unbacked": a Bitcoin height this index
  never scanned cannot support a failed verdict - it is "pending (not indexed ...)";
* a work item that failed permanently stayed failed for good: ``sync --retry-failed`` re-arms it.
"""

from __future__ import annotations

import dataclasses
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from devnet.scenarios import treasury_lock
from explorer import evidence, provenance
from explorer.verdicts import PENDING, VERIFIED
from hemiscope import networks
from indexer.bitcoin.chain import VAULT_RESCAN
from indexer.crosschain import handlers
from indexer.hemi.models import Block, BlockIntegrityIssue
from indexer.models import ChainCursor, WorkItem
from tests.hemi_ingest.tamper import TamperingProxy, off_by_one_cumulative_gas

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def story(devnet) -> dict:
    return treasury_lock.run(devnet.net)


def judge(devnet, story: dict) -> provenance.Provenance:
    mint = provenance.mints_in_transaction(bytes.fromhex(story["mint_tx_hash"][2:])).first()
    assert mint is not None, "the mint was not indexed"
    return provenance.for_mint(mint, hemibtc=bytes.fromhex(devnet.net.contracts["BTCToken"][2:]))


def no_evidence(story: dict, match: str) -> None:
    mint = provenance.mints_in_transaction(bytes.fromhex(story["mint_tx_hash"][2:])).first()
    with pytest.raises(evidence.EvidenceUnavailable, match=match):
        evidence.build_bundle(mint)


def test_a_mint_block_that_cannot_be_rehashed_stops_strict_sync_and_reads_pending_integrity(
    devnet, story, monkeypatch, client
) -> None:
    number = story["mint_block_number"]
    index = devnet.net.w3.eth.get_transaction_receipt(story["mint_tx_hash"])["transactionIndex"]
    with TamperingProxy(devnet.hemi_rpc_url, off_by_one_cumulative_gas(number, index)) as proxy:
        monkeypatch.setenv("HEMI_RPC_URL", proxy.url)
        with pytest.raises(CommandError, match=f"BlockRejected: hemi block {number}: rebuilt receiptsRoot"):
            call_command("sync")
        assert ChainCursor.objects.get(chain="hemi").height == number - 1

        monkeypatch.setenv("HEMI_VERIFY_STRICT", "false")
        call_command("sync")
    assert ChainCursor.objects.get(chain="hemi").height > number  # indexing went on
    assert list(BlockIntegrityIssue.objects.values_list("block__number", "check_name")) == [(number, "receiptsRoot")]

    p = judge(devnet, story)
    assert p.verdict == PENDING
    lock, sequencer, hemi_block, _anchoring = p.links
    for link in (lock, sequencer, hemi_block):
        assert link.verdict == PENDING, (link.name, link.reason)
        assert link.reason.startswith(f"pending (integrity: Hemi block {number}"), link.reason
    no_evidence(story, "integrity")
    page = client.get(f"/provenance/mint/{story['mint_tx_hash']}").content.decode()
    assert "pending (integrity: Hemi block" in page
    assert "Integrity" in client.get(f"/tx/{story['mint_tx_hash']}").content.decode()
    # The other blocks verified as usual.
    assert Block.objects.filter(canonical=True).count() == ChainCursor.objects.get(chain="hemi").height + 1


def test_a_deposit_below_bitcoin_start_height_is_pending_not_indexed_never_unbacked(devnet, story, monkeypatch) -> None:
    start = story["deposit_height"] + 1
    monkeypatch.setenv("BITCOIN_START_HEIGHT", str(start))
    call_command("sync")
    lock = judge(devnet, story).links[0]
    assert lock.verdict == PENDING, lock.reason
    assert lock.reason.startswith("pending (not indexed:"), lock.reason
    assert f"below the first height this index scanned ({start}, BITCOIN_START_HEIGHT)" in lock.reason
    assert judge(devnet, story).verdict == PENDING
    no_evidence(story, "not indexed")


def test_sync_retry_failed_rearms_a_work_item_that_failed_permanently(devnet, story) -> None:
    call_command("btc_sync")
    call_command("hemi_sync", "--no-progress")
    # The rescan runs once against the node with a wrong API key: HTTP 401, a permanent failure.
    network = networks.current()
    parts = urlsplit(network.bitcoin_rpc_url)
    bad = urlunsplit(parts._replace(netloc=f"x:wrong-key@{parts.hostname}:{parts.port}"))
    with handlers.Context(dataclasses.replace(network, bitcoin_rpc_url=bad)) as ctx:
        handlers.drain(ctx, kinds=handlers.BITCOIN_KINDS)
    rescan = WorkItem.objects.get(kind=VAULT_RESCAN)
    assert rescan.state == WorkItem.FAILED and "AccessDenied" in rescan.last_error

    with pytest.raises(CommandError, match=r"failed: bitcoin\.vault_rescan"):
        call_command("sync")  # a failed item is not retried by itself ...
    lock = judge(devnet, story).links[0]
    assert lock.verdict == PENDING and "failed after 1 attempts" in lock.reason, lock.reason

    call_command("sync", "--retry-failed")  # ... until an operator says so
    assert [(link.name, link.verdict) for link in judge(devnet, story).links] == [
        ("Bitcoin lock", VERIFIED),
        ("Sequencer ordering", VERIFIED),
        ("Hemi block", VERIFIED),
        ("Bitcoin anchoring", VERIFIED),
    ]
    assert not WorkItem.objects.exclude(state=WorkItem.DONE).exists()
