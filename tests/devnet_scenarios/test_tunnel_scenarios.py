"""withdrawal and unbacked-mint, checked on the nodes."""

from __future__ import annotations

import pytest
from eth_abi import decode as abi_decode
from eth_utils import keccak

from devnet.btc import BitcoinRpcError
from devnet.config import NOT_THE_VAULT_KEY, WITHDRAWAL_PAYEE_KEY
from devnet.scenarios import unbacked_mint, withdrawal
from tests.devnet_scenarios.chain import Stepped, prevout_script, raw_tx, scripts

pytestmark = pytest.mark.integration

DEPOSIT_CONFIRMED = keccak(text="DepositConfirmed(address,address,bytes32,uint256,uint256)")
WITHDRAWAL_INITIATED = keccak(text="WithdrawalInitiated(address,address,string,uint256,uint256,uint64)")
WITHDRAWAL_FINALIZED = keccak(text="WithdrawalFinalized(uint32,bytes32,uint256)")


def test_withdrawal_is_initiated_paid_on_bitcoin_and_finalized(stepped: Stepped) -> None:
    summary = withdrawal.run(stepped.net, amount_sats=20_000_000)
    net_sats = 20_000_000 - 20_000
    assert summary["net_sats"] == net_sats

    initiated = stepped.w3.eth.get_transaction_receipt(summary["initiate_tx_hash"])
    [log] = [entry for entry in initiated["logs"] if entry["topics"][0] == WITHDRAWAL_INITIATED]
    assert log["topics"][3] == keccak(text=WITHDRAWAL_PAYEE_KEY.p2pkh_address)
    assert abi_decode(["uint256", "uint256", "uint64"], log["data"]) == (20_000_000, net_sats, summary["uuid"])

    # spec 6.4: one input from the vault, [0] payee amount - fee, [1] change to the vault,
    # [2] OP_RETURN with the 4-byte big-endian withdrawal index
    payout = raw_tx(stepped.btc, summary["payout_txid"])
    vault_script = stepped.deployment.vault_script
    assert len(payout.vin) == 1 and prevout_script(stepped.btc, payout) == vault_script
    outputs = scripts(payout)
    assert outputs[0] == WITHDRAWAL_PAYEE_KEY.p2pkh_script and payout.vout[0].nValue == net_sats
    assert outputs[1] == vault_script
    assert outputs[2] == b"\x6a\x04" + summary["withdrawal_index"].to_bytes(4, "big")

    finalized = stepped.w3.eth.get_transaction_receipt(summary["finalize_tx_hash"])
    assert finalized["status"] == 1
    [log] = [entry for entry in finalized["logs"] if entry["topics"][0] == WITHDRAWAL_FINALIZED]
    assert log["topics"][2].hex() == summary["payout_txid"]
    state = stepped.net.vault_state()
    assert state.functions.isWithdrawalFulfilled(summary["withdrawal_index"]).call() is True


def test_unbacked_mints_exist_on_hemi_without_a_bitcoin_deposit(stepped: Stepped) -> None:
    summary = unbacked_mint.run(stepped.net, variant="both", sats=5_000_000)
    by_variant = {mint["variant"]: mint for mint in summary["mints"]}
    state = stepped.net.vault_state()
    for mint in by_variant.values():
        receipt = stepped.w3.eth.get_transaction_receipt(mint["mint_tx_hash"])
        [log] = [entry for entry in receipt["logs"] if entry["topics"][0] == DEPOSIT_CONFIRMED]
        assert log["topics"][3].hex() == mint["txid"]
        assert abi_decode(["uint256", "uint256"], log["data"]) == (5_000_000, 5_000_000 - 5_000)
        assert state.functions.acknowledgedDeposits(bytes.fromhex(mint["txid"])).call() is False

    with pytest.raises(BitcoinRpcError):  # bcoin, with its tx index, has never seen it
        stepped.btc.getrawtransaction_raw(by_variant["missing-txid"]["txid"])

    wrong = raw_tx(stepped.btc, by_variant["wrong-script"]["txid"])
    assert NOT_THE_VAULT_KEY.p2pkh_script in scripts(wrong)
    assert stepped.deployment.vault_script not in scripts(wrong)
