"""The devnet's actors. Each has a ``name`` and a ``step()`` doing one unit of work, so the
supervisor can run them on wall-clock cadences and tests can step them deterministically."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from devnet.actors.btcminer import BitcoinMiner
from devnet.actors.operator import TunnelOperator
from devnet.actors.popminer import PopMiner
from devnet.actors.sequencer import Sequencer


class Actor(Protocol):
    name: str

    def step(self) -> Any: ...


@dataclass
class Actors:
    """The four actors of one network, in the order a tick steps them: Bitcoin first (so the
    sequencer relays the new header in the same tick), then Hemi, then the two watchers."""

    btc_miner: BitcoinMiner
    sequencer: Sequencer
    operator: TunnelOperator
    pop_miner: PopMiner

    def in_tick_order(self) -> list[Actor]:
        return [self.btc_miner, self.sequencer, self.operator, self.pop_miner]

    def by_name(self, name: str) -> Actor:
        for actor in self.in_tick_order():
            if actor.name == name:
                return actor
        raise KeyError(f"no actor named {name!r} (have: {[a.name for a in self.in_tick_order()]})")


__all__ = ["Actor", "Actors", "BitcoinMiner", "PopMiner", "Sequencer", "TunnelOperator"]
