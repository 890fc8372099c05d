"""Reorgs on a real anvil (evm_snapshot / evm_revert): orphaned rows are marked, balances recomputed."""

from __future__ import annotations

from typing import Any

import pytest

from indexer.hemi import ingest, reorg, sync
from indexer.hemi.models import Block, Keystone, Log, TokenBalance, TokenTransfer, Transaction
from indexer.models import ChainCursor

from .conftest import DevChain

pytestmark = pytest.mark.django_db
CONFIG = ingest.IngestConfig(tunnel_manager=None, accept_impersonated=True)
FORK_AT = 20


def transfers_block(chain: DevChain, token: Any, n: int, salt: int) -> None:
    a = chain.accounts
    chain.mine([
        chain.call_tx(token, "transfer", a[(n + salt + k) % 9 + 1], 1_000 + 7 * n + salt + k, sender=a[0], gas=100_000)
        for k in range(3)
    ] + [chain.call_tx(token, "transfer", a[(n + k) % 9 + 1], 11 + salt, sender=a[(n + k + 2) % 9 + 1], gas=100_000)
         for k in range(2)])  # fmt: skip


@pytest.fixture(scope="module")
def branches(chain: DevChain) -> dict:
    """Branch A: blocks FORK_AT+1..46 with transfers; then revert and mine branch B to 52."""
    usd = chain.deploy("DevnetUSD", 10**15)
    token = chain.contract("DevnetUSD", usd)
    chain.mine([chain.call_tx(token, "transfer", acct, 10**9, gas=100_000) for acct in chain.accounts[1:]])
    while chain.tip() < FORK_AT:
        transfers_block(chain, token, chain.tip(), 0)
    snapshot = chain.rpc.call("evm_snapshot")
    while chain.tip() < 46:
        transfers_block(chain, token, chain.tip(), 1)
    a_blocks = {n: (chain.rpc.block_by_number(n), chain.rpc.block_receipts([n])[0]) for n in range(chain.tip() + 1)}
    a_balances = {acct: token.functions.balanceOf(acct).call() for acct in chain.accounts}
    return {"usd": usd, "token": token, "snapshot": snapshot, "a_blocks": a_blocks, "a_balances": a_balances}


def holders_match_node(chain: DevChain, token: Any, usd: str) -> None:
    rows = TokenBalance.objects.filter(token__address=bytes.fromhex(usd[2:]))
    assert rows.count() == len(chain.accounts)
    for row in rows:
        holder = chain.w3.to_checksum_address("0x" + bytes(row.holder).hex())
        assert row.balance == token.functions.balanceOf(holder).call(), holder


def test_a_deeper_reorg_is_undone_and_the_new_branch_indexed(chain: DevChain, branches: dict, rpc) -> None:
    network = chain.network()
    first = sync.follow_tip(rpc, network=network, config=CONFIG)
    assert first.current == 46 and first.reorgs == 0
    old_hashes = {n: bytes(h) for n, h in Block.objects.values_list("number", "hash")}

    assert chain.rpc.call("evm_revert", [branches["snapshot"]]) is True
    assert chain.tip() == FORK_AT
    while chain.tip() < 52:
        transfers_block(chain, branches["token"], chain.tip(), 5)  # different recipients and amounts

    second = sync.follow_tip(rpc, network=network, config=CONFIG)
    assert second.reorgs == 1 and second.current == 52

    # No stale canonical row: every canonical block is the node's block at that height.
    canonical = dict(Block.objects.canonical().values_list("number", "hash"))
    assert sorted(canonical) == list(range(53))
    for number in range(53):
        assert bytes(canonical[number]) == bytes.fromhex(chain.rpc.block_by_number(number, False)["hash"][2:])
    # Orphaned rows are kept and flagged, with everything derived from them.
    orphaned = Block.objects.filter(canonical=False)
    assert sorted(orphaned.values_list("number", flat=True)) == list(range(FORK_AT + 1, 47))
    assert all(o.orphaned_at is not None and bytes(o.hash) == old_hashes[o.number] for o in orphaned)
    for model in (Transaction, Log, TokenTransfer):
        assert not model.objects.filter(block__canonical=False, canonical=True).exists()
        assert not model.objects.filter(block__canonical=True, canonical=False).exists()
        assert model.objects.filter(canonical=False).exists()
    # Keystones: the old 25 is orphaned; 25 and 50 of the new branch are canonical.
    assert Keystone.objects.filter(canonical=False).count() == 1
    for k in (25, 50):
        ks = Keystone.objects.canonical().get(number=k)
        assert bytes(ks.ep_hash) == bytes(canonical[k]) and ks.block.canonical
    # Balances equal balanceOf for every holder, including ones only the orphaned branch paid.
    holders_match_node(chain, branches["token"], branches["usd"])
    cursor = ChainCursor.objects.get(chain="hemi")
    assert (cursor.height, bytes(cursor.block_hash)) == (52, bytes(canonical[52]))
    # Following again is a no-op.
    assert sync.follow_tip(rpc, network=network, config=CONFIG).blocks == 0


def test_switching_back_to_an_orphaned_branch_reinstates_its_rows(chain: DevChain, branches: dict, rpc) -> None:
    network = chain.network()
    sync.follow_tip(rpc, network=network, config=CONFIG)  # branch B (after the test above)
    fork_hash = bytes(Block.objects.canonical().get(number=FORK_AT).hash)
    a_blocks = branches["a_blocks"]
    fork = reorg.ForkPoint(FORK_AT, fork_hash)
    reorg.orphan_above(fork)  # leave branch B ...
    for n in range(FORK_AT + 1, 47):  # ... for branch A (stored as new rows) ...
        assert ingest.ingest_block(*a_blocks[n], config=CONFIG).status == "inserted"
    reorg.orphan_above(fork)  # ... then away from A, and back to A again:
    statuses = [ingest.ingest_block(*a_blocks[n], config=CONFIG).status for n in range(FORK_AT + 1, 47)]
    assert statuses == ["reinstated"] * (46 - FORK_AT)
    usd = bytes.fromhex(branches["usd"][2:])
    for acct, expected in branches["a_balances"].items():
        row = TokenBalance.objects.get(token__address=usd, holder=bytes.fromhex(acct[2:].lower()))
        assert row.balance == expected
    assert not Transaction.objects.filter(block__canonical=True, canonical=False).exists()
    assert ChainCursor.objects.get(chain="hemi").height == 46


def test_a_reorg_to_a_shorter_chain_is_noticed_with_nothing_new_to_fetch(chain: DevChain, branches: dict, rpc) -> None:
    network = chain.network()
    snapshot = chain.rpc.call("evm_snapshot")
    for _ in range(4):
        transfers_block(chain, branches["token"], chain.tip(), 2)
    top = chain.tip()
    sync.follow_tip(rpc, network=network, config=CONFIG)
    chain.rpc.call("evm_revert", [snapshot])
    transfers_block(chain, branches["token"], chain.tip(), 3)  # one block instead of four
    state = sync.follow_tip(rpc, network=network, config=CONFIG)
    assert state.reorgs == 1
    assert Block.objects.canonical().order_by("-number").first().number == top - 3
    assert Block.objects.filter(number__gt=top - 3, canonical=True).count() == 0
    holders_match_node(chain, branches["token"], branches["usd"])
