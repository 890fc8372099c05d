"""The running network's block layout, read straight from anvil and bcoin: the L1-info call
opens every Hemi block, and the hVM relay carries bcoin's raw headers up to its best block."""

from __future__ import annotations

import pytest
from eth_abi import decode as abi_decode

from tests.devnet_scenarios.chain import (
    SYSTEM_SENDER,
    UPDATE_HVM_STATE_SELECTOR,
    Stepped,
    assert_l1_info_opens_every_block,
    dsha256,
)

pytestmark = pytest.mark.integration


def test_every_block_opens_with_the_l1_info_call_even_with_user_txs_sent_first(stepped: Stepped) -> None:
    # a user transaction submitted before the sequencer's L1-info call must still come after it
    user = stepped.net.account(9)
    tx_hash = stepped.w3.eth.send_transaction({"from": user, "to": user, "value": 1})
    stepped.driver.tick()
    receipt = stepped.w3.eth.get_transaction_receipt(tx_hash)
    assert receipt["transactionIndex"] >= 1
    assert_l1_info_opens_every_block(stepped)


def test_relayed_headers_are_bcoins_raw_headers_up_to_its_best_block(stepped: Stepped) -> None:
    stepped.driver.tick()
    hvm = stepped.net.contract("HvmState")
    tip_internal, tip_height = hvm.functions.tip().call()
    assert tip_internal[::-1].hex() == stepped.btc.getbestblockhash()
    assert tip_height == stepped.btc.getblockcount()

    relayed: list[bytes] = []
    for number in range(1, int(stepped.call("eth_blockNumber"), 16) + 1):
        for tx in stepped.block(number)["transactions"]:
            if tx["from"].lower() != SYSTEM_SENDER:
                continue
            assert tx["to"].lower() == stepped.deployment.contracts["HvmState"].lower()
            assert tx["input"].startswith(UPDATE_HVM_STATE_SELECTOR)
            canonical_tip, headers = abi_decode(["bytes32", "bytes[]"], bytes.fromhex(tx["input"][10:]))
            assert 0 <= len(headers) <= 8  # the sequencer's per-call cap
            if headers:
                assert canonical_tip == dsha256(headers[-1])
            for header in headers:
                assert header == stepped.btc.getblockheader_raw(dsha256(header)[::-1].hex())
            relayed += headers
    # every block of bcoin's active chain (height 1 to the tip) went through the relay
    relayed_hashes = {dsha256(h)[::-1].hex() for h in relayed}
    active = stepped.btc.getblockhashes(range(1, stepped.btc.getblockcount() + 1))
    assert [h for h in active if h not in relayed_hashes] == []
