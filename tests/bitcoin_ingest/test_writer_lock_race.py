"""Two concurrent Bitcoin writers, and the writer lock that orders them (issue 12, item 8).

Writer A ingests block H, which holds a deposit to a vault nobody has registered yet; it has
read the vault table (empty) and not committed. Writer B registers that vault now. The lock
makes B wait for A: B then sees H in the cursor and records a rescan that finds the deposit.
Without the lock, B sees the cursor below H, decides nothing scanned can hold a deposit to a
vault this new, records no rescan - and A commits H without looking for the deposit, which is
then never found.
"""

from __future__ import annotations

import threading
import time

import pytest
from bitcoin.core import CTransaction
from django.db import connection

from devnet.btc import build_block_on, mine, submit_block
from devnet.btckeys import DevKey
from devnet.btctx import TxOutput, deposit_recipient_script_ascii
from indexer.bitcoin import ingest
from indexer.bitcoin.models import BitcoinBlock, TunnelDeposit
from indexer.bitcoin.sync import follow_tip
from indexer.bitcoin.vaults import RESCAN_TIME_MARGIN_S, register_vault
from indexer.crosschain import handlers
from indexer.hashing import display_to_internal

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

VAULT = DevKey.from_label("bitcoin-writer-race-vault")
VAULT_ADDRESS = bytes.fromhex("44" * 20)


def waiting_for_an_advisory_lock() -> bool:
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
        return cur.fetchone()[0] > 0


def test_a_vault_registered_while_a_block_is_written_still_finds_its_deposit(
    source, published_bcoin, btc_rpc, wallet, miner, monkeypatch
) -> None:
    mine(btc_rpc, 1, miner.p2pkh_address)
    follow_tip(source, bitcoin_network="regtest", start_height=0)
    below = BitcoinBlock.objects.active().order_by("-height").first()
    deposit_txid = wallet.pay(
        [TxOutput(VAULT.p2pkh_script, 2_500_000), TxOutput(deposit_recipient_script_ascii("0x" + "cd" * 20), 0)]
    )
    # Block H, stamped ten minutes after the block below it (regtest blocks mined in a row
    # share timestamps), so "created just before H" is a time no lower block has.
    tx = CTransaction.deserialize(btc_rpc.getrawtransaction_raw(deposit_txid))
    block = build_block_on(
        btc_rpc, below.hash_display, [tx], payout_script=miner.p2pkh_script, block_time=below.time + 600
    )
    submit_block(btc_rpc, block)
    height = below.height + 1
    raw = source.raw_blocks([source.block_hash(height)])[0]
    block_time = int.from_bytes(raw[68:72], "little")
    assert block_time > below.time, "precondition: H is later than the blocks below it"
    # The vault was created so that only blocks from H on can hold its deposits.
    created_at = block_time + RESCAN_TIME_MARGIN_S

    read_vaults, release_a = threading.Event(), threading.Event()
    real_scripts = ingest.vault_scripts
    errors: list[BaseException] = []

    def scripts_then_wait():
        scripts = real_scripts()
        if threading.current_thread().name == "writer-a":
            read_vaults.set()
            assert release_a.wait(30), "the test never let writer A commit"
        return scripts

    monkeypatch.setattr(ingest, "vault_scripts", scripts_then_wait)

    def run(name: str, fn) -> threading.Thread:
        def target() -> None:
            try:
                fn()
            except BaseException as exc:
                errors.append(exc)
            finally:
                connection.close()

        thread = threading.Thread(target=target, name=name)
        thread.start()
        return thread

    writer_a = run("writer-a", lambda: ingest.ingest_block(raw, height, bitcoin_network="regtest"))
    assert read_vaults.wait(30), "writer A never reached the vault read"
    writer_b = run(
        "writer-b",
        lambda: register_vault(
            VAULT_ADDRESS, 7, VAULT.p2pkh_script, VAULT.p2pkh_address, hemi_block=1, not_before_time=created_at
        ),
    )
    # Let B run until it is done or stuck behind A's lock, whichever comes first.
    deadline = time.monotonic() + 10
    while writer_b.is_alive() and not waiting_for_an_advisory_lock() and time.monotonic() < deadline:
        time.sleep(0.05)
    release_a.set()
    for thread in (writer_a, writer_b):
        thread.join(30)
        assert not thread.is_alive()
    assert not errors, errors

    with handlers.Context() as ctx:
        handlers.drain(ctx)
    found = TunnelDeposit.objects.filter(transaction__txid_internal=display_to_internal(deposit_txid))
    assert found.exists(), "the deposit of a vault registered during the block's write was never found"
