"""Bitcoin finality arithmetic for Hemi keystones (pure, no Django).

Two generations of Hemi's finality service count differently, and users meet both numbers:

* v2 (bfgd ``/v2/keystonefinality``): ``effective_confirmations = tip - publication_height``
  (the publication block itself counts 0); superfinal when that is >= 10.
* v1 (op-node ``optimism_btcFinality*``): ``btc_finality = (tip - effective_height + 1) - 9``,
  capped at 100, and -9 when nothing is published. So ``btc_finality = confirmations - 8``.
"""

from __future__ import annotations

from dataclasses import dataclass

SUPERFINALITY_CONFIRMATIONS = 10
LEGACY_OFFSET = 9
LEGACY_CAP = 100
LEGACY_UNPUBLISHED = -9


def effective_confirmations(tip_height: int, publication_height: int) -> int:
    if publication_height > tip_height:
        raise ValueError(f"publication height {publication_height} is above the tip {tip_height}")
    return tip_height - publication_height


def is_superfinal(confirmations: int | None) -> bool:
    return confirmations is not None and confirmations >= SUPERFINALITY_CONFIRMATIONS


def legacy_btc_finality(tip_height: int, publication_height: int | None) -> int:
    if publication_height is None:
        return LEGACY_UNPUBLISHED
    return min(tip_height - publication_height + 1 - LEGACY_OFFSET, LEGACY_CAP)


STAGES = ("produced", "keystone produced", "published", "confirming", "superfinal")


@dataclass(frozen=True)
class Finality:
    """Where one Hemi block stands in its lifecycle toward superfinality."""

    block_number: int
    keystone_number: int
    keystone_produced: bool
    publication_height: int | None  # first anchoring publication (keystone or a descendant)
    anchoring_keystone_number: int | None  # which keystone's publication anchors the block
    tip_height: int | None
    confirmations: int | None
    superfinal: bool
    legacy_btc_finality: int

    @property
    def stage(self) -> str:
        if self.superfinal:
            return "superfinal"
        if self.publication_height is not None:
            return "confirming" if (self.confirmations or 0) > 0 else "published"
        return "keystone produced" if self.keystone_produced else "produced"

    @property
    def waiting_for(self) -> str | None:
        """What a pending block still waits for, in words a user can act on."""
        if self.superfinal:
            return None
        if not self.keystone_produced:
            return f"Hemi keystone {self.keystone_number} to be produced"
        if self.publication_height is None:
            return f"a Bitcoin PoP publication of keystone {self.keystone_number} or a later keystone"
        missing = SUPERFINALITY_CONFIRMATIONS - (self.confirmations or 0)
        return f"{missing} more Bitcoin block(s) on top of the publication"


def finality(
    *,
    block_number: int,
    keystone_number: int,
    keystone_produced: bool,
    publication_height: int | None,
    anchoring_keystone_number: int | None,
    tip_height: int | None,
) -> Finality:
    confirmations = None
    if publication_height is not None and tip_height is not None:
        confirmations = effective_confirmations(tip_height, publication_height)
    legacy = legacy_btc_finality(tip_height, publication_height) if tip_height is not None else LEGACY_UNPUBLISHED
    return Finality(
        block_number=block_number,
        keystone_number=keystone_number,
        keystone_produced=keystone_produced,
        publication_height=publication_height,
        anchoring_keystone_number=anchoring_keystone_number,
        tip_height=tip_height,
        confirmations=confirmations,
        superfinal=is_superfinal(confirmations),
        legacy_btc_finality=legacy,
    )
