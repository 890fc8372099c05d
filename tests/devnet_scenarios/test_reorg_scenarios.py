"""btc-reorg and hemi-reorg, checked on the nodes."""

from __future__ import annotations

import pytest

from devnet.scenarios import btc_reorg, hemi_reorg
from tests.devnet_scenarios.chain import (
    Stepped,
    assert_l1_info_opens_every_block,
    block_txids,
    raw_tx,
    rebuild_abrev,
    scripts,
)

pytestmark = pytest.mark.integration


def test_btc_reorg_orphans_blocks_holding_a_pop_publication_and_a_deposit(stepped: Stepped) -> None:
    summary = btc_reorg.run(stepped.net, depth=6)
    fork = summary["fork_height"]
    btc = stepped.btc

    assert len(summary["orphaned_blocks"]) == 6 and len(summary["side_chain_blocks"]) == 7
    assert btc.getblockhash(fork) == summary["fork_hash"]
    pairs = zip(summary["orphaned_blocks"], summary["side_chain_blocks"][:6], strict=True)
    for offset, (orphaned, side) in enumerate(pairs):
        assert btc.getblockhash(fork + 1 + offset) == side != orphaned
    # bcoin keeps orphaned blocks readable: they did carry the deposit and the publication
    orphaned_txids = {txid for block in summary["orphaned_blocks"] for txid in block_txids(btc, block)}
    assert {summary["deposit_txid"], summary["pop_txid"]} <= orphaned_txids
    side_txids = {txid for block in summary["side_chain_blocks"] for txid in block_txids(btc, block)}
    assert not {summary["deposit_txid"], summary["pop_txid"]} & side_txids

    hvm = stepped.net.contract("HvmState")
    assert hvm.functions.tip().call()[0][::-1].hex() == btc.getbestblockhash()
    assert hvm.functions.isCanonical(bytes.fromhex(summary["orphaned_blocks"][0])[::-1]).call() is False
    assert hvm.functions.isCanonical(bytes.fromhex(summary["side_chain_blocks"][0])[::-1]).call() is True


def test_hemi_reorg_replaces_30_blocks_and_the_keystone_between_them(stepped: Stepped) -> None:
    summary = hemi_reorg.run(stepped.net, depth=30)
    fork, old_tip, number = summary["fork_block"], summary["old_tip"], summary["keystone_number"]
    assert old_tip - fork >= 30 and fork < number <= old_tip

    assert stepped.block(fork, False)["hash"] == summary["fork_hash"]
    for replaced in summary["replaced_blocks"]:
        now = stepped.block(replaced["number"], False)["hash"]
        assert now == replaced["new_hash"] != replaced["old_hash"]
    assert [r["number"] for r in summary["replaced_blocks"]] == list(range(fork + 1, old_tip + 1))

    # both branches' keystone K went to Bitcoin; only branch B's matches anvil now
    old_pop = scripts(raw_tx(stepped.btc, summary["old_pop_txid"]))[1]  # [0] change, [1] OP_RETURN
    new_pop = scripts(raw_tx(stepped.btc, summary["new_pop_txid"]))[1]
    assert new_pop[7:] == rebuild_abrev(stepped, number) != old_pop[7:]
    assert summary["old_keystone_id"] != summary["new_keystone_id"]
    assert stepped.w3.eth.get_transaction_receipt(summary["marker_b_tx"])["status"] == 1
    assert summary["marker_a_on_new_chain"] is False

    assert_l1_info_opens_every_block(stepped)
