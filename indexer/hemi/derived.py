"""Rows derived from a Hemi block's transactions and logs (built in memory, saved by ingest).

Pure with respect to I/O: these functions take mapped records plus the ids of the Block /
Transaction / Log rows just inserted and return unsaved model instances; ``ingest.py`` saves
them inside its transaction.

* hVM updates: every ``updateHvmState`` call - the real 0x7C system transaction, and on the
  devnet an ordinary call from the impersonated system sender 0x8888…8888.
* PoP payouts: every 0x7D transaction whose data is a known ``mintPoPRewards`` variant.
* Tunnel events: the four BitcoinTunnelManager events, only when emitted by the configured
  manager (anyone can emit a log with the same topic0 from another contract).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from indexer.hashing import dsha256
from indexer.hemi import events, hvm, payout
from indexer.hemi.models import (
    DepositConfirmation,
    HvmHeader,
    HvmUpdate,
    PopPayout,
    PopPayoutEntry,
    WithdrawalChallenge,
    WithdrawalInitiation,
)
from indexer.hemi.records import BTC_ATTRIBUTES_TX, HEMI_SYSTEM_SENDER, POP_PAYOUT_TX, HemiLog, HemiTransaction

logger = logging.getLogger(__name__)


class SystemTxRejected(ValueError):
    """A 0x7C/0x7D system transaction whose data does not decode: the block is refused.

    op-geth decodes these strictly before executing them, so a real chain cannot contain
    one that fails here; if it does, our decoder or the node is wrong and we stop loudly.
    """


@dataclass
class HvmRows:
    update: HvmUpdate
    headers: list[HvmHeader]


def hvm_update_for(tx: HemiTransaction, status: int | None, block_id: int, tx_id: int) -> HvmRows | None:
    """Rows for an ``updateHvmState`` call in ``tx``, or None if ``tx`` is not one.

    1. A 0x7C transaction must decode (else :class:`SystemTxRejected`).
    2. An ordinary call counts only when it comes from the system sender and succeeded -
       otherwise any user could plant fake Bitcoin headers in the explorer's hVM view.
    """
    if tx.input[:4] != hvm.UPDATE_HVM_STATE_SELECTOR:
        if tx.tx_type == BTC_ATTRIBUTES_TX:
            raise SystemTxRejected(f"0x7C transaction 0x{tx.hash.hex()} does not call updateHvmState")
        return None
    if tx.tx_type == BTC_ATTRIBUTES_TX:
        source = HvmUpdate.SYSTEM_TX
    elif tx.from_address == HEMI_SYSTEM_SENDER and status == 1:
        source = HvmUpdate.CALL
    else:
        return None
    try:
        decoded = hvm.decode_update_hvm_state(tx.input)
    except hvm.HvmDecodeError as exc:
        if source == HvmUpdate.SYSTEM_TX:
            raise SystemTxRejected(f"0x7C transaction 0x{tx.hash.hex()}: {exc}") from exc
        logger.warning(
            "updateHvmState call from the system sender does not decode; not recorded",
            extra={"tx": "0x" + tx.hash.hex(), "error": str(exc)},
        )
        return None
    update = HvmUpdate(
        transaction_id=tx_id,
        block_id=block_id,
        source=source,
        canonical_tip_internal=decoded.canonical_tip_internal,
        header_count=len(decoded.headers),
    )
    headers = [
        HvmHeader(
            position=i,
            header_raw=raw,
            btc_hash_internal=dsha256(raw),
            prev_hash_internal=raw[4:36],  # header bytes 4..36: previous block hash, internal order
        )
        for i, raw in enumerate(decoded.headers)
    ]
    return HvmRows(update, headers)


@dataclass
class PayoutRows:
    payout: PopPayout
    entries: list[PopPayoutEntry] = field(default_factory=list)


def pop_payout_for(tx: HemiTransaction, block_id: int, tx_id: int) -> PayoutRows | None:
    if tx.tx_type != POP_PAYOUT_TX:
        return None
    if tx.input[:4] not in (payout.MINT_POP_REWARDS_V1_SELECTOR, payout.MINT_POP_REWARDS_V2_SELECTOR):
        # v2 payout contents are not confirmed (spec open question 3): log it, keep the tx row.
        logger.warning(
            "0x7D transaction with an unknown call; no payout rows",
            extra={"tx": "0x" + tx.hash.hex(), "selector": tx.input[:4].hex()},
        )
        return None
    try:
        call = payout.decode_mint_pop_rewards(tx.input)
    except payout.PayoutDecodeError as exc:
        raise SystemTxRejected(f"0x7D transaction 0x{tx.hash.hex()}: {exc}") from exc
    row = PopPayout(
        transaction_id=tx_id,
        block_id=block_id,
        variant="v1-uint256" if call.version == 1 else "v2-uint32",
        block_rewarded=call.block_rewarded,
        to=tx.to_address,
    )
    entries = [
        PopPayoutEntry(
            position=i,
            account=miner,
            amount=value if call.version == 1 else None,
            rel_pub_height=value if call.version == 2 else None,
        )
        for i, (miner, value) in enumerate(zip(call.miners, call.values, strict=True))
    ]
    return PayoutRows(row, entries)


@dataclass
class TunnelRows:
    deposits: list[DepositConfirmation] = field(default_factory=list)
    withdrawals: list[WithdrawalInitiation] = field(default_factory=list)
    challenges: list[WithdrawalChallenge] = field(default_factory=list)
    vaults_created: list[tuple[bytes, int]] = field(default_factory=list)  # (vault address, log index)


def tunnel_rows_for(
    log: HemiLog, tx: HemiTransaction, manager: bytes | None, ids: tuple[int, int, int], rows: TunnelRows
) -> None:
    """Append the rows for one log to ``rows`` if it is a tunnel event from ``manager``.

    ``ids`` = (block id, transaction id, log id). A log from the manager with a known
    topic0 but a wrong shape raises ``events.EventDecodeError`` (the block is refused).
    """
    if manager is None or log.address != manager:
        return
    event = events.decode_tunnel_event(log)
    if event is None:
        return
    block_id, tx_id, log_id = ids
    if isinstance(event, events.DepositConfirmed):
        rows.deposits.append(
            DepositConfirmation(
                log_id=log_id,
                transaction_id=tx_id,
                block_id=block_id,
                vault=event.vault,
                recipient=event.recipient,
                # topic3 is the DISPLAY-order txid; reversed once here into internal order.
                deposit_txid_internal=bytes.fromhex(event.deposit_txid_display)[::-1],
                deposit_sats=event.deposit_sats,
                net_sats=event.net_sats_after_fee,
            )
        )
    elif isinstance(event, events.WithdrawalInitiated):
        rows.withdrawals.append(
            WithdrawalInitiation(
                log_id=log_id,
                transaction_id=tx_id,
                block_id=block_id,
                vault=event.vault,
                withdrawer=event.withdrawer,
                btc_address=_withdrawal_address(tx, manager, event),
                btc_address_hash=event.btc_address_hash,
                withdrawal_sats=event.withdrawal_sats,
                net_sats=event.net_sats_after_fee,
                uuid=event.uuid,
            )
        )
    elif isinstance(event, events.WithdrawalChallengeSuccess):
        rows.challenges.append(
            WithdrawalChallenge(
                log_id=log_id, block_id=block_id, vault=event.vault, withdrawer=event.withdrawer, uuid=event.uuid
            )
        )
    elif isinstance(event, events.VaultCreated):
        rows.vaults_created.append((event.vault, log.log_index or 0))


def _withdrawal_address(tx: HemiTransaction, manager: bytes, event: events.WithdrawalInitiated) -> str:
    """The readable Bitcoin address: only in the input of a direct ``initiateWithdrawal`` call.

    The event holds just keccak(address); when the call went through another contract (a
    router, a multisig) the input is not the manager's, and the address stays blank rather
    than guessed. A decoded address must hash to the topic, or it is not the one emitted.
    """
    if tx.to_address != manager or tx.input[:4] != events.INITIATE_WITHDRAWAL_SELECTOR:
        return ""
    try:
        call = events.decode_initiate_withdrawal_input(tx.input)
    except events.EventDecodeError as exc:
        logger.warning(
            "initiateWithdrawal input does not decode", extra={"tx": "0x" + tx.hash.hex(), "error": str(exc)}
        )
        return ""
    if not event.btc_address_matches(call.btc_address):
        logger.warning("initiateWithdrawal address does not match the event topic", extra={"tx": "0x" + tx.hash.hex()})
        return ""
    return call.btc_address
