"""``ingest.write_run``: a run of new consecutive blocks written in one transaction.

A run must leave exactly the rows that writing its blocks one at a time (``write_layout``)
leaves - first sight of tokens and addresses merged over the run, balances summed, the cursor
moved once - and it must write nothing at all (returning None, so the caller falls back to
``write_layout``) whenever the run is not simply new blocks on top of the stored chain.

Blocks come from a real anvil (shared by the module and growing); the database is rolled
back after every test, so each test writes from block 0.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

import pytest
from django.db import transaction
from web3.utils.address import get_create_address

from indexer.hemi import ingest, integrity, layout, sync, verify
from indexer.hemi.layout import BlockLayout
from indexer.hemi.models import Address, Block, Keystone, Log, Token, TokenBalance, TokenTransfer, Transaction
from indexer.models import ChainCursor

from .conftest import DevChain

pytestmark = pytest.mark.django_db
CONFIG = ingest.IngestConfig(tunnel_manager=None, accept_impersonated=True)
GAS = 200_000
GAS_PRICE = hex(3 * 10**9)

# Natural keys that stand in for surrogate ids when rows of two writes are compared.
NATURAL_KEY = {
    Block: ("number", "hash"),
    Transaction: ("hash",),
    Log: ("block__hash", "log_index"),
    Token: ("address",),
}
SNAPSHOT_MODELS = (Block, Transaction, Log, TokenTransfer, TokenBalance, Token, Address, Keystone, ChainCursor)
COUNTED_MODELS = (Block, Transaction, Log, TokenTransfer, TokenBalance, Token, Address, Keystone)
NOT_COMPARED = {"id", "created_at", "updated_at"}


def raw(address: str) -> bytes:
    return bytes.fromhex(address[2:].lower())


def ensure_tip(chain: DevChain, number: int) -> int:
    while chain.tip() < number:
        chain.mine()
    return chain.tip()


def lay_out(rpc: Any, numbers: Iterable[int]) -> list[BlockLayout]:
    blocks, receipts = rpc.blocks_with_receipts(list(numbers))
    return [
        layout.lay_out(verify.prepare_block(b, r, accept_impersonated=True))
        for b, r in zip(blocks, receipts, strict=True)
    ]


def write_run(layouts: Iterable[BlockLayout]) -> list[ingest.IngestResult] | None:
    return ingest.write_run([(rows, None) for rows in layouts], config=CONFIG)


def cursor() -> tuple[int, bytes] | None:
    return sync.cursor_position()


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in COUNTED_MODELS}


def snapshot() -> dict[str, list[tuple]]:
    """Every row of the ingest tables, ids and timestamps left out, foreign keys as natural keys."""
    out = {}
    for model in SNAPSHOT_MODELS:
        lookups: list[str] = []
        for f in model._meta.concrete_fields:
            if f.name in NOT_COMPARED:
                continue
            if f.is_relation:
                lookups += [f"{f.name}__{key}" for key in NATURAL_KEY[f.related_model]]
            else:
                lookups.append(f.name)
        rows = [
            tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)
            for row in model.objects.values_list(*lookups)
        ]
        out[model.__name__] = sorted(rows, key=repr)
    return out


@pytest.fixture(scope="module")
def scene(chain: DevChain) -> dict[str, Any]:
    """Six blocks of token life: deployments, first transfers in the middle of a run, an address
    seen as a plain recipient before a contract is created at it, plain value transfers."""
    a = chain.accounts
    # X: where a[5] (which sends nothing else before) will deploy a second DevnetUSD in b5.
    x = get_create_address(a[5], int(chain.rpc.call("eth_getTransactionCount", [a[5], "latest"]), 16))
    usd_address = chain.deploy("DevnetUSD", 10**12)
    b1 = chain.tip()
    usd = chain.contract("DevnetUSD", usd_address)
    b2 = chain.mine([
        chain.creation_tx("DevnetNFT"),  # no Transfer at deployment
        {"from": a[0], "to": x, "value": 10**15, "gasPrice": GAS_PRICE},  # X: not (yet) a contract
        {"from": a[0], "to": a[1], "value": 10**15, "gasPrice": GAS_PRICE},
    ])  # fmt: skip
    nft_address = chain.receipt(chain.last_hashes[0])["contractAddress"]
    nft = chain.contract("DevnetNFT", nft_address)
    b3 = chain.mine([
        chain.call_tx(usd, "transfer", a[1], 5_000, gas=GAS),
        chain.call_tx(usd, "transfer", a[2], 7_000, gas=GAS),
        {"from": a[1], "to": a[3], "value": 10**15, "gasPrice": GAS_PRICE},
    ])  # fmt: skip
    b4 = chain.mine([
        chain.call_tx(nft, "mint", a[3], 1, gas=GAS),  # the NFT's first Transfer
        chain.call_tx(usd, "transfer", x, 1_000, sender=a[1], gas=GAS),
    ])  # fmt: skip
    b5 = chain.mine([
        chain.creation_tx("DevnetUSD", 10**9, sender=a[5]),  # at X; mints: its first Transfer
        chain.call_tx(nft, "transferFrom", a[3], a[4], 1, sender=a[3], gas=GAS),
        chain.call_tx(usd, "transfer", a[3], 500, sender=a[2], gas=GAS),
    ])  # fmt: skip
    usd2_address = chain.receipt(chain.last_hashes[0])["contractAddress"]
    assert usd2_address.lower() == x.lower()
    usd2 = chain.contract("DevnetUSD", usd2_address)
    b6 = chain.mine([
        chain.call_tx(usd2, "transfer", a[0], 42, sender=a[5], gas=GAS),
        {"from": a[4], "to": a[0], "value": 1, "gasPrice": GAS_PRICE},
    ])  # fmt: skip
    for number in (b1, b2, b3, b4, b5, b6):
        receipts = chain.rpc.block_receipts([number])[0]
        assert all(r["status"] == "0x1" for r in receipts), number
    assert [b2, b3, b4, b5, b6] == list(range(b1 + 1, b1 + 6))
    return {
        "blocks": (b1, b2, b3, b4, b5, b6),
        "usd": raw(usd_address),
        "nft": raw(nft_address),
        "x": raw(x),  # = the second DevnetUSD
        "contracts": {raw(usd_address): usd, raw(nft_address): nft, raw(usd2_address): usd2},
        "first_seen": {raw(usd_address): b1, raw(nft_address): b4, raw(usd2_address): b5},
    }


def test_a_run_leaves_the_same_rows_as_block_by_block_writes(chain: DevChain, scene: dict[str, Any], rpc) -> None:
    """Two runs (0..b2, b3..b6) store exactly the rows, balances, first sightings and cursor
    that one write_layout per block stores, and each run reports per-block counts and new tokens."""
    b1, b2, b3, b4, b5, b6 = scene["blocks"]
    layouts = lay_out(rpc, range(b6 + 1))
    blocks, receipts = rpc.blocks_with_receipts(range(b6 + 1))
    expected_counts = [
        (n, len(block["transactions"]), sum(len(r["logs"]) for r in rs))
        for n, (block, rs) in enumerate(zip(blocks, receipts, strict=True))
    ]
    assert expected_counts[b4][1:] == (3, 2)  # L1-info call + 2 txs; mint + transfer logs

    with transaction.atomic():
        first = write_run(layouts[: b2 + 1])
        second = write_run(layouts[b2 + 1 :])
        assert first is not None and second is not None
        results = first + second
        assert [(r.number, r.tx_count, r.log_count) for r in results] == expected_counts
        assert {r.status for r in results} == {"inserted"}
        assert [r.hash for r in results] == [rows.hash for rows in layouts]
        address_of = dict(Token.objects.values_list("id", "address"))
        new_tokens = {r.number: [bytes(address_of[i]) for i in r.new_token_ids] for r in results if r.new_token_ids}
        by_run = snapshot()
        transaction.set_rollback(True)

    assert not Block.objects.exists() and cursor() is None
    one_by_one = []
    for rows in layouts:
        result = ingest.write_layout(rows, config=CONFIG)
        address_of = dict(Token.objects.values_list("id", "address"))
        one_by_one.append((result.number, result.status, [bytes(address_of[i]) for i in result.new_token_ids]))
    assert by_run == snapshot()
    # New tokens are reported on the block of their first Transfer - in either write.
    assert new_tokens == {n: [token] for token, n in scene["first_seen"].items()}
    assert [(n, tokens) for n, status, tokens in one_by_one if tokens] == sorted(new_tokens.items())

    # The compared rows are what the chain says (not merely the same mistake twice).
    assert {name: len(by_run[name]) for name in ("Block", "Transaction", "Log", "TokenTransfer", "TokenBalance",
                                                 "Token", "Keystone", "ChainCursor")} == {
        "Block": b6 + 1, "Transaction": sum(c[1] for c in expected_counts), "Log": sum(c[2] for c in expected_counts),
        "TokenTransfer": 9, "TokenBalance": 9, "Token": 3, "Keystone": b6 // 25, "ChainCursor": 1,
    }  # fmt: skip
    assert {bytes(a): n for a, n in Token.objects.values_list("address", "first_seen_block")} == scene["first_seen"]
    assert Token.objects.get(address=scene["nft"]).standard == Token.ERC721
    a = [raw(account) for account in chain.accounts]
    seen = {
        bytes(r[0]): (r[1], r[2]) for r in Address.objects.values_list("address", "first_seen_block", "is_contract")
    }
    # X: a plain recipient in b2 (first run), again in b4 and a contract from b5 (second run).
    assert seen[scene["x"]] == (b2, True)
    assert seen[scene["usd"]] == (b1, True) and seen[scene["nft"]] == (b2, True)
    assert seen[a[3]] == (b3, False) and seen[a[4]] == (b5, False) and seen[a[5]] == (b5, False)
    balances = TokenBalance.objects.values_list("token__address", "holder", "balance")
    for token, holder, balance in balances:
        contract = scene["contracts"][bytes(token)]
        on_chain = contract.functions.balanceOf(chain.w3.to_checksum_address("0x" + bytes(holder).hex()))
        assert balance == on_chain.call(block_identifier=b6), (bytes(token).hex(), bytes(holder).hex())
    assert cursor() == (b6, layouts[-1].hash)


def test_a_run_overlapping_stored_blocks_writes_nothing(chain: DevChain, rpc) -> None:
    """A run that contains a stored block returns None and leaves rows and cursor alone; the
    new part of it then goes in as a run of its own."""
    n = 3
    ensure_tip(chain, n + 2)
    layouts = lay_out(rpc, range(n + 3))
    assert write_run(layouts[: n + 1]) is not None
    before, position = counts(), cursor()
    assert position == (n, layouts[n].hash)

    assert write_run(layouts[n - 1 : n + 3]) is None  # n-1, n stored; n+1, n+2 new
    assert write_run(layouts[n : n + 2]) is None  # only its first block is stored
    assert write_run(layouts[: n + 1]) is None  # all of it stored
    assert counts() == before and cursor() == position
    assert not Block.objects.filter(number__gt=n).exists()

    results = write_run(layouts[n + 1 : n + 3])
    assert results is not None and [(r.number, r.status) for r in results] == [(n + 1, "inserted"), (n + 2, "inserted")]
    assert cursor() == (n + 2, layouts[n + 2].hash)
    assert Block.objects.canonical().count() == n + 3


def test_a_run_that_does_not_chain_writes_nothing(chain: DevChain, rpc) -> None:
    """None, nothing written: the first block's parent is not the stored block below it, a later
    block is not the child of the one before, or the numbers skip."""
    n = 3
    ensure_tip(chain, n + 3)
    layouts = lay_out(rpc, range(n + 4))
    assert write_run(layouts[: n + 1]) is not None
    before, position = counts(), cursor()
    new1, new2, new3 = layouts[n + 1 : n + 4]

    assert write_run([dataclasses.replace(new1, parent_hash=b"\x11" * 32), new2]) is None
    assert write_run([new1, dataclasses.replace(new2, parent_hash=b"\x11" * 32)]) is None
    assert write_run([new1, new3]) is None
    assert write_run([new1, dataclasses.replace(new2, number=n + 3)]) is None  # hashes chain, numbers skip
    assert counts() == before and cursor() == position

    assert write_run([new1, new2, new3]) is not None  # the unaltered run fits
    assert cursor() == (n + 3, new3.hash)


def test_a_run_onto_another_stored_branch_writes_nothing(chain: DevChain, rpc) -> None:
    """None, nothing written: a canonical block of another hash holds one of the run's heights,
    or one of its blocks is stored as orphaned (write_layout must reinstate that one)."""
    n = 3
    ensure_tip(chain, n + 2)
    layouts = lay_out(rpc, range(n + 3))
    assert write_run(layouts[: n + 1]) is not None
    assert ingest.write_layout(layouts[n + 2], config=CONFIG).status == "inserted"  # ahead of a gap
    Block.objects.filter(number=n + 2).update(hash=b"\x22" * 32)
    before, position = counts(), cursor()
    assert write_run(layouts[n + 1 : n + 3]) is None
    assert counts() == before and cursor() == position

    Block.objects.filter(number=n + 2).delete()
    assert write_run([layouts[n + 1]]) is not None
    Block.objects.filter(number=n + 1).update(canonical=False)
    before, position = counts(), cursor()
    assert write_run(layouts[n + 1 : n + 3]) is None
    assert counts() == before and cursor() == position
    assert ingest.write_layout(layouts[n + 1], config=CONFIG).status == "reinstated"


def test_a_run_ahead_of_a_gap_is_stored_but_does_not_move_the_cursor(chain: DevChain, rpc) -> None:
    """Like write_layout, a run need not touch the stored chain; the cursor ("everything up to
    here is stored") moves only from the first block's parent, so a gap holds it back."""
    n = 3
    ensure_tip(chain, n + 4)
    layouts = lay_out(rpc, range(n + 5))
    assert write_run(layouts[: n + 1]) is not None
    assert cursor() == (n, layouts[n].hash)

    ahead = write_run(layouts[n + 3 : n + 5])
    assert ahead is not None and [r.number for r in ahead] == [n + 3, n + 4]
    assert Block.objects.canonical().filter(number__in=[n + 3, n + 4]).count() == 2
    assert cursor() == (n, layouts[n].hash)  # n+1, n+2 are missing

    assert write_run(layouts[n + 1 : n + 3]) is not None
    # The compare-and-set moves the cursor from n (the run's parent) to the run's last block,
    # n+2; it does not look further, so it stops short of the n+3..n+4 stored before.
    assert cursor() == (n + 2, layouts[n + 2].hash)
    # The sync writes the next batch block by block (write_run finds n+3 stored): each
    # "exists" moves the cursor one block on.
    assert write_run(layouts[n + 3 : n + 5]) is None
    assert ingest.write_layout(layouts[n + 3], config=CONFIG).status == "exists"
    assert cursor() == (n + 3, layouts[n + 3].hash)


def test_keystones_inside_a_run_find_their_predecessor_in_the_same_run(chain: DevChain, rpc) -> None:
    """Blocks 25 and 50 in one run, with no prev_keystone_hash given: keystone 50 takes block
    25's hash from the rows written earlier in the same transaction. Only blocks with derived
    rows carry their records (extras)."""
    ensure_tip(chain, 50)
    layouts = lay_out(rpc, range(51))
    assert layouts[24].extras is None and layouts[26].extras is None  # L1-info call only, no system tx
    assert layouts[25].extras is not None and layouts[50].extras is not None
    assert write_run(layouts[:21]) is not None
    results = write_run(layouts[21:])
    assert results is not None and [r.number for r in results] == list(range(21, 51))
    keystones = {k.number: k for k in Keystone.objects.select_related("block")}
    assert sorted(keystones) == [25, 50]
    assert bytes(keystones[25].prev_ep_keystone_hash) == bytes(32)
    assert bytes(keystones[50].prev_ep_keystone_hash) == layouts[25].hash
    assert [bytes(keystones[k].block.hash) for k in (25, 50)] == [layouts[25].hash, layouts[50].hash]
    assert cursor() == (50, layouts[50].hash)


def test_sync_stores_new_blocks_in_runs(chain: DevChain, rpc, monkeypatch: pytest.MonkeyPatch) -> None:
    """A backfill of new blocks goes through write_run only (never the per-block fallback) and
    leaves every block stored, the cursor at the end and no dangling reference."""
    tip = ensure_tip(chain, 30)
    runs: list[list[int] | None] = []
    real_write_run = ingest.write_run

    def spy(items: Any, **kwargs: Any) -> Any:
        results = real_write_run(items, **kwargs)
        runs.append(None if results is None else [r.number for r in results])
        return results

    def no_fallback(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("write_layout called for new consecutive blocks")

    monkeypatch.setattr(ingest, "write_run", spy)
    monkeypatch.setattr(ingest, "write_layout", no_fallback)
    state = sync.backfill(rpc, 0, tip, config=CONFIG, network=chain.network())
    assert state.blocks == tip + 1 and state.current == tip
    assert len(runs) > 1 and None not in runs
    assert [n for run in runs for n in run] == list(range(tip + 1))
    assert list(Block.objects.canonical().order_by("number").values_list("number", flat=True)) == list(range(tip + 1))
    assert Block.objects.count() == tip + 1
    assert cursor() == (tip, bytes.fromhex(chain.rpc.block_by_number(tip, full_tx=False)["hash"][2:]))
    assert integrity.check_references() == []
