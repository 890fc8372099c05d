"""The Bitcoin miner: one bcoin block per step (the supervisor sets the cadence).

bcoin's ``generatetoaddress`` fills the block from its mempool, so deposits, PoP publications
and vault payouts that clients broadcast are confirmed by the next step.
"""

from __future__ import annotations

from devnet.btc import BitcoinRpc, mine


class BitcoinMiner:
    name = "btc-miner"

    def __init__(self, btc: BitcoinRpc, payout_address: str) -> None:
        self.btc = btc
        self.payout_address = payout_address

    def step(self) -> str:
        """Mine one block; returns its display hash."""
        return mine(self.btc, 1, self.payout_address)[0]
