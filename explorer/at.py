"""A chain position to judge at: the audit functions' optional ``at`` argument.

``At(btc_height, hemi_block)`` asks for the verdict the explorer would have given when the
Bitcoin active chain ended at ``btc_height`` and the Hemi canonical chain at ``hemi_block``:
Bitcoin blocks above the height and Hemi blocks above the number are left out of every lookup
(deposits, payouts and PoP publications in them do not exist; confirmations count to the
height; hVM headers, keystones, mints, challenges and finalizations above the block do not
exist). ``None`` everywhere means the indexed tips - what pages and the API show.

Both positions must be indexed (``explorer.reports.positions.resolve`` refuses pins above the
tips): the active and canonical chains at or below them are then what they were, unless a
reorg reached below them since - and a reorg there changes the positions' block hashes, which
reports record beside their positions.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class At:
    btc_height: int
    hemi_block: int


def btc_upto(qs, at: At | None, height: str = "block__height"):
    """``qs`` without the rows whose Bitcoin height (the ``height`` lookup) lies above ``at``."""
    return qs if at is None else qs.filter(**{f"{height}__lte": at.btc_height})


def hemi_upto(qs, at: At | None, number: str = "block__number"):
    """``qs`` without the rows whose Hemi block number (the ``number`` lookup) lies above ``at``."""
    return qs if at is None else qs.filter(**{f"{number}__lte": at.hemi_block})


def hemi_exists(number: int, at: At | None) -> bool:
    """False for a Hemi block number above ``at`` (it does not exist there)."""
    return at is None or number <= at.hemi_block


def btc_exists(height: int, at: At | None) -> bool:
    """False for a Bitcoin height above ``at``."""
    return at is None or height <= at.btc_height
