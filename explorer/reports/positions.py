"""The chain positions a report is judged at: pinned by the request or the indexed tips.

A report names both positions with their block hashes, so a reader knows which chains it
describes and a later run pinned at the same positions can be compared byte for byte. Items
above the positions are left out (Hemi items by block number, Bitcoin deposits by height).

A pinned report (either pin given) is also *judged* at its positions (``judged_at``: an
``explorer.at.At`` the audit functions take): every verdict, stage, reason and evidence bundle
is what the explorer gave when the chains ended there, so more blocks indexed later change
nothing. An unpinned report is judged at the indexed tips, as pages are (and reads stored
verdicts where current); the positions it records are the tips it started at.
"""

from __future__ import annotations

from dataclasses import dataclass

from explorer.at import At
from explorer.reports.request import ReportRequestError, Request
from indexer.bitcoin.models import BitcoinBlock
from indexer.hemi.models import Block


@dataclass(frozen=True)
class Positions:
    btc_height: int
    btc_hash_display: str
    hemi_block: int
    hemi_hash: str  # 0x-hex

    def as_dict(self) -> dict:
        return {
            "bitcoin_height": self.btc_height,
            "bitcoin_hash_display": self.btc_hash_display,
            "hemi_block": self.hemi_block,
            "hemi_block_hash": self.hemi_hash,
        }


def judged_at(req: Request, pos: Positions) -> At | None:
    """Where the report's items are judged: at both positions when either is pinned (the other
    resolved to its tip is recorded and judged alike), at the moving tips (None) otherwise."""
    if req.at_btc_height is None and req.at_hemi_block is None:
        return None
    return At(btc_height=pos.btc_height, hemi_block=pos.hemi_block)


def resolve(req: Request) -> Positions:
    """Two indexed queries per chain at most. A pin above the indexed tip is refused: the report
    could not be reproduced once more blocks arrive, which is what pinning promises."""
    btc_tip = BitcoinBlock.objects.active().order_by("-height").values_list("height", flat=True).first()
    hemi_tip = Block.objects.canonical().order_by("-number").values_list("number", flat=True).first()
    if btc_tip is None or hemi_tip is None:
        raise ReportRequestError("nothing indexed yet on one of the chains")
    btc_height = btc_tip if req.at_btc_height is None else req.at_btc_height
    hemi_block = hemi_tip if req.at_hemi_block is None else req.at_hemi_block
    if btc_height > btc_tip:
        raise ReportRequestError(f"at_btc_height {btc_height} is above the indexed Bitcoin tip {btc_tip}")
    if hemi_block > hemi_tip:
        raise ReportRequestError(f"at_hemi_block {hemi_block} is above the indexed Hemi tip {hemi_tip}")
    btc_hash = BitcoinBlock.objects.active().filter(height=btc_height).values_list("hash_internal", flat=True).first()
    hemi_hash = Block.objects.canonical().filter(number=hemi_block).values_list("hash", flat=True).first()
    if btc_hash is None or hemi_hash is None:
        raise ReportRequestError("the pinned block is not indexed (below the indexed range)")
    return Positions(btc_height, bytes(btc_hash)[::-1].hex(), hemi_block, "0x" + bytes(hemi_hash).hex())
