"""hemi-reorg: a Hemi reorg of at least 30 blocks across a keystone.

1. With the sequencer paused, take an anvil ``evm_snapshot`` at block s and send a marker
   transaction that branch A will carry.
2. Let branch A grow past ``s + depth`` and past the next keystone K, until K's publication
   is on Bitcoin (mempool or chain): branch A's keystone is anchored.
3. Pause the sequencer, the operator and the PoP miners; ``evm_revert`` to s; send a
   different marker, so branch B's first block cannot equal branch A's.
4. Resume and wait until branch B is longer than branch A was, then for the publication of
   branch B's keystone K (a different keystone id for the same L2 number).
"""

from __future__ import annotations

from typing import Any

from hexbytes import HexBytes
from web3 import Web3

from devnet.config import MARKER_ACCOUNT
from devnet.evm import rpc
from devnet.handle import Network, ScenarioError
from devnet.keystones import PopWatcher, build_keystone_at, mempool_publications
from indexer.keystone import KeystoneAbrev, keystone_number_for


def _send_marker(net: Network, to_index: int, note: bytes) -> str:
    tx = {"from": net.account(MARKER_ACCOUNT), "to": net.account(to_index), "value": 1, "data": note}
    return HexBytes(net.w3.eth.send_transaction(tx)).to_0x_hex()  # type: ignore[arg-type]


def _publication_of(net: Network, watcher: PopWatcher, keystone_id: str) -> str | None:
    for pop in mempool_publications(net.btc):
        if pop.keystone_id_display == keystone_id:
            return pop.txid_display
    for found in watcher.publications():
        if found.pop.keystone_id_display == keystone_id:
            return found.pop.txid_display
    return None


def _hashes(net: Network, first: int, last: int) -> dict[int, str]:
    return {n: str(rpc(net.w3, "eth_getBlockByNumber", [hex(n), False])["hash"]) for n in range(first, last + 1)}


def run(net: Network, *, depth: int = 30) -> dict[str, Any]:
    w3 = net.w3
    with net.paused("sequencer"):
        snapshot_id = rpc(w3, "evm_snapshot")
        fork = int(w3.eth.block_number)
        fork_hash = net.hemi_block_hash(fork)
        marker_a = _send_marker(net, 7, b"hemiscope devnet hemi-reorg: branch A")
    keystone = keystone_number_for(fork + 1)
    target = max(fork + depth, keystone + 2)
    watcher = PopWatcher(net.btc, net.btc.getblockcount())
    net.wait_for(
        lambda: int(w3.eth.block_number) >= target,
        what=f"branch A to reach Hemi block {target}",
        hemi_blocks=target - fork,
    )
    old_keystone = build_keystone_at(w3, keystone)
    old_id = old_keystone.abbreviate().id_display
    old_pop = net.wait_for(
        lambda: _publication_of(net, watcher, old_id),
        what=f"the publication of branch A's keystone {keystone}",
        hemi_blocks=5,
        btc_blocks=6,
    )

    with net.paused("sequencer", "tunnel-operator", "pop-miner"):
        old_tip = int(w3.eth.block_number)
        old_hashes = _hashes(net, fork + 1, old_tip)
        if rpc(w3, "evm_revert", [snapshot_id]) is not True:
            raise ScenarioError(f"anvil refused evm_revert to snapshot {snapshot_id}")
        if int(w3.eth.block_number) != fork or net.hemi_block_hash(fork) != fork_hash:
            raise ScenarioError(f"after evm_revert the head is {w3.eth.block_number}, expected {fork}")
        marker_b = _send_marker(net, 8, b"hemiscope devnet hemi-reorg: branch B")

    net.wait_for(
        lambda: int(w3.eth.block_number) > old_tip,
        what=f"branch B to pass Hemi block {old_tip}",
        hemi_blocks=old_tip - fork + 1,
    )
    new_hashes = _hashes(net, fork + 1, old_tip)
    unchanged = [n for n in new_hashes if new_hashes[n] == old_hashes[n]]
    if unchanged:
        raise ScenarioError(f"Hemi blocks {unchanged[:5]} kept their hashes across the reorg")
    new_keystone = build_keystone_at(w3, keystone)
    new_id = new_keystone.abbreviate().id_display
    new_pop = net.wait_for(
        lambda: _publication_of(net, watcher, new_id),
        what=f"the publication of branch B's keystone {keystone}",
        hemi_blocks=5,
        btc_blocks=6,
    )
    marker_a_receipt = net.receipt(marker_a)
    return {
        "scenario": "hemi-reorg",
        "fork_block": fork,
        "fork_hash": fork_hash,
        "old_tip": old_tip,
        "depth": old_tip - fork,
        "new_tip": int(w3.eth.block_number),
        "replaced_blocks": [{"number": n, "old_hash": old_hashes[n], "new_hash": new_hashes[n]} for n in old_hashes],
        "keystone_number": keystone,
        "old_keystone_id": old_id,
        "new_keystone_id": new_id,
        "old_keystone": _abrev_json(old_keystone.abbreviate()),
        "new_keystone": _abrev_json(new_keystone.abbreviate()),
        "old_pop_txid": old_pop,
        "new_pop_txid": new_pop,
        "marker_a_tx": marker_a,
        "marker_a_on_new_chain": marker_a_receipt is not None,
        "marker_b_tx": marker_b,
        "sender": Web3.to_checksum_address(net.account(MARKER_ACCOUNT)),
    }


def _abrev_json(abrev: KeystoneAbrev) -> dict[str, Any]:
    return {
        "l1_block_number": abrev.l1_block_number,
        "l2_block_number": abrev.l2_block_number,
        "ep_hash_prefix": abrev.ep_hash_prefix.hex(),
        "state_root": abrev.state_root.hex(),
    }
