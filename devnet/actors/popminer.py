"""The PoP miners: publish every new keystone on bcoin, as popmd does (spec 3.4).

One actor drives several miner keys. For each keystone (Hemi block k, k % 25 == 0, k > 0) a
*publication plan* says which keys publish it and after how many Bitcoin blocks, so the
chain shows what real networks show: usually one publication at once, sometimes two miners
publishing the same keystone, sometimes a publication held back a few blocks. The default
plan draws from ``random.Random(f"{seed}:{k}")`` - keyed by the keystone number, so the same
seed gives the same story whatever order or pace the steps run at; tests pass their own plan.

Like popmd (which polls the latest keystones and re-mines those not found on Bitcoin), each
step looks at a window of the latest keystones: a keystone whose block hash changed (a Hemi
reorg) is rebuilt and published again, a pending publication of the replaced keystone is
dropped, and a sent publication that vanished from bcoin (orphaned and not back in the
mempool) is sent again.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from web3 import Web3

from devnet.btc import BitcoinRpc, BitcoinRpcError, MempoolRejectedError
from devnet.btckeys import DevKey
from devnet.btctx import TxBuildError
from devnet.config import PopPolicy
from devnet.keystones import KeystoneUnavailable, build_keystone_at, build_pop_tx, raw_block
from devnet.wallets import DevWallet
from indexer.keystone import KEYSTONE_PERIOD, L2Keystone

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PublicationPlan:
    """(miner index, delay in Bitcoin blocks) per publication of one keystone."""

    entries: tuple[tuple[int, int], ...] = ((0, 0),)


Planner = Callable[[int], PublicationPlan]


def seeded_planner(policy: PopPolicy, miners: int) -> Planner:
    def plan(keystone_number: int) -> PublicationPlan:
        rng = random.Random(f"{policy.seed}:{keystone_number}")
        first = rng.randrange(miners)
        delay = rng.randint(1, policy.max_delay_blocks) if rng.random() < policy.delay_rate else 0
        entries = [(first, delay)]
        if miners > 1 and rng.random() < policy.duplicate_rate:
            second = (first + 1 + rng.randrange(miners - 1)) % miners
            entries.append((second, rng.randint(0, policy.max_delay_blocks)))
        return PublicationPlan(tuple(entries))

    return plan


@dataclass
class Publication:
    keystone: L2Keystone
    keystone_id_display: str
    block_hash: str  # Hemi block k's hash the keystone was built from (0x hex)
    miner_index: int
    due_height: int  # broadcast once bcoin's best height reaches this
    txid_display: str | None = None
    broadcast_height: int | None = None
    attempts: int = 0

    @property
    def number(self) -> int:
        return self.keystone.l2_block_number


class PopMiner:
    name = "pop-miner"

    def __init__(
        self,
        w3: Web3,
        btc: BitcoinRpc,
        keys: Sequence[DevKey],
        *,
        policy: PopPolicy | None = None,
        planner: Planner | None = None,
        window_keystones: int = 4,
    ) -> None:
        if not keys:
            raise ValueError("a PoP miner needs at least one key")
        self.w3 = w3
        self.btc = btc
        self.keys = tuple(keys)
        self.wallets = [DevWallet(btc, key) for key in self.keys]
        self.planner = planner or seeded_planner(policy or PopPolicy(), len(self.keys))
        self.window_keystones = window_keystones
        self._seen: dict[int, str] = {}  # keystone number -> block hash it was built from
        self.publications: list[Publication] = []

    def step(self) -> list[Publication]:
        """1. plan publications for keystones in the window that are new or whose block changed;
        2. broadcast the publications that are due; 3. re-send vanished ones. Returns the
        publications broadcast in this step."""
        tip = int(self.w3.eth.block_number)
        latest = tip - tip % KEYSTONE_PERIOD
        best_height = self.btc.getblockcount()
        first = max(KEYSTONE_PERIOD, latest - KEYSTONE_PERIOD * (self.window_keystones - 1))
        for number in range(first, latest + 1, KEYSTONE_PERIOD):
            self._plan_keystone(number, best_height)
        self._resend_vanished(first, best_height)
        sent = [pub for pub in self.publications if self._maybe_broadcast(pub, best_height)]
        # forget what left the window: those keystones are no longer re-checked
        self.publications = [p for p in self.publications if p.number >= first or p.txid_display is None]
        return sent

    def _plan_keystone(self, number: int, best_height: int) -> None:
        header = raw_block(self.w3, number, full=False)
        if header is None or self._seen.get(number) == header["hash"]:
            return
        try:
            keystone = build_keystone_at(self.w3, number)
        except KeystoneUnavailable:
            return  # reorged below k between two calls: the next step sees the new chain
        if "0x" + keystone.ep_hash.hex() != header["hash"]:
            return  # the block changed under us; retry next step
        if number in self._seen:
            logger.info("pop-miner: keystone %d changed (Hemi reorg); publishing the new one", number)
            self.publications = [p for p in self.publications if p.number != number or p.txid_display]
        self._seen[number] = header["hash"]
        keystone_id = keystone.abbreviate().id_display
        for miner, delay in self.planner(number).entries:
            self.publications.append(
                Publication(keystone, keystone_id, header["hash"], miner % len(self.keys), best_height + delay)
            )

    def _maybe_broadcast(self, pub: Publication, best_height: int) -> bool:
        if pub.txid_display is not None or best_height < pub.due_height:
            return False
        if self._seen.get(pub.number) != pub.block_hash:
            return False  # superseded by a reorg before it went out
        wallet = self.wallets[pub.miner_index]
        try:
            tx = build_pop_tx(wallet, pub.keystone, best_height)
            pub.txid_display = wallet.broadcast(tx)
        except (TxBuildError, ValueError, MempoolRejectedError) as exc:
            pub.attempts += 1
            logger.warning("pop-miner: keystone %d by miner %d not published: %s", pub.number, pub.miner_index, exc)
            return False
        pub.broadcast_height = best_height
        logger.info(
            "pop-miner: keystone %d (%s) published by %s in %s",
            pub.number,
            pub.keystone_id_display,
            self.keys[pub.miner_index].p2pkh_address,
            pub.txid_display,
        )
        return True

    def _resend_vanished(self, first: int, best_height: int) -> None:
        for pub in self.publications:
            if pub.txid_display is None or pub.number < first or self._seen.get(pub.number) != pub.block_hash:
                continue
            try:
                self.btc.getrawtransaction_verbose(pub.txid_display)  # mempool or active chain
            except BitcoinRpcError:
                logger.info("pop-miner: %s (keystone %d) vanished; re-sending", pub.txid_display, pub.number)
                pub.txid_display, pub.broadcast_height, pub.due_height = None, None, best_height
