"""Independent readers for the scenario tests: raw Hemi JSON-RPC, python-bitcoinlib for
Bitcoin bytes, struct for keystones - never the devnet's own helpers, so a bug in those helpers
cannot hide itself."""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bitcoin.core import CBlock, CTransaction
from web3 import Web3

from devnet.actors import Actors
from devnet.bootstrap import Deployment
from devnet.btc import BitcoinRpc
from devnet.handle import Network, SteppedDriver

ECOTONE_SELECTOR = "0x440a5e20"
UPDATE_HVM_STATE_SELECTOR = "0xc94f1cca"
L1_INFO_DEPOSITOR = "0xdeaddeaddeaddeaddeaddeaddeaddeaddead0001"
L1_BLOCK = "0x4200000000000000000000000000000000000015"
SYSTEM_SENDER = "0x8888888888888888888888888888888888888888"


@dataclass
class Stepped:
    net: Network
    actors: Actors
    driver: SteppedDriver
    deployment: Deployment
    w3: Web3
    btc: BitcoinRpc
    root: Path

    def call(self, method: str, *params: Any) -> Any:
        """Raw Hemi JSON-RPC (plain JSON, no web3 conversions)."""
        reply = self.w3.provider.make_request(method, list(params))  # type: ignore[arg-type]
        assert "error" not in reply, reply
        return reply["result"]

    def block(self, number: int, full: bool = True) -> dict[str, Any]:
        return dict(self.call("eth_getBlockByNumber", hex(number), full))


def dsha256(data: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


def l1_origin(tx: dict) -> tuple[int, int, bytes]:
    """(L1 number, sequence number, L1 hash) from Ecotone's packed calldata, by offset."""
    data = bytes.fromhex(tx["input"][2:])
    assert len(data) == 164 and tx["input"].startswith(ECOTONE_SELECTOR)
    sequence_number, _timestamp, number = struct.unpack(">QQQ", data[12:36])
    return number, sequence_number, data[100:132]


def assert_l1_info_opens_every_block(stepped: Stepped) -> None:
    tip = int(stepped.call("eth_blockNumber"), 16)
    origins: dict[int, bytes] = {}
    previous = (0, -1)
    for number in range(1, tip + 1):
        txs = stepped.block(number)["transactions"]
        assert txs, f"block {number} is empty"
        tx0 = txs[0]
        assert (tx0["from"].lower(), tx0["to"].lower()) == (L1_INFO_DEPOSITOR, L1_BLOCK), number
        origin, sequence_number, origin_hash = l1_origin(tx0)
        # the same L1 origin always has the same hash, and origins never go back
        assert origins.setdefault(origin, origin_hash) == origin_hash
        assert (origin, sequence_number) > previous, number
        previous = (origin, sequence_number)
        for tx in txs[1:]:
            assert tx["from"].lower() != L1_INFO_DEPOSITOR, f"second L1-info call in block {number}"


def rebuild_abrev(stepped: Stepped, number: int) -> bytes:
    """The 76-byte abbreviated keystone of block ``number``, from raw block JSON (spec 2.3)."""
    block = stepped.block(number)
    prev = stepped.block(number - 25, False)["hash"] if number > 25 else "0x" + "00" * 32
    l1_info = bytes.fromhex(block["transactions"][0]["input"][2:])
    l1_number = struct.unpack(">Q", l1_info[28:36])[0]
    return (
        struct.pack(">BII", 1, l1_number, number)
        + bytes.fromhex(block["parentHash"][2:])[:11]
        + bytes.fromhex(prev[2:])[:12]
        + bytes.fromhex(block["stateRoot"][2:])
        + bytes.fromhex(block["hash"][2:])[:12]
    )


def raw_tx(btc: BitcoinRpc, txid_display: str) -> CTransaction:
    return CTransaction.deserialize(btc.getrawtransaction_raw(txid_display))


def scripts(tx: CTransaction) -> list[bytes]:
    return [bytes(out.scriptPubKey) for out in tx.vout]


def block_txids(btc: BitcoinRpc, block_hash_display: str) -> list[str]:
    block = CBlock.deserialize(btc.getblock_raw(block_hash_display))
    return [bytes(tx.GetTxid())[::-1].hex() for tx in block.vtx]


def prevout_script(btc: BitcoinRpc, tx: CTransaction, index: int = 0) -> bytes:
    prevout = tx.vin[index].prevout
    funding = raw_tx(btc, bytes(prevout.hash)[::-1].hex())
    return bytes(funding.vout[prevout.n].scriptPubKey)
