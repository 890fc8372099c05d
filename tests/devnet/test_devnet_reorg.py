"""Reorgs made the bcoin way: a Python-built side chain submitted with submitblock."""

from __future__ import annotations

import pytest

from devnet.btc import BlockRejectedError, build_block_on, extend_chain, mine, submit_block
from devnet.btckeys import DevKey
from devnet.nodes import BcoinNode

pytestmark = pytest.mark.integration

MAIN = DevKey.from_label("reorg-main")
SIDE = DevKey.from_label("reorg-side")


def test_a_side_chain_of_depth_6_takes_over(fresh_bcoin: BcoinNode) -> None:
    rpc = fresh_bcoin.rpc()
    main_hashes = mine(rpc, 20, MAIN.p2pkh_address)
    tip_height = 20
    fork_height = tip_height - 6  # last common block; heights 15..20 get replaced
    replaced_display = rpc.getblockhash(fork_height + 1)

    side = extend_chain(rpc, rpc.getblockhash(fork_height), 7, payout_script=SIDE.p2pkh_script)

    assert rpc.getbestblockhash() == side[-1]
    assert rpc.getblockcount() == tip_height + 1
    assert rpc.getblockhash(fork_height + 1) == side[0] != replaced_display
    assert [rpc.getblockhash(h) for h in range(fork_height + 1, tip_height + 2)] == side
    # bcoin keeps the stale blocks readable (with positive confirmations, unlike Core)
    assert rpc.getblockheader(main_hashes[-1])["height"] == tip_height


def test_submitblock_refusals_raise(fresh_bcoin: BcoinNode) -> None:
    rpc = fresh_bcoin.rpc()
    mine(rpc, 2, MAIN.p2pkh_address)
    block = build_block_on(rpc, rpc.getblockhash(1), payout_script=SIDE.p2pkh_script, tag=b"x")
    submit_block(rpc, block)  # a valid stale-branch block is accepted quietly
    with pytest.raises(BlockRejectedError, match="duplicate"):
        submit_block(rpc, block)
