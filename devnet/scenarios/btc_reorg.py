"""btc-reorg: a depth-6 Bitcoin reorg orphans a PoP publication and a tunnel deposit.

1. Wait until the PoP miners have a publication waiting in bcoin's mempool.
2. Pause the network's Bitcoin miner and the tunnel operator (the reorg must not race the
   miner, and the deposit should not be credited in between), send a vault deposit.
3. Mine the main chain to ``depth`` blocks past the fork point; its first block carries the
   publication and the deposit.
4. Build ``depth + 1`` empty blocks on the fork point with ``build_block_on`` and submit them:
   the side chain has more work, bcoin switches to it and the ``depth`` blocks are orphaned.
5. Resume; the sequencer relays the new branch to HvmState (its own reorg in the hVM view).
Whether bcoin returned the orphaned transactions to its mempool is reported, not assumed.
"""

from __future__ import annotations

from typing import Any

from devnet.btc import build_block_on, mine, submit_block
from devnet.config import FAUCET_KEY, REORG_ACCOUNT, SIDE_CHAIN_KEY
from devnet.handle import Network, ScenarioError
from devnet.keystones import mempool_publications
from devnet.scenarios.common import deposit
from indexer.hashing import internal_to_display

DEPOSIT_SATS = 30_000_000


def run(net: Network, *, depth: int = 6) -> dict[str, Any]:
    if depth < 1:
        raise ScenarioError("depth must be at least 1")
    btc = net.btc
    waiting = net.wait_for(
        lambda: mempool_publications(btc),
        what="a PoP publication waiting in bcoin's mempool",
        hemi_blocks=30,
        btc_blocks=6,
    )
    pop = waiting[0]
    with net.paused("btc-miner", "tunnel-operator"):
        lock = deposit(net, FAUCET_KEY, net.account(REORG_ACCOUNT), DEPOSIT_SATS)
        best = btc.getblockcount()
        mined_already = net.btc_position(pop.txid_display)  # the miner may have won the race
        fork_height = mined_already[0] - 1 if mined_already else best
        if best - fork_height >= depth:
            raise ScenarioError(f"publication {pop.txid_display} is already {best - fork_height} blocks deep")
        fork_hash = btc.getblockhash(fork_height)
        mine(btc, fork_height + depth - best, FAUCET_KEY.p2pkh_address)
        orphaned = [btc.getblockhash(h) for h in range(fork_height + 1, fork_height + depth + 1)]
        deposit_at, pop_at = net.btc_position(lock.txid), net.btc_position(pop.txid_display)
        if deposit_at is None or pop_at is None or min(deposit_at[0], pop_at[0]) <= fork_height:
            raise ScenarioError(f"deposit {deposit_at} / publication {pop_at} not above fork {fork_height}")

        side: list[str] = []
        parent = fork_hash
        for i in range(depth + 1):
            block = build_block_on(btc, parent, payout_script=SIDE_CHAIN_KEY.p2pkh_script, tag=b"-reorg-%d" % i)
            parent = submit_block(btc, block)
            side.append(parent)
        if btc.getbestblockhash() != side[-1]:
            raise ScenarioError(f"bcoin did not switch to the side chain (best {btc.getbestblockhash()})")
        mempool = set(btc.getrawmempool())

    hvm = net.contract("HvmState")

    def relayed() -> str | None:
        tip = internal_to_display(bytes(hvm.functions.tip().call()[0]))
        # the resumed miner may already have extended the side chain: any tip above it counts
        return tip if tip == btc.getbestblockhash() and btc.getblockhash(fork_height + 1) == side[0] else None

    hvm_tip = net.wait_for(relayed, what="the sequencer to relay the side chain to HvmState", hemi_blocks=5)
    return {
        "scenario": "btc-reorg",
        "depth": depth,
        "fork_height": fork_height,
        "fork_hash": fork_hash,
        "orphaned_blocks": orphaned,
        "side_chain_blocks": side,
        "new_tip": side[-1],
        "deposit_txid": lock.txid,
        "deposit_orphaned_block": deposit_at[1],
        "deposit_orphaned_height": deposit_at[0],
        "pop_txid": pop.txid_display,
        "pop_keystone_number": pop.keystone.l2_block_number,
        "pop_keystone_id": pop.keystone_id_display,
        "pop_orphaned_block": pop_at[1],
        "pop_orphaned_height": pop_at[0],
        "back_in_mempool": {"deposit": lock.txid in mempool, "pop": pop.txid_display in mempool},
        "hvm_tip": hvm_tip,
    }
