"""The breadcrumb trail of one hemiBTC mint across both chains, hop by hop:

    Bitcoin deposit tx -> its Bitcoin block -> the hVM relay that showed that block to Hemi's
    sequencer -> the Hemi mint tx -> its Hemi block -> its keystone -> the PoP tx publishing
    it (or a later keystone) -> that PoP tx's Bitcoin block -> the Bitcoin block that makes it
    superfinal (10 blocks on top of the publication)

Every hop that exists has a page; links along the trail carry ``?mint=&hop=`` so each of those pages
shows the same trail with itself marked, and the previous and next hops one click away. A hop
that does not exist yet is shown with what it waits for. 6 queries at most.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse

from explorer import anchoring, tunnel_audit
from explorer.finality import SUPERFINALITY_CONFIRMATIONS
from explorer.queries import bitcoin
from indexer.hemi.models import DepositConfirmation, HvmHeader, Keystone
from indexer.keystone import keystone_number_for


@dataclass(frozen=True)
class Hop:
    key: str  # stable name, for tests and anchors
    chain: str  # "Bitcoin" or "Hemi"
    label: str  # what it is ("deposit", "block", "hVM relay", ...)
    text: str  # which one ("123", a short hash, ...)
    path: str | None  # the hop's page, None while it does not exist
    waiting: str = ""  # why it does not exist yet

    @property
    def name(self) -> str:
        """The hop in words: "Bitcoin block 114", "Hemi hVM relay in block 9"."""
        return f"{self.chain} {self.label} {self.text}"


@dataclass(frozen=True)
class Trail:
    mint_tx: str  # 0x hash: the ?mint= value
    hops: list[Hop]

    def url(self, hop: Hop) -> str | None:
        # The hop key too: one Bitcoin block can be two hops (deposit and publication in it).
        return f"{hop.path}?mint={self.mint_tx}&hop={hop.key}" if hop.path else None

    def position(self, path: str, key: str | None = None) -> int | None:
        """Index of the hop whose page is ``path``: the one named ``key`` if it is that page,
        else the first such hop."""
        at = [i for i, h in enumerate(self.hops) if h.path == path]
        return next((i for i in at if self.hops[i].key == key), at[0] if at else None)


def _short(hex_text: str) -> str:
    return f"{hex_text[:10]}…{hex_text[-6:]}"


def mint_by_tx_hash(tx_hash: bytes) -> DepositConfirmation | None:
    return (
        DepositConfirmation.objects.filter(transaction__hash=tx_hash)
        .select_related("transaction", "block")
        .defer("transaction__raw", "transaction__receipt_raw", "transaction__input", "block__header_rlp")
        .order_by("-canonical", "log_id")
        .first()
    )


def _relay(mint: DepositConfirmation, deposit_block) -> HvmHeader | None:
    """The first canonical hVM update at or before the mint's block that relayed the deposit's
    Bitcoin block: the moment Hemi's sequencer could see the deposit."""
    return (
        HvmHeader.objects.filter(
            btc_hash_internal=deposit_block.hash_internal,
            update__canonical=True,
            update__block__number__lte=mint.block.number,
        )
        .select_related("update__block", "update__transaction")
        .only("update__block__number", "update__transaction__hash")
        .order_by("update__block__number", "update__transaction__index")
        .first()
    )


def mint_trail(mint: DepositConfirmation) -> Trail:
    """Each hop of the mint's trail, built from indexed rows only (6 queries)."""
    mint_hex = "0x" + bytes(mint.transaction.hash).hex()
    hops: list[Hop] = []
    deposit = tunnel_audit.deposit_for(mint)
    if deposit is None:
        hops.append(Hop("deposit", "Bitcoin", "deposit", _short(mint.deposit_txid_display), None,
                        "no indexed Bitcoin transaction with this txid pays a vault"))  # fmt: skip
        hops.append(Hop("deposit-block", "Bitcoin", "block", "—", None, "no deposit"))
        hops.append(Hop("relay", "Hemi", "hVM relay", "—", None, "no deposit"))
    else:
        txid = deposit.transaction.txid_display
        hops.append(Hop("deposit", "Bitcoin", "deposit", _short(txid), reverse("explorer:btc-tx", args=[txid])))
        block = deposit.block
        hops.append(Hop("deposit-block", "Bitcoin", "block", str(block.height),
                        reverse("explorer:btc-block", args=[block.hash_display])))  # fmt: skip
        relay = _relay(mint, block)
        if relay is None:
            hops.append(Hop("relay", "Hemi", "hVM relay", "—", None, "not relayed before the mint"))
        else:
            relay_hex = "0x" + bytes(relay.update.transaction.hash).hex()
            hops.append(Hop("relay", "Hemi", "hVM relay", f"in block {relay.update.block.number}",
                            reverse("explorer:tx", args=[relay_hex])))  # fmt: skip
    hops.append(Hop("mint", "Hemi", "mint", _short(mint_hex), reverse("explorer:tx", args=[mint_hex])))
    number = mint.block.number
    hops.append(Hop("block", "Hemi", "block", str(number), reverse("explorer:block", args=[number])))
    k = keystone_number_for(number)
    produced = Keystone.objects.canonical().filter(number=k).exists()
    hops.append(Hop("keystone", "Hemi", "keystone", str(k),
                    reverse("explorer:keystone", args=[k]) if produced else None,
                    "" if produced else f"keystone {k} not produced yet"))  # fmt: skip
    anchor = anchoring.first_anchor(k) if produced else None
    if anchor is None:
        why = "not published on Bitcoin yet"
        hops.append(Hop("pop", "Bitcoin", "PoP tx", "—", None, why))
        hops.append(Hop("pop-block", "Bitcoin", "block", "—", None, why))
        hops.append(Hop("superfinal", "Bitcoin", "superfinality", "—", None, why))
        return Trail(mint_hex, hops)
    pub = anchor.publication
    pop_txid = pub.transaction.txid_display
    via = "" if anchor.l2_block_number == k else f" (keystone {anchor.l2_block_number})"
    hops.append(Hop("pop", "Bitcoin", "PoP tx", _short(pop_txid) + via,
                    reverse("explorer:btc-tx", args=[pop_txid])))  # fmt: skip
    hops.append(Hop("pop-block", "Bitcoin", "block", str(anchor.height),
                    reverse("explorer:btc-block", args=[pub.block.hash_display])))  # fmt: skip
    final_height = anchor.height + SUPERFINALITY_CONFIRMATIONS
    final_block = bitcoin.block_at_height(final_height)
    if final_block is None:
        hops.append(Hop("superfinal", "Bitcoin", "superfinality", f"at block {final_height}", None,
                        f"waiting for block {final_height}, 10 on top of the publication"))  # fmt: skip
    else:
        hops.append(Hop("superfinal", "Bitcoin", "superfinal", f"at block {final_height}",
                        reverse("explorer:btc-block", args=[final_block.hash_display])))  # fmt: skip
    return Trail(mint_hex, hops)


@dataclass(frozen=True)
class TrailView:
    """A trail as one page shows it: every hop, the page's own hop marked, and the nearest
    existing hops before and after it."""

    trail: Trail
    current: int | None

    @property
    def rows(self) -> list[tuple[Hop, str | None, bool]]:
        return [(hop, self.trail.url(hop), i == self.current) for i, hop in enumerate(self.trail.hops)]

    def _step(self, indexes) -> tuple[Hop, str] | None:
        for i in indexes:
            hop = self.trail.hops[i]
            if hop.path:
                return hop, self.trail.url(hop)
        return None

    @property
    def previous(self) -> tuple[Hop, str] | None:
        return None if self.current is None else self._step(range(self.current - 1, -1, -1))

    @property
    def next(self) -> tuple[Hop, str] | None:
        start = 0 if self.current is None else self.current + 1
        return self._step(range(start, len(self.trail.hops)))


def view_for(mint: DepositConfirmation, path: str, hop_key: str | None = None) -> TrailView:
    trail = mint_trail(mint)
    return TrailView(trail, trail.position(path, hop_key))
