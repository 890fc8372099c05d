"""treasury-lock: a treasury locks 100 BTC in the vault and the whole story plays out.

1. The faucet funds the treasury key (one confirmation: wallets spend confirmed coins).
2. The treasury pays the vault, with the portal's 42-byte upper-case ASCII recipient
   OP_RETURN naming the treasury's Hemi account.
3. The tunnel operator credits it once the deposit has 4 confirmations in the hVM view
   (DepositConfirmed + hemiBTC mint of amount - fee).
4. The PoP miners publish the mint's keystone (or a later one); the scenario ends once that
   publication has ``confirmations`` Bitcoin confirmations.
"""

from __future__ import annotations

from typing import Any

from hexbytes import HexBytes

from devnet.config import TREASURY_ACCOUNT, TREASURY_KEY
from devnet.handle import Network
from devnet.scenarios.common import deposit, wait_anchor, wait_mint
from indexer.keystone import keystone_number_for

AMOUNT_SATS = 10_000_000_000  # 100 BTC
FEE_MARGIN_SATS = 100_000


def run(net: Network, *, amount_sats: int = AMOUNT_SATS, confirmations: int = 10) -> dict[str, Any]:
    treasury = net.wallet(TREASURY_KEY)
    funding_txid = None
    if treasury.balance() < amount_sats + FEE_MARGIN_SATS:
        funding_txid = net.fund(TREASURY_KEY, amount_sats + FEE_MARGIN_SATS)
    recipient = net.account(TREASURY_ACCOUNT)
    start_height = net.btc.getblockcount()
    lock = deposit(net, TREASURY_KEY, recipient, amount_sats, ascii_form=True)
    deposit_height, deposit_block, _ = net.wait_btc_confirmations(lock.txid, 1, "the treasury lock")

    log = wait_mint(net, lock)
    mint_tx = str(log["transactionHash"])
    mint_block = int(log["blockNumber"], 16)
    receipt = net.wait_receipt(mint_tx, "the mint")
    vault = net.contract("SimpleBitcoinVault")
    fee = int(vault.functions.calculateDepositFee(amount_sats).call())

    pub, depth = wait_anchor(
        net,
        mint_block,
        confirmations=confirmations,
        from_height=start_height,
        what=f"a keystone covering Hemi block {mint_block} with {confirmations} Bitcoin confirmations",
    )
    return {
        "scenario": "treasury-lock",
        "funding_txid": funding_txid,
        "deposit_txid": lock.txid,
        "deposit_vout": lock.vout,
        "deposit_height": deposit_height,
        "deposit_block_hash": deposit_block,
        "vault_address": net.contracts["SimpleBitcoinVault"],
        "vault_script": lock.vault_script.hex(),
        "vault_custody_address": str(vault.functions.bitcoinCustodyAddress().call()),
        "recipient": recipient,
        "recipient_op_return": lock.recipient_script.hex(),
        "amount_sats": amount_sats,
        "fee_sats": fee,
        "net_sats": amount_sats - fee,
        "mint_tx_hash": mint_tx,
        "mint_block_number": mint_block,
        "mint_block_hash": HexBytes(receipt["blockHash"]).to_0x_hex(),
        "keystone_number": keystone_number_for(mint_block),
        "anchoring_keystone_number": pub.pop.keystone.l2_block_number,
        "keystone_id": pub.pop.keystone_id_display,
        "pop_txid": pub.pop.txid_display,
        "pop_publication_height": pub.height,
        "pop_block_hash": pub.block_hash_display,
        "pop_confirmations": depth,
        "pop_miner_hemi_address": pub.pop.miner_hemi_address,
    }
