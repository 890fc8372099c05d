"""treasury-lock end to end, checked on the nodes: the deposit's bytes on bcoin, the mint on
anvil, and the PoP publication whose keystone is rebuilt here from eth_getBlockByNumber."""

from __future__ import annotations

import hashlib

import pytest
from eth_abi import decode as abi_decode
from eth_utils import keccak

from devnet.scenarios import treasury_lock
from tests.devnet_scenarios.chain import Stepped, block_txids, raw_tx, rebuild_abrev, scripts

pytestmark = pytest.mark.integration

DEPOSIT_CONFIRMED = keccak(text="DepositConfirmed(address,address,bytes32,uint256,uint256)")
AMOUNT = 10_000_000_000


def test_treasury_lock_mints_and_is_anchored_on_bitcoin(stepped: Stepped) -> None:
    token = stepped.net.contract("BTCToken")
    recipient = stepped.net.account(2)
    before = token.functions.balanceOf(recipient).call()

    summary = treasury_lock.run(stepped.net)

    # 1. the deposit on bcoin: 100 BTC to the vault script + the 42-byte upper-case ASCII recipient
    vault_script = stepped.deployment.vault_script
    assert summary["vault_script"] == vault_script.hex()
    deposit = raw_tx(stepped.btc, summary["deposit_txid"])
    assert deposit.vout[0].nValue == AMOUNT and bytes(deposit.vout[0].scriptPubKey) == vault_script
    [op_return] = [s for s in scripts(deposit) if s[:1] == b"\x6a"]
    assert op_return == b"\x6a\x28" + recipient[2:].upper().encode("ascii")
    assert len(op_return) == 42

    # 2. the mint on anvil: DepositConfirmed with the display txid, hemiBTC = amount - fee
    fee = AMOUNT * 10 // 10_000
    receipt = stepped.w3.eth.get_transaction_receipt(summary["mint_tx_hash"])
    assert receipt["status"] == 1
    [log] = [entry for entry in receipt["logs"] if entry["topics"][0] == DEPOSIT_CONFIRMED]
    assert log["address"] == stepped.deployment.contracts["BitcoinTunnelManager"]
    assert log["topics"][2][12:].hex() == recipient[2:].lower()
    assert log["topics"][3].hex() == summary["deposit_txid"]
    assert abi_decode(["uint256", "uint256"], log["data"]) == (AMOUNT, AMOUNT - fee)
    assert token.functions.balanceOf(recipient).call() - before == AMOUNT - fee
    assert summary["recipient"] == recipient and summary["net_sats"] == AMOUNT - fee

    # 3. the PoP publication: popmd's exact shape, the keystone equals an independent rebuild
    number = summary["anchoring_keystone_number"]
    assert number >= summary["keystone_number"] >= summary["mint_block_number"]
    pop = raw_tx(stepped.btc, summary["pop_txid"])
    assert pop.nVersion == 2 and len(pop.vin) == 1 and len(pop.vout) == 2
    script_sig = bytes(pop.vin[0].scriptSig)
    pubkey = script_sig[-33:]
    assert script_sig[-34] == 33 and pubkey[0] in (2, 3)  # <sig> <33-byte compressed key>
    pubkey_hash = hashlib.new("ripemd160", hashlib.sha256(pubkey).digest()).digest()
    assert bytes(pop.vout[0].scriptPubKey) == b"\x76\xa9\x14" + pubkey_hash + b"\x88\xac"  # change
    pop_script = bytes(pop.vout[1].scriptPubKey)
    assert pop.vout[1].nValue == 0 and len(pop_script) == 83
    assert pop_script[:8].hex() == "6a4c5048454d4901"
    assert pop_script[7:] == rebuild_abrev(stepped, number)
    assert pop.nLockTime < summary["pop_publication_height"]  # the best height when it was built

    # 4. anchored: on the active chain and superfinal (tip - publication height >= 10)
    height = summary["pop_publication_height"]
    assert stepped.btc.getblockhash(height) == summary["pop_block_hash"]
    assert stepped.btc.getblockcount() - height >= 10
    assert summary["pop_txid"] in block_txids(stepped.btc, summary["pop_block_hash"])
