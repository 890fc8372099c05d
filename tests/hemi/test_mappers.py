"""RPC JSON -> records: exact field values from recorded replies, and loud failures."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from indexer.hemi.mappers import (
    BTC_ATTRIBUTES_TX,
    DEPOSIT_TX,
    HEMI_SYSTEM_SENDER,
    HemiDecodeError,
    map_block,
    map_log,
    map_receipt,
    map_transaction,
    parse_data,
    parse_quantity,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "hemi"


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def system_tx_json(tx_type: int = BTC_ATTRIBUTES_TX, **overrides: object) -> dict:
    """Shape op-geth's newRPCTransaction prints for 0x7C/0x7D (no chainId, zero signature)."""
    obj = {
        "blockHash": "0x" + "ab" * 32,
        "blockNumber": "0x10",
        "from": "0x" + "88" * 20,
        "gas": "0xf4240",
        "gasPrice": "0x0",
        "hash": "0x" + "cd" * 32,
        "input": "0xc94f",
        "nonce": "0x5",
        "to": "0x" + "88" * 20,
        "transactionIndex": "0x1",
        "value": "0x0",
        "type": hex(tx_type),
        "v": "0x0",
        "r": "0x0",
        "s": "0x0",
    }
    obj.update(overrides)
    return obj


def test_shanghai_block_maps_every_header_field_exactly():
    block = map_block(load("goerli-block-8656414-shanghai.json"))
    assert block.number == 8656414
    assert block.hash.hex() == "a16c6bcda4fdca88b5761965c4d724f7afc6a6900d9051a204e544870adb3452"
    assert block.parent_hash.hex() == "72d92c1498e05952988d4e79a695928a6bcbd37239f8a1734051263b4d3504b8"
    assert block.miner.hex() == "000095e79eac4d76aab57cb2c1f091d553b36ca0"
    assert block.gas_limit == 0x1C9C380
    assert block.gas_used == 0x18F759
    assert block.timestamp == 0x64110A5C
    assert block.base_fee_per_gas == 0x3FB7C357
    assert block.difficulty == 0
    assert block.nonce == bytes(8)
    assert block.extra_data == b""
    assert block.withdrawals_root is not None
    assert block.blob_gas_used is None and block.parent_beacon_block_root is None
    assert block.requests_hash is None
    assert block.size == 0x2A51
    assert block.transactions is not None and len(block.transactions) == 29
    assert block.withdrawals is not None and len(block.withdrawals) > 0


def test_london_block_has_no_withdrawals_fields():
    block = map_block(load("goerli-block-8651337-london.json"))
    assert block.number == 8651337
    assert block.withdrawals_root is None and block.withdrawals is None
    assert block.base_fee_per_gas is not None


def test_first_legacy_transaction_fields_are_exact():
    tx = map_block(load("goerli-block-8656414-shanghai.json")).transactions[0]
    assert tx.tx_type == 0
    assert tx.hash.hex() == "1e8f148a9aea7d8d16ea6e9446723b8f262e8bcd89c7c961d52046ebd43b4598"
    assert tx.from_address.hex() == "1b7aa44088a0ea95bdc65fef6e5071e946bf7d8f"
    assert tx.to_address.hex() == "a21765a03dd41e2783696d314f235f4d520f6cac"
    assert tx.nonce == 0x279AD
    assert tx.value == 0x3782DACE9D90000  # 0.25 ETH in wei, an int
    assert tx.gas_price == 0x4159F01735
    assert tx.v == 0x2E and tx.chain_id == 5
    assert tx.input == b""


def test_contract_creation_has_no_to_address():
    tx = map_block(load("goerli-block-8656414-shanghai.json")).transactions[1]
    assert tx.tx_type == 2 and tx.to_address is None
    assert tx.max_fee_per_gas == 0x11407D03E and tx.max_priority_fee_per_gas == 0x9502F900
    assert tx.y_parity == 1 and tx.access_list == ()


def test_block_with_hashes_only_keeps_hashes_and_marks_transactions_missing():
    obj = load("goerli-block-8656414-shanghai.json")
    obj["transactions"] = [t["hash"] for t in obj["transactions"]]
    block = map_block(obj)
    assert block.transactions is None
    assert block.transaction_hashes[0].hex().startswith("1e8f148a")


def test_transaction_that_points_at_another_block_is_rejected():
    obj = load("goerli-block-8656414-shanghai.json")
    obj["transactions"][3]["transactionIndex"] = "0x4"
    with pytest.raises(HemiDecodeError) as exc:
        map_block(obj)
    assert exc.value.field == "transactions[3]"


def test_malformed_header_quantity_names_the_field():
    obj = load("goerli-block-8656414-shanghai.json")
    obj["gasUsed"] = "0x018f759"
    with pytest.raises(HemiDecodeError) as exc:
        map_block(obj)
    assert exc.value.field == "gasUsed"


@pytest.mark.parametrize(
    "value",
    [
        "0x",
        "0x01",
        "12",
        "0X1",
        "0xg",
        "0x_1",
        " 0x1",
        "0x1 ",
        "+0x1",
        "-0x1",
        "0x1_0",
        12,
        None,
        1.5,
        "0x\uff11",  # full-width digit one,
    ],
)
def test_quantity_parser_rejects_anything_hexutil_rejects(value):
    with pytest.raises(HemiDecodeError) as exc:
        parse_quantity(value, "nonce")
    assert exc.value.field == "nonce"


def test_quantity_parser_accepts_canonical_forms_and_checks_width():
    assert parse_quantity("0x0", "x") == 0
    assert parse_quantity("0xFf", "x") == 255
    assert parse_quantity("0x" + "f" * 64, "x") == 2**256 - 1
    with pytest.raises(HemiDecodeError, match="uint64"):
        parse_quantity("0x10000000000000000", "gas", 64)
    with pytest.raises(HemiDecodeError, match="uint256"):
        parse_quantity("0x1" + "0" * 64, "value")


@pytest.mark.parametrize("value", ["0x0", "0xabc", "ab", "0xzz", 5])
def test_data_parser_rejects_odd_or_non_hex(value):
    with pytest.raises(HemiDecodeError):
        parse_data(value, "input")


def test_data_parser_pins_size():
    with pytest.raises(HemiDecodeError, match="expected 32 bytes, got 31"):
        parse_data("0x" + "00" * 31, "blockHash", 32)


def test_op_deposit_transaction_fields():
    tx = map_transaction(load("op-mainnet-l1info-deposit-tx.json"))
    assert tx.tx_type == DEPOSIT_TX and tx.is_deposit
    assert tx.source_hash.hex() == "04e9a69416471ead93b02f0c279ab11ca0b635db5c1726a56faf22623bafde52"
    assert tx.mint == 0 and tx.is_system_tx is False
    assert tx.deposit_receipt_version == 1
    assert tx.nonce == 0x152EA95
    assert tx.from_address.hex() == "deaddeaddeaddeaddeaddeaddeaddeaddead0001"
    assert tx.gas == 1_000_000


def test_deposit_is_system_tx_must_be_a_boolean():
    obj = load("op-mainnet-l1info-deposit-tx.json")
    obj["isSystemTx"] = "true"
    with pytest.raises(HemiDecodeError) as exc:
        map_transaction(obj)
    assert exc.value.field == "isSystemTx"


def test_hemi_system_transaction_maps_with_nil_to():
    tx = map_transaction(system_tx_json(to=None))
    assert tx.tx_type == BTC_ATTRIBUTES_TX and tx.is_hemi_system_tx
    assert tx.to_address is None and tx.from_address == HEMI_SYSTEM_SENDER
    assert tx.value == 0 and tx.gas == 1_000_000 and tx.input == b"\xc9\x4f"


def test_hemi_system_transaction_from_another_sender_is_rejected():
    with pytest.raises(HemiDecodeError) as exc:
        map_transaction(system_tx_json(**{"from": "0x" + "11" * 20}))
    assert exc.value.field == "from"


def test_hemi_system_transaction_with_value_is_rejected():
    with pytest.raises(HemiDecodeError) as exc:
        map_transaction(system_tx_json(value="0x1"))
    assert exc.value.field == "value"


def test_unknown_transaction_type_is_rejected():
    with pytest.raises(HemiDecodeError, match="unsupported transaction type 0x05"):
        map_transaction(system_tx_json(type="0x5"))


def test_set_code_transaction_maps_authorizations():
    tx = map_transaction(load("geth-setcode-tx.json"))
    assert tx.tx_type == 4 and len(tx.authorization_list) == 2
    first, second = tx.authorization_list
    assert first.chain_id == 1 and first.nonce == 1 and first.y_parity == 1
    assert first.address.hex() == "000000000000000000000000000000000000aaaa"
    assert second.chain_id == 0


def test_set_code_transaction_cannot_create_contracts():
    obj = load("geth-setcode-tx.json")
    obj["to"] = None
    with pytest.raises(HemiDecodeError) as exc:
        map_transaction(obj)
    assert exc.value.field == "to"


def test_y_parity_and_v_must_agree():
    obj = load("geth-setcode-tx.json")
    obj["v"] = "0x1"
    with pytest.raises(HemiDecodeError, match="disagrees"):
        map_transaction(obj)


def test_typed_transaction_with_only_v_uses_it_as_parity():
    obj = load("geth-setcode-tx.json")
    del obj["yParity"]
    assert map_transaction(obj).y_parity == 0


def receipt_json(**overrides: object) -> dict:
    obj = {
        "blockHash": "0x" + "ab" * 32,
        "blockNumber": "0x10",
        "contractAddress": None,
        "cumulativeGasUsed": "0xb41c",
        "effectiveGasPrice": "0x0",
        "from": "0xdeaddeaddeaddeaddeaddeaddeaddeaddead0001",
        "gasUsed": "0xb41c",
        "logs": [],
        "logsBloom": "0x" + "00" * 256,
        "status": "0x1",
        "to": "0x4200000000000000000000000000000000000015",
        "transactionHash": "0x" + "cd" * 32,
        "transactionIndex": "0x0",
        "type": "0x7e",
        "depositNonce": "0x21e3b52",
        "depositReceiptVersion": "0x1",
    }
    obj.update(overrides)
    return obj


def test_deposit_receipt_fields():
    receipt = map_receipt(receipt_json())
    assert receipt.tx_type == DEPOSIT_TX and receipt.status == 1
    assert receipt.deposit_nonce == 0x21E3B52 and receipt.deposit_receipt_version == 1
    assert receipt.cumulative_gas_used == 0xB41C and receipt.logs == ()


def test_pre_ecotone_fee_scalar_is_kept_as_text_not_float():
    receipt = map_receipt(receipt_json(type="0x2", l1FeeScalar="0.684", l1Fee="0x10", l1GasUsed="0x640"))
    assert receipt.l1_fee_scalar_text == "0.684"
    assert receipt.l1_fee == 16 and receipt.l1_gas_used == 1600


def test_hemi_system_receipt_nonces():
    receipt = map_receipt(receipt_json(type="0x7c", btcAttributesDepositedNonce="0x9"))
    assert receipt.btc_attributes_deposited_nonce == 9
    receipt = map_receipt(receipt_json(type="0x7d", popPayoutNonce="0xa"))
    assert receipt.pop_payout_nonce == 10


@pytest.mark.parametrize("status", ["0x2", "0x01", "1"])
def test_receipt_status_must_be_zero_or_one(status):
    with pytest.raises(HemiDecodeError) as exc:
        map_receipt(receipt_json(status=status))
    assert exc.value.field == "status"


def test_log_fields_and_limits():
    raw = {
        "address": "0x" + "aa" * 20,
        "topics": ["0x" + "01" * 32, "0x" + "02" * 32],
        "data": "0x" + "00" * 31 + "05",
        "logIndex": "0x3",
        "transactionIndex": "0x1",
        "transactionHash": "0x" + "cd" * 32,
        "blockHash": "0x" + "ab" * 32,
        "blockNumber": "0x10",
        "removed": False,
    }
    log = map_log(raw)
    assert log.log_index == 3 and log.topics[1] == b"\x02" * 32 and log.data[-1] == 5
    too_many = copy.deepcopy(raw)
    too_many["topics"] = ["0x" + "01" * 32] * 5
    with pytest.raises(HemiDecodeError, match="at most 4 topics"):
        map_log(too_many)
    short_topic = copy.deepcopy(raw)
    short_topic["topics"] = ["0x01"]
    with pytest.raises(HemiDecodeError) as exc:
        map_log(short_topic)
    assert exc.value.field == "topics[0]"


def test_receipt_log_errors_name_their_position():
    bad_log = {"address": "0x" + "aa" * 20, "topics": [], "data": "0x0"}
    with pytest.raises(HemiDecodeError) as exc:
        map_receipt(receipt_json(logs=[bad_log]))
    assert exc.value.field == "logs[0].data"


def test_every_receipt_field_lands_in_its_own_attribute():
    # map_receipt builds HemiReceipt positionally: with a distinct value in every field, a
    # misordered argument (or a reordered record) shows up as a wrong attribute here.
    optional = ["blobGasUsed", "blobGasPrice", "depositNonce", "depositReceiptVersion", "popPayoutNonce",
                "btcAttributesDepositedNonce", "l1Fee", "l1GasUsed", "l1GasPrice", "l1BlobBaseFee",
                "l1BaseFeeScalar", "l1BlobBaseFeeScalar"]  # fmt: skip
    values = {key: hex(0x100 + i) for i, key in enumerate(optional)}
    log = {"address": "0x" + "0a" * 20, "topics": ["0x" + "0b" * 32], "data": "0x0c", "logIndex": "0x3"}
    receipt = map_receipt(receipt_json(
        type="0x2", transactionIndex="0x5", cumulativeGasUsed="0x7777", gasUsed="0x6666",
        effectiveGasPrice="0x5555", contractAddress="0x" + "ce" * 20, logsBloom="0x" + "bb" * 256,
        logs=[log], l1FeeScalar="0.5", **values,
    ))  # fmt: skip
    assert (receipt.transaction_hash, receipt.transaction_index) == (b"\xcd" * 32, 5)
    assert (receipt.block_hash, receipt.block_number, receipt.tx_type) == (b"\xab" * 32, 0x10, 2)
    assert receipt.from_address == bytes.fromhex("deaddeaddeaddeaddeaddeaddeaddeaddead0001")
    assert receipt.to_address == bytes.fromhex("4200000000000000000000000000000000000015")
    assert (receipt.contract_address, receipt.status, receipt.root) == (b"\xce" * 20, 1, None)
    assert (receipt.cumulative_gas_used, receipt.gas_used, receipt.effective_gas_price) == (0x7777, 0x6666, 0x5555)
    assert receipt.logs_bloom == b"\xbb" * 256 and receipt.logs[0].log_index == 3
    attributes = ["blob_gas_used", "blob_gas_price", "deposit_nonce", "deposit_receipt_version", "pop_payout_nonce",
                  "btc_attributes_deposited_nonce", "l1_fee", "l1_gas_used", "l1_gas_price", "l1_blob_base_fee",
                  "l1_base_fee_scalar", "l1_blob_base_fee_scalar"]  # fmt: skip
    assert [getattr(receipt, name) for name in attributes] == [0x100 + i for i in range(len(optional))]
    assert receipt.l1_fee_scalar_text == "0.5"


@pytest.mark.parametrize("tx_type", ["0x0", "0x1", "0x2"])
def test_every_signed_transaction_field_lands_in_its_own_attribute(tx_type):
    # The signed types share one positional HemiTransaction construction; distinct values catch
    # a misordered argument.
    obj = {
        "type": tx_type, "hash": "0x" + "01" * 32, "from": "0x" + "02" * 20, "to": "0x" + "03" * 20,
        "nonce": "0x4", "gas": "0x5", "value": "0x6", "input": "0x07", "gasPrice": "0x8", "chainId": "0x9",
        "r": "0xa", "s": "0xb", "blockHash": "0x" + "0c" * 32, "blockNumber": "0xd", "transactionIndex": "0xe",
        "accessList": [{"address": "0x" + "0f" * 20, "storageKeys": ["0x" + "10" * 32]}],
        "maxFeePerGas": "0x11", "maxPriorityFeePerGas": "0x12",
    }  # fmt: skip
    if tx_type == "0x0":
        obj["v"] = "0x25"
    else:
        obj["v"] = obj["yParity"] = "0x1"
    tx = map_transaction(obj)
    assert (tx.hash, tx.from_address, tx.to_address) == (b"\x01" * 32, b"\x02" * 20, b"\x03" * 20)
    assert (tx.nonce, tx.gas, tx.value, tx.input, tx.gas_price) == (4, 5, 6, b"\x07", 8)
    assert (tx.chain_id, tx.r, tx.s) == (9, 10, 11)
    assert (tx.block_hash, tx.block_number, tx.transaction_index) == (b"\x0c" * 32, 13, 14)
    assert (tx.source_hash, tx.mint, tx.is_system_tx, tx.deposit_receipt_version) == (None, None, False, None)
    assert (tx.max_fee_per_blob_gas, tx.blob_versioned_hashes, tx.authorization_list) == (None, None, None)
    if tx_type == "0x0":
        assert (tx.v, tx.y_parity, tx.access_list, tx.max_fee_per_gas) == (0x25, None, None, None)
    else:
        assert (tx.v, tx.y_parity) == (1, 1)
        assert tx.access_list[0].address == b"\x0f" * 20 and tx.access_list[0].storage_keys == (b"\x10" * 32,)
        fees = (tx.max_fee_per_gas, tx.max_priority_fee_per_gas)
        assert fees == ((None, None) if tx_type == "0x1" else (0x11, 0x12))
