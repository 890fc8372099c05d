"""Synchronous bcoin JSON-RPC adapter and the devnet's Bitcoin actions (mine, pay, reorg).

bcoin 1.0.2 differs from Bitcoin Core in ways that matter here (see bcoin-regtest.md):

* every error arrives as HTTP 200 with an ``error`` object, and codes differ (-1 for "not
  found", never -5), so callers match on :class:`BitcoinRpcError` and not on codes;
* ``sendrawtransaction`` answers before the mempool has checked the transaction and never
  reports a rejection: :func:`send_and_wait_in_mempool` polls ``getrawmempool`` and, on timeout,
  raises with the node log lines that explain why;
* ``getblock h 2`` fails (use ``true, true``); ``invalidateblock`` destroys data, so reorgs are
  made with Python-built side chains through ``submitblock``, which does answer synchronously.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from bitcoin.core import CBlock, CTransaction

from devnet.btckeys import DevKey
from devnet.btctx import (
    TxOutput,
    Utxo,
    block_hash_internal,
    build_block,
    build_p2pkh_spend,
    merkle_branch,
    tx_bytes,
    tx_bytes_no_witness,
    txid_display,
)
from devnet.constants import COINBASE_MATURITY
from indexer.core.errors import IndexerError
from indexer.core.jsonrpc import AccessDenied, JsonRpcClient, Reply
from indexer.hashing import display_to_internal, internal_to_display

BATCH_SIZE = 100


class BitcoinRpcError(RuntimeError):
    """The node answered a call with an error object."""

    def __init__(self, method: str, code: int, message: str) -> None:
        super().__init__(f"{method}: bcoin error {code}: {message}")
        self.method = method
        self.code = code
        self.message = message


class BitcoinTransportError(RuntimeError):
    """No usable JSON-RPC answer (connection refused, bad auth, non-JSON body)."""


class MempoolRejectedError(RuntimeError):
    """A sent transaction never reached the mempool; the message carries the node's log lines."""

    def __init__(self, txid_display: str, log_excerpt: str) -> None:
        super().__init__(
            f"transaction {txid_display} did not enter bcoin's mempool.\nNode log:\n{log_excerpt}"
        )
        self.txid_display = txid_display
        self.log_excerpt = log_excerpt


class BlockRejectedError(RuntimeError):
    """submitblock refused a block (the reason is bcoin's, e.g. ``rejected: bad-prevblk``)."""


def read_log_tail(log_path: Path | None, lines: int = 40, *, mentioning: str | None = None) -> str:
    """Last ``lines`` lines of a node log; with ``mentioning``, the matching lines come first."""
    if log_path is None or not log_path.exists():
        return "(no node log available)"
    with open(log_path, "rb") as fh:
        fh.seek(0, 2)
        fh.seek(max(0, fh.tell() - 256 * 1024))  # the tail is all we need, logs grow large
        text = fh.read().decode("utf-8", "replace").splitlines()
    tail = "\n".join(text[-lines:])
    if mentioning:
        hits = [line for line in text if mentioning in line]
        if hits:
            return "lines mentioning it:\n" + "\n".join(hits[-lines:]) + "\n--- log tail:\n" + tail
    return tail


class BitcoinRpc:
    """Thin devnet wrapper over the indexer's JSON-RPC transport (``indexer.core.jsonrpc``:
    keep-alive, a total deadline per call, a reply size cap), with the devnet's named errors.

    ``url`` may embed credentials (``http://x:<apikey>@127.0.0.1:port/``); bcoin checks only the
    password. ``log_path`` (the node's log file) is used to explain mempool rejections.
    """

    def __init__(self, url: str, *, timeout: float = 30.0, log_path: Path | None = None) -> None:
        parts = urlsplit(url)
        self.url = urlunsplit((parts.scheme, f"{parts.hostname}:{parts.port}", parts.path or "/", "", ""))
        self.timeout = timeout
        self.log_path = log_path
        self._client = JsonRpcClient(url, timeout=timeout, version="1.0")

    def close(self) -> None:
        self._client.close()

    def _transport(self, fn: Any) -> Any:
        try:
            return fn()
        except AccessDenied as exc:
            raise BitcoinTransportError(f"bcoin RPC at {self.url} refused the API key (HTTP 401)") from exc
        except IndexerError as exc:
            raise BitcoinTransportError(f"bcoin RPC at {self.url}: {exc}") from exc

    @staticmethod
    def _unwrap(method: str, reply: Reply) -> Any:
        if reply.error is not None:
            raise BitcoinRpcError(method, reply.error.code or 0, reply.error.message)
        return reply.result

    def call(self, method: str, *params: Any) -> Any:
        return self._unwrap(method, self._transport(lambda: self._client.call(method, params)))

    def batch(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        """Run calls in batches of BATCH_SIZE; results in call order; the first error raises."""
        results: list[Any] = []
        for start in range(0, len(calls), BATCH_SIZE):
            chunk = list(calls[start : start + BATCH_SIZE])
            replies = self._transport(lambda chunk=chunk: self._client.batch(chunk))
            results += [self._unwrap(method, r) for (method, _), r in zip(chunk, replies, strict=True)]
        return results

    # Typed helpers. Hashes and txids are display-order hex strings, as the node speaks them.
    def getblockcount(self) -> int:
        return int(self.call("getblockcount"))

    def getbestblockhash(self) -> str:
        return str(self.call("getbestblockhash"))

    def getblockhash(self, height: int) -> str:
        return str(self.call("getblockhash", height))

    def getblockhashes(self, heights: Iterable[int]) -> list[str]:
        return [str(h) for h in self.batch([("getblockhash", [height]) for height in heights])]

    def getblock_raw(self, block_hash_display: str) -> bytes:
        return bytes.fromhex(self.call("getblock", block_hash_display, False))

    def getblocks_raw(self, block_hashes_display: Sequence[str]) -> list[bytes]:
        return [
            bytes.fromhex(h) for h in self.batch([("getblock", [b, False]) for b in block_hashes_display])
        ]

    def getblockheader_raw(self, block_hash_display: str) -> bytes:
        return bytes.fromhex(self.call("getblockheader", block_hash_display, False))

    def getblockheader(self, block_hash_display: str) -> dict[str, Any]:
        """Verbose header. bcoin: ``bits`` is an int, no ``nonce``, prev/next may be null."""
        return dict(self.call("getblockheader", block_hash_display, True))

    def getrawtransaction_raw(self, txid_display: str) -> bytes:
        return bytes.fromhex(self.call("getrawtransaction", txid_display, False))

    def getrawtransaction_verbose(self, txid_display: str) -> dict[str, Any]:
        return dict(self.call("getrawtransaction", txid_display, True))

    def getrawmempool(self) -> list[str]:
        return [str(t) for t in self.call("getrawmempool")]

    def sendrawtransaction(self, raw: bytes) -> str:
        """Returns the txid bcoin computed. It does NOT mean the mempool accepted the tx."""
        return str(self.call("sendrawtransaction", raw.hex()))

    def generatetoaddress(self, n: int, address: str) -> list[str]:
        return [str(h) for h in self.call("generatetoaddress", n, address)]

    def gettxout(self, txid_display: str, vout: int, include_mempool: bool = True) -> dict[str, Any] | None:
        result = self.call("gettxout", txid_display, vout, include_mempool)
        return dict(result) if result else None

    def submitblock(self, raw_block: bytes) -> None:
        result = self.call("submitblock", raw_block.hex())
        if result is not None:
            raise BlockRejectedError(f"submitblock refused the block: {result}")


def mine(rpc: BitcoinRpc, n: int, address: str) -> list[str]:
    """Mine ``n`` blocks paying ``address`` (a bcoin-regtest address); display-order hashes."""
    return rpc.generatetoaddress(n, address)


def send_and_wait_in_mempool(
    rpc: BitcoinRpc, tx: CTransaction | bytes, *, timeout: float = 5.0, poll: float = 0.02
) -> str:
    """Broadcast and return the display txid once the mempool holds it (or a block already
    does). On timeout raise MempoolRejectedError with the node log lines about the tx."""
    raw = tx if isinstance(tx, bytes) else tx_bytes(tx)
    sent_txid_display = rpc.sendrawtransaction(raw)
    deadline = time.monotonic() + timeout
    while True:
        if sent_txid_display in rpc.getrawmempool():
            return sent_txid_display
        if time.monotonic() >= deadline:
            break
        time.sleep(poll)
    try:
        # a concurrent miner may have confirmed it between two polls
        if rpc.getrawtransaction_verbose(sent_txid_display).get("blockhash"):
            return sent_txid_display
    except BitcoinRpcError:
        pass  # "not found" (-1): neither mempool nor chain has it, so it was rejected
    raise MempoolRejectedError(sent_txid_display, read_log_tail(rpc.log_path, mentioning=sent_txid_display))


@dataclass(frozen=True, slots=True)
class TxInclusion:
    """Everything needed to prove a confirmed transaction against a block header."""

    txid_display: str
    raw_tx_no_witness: bytes
    block_hash_internal: bytes
    block_height: int
    tx_index: int
    merkle_branch_internal: tuple[bytes, ...]


def tx_inclusion(
    rpc: BitcoinRpc, txid_display_hex: str, block_hash_display: str | None = None
) -> TxInclusion:
    """Raw tx (without witness), block, index and Merkle branch of a confirmed transaction."""
    if block_hash_display is None:
        block_hash_display = rpc.getrawtransaction_verbose(txid_display_hex).get("blockhash") or ""
        if not block_hash_display:
            raise BitcoinRpcError("getrawtransaction", -1, f"{txid_display_hex} is not confirmed")
    block = CBlock.deserialize(rpc.getblock_raw(block_hash_display))
    txids_internal = [bytes(tx.GetTxid()) for tx in block.vtx]
    wanted = display_to_internal(txid_display_hex)
    if wanted not in txids_internal:
        raise BitcoinRpcError("getblock", -1, f"{txid_display_hex} is not in block {block_hash_display}")
    index = txids_internal.index(wanted)
    height = int(rpc.getblockheader(block_hash_display)["height"])
    return TxInclusion(
        txid_display=txid_display_hex,
        raw_tx_no_witness=tx_bytes_no_witness(block.vtx[index]),
        block_hash_internal=display_to_internal(block_hash_display),
        block_height=height,
        tx_index=index,
        merkle_branch_internal=tuple(merkle_branch(txids_internal, index)),
    )


def build_block_on(
    rpc: BitcoinRpc,
    parent_hash_display: str,
    txs: Sequence[CTransaction] = (),
    *,
    payout_script: bytes,
    tag: bytes = b"",
    block_time: int | None = None,
) -> CBlock:
    """A mined (not yet submitted) block on any known block - tip or not - for side chains."""
    parent = rpc.getblockheader(parent_hash_display)
    return build_block(
        display_to_internal(parent_hash_display),
        int(parent["time"]),
        int(parent["height"]) + 1,
        txs,
        payout_script,
        tag=tag,
        block_time=block_time,
    )


def submit_block(rpc: BitcoinRpc, block: CBlock) -> str:
    """submitblock; returns the display hash or raises BlockRejectedError."""
    rpc.submitblock(block.serialize())
    return internal_to_display(block_hash_internal(block))


def extend_chain(
    rpc: BitcoinRpc, parent_hash_display: str, n: int, *, payout_script: bytes, tag: bytes = b"side"
) -> list[str]:
    """Build and submit ``n`` empty blocks on ``parent``; with more work than the active chain
    this is a reorg. Returns the new blocks' display hashes, lowest first."""
    hashes: list[str] = []
    parent = parent_hash_display
    parent_header = rpc.getblockheader(parent)
    parent_time, height = int(parent_header["time"]), int(parent_header["height"])
    for _ in range(n):
        block = build_block(display_to_internal(parent), parent_time, height + 1, (), payout_script, tag=tag)
        parent = submit_block(rpc, block)
        hashes.append(parent)
        parent_time, height = block.nTime, height + 1
    return hashes


class CoinbaseWallet:
    """Spends P2PKH outputs of one key: coinbases of blocks mined to it, and its change.

    It scans the active chain (batched raw blocks) for outputs paying the key's script and
    inputs spending them; a reorg (the stored hash at the scan height changed) resets the scan.
    Coinbase outputs are spendable once mature: created at height h, first spendable in block
    h + COINBASE_MATURITY. Outputs the wallet spent but that are not mined yet stay reserved.
    """

    def __init__(self, rpc: BitcoinRpc, key: DevKey) -> None:
        self.rpc = rpc
        self.key = key
        self._script = key.p2pkh_script
        self._utxos: dict[tuple[str, int], Utxo] = {}
        self._reserved: set[tuple[str, int]] = set()
        self._scanned: list[str] = []  # display hashes by height, of the chain scanned so far

    def _sync(self) -> int:
        tip = self.rpc.getblockcount()
        if self._scanned and len(self._scanned) - 1 <= tip:
            last = len(self._scanned) - 1
            if self.rpc.getblockhash(last) != self._scanned[last]:
                self._utxos.clear()
                self._scanned.clear()
        elif self._scanned:  # the chain got shorter than what we saw: rescan
            self._utxos.clear()
            self._scanned.clear()
        start = len(self._scanned)
        heights = list(range(start, tip + 1))
        for offset in range(0, len(heights), BATCH_SIZE):
            chunk = heights[offset : offset + BATCH_SIZE]
            hashes = self.rpc.getblockhashes(chunk)
            for height, block_hash, raw in zip(chunk, hashes, self.rpc.getblocks_raw(hashes), strict=True):
                self._apply_block(height, CBlock.deserialize(raw))
                self._scanned.append(block_hash)
        return tip

    def _apply_block(self, height: int, block: CBlock) -> None:
        for tx in block.vtx:
            if not tx.is_coinbase():
                for txin in tx.vin:
                    spent = (internal_to_display(bytes(txin.prevout.hash)), txin.prevout.n)
                    self._utxos.pop(spent, None)
                    self._reserved.discard(spent)
            tx_txid_display = txid_display(tx)
            for vout, out in enumerate(tx.vout):
                if bytes(out.scriptPubKey) == self._script:
                    self._utxos[(tx_txid_display, vout)] = Utxo(
                        tx_txid_display,
                        vout,
                        out.nValue,
                        self._script,
                        height=height,
                        is_coinbase=tx.is_coinbase(),
                    )

    def spendable(self) -> list[Utxo]:
        tip = self._sync()
        next_height = tip + 1
        return sorted(
            (
                u
                for key, u in self._utxos.items()
                if key not in self._reserved
                and not (
                    u.is_coinbase and u.height is not None and u.height + COINBASE_MATURITY > next_height
                )
            ),
            key=lambda u: (u.height or 0, u.txid_display, u.vout),
        )

    def balance(self) -> int:
        return sum(u.value_sats for u in self.spendable())

    def build_payment(self, outputs: Sequence[TxOutput], **kwargs: Any) -> CTransaction:
        """Pick inputs (oldest first) until outputs + fee are covered; sign; reserve them."""
        needed = sum(o.value_sats for o in outputs)
        chosen: list[Utxo] = []
        last_error: Exception | None = None
        for utxo in self.spendable():
            chosen.append(utxo)
            if sum(u.value_sats for u in chosen) <= needed:
                continue
            try:
                tx = build_p2pkh_spend(self.key, chosen, outputs, **kwargs)
            except ValueError as exc:  # fee not covered yet: take another input
                last_error = exc
                continue
            self._reserved.update((u.txid_display, u.vout) for u in chosen)
            return tx
        raise ValueError(
            f"wallet {self.key.p2pkh_address} cannot fund {needed} sat "
            f"(spendable {sum(u.value_sats for u in chosen)} sat; mine more blocks to it): {last_error}"
        )

    def pay(self, outputs: Sequence[TxOutput], *, timeout: float = 5.0, **kwargs: Any) -> str:
        """Build, sign and broadcast; returns the display txid once it is in the mempool."""
        tx = self.build_payment(outputs, **kwargs)
        try:
            return send_and_wait_in_mempool(self.rpc, tx, timeout=timeout)
        except MempoolRejectedError:
            # the inputs are still ours: make them selectable again
            self._reserved.difference_update(
                (internal_to_display(bytes(txin.prevout.hash)), txin.prevout.n) for txin in tx.vin
            )
            raise
