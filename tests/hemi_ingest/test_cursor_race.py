"""Two concurrent Hemi writers, and the cursor compare-and-set that keeps them apart (issue 12, item 8).

Writer A notices a reorg and walks back to the fork point over RPC - outside any transaction,
so it holds no lock while it talks to the node. Meanwhile writer B (another follower run)
handles the same reorg and indexes the new branch up to the same height. When A comes back to
orphan "its" stale branch, the cursor is at the height A saw but on another block: only the
hash in the cursor compare-and-set tells them apart. Without it, A would orphan B's correct
blocks and move the cursor back.
"""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from indexer.hemi import ingest, reorg, sync
from indexer.hemi.models import Block
from indexer.hemi.rpc import HemiRpc
from indexer.models import ChainCursor

from .conftest import DevChain

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
CONFIG = ingest.IngestConfig(tunnel_manager=None, accept_impersonated=True)
FORK_AT = 6
TIP = 10


def node_hashes(chain: DevChain) -> dict[int, bytes]:
    return {n: bytes.fromhex(chain.rpc.block_by_number(n, full_tx=False)["hash"][2:]) for n in range(TIP + 1)}


def test_a_stale_reorg_walk_cannot_orphan_the_branch_another_writer_just_indexed(chain: DevChain, monkeypatch) -> None:
    network = chain.network()
    chain.mine_empty(FORK_AT - chain.tip())
    snapshot = chain.rpc.call("evm_snapshot")
    while chain.tip() < TIP:
        chain.mine()  # branch A
    first = HemiRpc(chain.url)
    sync.follow_tip(first, network=network, config=CONFIG)
    assert ChainCursor.objects.get(chain="hemi").height == TIP

    assert chain.rpc.call("evm_revert", [snapshot]) is True
    a = chain.accounts
    while chain.tip() < TIP:
        chain.mine([{"from": a[0], "to": a[1], "value": 1}])  # branch B: same heights, other blocks
    branch_b = node_hashes(chain)
    assert branch_b[TIP] != bytes(Block.objects.get(number=TIP).hash), "branch B must differ from A"

    walked, go = threading.Event(), threading.Event()
    real_find = reorg.find_fork_point
    errors: list[BaseException] = []

    def find_then_wait(rpc, number, *rest):
        fork = real_find(rpc, number, *rest)
        if threading.current_thread().name == "writer-a":
            walked.set()
            assert go.wait(30), "the test never let writer A go on"
        return fork

    monkeypatch.setattr(reorg, "find_fork_point", find_then_wait)

    def writer_a() -> None:
        try:
            with HemiRpc(chain.url) as rpc:
                reorg.handle_reorg(rpc, TIP)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    thread_a = threading.Thread(target=writer_a, name="writer-a")
    thread_a.start()
    assert walked.wait(30), "writer A never finished its walk-back"
    # Writer B: handles the same reorg and indexes branch B up to the same height.
    with HemiRpc(chain.url) as rpc:
        state = sync.follow_tip(rpc, network=network, config=CONFIG)
    assert state.reorgs == 1
    assert ChainCursor.objects.get(chain="hemi").height == TIP
    go.set()
    thread_a.join(60)
    assert not thread_a.is_alive() and not errors, errors

    stored = dict(Block.objects.canonical().values_list("number", "hash"))
    assert {n: bytes(h) for n, h in stored.items()} == branch_b, "writer A orphaned the branch B had indexed"
    cursor = ChainCursor.objects.get(chain="hemi")
    assert (cursor.height, bytes(cursor.block_hash)) == (TIP, branch_b[TIP])
