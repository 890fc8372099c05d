"""Issue 12, item 3: a Hemi block the decoder cannot re-hash, with ``HEMI_VERIFY_STRICT`` on and off.

The node here is a real anvil behind a proxy that changes one receipt's ``cumulativeGasUsed``
by one in one block - as if our receipt encoding differed from the chain's: every hash checks
out, but the receipt trie no longer rebuilds to the header's ``receiptsRoot``.

* strict (the devnet's and the tests' default): the follower stops at that block with a named
  error (``BlockRejected``), stores everything before it, and raises an alert;
* lenient (testnet's and mainnet's default): the block is stored flagged - which check failed,
  what was expected and found - its pages, the home page and ``/healthz`` say so, and
  indexing goes on past it.
"""

from __future__ import annotations

import dataclasses

import pytest
from django.core.exceptions import ImproperlyConfigured

from explorer.queries import blocks as block_queries
from hemiscope import networks
from indexer.core import alerts
from indexer.hemi import ingest, sync
from indexer.hemi.models import Block, BlockIntegrityIssue, Transaction
from indexer.hemi.rpc import HemiRpc
from indexer.hemi.verify import BlockRejected, prepare_block
from indexer.models import ChainCursor

from .conftest import DevChain
from .tamper import TamperingProxy, off_by_one_cumulative_gas

pytestmark = [pytest.mark.integration, pytest.mark.django_db]
STRICT = ingest.IngestConfig(tunnel_manager=None, accept_impersonated=True)
LENIENT = dataclasses.replace(STRICT, verify_strict=False)


@pytest.fixture(scope="module")
def story(chain: DevChain) -> dict:
    """Blocks up to tip; block ``flagged`` holds two token transfers (the second receipt is tampered)."""
    a = chain.accounts
    usd = chain.deploy("DevnetUSD", 10**12)
    token = chain.contract("DevnetUSD", usd)
    chain.mine_empty(2)
    chain.mine([chain.call_tx(token, "transfer", a[4], 5_000), chain.call_tx(token, "transfer", a[5], 7_000)])
    flagged = chain.tip()
    tx_hashes = list(chain.last_hashes)
    chain.mine_empty(3)
    return {"flagged": flagged, "tx_hashes": tx_hashes, "tip": chain.tip()}


def test_strict_verification_rejects_the_block_and_lenient_flags_what_failed(chain: DevChain, story) -> None:
    number = story["flagged"]
    block = chain.rpc.block_by_number(number)
    receipts = chain.rpc.block_receipts([number])[0]
    off_by_one_cumulative_gas(number, 1)("eth_getBlockReceipts", [hex(number)], receipts)
    with pytest.raises(BlockRejected, match="receiptsRoot") as refused:
        prepare_block(block, receipts, accept_impersonated=True)
    assert refused.value.code == "block-rejected"

    prepared = prepare_block(block, receipts, accept_impersonated=True, strict=False)
    (issue,) = prepared.integrity
    assert issue.check == "receiptsRoot"
    assert issue.expected == block["receiptsRoot"]
    assert issue.found.startswith("0x") and issue.found != issue.expected

    # A transaction we re-encode differently: its hash and the transaction trie both fail.
    block["transactions"][2]["gas"] = hex(int(block["transactions"][2]["gas"], 16) + 1)
    prepared = prepare_block(block, receipts, accept_impersonated=True, strict=False)
    checks = [(i.check, i.tx_index) for i in prepared.integrity]
    assert checks == [("transaction hash", 2), ("transactionsRoot", None), ("receiptsRoot", None)]
    assert prepared.integrity[0].expected == block["transactions"][2]["hash"]


def test_the_strict_follower_stops_at_the_block_with_a_named_error(chain: DevChain, story) -> None:
    number = story["flagged"]
    with TamperingProxy(chain.url, off_by_one_cumulative_gas(number, 1)) as proxy, HemiRpc(proxy.url) as rpc:
        with pytest.raises(BlockRejected, match=f"hemi block {number}: rebuilt receiptsRoot"):
            sync.follow_tip(rpc, network=chain.network(), config=STRICT)
        with pytest.raises(BlockRejected):  # the next run again: it never skips the block
            sync.follow_tip(rpc, network=chain.network(), config=STRICT)
    assert ChainCursor.objects.get(chain="hemi").height == number - 1
    assert not Block.objects.filter(number__gte=number).exists()
    (alert,) = alerts.active()
    assert (alert.chain, alert.code) == ("hemi", "block-rejected")
    assert "HEMI_VERIFY_STRICT" in alert.message


def test_the_lenient_follower_stores_the_block_flagged_and_goes_on(chain: DevChain, story, client) -> None:
    number = story["flagged"]
    with TamperingProxy(chain.url, off_by_one_cumulative_gas(number, 1)) as proxy, HemiRpc(proxy.url) as rpc:
        state = sync.follow_tip(rpc, network=chain.network(verify_strict=False), config=LENIENT)
    assert state.current == story["tip"]  # indexing went on past the block
    assert ChainCursor.objects.get(chain="hemi").height == story["tip"]
    flagged = Block.objects.get(number=number)
    (issue,) = BlockIntegrityIssue.objects.filter(block=flagged)
    header_root = "0x" + bytes(flagged.receipts_root).hex()
    assert (issue.check_name, issue.expected) == ("receiptsRoot", header_root)
    assert issue.found != header_root
    assert BlockIntegrityIssue.objects.count() == 1  # no other block flagged
    assert Transaction.objects.filter(block=flagged).count() == 3  # its rows are all there

    # The read layer the pages and the API use.
    assert [i.check_name for i in block_queries.integrity_issues(flagged)] == ["receiptsRoot"]
    summary = block_queries.integrity_summary()
    assert summary.count == 1 and [b.number for b in summary.latest] == [number]
    assert block_queries.integrity_issues(Block.objects.get(number=number - 1)) == []

    # The block page, the pages of its transactions, the home page and /healthz say so.
    page = client.get(f"/block/{number}").content.decode()
    assert "Integrity" in page and "receiptsRoot" in page and header_root in page and issue.found in page
    assert "Integrity" not in client.get(f"/block/{number - 1}").content.decode()
    tx_page = client.get(f"/tx/{story['tx_hashes'][0]}").content.decode()
    assert "Integrity" in tx_page and f"block {number}" in tx_page
    assert "1 Hemi block stored without verifying" in client.get("/").content.decode()
    health = client.get("/healthz")
    assert health.status_code == 200
    body = health.json()
    assert body["status"] == "warning"
    # Other warnings (lag against a node tip recorded by an earlier test) may sit beside it.
    assert "hemi-integrity" in [w["code"] for w in body["warnings"]]
    # The REST API: the block's failed checks, and the status endpoint's alerts.
    api_block = client.get(f"/api/v1/blocks/{number}").json()
    assert api_block["integrity"] == [
        {"check": "receiptsRoot", "expected": header_root, "found": issue.found, "transaction_index": None}
    ]
    assert client.get(f"/api/v1/blocks/{number - 1}").json()["integrity"] == []
    assert [a["code"] for a in client.get("/api/v1/status").json()["alerts"]] == ["hemi-integrity"]


def test_hemi_verify_strict_defaults_per_network_and_reads_the_environment(monkeypatch, settings) -> None:
    base = settings.BASE_DIR
    assert networks.resolve("devnet", base).verify_strict is True
    assert networks.resolve("testnet", base).verify_strict is False
    assert networks.resolve("mainnet", base).verify_strict is False
    monkeypatch.setenv("HEMI_VERIFY_STRICT", "true")
    assert networks.resolve("mainnet", base).verify_strict is True
    assert ingest.IngestConfig.from_network(networks.resolve("mainnet", base)).verify_strict is True
    monkeypatch.setenv("HEMI_VERIFY_STRICT", "sometimes")
    with pytest.raises(ImproperlyConfigured, match="HEMI_VERIFY_STRICT"):
        networks.resolve("devnet", base)
