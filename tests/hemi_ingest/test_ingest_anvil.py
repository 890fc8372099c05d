"""End to end on a real anvil: every stored block/transaction/receipt/log field equals the node's JSON."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command

from devnet.constants import L1_INFO_DEPOSITOR
from indexer.hashing import keccak256
from indexer.hemi import ingest, mappers
from indexer.hemi.models import Address, Block, Log, Token, TokenBalance, TokenTransfer, Transaction
from indexer.models import ChainCursor

from .conftest import L1_ORIGIN_BASE, DevChain

pytestmark = pytest.mark.django_db
DEVNET = ingest.IngestConfig(tunnel_manager=None, accept_impersonated=True)


def q(value: str | None) -> int | None:
    return None if value is None else int(value, 16)


def b(value: str | None) -> bytes | None:
    return None if value is None else bytes.fromhex(value[2:])


@pytest.fixture(scope="module")
def built(chain: DevChain) -> dict[str, Any]:
    """A chain with every transaction type anvil makes, a deployment, ERC-20 transfers and a revert."""
    a = chain.accounts
    usd = chain.deploy("DevnetUSD", 10**12)
    token = chain.contract("DevnetUSD", usd)
    chain.mine([
        {"from": a[0], "to": a[1], "value": 10**18, "gasPrice": hex(3 * 10**9)},  # legacy
        {"from": a[1], "to": a[2], "value": 12345, "maxFeePerGas": hex(4 * 10**9), "maxPriorityFeePerGas": "0x2"},
        {"from": a[2], "to": a[3], "value": 1, "gasPrice": hex(3 * 10**9), "type": "0x1",
         "accessList": [{"address": usd, "storageKeys": ["0x" + "00" * 31 + "01"]}]},
        chain.call_tx(token, "transfer", a[4], 5_000, sender=a[0]),
        chain.call_tx(token, "transfer", a[5], 7_000, sender=a[0]),
    ])  # fmt: skip
    chain.mine([
        chain.call_tx(token, "transfer", a[5], 1_000, sender=a[4]),
        chain.call_tx(token, "mint", a[6], 99, sender=a[0]),
        chain.call_tx(token, "transfer", a[0], 10**15, sender=a[7]),  # reverts: no balance
        chain.creation_tx("NoDecimalsToken", 10**20, sender=a[3]),
    ])  # fmt: skip
    chain.mine_empty(2)
    return {"usd": usd, "tip": chain.tip()}


def sync_all(chain: DevChain, monkeypatch: pytest.MonkeyPatch, tmp_path: Any, *args: str) -> None:
    monkeypatch.setenv("HEMI_RPC_URL", chain.url)
    monkeypatch.setenv("DEVNET_STATE_FILE", str(tmp_path / "no-devnet.json"))
    call_command("hemi_sync", "--no-progress", *args)


def test_every_stored_field_equals_the_nodes_json(chain: DevChain, built: dict, monkeypatch, tmp_path) -> None:
    sync_all(chain, monkeypatch, tmp_path)
    tip = built["tip"]
    assert Block.objects.count() == tip + 1
    for number in range(tip + 1):
        node = chain.rpc.block_by_number(number)
        receipts = chain.rpc.block_receipts([number])[0]
        row = Block.objects.get(number=number)
        assert bytes(row.hash) == b(node["hash"]) == keccak256(bytes(row.header_rlp))
        assert bytes(row.parent_hash) == b(node["parentHash"])
        assert row.timestamp == q(node["timestamp"])
        assert bytes(row.miner) == b(node["miner"])
        assert bytes(row.state_root) == b(node["stateRoot"])
        assert bytes(row.transactions_root) == b(node["transactionsRoot"])
        assert bytes(row.receipts_root) == b(node["receiptsRoot"])
        assert row.gas_used == q(node["gasUsed"]) and row.gas_limit == q(node["gasLimit"])
        assert row.base_fee_per_gas == Decimal(q(node["baseFeePerGas"]))
        assert row.tx_count == len(node["transactions"])
        assert row.canonical and row.orphaned_at is None
        assert row.l1_origin_number == (None if number == 0 else L1_ORIGIN_BASE + number)
        txs = list(Transaction.objects.filter(block=row).order_by("index"))
        assert len(txs) == len(node["transactions"])
        for tx, nt, nr in zip(txs, node["transactions"], receipts, strict=True):
            assert bytes(tx.hash) == b(nt["hash"])
            if bytes(tx.sender) == b(L1_INFO_DEPOSITOR.lower()):
                # anvil's impersonated sender: zero signature, hash = keccak(rlp ‖ sender)
                assert tx.index == 0
                assert ingest.anvil_impersonated_hash(mappers.map_transaction(nt), bytes(tx.raw)) == bytes(tx.hash)
            else:
                assert keccak256(bytes(tx.raw)) == bytes(tx.hash)
            assert tx.index == q(nt["transactionIndex"]) and tx.type == q(nt["type"])
            assert bytes(tx.sender) == b(nt["from"])
            assert (None if tx.to is None else bytes(tx.to)) == b(nt.get("to"))
            assert tx.value == q(nt["value"]) and tx.nonce == q(nt["nonce"]) and tx.gas == q(nt["gas"])
            assert tx.gas_price == q(nt.get("gasPrice"))
            assert tx.max_fee_per_gas == q(nt.get("maxFeePerGas"))
            assert tx.max_priority_fee_per_gas == q(nt.get("maxPriorityFeePerGas"))
            assert bytes(tx.input) == b(nt["input"])
            assert tx.status == q(nr["status"])
            assert tx.gas_used == q(nr["gasUsed"]) and tx.cumulative_gas_used == q(nr["cumulativeGasUsed"])
            assert tx.effective_gas_price == q(nr["effectiveGasPrice"])
            assert (None if tx.contract_address is None else bytes(tx.contract_address)) == b(nr["contractAddress"])
            raw_from_node = chain.rpc.call("eth_getRawTransactionByHash", [nt["hash"]])
            assert bytes(tx.raw) == b(raw_from_node)
            assert tx.receipt_raw and tx.canonical
            logs = list(Log.objects.filter(transaction=tx).order_by("log_index"))
            assert len(logs) == len(nr["logs"])
            for log, nl in zip(logs, nr["logs"], strict=True):
                assert log.log_index == q(nl["logIndex"]) and bytes(log.address) == b(nl["address"])
                topics = [log.topic0, log.topic1, log.topic2, log.topic3][: len(nl["topics"])]
                assert [bytes(t) for t in topics] == [b(t) for t in nl["topics"]]
                assert bytes(log.data) == b(nl["data"])
    assert {t.type for t in Transaction.objects.all()} >= {0, 1, 2}
    assert Transaction.objects.filter(status=0).count() == 1
    assert ChainCursor.objects.get(chain="hemi").height == tip


def test_transfers_balances_tokens_and_addresses(chain: DevChain, built: dict, monkeypatch, tmp_path) -> None:
    sync_all(chain, monkeypatch, tmp_path)
    usd = Token.objects.get(address=b(built["usd"]))
    assert (usd.name, usd.symbol, usd.decimals, usd.standard) == ("Devnet USD", "dUSD", 6, "erc20")
    assert usd.metadata_read_at_block is not None and usd.metadata_problems == ""
    assert TokenTransfer.objects.filter(token=usd).count() == 5  # mint, 2 transfers, transfer, mint
    contract = chain.contract("DevnetUSD", built["usd"])
    for bal in TokenBalance.objects.filter(token=usd):
        holder = chain.w3.to_checksum_address("0x" + bytes(bal.holder).hex())
        assert bal.balance == contract.functions.balanceOf(holder).call()
    assert not TokenBalance.objects.filter(holder=bytes(20)).exists()
    assert Address.objects.get(address=b(built["usd"])).is_contract
    assert not Address.objects.get(address=b(chain.accounts[1])).is_contract
    assert Address.objects.get(address=b(chain.accounts[0])).first_seen_block == 1


def test_running_again_changes_nothing(chain: DevChain, built: dict, monkeypatch, tmp_path) -> None:
    sync_all(chain, monkeypatch, tmp_path)

    def snapshot() -> dict:
        return {
            model.__name__: sorted(repr(sorted(row.items())) for row in model.objects.values())
            for model in (Block, Transaction, Log, Token, TokenTransfer, TokenBalance, Address, ChainCursor)
        }

    before = snapshot()
    sync_all(chain, monkeypatch, tmp_path, "--from", "0")
    assert snapshot() == before


def test_tampered_blocks_are_refused_with_a_named_error_and_no_rows(chain: DevChain, built: dict) -> None:
    node = chain.rpc.block_by_number(2)
    receipts = chain.rpc.block_receipts([2])[0]
    tampered = dict(node, gasUsed=hex(int(node["gasUsed"], 16) + 1))
    with pytest.raises(ingest.BlockRejected, match="header hashes"):
        ingest.ingest_block(tampered, receipts, config=DEVNET)
    evil_tx = dict(node["transactions"][1], value=hex(int(node["transactions"][1]["value"], 16) + 1))
    with pytest.raises(ingest.BlockRejected, match="re-encodes"):
        ingest.ingest_block(dict(node, transactions=[node["transactions"][0], evil_tx, *node["transactions"][2:]]),
                            receipts, config=DEVNET)  # fmt: skip
    with pytest.raises(ingest.BlockRejected, match="receiptsRoot"):
        bad = [dict(receipts[0], cumulativeGasUsed=hex(int(receipts[0]["cumulativeGasUsed"], 16) + 1)), *receipts[1:]]
        ingest.ingest_block(node, bad, config=DEVNET)
    assert not Block.objects.exists() and not Transaction.objects.exists()
    # Off the devnet, anvil's impersonated L1-info transaction does not verify either.
    with pytest.raises(ingest.BlockRejected, match="re-encodes"):
        ingest.ingest_block(node, receipts, config=ingest.IngestConfig(tunnel_manager=None))


def test_a_long_backfill_verified_in_worker_processes_stores_the_same_rows(
    chain: DevChain, built: dict, monkeypatch, rpc
) -> None:
    from indexer.hemi import sync

    def rows() -> list:
        txs = Transaction.objects.select_related("block")
        return sorted((bytes(t.hash), t.index, bytes(t.raw), bytes(t.receipt_raw), t.block.number) for t in txs)

    sync.backfill(rpc, 0, built["tip"], config=DEVNET, network=chain.network())
    in_threads = rows()
    Block.objects.all().delete()
    ChainCursor.objects.all().delete()
    monkeypatch.setattr(sync, "PROCESS_MIN_BLOCKS", 1)
    state = sync.backfill(rpc, 0, built["tip"], config=DEVNET, network=chain.network())
    assert state.blocks == built["tip"] + 1
    assert rows() == in_threads


def test_the_op_receipt_l1_fee_fields_are_stored_with_the_transaction(chain: DevChain, built: dict) -> None:
    """op-geth adds the L1 data fee to receipts (anvil does not): outside the receipts trie,
    so the block still verifies, and the explorer needs it for the fee a sender paid."""
    node = chain.rpc.block_by_number(2)
    receipts = chain.rpc.block_receipts([2])[0]
    extras = {"l1Fee": hex(123_456_789_012), "l1GasUsed": "0x640", "l1GasPrice": hex(7 * 10**9),
              "l1BlobBaseFee": "0x1", "l1BaseFeeScalar": "0x558", "l1BlobBaseFeeScalar": "0xc5fc5",
              "l1FeeScalar": "0.684"}  # fmt: skip
    ingest.ingest_block(node, [receipts[0], dict(receipts[1], **extras), *receipts[2:]], config=DEVNET)
    system, user = Transaction.objects.filter(block__number=2).order_by("index")[:2]
    assert user.l1_fee == 123_456_789_012 and user.l1_gas_used == 1600 and user.l1_gas_price == 7 * 10**9
    assert (user.l1_blob_base_fee, user.l1_base_fee_scalar, user.l1_blob_base_fee_scalar) == (1, 0x558, 0xC5FC5)
    assert user.l1_fee_scalar_text == "0.684"
    assert system.l1_fee is None and system.l1_fee_scalar_text is None
