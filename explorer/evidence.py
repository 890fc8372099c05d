"""Evidence bundles: everything needed to re-verify a hemiBTC mint's provenance offline.

The bundle holds raw chain bytes (Bitcoin headers and transactions with merkle branches, Hemi
RLP headers, Merkle-Patricia proofs of transactions and receipts) plus claims that the
verifier (``explorer/verify.py``) recomputes. Serialization is canonical JSON, so the same rows
always give the same bytes.

Bundles are built a chunk of mints at a time (``Chunk``), because a report bundles up to every
mint of the chain and one mint at a time cost ~20 queries per bundle: the chunk reads what its
bundles need in a bounded number of queries whatever its size (twelve, plus one per
``PROOF_BLOCKS`` Hemi blocks whose transactions are proven), and rows its mints share - the
Bitcoin and Hemi header ranges, keystone anchors, hVM views, the L1-info and relay blocks - are
read and encoded once. A single mint is a chunk of one (``build_bundle``): there is one data
path, so a bundle's bytes never depend on which chunk built it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import reduce
from operator import or_

from django.db.models import Q

from explorer import anchoring, tunnel_audit
from explorer.at import At
from explorer.finality import SUPERFINALITY_CONFIRMATIONS
from explorer.verify import FORMAT, canonical_bytes
from hemiscope import networks
from indexer.bitcoin.models import BitcoinBlock, KeystoneFirstPublication, TunnelDeposit
from indexer.hemi.models import Block, DepositConfirmation, HvmHeader, HvmUpdate, Transaction
from indexer.hemi.mpt import ordered_trie_proof
from indexer.keystone import keystone_number_for

CHUNK = 500  # mints per chunk: what a report's batch holds (explorer.reports.collect.BATCH)
PROOF_BLOCKS = 100  # Hemi blocks whose transactions are read at once (real blocks carry MBs)


class EvidenceUnavailable(Exception):
    """The provenance chain is not complete enough (yet) to export verifiable evidence."""


def _hex(raw) -> str:
    return bytes(raw).hex()


def build_bundle(mint: DepositConfirmation, at: At | None = None) -> dict:
    """Collect the evidence for one mint (see ``Chunk.bundle``), at the tips or at ``at``."""
    return Chunk([mint], at).bundle(mint)


def export_bytes(mint: DepositConfirmation, at: At | None = None) -> bytes:
    return canonical_bytes(build_bundle(mint, at))


def export_many(
    mints: Sequence[DepositConfirmation], at: At | None = None
) -> Iterator[tuple[DepositConfirmation, bytes | None, str | None]]:
    """(mint, canonical bundle bytes, None) or (mint, None, why it has none) for each mint, in
    order, built ``CHUNK`` mints at a time: memory holds one chunk's rows, never all bundles."""
    for start in range(0, len(mints), CHUNK):
        chunk = Chunk(mints[start : start + CHUNK], at)
        for mint in chunk.mints:
            try:
                yield mint, canonical_bytes(chunk.bundle(mint)), None
            except EvidenceUnavailable as exc:
                yield mint, None, str(exc)


@dataclass(frozen=True)
class _Plan:
    """One mint's evidence as far as the checks that need no header range take it."""

    deposit: TunnelDeposit
    relay: HvmHeader
    view: HvmUpdate
    view_tip_height: int | None
    keystone_number: int
    anchor: KeystoneFirstPublication
    hemi_start: int
    l1_info_tx: Transaction | None
    btc_end: int


class Chunk:
    """The rows the bundles of a list of mints are built from, read in three rounds:

    1. lookups by key (``_read_lookups``): each mint's block integrity, deposit, first hVM relay
       of the deposit block, hVM view and its Bitcoin tip, covering keystone's anchor, the
       anchoring keystone block's L1-info transaction, and the Bitcoin tip;
    2. each mint's plan (``_plan``): the checks ``build_bundle`` always made, in the same order
       with the same messages - a mint that fails one keeps its reason;
    3. the planned mints' Hemi and Bitcoin header ranges (merged, read once), checked
       complete per mint, then the Merkle-Patricia proofs of the transactions the complete
       ones name (each proof computed once).
    """

    def __init__(self, mints: Sequence[DepositConfirmation], at: At | None = None):
        # At a position (``at``: ``explorer.at``) the bundles are the ones the explorer would have
        # exported there: deposits, publications and Bitcoin headers at or below its height (the
        # claimed tip and confirmations counted to it), keystones at or below its Hemi block.
        self.at = at
        self.mints = list(mints)
        self.net = networks.current()
        self._read_lookups()
        self.plans: dict[int, _Plan | EvidenceUnavailable] = {}
        for mint in self.mints:
            try:
                self.plans[mint.pk] = self._plan(mint)
            except EvidenceUnavailable as exc:
                self.plans[mint.pk] = exc
        planned = [(m, p) for m in self.mints if isinstance(p := self.plans[m.pk], _Plan)]
        self.hemi_headers = _rows_in_ranges(
            Block.objects.canonical(),
            "number",
            [(p.hemi_start, p.anchor.l2_block_number) for _, p in planned],
            ("header_rlp", "hash"),
        )
        self.btc_headers = _rows_in_ranges(
            BitcoinBlock.objects.active(),
            "height",
            [(p.deposit.block.height, p.btc_end) for _, p in planned],
            ("header_raw", "hash_internal"),
        )
        # The range checks come before any proof is made, as they always did: a mint whose
        # headers are missing must not have its transactions proven (they may not be complete).
        self.spans: dict[int, tuple[list, list]] = {}
        for mint, plan in planned:
            try:
                self.spans[mint.pk] = self._spans(plan)
            except EvidenceUnavailable as exc:
                self.plans[mint.pk] = exc
        self.proofs = _Proofs([(m, p) for m, p in planned if m.pk in self.spans])

    def _read_lookups(self) -> None:
        mints = [m for m in self.mints if m.canonical]
        self.rows = tunnel_audit.MintRows.read(mints, at=self.at)
        self.anchors = anchoring.first_anchors((keystone_number_for(m.block.number) for m in mints), self.at)
        anchoring_numbers = {a.l2_block_number for a in self.anchors.values() if a is not None}
        self.l1_info_txs = {
            tx.block.number: tx
            for tx in Transaction.objects.filter(
                block__number__in=anchoring_numbers, block__canonical=True, index=0
            ).select_related("block")
        }
        self.tip = anchoring.bitcoin_tip_height(self.at)

    def _plan(self, mint: DepositConfirmation) -> _Plan:
        """1. The Bitcoin deposit and the hVM updates that relayed it / framed the mint.
        2. The covering keystone and the first Bitcoin publication anchoring it (or a descendant).
        3. The Hemi blocks from the earliest needed up to the anchoring keystone, and the
           Bitcoin heights from the deposit up to the publication's 10th confirmation (or the
           tip, or the hVM view's tip if higher) - read for the whole chunk afterwards."""
        if not mint.canonical:
            raise EvidenceUnavailable("the mint is not on the canonical Hemi chain")
        if (flagged := self.rows.flagged.get(mint.block_id)) is not None:
            raise EvidenceUnavailable(f"pending ({flagged})")
        deposit = self.rows.deposit(mint)
        # Rare (a mint whose deposit is not indexed): asked one mint at a time.
        if deposit is None and (waiting := tunnel_audit.deposit_wait_reason(mint, self.at)) is not None:
            raise EvidenceUnavailable(f"pending ({waiting})")
        if deposit is None or not deposit.block.in_active_chain:
            raise EvidenceUnavailable("no deposit on the active Bitcoin chain backs this mint")
        relay = self.rows.relay(mint)
        view = self.rows.views.get(mint.block.number)
        if relay is None or view is None:
            raise EvidenceUnavailable("the deposit block was never relayed into the hVM before the mint")
        view_tip_height = self.rows.view_tip_height(mint)
        if self.at is not None and view_tip_height is not None and view_tip_height > self.at.btc_height:
            # Its headers would reach past the position; there the hVM tip was not indexed yet.
            raise EvidenceUnavailable(
                tunnel_audit.HVM_TIP_ABOVE_POSITION.format(tip=view_tip_height, height=self.at.btc_height)
            )
        keystone_number = keystone_number_for(mint.block.number)
        anchor = self.anchors[keystone_number]
        if anchor is None:
            raise EvidenceUnavailable(f"keystone {keystone_number} (or a descendant) is not published on Bitcoin yet")
        anchoring_number = anchor.l2_block_number
        period = self.net.keystone_period
        relay_number = relay.update.transaction.block.number
        hemi_start = min(relay_number, anchoring_number - period if anchoring_number > period else anchoring_number)
        btc_end = min(self.tip, anchor.height + SUPERFINALITY_CONFIRMATIONS)
        if view_tip_height is not None:
            btc_end = max(btc_end, min(view_tip_height, self.tip))
        return _Plan(
            deposit=deposit,
            relay=relay,
            view=view,
            view_tip_height=view_tip_height,
            keystone_number=keystone_number,
            anchor=anchor,
            hemi_start=hemi_start,
            l1_info_tx=self.l1_info_txs.get(anchoring_number),
            btc_end=btc_end,
        )

    def _spans(self, plan: _Plan) -> tuple[list, list]:
        """The plan's Hemi and Bitcoin headers (hex, hash), checked complete."""
        anchoring_number = plan.anchor.l2_block_number
        hemi_blocks = _span(self.hemi_headers, plan.hemi_start, anchoring_number)
        if len(hemi_blocks) != anchoring_number - plan.hemi_start + 1:
            raise EvidenceUnavailable("Hemi blocks between the relay and the anchoring keystone are missing")
        if plan.l1_info_tx is None:
            raise EvidenceUnavailable(f"keystone block {anchoring_number} has no L1-info transaction")
        btc_blocks = _span(self.btc_headers, plan.deposit.block.height, plan.btc_end)
        if len(btc_blocks) != plan.btc_end - plan.deposit.block.height + 1:
            raise EvidenceUnavailable("Bitcoin headers between the deposit and the publication are missing")
        return hemi_blocks, btc_blocks

    def bundle(self, mint: DepositConfirmation) -> dict:
        """The mint's bundle; EvidenceUnavailable with the first check it fails. Claims are
        recomputed by the verifier from the chain bytes."""
        plan = self.plans[mint.pk]
        if isinstance(plan, EvidenceUnavailable):
            raise plan
        deposit, anchor = plan.deposit, plan.anchor
        anchoring_number = anchor.l2_block_number
        hemi_blocks, btc_blocks = self.spans[mint.pk]
        last_btc_hash = bytes(btc_blocks[-1][1])
        pub_tx = anchor.publication.transaction
        confirmations = plan.btc_end - anchor.height
        net = self.net
        return {
            "format": FORMAT,
            "network": {
                "name": net.name,
                "bitcoin_network": net.bitcoin_network,
                "tunnel_manager": net.tunnel_manager_address,
                "hemibtc": net.hemibtc_address,
                "keystone_period": net.keystone_period,
            },
            "claims": {
                "mint_tx_hash": "0x" + _hex(mint.transaction.hash),
                "deposit_txid": mint.deposit_txid_display,
                "deposit_vout": deposit.vout,
                "deposit_sats": int(mint.deposit_sats),
                "net_sats": int(mint.net_sats),
                "vault": "0x" + _hex(mint.vault),
                "vault_script": _hex(deposit.vault.custody_script),
                "recipient": "0x" + _hex(mint.recipient),
                "hvm_confirmations": (
                    plan.view_tip_height - deposit.block.height + 1 if plan.view_tip_height is not None else None
                ),
                "keystone_number": plan.keystone_number,
                "anchoring_keystone_number": anchoring_number,
                "anchoring_keystone_id": anchor.publication.keystone_id_display,
                "pop_txid": pub_tx.txid_display,
                "pop_vout": anchor.publication.vout,
                "publication_height": anchor.height,
                "bitcoin_tip_height": plan.btc_end,
                "bitcoin_tip_hash": last_btc_hash[::-1].hex(),
                "effective_confirmations": confirmations,
                "superfinal": confirmations >= SUPERFINALITY_CONFIRMATIONS,
                "hemi_last_block_hash": "0x" + _hex(hemi_blocks[-1][1]),
            },
            "bitcoin": {
                "start_height": deposit.block.height,
                "headers": [header for header, _ in btc_blocks],
                "deposit": _btc_tx(deposit.transaction),
                "pop": _btc_tx(pub_tx),
            },
            "hemi": {
                "start_number": plan.hemi_start,
                "headers": [header for header, _ in hemi_blocks],
                "mint": self.proofs.get(mint.transaction, receipt=True),
                "hvm_relay": self.proofs.get(plan.relay.update.transaction),
                "hvm_view": self.proofs.get(plan.view.transaction),
                "l1_info": self.proofs.get(plan.l1_info_tx),
            },
        }


def _merge(ranges) -> list[tuple[int, int]]:
    """Inclusive ranges merged where they overlap or touch (empty ones dropped)."""
    merged: list[list[int]] = []
    for lo, hi in sorted(r for r in ranges if r[0] <= r[1]):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    return [(lo, hi) for lo, hi in merged]


def _rows_in_ranges(qs, key: str, ranges, fields: tuple[str, str]) -> dict[int, tuple[str, bytes]]:
    """key -> (header as hex, hash) for the rows of ``qs`` in the union of ``ranges``, read in
    one query. Headers are hex-encoded once here: the chunk's bundles share most of them."""
    merged = _merge(ranges)
    if not merged:
        return {}
    where = reduce(or_, (Q(**{f"{key}__gte": lo, f"{key}__lte": hi}) for lo, hi in merged))
    return {k: (_hex(header), bytes(h)) for k, header, h in qs.filter(where).values_list(key, *fields)}


def _span(rows: dict[int, tuple[str, bytes]], start: int, end: int) -> list[tuple[str, bytes]]:
    """The rows from ``start`` to ``end`` present in ``rows``, in order (the caller compares the
    count with the range's length: a gap means blocks are missing)."""
    return [rows[k] for k in range(start, end + 1) if k in rows]


def _btc_tx(tx) -> dict:
    return {
        "height": tx.block.height,
        "tx_index": tx.tx_index,
        "raw_tx": _hex(tx.raw),
        "merkle_branch": [n.hex() for n in tx.merkle_branch_nodes()],
    }


class _Proofs:
    """The Merkle-Patricia proofs (transaction, and receipt for a mint) of every Hemi
    transaction the planned bundles name, computed once each. A block's transactions are read
    ``PROOF_BLOCKS`` blocks at a time and dropped once their proofs are made.

    A proof that cannot be made (``ordered_trie_proof`` refuses an empty value) is kept as its
    error and raised only when a bundle asks for it, after that bundle's earlier proofs - what
    building the bundle alone would raise, and no other bundle's concern."""

    def __init__(self, planned: list[tuple[DepositConfirmation, _Plan]]):
        wanted: dict[int, dict[int, bool]] = {}  # block id -> tx index -> receipt proof too?

        def want(tx, receipt=False) -> None:
            if tx is not None:
                indexes = wanted.setdefault(tx.block_id, {})
                indexes[tx.index] = indexes.get(tx.index, False) or receipt

        for mint, plan in planned:
            want(mint.transaction, receipt=True)
            want(plan.relay.update.transaction)
            want(plan.view.transaction)
            want(plan.l1_info_tx)
        self.numbers: dict[int, int] = {}
        self.incomplete: set[int] = set()
        self.tx_proofs: dict[tuple[int, int], list[str] | ValueError] = {}
        self.receipt_proofs: dict[tuple[int, int], list[str] | ValueError] = {}
        block_ids = sorted(wanted)
        for start in range(0, len(block_ids), PROOF_BLOCKS):
            group = block_ids[start : start + PROOF_BLOCKS]
            siblings: dict[int, list] = {b: [] for b in group}
            rows = (
                Transaction.objects.filter(block_id__in=group)
                .order_by("block_id", "index")
                .values_list("block_id", "block__number", "index", "raw", "receipt_raw")
            )
            for block_id, number, index, raw, receipt_raw in rows:
                self.numbers[block_id] = number
                siblings[block_id].append((index, bytes(raw), bytes(receipt_raw)))
            for block_id, txs in siblings.items():
                if [index for index, _, _ in txs] != list(range(len(txs))):
                    self.incomplete.add(block_id)
                    continue
                for index, receipt in wanted[block_id].items():
                    self.tx_proofs[block_id, index] = _proof([raw for _, raw, _ in txs], index)
                    if receipt:
                        self.receipt_proofs[block_id, index] = _proof([r for _, _, r in txs], index)

    def get(self, tx: Transaction, *, receipt: bool = False) -> dict:
        """``{number, tx_index, tx_proof[, receipt_proof]}`` of ``tx``, or what stops it."""
        if tx.block_id in self.incomplete:
            raise EvidenceUnavailable(f"Hemi block {self.numbers[tx.block_id]} is not fully indexed")
        out = {
            "number": self.numbers[tx.block_id],
            "tx_index": tx.index,
            "tx_proof": _raise_if_error(self.tx_proofs[tx.block_id, tx.index]),
        }
        if receipt:
            out["receipt_proof"] = _raise_if_error(self.receipt_proofs[tx.block_id, tx.index])
        return out


def _proof(values: list[bytes], index: int) -> list[str] | ValueError:
    try:
        return [p.hex() for p in ordered_trie_proof(values, index)]
    except ValueError as exc:
        return exc


def _raise_if_error(proof: list[str] | ValueError) -> list[str]:
    if isinstance(proof, ValueError):
        raise proof
    return proof
