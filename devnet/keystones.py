"""Keystones on the devnet: build them from anvil blocks, publish them, find them on bcoin.

Every byte rule is the project's own: blocks go through ``indexer.hemi.mappers.map_block``,
the keystone through ``indexer.hemi.keystones.build_keystone`` and ``indexer.keystone``, the
L1 origin through ``indexer.hemi.l1info.decode_l1_info``, and publications are found with the
indexer's PoP scanner (``indexer.bitcoin.pop``) over ``indexer.bitcoin.decode`` blocks.

One devnet difference: anvil has no 0x7E deposit type, so the L1-info call that opens each
block is an ordinary transaction from the impersonated depositor 0xDeaD…0001 (the Hemi
indexer accepts the same form, see ``indexer/hemi/ingest.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bitcoin.core import CTransaction
from web3 import Web3

from devnet.btc import BitcoinRpc, BitcoinRpcError
from devnet.btctx import TxOutput, op_return_script
from devnet.evm import rpc
from devnet.wallets import DevWallet
from indexer.bitcoin.decode import decode_block, decode_tx
from indexer.bitcoin.pop import POP_MAGIC, PopOutput, scan_block, scan_tx
from indexer.hemi import keystones as hemi_keystones
from indexer.hemi.l1info import (
    L1_BLOCK_PREDEPLOY,
    L1_INFO_DEPOSITOR,
    L1BlockInfo,
    L1InfoDecodeError,
    decode_l1_info,
)
from indexer.hemi.mappers import HemiBlock, map_block
from indexer.keystone import ZERO_HASH, KeystoneAbrev, L2Keystone


class KeystoneUnavailable(RuntimeError):
    """The Hemi chain does not (yet) have the blocks a keystone needs."""


def raw_block(w3: Web3, number: int, *, full: bool = True) -> dict[str, Any] | None:
    """eth_getBlockByNumber as plain JSON (what map_block parses), None past the tip."""
    return rpc(w3, "eth_getBlockByNumber", [hex(number), full])


def hemi_block(w3: Web3, number: int, *, full: bool = True) -> HemiBlock:
    obj = raw_block(w3, number, full=full)
    if obj is None:
        raise KeystoneUnavailable(f"Hemi block {number} does not exist yet")
    return map_block(obj)


def devnet_l1_info(block: HemiBlock) -> L1BlockInfo:
    """The L1-info call that opens ``block``: tx 0 from the depositor to the L1Block predeploy,
    as a real 0x7E deposit or as the devnet's plain transaction (same sender, target, calldata)."""
    txs = block.transactions
    if txs is None:
        raise hemi_keystones.KeystoneBuildError(f"block {block.number}: fetched without transactions")
    if not txs or txs[0].from_address != L1_INFO_DEPOSITOR or txs[0].to_address != L1_BLOCK_PREDEPLOY:
        raise hemi_keystones.KeystoneBuildError(f"block {block.number}: tx 0 is not the L1-info call")
    try:
        return decode_l1_info(txs[0].input)
    except L1InfoDecodeError as exc:
        raise hemi_keystones.KeystoneBuildError(f"block {block.number}: {exc}") from exc


def devnet_l1_origin(block: HemiBlock) -> int:
    return devnet_l1_info(block).number


def build_keystone_at(w3: Web3, number: int) -> L2Keystone:
    """The keystone op-node would build for canonical block ``number`` (k - 25's hash, or 32
    zero bytes for k = 25, exactly as ``prev_keystone_number`` rules)."""
    block = hemi_block(w3, number)
    prev_number = hemi_keystones.prev_keystone_number(number)
    prev_hash = ZERO_HASH if prev_number is None else hemi_block(w3, prev_number, full=False).hash
    return hemi_keystones.build_keystone(block, prev_hash, devnet_l1_origin(block))


def pop_payload(keystone: L2Keystone | KeystoneAbrev) -> bytes:
    abrev = keystone.abbreviate() if isinstance(keystone, L2Keystone) else keystone
    return POP_MAGIC + abrev.to_bytes()


def pop_script(keystone: L2Keystone | KeystoneAbrev) -> bytes:
    """The 83-byte output script of spec 3.1: 6a 4c 50 "HEMI" + 76-byte abbreviation."""
    script = op_return_script(pop_payload(keystone))
    assert len(script) == 83, "an 80-byte push is OP_PUSHDATA1-encoded"
    return script


def build_pop_tx(wallet: DevWallet, keystone: L2Keystone | KeystoneAbrev, best_height: int) -> CTransaction:
    """A popmd-shaped publication (spec 3.4): version 2, one P2PKH input, outputs [0] change to
    the same P2PKH script and [1] the 0-value OP_RETURN, nLockTime = current best height."""
    return wallet.build_single_input(
        [TxOutput(pop_script(keystone), 0)], change_position=0, locktime=best_height, version=2
    )


@dataclass(frozen=True)
class FoundPublication:
    height: int
    block_hash_display: str
    pop: PopOutput


class PopWatcher:
    """Scans bcoin's active chain for PoP outputs, incrementally and reorg-aware (a block whose
    hash changed at a scanned height is rescanned with everything above it)."""

    def __init__(self, btc: BitcoinRpc, start_height: int = 1) -> None:
        self.btc = btc
        self.start_height = max(1, start_height)
        self._hashes: dict[int, str] = {}
        self._found: dict[int, list[FoundPublication]] = {}

    def _rewind(self) -> None:
        tip = self.btc.getblockcount()
        for height in sorted(self._hashes, reverse=True):
            if height <= tip and self.btc.getblockhash(height) == self._hashes[height]:
                break
            self._hashes.pop(height)
            self._found.pop(height, None)

    def publications(self) -> list[FoundPublication]:
        """Every PoP output on the active chain at or above ``start_height``, lowest first."""
        self._rewind()
        start = max(self._hashes, default=self.start_height - 1) + 1
        tip = self.btc.getblockcount()
        heights = list(range(start, tip + 1))
        for offset in range(0, len(heights), 50):
            chunk = heights[offset : offset + 50]
            hashes = self.btc.getblockhashes(chunk)
            for height, block_hash, raw in zip(chunk, hashes, self.btc.getblocks_raw(hashes), strict=True):
                scan = scan_block(decode_block(raw))
                self._found[height] = [FoundPublication(height, block_hash, p) for p in scan.outputs]
                self._hashes[height] = block_hash
        return [pub for height in sorted(self._found) for pub in self._found[height]]


def mempool_publications(btc: BitcoinRpc) -> list[PopOutput]:
    """PoP outputs of the transactions waiting in bcoin's mempool."""
    found: list[PopOutput] = []
    txids = btc.getrawmempool()
    if not txids:
        return found
    try:
        raws = btc.batch([("getrawtransaction", [txid, False]) for txid in txids])
    except BitcoinRpcError:
        # a tx left the mempool between the two calls (evicted, or its block was orphaned
        # without re-adding it): ask one by one and skip the missing ones
        raws = []
        for txid in txids:
            try:
                raws.append(btc.call("getrawtransaction", txid, False))
            except BitcoinRpcError:
                continue
    for raw in raws:
        found += scan_tx(decode_tx(bytes.fromhex(raw))).outputs
    return found
