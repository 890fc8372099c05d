"""The sequencer: one Hemi block per step, opened by the L1-info call, then the hVM relay.

Block layout, as op-geth builds it (spec 5.2), with the devnet's stand-ins:

* tx 0 - ``setL1BlockValuesEcotone`` (``encode_l1_info``) from the impersonated depositor
  0xDeaD…0001 to the L1Block predeploy. The L1 origin is fake but consistent: its number
  grows by one every ``l1_blocks_every`` Hemi blocks, its hash is derived from the number
  (the same origin always has the same hash) and its timestamp never passes the L2 block's.
* then, when bcoin has headers HvmState lacks, ``updateHvmState(canonicalTip, headers)``
  (``encode_update_hvm_state``) from the impersonated 0x8888…8888, at most
  ``max_headers_per_call`` raw headers per call and ``max_relay_calls_per_block`` calls;
* then user transactions, in submission order.

Why the pool order holds: the network runs anvil with ``--order fees`` (highest max fee
first, ties in submission order). The two system senders bid a max fee far above any user
transaction - the L1-info call one wei more than the relay - with a zero priority fee, so they
pay only the base fee yet always lead the block, even when user transactions were submitted
before them. (With ``--order fifo`` a user transaction sent between two blocks would precede
the L1-info call.) Each step verifies the result and raises :class:`SequencerError` if the
block does not open with the L1-info call or a system call failed.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace

from hexbytes import HexBytes
from web3 import Web3

from devnet.btc import BitcoinRpc
from devnet.constants import L1_BLOCK_PREDEPLOY, L1_INFO_DEPOSITOR, SYSTEM_SENDER
from devnet.evm import contract_at, impersonate, rpc
from devnet.keystones import devnet_l1_info, hemi_block
from indexer.hashing import display_to_internal, internal_to_display, keccak256
from indexer.hemi.hvm import encode_update_hvm_state
from indexer.hemi.keystones import KeystoneBuildError
from indexer.hemi.l1info import L1BlockInfo, encode_l1_info

logger = logging.getLogger(__name__)

SYSTEM_MAX_FEE_WEI = 10**15  # per gas; only the base fee is paid (priority fee 0)
SYSTEM_BALANCE_WEI = 10**25  # covers max fee x gas, which the pool checks up front
L1_INFO_GAS = 250_000
RELAY_BASE_GAS = 200_000
RELAY_GAS_PER_HEADER = 150_000
L1_ORIGIN_START = 20_000_000  # a mainnet-looking Ethereum block number
# Ecotone scalars and fees as a real OP-stack chain reports them; the devnet never charges them.
_BASE_FEE_SCALAR = 1368
_BLOB_BASE_FEE_SCALAR = 810_949
_L1_BASE_FEE = 7_000_000_000
_BLOB_BASE_FEE = 1
_BATCHER_HASH = bytes(12) + keccak256(b"hemiscope-devnet-batcher")[:20]


class SequencerError(RuntimeError):
    """A produced block breaks the devnet's block layout (or a system call reverted)."""


@dataclass(frozen=True)
class SequencerConfig:
    l1_blocks_every: int = 3
    # op-geth's decoder caps a call at 30 headers and newer generators trim to 8 (spec 5.2).
    max_headers_per_call: int = 8
    max_relay_calls_per_block: int = 4


@dataclass(frozen=True)
class L1Origin:
    number: int
    timestamp: int
    sequence_number: int

    @property
    def hash(self) -> bytes:
        return keccak256(b"hemiscope-devnet-l1-block:" + self.number.to_bytes(8, "big"))

    def info(self) -> L1BlockInfo:
        return L1BlockInfo(
            layout="ecotone",
            number=self.number,
            timestamp=self.timestamp,
            base_fee=_L1_BASE_FEE,
            block_hash=self.hash,
            sequence_number=self.sequence_number,
            batcher_hash=_BATCHER_HASH,
            base_fee_scalar=_BASE_FEE_SCALAR,
            blob_base_fee_scalar=_BLOB_BASE_FEE_SCALAR,
            blob_base_fee=_BLOB_BASE_FEE,
        )


@dataclass(frozen=True)
class SequencedBlock:
    number: int
    hash: str  # 0x-prefixed, EVM order
    timestamp: int
    l1_origin: int
    l1_info_tx: str
    relay_txs: tuple[str, ...]
    relayed_headers: tuple[str, ...]  # Bitcoin display hashes, oldest first
    tx_count: int


class Sequencer:
    name = "sequencer"

    def __init__(
        self,
        w3: Web3,
        btc: BitcoinRpc,
        *,
        hvm_state: str | None = None,
        config: SequencerConfig | None = None,
    ) -> None:
        self.w3 = w3
        self.btc = btc
        self.config = config or SequencerConfig()
        self.hvm = None if hvm_state is None else contract_at(w3, "HvmState", hvm_state)
        self._origin: L1Origin | None = None
        self._head_hash: str | None = None
        # Bitcoin display hashes HvmState knows on the current Hemi branch (cleared on reorg).
        self._known_headers: set[str] = set()
        for address in (L1_INFO_DEPOSITOR, SYSTEM_SENDER):
            impersonate(w3, address, balance_wei=SYSTEM_BALANCE_WEI)

    def attach_hvm_state(self, address: str) -> None:
        """Start relaying once HvmState exists (the sequencer also mines its deployment)."""
        self.hvm = contract_at(self.w3, "HvmState", address)
        self._known_headers.clear()

    def mine(self, _w3: Web3 | None = None) -> int:
        """``devnet.evm.Miner`` signature, so deployment helpers can use the sequencer."""
        return self.step().number

    # one block ------------------------------------------------------------------------------
    def step(self) -> SequencedBlock:
        """1. resync if the head is not the block this sequencer made last (another process
        reverted anvil, or this is the first step); 2. send the L1-info call; 3. send relay
        calls for missing Bitcoin headers; 4. ``evm_mine`` at max(parent + 1, now);
        5. check the layout and the system calls' receipts."""
        parent = self.w3.eth.get_block("latest")
        parent_hash = HexBytes(parent["hash"]).to_0x_hex()
        if parent_hash != self._head_hash:
            self._resync(int(parent["number"]))
        number = int(parent["number"]) + 1
        timestamp = max(int(parent["timestamp"]) + 1, int(time.time()))
        origin = self._next_origin(timestamp)
        l1_tx = self._send(L1_INFO_DEPOSITOR, L1_BLOCK_PREDEPLOY, encode_l1_info(origin.info()), L1_INFO_GAS, 0)
        relay_txs, relayed = self._send_relays()
        rpc(self.w3, "evm_mine", [timestamp])

        block = self.w3.eth.get_block(number)
        tx_hashes = [HexBytes(h).to_0x_hex() for h in block["transactions"]]
        if not tx_hashes or tx_hashes[0] != l1_tx:
            raise SequencerError(f"block {number} does not open with the L1-info call {l1_tx}: {tx_hashes[:3]}")
        for tx_hash in (l1_tx, *relay_txs):
            receipt = self.w3.eth.get_transaction_receipt(tx_hash)
            if receipt["status"] != 1:
                raise SequencerError(f"system transaction {tx_hash} in block {number} reverted")
        self._origin = origin
        self._head_hash = HexBytes(block["hash"]).to_0x_hex()
        self._known_headers.update(relayed)
        return SequencedBlock(
            number=number,
            hash=self._head_hash,
            timestamp=int(block["timestamp"]),
            l1_origin=origin.number,
            l1_info_tx=l1_tx,
            relay_txs=tuple(relay_txs),
            relayed_headers=tuple(relayed),
            tx_count=len(tx_hashes),
        )

    def _resync(self, head_number: int) -> None:
        if self._head_hash is not None:
            logger.info("sequencer: head is not our last block any more (reorg/revert); resyncing at %d", head_number)
        self._known_headers.clear()
        self._origin = None
        if head_number == 0:
            return
        try:
            info = devnet_l1_info(hemi_block(self.w3, head_number))
        except KeystoneBuildError:
            return  # a block we did not make (no L1-info call): start a fresh origin
        self._origin = L1Origin(info.number, info.timestamp, info.sequence_number)

    def _next_origin(self, timestamp: int) -> L1Origin:
        previous = self._origin
        if previous is None:
            return L1Origin(L1_ORIGIN_START, timestamp - 1, 0)
        if previous.sequence_number + 1 < self.config.l1_blocks_every:
            return replace(previous, sequence_number=previous.sequence_number + 1)
        # an L1 origin is never younger than the L2 block that names it
        return L1Origin(previous.number + 1, max(previous.timestamp + 1, timestamp - 1), 0)

    def _send(self, sender: str, to: str, data: bytes, gas: int, fee_discount: int) -> str:
        tx = {
            "from": Web3.to_checksum_address(sender),
            "to": Web3.to_checksum_address(to),
            "data": "0x" + data.hex(),
            "gas": hex(gas),
            "maxFeePerGas": hex(SYSTEM_MAX_FEE_WEI - fee_discount),
            "maxPriorityFeePerGas": "0x0",
        }
        return HexBytes(rpc(self.w3, "eth_sendTransaction", [tx])).to_0x_hex()

    # hVM relay ------------------------------------------------------------------------------
    def _is_known(self, hash_display: str) -> bool:
        if hash_display in self._known_headers:
            return True
        assert self.hvm is not None
        if self.hvm.functions.headerOf(display_to_internal(hash_display)).call()[2]:
            self._known_headers.add(hash_display)
            return True
        return False

    def _send_relays(self) -> tuple[list[str], list[str]]:
        """Send the calls that bring HvmState to bcoin's best chain; returns (tx hashes, header
        hashes relayed). Headers are found by walking back from the best block to the first
        one HvmState knows, so a Bitcoin reorg relays the new branch from the fork point."""
        if self.hvm is None:
            return [], []
        best = self.btc.getbestblockhash()
        tip_internal, _height = self.hvm.functions.tip().call()
        if internal_to_display(bytes(tip_internal)) == best:
            self._known_headers.add(best)
            return [], []
        missing: list[str] = []
        cursor: str | None = best
        while cursor is not None and not self._is_known(cursor):
            missing.append(cursor)
            cursor = self.btc.getblockheader(cursor).get("previousblockhash")
        if cursor is None:
            raise SequencerError(f"no ancestor of Bitcoin block {best} is known to HvmState")
        missing.reverse()
        cap = self.config.max_headers_per_call
        chunks = [missing[i : i + cap] for i in range(0, len(missing), cap)] or [[]]
        chunks = chunks[: self.config.max_relay_calls_per_block]
        tx_hashes: list[str] = []
        relayed: list[str] = []
        raw_headers = self.btc.batch([("getblockheader", [h, False]) for chunk in chunks for h in chunk])
        position = 0
        for chunk in chunks:
            headers = [bytes.fromhex(raw) for raw in raw_headers[position : position + len(chunk)]]
            position += len(chunk)
            # each call names the newest header it carries as tip: it must be known when the
            # call ends (a header-less call only switches the tip to an already known branch)
            tip = chunk[-1] if chunk else best
            data = encode_update_hvm_state(display_to_internal(tip), headers, max_headers=cap)
            gas = RELAY_BASE_GAS + RELAY_GAS_PER_HEADER * len(headers)
            tx_hashes.append(self._send(SYSTEM_SENDER, self.hvm.address, data, gas, 1))
            relayed += chunk
        return tx_hashes, relayed
