"""Issue 12, item 9 (Bitcoin): the deepest reorg undone automatically is ``BITCOIN_MAX_REORG_DEPTH``.

Depth = how many of our active blocks the reorg would orphan. At the limit the reorg is undone;
one deeper it is refused with ``ReorgTooDeep`` before anything is written (no half-undone
reorg, no silent truncation), and the refusal is an alert on ``/healthz`` and the home page.
Real reorgs on bcoin: side chains with more work, submitted with submitblock.
"""

from __future__ import annotations

import pytest

from devnet.btc import extend_chain, mine
from devnet.btckeys import DevKey
from indexer.bitcoin import integrity
from indexer.bitcoin.models import BitcoinBlock
from indexer.bitcoin.rpc import RpcSource
from indexer.bitcoin.sync import follow_tip
from indexer.core import alerts
from indexer.core.errors import ReorgTooDeep
from indexer.hashing import display_to_internal
from indexer.models import ChainCursor

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

LIMIT = 3
SIDE = DevKey.from_label("bitcoin-reorg-limit-side")


def stored_state() -> tuple:
    return (
        sorted(BitcoinBlock.objects.values_list("height", "hash_internal", "in_active_chain", "orphaned_at")),
        ChainCursor.objects.filter(chain="bitcoin").values_list("height", "block_hash").first(),
    )


def test_a_reorg_at_the_limit_is_undone_and_one_deeper_is_refused(fresh_bcoin, miner, fast_retry, settings, client):
    settings.BITCOIN_MAX_REORG_DEPTH = LIMIT
    rpc = fresh_bcoin.rpc()
    source = RpcSource(fresh_bcoin.bitcoin_rpc_url, retry=fast_retry)
    mine(rpc, 20, miner.p2pkh_address)
    follow_tip(source, bitcoin_network="regtest", start_height=0)

    # Depth LIMIT: blocks 18..20 replaced by a longer side branch from 17.
    side = extend_chain(rpc, rpc.getblockhash(20 - LIMIT), LIMIT + 1, payout_script=SIDE.p2pkh_script, tag=b"ok")
    result = follow_tip(source, bitcoin_network="regtest")
    assert (result.rewinds, result.cursor_height) == (1, 21)
    assert BitcoinBlock.objects.filter(in_active_chain=False).count() == LIMIT
    assert integrity.check_chain() == []  # what manage.py btc_check proves
    assert bytes(ChainCursor.objects.get().block_hash) == display_to_internal(side[-1])

    # Depth LIMIT + 1: blocks 18..21 would be orphaned.
    extend_chain(rpc, rpc.getblockhash(21 - LIMIT - 1), LIMIT + 2, payout_script=SIDE.p2pkh_script, tag=b"deep")
    assert rpc.getblockcount() == 22
    before = stored_state()
    with pytest.raises(ReorgTooDeep, match=f"deeper than BITCOIN_MAX_REORG_DEPTH={LIMIT}"):
        follow_tip(source, bitcoin_network="regtest")
    assert stored_state() == before  # nothing undone, nothing new written
    assert integrity.check_chain() == []

    (alert,) = alerts.active()
    assert (alert.chain, alert.code) == ("bitcoin", "reorg-too-deep")
    health = client.get("/healthz")
    assert health.status_code == 200
    assert any(w["code"] == "bitcoin-reorg-too-deep" for w in health.json()["warnings"])
    assert "BITCOIN_MAX_REORG_DEPTH" in client.get("/").content.decode()

    # An operator who raises the limit lets the next run through; the alert clears.
    settings.BITCOIN_MAX_REORG_DEPTH = LIMIT + 1
    result = follow_tip(source, bitcoin_network="regtest")
    assert (result.rewinds, result.cursor_height) == (1, 22)
    assert alerts.active() == []
    assert integrity.check_chain() == []
    source.close()
    rpc.close()
