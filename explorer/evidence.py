"""Evidence bundles: everything needed to re-verify a hemiBTC mint's provenance offline.

The bundle holds raw chain bytes (Bitcoin headers and transactions with merkle branches, Hemi
RLP headers, Merkle-Patricia proofs of transactions and receipts) plus claims that the
verifier (``explorer/verify.py``) recomputes. Serialization is canonical JSON, so the same rows
always give the same bytes.
"""

from __future__ import annotations

from explorer import anchoring, tunnel_audit
from explorer.at import At
from explorer.finality import SUPERFINALITY_CONFIRMATIONS
from explorer.verify import FORMAT, canonical_bytes
from hemiscope import networks
from indexer.bitcoin.models import BitcoinBlock
from indexer.hemi.models import Block, DepositConfirmation, HvmHeader, Transaction
from indexer.hemi.mpt import ordered_trie_proof
from indexer.keystone import keystone_number_for


class EvidenceUnavailable(Exception):
    """The provenance chain is not complete enough (yet) to export verifiable evidence."""


def _hex(raw) -> str:
    return bytes(raw).hex()


def _block_txs(block: Block) -> list[Transaction]:
    return list(Transaction.objects.filter(block=block).order_by("index").only("index", "raw", "receipt_raw"))


def _tx_proof(tx: Transaction, *, receipt: bool = False) -> dict:
    siblings = _block_txs(tx.block)
    if [t.index for t in siblings] != list(range(len(siblings))):
        raise EvidenceUnavailable(f"Hemi block {tx.block.number} is not fully indexed")
    out = {
        "number": tx.block.number,
        "tx_index": tx.index,
        "tx_proof": [p.hex() for p in ordered_trie_proof([bytes(t.raw) for t in siblings], tx.index)],
    }
    if receipt:
        receipts = [bytes(t.receipt_raw) for t in siblings]
        out["receipt_proof"] = [p.hex() for p in ordered_trie_proof(receipts, tx.index)]
    return out


def _btc_tx(tx) -> dict:
    return {
        "height": tx.block.height,
        "tx_index": tx.tx_index,
        "raw_tx": _hex(tx.raw),
        "merkle_branch": [n.hex() for n in tx.merkle_branch_nodes()],
    }


def build_bundle(mint: DepositConfirmation, at: At | None = None) -> dict:
    """Collect the evidence for one mint.

    1. The Bitcoin deposit (tx, branch) and the hVM updates that relayed it / framed the mint.
    2. The covering keystone and the first Bitcoin publication anchoring it (or a descendant).
    3. Hemi RLP headers from the earliest block needed up to the anchoring keystone.
    4. Bitcoin headers from the deposit up to the publication's 10th confirmation (or the tip).
    5. Claims, recomputed by the verifier from all of the above.

    At a position (``at``: ``explorer.at``) the bundle is the one the explorer would have
    exported there: its deposit, publication and Bitcoin headers at or below the height (the
    claimed tip and confirmations counted to it), keystones at or below the Hemi block.
    """
    net = networks.current()
    if not mint.canonical:
        raise EvidenceUnavailable("the mint is not on the canonical Hemi chain")
    if (flagged := tunnel_audit.integrity_wait(mint.block)) is not None:
        raise EvidenceUnavailable(f"pending ({flagged})")
    deposit = tunnel_audit.deposit_for(mint, at)
    if deposit is None and (waiting := tunnel_audit.deposit_wait_reason(mint, at)) is not None:
        raise EvidenceUnavailable(f"pending ({waiting})")
    if deposit is None or not deposit.block.in_active_chain:
        raise EvidenceUnavailable("no deposit on the active Bitcoin chain backs this mint")
    relay = (
        HvmHeader.objects.filter(
            btc_hash_internal=deposit.block.hash_internal,
            update__canonical=True,
            update__block__number__lte=mint.block.number,
        )
        .select_related("update__transaction__block")
        .order_by("update__block__number", "update__transaction__index")
        .first()
    )
    view = tunnel_audit.hvm_view_at(mint.block.number)
    if relay is None or view is None:
        raise EvidenceUnavailable("the deposit block was never relayed into the hVM before the mint")
    view_tip = BitcoinBlock.objects.filter(hash_internal=view.canonical_tip_internal).first()
    if at is not None and view_tip is not None and view_tip.height > at.btc_height:
        # Its headers would reach past the position; there the hVM tip was not indexed yet.
        raise EvidenceUnavailable(tunnel_audit.HVM_TIP_ABOVE_POSITION.format(tip=view_tip.height, height=at.btc_height))
    keystone_number = keystone_number_for(mint.block.number)
    anchor = anchoring.first_anchor(keystone_number, at)
    if anchor is None:
        raise EvidenceUnavailable(f"keystone {keystone_number} (or a descendant) is not published on Bitcoin yet")
    anchoring_number = anchor.l2_block_number
    period = net.keystone_period

    relay_number = relay.update.transaction.block.number
    hemi_start = min(relay_number, anchoring_number - period if anchoring_number > period else anchoring_number)
    hemi_blocks = list(
        Block.objects.canonical()
        .filter(number__gte=hemi_start, number__lte=anchoring_number)
        .order_by("number")
        .values_list("number", "header_rlp")
    )
    if len(hemi_blocks) != anchoring_number - hemi_start + 1:
        raise EvidenceUnavailable("Hemi blocks between the relay and the anchoring keystone are missing")
    l1_info_tx = Transaction.objects.filter(block__number=anchoring_number, block__canonical=True, index=0).first()
    if l1_info_tx is None:
        raise EvidenceUnavailable(f"keystone block {anchoring_number} has no L1-info transaction")

    tip = anchoring.bitcoin_tip_height(at)
    btc_end = min(tip, anchor.height + SUPERFINALITY_CONFIRMATIONS)
    if view_tip is not None:
        btc_end = max(btc_end, min(view_tip.height, tip))
    btc_blocks = list(
        BitcoinBlock.objects.active()
        .filter(height__gte=deposit.block.height, height__lte=btc_end)
        .order_by("height")
        .values_list("height", "header_raw", "hash_internal")
    )
    if len(btc_blocks) != btc_end - deposit.block.height + 1:
        raise EvidenceUnavailable("Bitcoin headers between the deposit and the publication are missing")
    last_btc_hash = bytes(btc_blocks[-1][2])
    pub_tx = anchor.publication.transaction
    confirmations = btc_end - anchor.height
    return {
        "format": FORMAT,
        "network": {
            "name": net.name,
            "bitcoin_network": net.bitcoin_network,
            "tunnel_manager": net.tunnel_manager_address,
            "hemibtc": net.hemibtc_address,
            "keystone_period": period,
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
            "hvm_confirmations": (view_tip.height - deposit.block.height + 1) if view_tip else None,
            "keystone_number": keystone_number,
            "anchoring_keystone_number": anchoring_number,
            "anchoring_keystone_id": anchor.publication.keystone_id_display,
            "pop_txid": pub_tx.txid_display,
            "pop_vout": anchor.publication.vout,
            "publication_height": anchor.height,
            "bitcoin_tip_height": btc_end,
            "bitcoin_tip_hash": last_btc_hash[::-1].hex(),
            "effective_confirmations": confirmations,
            "superfinal": confirmations >= SUPERFINALITY_CONFIRMATIONS,
            "hemi_last_block_hash": "0x" + _hex(Block.objects.canonical().get(number=anchoring_number).hash),
        },
        "bitcoin": {
            "start_height": deposit.block.height,
            "headers": [_hex(raw) for _, raw, _ in btc_blocks],
            "deposit": _btc_tx(deposit.transaction),
            "pop": _btc_tx(pub_tx),
        },
        "hemi": {
            "start_number": hemi_start,
            "headers": [_hex(raw) for _, raw in hemi_blocks],
            "mint": _tx_proof(mint.transaction, receipt=True),
            "hvm_relay": _tx_proof(relay.update.transaction),
            "hvm_view": _tx_proof(view.transaction),
            "l1_info": _tx_proof(l1_info_tx),
        },
    }


def export_bytes(mint: DepositConfirmation, at: At | None = None) -> bytes:
    return canonical_bytes(build_bundle(mint, at))
