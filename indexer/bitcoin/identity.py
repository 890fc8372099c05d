"""Is the Bitcoin source on the chain this database indexes? (refuse it with ``WrongChain`` if not)

What proves it, and when it is checked:

* **Empty index** - the source's block 0 must be the configured network's genesis
  (``BITCOIN_NETWORK``): otherwise a start height above 0 would anchor the index on another
  network's headers.
* **The source holds our chain** - a block hash commits to every ancestor, so the per-run
  tip check of ``sync`` (is our cursor block the source's block at that height?) proves it
  whenever it passes. When it fails, the chain reorged - or the source is another chain. So
  before any reorg is undone (``reorg.rewind``), :func:`verify` compares the source's blocks
  at our first stored height and at the configured start height with ours. Blocks written
  on top of the cursor must link to it by hash and carry their proof of work, so a source
  swapped mid-run cannot slip blocks of another chain in without going through the rewind.

Regtest nodes all share one genesis: a restarted devnet node passes these checks and is a
chain with (far) less work - ``reorg.require_more_work`` refuses that one.
"""

from __future__ import annotations

from indexer.bitcoin.headers import NETWORKS
from indexer.bitcoin.models import BitcoinBlock
from indexer.bitcoin.source import BitcoinSource, BlockNotFound
from indexer.core.errors import WrongChain


def genesis_internal(bitcoin_network: str) -> bytes:
    return bytes.fromhex(NETWORKS[bitcoin_network].genesis_hash_display)[::-1]


def anchors(start_height: int) -> dict[int, bytes]:
    """Our active blocks the source must have: the first stored one and the one at the start
    height (header-only anchor rows included: they are what the first scanned block links to)."""
    stored = BitcoinBlock.objects.active()
    first = stored.order_by("height").values_list("height", "hash_internal").first()
    if first is None:
        return {}
    out = {first[0]: bytes(first[1])}
    at_start = stored.filter(height=start_height).values_list("hash_internal", flat=True).first()
    if at_start is not None:
        out[start_height] = bytes(at_start)
    return out


def verify(source: BitcoinSource, bitcoin_network: str, start_height: int) -> None:
    """Refuse (``WrongChain``) a source whose blocks at our anchor heights are not ours, or,
    on an empty index, whose genesis is not the network's. One batched request over RPC."""
    expected = anchors(start_height) or {0: genesis_internal(bitcoin_network)}
    heights = sorted(expected)
    try:
        theirs = dict(zip(heights, source.block_hashes(heights), strict=True))
    except BlockNotFound as exc:
        raise WrongChain(
            f"the Bitcoin source ({source.name}) has no block at height {heights[-1]}, which is indexed here: it "
            f"is behind the indexed chain or on another one. Nothing was orphaned ({exc})"
        ) from exc
    for height in heights:
        if theirs[height] == expected[height]:
            continue
        if height == 0 and len(expected) == 1:
            what = f"{bitcoin_network} genesis {expected[0][::-1].hex()} (BITCOIN_NETWORK)"
        else:
            what = f"the indexed chain's block {expected[height][::-1].hex()}"
        raise WrongChain(
            f"the Bitcoin source ({source.name}) is on another chain: its block at height {height} is "
            f"{theirs[height][::-1].hex()}, not {what}. Nothing was orphaned: point BITCOIN_RPC_URL / "
            f"BITCOIN_ESPLORA_URL at a node of the indexed network and chain, or index it into an empty database"
        )
