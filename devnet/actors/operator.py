"""The tunnel operator: credits Bitcoin deposits on Hemi and pays withdrawals on Bitcoin.

Deposits (spec 6.2-6.3): every new bcoin block is decoded with the project decoder and each
transaction is checked with ``indexer.bitcoin.tunnel.check_deposit`` against the vault's
custody script - the same rule the contract applies. Once the deposit's block has at least
``min_confirmations`` in the hVM view (``HvmState.confirmations`` on anvil, i.e. what the
contract will see), the operator sends ``confirmDeposit(vault, txid, vout, proof)``; the
sequencer mines it with the next block.

Withdrawals (spec 6.4): ``WithdrawalInitiated`` events are read from the tunnel manager; each
unpaid withdrawal is paid from the vault's custody key with exactly one input and outputs
[0] requested script for amount - fee, [1] change back to the vault, [2] OP_RETURN with the
withdrawal index (4 bytes, big-endian); once that payout has the confirmations,
``finalizeWithdrawal`` is sent with its proof.

Every decision re-reads the chain (``acknowledgedDeposits``, ``getWithdrawal``), so a Bitcoin
or Hemi reorg - or a restart - only makes the operator redo work, never repeat a credit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from hexbytes import HexBytes
from web3 import Web3
from web3.contract.contract import ContractFunction
from web3.exceptions import TransactionNotFound

from devnet.btc import BitcoinRpc, BitcoinRpcError, MempoolRejectedError, tx_inclusion
from devnet.btckeys import AddressError, DevKey, address_to_script
from devnet.btctx import TxBuildError, TxOutput, op_return_script
from devnet.constants import MIN_BITCOIN_CONFIRMATIONS
from devnet.evm import DEFAULT_CUSTODY_KEY, contract_at, encode_tx_proof
from devnet.wallets import DevWallet
from indexer.bitcoin.decode import decode_block
from indexer.bitcoin.tunnel import check_deposit
from indexer.hashing import display_to_internal

logger = logging.getLogger(__name__)

OPERATOR_GAS = 1_500_000
# A deposit whose confirmDeposit reverted this often is left alone (the contract refuses it).
MAX_FAILURES = 3
# How far back each step re-reads WithdrawalInitiated logs: a Hemi reorg shallower than this
# cannot hide a withdrawal from the operator.
WITHDRAWAL_LOG_OVERLAP = 64


@dataclass
class TrackedDeposit:
    txid_display: str
    vout: int
    value_sats: int
    recipient: str
    block_hash_display: str
    height: int
    confirm_tx: str | None = None
    credited: bool = False  # acknowledged on the current Hemi chain
    failures: int = 0  # mined confirmDeposit calls that reverted


@dataclass
class TrackedWithdrawal:
    uuid: int
    index: int
    btc_address: str
    amount_sats: int
    fee_sats: int
    initiated_tx: str
    payout_txid: str | None = None
    finalize_tx: str | None = None
    done: bool = False

    @property
    def net_sats(self) -> int:
        return self.amount_sats - self.fee_sats


class TunnelOperator:
    name = "tunnel-operator"

    def __init__(
        self,
        w3: Web3,
        btc: BitcoinRpc,
        contracts: dict[str, str],
        *,
        operator_account: str | None = None,
        custody_key: DevKey = DEFAULT_CUSTODY_KEY,
        vault_index: int = 0,
        min_confirmations: int = MIN_BITCOIN_CONFIRMATIONS,
    ) -> None:
        self.w3 = w3
        self.btc = btc
        self.account = Web3.to_checksum_address(operator_account or w3.eth.accounts[1])
        self.vault_index = vault_index
        self.min_confirmations = min_confirmations
        self.manager = contract_at(w3, "BitcoinTunnelManager", contracts["BitcoinTunnelManager"])
        self.vault = contract_at(w3, "SimpleBitcoinVault", self.manager.functions.vaults(vault_index).call())
        self.vault_state = contract_at(w3, "SimpleBitcoinVaultState", self.vault.functions.vaultStateChild().call())
        self.hvm = contract_at(w3, "HvmState", contracts["HvmState"])
        self.custody_script = bytes(self.vault.functions.custodyScript().call())
        if custody_key.p2pkh_script != self.custody_script:
            raise ValueError(f"custody key {custody_key.p2pkh_address} does not own vault {vault_index}'s script")
        self.custody = DevWallet(btc, custody_key)
        self.deposits: dict[tuple[str, int], TrackedDeposit] = {}
        self.withdrawals: dict[int, TrackedWithdrawal] = {}
        self._scanned: list[str] = []  # Bitcoin display hashes by height
        self._hemi_scanned_to = -1
        self._hemi_head: tuple[int, str] | None = None  # (number, hash) seen by the last step

    def step(self) -> dict[str, int]:
        """0. notice a Hemi reorg (re-check every credit); 1. scan new Bitcoin blocks for
        deposits; 2. confirm deposits deep enough in the hVM view; 3. read new withdrawals;
        4. pay unpaid ones; 5. finalize paid ones."""
        self._check_hemi_head()
        self._scan_bitcoin()
        confirmed = sum(self._confirm(d) for d in list(self.deposits.values()) if not d.credited)
        self._scan_withdrawals()
        paid = finalized = 0
        for withdrawal in list(self.withdrawals.values()):
            if withdrawal.done:
                continue
            if withdrawal.payout_txid is None:
                paid += self._pay(withdrawal)
            else:
                finalized += self._finalize(withdrawal)
        return {"deposits_sent": confirmed, "payouts_sent": paid, "finalizations_sent": finalized}

    def _check_hemi_head(self) -> None:
        head = self.w3.eth.get_block("latest")
        if self._hemi_head is not None:
            number, seen_hash = self._hemi_head
            current = head if int(head["number"]) == number else None
            if current is None and number < int(head["number"]):
                current = self.w3.eth.get_block(number)
            if current is None or HexBytes(current["hash"]).to_0x_hex() != seen_hash:
                logger.info("operator: Hemi reorg below block %d; re-checking credits and withdrawals", number)
                for deposit in self.deposits.values():
                    deposit.credited = False
                for withdrawal in self.withdrawals.values():
                    withdrawal.done = False
                self._hemi_scanned_to = min(self._hemi_scanned_to, int(head["number"]) - WITHDRAWAL_LOG_OVERLAP)
        self._hemi_head = (int(head["number"]), HexBytes(head["hash"]).to_0x_hex())

    # deposits ------------------------------------------------------------------------------
    def _scan_bitcoin(self) -> None:
        tip = self.btc.getblockcount()
        # walk back over orphaned blocks: deposits seen only there are forgotten (and found
        # again if a new block carries them)
        while self._scanned and (
            len(self._scanned) - 1 > tip or self.btc.getblockhash(len(self._scanned) - 1) != self._scanned[-1]
        ):
            orphaned = self._scanned.pop()
            for key, deposit in list(self.deposits.items()):
                if deposit.block_hash_display == orphaned and not deposit.credited:
                    del self.deposits[key]
        heights = list(range(len(self._scanned), tip + 1))
        vaults = {self.custody_script: f"vault-{self.vault_index}"}
        for offset in range(0, len(heights), 50):
            chunk = heights[offset : offset + 50]
            hashes = self.btc.getblockhashes(chunk)
            for height, block_hash, raw in zip(chunk, hashes, self.btc.getblocks_raw(hashes), strict=True):
                block = decode_block(raw)
                for tx in block.txs[1:]:
                    found = check_deposit(tx, vaults).deposit
                    if found is not None and (found.txid_display, found.vout) not in self.deposits:
                        self.deposits[(found.txid_display, found.vout)] = TrackedDeposit(
                            found.txid_display, found.vout, found.value_sats, found.recipient, block_hash, height
                        )
                self._scanned.append(block_hash)

    def _confirm(self, deposit: TrackedDeposit) -> bool:
        txid = bytes.fromhex(deposit.txid_display)
        if self.vault_state.functions.acknowledgedDeposits(txid).call():
            deposit.credited = True
            return False
        if deposit.confirm_tx is not None:
            outcome = self._tx_outcome(deposit.confirm_tx)
            if outcome == "pending":
                return False
            if outcome == "failed":
                deposit.failures += 1
                logger.warning("operator: confirmDeposit %s reverted (%d)", deposit.confirm_tx, deposit.failures)
            deposit.confirm_tx = None
        if deposit.failures >= MAX_FAILURES:
            return False
        confirmations = self.hvm.functions.confirmations(display_to_internal(deposit.block_hash_display)).call()
        if confirmations < self.min_confirmations:
            return False
        proof = encode_tx_proof(tx_inclusion(self.btc, deposit.txid_display, deposit.block_hash_display))
        fn = self.manager.functions.confirmDeposit(self.vault_index, txid, deposit.vout, proof)
        deposit.confirm_tx = self._send(fn)
        logger.info("operator: confirmDeposit %s:%d -> %s", deposit.txid_display, deposit.vout, deposit.confirm_tx)
        return True

    # withdrawals ---------------------------------------------------------------------------
    def _scan_withdrawals(self) -> None:
        tip = int(self.w3.eth.block_number)
        start = max(0, min(self._hemi_scanned_to + 1, tip - WITHDRAWAL_LOG_OVERLAP))
        if start > tip:
            return
        events = self.manager.events.WithdrawalInitiated().get_logs(from_block=start, to_block=tip)
        for event in events:
            uuid = int(event.args.uuid)
            if uuid >> 32 != self.vault_index or uuid in self.withdrawals:
                continue
            index = uuid & 0xFFFFFFFF
            tx = self.w3.eth.get_transaction(event.transactionHash)
            # the address is an indexed string (only its hash is in the log): read the call
            btc_address = self.manager.decode_function_input(tx["input"])[1]["btcAddress"]
            self.withdrawals[uuid] = TrackedWithdrawal(
                uuid,
                index,
                str(btc_address),
                int(event.args.withdrawalSats),
                int(event.args.withdrawalSats) - int(event.args.netSatsAfterFee),
                HexBytes(event.transactionHash).to_0x_hex(),
            )
        self._hemi_scanned_to = tip

    def _on_chain(self, withdrawal: TrackedWithdrawal) -> dict[str, Any] | None:
        """The vault's record of the withdrawal on the current chain, or None (reorged away)."""
        if withdrawal.index >= self.vault_state.functions.withdrawalCounter().call():
            return None
        record = self.vault_state.functions.getWithdrawal(withdrawal.index).call()
        names = (
            "withdrawer",
            "initiatedAt",
            "amountSats",
            "feeSats",
            "scriptHash",
            "btcAddress",
            "fulfilled",
            "challenged",
            "fulfillmentTxidDisplay",
        )
        return dict(zip(names, record, strict=True))

    def _pay(self, withdrawal: TrackedWithdrawal) -> bool:
        record = self._on_chain(withdrawal)
        if record is None or record["btcAddress"] != withdrawal.btc_address:
            logger.warning("operator: withdrawal %d is not on the current Hemi chain; dropping it", withdrawal.uuid)
            del self.withdrawals[withdrawal.uuid]
            return False
        if record["fulfilled"] or record["challenged"]:
            withdrawal.done = True
            return False
        try:
            script = address_to_script(withdrawal.btc_address)
            outputs = [
                TxOutput(script, withdrawal.net_sats),
                TxOutput(op_return_script(withdrawal.index.to_bytes(4, "big")), 0),
            ]
            tx = self.custody.build_single_input(outputs, change_position=1)
            withdrawal.payout_txid = self.custody.broadcast(tx)
        except (AddressError, TxBuildError, MempoolRejectedError) as exc:
            logger.warning("operator: cannot pay withdrawal %d yet: %s", withdrawal.uuid, exc)
            return False
        logger.info("operator: paid withdrawal %d in %s", withdrawal.uuid, withdrawal.payout_txid)
        return True

    def _finalize(self, withdrawal: TrackedWithdrawal) -> bool:
        assert withdrawal.payout_txid is not None
        record = self._on_chain(withdrawal)
        if record is None:
            del self.withdrawals[withdrawal.uuid]
            return False
        if record["fulfilled"]:
            withdrawal.done = True
            return False
        if withdrawal.finalize_tx is not None:
            if self._tx_outcome(withdrawal.finalize_tx) == "pending":
                return False
            withdrawal.finalize_tx = None  # mined but the record is not fulfilled: failed or reorged
        try:
            inclusion = tx_inclusion(self.btc, withdrawal.payout_txid)
        except BitcoinRpcError:
            return False  # not mined yet (or orphaned: it waits in the mempool again)
        if self.hvm.functions.confirmations(inclusion.block_hash_internal).call() < self.min_confirmations:
            return False
        fn = self.vault.functions.finalizeWithdrawal(
            bytes.fromhex(withdrawal.payout_txid), withdrawal.index, encode_tx_proof(inclusion)
        )
        withdrawal.finalize_tx = self._send(fn)
        logger.info("operator: finalizeWithdrawal %d -> %s", withdrawal.uuid, withdrawal.finalize_tx)
        return True

    # Hemi transactions ---------------------------------------------------------------------
    def _send(self, fn: ContractFunction) -> str:
        return HexBytes(fn.transact({"from": self.account, "gas": OPERATOR_GAS})).to_0x_hex()

    def _tx_outcome(self, tx_hash: str) -> str:
        """ "pending" (in the pool), "mined" / "failed" (a receipt on the current chain), or
        "lost" (neither: a Hemi reorg dropped it); callers re-check the chain and resend."""
        try:
            receipt = self.w3.eth.get_transaction_receipt(tx_hash)
        except TransactionNotFound:  # pending and unknown look the same here
            receipt = None
        if receipt is not None:
            return "mined" if receipt["status"] == 1 else "failed"
        try:
            self.w3.eth.get_transaction(tx_hash)
        except TransactionNotFound:
            return "lost"
        return "pending"
