"""P2PKH wallets for the devnet's actors and scenario clients.

:class:`DevWallet` extends the foundation's :class:`~devnet.btc.CoinbaseWallet` with the two
things a *running* network needs:

* mempool awareness - the supervisor and a scenario process may hold wallets of the same key
  (the faucet), and each process only knows its own reservations, so an output that some
  other process already spent in the mempool is skipped (``gettxout`` with the mempool);
* single-input spends - a PoP transaction and a vault payout must spend exactly one input
  (spec 3.4 and 6.4), which the oldest-first coin selection does not promise.

:func:`faucet_lock` serialises faucet payments between processes (select + sign + broadcast
must not interleave, or two processes pick the same coin before either reaches the mempool).
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bitcoin.core import CTransaction

from devnet.btc import BATCH_SIZE, CoinbaseWallet, MempoolRejectedError, send_and_wait_in_mempool
from devnet.btctx import (
    DEFAULT_FEE_RATE_SAT_VB,
    DUST_SATS,
    TxBuildError,
    TxOutput,
    Utxo,
    build_p2pkh_spend,
    estimate_vbytes,
)
from indexer.hashing import internal_to_display


class DevWallet(CoinbaseWallet):
    """A CoinbaseWallet that skips coins spent in the mempool and can build 1-input spends."""

    def spendable(self) -> list[Utxo]:
        candidates = super().spendable()
        unspent: list[Utxo] = []
        for start in range(0, len(candidates), BATCH_SIZE):
            chunk = candidates[start : start + BATCH_SIZE]
            # gettxout(include_mempool=True) answers null for a coin a mempool tx spends
            outs = self.rpc.batch([("gettxout", [u.txid_display, u.vout, True]) for u in chunk])
            unspent += [u for u, out in zip(chunk, outs, strict=True) if out]
        return unspent

    def build_single_input(
        self,
        outputs: Sequence[TxOutput],
        *,
        fee_rate_sat_vb: int = DEFAULT_FEE_RATE_SAT_VB,
        **kwargs: Any,
    ) -> CTransaction:
        """Spend the smallest single coin that covers ``outputs`` + fee (+ change above dust)."""
        needed = sum(o.value_sats for o in outputs)
        fee = estimate_vbytes(1, [*outputs, TxOutput(self.key.p2pkh_script, 0)]) * fee_rate_sat_vb
        fitting = [u for u in self.spendable() if u.value_sats >= needed + fee + DUST_SATS]
        if not fitting:
            raise TxBuildError(
                f"wallet {self.key.p2pkh_address} has no single coin of {needed + fee + DUST_SATS} sat or more"
            )
        coin = min(fitting, key=lambda u: (u.value_sats, u.txid_display, u.vout))
        tx = build_p2pkh_spend(self.key, [coin], outputs, fee_rate_sat_vb=fee_rate_sat_vb, **kwargs)
        self._reserved.add((coin.txid_display, coin.vout))
        return tx

    def release(self, tx: CTransaction) -> None:
        """Make a built but unsent (or rejected) transaction's inputs selectable again."""
        self._reserved.difference_update(
            (internal_to_display(bytes(txin.prevout.hash)), txin.prevout.n) for txin in tx.vin
        )

    def broadcast(self, tx: CTransaction, *, timeout: float = 5.0) -> str:
        """Send and wait for the mempool; on rejection release the inputs and re-raise."""
        try:
            return send_and_wait_in_mempool(self.rpc, tx, timeout=timeout)
        except MempoolRejectedError:
            self.release(tx)
            raise


@contextmanager
def faucet_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
