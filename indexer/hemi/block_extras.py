"""The Hemi-specific rows of one block: hVM updates, PoP payouts, tunnel events, vaults, keystone.

Called by ``ingest.write_block`` inside its transaction, after the block's transactions and
logs exist (their ids are passed in). No network I/O.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db.models import Max

from indexer.hemi import derived, keystones
from indexer.hemi.models import (
    Block,
    DepositConfirmation,
    HvmHeader,
    HvmUpdate,
    Keystone,
    Log,
    PopPayout,
    PopPayoutEntry,
    Vault,
    WithdrawalChallenge,
    WithdrawalInitiation,
)
from indexer.hemi.verify import BlockRejected, PreparedBlock
from indexer.keystone import ZERO_HASH, is_keystone_number

logger = logging.getLogger(__name__)


class MissingPrevKeystone(Exception):
    """A keystone block whose previous keystone block (number - 25) is neither stored nor given."""

    def __init__(self, number: int, prev_number: int) -> None:
        self.number = number
        self.prev_number = prev_number
        super().__init__(f"keystone {number} needs the hash of block {prev_number}")


def insert_system_rows(prepared: PreparedBlock, block_id: int, tx_ids: list[int]) -> None:
    """hVM updates (+ headers) and PoP payouts (+ entries)."""
    block = prepared.block
    hvm_rows, payouts = [], []
    for tx, receipt, tx_id in zip(block.transactions or (), prepared.receipts, tx_ids, strict=True):
        try:
            h = derived.hvm_update_for(tx, receipt.status, block_id, tx_id)
            p = derived.pop_payout_for(tx, block_id, tx_id)
        except derived.SystemTxRejected as exc:
            # Raised inside the caller's transaction: everything of this block rolls back.
            raise BlockRejected(block.number, str(exc)) from exc
        if h is not None:
            hvm_rows.append(h)
        if p is not None:
            payouts.append(p)
    if hvm_rows:
        _create_with_children(HvmUpdate, HvmHeader, "update_id", [(h.update, h.headers) for h in hvm_rows])
    if payouts:
        _create_with_children(PopPayout, PopPayoutEntry, "payout_id", [(p.payout, p.entries) for p in payouts])


def _create_with_children(parent_model: Any, child_model: Any, fk: str, families: list[tuple[Any, list]]) -> None:
    """Insert ``(parent, children)`` pairs: the parents first (for their ids), then every child
    with its ``fk`` column pointing at its parent - two statements whatever the count."""
    parents = parent_model.objects.bulk_create([parent for parent, _ in families])
    children = []
    for parent, (_, kids) in zip(parents, families, strict=True):
        for child in kids:
            setattr(child, fk, parent.id)
            children.append(child)
    child_model.objects.bulk_create(children)


def insert_tunnel_rows(
    prepared: PreparedBlock,
    block_id: int,
    tx_ids: list[int],
    log_pairs: list[tuple[int, Any]],
    log_ids: list[int],
    manager: bytes | None,
) -> list[tuple[int, bytes]]:
    """Tunnel events from the configured manager; returns (index, address) of vaults created here."""
    if manager is None:
        return []
    txs = prepared.block.transactions or ()
    rows = derived.TunnelRows()
    for (i, log), log_id in zip(log_pairs, log_ids, strict=True):
        try:
            derived.tunnel_rows_for(log, txs[i], manager, (block_id, tx_ids[i], log_id), rows)
        except derived.events.EventDecodeError as exc:
            raise BlockRejected(prepared.block.number, f"tunnel manager log {log.log_index}: {exc}") from exc
    DepositConfirmation.objects.bulk_create(rows.deposits)
    WithdrawalInitiation.objects.bulk_create(rows.withdrawals)
    WithdrawalChallenge.objects.bulk_create(rows.challenges)
    return create_vaults([address for address, _ in rows.vaults_created], prepared.block.number)


def create_vaults(addresses: list[bytes], number: int) -> list[tuple[int, bytes]]:
    """Vault rows for VaultCreated events, in log order; returns their (index, address).

    VaultCreated carries no index; the manager numbers vaults 0, 1, 2… in creation order, so
    the next index is one past the highest stored (we index from the manager's deployment).
    ``vaults_ingest.read_custody`` later checks ``vaults(index) == address`` over RPC.
    """
    if not addresses:
        return []
    highest = Vault.objects.aggregate(m=Max("index"))["m"]
    next_index = 0 if highest is None else highest + 1
    created = [Vault(index=next_index + i, address=a, created_in_block=number) for i, a in enumerate(addresses)]
    Vault.objects.bulk_create(created)
    return [(v.index, bytes(v.address)) for v in created]


def reinstate_vaults(block_id: int, number: int, manager: bytes | None) -> list[tuple[int, bytes]]:
    """Vault rows again for a block that became canonical again (from its stored logs)."""
    if manager is None:
        return []
    addresses = [
        bytes(topic3)[12:]
        for topic3 in Log.objects.filter(block_id=block_id, address=manager, topic0=derived.events.VAULT_CREATED_TOPIC)
        .order_by("log_index")
        .values_list("topic3", flat=True)
    ]
    return create_vaults(addresses, number)


def insert_keystone(prepared: PreparedBlock, block_id: int, prev_keystone_hash: bytes | None) -> None:
    """The Keystone row of a keystone block (number a positive multiple of 25).

    The previous keystone's hash is the stored canonical block k-25 when we have it (the
    parent-hash chain guarantees it is the one this block descends from), else the hash the
    caller fetched for it.
    """
    block = prepared.block
    if not is_keystone_number(block.number):
        return
    if prepared.l1_origin_number is None:
        logger.warning(
            "keystone block has no L1-info transaction; keystone not recorded", extra={"number": block.number}
        )
        return
    prev_number = keystones.prev_keystone_number(block.number)
    if prev_number is None:
        prev_hash = ZERO_HASH
    else:
        stored = Block.objects.canonical().filter(number=prev_number).values_list("hash", flat=True).first()
        if stored is not None:
            prev_hash = bytes(stored)
        elif prev_keystone_hash is not None:
            prev_hash = prev_keystone_hash
        else:
            raise MissingPrevKeystone(block.number, prev_number)
    keystone = keystones.build_keystone(block, prev_hash, prepared.l1_origin_number)
    abrev = keystone.abbreviate()
    Keystone.objects.create(
        block_id=block_id,
        number=block.number,
        l1_block_number=keystone.l1_block_number,
        parent_ep_hash=keystone.parent_ep_hash,
        prev_ep_keystone_hash=keystone.prev_ep_keystone_hash,
        state_root=keystone.state_root,
        ep_hash=keystone.ep_hash,
        abrev=abrev.to_bytes(),
        keystone_id_internal=abrev.id_internal,
    )
