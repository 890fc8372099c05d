"""Is the Hemi node on the chain this database indexes? (refuse it with ``WrongChain`` if not)

What proves it, and when it is checked:

* **Chain id** - ``eth_chainId`` equals the network's (``HEMI_CHAIN_ID``, the preset, or the
  devnet file). A block hash does not commit to it, so every follow run asks, in the same
  batched request as the cursor check below (one round trip per run, as before).
* **The node holds our chain** - a block hash commits to every ancestor, so when the node's
  block at the cursor height IS the cursor block, the node has our whole stored chain. Every
  follow run compares that. When it differs, the chain reorged - or the node is another
  chain (a restarted devnet: same chain id, new genesis). So before any reorg is undone
  (``reorg.handle_reorg``), :func:`verify` compares the node's block at the FIRST stored
  height with ours: a "reorg" reaching below everything stored is never undone.
* **Empty index** - nothing to compare with yet: the chain id, and the node's block 0 against
  the preset's ``l2_genesis_hash`` (testnet and mainnet know theirs).
* **Backfills** - checked at their start: a range below the first stored block links to
  nothing stored, so only this check ties it to our chain.

A node swapped mid-run (a reconnect to another machine) cannot slip blocks in either: new
blocks are only written on top of their stored parent, and anything else goes through the
reorg path, which verifies first.
"""

from __future__ import annotations

from typing import Any

from indexer.core.errors import WrongChain
from indexer.core.jsonrpc import hex_data, json_object, quantity
from indexer.hemi.models import Block
from indexer.hemi.rpc import HemiRpc


def node_name(rpc: HemiRpc) -> str:
    """The node's URL for messages (never credentials)."""
    return rpc.client.http.display_url


def first_stored() -> tuple[int, bytes] | None:
    """(number, hash) of the lowest canonical stored block: the anchor every check compares."""
    row = Block.objects.canonical().order_by("number").values_list("number", "hash").first()
    return None if row is None else (row[0], bytes(row[1]))


def _genesis(network: Any) -> bytes | None:
    value = (network.extra or {}).get("l2_genesis_hash")
    return bytes.fromhex(value.removeprefix("0x")) if value else None


def _ask(rpc: HemiRpc, heights: list[int]) -> tuple[int, dict[int, bytes | None]]:
    """One batched request: the chain id and the node's block hash at each height (None when the
    node has no block there)."""
    unique = sorted(set(heights))
    replies = rpc.batch([("eth_chainId", [])] + [("eth_getBlockByNumber", [hex(h), False]) for h in unique])
    chain_id = quantity(replies[0], "eth_chainId")
    hashes: dict[int, bytes | None] = {}
    for height, block in zip(unique, replies[1:], strict=True):
        if block is None:
            hashes[height] = None
        else:
            hashes[height] = hex_data(json_object(block, "eth_getBlockByNumber").get("hash"), "block hash", length=32)
    return chain_id, hashes


def _check_chain_id(rpc: HemiRpc, network: Any, chain_id: int) -> None:
    if network.chain_id is not None and chain_id != network.chain_id:
        raise WrongChain(
            f"the Hemi node at {node_name(rpc)} reports chain id {chain_id}, but network {network.name!r} is "
            f"chain id {network.chain_id} (HEMI_CHAIN_ID): refusing to index it"
        )


def check_run(rpc: HemiRpc, network: Any, cursor_height: int) -> bytes | None:
    """The per-run check of a follow run: the chain id, and the node's hash at the cursor
    height (None beyond its tip), in one round trip. The caller compares the hash."""
    chain_id, hashes = _ask(rpc, [cursor_height])
    _check_chain_id(rpc, network, chain_id)
    return hashes[cursor_height]


def verify(rpc: HemiRpc, network: Any) -> None:
    """Refuse (``WrongChain``) a node that is not on the indexed chain: chain id, and the
    node's block at our first stored height (on an empty index: its genesis, when the preset
    knows it). One batched request."""
    anchor = first_stored()
    genesis = _genesis(network) if anchor is None else None
    heights = ([anchor[0]] if anchor else []) + ([0] if genesis is not None else [])
    chain_id, hashes = _ask(rpc, heights)
    _check_chain_id(rpc, network, chain_id)
    if genesis is not None and hashes[0] != genesis:
        found = "no block 0" if hashes[0] is None else f"0x{hashes[0].hex()}"
        raise WrongChain(
            f"the Hemi node at {node_name(rpc)} has genesis block {found}, not the {network.name} genesis "
            f"0x{genesis.hex()}: refusing to index it"
        )
    if anchor is None:
        return
    number, ours = anchor
    theirs = hashes[number]
    if theirs is None:
        raise WrongChain(
            f"the Hemi node at {node_name(rpc)} has no block {number}, the first block indexed here: it is behind "
            f"the indexed chain or on another one. Nothing was orphaned; waiting for a node that has it"
        )
    if theirs != ours:
        raise WrongChain(
            f"the Hemi node at {node_name(rpc)} is on another chain: its block {number} is 0x{theirs.hex()}, "
            f"but the indexed chain's block {number} is 0x{ours.hex()} (a restarted devnet, or another network "
            f"behind HEMI_RPC_URL?). Nothing was orphaned: point HEMI_RPC_URL at a node of the indexed chain, or "
            f"index this chain into an empty database"
        )
