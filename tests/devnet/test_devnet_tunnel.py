"""Tunnel contracts on anvil with real bcoin transactions: the deposit rules of spec 6.2-6.3,
withdrawals (6.4), and the deliberately unchecked operator mint."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import pytest
from eth_abi import encode as abi_encode
from eth_utils import keccak
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.logs import DISCARD
from web3.types import TxReceipt

from devnet.btc import BitcoinRpc, CoinbaseWallet, mine, send_and_wait_in_mempool, tx_inclusion
from devnet.btckeys import DevKey
from devnet.btctx import (
    TxOutput,
    deposit_recipient_script_ascii,
    deposit_recipient_script_binary,
    op_return_script,
)
from devnet.constants import DEVNET_WITHDRAWAL_GRACE_PERIOD_SECONDS
from devnet.evm import DEFAULT_CUSTODY_KEY, contract_at, encode_tx_proof, mine_block, transact

pytestmark = pytest.mark.integration

DEPOSIT_CONFIRMED = "0x072ddac1530d27f4989ecfc488d7ea4cb925a388349c9a3fed5e54718b29e35d"
WITHDRAWAL_INITIATED = "0x250f03806508f9538415b8528c0b4d697b347a33292f38f84f60f17c8a015b4e"
WITHDRAWAL_CHALLENGE_SUCCESS = "0x8db03ab7b83cd05a81139c42ee7134ce98301121e28398d0c8b076dc2b14ebd4"
TRANSFER = "0x" + keccak(text="Transfer(address,address,uint256)").hex()
MINER = DevKey.from_label("tests-devnet-miner")
AMOUNT = 5_000_000
FEE = AMOUNT * 10 // 10_000


@dataclass
class Tunnel:
    w3: Web3
    rpc: BitcoinRpc
    wallet: CoinbaseWallet
    relay: Callable[[], list[TxReceipt]]
    manager: Contract
    vault: Contract
    state: Contract
    token: Contract

    def user(self, n: int) -> str:
        return self.w3.eth.accounts[3 + n]

    def deposit(self, recipient_script: bytes, amount: int = AMOUNT, pay_script: bytes | None = None) -> str:
        """Pay the vault (or ``pay_script``) with a recipient OP_RETURN; mined in one block."""
        script = DEFAULT_CUSTODY_KEY.p2pkh_script if pay_script is None else pay_script
        txid = self.wallet.pay([TxOutput(script, amount), TxOutput(recipient_script, 0)])
        mine(self.rpc, 1, MINER.p2pkh_address)
        return txid

    def bury(self, txid: str, confirmations: int) -> None:
        """Mine until the tx's block has exactly ``confirmations``, then relay to HvmState."""
        block_hash = self.rpc.getrawtransaction_verbose(txid)["blockhash"]
        height = int(self.rpc.getblockheader(block_hash)["height"])
        missing = height + confirmations - 1 - self.rpc.getblockcount()
        assert missing >= 0, "already deeper than asked"
        if missing:
            mine(self.rpc, missing, MINER.p2pkh_address)
        self.relay()

    def confirm_fn(self, txid: str, output_index: int = 0, extra: bytes | None = None) -> ContractFunction:
        extra = encode_tx_proof(tx_inclusion(self.rpc, txid)) if extra is None else extra
        return self.manager.functions.confirmDeposit(0, bytes.fromhex(txid), output_index, extra)


@pytest.fixture(scope="module")
def tunnel(
    w3: Web3,
    btc_rpc: BitcoinRpc,
    miner_wallet: CoinbaseWallet,
    relay: Callable[[], list[TxReceipt]],
    deployment: dict[str, str],
) -> Tunnel:
    return Tunnel(
        w3=w3,
        rpc=btc_rpc,
        wallet=miner_wallet,
        relay=relay,
        manager=contract_at(w3, "BitcoinTunnelManager", deployment["BitcoinTunnelManager"]),
        vault=contract_at(w3, "SimpleBitcoinVault", deployment["SimpleBitcoinVault"]),
        state=contract_at(w3, "SimpleBitcoinVaultState", deployment["SimpleBitcoinVaultState"]),
        token=contract_at(w3, "BTCToken", deployment["BTCToken"]),
    )


def _topic_address(address: str) -> bytes:
    return bytes(12) + bytes.fromhex(address[2:])


def test_deposit_at_four_confirmations_mints_amount_minus_fee_with_the_exact_log(tunnel: Tunnel) -> None:
    recipients = [tunnel.user(0), tunnel.user(1), tunnel.user(2)]
    # three deposits in one block, so the Merkle branch of the middle one has real depth
    txids = [
        tunnel.wallet.pay([TxOutput(DEFAULT_CUSTODY_KEY.p2pkh_script, AMOUNT), TxOutput(script, 0)])
        for script in (deposit_recipient_script_binary(r) for r in recipients)
    ]
    mine(tunnel.rpc, 1, MINER.p2pkh_address)
    txid, recipient = txids[1], recipients[1]
    assert tx_inclusion(tunnel.rpc, txid).tx_index >= 1
    assert tunnel.vault.functions.calculateDepositFee(AMOUNT).call() == FEE

    tunnel.bury(txid, 3)
    with pytest.raises(Exception, match="not enough Bitcoin confirmations"):
        tunnel.confirm_fn(txid).call({"from": tunnel.user(5)})
    tunnel.bury(txid, 4)
    before = tunnel.token.functions.balanceOf(recipient).call()
    receipt = transact(tunnel.w3, tunnel.confirm_fn(txid), tunnel.user(5))

    assert tunnel.token.functions.balanceOf(recipient).call() - before == AMOUNT - FEE
    [log] = [entry for entry in receipt["logs"] if entry["address"] == tunnel.manager.address]
    assert [t.to_0x_hex() for t in log["topics"][:1]] == [DEPOSIT_CONFIRMED]
    assert log["topics"][1:] == [
        _topic_address(tunnel.vault.address),
        _topic_address(recipient),
        bytes.fromhex(txid),  # display-order txid, as Hemi's indexers key it
    ]
    assert log["data"] == abi_encode(["uint256", "uint256"], [AMOUNT, AMOUNT - FEE])
    [mint] = [entry for entry in receipt["logs"] if entry["address"] == tunnel.token.address]
    assert mint["topics"] == [bytes.fromhex(TRANSFER[2:]), bytes(32), _topic_address(recipient)]
    assert tunnel.state.functions.acknowledgedDeposits(bytes.fromhex(txid)).call() is True
    assert tunnel.state.functions.acknowledgedDepositOutputIndexes(bytes.fromhex(txid)).call() == 0


def test_deposit_below_four_confirmations_fails_on_chain(tunnel: Tunnel) -> None:
    txid = tunnel.deposit(deposit_recipient_script_binary(tunnel.user(0)))
    tunnel.relay()
    with pytest.raises(Exception, match="not enough Bitcoin confirmations"):
        tunnel.confirm_fn(txid).call({"from": tunnel.user(0)})
    # a mined attempt fails too, leaving a status-0 tx for the indexer to show
    receipt = transact(tunnel.w3, tunnel.confirm_fn(txid), tunnel.user(0), check=False)
    assert receipt["status"] == 0
    assert tunnel.state.functions.acknowledgedDeposits(bytes.fromhex(txid)).call() is False


def test_a_txid_is_credited_only_once(tunnel: Tunnel) -> None:
    txid = tunnel.deposit(deposit_recipient_script_binary(tunnel.user(0)))
    tunnel.bury(txid, 4)
    transact(tunnel.w3, tunnel.confirm_fn(txid), tunnel.user(0))
    with pytest.raises(Exception, match="deposit already acknowledged"):
        tunnel.confirm_fn(txid).call({"from": tunnel.user(1)})


def test_an_output_not_paying_the_vault_script_fails(tunnel: Tunnel) -> None:
    elsewhere = DevKey.from_label("not-the-vault").p2pkh_script
    txid = tunnel.deposit(deposit_recipient_script_binary(tunnel.user(0)), pay_script=elsewhere)
    tunnel.bury(txid, 4)
    with pytest.raises(Exception, match="output does not pay the vault"):
        tunnel.confirm_fn(txid).call({"from": tunnel.user(0)})


def test_tampered_evidence_fails(tunnel: Tunnel) -> None:
    txid = tunnel.deposit(deposit_recipient_script_binary(tunnel.user(0)))
    tunnel.bury(txid, 4)
    proof = tx_inclusion(tunnel.rpc, txid)
    raw = proof.raw_tx_no_witness
    value_offset = raw.index(DEFAULT_CUSTODY_KEY.p2pkh_script) - 9  # 8-byte value + script length
    inflated = raw[:value_offset] + (AMOUNT * 100).to_bytes(8, "little") + raw[value_offset + 8 :]
    cases = {
        "raw transaction does not hash to txid": encode_tx_proof(replace(proof, raw_tx_no_witness=inflated)),
        "Merkle proof does not reach": encode_tx_proof(
            replace(proof, merkle_branch_internal=(b"\x44" * 32,))
        ),
        "block unknown to the hVM": encode_tx_proof(replace(proof, block_hash_internal=b"\x55" * 32)),
        "witness serialization": encode_tx_proof(replace(proof, raw_tx_no_witness=_with_witness_marker(raw))),
    }
    for reason, extra in cases.items():
        with pytest.raises(Exception, match=reason):
            tunnel.confirm_fn(txid, extra=extra).call({"from": tunnel.user(0)})
    transact(tunnel.w3, tunnel.confirm_fn(txid), tunnel.user(0))  # the genuine evidence still works


def _with_witness_marker(raw: bytes) -> bytes:
    # version | 00 01 | inputs/outputs | one empty witness stack per input | locktime
    return raw[:4] + b"\x00\x01" + raw[4:-4] + b"\x00" + raw[-4:]


def test_upper_case_ascii_recipient_is_credited(tunnel: Tunnel) -> None:
    recipient = tunnel.user(3)
    script = deposit_recipient_script_ascii(recipient)
    assert len(script) == 42 and script[2:] == recipient[2:].upper().encode()
    txid = tunnel.deposit(script, amount=2_000_000)
    tunnel.bury(txid, 4)
    before = tunnel.token.functions.balanceOf(recipient).call()
    transact(tunnel.w3, tunnel.confirm_fn(txid), tunnel.user(0))
    assert tunnel.token.functions.balanceOf(recipient).call() - before == 2_000_000 - 2_000


def test_a_deposit_below_the_minimum_fails(tunnel: Tunnel) -> None:
    txid = tunnel.deposit(deposit_recipient_script_binary(tunnel.user(0)), amount=999_999)
    tunnel.bury(txid, 4)
    with pytest.raises(Exception, match="deposit below minimum"):
        tunnel.confirm_fn(txid).call({"from": tunnel.user(0)})


def _fund(tunnel: Tunnel, account: str) -> None:
    txid = tunnel.deposit(deposit_recipient_script_binary(account), amount=10_000_000)
    tunnel.bury(txid, 4)
    transact(tunnel.w3, tunnel.confirm_fn(txid), account)


def _initiate(tunnel: Tunnel, user: str, btc_address: str, amount: int) -> tuple[TxReceipt, int]:
    receipt = transact(tunnel.w3, tunnel.manager.functions.initiateWithdrawal(0, btc_address, amount), user)
    [event] = tunnel.manager.events.WithdrawalInitiated().process_receipt(receipt, errors=DISCARD)
    return receipt, event.args.uuid


def test_withdrawal_emits_uuid_and_an_unpaid_one_is_refunded_after_the_grace_period(tunnel: Tunnel) -> None:
    user = tunnel.user(4)
    _fund(tunnel, user)
    btc_address = DevKey.from_label("withdraw-to").p2wpkh_address
    balance = tunnel.token.functions.balanceOf(user).call()
    index = tunnel.state.functions.withdrawalCounter().call()

    receipt, uuid = _initiate(tunnel, user, btc_address, 3_000_000)

    assert uuid == (0 << 32) | index
    [log] = [entry for entry in receipt["logs"] if entry["address"] == tunnel.manager.address]
    assert log["topics"][0].to_0x_hex() == WITHDRAWAL_INITIATED
    assert log["topics"][3] == keccak(text=btc_address)  # indexed string: only its hash
    assert log["data"] == abi_encode(["uint256", "uint256", "uint64"], [3_000_000, 3_000_000 - 3_000, uuid])
    assert tunnel.token.functions.balanceOf(user).call() == balance - 3_000_000

    with pytest.raises(Exception, match="grace period not over"):
        tunnel.manager.functions.challengeWithdrawal(uuid, b"").call({"from": user})
    now = tunnel.w3.eth.get_block("latest")["timestamp"]
    mine_block(tunnel.w3, now + DEVNET_WITHDRAWAL_GRACE_PERIOD_SECONDS + 1)
    receipt = transact(tunnel.w3, tunnel.manager.functions.challengeWithdrawal(uuid, b""), tunnel.user(0))

    [log] = [entry for entry in receipt["logs"] if entry["address"] == tunnel.manager.address]
    assert log["topics"] == [
        bytes.fromhex(WITHDRAWAL_CHALLENGE_SUCCESS[2:]),
        _topic_address(tunnel.vault.address),
        _topic_address(user),
        uuid.to_bytes(32, "big"),
    ]
    assert tunnel.token.functions.balanceOf(user).call() == balance
    assert tunnel.state.functions.isWithdrawalAlreadyChallenged(index).call() is True
    with pytest.raises(Exception, match="already challenged"):
        tunnel.manager.functions.challengeWithdrawal(uuid, b"").call({"from": user})


def test_a_withdrawal_paid_on_bitcoin_is_finalized(tunnel: Tunnel) -> None:
    user = tunnel.user(5)
    _fund(tunnel, user)
    payee = DevKey.from_label("withdraw-payee")
    _, uuid = _initiate(tunnel, user, payee.p2pkh_address, 2_000_000)
    _, twin_uuid = _initiate(tunnel, user, payee.p2pkh_address, 2_000_000)  # same address and amount
    index = uuid & 0xFFFFFFFF

    custody = CoinbaseWallet(tunnel.rpc, DEFAULT_CUSTODY_KEY)  # spends earlier deposits to the vault
    payout = custody.build_payment(
        [
            TxOutput(payee.p2pkh_script, 2_000_000 - 2_000),
            TxOutput(op_return_script(index.to_bytes(4, "big")), 0),
        ],
        change_position=1,
    )
    assert len(payout.vin) == 1 and len(payout.vout) == 3
    txid = send_and_wait_in_mempool(tunnel.rpc, payout)
    mine(tunnel.rpc, 1, MINER.p2pkh_address)
    tunnel.bury(txid, 4)
    proof = encode_tx_proof(tx_inclusion(tunnel.rpc, txid))

    with pytest.raises(Exception, match="OP_RETURN names another withdrawal"):
        # the payout matches the twin's address and amount; only its OP_RETURN tells them apart
        tunnel.vault.functions.finalizeWithdrawal(bytes.fromhex(txid), twin_uuid & 0xFFFFFFFF, proof).call()
    receipt = transact(
        tunnel.w3,
        tunnel.vault.functions.finalizeWithdrawal(bytes.fromhex(txid), index, proof),
        tunnel.user(0),
    )
    [event] = tunnel.vault.events.WithdrawalFinalized().process_receipt(receipt, errors=DISCARD)
    assert (event.args.withdrawalIndex, event.args.netSats) == (index, 1_998_000)
    assert tunnel.state.functions.isWithdrawalFulfilled(index).call() is True
    now = tunnel.w3.eth.get_block("latest")["timestamp"]
    mine_block(tunnel.w3, now + DEVNET_WITHDRAWAL_GRACE_PERIOD_SECONDS + 1)
    with pytest.raises(Exception, match="already fulfilled"):
        tunnel.manager.functions.challengeWithdrawal(uuid, b"").call({"from": user})


def test_withdrawals_need_a_valid_regtest_address_and_the_minimum(tunnel: Tunnel) -> None:
    user = tunnel.user(6)
    _fund(tunnel, user)
    initiate = tunnel.manager.functions.initiateWithdrawal
    with pytest.raises(Exception, match="withdrawal below minimum"):
        initiate(0, DevKey.from_label("x").p2pkh_address, 999_999).call({"from": user})
    for bad in ("bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080", "not an address", "R" + "1" * 33):
        with pytest.raises(Exception, match="BtcAddress"):
            initiate(0, bad, 1_000_000).call({"from": user})


def test_operator_mint_unchecked_forges_a_deposit_event_without_evidence(tunnel: Tunnel) -> None:
    fake_txid = bytes.fromhex("ab" * 32)
    victim = tunnel.user(7)
    owner = tunnel.w3.eth.accounts[0]
    mint = tunnel.manager.functions.operatorMintUnchecked(0, fake_txid, victim, 7_000_000)
    with pytest.raises(Exception, match="only the owner"):
        mint.call({"from": tunnel.user(0)})
    receipt = transact(tunnel.w3, mint, owner)
    [event] = tunnel.manager.events.DepositConfirmed().process_receipt(receipt, errors=DISCARD)
    assert dict(event.args) == {
        "vault": tunnel.vault.address,
        "recipient": victim,
        "depositTxId": fake_txid,
        "depositSats": 7_000_000,
        "netSatsAfterFee": 7_000_000 - 7_000,
    }
    # nothing on the vault side backs it: that is what the auditor must notice
    assert tunnel.state.functions.acknowledgedDeposits(fake_txid).call() is False
