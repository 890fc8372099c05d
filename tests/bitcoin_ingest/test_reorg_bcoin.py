"""A real reorg of depth 6 on bcoin (side chain built in Python, submitted with submitblock).

The orphaned branch holds two PoP publications (keystones A and B) and a tunnel deposit; the
winning branch re-includes the transaction publishing A, but not the one publishing B.
"""

from __future__ import annotations

import pytest

from devnet.btc import CoinbaseWallet, build_block_on, mine, send_and_wait_in_mempool, submit_block
from devnet.btckeys import DevKey
from devnet.btctx import TxOutput, deposit_recipient_script_ascii, txid_display
from indexer.bitcoin.models import (
    BitcoinBlock,
    KeystoneFirstPublication,
    PopPublication,
    TunnelDeposit,
    VaultUtxo,
)
from indexer.bitcoin.rpc import RpcSource
from indexer.bitcoin.sync import follow_tip
from indexer.bitcoin.vaults import register_vault
from indexer.hashing import display_to_internal
from indexer.models import ChainCursor

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

SIDE = DevKey.from_label("bitcoin-ingest-side-miner")
VAULT = DevKey.from_label("bitcoin-ingest-reorg-vault")


def _snapshot() -> tuple:
    return (
        list(BitcoinBlock.objects.order_by("id").values_list("id", "in_active_chain", "orphaned_at")),
        list(KeystoneFirstPublication.objects.order_by("id").values_list("keystone_id_internal", "publication_id")),
        PopPublication.objects.count(),
        TunnelDeposit.objects.count(),
        ChainCursor.objects.values_list("height", "block_hash").get(),
    )


def test_a_depth_6_reorg_orphans_rows_and_moves_first_publications(fresh_bcoin, miner, keystones, pop_out, fast_retry):
    rpc = fresh_bcoin.rpc()
    source = RpcSource(fresh_bcoin.bitcoin_rpc_url, retry=fast_retry)
    mine(rpc, 110, miner.p2pkh_address)
    wallet = CoinbaseWallet(rpc, miner)
    register_vault(b"\x22" * 20, 1, VAULT.p2pkh_script, VAULT.p2pkh_address, hemi_block=1)
    follow_tip(source, bitcoin_network="regtest", start_height=0)
    fork_height = rpc.getblockcount()
    fork_display = rpc.getbestblockhash()

    # Old branch: fork+1 carries PoP A, PoP B and a deposit; five more blocks on top.
    ks_a, ks_b = keystones(9001), keystones(9002)
    tx_a = wallet.build_payment([pop_out(ks_a)])
    send_and_wait_in_mempool(rpc, tx_a)
    wallet.pay([pop_out(ks_b)])
    deposit_txid = wallet.pay(
        [TxOutput(VAULT.p2pkh_script, 5_000_000), TxOutput(deposit_recipient_script_ascii("0x" + "cd" * 20), 0)]
    )
    old_branch = mine(rpc, 6, miner.p2pkh_address)
    follow_tip(source, bitcoin_network="regtest")
    pub_b = PopPublication.objects.get(keystone_id_internal=ks_b.id_internal)
    assert KeystoneFirstPublication.objects.get(keystone_id_internal=ks_a.id_internal).height == fork_height + 1
    assert TunnelDeposit.objects.get().block.height == fork_height + 1

    # New branch from the fork: 7 blocks (more work), tx A re-included at fork+3.
    parent = fork_display
    new_branch = []
    for i in range(7):
        txs = [tx_a] if i == 2 else []
        block = build_block_on(rpc, parent, txs, payout_script=SIDE.p2pkh_script, tag=b"side%d" % i)
        parent = submit_block(rpc, block)
        new_branch.append(parent)
    assert rpc.getbestblockhash() == new_branch[-1]
    assert rpc.getblockhash(fork_height + 1) == new_branch[0] != old_branch[0]

    result = follow_tip(source, bitcoin_network="regtest")

    assert result.rewinds == 1 and result.ingested == 7
    cursor = ChainCursor.objects.get(chain="bitcoin")
    assert (cursor.height, bytes(cursor.block_hash)) == (fork_height + 7, display_to_internal(new_branch[-1]))
    # The old branch is kept and flagged, not deleted.
    old = BitcoinBlock.objects.filter(hash_internal__in=[display_to_internal(h) for h in old_branch])
    assert old.count() == 6
    assert all(not b.in_active_chain and b.orphaned_at is not None for b in old)
    assert BitcoinBlock.objects.active().filter(height__gt=fork_height).count() == 7
    # Keystone A's first publication moved to the new branch; B has none on the active chain.
    first_a = KeystoneFirstPublication.objects.get(keystone_id_internal=ks_a.id_internal)
    assert first_a.height == fork_height + 3
    assert bytes(first_a.publication.block.hash_internal) == display_to_internal(new_branch[2])
    assert bytes(first_a.publication.transaction.txid_internal) == display_to_internal(txid_display(tx_a))
    assert not KeystoneFirstPublication.objects.filter(keystone_id_internal=ks_b.id_internal).exists()
    # The orphaned publication and deposit stay queryable, their block flagged.
    assert PopPublication.objects.filter(keystone_id_internal=ks_a.id_internal).count() == 2
    pub_b.refresh_from_db()
    assert not pub_b.block.in_active_chain
    deposit = TunnelDeposit.objects.get(transaction__txid_internal=display_to_internal(deposit_txid))
    assert not deposit.block.in_active_chain
    assert not VaultUtxo.objects.filter(block__in_active_chain=True).exists()

    # Running again is a no-op.
    before = _snapshot()
    again = follow_tip(source, bitcoin_network="regtest")
    assert (again.ingested, again.rewinds) == (0, 0)
    assert _snapshot() == before
    source.close()
    rpc.close()


class TipLiar(RpcSource):
    """Agrees with our stored tip when asked directly, so the reorg is only discovered when a
    fetched block does not extend the cursor (the NotOnTip path), as when the node reorgs
    between our tip check and our block fetch."""

    def __init__(self, url, retry, cursor_hash):
        super().__init__(url, retry=retry)
        self.cursor_hash = cursor_hash

    def block_hash(self, height):
        return self.cursor_hash


def test_a_reorg_found_mid_fetch_and_a_reorg_back_reactivate_the_stored_blocks(
    fresh_bcoin, miner, keystones, pop_out, fast_retry
):
    rpc = fresh_bcoin.rpc()
    source = RpcSource(fresh_bcoin.bitcoin_rpc_url, retry=fast_retry)
    mine(rpc, 110, miner.p2pkh_address)
    wallet = CoinbaseWallet(rpc, miner)
    follow_tip(source, bitcoin_network="regtest", start_height=0)
    fork_display = rpc.getbestblockhash()

    ks = keystones(9101)
    wallet.pay([pop_out(ks)])
    old_branch = mine(rpc, 2, miner.p2pkh_address)
    follow_tip(source, bitcoin_network="regtest")
    first = KeystoneFirstPublication.objects.get(keystone_id_internal=ks.id_internal)
    original_publication = first.publication_id

    # A longer side branch without the publication, discovered through NotOnTip.
    parent = fork_display
    for i in range(3):
        parent = submit_block(rpc, build_block_on(rpc, parent, payout_script=SIDE.p2pkh_script, tag=b"s%d" % i))
    liar = TipLiar(fresh_bcoin.bitcoin_rpc_url, fast_retry, bytes(ChainCursor.objects.get().block_hash))
    result = follow_tip(liar, bitcoin_network="regtest")
    assert result.rewinds == 1 and result.ingested == 3
    assert not KeystoneFirstPublication.objects.filter(keystone_id_internal=ks.id_internal).exists()

    # The old branch grows longer again: its stored blocks come back, rows and all.
    parent = old_branch[-1]
    for i in range(2):
        parent = submit_block(rpc, build_block_on(rpc, parent, payout_script=miner.p2pkh_script, tag=b"o%d" % i))
    result = follow_tip(source, bitcoin_network="regtest")
    assert result.rewinds == 1 and result.ingested == 4
    back = BitcoinBlock.objects.filter(hash_internal__in=[display_to_internal(h) for h in old_branch])
    assert all(b.in_active_chain and b.orphaned_at is None for b in back)
    first = KeystoneFirstPublication.objects.get(keystone_id_internal=ks.id_internal)
    assert first.publication_id == original_publication  # the same row, not a copy
    assert PopPublication.objects.filter(keystone_id_internal=ks.id_internal).count() == 1
    assert BitcoinBlock.objects.filter(in_active_chain=False).count() == 3
    cursor = ChainCursor.objects.get()
    assert (cursor.height, bytes(cursor.block_hash)) == (rpc.getblockcount(), display_to_internal(parent))
    source.close()
    liar.close()
    rpc.close()
