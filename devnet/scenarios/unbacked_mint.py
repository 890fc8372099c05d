"""unbacked-mint: a compromised operator mints hemiBTC that no Bitcoin deposit backs.

``operatorMintUnchecked`` (devnet-only, see BitcoinTunnelManager.sol) emits a DepositConfirmed
indistinguishable from a genuine one. Two variants, both by default:

* ``missing-txid`` - the named Bitcoin txid does not exist on bcoin at all;
* ``wrong-script`` - a real, confirmed Bitcoin tx with a recipient OP_RETURN, but its payment
  goes to a script that is not the vault's custody script.
"""

from __future__ import annotations

import os
from typing import Any

from hexbytes import HexBytes
from web3.logs import DISCARD

from devnet.btc import BitcoinRpcError
from devnet.btctx import TxOutput, deposit_recipient_script_ascii
from devnet.config import DEPLOYER_ACCOUNT, FAUCET_KEY, NOT_THE_VAULT_KEY, UNBACKED_ACCOUNT
from devnet.handle import Network, ScenarioError
from indexer.hashing import keccak256

VARIANTS = ("missing-txid", "wrong-script")
MINT_SATS = 5_000_000


def _absent_txid(net: Network) -> str:
    while True:
        txid = keccak256(b"hemiscope-devnet-unbacked:" + os.urandom(16)).hex()
        try:
            net.btc.getrawtransaction_verbose(txid)
        except BitcoinRpcError:
            return txid  # bcoin (with its tx index) has never seen it


def run(net: Network, *, variant: str = "both", sats: int = MINT_SATS) -> dict[str, Any]:
    variants = VARIANTS if variant == "both" else (variant,)
    if any(v not in VARIANTS for v in variants):
        raise ScenarioError(f"variant must be one of {', '.join(VARIANTS)} or 'both', got {variant!r}")
    manager = net.contract("BitcoinTunnelManager")
    owner = net.account(DEPLOYER_ACCOUNT)
    recipient = net.account(UNBACKED_ACCOUNT)
    mints = []
    for kind in variants:
        paid_script = None
        if kind == "missing-txid":
            txid = _absent_txid(net)
        else:
            paid_script = NOT_THE_VAULT_KEY.p2pkh_script
            outputs = [TxOutput(paid_script, sats), TxOutput(deposit_recipient_script_ascii(recipient), 0)]
            txid = net.pay(FAUCET_KEY, outputs)
            net.wait_btc_confirmations(txid, 1, "the payment to the wrong script")
        receipt = net.transact(
            manager.functions.operatorMintUnchecked(0, bytes.fromhex(txid), recipient, sats),
            owner,
            f"operatorMintUnchecked ({kind})",
        )
        [event] = manager.events.DepositConfirmed().process_receipt(receipt, errors=DISCARD)
        position = net.btc_position(txid)
        mints.append(
            {
                "variant": kind,
                "txid": txid,
                "on_bitcoin": position is not None,
                "bitcoin_height": position[0] if position else None,
                "paid_script": paid_script.hex() if paid_script else None,
                "vault_script": bytes(net.contract("SimpleBitcoinVault").functions.custodyScript().call()).hex(),
                "mint_tx_hash": HexBytes(receipt["transactionHash"]).to_0x_hex(),
                "mint_block_number": int(receipt["blockNumber"]),
                "recipient": recipient,
                "deposit_sats": int(event.args.depositSats),
                "net_sats": int(event.args.netSatsAfterFee),
                "acknowledged_by_vault": bool(
                    net.vault_state().functions.acknowledgedDeposits(bytes.fromhex(txid)).call()
                ),
            }
        )
    return {"scenario": "unbacked-mint", "caller": owner, "mints": mints}
