"""bcoin adapter: addresses, mining, a signed P2PKH payment with OP_RETURN, mempool errors."""

from __future__ import annotations

import pytest
from bitcoin.core import CBlock, CBlockHeader

from devnet.btc import (
    BitcoinRpc,
    BitcoinRpcError,
    CoinbaseWallet,
    MempoolRejectedError,
    mine,
    send_and_wait_in_mempool,
    tx_inclusion,
)
from devnet.btckeys import DevKey, address_to_script, p2sh_address
from devnet.btctx import (
    TxOutput,
    Utxo,
    build_p2pkh_spend,
    deposit_recipient_script_ascii,
    merkle_root_from_branch,
    op_return_script,
    tx_bytes,
    txid_display,
)
from indexer.hashing import display_to_internal, dsha256

pytestmark = pytest.mark.integration


def test_bcoin_accepts_our_regtest_addresses_with_the_scripts_we_derive(btc_rpc: BitcoinRpc) -> None:
    key = DevKey.from_label("address-check")
    for address in (key.p2pkh_address, key.p2wpkh_address, p2sh_address(b"\x07" * 20)):
        info = btc_rpc.call("validateaddress", address)
        assert info["isvalid"] is True, address
        assert bytes.fromhex(info["scriptPubKey"]) == address_to_script(address)
    assert key.p2pkh_address.startswith("R")
    assert key.p2wpkh_address.startswith("rb1q")


def test_errors_carry_code_and_message(btc_rpc: BitcoinRpc) -> None:
    with pytest.raises(BitcoinRpcError) as excinfo:
        btc_rpc.getblockhash(10**6)
    assert excinfo.value.code == -8
    assert excinfo.value.method == "getblockhash"


def test_batched_calls_return_results_in_order(btc_rpc: BitcoinRpc, miner_wallet: CoinbaseWallet) -> None:
    heights = [3, 1, 2]
    assert btc_rpc.getblockhashes(heights) == [btc_rpc.getblockhash(h) for h in heights]


def test_p2pkh_payment_with_op_return_is_mined_byte_for_byte(
    btc_rpc: BitcoinRpc, miner_wallet: CoinbaseWallet
) -> None:
    payee = DevKey.from_label("payee")
    memo = op_return_script(b"hemiscope devnet memo")
    tx = miner_wallet.build_payment([TxOutput(payee.p2pkh_script, 1_234_567), TxOutput(memo, 0)])

    txid = send_and_wait_in_mempool(btc_rpc, tx)
    assert txid == txid_display(tx)
    [block_hash] = mine(btc_rpc, 1, DevKey.from_label("tests-devnet-miner").p2pkh_address)

    raw_block = btc_rpc.getblock_raw(block_hash)
    block = CBlock.deserialize(raw_block)
    assert block.GetHash()[::-1].hex() == block_hash
    mined = next(t for t in block.vtx if t.GetTxid()[::-1].hex() == txid)
    assert mined.serialize() == tx_bytes(tx)
    assert bytes(mined.vout[0].scriptPubKey) == payee.p2pkh_script and mined.vout[0].nValue == 1_234_567
    assert bytes(mined.vout[1].scriptPubKey) == memo and mined.vout[1].nValue == 0

    proof = tx_inclusion(btc_rpc, txid)
    header = CBlockHeader.deserialize(btc_rpc.getblockheader_raw(block_hash))
    assert proof.block_hash_internal == display_to_internal(block_hash)
    assert merkle_root_from_branch(
        dsha256(proof.raw_tx_no_witness), proof.merkle_branch_internal, proof.tx_index
    ) == (header.hashMerkleRoot)


def test_portal_style_recipient_script_is_42_bytes_of_upper_case_hex() -> None:
    script = deposit_recipient_script_ascii("0x00000000000000000000000000000000000000Ab")
    assert len(script) == 42 and script[:2] == b"\x6a\x28"
    assert script[2:] == b"00000000000000000000000000000000000000AB"


def test_a_double_spend_is_reported_with_the_node_log(
    btc_rpc: BitcoinRpc, miner_wallet: CoinbaseWallet
) -> None:
    key = miner_wallet.key
    first = miner_wallet.build_payment([TxOutput(DevKey.from_label("a").p2pkh_script, 2_000_000)])

    send_and_wait_in_mempool(btc_rpc, first)
    spent = first.vin[0].prevout
    utxo = Utxo(spent.hash[::-1].hex(), spent.n, 50 * 10**8, key.p2pkh_script)
    conflicting = build_p2pkh_spend(key, [utxo], [TxOutput(DevKey.from_label("b").p2pkh_script, 3_000_000)])
    with pytest.raises(MempoolRejectedError) as excinfo:
        send_and_wait_in_mempool(btc_rpc, conflicting, timeout=1.0)
    assert excinfo.value.txid_display == txid_display(conflicting)
    assert "bad-txns-inputs-spent" in str(excinfo.value)


def test_an_immature_coinbase_spend_is_reported(btc_rpc: BitcoinRpc, miner_wallet: CoinbaseWallet) -> None:
    key = DevKey.from_label("immature")
    [block_hash] = mine(btc_rpc, 1, key.p2pkh_address)
    coinbase = CBlock.deserialize(btc_rpc.getblock_raw(block_hash)).vtx[0]
    utxo = Utxo(txid_display(coinbase), 0, coinbase.vout[0].nValue, key.p2pkh_script, is_coinbase=True)
    assert CoinbaseWallet(btc_rpc, key).spendable() == []  # the wallet knows it is not mature
    tx = build_p2pkh_spend(key, [utxo], [TxOutput(key.p2wpkh_script, 10**8)])

    with pytest.raises(MempoolRejectedError, match="premature"):
        send_and_wait_in_mempool(btc_rpc, tx, timeout=1.0)
