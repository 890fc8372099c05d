"""Issue 12, item 2 (Bitcoin side): never follow a node onto a chain with less work.

Restarting the devnet gives a new bcoin regtest chain: same genesis, fewer blocks. ``btc_sync``
used to walk back to the common genesis and follow the SHORTER chain, orphaning everything
above. Now a reorg is only undone when the node's branch above the fork carries at least as
much proof of work as ours (summed from the headers' bits, PoW checked); otherwise
``LessWorkChain`` is raised, an alert shows, and nothing is written. On an empty index the
node's genesis must be the configured network's.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from devnet.btc import extend_chain, mine
from devnet.btckeys import DevKey
from devnet.nodes import start_bcoin
from indexer.bitcoin.models import BitcoinBlock
from indexer.bitcoin.reorg import LessWorkChain
from indexer.bitcoin.rpc import RpcSource
from indexer.bitcoin.sync import follow_tip
from indexer.core import alerts
from indexer.core.errors import WrongChain
from indexer.models import ChainCursor

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

OTHER = DevKey.from_label("bitcoin-identity-restarted")
SIDE = DevKey.from_label("bitcoin-identity-side")


def stored_state() -> tuple:
    return (
        sorted(BitcoinBlock.objects.values_list("height", "hash_internal", "in_active_chain", "orphaned_at")),
        ChainCursor.objects.filter(chain="bitcoin").values_list("height", "block_hash").first(),
    )


def publish(url: str | None) -> None:
    path = Path(os.environ["DEVNET_STATE_FILE"])
    data = json.loads(path.read_text()) if path.exists() else {}
    data.pop("bitcoin_rpc_url", None)
    if url is not None:
        data["bitcoin_rpc_url"] = url
    path.write_text(json.dumps(data))


def test_btc_sync_refuses_a_restarted_devnet_node_with_a_shorter_chain(
    fresh_bcoin, node_root, miner, fast_retry, client
) -> None:
    rpc = fresh_bcoin.rpc()
    mine(rpc, 30, miner.p2pkh_address)
    with _src(fresh_bcoin, fast_retry) as source:
        assert follow_tip(source, bitcoin_network="regtest", start_height=0).cursor_height == 30
    rpc.close()
    before = stored_state()

    with start_bcoin("bitcoin-identity-restarted", root=node_root, memory=True, fresh=True) as restarted:
        other = restarted.rpc()
        mine(other, 12, OTHER.p2pkh_address)  # the same regtest genesis, 12 blocks of its own
        with _src(restarted, fast_retry) as source, pytest.raises(LessWorkChain, match="less work"):
            follow_tip(source, bitcoin_network="regtest")
        assert stored_state() == before
        assert not BitcoinBlock.objects.filter(in_active_chain=False).exists()
        (alert,) = alerts.active()
        assert (alert.chain, alert.code) == ("bitcoin", "less-work")
        body = client.get("/healthz").json()
        assert body["status"] == "warning" and any(w["code"] == "bitcoin-less-work" for w in body["warnings"])

        publish(restarted.bitcoin_rpc_url)
        try:
            with pytest.raises(CommandError, match="less work"):
                call_command("btc_sync")
        finally:
            publish(None)
        assert stored_state() == before
        other.close()


def test_a_node_that_rewound_to_a_shorter_branch_is_not_followed(fresh_bcoin, miner, fast_retry) -> None:
    rpc = fresh_bcoin.rpc()
    mine(rpc, 20, miner.p2pkh_address)
    with _src(fresh_bcoin, fast_retry) as source:
        follow_tip(source, bitcoin_network="regtest", start_height=0)
        before = stored_state()
        rpc.call("invalidateblock", rpc.getblockhash(16))  # bcoin deletes 16..20: its tip is 15
        assert rpc.getblockcount() == 15
        # A node merely behind us on our chain is waited for, not an alarm.
        assert follow_tip(source, bitcoin_network="regtest").rewinds == 0
        mine(rpc, 2, OTHER.p2pkh_address)  # its own 16 and 17: a shorter branch than our 16..20
        with pytest.raises(LessWorkChain):
            follow_tip(source, bitcoin_network="regtest")
        assert stored_state() == before

        # Once the node's branch has more work than ours, the reorg is followed and the alert clears.
        extend_chain(rpc, rpc.getbestblockhash(), 4, payout_script=SIDE.p2pkh_script)
        result = follow_tip(source, bitcoin_network="regtest")
        assert (result.rewinds, result.cursor_height) == (1, 21)
        assert alerts.active() == []
    rpc.close()


def test_a_node_of_another_network_is_refused_on_an_empty_index(bcoin, fast_retry) -> None:
    with _src(bcoin, fast_retry) as source, pytest.raises(WrongChain, match="testnet3 genesis"):
        follow_tip(source, bitcoin_network="testnet3", start_height=0)
    assert not BitcoinBlock.objects.exists()
    assert alerts.active()[0].code == "wrong-chain"


class _src:
    """An RpcSource for a node, closed on exit."""

    def __init__(self, node, retry) -> None:
        self.source = RpcSource(node.bitcoin_rpc_url, retry=retry)

    def __enter__(self) -> RpcSource:
        return self.source

    def __exit__(self, *exc: object) -> None:
        self.source.close()


@pytest.mark.django_db(transaction=True)
def test_a_refusal_in_the_worker_is_an_alert_and_a_task_result_not_a_task_failure(
    celery_worker_process, fresh_bcoin, node_root, miner
) -> None:
    from indexer.bitcoin import tasks

    rpc = fresh_bcoin.rpc()
    mine(rpc, 8, miner.p2pkh_address)
    rpc.close()
    publish(fresh_bcoin.bitcoin_rpc_url)
    try:
        assert tasks.follow_tip.delay().get(timeout=60)["cursor_height"] == 8
        with start_bcoin("bitcoin-identity-worker", root=node_root, memory=True, fresh=True) as restarted:
            other = restarted.rpc()
            mine(other, 3, OTHER.p2pkh_address)
            other.close()
            publish(restarted.bitcoin_rpc_url)
            result = tasks.follow_tip.delay().get(timeout=60)  # .get() would raise for a failed task
            assert result["refused"] == "less-work" and "less work" in result["error"]
            assert [(a.chain, a.code) for a in alerts.active()] == [("bitcoin", "less-work")]
            assert ChainCursor.objects.get(chain="bitcoin").height == 8
    finally:
        publish(None)
