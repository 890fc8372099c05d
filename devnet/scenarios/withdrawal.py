"""withdrawal: hemiBTC back to Bitcoin - initiated on Hemi, paid on Bitcoin, finalized.

1. Make sure the withdrawing account holds enough hemiBTC (a faucet-paid deposit with the
   22-byte binary recipient form, credited by the operator, when it does not).
2. ``initiateWithdrawal(0, <regtest P2PKH address>, amount)`` burns the hemiBTC and emits
   WithdrawalInitiated with the uuid.
3. The operator pays amount - fee from the vault's custody key (spec 6.4 layout) and, once
   the payout has 4 confirmations in the hVM view, finalizes it on the vault.
"""

from __future__ import annotations

from typing import Any

from hexbytes import HexBytes
from web3.logs import DISCARD

from devnet.config import FAUCET_KEY, WITHDRAWAL_ACCOUNT, WITHDRAWAL_PAYEE_KEY
from devnet.constants import MIN_BITCOIN_CONFIRMATIONS
from devnet.handle import Network, ScenarioError
from devnet.scenarios.common import deposit, wait_mint
from indexer.bitcoin.decode import decode_tx
from indexer.bitcoin.tunnel import withdrawal_index_from_op_return

AMOUNT_SATS = 20_000_000


def run(net: Network, *, amount_sats: int = AMOUNT_SATS) -> dict[str, Any]:
    user = net.account(WITHDRAWAL_ACCOUNT)
    token = net.contract("BTCToken")
    manager = net.contract("BitcoinTunnelManager")
    vault = net.contract("SimpleBitcoinVault")
    state = net.vault_state()
    funding: dict[str, Any] | None = None
    if token.functions.balanceOf(user).call() < amount_sats:
        fee_bps = int(vault.functions.depositFeeBps().call())
        gross = -(-amount_sats * 10_000 // (10_000 - fee_bps)) + 10_000  # covers the deposit fee
        lock = deposit(net, FAUCET_KEY, user, gross, ascii_form=False)
        log = wait_mint(net, lock)
        funding = {"deposit_txid": lock.txid, "mint_tx_hash": log["transactionHash"]}

    payee = WITHDRAWAL_PAYEE_KEY.p2pkh_address
    receipt = net.transact(manager.functions.initiateWithdrawal(0, payee, amount_sats), user, "initiateWithdrawal")
    [event] = manager.events.WithdrawalInitiated().process_receipt(receipt, errors=DISCARD)
    uuid = int(event.args.uuid)
    index = uuid & 0xFFFFFFFF
    net_sats = int(event.args.netSatsAfterFee)

    net.wait_for(
        lambda: state.functions.isWithdrawalFulfilled(index).call(),
        what=f"the operator to pay and finalize withdrawal {uuid}",
        hemi_blocks=10,
        btc_blocks=MIN_BITCOIN_CONFIRMATIONS + 3,
    )
    record = state.functions.getWithdrawal(index).call()
    payout_txid = bytes(record[8]).hex()
    [finalized] = vault.events.WithdrawalFinalized().get_logs(
        from_block=int(receipt["blockNumber"]), argument_filters={"withdrawalIndex": index}
    )
    payout = decode_tx(net.btc.getrawtransaction_raw(payout_txid))
    outputs = payout.outputs
    if outputs[0].script_pubkey != WITHDRAWAL_PAYEE_KEY.p2pkh_script or outputs[0].value_sats != net_sats:
        raise ScenarioError(f"payout {payout_txid} does not pay {net_sats} sat to {payee} in output 0")
    if withdrawal_index_from_op_return(outputs[-1].script_pubkey) != index:
        raise ScenarioError(f"payout {payout_txid} does not name withdrawal index {index}")
    position = net.btc_position(payout_txid)
    return {
        "scenario": "withdrawal",
        "funding": funding,
        "withdrawer": user,
        "btc_address": payee,
        "amount_sats": amount_sats,
        "fee_sats": amount_sats - net_sats,
        "net_sats": net_sats,
        "uuid": uuid,
        "withdrawal_index": index,
        "initiate_tx_hash": HexBytes(receipt["transactionHash"]).to_0x_hex(),
        "payout_txid": payout_txid,
        "payout_height": position[0] if position else None,
        "payout_inputs": len(payout.inputs),
        "payout_outputs": len(outputs),
        "finalize_tx_hash": HexBytes(finalized.transactionHash).to_0x_hex(),
    }
