"""Issue 12, item 9 (Hemi): the deepest reorg undone automatically is ``HEMI_MAX_REORG_DEPTH``.

Depth = how many of our canonical blocks the reorg would orphan. At the limit the reorg is
undone; one deeper it is refused with ``ReorgTooDeep`` before anything is written, and the
refusal is an alert. Real reorgs on anvil: ``evm_snapshot`` / ``evm_revert``.
"""

from __future__ import annotations

import pytest

from indexer.core import alerts
from indexer.core.errors import ReorgTooDeep
from indexer.hemi import ingest, integrity, sync
from indexer.hemi.models import Block, Transaction
from indexer.hemi.rpc import HemiRpc
from indexer.models import ChainCursor

from .conftest import DevChain

pytestmark = [pytest.mark.integration, pytest.mark.django_db]
CONFIG = ingest.IngestConfig(tunnel_manager=None, accept_impersonated=True)
LIMIT = 3


def assert_whole() -> None:
    """What ``manage.py hemi_check`` proves: no gap, broken link, stray flag or dangling row."""
    assert integrity.check_chain() == [] and integrity.check_references() == []


def stored_state() -> tuple:
    return (
        sorted(Block.objects.values_list("number", "hash", "canonical", "orphaned_at")),
        sorted(Transaction.objects.values_list("hash", "canonical")),
        ChainCursor.objects.filter(chain="hemi").values_list("height", "block_hash").first(),
    )


def mine_branch(chain: DevChain, upto: int, salt: int) -> None:
    a = chain.accounts
    while chain.tip() < upto:
        chain.mine([{"from": a[1], "to": a[2], "value": 1000 * salt + chain.tip()}])


def test_a_reorg_at_the_limit_is_undone_and_one_deeper_is_refused(chain: DevChain, settings, client) -> None:
    settings.HEMI_MAX_REORG_DEPTH = LIMIT
    network = chain.network()
    base = chain.tip() + 6
    mine_branch(chain, base, salt=1)
    deep = chain.rpc.call("evm_snapshot")  # at base
    mine_branch(chain, base + 1, salt=1)
    shallow = chain.rpc.call("evm_snapshot")  # at base + 1
    mine_branch(chain, base + 4, salt=1)  # branch A
    with HemiRpc(chain.url) as rpc:
        assert sync.follow_tip(rpc, network=network, config=CONFIG).current == base + 4

        # Depth LIMIT: base+2 .. base+4 replaced.
        assert chain.rpc.call("evm_revert", [shallow]) is True
        mine_branch(chain, base + 4, salt=2)
        state = sync.follow_tip(rpc, network=network, config=CONFIG)
        assert (state.reorgs, state.current) == (1, base + 4)
        assert Block.objects.filter(canonical=False).count() == LIMIT
        assert_whole()

        # Depth LIMIT + 1: base+1 .. base+4 would be orphaned.
        assert chain.rpc.call("evm_revert", [deep]) is True
        mine_branch(chain, base + 5, salt=3)
        before = stored_state()
        with pytest.raises(ReorgTooDeep, match=f"deeper than HEMI_MAX_REORG_DEPTH={LIMIT}"):
            sync.follow_tip(rpc, network=network, config=CONFIG)
        assert stored_state() == before
        assert_whole()

        (alert,) = alerts.active()
        assert (alert.chain, alert.code) == ("hemi", "reorg-too-deep")
        health = client.get("/healthz")
        assert health.status_code == 200
        assert any(w["code"] == "hemi-reorg-too-deep" for w in health.json()["warnings"])
        assert "HEMI_MAX_REORG_DEPTH" in client.get("/").content.decode()

        # Raising the limit lets the next run through; the alert clears.
        settings.HEMI_MAX_REORG_DEPTH = LIMIT + 1
        state = sync.follow_tip(rpc, network=network, config=CONFIG)
        assert (state.reorgs, state.current) == (1, base + 5)
        assert alerts.active() == []
        assert_whole()
        canonical = dict(Block.objects.canonical().values_list("number", "hash"))
        for number in range(base - 1, base + 6):
            assert bytes(canonical[number]) == bytes.fromhex(chain.rpc.block_by_number(number, False)["hash"][2:])
