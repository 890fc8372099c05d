"""HvmState and L1Block stand-ins, fed with real bcoin headers and packed Ecotone calldata."""

from __future__ import annotations

import struct
from collections.abc import Callable

import pytest
from bitcoin.core import CBlockHeader
from eth_abi import encode as abi_encode
from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD
from web3.types import TxReceipt

from devnet.btc import BitcoinRpc, extend_chain, mine
from devnet.btckeys import DevKey
from devnet.constants import (
    L1_INFO_DEPOSITOR,
    SET_L1_BLOCK_VALUES_ECOTONE_SELECTOR,
    SYSTEM_SENDER,
    UPDATE_HVM_STATE_SELECTOR,
)
from devnet.evm import contract_at, impersonate, send_calldata
from devnet.nodes import BcoinNode
from indexer.hashing import display_to_internal

pytestmark = pytest.mark.integration

KEY = DevKey.from_label("hvm-tests")
Relay = Callable[[Contract, BitcoinRpc], list[TxReceipt]]


def _internal(rpc: BitcoinRpc, height: int) -> bytes:
    return display_to_internal(rpc.getblockhash(height))


def test_relayed_headers_link_and_count_confirmations(
    w3: Web3, fresh_bcoin: BcoinNode, own_hvm_state: Callable[[BitcoinRpc], Contract], relay_to: Relay
) -> None:
    rpc = fresh_bcoin.rpc()
    hvm = own_hvm_state(rpc)
    mine(rpc, 10, KEY.p2pkh_address)
    [receipt] = relay_to(hvm, rpc)

    stored = hvm.events.BitcoinHeaderStored().process_receipt(receipt, errors=DISCARD)
    assert [e.args.height for e in stored] == list(range(1, 11))
    assert hvm.functions.tip().call() == [_internal(rpc, 10), 10]
    header5 = CBlockHeader.deserialize(rpc.getblockheader_raw(rpc.getblockhash(5)))
    assert hvm.functions.headerOf(_internal(rpc, 5)).call() == [5, header5.hashMerkleRoot, True]
    assert hvm.functions.confirmations(_internal(rpc, 1)).call() == 10
    assert hvm.functions.confirmations(_internal(rpc, 10)).call() == 1
    assert hvm.functions.confirmations(b"\x11" * 32).call() == 0
    assert hvm.functions.isCanonical(_internal(rpc, 0)).call() is True


def test_a_bitcoin_reorg_moves_the_canonical_chain(
    w3: Web3, fresh_bcoin: BcoinNode, own_hvm_state: Callable[[BitcoinRpc], Contract], relay_to: Relay
) -> None:
    rpc = fresh_bcoin.rpc()
    hvm = own_hvm_state(rpc)
    mine(rpc, 10, KEY.p2pkh_address)
    relay_to(hvm, rpc)
    stale = [_internal(rpc, h) for h in (8, 9, 10)]

    extend_chain(rpc, rpc.getblockhash(7), 4, payout_script=KEY.p2pkh_script)
    [receipt] = relay_to(hvm, rpc)

    [switch] = hvm.events.CanonicalTipUpdated().process_receipt(receipt, errors=DISCARD)
    assert (switch.args.height, switch.args.replacedHeights) == (11, 3)
    for height in range(0, 12):
        assert hvm.functions.canonicalHashAt(height).call() == _internal(rpc, height)
    for old in stale:
        assert hvm.functions.isCanonical(old).call() is False
        assert hvm.functions.confirmations(old).call() == 0
        assert hvm.functions.headerOf(old).call()[2] is True  # still known, just not canonical
    assert hvm.functions.confirmations(_internal(rpc, 8)).call() == 4


def test_only_the_system_sender_may_update_and_headers_must_link(
    w3: Web3, fresh_bcoin: BcoinNode, own_hvm_state: Callable[[BitcoinRpc], Contract], relay_to: Relay
) -> None:
    rpc = fresh_bcoin.rpc()
    hvm = own_hvm_state(rpc)
    [block_hash] = mine(rpc, 1, KEY.p2pkh_address)
    headers = [rpc.getblockheader_raw(block_hash)]
    tip = display_to_internal(block_hash)
    with pytest.raises(Exception, match="only the system sender"):
        hvm.functions.updateHvmState(tip, headers).call({"from": w3.eth.accounts[0]})
    orphan = bytearray(headers[0])
    orphan[4:36] = b"\x22" * 32  # prev hash nobody knows
    with pytest.raises(Exception, match="does not link to a known header"):
        hvm.functions.updateHvmState(tip, [bytes(orphan)]).call({"from": SYSTEM_SENDER})
    with pytest.raises(Exception, match="canonical tip is not a known header"):
        hvm.functions.updateHvmState(b"\x33" * 32, headers).call({"from": SYSTEM_SENDER})
    data = UPDATE_HVM_STATE_SELECTOR + abi_encode(["bytes32", "bytes[]"], [tip, headers])
    send_calldata(w3, SYSTEM_SENDER, hvm.address, data)
    assert hvm.functions.tip().call() == [tip, 1]


def test_l1block_stores_packed_ecotone_values_only_from_the_depositor(
    w3: Web3, deployment: dict[str, str]
) -> None:
    l1 = contract_at(w3, "L1Block", deployment["L1Block"])
    l1_hash, batcher = b"\xaa" * 32, b"\x00" * 12 + b"\xbb" * 20
    packed = struct.pack(">IIQQQ", 1368, 810949, 3, 1_700_000_000, 7_720_859)
    packed += (10**9).to_bytes(32, "big") + (1).to_bytes(32, "big") + l1_hash + batcher
    calldata = SET_L1_BLOCK_VALUES_ECOTONE_SELECTOR + packed
    assert len(packed) == 160

    with pytest.raises(Exception, match="only the depositor account"):
        w3.eth.call({"from": w3.eth.accounts[0], "to": l1.address, "data": calldata})
    depositor = impersonate(w3, L1_INFO_DEPOSITOR)
    with pytest.raises(Exception, match="must be 164 bytes"):
        w3.eth.call({"from": depositor, "to": l1.address, "data": calldata + b"\x00"})
    send_calldata(w3, depositor, l1.address, calldata)

    f = l1.functions
    assert (f.baseFeeScalar().call(), f.blobBaseFeeScalar().call(), f.sequenceNumber().call()) == (
        1368,
        810949,
        3,
    )
    assert (f.timestamp().call(), f.number().call(), f.basefee().call()) == (1_700_000_000, 7_720_859, 10**9)
    assert (f.blobBaseFee().call(), f.hash().call(), f.batcherHash().call()) == (1, l1_hash, batcher)
