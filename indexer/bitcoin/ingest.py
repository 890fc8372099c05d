"""Writing Bitcoin blocks: validate against stored ancestors, detect, store in ONE transaction.

A block is written together with everything derived from it (stored transactions, PoP
publications, first-publication updates, tunnel rows) and the chain cursor, in one short
transaction; no network I/O happens inside it (callers fetch bytes first). Every insert is
idempotent, and a block already stored, active and scanned is a no-op, so duplicate task
delivery changes nothing.

The cursor is the tip of the ACTIVE chain as stored: every active block is at or below it, and
a block is only written if it extends the cursor (parent hash and height); anything else raises
``NotOnTip`` and the sync loop decides between "someone else wrote it" and a reorg.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from indexer.bitcoin import headers as hdr
from indexer.bitcoin.chain import CHAIN, WRITER
from indexer.bitcoin.decode import BlockHeader, decode_block, decode_header
from indexer.bitcoin.models import BitcoinBlock, KeystoneFirstPublication, PopPublication
from indexer.bitcoin.pop import PopOutput, scan_block
from indexer.bitcoin.txrows import insert_ignoring_conflicts, store_transactions
from indexer.bitcoin.vaults import detect_tunnel_activity, vault_scripts, write_tunnel_activity
from indexer.core import cursor as chain_cursor
from indexer.keystone import KeystoneAbrev
from indexer.models import ChainCursor

log = logging.getLogger(__name__)


class NotOnTip(Exception):
    """The block does not extend the stored chain tip (reorg, or another writer moved on)."""

    def __init__(self, height: int, prev_hash_internal: bytes, cursor: ChainCursor | None):
        self.cursor_height = None if cursor is None else cursor.height
        self.cursor_hash = None if cursor is None else bytes(cursor.block_hash)
        where = "no cursor" if cursor is None else f"cursor {cursor.height} {self.cursor_hash[::-1].hex()}"
        super().__init__(f"block at {height} with parent {prev_hash_internal[::-1].hex()} does not extend {where}")


@dataclass(frozen=True)
class IngestResult:
    height: int
    hash_internal: bytes
    status: str  # "ingested" | "unchanged"
    pop_outputs: int = 0
    deposits: int = 0
    payouts: int = 0


def chain_params(bitcoin_network: str) -> hdr.ChainParams:
    return hdr.NETWORKS[bitcoin_network]


def _current_bitcoin_network() -> str:
    from hemiscope import networks

    return networks.current().bitcoin_network


def get_cursor() -> ChainCursor | None:
    return chain_cursor.get(CHAIN)


# --------------------------------------------------------------------------- header context


class StoredAncestors:
    """``AncestorSource`` over the active chain in the database plus headers not yet written
    (a header batch being validated). Preloads the heights the rules will ask for in one query."""

    def __init__(self, preload: Sequence[int] = ()):
        self._headers: dict[int, BlockHeader] = {}
        if preload:
            rows = BitcoinBlock.objects.active().filter(height__in=list(preload)).values_list("height", "header_raw")
            self._headers = {h: decode_header(bytes(raw)) for h, raw in rows}

    def add(self, height: int, header: BlockHeader) -> None:
        self._headers[height] = header

    def header_at(self, height: int) -> BlockHeader | None:
        header = self._headers.get(height)
        if header is None and height >= 0:
            raw = BitcoinBlock.objects.active().filter(height=height).values_list("header_raw", flat=True).first()
            if raw is not None:
                header = self._headers[height] = decode_header(bytes(raw))
        return header


def _db_walk_back(params: hdr.ChainParams):
    """Testnet walk-back as one indexed query: bits of the last active block at or below the
    parent that sits on a period boundary or is not a min-difficulty exception."""
    limit_bits = params.pow_limit_bits

    def walk(parent_height: int) -> int:
        bits = (
            BitcoinBlock.objects.active()
            .filter(height__lte=parent_height)
            .annotate(period_offset=F("height") % params.interval)
            .filter(Q(period_offset=0) | ~Q(bits=limit_bits))
            .order_by("-height")
            .values_list("bits", flat=True)
            .first()
        )
        if bits is None:
            raise hdr.MissingAncestor(f"no regular-difficulty block at or below {parent_height}")
        return bits

    return walk


def context_heights(height: int, params: hdr.ChainParams) -> list[int]:
    """Heights the rules read for a header at ``height``: parent and median-time-past window,
    plus the first block of the closing period at a retarget boundary."""
    heights = list(range(max(0, height - hdr.MEDIAN_TIME_SPAN), height))
    if height % params.interval == 0 and height >= params.interval:
        heights.append(height - params.interval)
    return heights


def anchor_context_start(start_height: int, params: hdr.ChainParams) -> int:
    """Lowest height whose header must be stored before ``start_height`` can be validated in
    full: the median-time-past window, and the first block of the retarget period that the
    next boundary (or ``start_height`` itself, if it is one) closes."""
    period_start = start_height - start_height % params.interval
    if period_start == start_height:
        period_start -= params.interval
    return max(0, min(start_height - hdr.MEDIAN_TIME_SPAN, period_start))


def _check_anchor(header: BlockHeader, height: int, params: hdr.ChainParams) -> None:
    """The first header of an empty index has no stored parent: check what needs no context
    (proof of work; the genesis hash at height 0). It is the trust anchor of everything after."""
    if height == 0:
        hdr.HeaderChainValidator(params, StoredAncestors()).validate(header, 0)
    else:
        hdr.check_proof_of_work(header, params)


# --------------------------------------------------------------------------- PoP rows


def insert_pop_publications(block_id: int, outputs: Sequence[PopOutput], tx_ids: dict[int, int]) -> None:
    """Insert (idempotently) one PopPublication per PoP output, in a single statement."""
    cols: dict[str, list] = {k: [] for k in _POP_COLUMNS}
    for out in outputs:
        ks = out.keystone
        v1 = isinstance(ks, KeystoneAbrev)
        cols["transaction"].append(tx_ids[out.tx_index])
        cols["vout"].append(out.vout)
        cols["format"].append(PopPublication.FORMAT_V1 if v1 else PopPublication.FORMAT_LEGACY)
        cols["payload"].append(ks.to_bytes())
        # pop.py hands out display order; the column is internal order.
        cols["keystone_id_internal"].append(bytes.fromhex(out.keystone_id_display)[::-1])
        cols["l1_block_number"].append(ks.l1_block_number if v1 else None)
        cols["l2_block_number"].append(ks.l2_block_number if v1 else ks.block_number)
        cols["parent_ep_hash_prefix"].append(ks.parent_ep_hash_prefix)
        cols["prev_keystone_ep_hash_prefix"].append(ks.prev_keystone_ep_hash_prefix)
        cols["state_root"].append(ks.state_root)
        cols["ep_hash_prefix"].append(ks.ep_hash_prefix)
        cols["miner_pubkey"].append(out.miner_pubkey)
        address = out.miner_hemi_address
        cols["miner_hemi_address"].append(bytes.fromhex(address[2:]) if address else None)
    cols["block"] = [block_id] * len(outputs)
    insert_ignoring_conflicts(PopPublication, {name: (_POP_COLUMNS[name], values) for name, values in cols.items()})


_POP_COLUMNS = {
    "transaction": "bigint[]",
    "block": "bigint[]",
    "vout": "integer[]",
    "format": "text[]",
    "payload": "bytea[]",
    "keystone_id_internal": "bytea[]",
    "l1_block_number": "bigint[]",
    "l2_block_number": "bigint[]",
    "parent_ep_hash_prefix": "bytea[]",
    "prev_keystone_ep_hash_prefix": "bytea[]",
    "state_root": "bytea[]",
    "ep_hash_prefix": "bytea[]",
    "miner_pubkey": "bytea[]",
    "miner_hemi_address": "bytea[]",
}


def upsert_first_publications(block_id: int, height: int) -> None:
    """For each keystone published in this block, make this block's earliest publication
    (lowest tx index, then vout) the keystone's first one, unless an earlier height already
    holds it (spec §3.2.5: the first block on the active chain wins).

    Only the 76-byte v1 format counts: it is what tbcd's keystone index (and so Hemi's
    finality) parses; legacy payloads hash to ids no keystone has. Done in SQL so the
    thousands of ids of a busy block never travel to Python and back.
    """
    kfp = KeystoneFirstPublication._meta.db_table
    pub = PopPublication._meta.db_table
    tx = PopPublication._meta.get_field("transaction").related_model._meta.db_table
    with connection.cursor() as cur:
        cur.execute(
            f"""
            INSERT INTO {kfp} (keystone_id_internal, publication_id, height, l2_block_number)
            SELECT DISTINCT ON (p.keystone_id_internal) p.keystone_id_internal, p.id, %s, p.l2_block_number
              FROM {pub} p JOIN {tx} t ON t.id = p.transaction_id
             WHERE p.block_id = %s AND p.format = %s
             ORDER BY p.keystone_id_internal, t.tx_index, p.vout
            ON CONFLICT (keystone_id_internal) DO UPDATE
               SET publication_id = EXCLUDED.publication_id, height = EXCLUDED.height,
                   l2_block_number = EXCLUDED.l2_block_number
             WHERE {kfp}.height > EXCLUDED.height
            """,  # noqa: S608 - table names come from model metadata, values are parameters
            [height, block_id, PopPublication.FORMAT_V1],
        )


# --------------------------------------------------------------------------- blocks


def _block_row(header: BlockHeader, height: int, chainwork: int, **scan) -> BitcoinBlock:
    return BitcoinBlock(
        hash_internal=header.hash_internal,
        height=height,
        prev_hash_internal=header.prev_hash_internal,
        merkle_root_internal=header.merkle_root_internal,
        version=header.version & 0xFFFFFFFF,  # decoded as Core's int32; stored as the uint32 on the wire
        time=header.time,
        bits=header.bits,
        nonce=header.nonce,
        header_raw=header.raw,
        chainwork=Decimal(chainwork),
        in_active_chain=True,
        orphaned_at=None,
        **scan,
    )


# A block row written again (reorg back onto it, or a header-only row getting its body) becomes
# active and takes the new scan results; its identity columns never change with its hash.
_REACTIVATE_FIELDS = ["height", "chainwork", "in_active_chain", "orphaned_at", "tx_count", "size", "scanned_at"]


def _check_extends(cursor: ChainCursor | None, height: int, header: BlockHeader, allow_anchor: bool) -> None:
    if cursor is None:
        if not allow_anchor or BitcoinBlock.objects.active().exists():
            raise NotOnTip(height, header.prev_hash_internal, cursor)
        return
    if cursor.height != height - 1 or bytes(cursor.block_hash) != header.prev_hash_internal:
        raise NotOnTip(height, header.prev_hash_internal, cursor)


def _move_cursor(cursor: ChainCursor | None, height: int, header: BlockHeader) -> None:
    """Compare-and-set from the cursor checked by ``_check_extends`` (None: the anchor of an
    empty index) to the new tip; refusing means another writer moved it meanwhile."""
    expected = None if cursor is None else (cursor.height, bytes(cursor.block_hash))
    if not chain_cursor.advance(CHAIN, expected, (height, header.hash_internal)):
        raise NotOnTip(height, header.prev_hash_internal, get_cursor())


def _validated_chainwork(header: BlockHeader, height: int, params: hdr.ChainParams) -> int:
    """Validate ``header`` at ``height`` against the stored active chain; its chainwork."""
    parent = BitcoinBlock.objects.active().filter(height=height - 1).values_list("hash_internal", "chainwork").first()
    work = hdr.block_work(header.bits)
    if parent is None or bytes(parent[0]) != header.prev_hash_internal:
        # Either the anchor of an empty index, or not on our tip: _check_extends decides under
        # the lock. Chainwork of an anchor counts from the anchor (absolute work is unknown).
        _check_anchor(header, height, params)
        return work
    ancestors = StoredAncestors(context_heights(height, params))
    walk = _db_walk_back(params) if params.allow_min_difficulty_blocks else None
    hdr.HeaderChainValidator(params, ancestors, walk).validate(header, height, now=int(time.time()))
    return int(parent[1]) + work


def ingest_block(raw: bytes, height: int, *, bitcoin_network: str | None = None) -> IngestResult:
    """Validate and store one block at ``height`` on top of the cursor.

    1. Decode (merkle root checked) and scan for PoP outputs: pure work, before any lock.
    2. If the block is already stored, active and scanned: nothing to do.
    3. Validate the header against stored ancestors (PoW, linkage, bits incl. retargets, MTP)
       and compute its chainwork. An empty index takes the block as its anchor.
    4. One transaction, under the writer lock: check the block still extends the cursor, upsert
       the block row, the stored transactions (raw + merkle branch), PoP publications, first
       publications, tunnel rows (vaults read here, under the lock), and move the cursor.
    """
    params = chain_params(bitcoin_network or _current_bitcoin_network())
    block = decode_block(raw)
    header = block.header
    pop = scan_block(block).outputs

    def already_done() -> bool:
        return BitcoinBlock.objects.filter(
            hash_internal=header.hash_internal, in_active_chain=True, scanned_at__isnull=False
        ).exists()

    if already_done():
        return IngestResult(height, header.hash_internal, "unchanged")
    chainwork = _validated_chainwork(header, height, params)

    # Why one transaction: the cursor must never point past rows that are not written, and a
    # block's derived rows must never exist without the block (spec of ChainCursor).
    with transaction.atomic():
        WRITER.acquire()
        if already_done():  # another writer got here between our check and the lock
            return IngestResult(height, header.hash_internal, "unchanged")
        cursor = get_cursor()
        _check_extends(cursor, height, header, allow_anchor=True)
        scan = {"tx_count": block.tx_count, "size": len(block.raw), "scanned_at": timezone.now()}
        (row,) = BitcoinBlock.objects.bulk_create(
            [_block_row(header, height, chainwork, **scan)],
            update_conflicts=True,
            unique_fields=["hash_internal"],
            update_fields=_REACTIVATE_FIELDS,
        )
        tx_ids = store_transactions(row.pk, block, (o.tx_index for o in pop))
        insert_pop_publications(row.pk, pop, tx_ids)
        if pop:
            upsert_first_publications(row.pk, height)
        activity = detect_tunnel_activity(block, vault_scripts())
        write_tunnel_activity(row.pk, block, activity, tx_ids)
        _move_cursor(cursor, height, header)
    return IngestResult(
        height, header.hash_internal, "ingested", len(pop), len(activity.deposits), len(activity.payouts)
    )


def ingest_headers(
    raw_headers: Sequence[bytes], first_height: int, *, bitcoin_network: str | None = None, trusted: bool = False
) -> int:
    """Store a run of headers without bodies (rows with ``scanned_at`` NULL) and move the cursor.

    For heights below the network's start height only: the anchor context that lets the first
    scanned blocks be validated in full (median time past, retarget periods), or a header-only
    chain in tests. ``trusted`` (an empty index's anchor context) checks proof of work and
    linkage only, since the rules' own context lies below the run. Returns the last height.

    1. Decode and validate every header in order against stored and preceding headers.
    2. One transaction under the writer lock: the run must extend the cursor (or be the anchor
       of an empty index); bulk-insert the rows; move the cursor to the last header.
    """
    params = chain_params(bitcoin_network or _current_bitcoin_network())
    decoded = [decode_header(raw) for raw in raw_headers]
    if not decoded:
        raise ValueError("no headers to ingest")
    # Early answer for a run that cannot fit (checked again under the lock before writing).
    _check_extends(get_cursor(), first_height, decoded[0], allow_anchor=True)
    ancestors = StoredAncestors(range(max(0, first_height - params.interval), first_height))
    validator = hdr.HeaderChainValidator(params, ancestors)
    parent = ancestors.header_at(first_height - 1)
    parent_work = (
        BitcoinBlock.objects.active().filter(height=first_height - 1).values_list("chainwork", flat=True).first()
    )
    chainwork = int(parent_work) if parent_work is not None else 0
    now = int(time.time())
    chainworks = []
    for offset, header in enumerate(decoded):
        height = first_height + offset
        if trusted or (parent is None and offset == 0):
            _check_anchor(header, height, params)
            if offset and header.prev_hash_internal != decoded[offset - 1].hash_internal:
                raise hdr.HeaderRejected("bad-prevblk", f"header at {height} does not link to {height - 1}")
        else:
            validator.validate(header, height, now=now)
        ancestors.add(height, header)
        chainwork += hdr.block_work(header.bits)
        chainworks.append(Decimal(chainwork))
    last = first_height + len(decoded) - 1
    n = len(decoded)
    # One transaction per run: rows and cursor move together (see ingest_block).
    with transaction.atomic():
        WRITER.acquire()
        cursor = get_cursor()
        _check_extends(cursor, first_height, decoded[0], allow_anchor=True)
        insert_ignoring_conflicts(
            BitcoinBlock,
            {
                "hash_internal": ("bytea[]", [h.hash_internal for h in decoded]),
                "height": ("integer[]", list(range(first_height, last + 1))),
                "prev_hash_internal": ("bytea[]", [h.prev_hash_internal for h in decoded]),
                "merkle_root_internal": ("bytea[]", [h.merkle_root_internal for h in decoded]),
                "version": ("bigint[]", [h.version & 0xFFFFFFFF for h in decoded]),
                "time": ("bigint[]", [h.time for h in decoded]),
                "bits": ("bigint[]", [h.bits for h in decoded]),
                "nonce": ("bigint[]", [h.nonce for h in decoded]),
                "header_raw": ("bytea[]", [h.raw for h in decoded]),
                "chainwork": ("numeric[]", chainworks),
                "in_active_chain": ("boolean[]", [True] * n),
                "created_at": ("timestamptz[]", [timezone.now()] * n),
            },
        )
        # Headers stored before on a branch a reorg left: the same rows become active again.
        # (Checked first: the common case has none, and the IN list is thousands of hashes.)
        orphans = BitcoinBlock.objects.filter(height__range=(first_height, last), in_active_chain=False)
        if orphans.exists():
            orphans.filter(hash_internal__in=[h.hash_internal for h in decoded]).update(
                in_active_chain=True, orphaned_at=None
            )
        _move_cursor(cursor, last, decoded[-1])
    log.info("bitcoin headers stored", extra={"from_height": first_height, "to_height": last, "trusted": trusted})
    return last
