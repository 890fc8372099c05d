"""Transaction and receipt consensus encodings, checked against independent producers.

Reference implementations used here (none share code with ``rlpcodec``):
* recorded nodes' hashes (Goerli blocks, OP mainnet deposit, a go-ethereum type-4 tx);
* eth-account signing types 0/1/2/4 (its own typed-transaction serializers);
* py-evm's Cancun ``BlobTransaction`` for type 3;
* hand-written ``rlp.sedes`` classes for receipts, following op-geth's ``EncodeIndex``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import rlp
from eth_account import Account
from eth_utils import to_checksum_address
from rlp.sedes import Binary, CountableList, big_endian_int, binary

from indexer.hashing import keccak256
from indexer.hemi.mappers import map_block, map_receipt, map_transaction
from indexer.hemi.rlpcodec import (
    SystemTxDecodeError,
    TransactionHashMismatch,
    compute_transaction_hash,
    decode_system_tx,
    encode_receipt,
    encode_system_tx,
    encode_transaction,
    verify_transaction_hash,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "hemi"
KEY = "0x" + "42" * 32
ACCOUNT = Account.from_key(KEY)


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


@pytest.mark.parametrize("name", ["goerli-block-8656414-shanghai.json", "goerli-block-8651337-london.json"])
def test_every_recorded_goerli_transaction_rehashes_to_its_node_hash(name):
    block = map_block(load(name))
    for tx in block.transactions:
        verify_transaction_hash(tx)


def test_recorded_op_mainnet_deposit_rehashes():
    tx = map_transaction(load("op-mainnet-l1info-deposit-tx.json"))
    assert (
        compute_transaction_hash(tx).hex()
        == "bc9329afac05556497441e2b3ee4c5d4da7ca0b2a4c212c212d0739e94a24df9"
    )
    raw = encode_transaction(tx)
    assert raw[0] == 0x7E
    # sourceHash, from, to, mint (0 -> empty), value, gas, isSystemTx (false -> empty), data
    items = rlp.decode(raw[1:])
    assert items[3] == b"" and items[6] == b"" and items[5] == (1_000_000).to_bytes(3, "big")


def test_recorded_go_ethereum_set_code_transaction_rehashes():
    tx = map_transaction(load("geth-setcode-tx.json"))
    assert (
        compute_transaction_hash(tx).hex()
        == "b81ac1a9321c1a57605c9beef606967b8866eb53fb63650678b8ba586e5c1ad9"
    )


def test_tampered_field_is_detected_by_hash_check():
    obj = load("op-mainnet-l1info-deposit-tx.json")
    obj["isSystemTx"] = True
    with pytest.raises(TransactionHashMismatch):
        verify_transaction_hash(map_transaction(obj))


def rpc_json_from_signed(tx: dict, signed, tx_type: int) -> dict:
    """Shape an eth_account-signed transaction the way op-geth prints it."""
    obj = {
        "type": hex(tx_type),
        "hash": "0x" + signed.hash.hex().removeprefix("0x"),
        "from": ACCOUNT.address.lower(),
        "nonce": hex(tx["nonce"]),
        "gas": hex(tx["gas"]),
        "to": tx["to"].lower() if tx.get("to") else None,
        "value": hex(tx["value"]),
        "input": tx["data"],
        "v": hex(signed.v),
        "r": hex(signed.r),
        "s": hex(signed.s),
    }
    if "chainId" in tx:
        obj["chainId"] = hex(tx["chainId"])
    if "gasPrice" in tx:
        obj["gasPrice"] = hex(tx["gasPrice"])
    if tx_type >= 1:
        obj["yParity"] = hex(signed.v)
        obj["accessList"] = tx["accessList"]
    if tx_type >= 2:
        obj["maxFeePerGas"] = hex(tx["maxFeePerGas"])
        obj["maxPriorityFeePerGas"] = hex(tx["maxPriorityFeePerGas"])
    return obj


ACCESS_LIST = [{"address": "0x" + "77" * 20, "storageKeys": ["0x" + "01" * 32, "0x" + "00" * 32]}]


@pytest.mark.parametrize(
    ("tx_type", "tx"),
    [
        (0, {"chainId": 43111, "nonce": 0, "gasPrice": 10**9, "gas": 21000, "to": "0x" + "66" * 20,
             "value": 10**18, "data": "0x"}),
        (0, {"chainId": 743111, "nonce": 9, "gasPrice": 1, "gas": 500000, "to": None, "value": 0,
             "data": "0x6080604052"}),
        (1, {"type": 1, "chainId": 43111, "nonce": 3, "gasPrice": 7, "gas": 90000, "to": "0x" + "66" * 20,
             "value": 5, "data": "0xdeadbeef", "accessList": ACCESS_LIST}),
        (2, {"type": 2, "chainId": 43111, "nonce": 2**40, "maxFeePerGas": 3 * 10**9,
             "maxPriorityFeePerGas": 0, "gas": 30_000_000, "to": "0x" + "66" * 20, "value": 2**200,
             "data": "0x" + "ff" * 300, "accessList": []}),
    ],
)  # fmt: skip
def test_signed_transactions_match_eth_account_bytes_and_hash(tx_type, tx):
    signable = dict(tx)
    if signable.get("to") is None:
        signable.pop("to")
    else:
        signable["to"] = to_checksum_address(signable["to"])
    signed = ACCOUNT.sign_transaction(signable)
    mapped = map_transaction(rpc_json_from_signed(tx, signed, tx_type))
    assert encode_transaction(mapped) == bytes(signed.raw_transaction)
    verify_transaction_hash(mapped)


def test_set_code_transaction_matches_eth_account():
    auth = ACCOUNT.sign_authorization({"chainId": 43111, "address": "0x" + "55" * 20, "nonce": 7})
    tx = {
        "type": 4, "chainId": 43111, "nonce": 3, "maxPriorityFeePerGas": 1, "maxFeePerGas": 10**9,
        "gas": 100000, "to": "0x" + "66" * 20, "value": 5, "data": "0xdeadbeef", "accessList": ACCESS_LIST,
    }  # fmt: skip
    signed = ACCOUNT.sign_transaction(
        {**tx, "to": to_checksum_address(tx["to"]), "authorizationList": [auth]}
    )
    obj = rpc_json_from_signed(tx, signed, 4)
    obj["authorizationList"] = [
        {"chainId": hex(auth.chain_id), "address": "0x" + auth.address.hex(), "nonce": hex(auth.nonce),
         "yParity": hex(auth.y_parity), "r": hex(auth.r), "s": hex(auth.s)}
    ]  # fmt: skip
    mapped = map_transaction(obj)
    assert encode_transaction(mapped) == bytes(signed.raw_transaction)


def test_blob_transaction_matches_py_evm():
    from eth.vm.forks.cancun.transactions import BlobTransaction, CancunTypedTransaction

    versioned = ["0x01" + "33" * 31, "0x01" + "44" * 31]
    reference = CancunTypedTransaction(
        3,
        BlobTransaction(
            chain_id=43111, nonce=2, max_priority_fee_per_gas=3, max_fee_per_gas=4, gas=21000,
            to=b"\x11" * 20, value=5, data=b"\xab", access_list=[(b"\x22" * 20, [7])],
            max_fee_per_blob_gas=9, blob_versioned_hashes=[bytes.fromhex(v[2:]) for v in versioned],
            y_parity=1, r=123, s=456,
        ),
    )  # fmt: skip
    obj = {
        "type": "0x3", "hash": "0x" + reference.hash.hex(), "from": "0x" + "99" * 20, "chainId": hex(43111),
        "nonce": "0x2", "maxPriorityFeePerGas": "0x3", "maxFeePerGas": "0x4", "gas": hex(21000),
        "to": "0x" + "11" * 20, "value": "0x5", "input": "0xab",
        "accessList": [{"address": "0x" + "22" * 20, "storageKeys": ["0x" + "00" * 31 + "07"]}],
        "maxFeePerBlobGas": "0x9", "blobVersionedHashes": versioned,
        "v": "0x1", "yParity": "0x1", "r": hex(123), "s": hex(456),
    }  # fmt: skip
    mapped = map_transaction(obj)
    assert encode_transaction(mapped) == reference.encode()
    verify_transaction_hash(mapped)


# --------------------------------------------------------------------------- system tx envelope


def test_pop_payout_envelope_golden_vectors_from_op_geth():
    to = bytes.fromhex("4200000000000000000000000000000000000042")
    assert encode_system_tx(0x7D, to, 1_000_000, b"\xc9\x4f").hex() == (
        "7ddc944200000000000000000000000000000000000042830f424082c94f"
    )
    assert encode_system_tx(0x7D, None, 1_000_000, b"\xc9\x4f").hex() == "7dc880830f424082c94f"


def test_system_tx_json_encodes_like_the_envelope():
    obj = {
        "type": "0x7d", "hash": "0x" + "00" * 32, "from": "0x" + "88" * 20, "gas": hex(1_000_000),
        "to": None, "input": "0xc94f", "nonce": "0x0", "value": "0x0", "gasPrice": "0x0",
    }  # fmt: skip
    assert encode_transaction(map_transaction(obj)).hex() == "7dc880830f424082c94f"


def test_system_tx_decode_round_trip_and_hash():
    raw = bytes.fromhex("7ddc944200000000000000000000000000000000000042830f424082c94f")
    decoded = decode_system_tx(raw)
    assert decoded.tx_type == 0x7D and decoded.gas == 1_000_000 and decoded.data == b"\xc9\x4f"
    assert decoded.to_address.hex() == "4200000000000000000000000000000000000042"
    assert decoded.hash == keccak256(raw)
    assert decode_system_tx(bytes.fromhex("7dc880830f424082c94f")).to_address is None


@pytest.mark.parametrize(
    ("raw_hex", "reason"),
    [
        ("", "empty input"),
        ("7ec880830f424082c94f", "is not 0x7c or 0x7d"),
        ("7dc780830f424082c9", "invalid RLP"),  # list header says 7 bytes, 8 follow
        ("7dc980830f424082c94f00", "exactly 3 items"),  # a stray 4th item
        ("7dc48082c94f", "exactly 3 items"),
        ("7dc98084000f424082c94f", "canonical uint64"),  # gas with a leading zero byte
        ("7dc680830f4240c0", "RLP strings"),  # data is a list
        ("7dcb83aabbcc830f424082c94f", "to must be empty or 20 bytes"),
        ("7dc6808105820000", "invalid RLP"),  # 0x05 wrapped as a one-byte string
        ("7df8088081058082c94f", "invalid RLP"),  # long-list prefix for a short list
    ],
)
def test_system_tx_decode_rejects_malformed_envelopes(raw_hex, reason):
    with pytest.raises(SystemTxDecodeError, match=reason):
        decode_system_tx(bytes.fromhex(raw_hex))


def test_system_tx_decode_checks_expected_type():
    with pytest.raises(SystemTxDecodeError, match="expected type 0x7c"):
        decode_system_tx(bytes.fromhex("7dc880830f424082c94f"), expected_type=0x7C)


# --------------------------------------------------------------------------- receipts


class _Log(rlp.Serializable):
    fields = [("address", Binary.fixed_length(20)), ("topics", CountableList(Binary.fixed_length(32))),
              ("data", binary)]  # fmt: skip


class _Receipt(rlp.Serializable):
    fields = [("status", binary), ("cumulative_gas", big_endian_int), ("bloom", Binary.fixed_length(256)),
              ("logs", CountableList(_Log))]  # fmt: skip


class _CanyonDepositReceipt(rlp.Serializable):
    fields = [*_Receipt._meta.fields, ("deposit_nonce", big_endian_int), ("version", big_endian_int)]


LOG_JSON = {
    "address": "0x" + "aa" * 20,
    "topics": ["0x" + "01" * 32, "0x" + "02" * 32],
    "data": "0x1234",
}
BLOOM = bytes(range(256))


def receipt(tx_type: str, status: str = "0x1", **extra: object):
    return map_receipt(
        {
            "blockHash": "0x" + "ab" * 32, "blockNumber": "0x10", "from": "0x" + "11" * 20, "to": None,
            "cumulativeGasUsed": hex(0x12345), "gasUsed": "0x5208", "logsBloom": "0x" + BLOOM.hex(),
            "logs": [LOG_JSON], "status": status, "transactionHash": "0x" + "cd" * 32,
            "transactionIndex": "0x0", "type": tx_type, **extra,
        }
    )  # fmt: skip


def reference_logs() -> list[_Log]:
    return [_Log(b"\xaa" * 20, [b"\x01" * 32, b"\x02" * 32], b"\x12\x34")]


def test_legacy_receipt_is_bare_rlp():
    expected = rlp.encode(_Receipt(b"\x01", 0x12345, BLOOM, reference_logs()))
    assert encode_receipt(receipt("0x0")) == expected


def test_failed_typed_receipt_has_empty_status_and_type_prefix():
    expected = b"\x02" + rlp.encode(_Receipt(b"", 0x12345, BLOOM, reference_logs()))
    assert encode_receipt(receipt("0x2", status="0x0")) == expected


def test_regolith_deposit_receipt_leaves_the_deposit_nonce_out_of_the_root_encoding():
    plain = b"\x7e" + rlp.encode(_Receipt(b"\x01", 0x12345, BLOOM, reference_logs()))
    assert encode_receipt(receipt("0x7e", depositNonce="0x7")) == plain


def test_canyon_deposit_receipt_appends_nonce_and_version():
    expected = b"\x7e" + rlp.encode(_CanyonDepositReceipt(b"\x01", 0x12345, BLOOM, reference_logs(), 7, 1))
    assert encode_receipt(receipt("0x7e", depositNonce="0x7", depositReceiptVersion="0x1")) == expected


@pytest.mark.parametrize(
    ("tx_type", "nonce_key"), [("0x7c", "btcAttributesDepositedNonce"), ("0x7d", "popPayoutNonce")]
)
def test_hemi_system_receipts_are_hashed_without_their_nonce(tx_type, nonce_key):
    prefix = bytes.fromhex(tx_type[2:])
    expected = prefix + rlp.encode(_Receipt(b"\x01", 0x12345, BLOOM, reference_logs()))
    assert encode_receipt(receipt(tx_type, **{nonce_key: "0x9"})) == expected


def test_receipts_with_many_logs_of_every_shape_match_pyrlp():
    # encode_receipt writes the usual log shape (20-byte address, 32-byte topics) with fixed
    # prefixes; a hand-built record of any other shape takes the general encoder. Both must
    # give pyrlp's bytes: 0-4 topics, empty to long data, odd sizes, more than 55 bytes of logs.
    import random

    from indexer.hemi.records import HemiLog

    rng = random.Random(5)
    for _ in range(200):
        logs = []
        for _ in range(rng.randrange(0, 6)):
            address = rng.randbytes(rng.choice([20, 20, 20, 19, 0]))
            topics = tuple(rng.randbytes(rng.choice([32, 32, 32, 31, 1])) for _ in range(rng.randrange(0, 5)))
            data = rng.randbytes(rng.choice([0, 1, 32, 55, 56, 300]))
            logs.append(HemiLog(address, topics, data, None, None, None, None, None, False))
        record = receipt("0x2")._replace(logs=tuple(logs))
        reference = [b"\x01", 0x12345, BLOOM, [[log.address, list(log.topics), log.data] for log in logs]]
        assert encode_receipt(record) == b"\x02" + rlp.encode(reference)
