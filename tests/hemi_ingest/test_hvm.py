"""updateHvmState calls (devnet: from the impersonated 0x8888…) become HvmUpdate/HvmHeader rows, byte-exact.

Also the real system-transaction shapes (0x7C Bitcoin attributes, 0x7D PoP payout), which anvil
cannot produce: those are written through ``write_block`` from a prepared block whose
transactions are replaced by encoded system transactions.
"""

from __future__ import annotations

import dataclasses
import struct

import pytest

from devnet.constants import SYSTEM_SENDER
from indexer.hashing import dsha256, keccak256
from indexer.hemi import hvm, ingest, payout, sync
from indexer.hemi.models import HvmHeader, HvmUpdate, PopPayout, Transaction
from indexer.hemi.records import BTC_ATTRIBUTES_TX, HEMI_SYSTEM_SENDER, POP_PAYOUT_TX, HemiTransaction

from .conftest import DevChain

pytestmark = pytest.mark.django_db
CONFIG = ingest.IngestConfig(tunnel_manager=None, accept_impersonated=True)
# Bitcoin regtest genesis header (what bcoin's regtest starts from).
REGTEST_GENESIS = bytes.fromhex(
    "0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b12b27ac72c3e"
    "67768f617fc81bc3888a51323a9fb8aa4b1e5e4adae5494dffff7f2002000000"
)
REGTEST_BITS = 0x207FFFFF
REGTEST_TARGET = 0x7FFFFF << (8 * (0x20 - 3))


def regtest_headers(count: int, parent: bytes = REGTEST_GENESIS, salt: bytes = b"") -> list[bytes]:
    """Headers with valid regtest proof of work, each linking to the previous one."""
    out, prev, time = [], parent, 1_296_688_602
    for i in range(count):
        merkle = dsha256(b"coinbase" + salt + i.to_bytes(4, "little"))
        for nonce in range(1_000_000):
            stamp = time + 600 * (i + 1)
            header = struct.pack("<I32s32sIII", 0x20000000, dsha256(prev), merkle, stamp, REGTEST_BITS, nonce)
            if int.from_bytes(dsha256(header), "little") <= REGTEST_TARGET:
                break
        out.append(header)
        prev = header
    return out


@pytest.fixture(scope="module")
def hvm_calls(chain: DevChain) -> dict:
    hvm_state = chain.deploy("HvmState", REGTEST_GENESIS, 0)
    headers = regtest_headers(3)
    tip = dsha256(headers[-1])
    calldata = hvm.encode_update_hvm_state(tip, headers)
    fork = regtest_headers(1, headers[0], salt=b"fork")
    unlinked = hvm.encode_update_hvm_state(dsha256(fork[0]), regtest_headers(1, b"x" * 80))
    chain.mine([
        {"from": SYSTEM_SENDER, "to": hvm_state, "data": calldata},
        # same selector, not from the system sender: anyone can send this, it proves nothing
        {"from": chain.accounts[3], "to": "0x" + "77" * 20, "data": calldata},
        # from the system sender but reverting (header does not link): not a Bitcoin view
        {"from": SYSTEM_SENDER, "to": hvm_state, "data": unlinked},
    ])  # fmt: skip
    chain.mine([{"from": SYSTEM_SENDER, "to": hvm_state, "data": hvm.encode_update_hvm_state(dsha256(fork[0]), fork)}])
    return {"headers": headers, "tip": tip, "fork": fork, "hvm_state": hvm_state}


def test_update_hvm_state_calls_from_the_system_sender_are_recorded_byte_exact(chain: DevChain, hvm_calls, rpc) -> None:
    sync.follow_tip(rpc, network=chain.network(), config=CONFIG)
    updates = list(HvmUpdate.objects.order_by("block__number", "transaction__index"))
    assert len(updates) == 2
    first, second = updates
    assert first.source == HvmUpdate.CALL and bytes(first.transaction.sender) == HEMI_SYSTEM_SENDER
    assert bytes(first.canonical_tip_internal) == hvm_calls["tip"] and first.header_count == 3
    rows = list(first.headers.order_by("position"))
    assert [bytes(h.header_raw) for h in rows] == hvm_calls["headers"]
    assert [bytes(h.btc_hash_internal) for h in rows] == [dsha256(h) for h in hvm_calls["headers"]]
    expected_prev = [dsha256(REGTEST_GENESIS)] + [dsha256(h) for h in hvm_calls["headers"][:2]]
    assert [bytes(h.prev_hash_internal) for h in rows] == expected_prev
    assert bytes(second.canonical_tip_internal) == dsha256(hvm_calls["fork"][0])
    assert [bytes(h.header_raw) for h in second.headers.all()] == hvm_calls["fork"]
    # Every recorded update is the successful one in its transaction's receipt.
    assert all(u.transaction.status == 1 and u.canonical for u in updates)
    selector_txs = [t for t in Transaction.objects.all() if bytes(t.input)[:4] == hvm.UPDATE_HVM_STATE_SELECTOR]
    assert len(selector_txs) == 4  # two recorded, one from an ordinary account, one reverted


def _system_tx(
    block: HemiTransaction, tx_type: int, to: bytes, data: bytes, index: int
) -> tuple[HemiTransaction, bytes]:
    from indexer.hemi.rlpcodec import encode_system_tx

    raw = encode_system_tx(tx_type, to, 1_000_000, data)
    tx = block._replace(
        hash=keccak256(raw), tx_type=tx_type, from_address=HEMI_SYSTEM_SENDER, to_address=to, nonce=0,
        gas=1_000_000, value=0, input=data, gas_price=None, max_fee_per_gas=None, max_priority_fee_per_gas=None,
        chain_id=None, access_list=None, v=None, r=None, s=None, y_parity=None, transaction_index=index,
    )  # fmt: skip
    return tx, raw


def _prepared_with_system_txs(chain: DevChain, hvm_data: bytes, payout_data: bytes) -> ingest.PreparedBlock:
    number = chain.mine([{"from": chain.accounts[1], "to": chain.accounts[2], "value": 1}])
    prepared = ingest.prepare_block(
        chain.rpc.block_by_number(number), chain.rpc.block_receipts([number])[0], accept_impersonated=True
    )
    template, receipt = prepared.block.transactions[1], prepared.receipts[1]
    txs, raws, receipts = list(prepared.block.transactions[:1]), list(prepared.raw_txs[:1]), list(prepared.receipts[:1])
    system = [
        (BTC_ATTRIBUTES_TX, HEMI_SYSTEM_SENDER, hvm_data),
        (POP_PAYOUT_TX, payout.GOVERNANCE_TOKEN_PREDEPLOY, payout_data),
    ]
    for i, (tx_type, to, data) in enumerate(system, start=1):
        tx, raw = _system_tx(template, tx_type, to, data, i)
        txs.append(tx)
        raws.append(raw)
        receipts.append(
            receipt._replace(transaction_hash=tx.hash, transaction_index=i, tx_type=tx_type, logs=())
        )
    block = prepared.block._replace(transactions=tuple(txs), transaction_hashes=tuple(t.hash for t in txs))
    return dataclasses.replace(prepared, block=block, receipts=tuple(receipts), raw_txs=tuple(raws),
                               raw_receipts=tuple(raws))  # fmt: skip


def test_system_0x7c_and_0x7d_transactions_become_hvm_and_payout_rows(chain: DevChain, hvm_calls) -> None:
    headers = hvm_calls["headers"][:2]
    miners = [b"\x11" * 20, b"\x22" * 20]
    prepared = _prepared_with_system_txs(
        chain,
        hvm.encode_update_hvm_state(dsha256(headers[-1]), headers),
        payout.encode_mint_pop_rewards(4200, miners, [10**18, 3 * 10**18], version=1),
    )
    ingest.write_block(prepared, config=CONFIG)
    update = HvmUpdate.objects.get()
    assert update.source == HvmUpdate.SYSTEM_TX and update.transaction.type == 0x7C
    assert [bytes(h.header_raw) for h in HvmHeader.objects.order_by("position")] == headers
    row = PopPayout.objects.get()
    assert (row.variant, row.block_rewarded, bytes(row.to)) == ("v1-uint256", 4200, payout.GOVERNANCE_TOKEN_PREDEPLOY)
    assert [(bytes(e.account), e.amount, e.rel_pub_height) for e in row.entries.order_by("position")] == [
        (miners[0], 10**18, None), (miners[1], 3 * 10**18, None)]  # fmt: skip


def test_a_0x7c_transaction_that_does_not_decode_refuses_the_whole_block(chain: DevChain, hvm_calls) -> None:
    good = hvm.encode_update_hvm_state(hvm_calls["tip"], hvm_calls["headers"][:1])
    bad = good[:-1] + b"\x01"  # non-zero padding after the header: op-geth rejects it
    prepared = _prepared_with_system_txs(chain, bad, payout.encode_mint_pop_rewards(1, [], [], version=2))
    with pytest.raises(ingest.BlockRejected, match="0x7C"):
        ingest.write_block(prepared, config=CONFIG)
    assert not Transaction.objects.exists() and not HvmUpdate.objects.exists()
