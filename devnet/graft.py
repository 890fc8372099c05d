"""Continue a stored synthetic chain with a real node's blocks, for benchmarks at scale.

The problem: ``make_synthetic`` fills a database with Hemi blocks 0..T under hashes of its
own, so no node has them. A real node's chain starts at its own genesis: ingested on top, its
block T+1 would not have the stored block T as parent - the writer sees a reorg, the reorg
path checks the node's identity against the first stored block and refuses it (rightly: it
is another chain). Ingest benchmarks and the tip latency need real new blocks from a real
node landing on the big stored chain, so that the real write path keeps the real indexes of
a big index up to date.

The design, which keeps every check of the indexer in place:

1. The node starts *above* the stored chain: anvil with its genesis at the first keystone
   height above the stored tip T (:func:`node_genesis_number`; ``devnet.nodes.start_anvil(
   genesis_number=...)``, anvil's ``--number``). It has no block below that genesis. A keystone
   height, because the fetcher reads keystone k's predecessor k-25 from the node when k-25 is
   below its batch: with no keystone height between T and the genesis, the first keystone the
   node produces (genesis + 25) has its predecessor on the node - the genesis itself.
2. :func:`graft_hemi` stores the node's block G = genesis + 1 through the indexer's own writer
   (``ingest.ingest_block``: verified, laid out, written). The writer takes it because
   nothing is stored at G-1 - its rule for a block above a gap (a backfill ahead of the
   cursor) - and does not move the cursor (compare-and-set: the cursor sits on T, not on
   G's parent).
3. In the same transaction (under the writer lock the write took) the cursor moves from the
   synthetic tip (T, its hash) to (G, the node's hash) by compare-and-set
   (``indexer.core.cursor.advance``), which records the ``chain.changed`` item as every
   cursor move does.

From then on the node holds the cursor's block, so the production follower
(``sync.follow_tip``, the Celery task) indexes G+1.. as ordinary new blocks on top of the
stored chain: fetch, verify, one ``write_run`` per batch, balances, addresses, keystones,
cursor, verdict refresh - nothing is bypassed.

What is not real, and documented where it is used: heights T+1..G-1 are not stored (a gap of
1 to 25 heights in the stored chain; the node has the last of them, its genesis), block G's
parent is not stored, and the node's identity differs from the stored chain's first block -
so a *backfill* (whose identity check compares the first stored block) would refuse this
node; the benchmarks follow the tip instead.

Bitcoin: no node can continue the synthetic Bitcoin chain (regtest-rule blocks from mainnet's
height 859 303: bcoin would have to mine that many blocks first), so :func:`extend_bitcoin`
builds the next block on the stored Bitcoin tip, as ``make_synthetic`` builds every block
(publishing the keystones not published yet), and stores it through the Bitcoin indexer's own
writer (``bitcoin.ingest.ingest_block``: header validation against the stored ancestors, PoP
scan, cursor move, ``chain.changed``).
"""

from __future__ import annotations

from typing import Any


class GraftError(RuntimeError):
    """The node cannot continue the stored chain (it starts too low, or the stored chain moved)."""


def stored_hemi_tip() -> int | None:
    """The highest canonical stored Hemi block number (None: nothing stored)."""
    from indexer.hemi.models import Block

    return Block.objects.canonical().order_by("-number").values_list("number", flat=True).first()


def node_genesis_number() -> int:
    """Where a node must start to continue the stored chain: the first keystone height above
    its tip (module docstring, step 1)."""
    from indexer.keystone import KEYSTONE_PERIOD

    tip = stored_hemi_tip()
    return 0 if tip is None else -(-(tip + 1) // KEYSTONE_PERIOD) * KEYSTONE_PERIOD


def graft_hemi(rpc: Any, *, config: Any = None) -> tuple[int, bytes]:
    """Store the node's block above its genesis on the stored chain and move the Hemi cursor onto
    it (mining that block on anvil first if the node has only its genesis).

    Returns (number, hash) of the graft block. Idempotent: when the cursor already sits on
    that block, nothing is written.
    """
    from django.db import transaction

    from indexer.core import cursor as chain_cursor
    from indexer.hemi import ingest
    from indexer.hemi.chain import CHAIN
    from indexer.keystone import KEYSTONE_PERIOD

    genesis = int(rpc.call("eth_getBlockByNumber", ["earliest", False])["number"], 16)
    number = genesis + 1
    if int(rpc.call("eth_blockNumber"), 16) < number:
        rpc.call("evm_mine")
    (block,), (receipts,) = rpc.blocks_with_receipts([number])
    node_hash = bytes.fromhex(block["hash"][2:])
    position = chain_cursor.position(CHAIN)
    if position == (number, node_hash):
        return position
    tip = stored_hemi_tip()
    if (tip is not None and genesis <= tip) or genesis % KEYSTONE_PERIOD:
        raise GraftError(
            f"the node's first block is {genesis}; to continue the stored chain (up to {tip}) it must start at a "
            f"keystone height above it: start_anvil(genesis_number=node_genesis_number()) = {node_genesis_number()}"
        )
    with transaction.atomic():
        result = ingest.ingest_block(block, receipts, config=config or ingest.IngestConfig.from_network())
        if result.hash != node_hash:
            raise GraftError(f"the node's block {number} changed while it was grafted")
        position = chain_cursor.position(CHAIN)
        if position != (number, node_hash) and not chain_cursor.advance(CHAIN, position, (number, node_hash)):
            raise GraftError("the Hemi cursor moved while the graft was written")
    return number, node_hash


def extend_bitcoin(*, block_time: int | None = None, max_publications: int = 20) -> tuple[int, bytes]:
    """Build one Bitcoin block on the stored active tip and store it through the Bitcoin writer;
    returns (height, internal hash). For a synthetic chain, which no node has.

    The block publishes, as PoP miners would, the canonical keystones above the newest one
    published so far (up to ``max_publications``): built from their stored abbreviations, in
    the same transaction shape ``make_synthetic`` uses, so the new Hemi blocks get Bitcoin
    finality like the synthetic ones and the refresh after the block has real work to do.
    """
    from bitcoin.core import CMutableTransaction, CMutableTxIn, CMutableTxOut, COutPoint, CTransaction
    from bitcoin.core.script import CScript
    from django.db.models import Max

    from devnet.btctx import block_hash_internal, build_block
    from devnet.keystones import pop_script
    from devnet.synthetic import MINER_PAYOUT, POP_KEYS, _script_sig
    from indexer.bitcoin import ingest as btc_ingest
    from indexer.bitcoin.models import BitcoinBlock, KeystoneFirstPublication
    from indexer.hashing import keccak256
    from indexer.hemi.models import Keystone
    from indexer.keystone import KeystoneAbrev

    tip = BitcoinBlock.objects.active().order_by("-height").first()
    if tip is None:
        raise GraftError("no Bitcoin block stored: nothing to extend")
    height = tip.height + 1
    block_time = max(tip.time + 1, block_time or tip.time + 600)
    newest = KeystoneFirstPublication.objects.aggregate(n=Max("l2_block_number"))["n"] or 0
    txs = []
    for number, abrev in (
        Keystone.objects.canonical().filter(number__gt=newest).order_by("number").values_list("number", "abrev")
    )[:max_publications]:
        key = POP_KEYS[number % len(POP_KEYS)]
        label = b"graft pop %d %d" % (number, height)
        change = bytes.fromhex("76a914") + keccak256(key.public_key.format())[:20] + bytes.fromhex("88ac")
        vin = [CMutableTxIn(COutPoint(keccak256(label), 0), CScript(_script_sig(key, label)))]
        vout = [CMutableTxOut(10_000, CScript(change)),
                CMutableTxOut(0, CScript(pop_script(KeystoneAbrev.from_bytes(bytes(abrev)))))]  # fmt: skip
        txs.append(CTransaction.from_tx(CMutableTransaction(vin, vout, nVersion=2, nLockTime=height)))
    block = build_block(bytes(tip.hash_internal), tip.time, height, txs, MINER_PAYOUT, block_time=block_time)
    btc_ingest.ingest_block(block.serialize(), height, bitcoin_network="regtest")
    return height, block_hash_internal(block)
