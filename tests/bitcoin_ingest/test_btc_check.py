"""``manage.py btc_check`` on a chain indexed from a real bcoin node: clean after ingest, and
every corruption it exists for is reported by name, with a non-zero exit.

The chain holds what the checks reason about: two publications of one keystone in two blocks
(the first-publication rule), a tunnel deposit, and headers-only rows below the start height
(the anchor context, which is not a hole). Corruptions are plain UPDATE/INSERT/DELETE.
"""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from devnet.btc import mine
from devnet.btctx import TxOutput, deposit_recipient_script_ascii
from indexer.bitcoin import integrity
from indexer.bitcoin.models import (
    BitcoinBlock,
    BitcoinTransaction,
    KeystoneFirstPublication,
    PopPublication,
    TunnelDeposit,
)
from indexer.bitcoin.sync import follow_tip
from indexer.bitcoin.vaults import register_vault
from indexer.hashing import display_to_internal
from indexer.models import ChainCursor

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

VAULT = bytes.fromhex("22" * 20)
RECIPIENT = "0x" + "cd" * 20


@pytest.fixture
def indexed(source, btc_rpc, wallet, miner, keystones, pop_out) -> dict:
    from devnet.btckeys import DevKey

    custody = DevKey.from_label("btc-check-vault").p2pkh_script
    register_vault(VAULT, 0, custody, "", hemi_block=1)
    keystone = keystones(9100 + btc_rpc.getblockcount())  # fresh per test: the node is shared
    first = wallet.pay([pop_out(keystone)])
    mine(btc_rpc, 1, miner.p2pkh_address)
    again = wallet.pay([pop_out(keystone)])
    deposit = wallet.pay([TxOutput(custody, 1_000_000), TxOutput(deposit_recipient_script_ascii(RECIPIENT), 0)])
    mine(btc_rpc, 2, miner.p2pkh_address)
    tip = btc_rpc.getblockcount()
    # Start 30 below the tip: the rows under it are headers only (anchor context).
    follow_tip(source, bitcoin_network="regtest", start_height=tip - 30)
    assert BitcoinBlock.objects.filter(scanned_at__isnull=True).exists()
    return {
        "tip": tip,
        "first": PopPublication.objects.get(transaction__txid_internal=display_to_internal(first)),
        "again": PopPublication.objects.get(transaction__txid_internal=display_to_internal(again)),
        "deposit": TunnelDeposit.objects.get(transaction__txid_internal=display_to_internal(deposit)),
        "keystone": keystone,
    }


def run() -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("btc_check", stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def found() -> set[str]:
    return {f.check for f in integrity.check_chain()}


def block_at(height: int) -> BitcoinBlock:
    return BitcoinBlock.objects.get(height=height, in_active_chain=True)


def test_an_indexed_chain_passes(indexed) -> None:
    assert integrity.check_chain() == []
    out, err = run()
    assert out.strip() == f"bitcoin: ok ({integrity.check_count()} checks)" and err == ""


def test_a_hole_below_the_cursor_fails_the_command_naming_the_height(indexed) -> None:
    hole = indexed["tip"] - 10
    BitcoinBlock.objects.filter(height=hole).update(in_active_chain=False)
    err = StringIO()
    with pytest.raises(CommandError, match="1 check"):
        call_command("btc_check", stdout=StringIO(), stderr=err)
    assert "bitcoin-gap: 1 height(s) between the lowest active block and the cursor" in err.getvalue()
    assert f"(e.g. {hole})" in err.getvalue()


def _break_link(x):
    BitcoinBlock.objects.filter(height=x["tip"] - 3).update(prev_hash_internal=b"\x00" * 32)


def _cursor_elsewhere(x):
    ChainCursor.objects.filter(chain="bitcoin").update(block_hash=b"\x01" * 32)


def _cursor_behind(x):
    below = block_at(x["tip"] - 1)
    ChainCursor.objects.filter(chain="bitcoin").update(height=below.height, block_hash=below.hash_internal)


def _unscanned(x):
    BitcoinBlock.objects.filter(height=x["tip"] - 5).update(scanned_at=None)


def _tx_twice(x):
    tx = x["deposit"].transaction
    other = block_at(x["tip"] - 6)
    BitcoinTransaction.objects.create(
        block=other, txid_internal=tx.txid_internal, tx_index=1, raw=tx.raw, merkle_branch=b""
    )


def _deposit_moved(x):
    TunnelDeposit.objects.filter(pk=x["deposit"].pk).update(block=block_at(x["tip"] - 6))


def _pop_moved(x):
    PopPublication.objects.filter(pk=x["again"].pk).update(block=block_at(x["tip"] - 6))


def _first_is_the_later(x):
    KeystoneFirstPublication.objects.filter(publication=x["first"]).update(publication=x["again"])


def _first_missing(x):
    KeystoneFirstPublication.objects.filter(publication=x["first"]).delete()


def _first_orphaned(x):
    # The block holding the first publication leaves the active chain but the table still
    # names it: a reorg that forgot the recompute. (Also a hole at that height.)
    BitcoinBlock.objects.filter(pk=x["first"].block_id).update(in_active_chain=False)


@pytest.mark.parametrize(
    ("corrupt", "expected"),
    [
        (_break_link, {"bitcoin-linkage"}),
        (_cursor_elsewhere, {"bitcoin-cursor"}),
        (_cursor_behind, {"bitcoin-above-cursor"}),
        (_unscanned, {"bitcoin-unscanned"}),
        (_tx_twice, {"bitcoin-duplicate-tx"}),
        (_deposit_moved, {"bitcoin-tunneldeposit-block"}),
        # The later publication now claims an earlier block: also the first one on paper.
        (_pop_moved, {"bitcoin-poppublication-block", "bitcoin-first-publication"}),
        (_first_is_the_later, {"bitcoin-first-publication"}),
        (_first_missing, {"bitcoin-first-publication"}),
        (_first_orphaned, {"bitcoin-first-publication", "bitcoin-gap"}),
    ],
    ids=lambda v: v.__name__.strip("_") if callable(v) else None,
)
def test_each_corruption_is_named(indexed, corrupt, expected) -> None:
    corrupt(indexed)
    assert found() == expected
    with pytest.raises(CommandError):
        run()
