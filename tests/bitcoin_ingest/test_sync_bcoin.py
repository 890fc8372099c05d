"""Syncing from a real bcoin regtest node: PoP publications, tunnel deposits and payouts."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from devnet.btc import mine, send_and_wait_in_mempool
from devnet.btckeys import DevKey
from devnet.btctx import TxOutput, Utxo, build_p2pkh_spend, deposit_recipient_script_ascii, op_return_script
from indexer.bitcoin.address import address_from_script, script_from_address
from indexer.bitcoin.chain import VAULT_RESCAN
from indexer.bitcoin.decode import decode_tx
from indexer.bitcoin.merkle import verify_merkle_branch
from indexer.bitcoin.models import (
    BitcoinBlock,
    BitcoinTransaction,
    KeystoneFirstPublication,
    PopPublication,
    TunnelDeposit,
    VaultScript,
    VaultUtxo,
    WithdrawalPayout,
)
from indexer.bitcoin.sync import backfill, follow_tip, rescan_vault
from indexer.bitcoin.vaults import register_vault
from indexer.hashing import display_to_internal
from indexer.models import ChainCursor, WorkItem

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

VAULT_KEY = DevKey.from_label("bitcoin-ingest-vault")
VAULT_ADDRESS = bytes.fromhex("11" * 20)
RECIPIENT = "0x" + "ab" * 20
USER = DevKey.from_label("bitcoin-ingest-withdrawer")


def _register_vault() -> bytes:
    """The custody script goes through address.py, as the Hemi indexer will send it."""
    custody_address = address_from_script(VAULT_KEY.p2pkh_script, "regtest")
    assert custody_address == VAULT_KEY.p2pkh_address  # our encoder agrees with the devnet's
    script = script_from_address(custody_address, "regtest")
    register_vault(VAULT_ADDRESS, 0, script, custody_address, hemi_block=1)
    return script


def _assert_cursor_at_node_tip(btc_rpc) -> None:
    cursor = ChainCursor.objects.get(chain="bitcoin")
    assert cursor.height == btc_rpc.getblockcount()
    assert bytes(cursor.block_hash) == display_to_internal(btc_rpc.getbestblockhash())


def test_btc_sync_picks_up_a_pop_publication_and_a_tunnel_deposit(
    published_bcoin, btc_rpc, wallet, miner, keystones, pop_out
):
    script = _register_vault()
    keystone = keystones(7001)
    pop_txid = wallet.pay([pop_out(keystone)])
    deposit_txid = wallet.pay([TxOutput(script, 2_000_000), TxOutput(deposit_recipient_script_ascii(RECIPIENT), 0)])
    mine(btc_rpc, 1, miner.p2pkh_address)

    out = io.StringIO()
    call_command("btc_sync", stdout=out)
    assert "cursor at" in out.getvalue()
    _assert_cursor_at_node_tip(btc_rpc)
    assert BitcoinBlock.objects.active().count() == btc_rpc.getblockcount() + 1  # genesis included

    pub = PopPublication.objects.get(transaction__txid_internal=display_to_internal(pop_txid))
    assert bytes(pub.keystone_id_internal) == keystone.id_internal
    assert pub.l2_block_number == 25 * 7001
    assert bytes(pub.miner_hemi_address).hex() == miner.evm_address[2:]  # the wallet signs with the miner key
    first = KeystoneFirstPublication.objects.get(keystone_id_internal=keystone.id_internal)
    assert first.publication_id == pub.id and first.height == pub.block.height

    deposit = TunnelDeposit.objects.get(transaction__txid_internal=display_to_internal(deposit_txid))
    assert deposit.vault == VaultScript.objects.get(vault_address=VAULT_ADDRESS)
    assert (deposit.vout, deposit.value_sats) == (0, 2_000_000)
    assert bytes(deposit.recipient).hex() == RECIPIENT[2:] and deposit.recipient_format == "ascii-42"
    assert VaultUtxo.objects.filter(txid_internal=display_to_internal(deposit_txid), vout=0).exists()

    for stored in BitcoinTransaction.objects.filter(id__in=[pub.transaction_id, deposit.transaction_id]):
        tx = decode_tx(bytes(stored.raw))
        assert verify_merkle_branch(
            tx.txid_internal, stored.merkle_branch_nodes(), stored.tx_index, bytes(stored.block.merkle_root_internal)
        )

    # Running again is a no-op.
    counts = (BitcoinBlock.objects.count(), PopPublication.objects.count(), TunnelDeposit.objects.count())
    call_command("btc_sync", stdout=io.StringIO())
    assert (BitcoinBlock.objects.count(), PopPublication.objects.count(), TunnelDeposit.objects.count()) == counts


def test_a_vault_payout_spending_a_deposit_is_recognised(source, btc_rpc, wallet, miner):
    script = _register_vault()
    deposit_txid = wallet.pay([TxOutput(script, 3_000_000), TxOutput(deposit_recipient_script_ascii(RECIPIENT), 0)])
    mine(btc_rpc, 1, miner.p2pkh_address)
    follow_tip(source, bitcoin_network="regtest", start_height=0)

    # The operator's payout: one input (the vault UTXO); [0] to the user, [1] change to the
    # vault, [2] OP_RETURN with withdrawal index 5. Leftover below dust becomes the fee.
    outputs = [
        TxOutput(USER.p2pkh_script, 1_000_000),
        TxOutput(script, 1_999_200),  # change above the deposit minimum: still not a deposit
        TxOutput(op_return_script((5).to_bytes(4, "big")), 0),
    ]
    vault_utxo = Utxo(deposit_txid, 0, 3_000_000, script)
    payout = build_p2pkh_spend(VAULT_KEY, [vault_utxo], outputs)
    assert len(payout.vout) == 3
    payout_txid = send_and_wait_in_mempool(btc_rpc, payout)
    mine(btc_rpc, 1, miner.p2pkh_address)
    result = follow_tip(source, bitcoin_network="regtest")

    assert result.ingested == 1
    row = WithdrawalPayout.objects.get(transaction__txid_internal=display_to_internal(payout_txid))
    assert (row.withdrawal_index, row.amount_sats, bytes(row.payout_script)) == (5, 1_000_000, USER.p2pkh_script)
    assert not TunnelDeposit.objects.filter(transaction=row.transaction).exists()
    # the change is the vault's next UTXO
    assert VaultUtxo.objects.filter(txid_internal=display_to_internal(payout_txid), vout=1).exists()
    _assert_cursor_at_node_tip(btc_rpc)


def test_a_vault_registered_late_is_found_by_the_rescan(source, btc_rpc, wallet, miner, caplog):
    custody = VAULT_KEY.p2pkh_script
    deposit_txid = wallet.pay([TxOutput(custody, 3_000_000), TxOutput(deposit_recipient_script_ascii(RECIPIENT), 0)])
    mine(btc_rpc, 1, miner.p2pkh_address)
    follow_tip(source, bitcoin_network="regtest", start_height=0)
    assert not TunnelDeposit.objects.exists()

    assert register_vault(VAULT_ADDRESS, 0, custody, VAULT_KEY.p2pkh_address, hemi_block=1) is True
    # registering again is not new and records nothing more
    assert register_vault(VAULT_ADDRESS, 0, custody, VAULT_KEY.p2pkh_address, hemi_block=1) is False
    # The rescan is a durable work item, written with the vault (one per vault).
    item = WorkItem.objects.get(kind=VAULT_RESCAN)
    assert item.key == "0x" + VAULT_ADDRESS.hex() and item.state == WorkItem.PENDING
    # The creation time is unknown, so the rescan covers every scanned block (and says so).
    assert "rescanning every scanned Bitcoin block" in caplog.text

    vault = VaultScript.objects.get(vault_address=VAULT_ADDRESS)
    assert item.payload == {"vault_id": vault.id, "from_height": 0}
    next_height = 0
    while next_height is not None:
        next_height = rescan_vault(source, vault.id, next_height, max_blocks=100)
    deposit = TunnelDeposit.objects.get(transaction__txid_internal=display_to_internal(deposit_txid))
    assert deposit.value_sats == 3_000_000 and deposit.block.in_active_chain
    # a rescan is idempotent (the shared chain may hold earlier tests' deposits to this script)
    found = TunnelDeposit.objects.count()
    assert rescan_vault(source, vault.id, deposit.block.height, max_blocks=1) is None
    assert TunnelDeposit.objects.count() == found


def test_a_different_script_for_a_known_vault_is_refused():
    register_vault(VAULT_ADDRESS, 0, VAULT_KEY.p2pkh_script, "x", hemi_block=1)
    with pytest.raises(ValueError, match="registered with script"):
        register_vault(VAULT_ADDRESS, 0, USER.p2pkh_script, "y", hemi_block=1)


def test_backfill_stops_at_the_requested_height_and_refuses_gaps(source, btc_rpc, miner):
    mine(btc_rpc, 3, miner.p2pkh_address)
    result = backfill(source, 0, 10, bitcoin_network="regtest")
    assert result.cursor_height == 10 and result.ingested == 11
    with pytest.raises(Exception, match="blocks are written in order"):
        backfill(source, 20, 30, bitcoin_network="regtest")
    result = backfill(source, 5, 12, bitcoin_network="regtest")  # already stored below the cursor
    assert result.cursor_height == 12 and result.ingested == 2


def test_btc_sync_without_a_source_is_a_clear_error(monkeypatch, settings, tmp_path):
    settings.HEMI_NETWORK = "devnet"
    monkeypatch.setenv("DEVNET_STATE_FILE", str(tmp_path / "no-devnet.json"))
    monkeypatch.setenv("BITCOIN_RPC_URL", "")
    monkeypatch.setenv("BITCOIN_ESPLORA_URL", "")
    with pytest.raises(CommandError, match="no Bitcoin source"):
        call_command("btc_sync")


def test_btc_sync_against_an_unreachable_node_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("BITCOIN_RPC_URL", "http://x:y@127.0.0.1:9/")
    with pytest.raises(CommandError, match="unreachable"):
        call_command("btc_sync")


def test_an_index_starting_above_genesis_anchors_on_stored_headers(source, btc_rpc, miner):
    mine(btc_rpc, 2, miner.p2pkh_address)
    start = btc_rpc.getblockcount() - 5
    result = follow_tip(source, bitcoin_network="regtest", start_height=start)
    assert result.ingested == 6
    # The anchor: headers only (no body scanned) below the start height, enough for the rules.
    assert not BitcoinBlock.objects.filter(height__lt=start, scanned_at__isnull=False).exists()
    assert BitcoinBlock.objects.filter(height__lt=start).count() == start  # from 0: regtest's period start
    assert BitcoinBlock.objects.filter(height__gte=start, scanned_at__isnull=False).count() == 6
    _assert_cursor_at_node_tip(btc_rpc)
