"""Tunnel vaults on the Bitcoin side: registration, deposit/payout detection, and rescans.

``indexer.crosschain`` learns a vault's custody script from the Hemi side and calls
``register_vault``. Blocks ingested after that see the vault; blocks scanned before it are
rescanned: the registration records a ``bitcoin.vault_rescan`` work item in its own
transaction (``indexer.core.work``), so the rescan cannot be lost with a broker message.

Ordering between registration and block ingestion is made safe by the Bitcoin writer lock
(``chain.WRITER``) that both take: ingestion reads the vault table *inside* its locked
transaction, and registration reads the cursor under the same lock, so every block is either
ingested knowing the vault or lies inside the rescan range.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import psycopg
from django.db import connection, transaction

from indexer.bitcoin import tunnel
from indexer.bitcoin.chain import CHAIN, VAULT_RESCAN, WRITER
from indexer.bitcoin.decode import Block
from indexer.bitcoin.models import (
    BitcoinBlock,
    TunnelDeposit,
    VaultOutflow,
    VaultScript,
    VaultSpend,
    VaultUtxo,
    WithdrawalPayout,
)
from indexer.bitcoin.txrows import store_transactions
from indexer.core import cursor, work
from indexer.core.cursor import CHAIN_CHANGED

log = logging.getLogger(__name__)

# Bitcoin block times may run up to 2 h ahead of real time and median-time-past lags about an
# hour, so a block mined after a Hemi block can carry a timestamp up to ~2 h before it; 3 h
# leaves room for Hemi's own clock.
RESCAN_TIME_MARGIN_S = 3 * 60 * 60
RECIPIENT_FORMATS = {"binary": "binary-22", "ascii-hex": "ascii-42"}
# check_deposit reasons for which the payment itself qualifies but the recipient does not: an
# auditor must see these (the vault holds the coins), stored with recipient NULL.
_BAD_RECIPIENT = frozenset({"no-recipient", "recipient-bad-hex", "recipient-zero-address"})


def vault_scripts() -> dict[bytes, int]:
    """custody scriptPubKey -> VaultScript id, for every registered vault."""
    return {bytes(script): pk for pk, script in VaultScript.objects.values_list("id", "custody_script")}


# --------------------------------------------------------------------------- detection


@dataclass
class TunnelActivity:
    """What one block does to the tunnel, as (tx_index, ...) tuples ready to be written."""

    vault_outputs: list[tuple[int, int, int, int]] = field(default_factory=list)  # tx_index, vout, vault, sats
    deposits: list[tuple[int, int, int, int, bytes | None, str]] = field(default_factory=list)
    payouts: list[tuple[int, int, int, bytes, int]] = field(default_factory=list)  # tx, vault, index, script, sats
    # tx_index, input index, vault, spent txid, spent vout, spent sats
    spends: list[tuple[int, int, int, bytes, int, int]] = field(default_factory=list)
    # tx_index, vault, kind, inputs, vault inputs, spent, outputs, to vault, payout, network fee
    outflows: list[tuple[int, int, str, int, int, int, int, int, int, int | None]] = field(default_factory=list)

    @property
    def tx_indexes(self) -> set[int]:
        return {d[0] for d in self.deposits} | {p[0] for p in self.payouts} | {o[0] for o in self.outflows}


def known_vault_outpoints(txids_internal: Iterable[bytes]) -> dict[tuple[bytes, int], tuple[int, int]]:
    """(txid, vout) -> (vault id, sats) for vault outputs created on the ACTIVE chain by these
    txids: every input of a block is looked up (any may spend a vault output), thousands on a
    full block, so the txids travel as one binary array parameter (Django's client-side binding
    would quote each into the SQL text, as ``txrows.insert_ignoring_conflicts`` explains)."""
    txids = list(set(txids_internal))
    if not txids:
        return {}
    utxo, block = VaultUtxo._meta.db_table, BitcoinBlock._meta.db_table
    sql = (
        f"SELECT u.txid_internal, u.vout, u.vault_id, u.value_sats FROM {utxo} u"  # noqa: S608
        f" JOIN {block} b ON b.id = u.block_id WHERE b.in_active_chain AND u.txid_internal = ANY(%b::bytea[])"
    )
    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cur:
        cur.execute(sql, [txids], prepare=False)  # never a named prepared statement (poolers)
        rows = cur.fetchall()
    return {(bytes(t), v): (vault, sats) for t, v, vault, sats in rows}


def detect_tunnel_activity(
    block: Block,
    scripts: dict[bytes, int],
    lookup: Callable[[Iterable[bytes]], dict[tuple[bytes, int], tuple[int, int]]] = known_vault_outpoints,
) -> TunnelActivity:
    """Deposits, payouts, vault outputs and vault spends of ``block`` for the vaults in ``scripts``.

    1. Nothing to do without vaults (the common case on a fresh index: no transaction parsing).
    2. Look up, in one query, the vault outpoints this block's inputs spend (any input may
       spend a vault output; single-input ones may be payouts, spec §6.4).
    3. Walk the transactions in block order: a spend may consume a vault output created earlier
       in the same block, so each transaction's vault outputs join the known set after it. A
       payout is never also a deposit (its change pays the vault, often with >= 0.01 BTC).
       Every transaction spending a vault output is summed into an outflow (``VaultOutflow``).
    """
    activity = TunnelActivity()
    if not scripts:
        return activity
    txs = block.txs
    spent = [i.prev_txid_internal for tx in txs[1:] for i in tx.inputs]
    values = {key: (str(vault), sats) for key, (vault, sats) in lookup(spent).items()}
    known = {key: vault for key, (vault, _) in values.items()}
    by_script = {script: str(vault) for script, vault in scripts.items()}
    for tx_index, tx in enumerate(txs):
        if tx_index:  # the coinbase can neither deposit nor pay out
            payout = tunnel.find_withdrawal_payout(tx, known, by_script)
            if payout is not None:
                activity.payouts.append(
                    (tx_index, int(payout.vault), payout.withdrawal_index, payout.payout_script, payout.amount_sats)
                )
            _record_spends(activity, tx_index, tx, values, by_script, payout)
            # A payout's change back to the vault is the vault's own money, not a user deposit.
            check = tunnel.DepositCheck(None, "payout") if payout is not None else tunnel.check_deposit(tx, by_script)
            if check.deposit is not None:
                d = check.deposit
                recipient = bytes.fromhex(d.recipient[2:])
                activity.deposits.append(
                    (tx_index, d.vout, int(d.vault), d.value_sats, recipient, RECIPIENT_FORMATS[d.recipient_format])
                )
            elif check.reason in _BAD_RECIPIENT:
                vout, vault, sats = _first_qualifying_payment(tx, by_script)
                activity.deposits.append((tx_index, vout, int(vault), sats, None, ""))
        for vout, out in enumerate(tx.outputs):
            vault = by_script.get(out.script_pubkey)
            if vault is not None:
                activity.vault_outputs.append((tx_index, vout, int(vault), out.value_sats))
                known[(tx.txid_internal, vout)] = vault
                values[(tx.txid_internal, vout)] = (vault, out.value_sats)
    return activity


def _record_spends(
    activity: TunnelActivity,
    tx_index: int,
    tx,
    values: dict[tuple[bytes, int], tuple[str, int]],
    by_script: dict[bytes, str],
    payout: tunnel.WithdrawalPayout | None,
) -> None:
    """The vault inputs of one transaction and its outflow summary (nothing if it spends no
    vault output). Consolidation: every input a vault's and every output with value pays a
    vault (an OP_RETURN of 0 sat is allowed): only the network fee leaves."""
    mine = [(n, values[(i.prev_txid_internal, i.vout)]) for n, i in enumerate(tx.inputs)
            if (i.prev_txid_internal, i.vout) in values]  # fmt: skip
    if not mine:
        return
    for n, (vault, sats) in mine:
        i = tx.inputs[n]
        activity.spends.append((tx_index, n, int(vault), i.prev_txid_internal, i.vout, sats))
    spent = sum(sats for _, (_, sats) in mine)
    outputs = sum(o.value_sats for o in tx.outputs)
    to_vault = sum(o.value_sats for o in tx.outputs if o.script_pubkey in by_script)
    all_vault_inputs = len(mine) == len(tx.inputs)
    fee = spent - outputs if all_vault_inputs else None
    if payout is not None:
        kind, paid = VaultOutflow.PAYOUT, payout.amount_sats
    elif all_vault_inputs and all(o.script_pubkey in by_script or o.value_sats == 0 for o in tx.outputs):
        kind, paid = VaultOutflow.CONSOLIDATION, 0
    else:
        kind, paid = VaultOutflow.OTHER, 0
    vault = int(mine[0][1][0])
    activity.outflows.append((tx_index, vault, kind, len(tx.inputs), len(mine), spent, outputs, to_vault, paid, fee))


def _first_qualifying_payment(tx, by_script: dict[bytes, str]) -> tuple[int, str, int]:
    """The output check_deposit accepted as the payment (it then refused the recipient)."""
    for vout, out in enumerate(tx.outputs[: tunnel.MAX_DEPOSIT_OUTPUTS]):
        vault = by_script.get(out.script_pubkey)
        if vault is not None and out.value_sats >= tunnel.MIN_DEPOSIT_SATS:
            return vout, vault, out.value_sats
    raise AssertionError("check_deposit reported a recipient problem without a qualifying payment")


def write_tunnel_activity(
    block_id: int, block: Block, activity: TunnelActivity, tx_ids: dict[int, int] | None = None
) -> None:
    """Insert the activity's rows (idempotent). Runs inside the caller's locked transaction."""
    if not (activity.vault_outputs or activity.deposits or activity.payouts or activity.outflows):
        return
    missing = activity.tx_indexes - set(tx_ids or {})
    tx_ids = {**(tx_ids or {}), **store_transactions(block_id, block, missing)}
    txids = block.txids_internal
    VaultUtxo.objects.bulk_create(
        [
            VaultUtxo(block_id=block_id, vault_id=vault, txid_internal=txids[i], vout=vout, value_sats=sats)
            for i, vout, vault, sats in activity.vault_outputs
        ],
        ignore_conflicts=True,
    )
    TunnelDeposit.objects.bulk_create(
        [
            TunnelDeposit(
                transaction_id=tx_ids[i],
                block_id=block_id,
                vout=vout,
                vault_id=vault,
                value_sats=sats,
                recipient=recipient,
                recipient_format=fmt,
            )
            for i, vout, vault, sats, recipient, fmt in activity.deposits
        ],
        ignore_conflicts=True,
    )
    WithdrawalPayout.objects.bulk_create(
        [
            WithdrawalPayout(
                transaction_id=tx_ids[i],
                block_id=block_id,
                vault_id=vault,
                withdrawal_index=index,
                payout_script=script,
                amount_sats=sats,
            )
            for i, vault, index, script, sats in activity.payouts
        ],
        ignore_conflicts=True,
    )
    VaultSpend.objects.bulk_create(
        [
            VaultSpend(
                block_id=block_id,
                transaction_id=tx_ids[i],
                input_index=n,
                vault_id=vault,
                spent_txid_internal=txid,
                spent_vout=vout,
                value_sats=sats,
            )
            for i, n, vault, txid, vout, sats in activity.spends
        ],
        ignore_conflicts=True,
    )
    VaultOutflow.objects.bulk_create(
        [
            VaultOutflow(
                block_id=block_id,
                transaction_id=tx_ids[i],
                vault_id=vault,
                kind=kind,
                input_count=inputs,
                vault_input_count=mine,
                spent_sats=spent,
                output_sats=outputs,
                to_vault_sats=to_vault,
                payout_sats=paid,
                network_fee_sats=fee,
            )
            for i, vault, kind, inputs, mine, spent, outputs, to_vault, paid, fee in activity.outflows
        ],
        ignore_conflicts=True,
    )


# --------------------------------------------------------------------------- registration


def vault_key(vault_address: bytes) -> str:
    """The work-item key of a vault: its Hemi contract address, 0x-hex."""
    return "0x" + bytes(vault_address).hex()


def record_vault_change(vault_address: bytes) -> None:
    """Record, in the caller's transaction, that what depends on this vault may have changed
    (it was registered, a rescan chunk ran): a ``chain.changed`` item naming it, handled above
    the chains (stored verdicts). A fresh key each time: every change is its own item."""
    key = vault_key(vault_address)
    work.add([work.Work(CHAIN_CHANGED, f"vault:{key}:{uuid.uuid4().hex}", {"vault": key})])


def register_vault(
    vault_address: bytes,
    vault_index: int,
    custody_script: bytes,
    custody_address: str,
    hemi_block: int,
    *,
    not_before_time: int | None = None,
) -> bool:
    """Record a vault's custody script; True if it is new.

    ``hemi_block`` is the Hemi block of the vault's ``VaultCreated``; ``not_before_time`` that
    block's timestamp (the caller knows Hemi, this package does not): the rescan starts at the
    Bitcoin block mined around then. Raises ValueError if the vault is known with a different
    script: the contract sets the custody address once, so a change means one of the two
    reads was wrong.

    A new vault with blocks already scanned gets a ``bitcoin.vault_rescan`` work item, written
    in the same transaction as the vault (the caller's, when it runs inside one: the Hemi
    custody row, the vault and its rescan then commit together).
    """
    vault_address = bytes(vault_address)
    custody_script = bytes(custody_script)
    # Short transaction under the writer lock, so the cursor read below is exactly where
    # ingestion without this vault stopped (see module docstring).
    with transaction.atomic():
        WRITER.acquire()
        existing = VaultScript.objects.filter(vault_address=vault_address).first()
        if existing is not None:
            if bytes(existing.custody_script) != custody_script:
                raise ValueError(
                    f"vault 0x{vault_address.hex()} is registered with script {bytes(existing.custody_script).hex()}, "
                    f"not {custody_script.hex()}"
                )
            return False
        vault = VaultScript.objects.create(
            vault_address=vault_address,
            vault_index=vault_index,
            custody_script=custody_script,
            custody_address=custody_address,
            discovered_at_hemi_block=hemi_block,
        )
        record_vault_change(vault_address)
        position = cursor.position(CHAIN)
        if position is None:
            return True  # nothing scanned yet: ingestion will see the vault from the start
        from_height = rescan_start_height(not_before_time)
        if from_height is None or from_height > position[0]:
            return True
        work.add(
            [work.Work(VAULT_RESCAN, vault_key(vault_address), {"vault_id": vault.pk, "from_height": from_height})]
        )
    log.info(
        "vault registered, rescan recorded",
        extra={"vault": vault_key(vault_address), "vault_id": vault.pk, "from_height": from_height},
    )
    return True


def rescan_start_height(not_before_time: int | None) -> int | None:
    """First scanned Bitcoin height that can hold a deposit to a vault created at unix time
    ``not_before_time`` (None: unknown), or None when nothing is scanned.

    Why this bound: the custody address can only be set on a vault that exists, and the vault
    requires it to hold no UTXOs when set, so nothing before the vault's creation can be a
    deposit. Re-fetching every block since the network's start height would cost a full
    re-download (over 100 000 blocks on mainnet) per vault. When the creation time is unknown
    (the Hemi indexer has not stored that block), fall back to the start of the scanned range,
    loudly: slow but never wrong.
    """
    lowest = BitcoinBlock.objects.active().filter(scanned_at__isnull=False).order_by("height").first()
    if lowest is None:
        return None
    if not_before_time is None:
        log.warning(
            "vault creation time unknown, rescanning every scanned Bitcoin block",
            extra={"from_height": lowest.height},
        )
        return lowest.height
    return (
        BitcoinBlock.objects.active()
        .filter(scanned_at__isnull=False, time__gte=not_before_time - RESCAN_TIME_MARGIN_S)
        .order_by("height")
        .values_list("height", flat=True)
        .first()
    )


def rescan_block(block: Block, vault_id: int) -> bool:
    """Re-run tunnel detection for one vault on an already-ingested block; False if the block
    is not (or no longer) on the active chain. Idempotent: every insert ignores conflicts."""
    # One short transaction per block, under the writer lock so it cannot interleave with a
    # reorg marking this block orphaned.
    with transaction.atomic():
        WRITER.acquire()
        block_id = (
            BitcoinBlock.objects.active().filter(hash_internal=block.hash_internal).values_list("id", flat=True).first()
        )
        if block_id is None:
            return False
        script = VaultScript.objects.values_list("custody_script", flat=True).get(pk=vault_id)
        activity = detect_tunnel_activity(block, {bytes(script): vault_id})
        write_tunnel_activity(block_id, block, activity)
    return True
