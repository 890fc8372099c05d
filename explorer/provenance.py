"""Provenance: the trust chain of a hemiBTC mint (or any Hemi block), link by link.

    Bitcoin lock -> sequencer ordering (hVM view) -> Hemi block -> Bitcoin anchoring

Each link carries checks with verdicts (verified / pending with what it waits for / failed with
the reason) and the evidence rows it was judged on. Plain functions over rows: the pages, the
API and the evidence exporter all call these.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from explorer import anchoring, tunnel_audit
from explorer.at import At, hemi_exists
from explorer.finality import SUPERFINALITY_CONFIRMATIONS, Finality
from explorer.verdicts import FAILED, PENDING, VERIFIED, Check, Link, overall
from indexer.bitcoin.models import BitcoinBlock
from indexer.hemi.models import Block, DepositConfirmation, Keystone
from indexer.keystone import KEYSTONE_PERIOD, keystone_number_for


@dataclass(frozen=True)
class TimelineEvent:
    stage: str
    done: bool
    detail: str
    timestamp: int | None = None


@dataclass
class Provenance:
    subject: str
    links: list[Link]
    finality: Finality | None
    timeline: list[TimelineEvent]
    alerts: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        return overall(self.links)


def sequencer_link(mint: DepositConfirmation, rows: tunnel_audit.MintRows, at: At | None = None) -> Link:
    """Did Hemi's sequencer show the deposit's Bitcoin block to the hVM before the mint? (The
    relays it looks at lie at or below the mint block, so ``at`` only reaches the waits.)
    ``rows``: the ``MintRows`` of a list holding the mint."""
    if (flagged := rows.flagged.get(mint.block_id)) is not None:
        return Link("Sequencer ordering", (Check("deposit block relayed", PENDING, f"pending ({flagged})"),))
    deposit, hvm = rows.deposit(mint), rows.hvm(mint)
    if deposit is None or hvm is None:
        waiting = tunnel_audit.deposit_wait_reason(mint, at) if deposit is None else None
        if waiting is not None:
            return Link("Sequencer ordering", (Check("deposit block relayed", PENDING, f"pending ({waiting})"),))
        return Link("Sequencer ordering", (Check("deposit block relayed", FAILED, "no deposit to look for"),))
    relayed = rows.relay(mint)
    checks = []
    evidence: dict = {"mint_block": mint.block.number}
    if relayed is None:
        checks.append(
            Check("deposit block relayed", FAILED, "the deposit's Bitcoin block never appeared in an hVM update")
        )
    else:
        evidence.update(
            relayed_in_block=relayed.update.block.number, relay_tx=tunnel_audit.hex0x(relayed.update.transaction.hash)
        )
        checks.append(
            Check(
                "deposit block relayed",
                VERIFIED,
                f"header relayed in Hemi block {relayed.update.block.number}, before the mint in {mint.block.number}",
            )
        )
    confirmations, how = hvm
    checks.append(tunnel_audit.confirmations_check("mint ordered after 4 confirmations", confirmations, how))
    return Link("Sequencer ordering", tuple(checks), evidence)


def hemi_block_link(block: Block, at: At | None = None) -> Link:
    """The Hemi block is canonical and hash-linked to the keystone that covers it (and was
    verified when stored: a block flagged by lenient verification is pending, not verified).
    At a position (``at``), blocks above its Hemi block are not there yet."""
    return hemi_block_links([block], at)[0]


def hemi_block_links(blocks: list[Block], at: At | None = None) -> list[Link]:
    """``hemi_block_link`` for many blocks in two queries, not two per block: the stored-verdict
    sweep judges every block of the chain (a million on mainnet), where per-block round trips
    were most of its cost. Same rule, same Link, in the order of ``blocks``."""
    if not blocks:
        return []
    low = min(b.number for b in blocks)
    high = keystone_number_for(max(b.number for b in blocks))
    if at is not None:
        high = min(high, at.hemi_block)
    canonical = {
        number: (number, block_hash, parent)
        for number, block_hash, parent in Block.objects.canonical()
        .filter(number__gte=low, number__lte=high)
        .values_list("number", "hash", "parent_hash")
    }
    flagged = tunnel_audit.integrity_waits(blocks)
    links = []
    for block in blocks:
        last = keystone_number_for(block.number)
        if at is not None:
            last = min(last, at.hemi_block)
        # The canonical rows from the block to its keystone (or the position); a missing number
        # leaves the list short, which the rule reads as still waiting for that block.
        chain = [canonical[n] for n in range(block.number, last + 1) if n in canonical]
        links.append(_hemi_block_link(block, flagged.get(block.pk), chain))
    return links


def _hemi_block_link(block: Block, flagged: str | None, chain: list[tuple]) -> Link:
    """The rule itself, over the rows both callers fetched: ``chain`` is the canonical
    (number, hash, parent_hash) rows from the block's number to its keystone's, in order."""
    keystone_number = keystone_number_for(block.number)
    checks = []
    if flagged is not None:
        checks.append(Check("block re-hashed", PENDING, f"pending ({flagged})"))
    if block.canonical:
        checks.append(Check("block is canonical", VERIFIED, f"block {block.number} on our canonical chain"))
    else:
        checks.append(Check("block is canonical", FAILED, "the block was orphaned by a Hemi reorg"))
    if len(chain) != keystone_number - block.number + 1:
        checks.append(
            Check("hash-linked to keystone", PENDING, f"waiting for Hemi blocks up to keystone {keystone_number}")
        )
    else:
        linked = all(bytes(chain[i + 1][2]) == bytes(chain[i][1]) for i in range(len(chain) - 1))
        checks.append(
            Check(
                "hash-linked to keystone",
                VERIFIED if linked else FAILED,
                f"{len(chain)} blocks link by parent hash to keystone {keystone_number}"
                if linked
                else "parent-hash linkage broken between the block and its keystone",
            )
        )
    return Link("Hemi block", tuple(checks), {"number": block.number, "hash": tunnel_audit.hex0x(block.hash)})


def anchoring_link(block: Block, at: At | None = None) -> tuple[Link, Finality, list[str]]:
    f = anchoring.block_finality(block.number, at=at)
    return anchored_link(f), f, anchoring_alerts(f, at)


def anchoring_alerts(f: Finality, at: At | None = None) -> list[str]:
    """Publications conflicting with the keystones that decide this block's anchoring: its own
    up to the anchoring one."""
    last = f.anchoring_keystone_number or f.keystone_number
    return [
        f"Bitcoin tx {a.publication.transaction.txid_display} publishes a keystone {a.canonical_keystone.number} "
        f"that conflicts with our canonical chain"
        for a in anchoring.alternate_chain_alerts(numbers=range(f.keystone_number, last + 1, KEYSTONE_PERIOD), at=at)
    ]


def anchored_link(f: Finality) -> Link:
    """The "Bitcoin anchoring" link of a block with finality ``f``."""
    if f.superfinal:
        check = Check(
            "superfinal",
            VERIFIED,
            f"keystone {f.anchoring_keystone_number} published at Bitcoin height {f.publication_height}, "
            f"{f.confirmations} confirmations",
        )
    else:
        check = Check("superfinal", PENDING, f"waiting for {f.waiting_for}")
    evidence = {
        "keystone": f.keystone_number,
        "anchoring_keystone": f.anchoring_keystone_number,
        "publication_height": f.publication_height,
        "confirmations": f.confirmations,
        "btc_finality": f.legacy_btc_finality,
    }
    return Link("Bitcoin anchoring", (check,), evidence)


def timeline(block: Block, f: Finality, at: At | None = None) -> list[TimelineEvent]:
    keystone = (
        Keystone.objects.canonical().filter(number=f.keystone_number).select_related("block").first()
        if hemi_exists(f.keystone_number, at)
        else None
    )
    pub_block = (
        BitcoinBlock.objects.active().filter(height=f.publication_height).first()
        if f.publication_height is not None
        else None
    )
    return [
        TimelineEvent("produced", True, f"Hemi block {block.number}", block.timestamp),
        TimelineEvent(
            "keystone produced",
            keystone is not None,
            f"keystone {f.keystone_number}",
            keystone.block.timestamp if keystone else None,
        ),
        TimelineEvent(
            "published",
            pub_block is not None,
            f"Bitcoin block {f.publication_height}" if pub_block else "not yet on Bitcoin",
            pub_block.time if pub_block else None,
        ),
        TimelineEvent(
            "confirmations",
            (f.confirmations or 0) > 0,
            f"{f.confirmations or 0} Bitcoin confirmations ({SUPERFINALITY_CONFIRMATIONS} needed)",
        ),
        TimelineEvent("superfinal", f.superfinal, "superfinal" if f.superfinal else "not yet superfinal"),
    ]


def for_mint(mint: DepositConfirmation, *, hemibtc: bytes | None = None, at: At | None = None) -> Provenance:
    """A mint's provenance at the indexed tips, or at a position (``at``: ``explorer.at``; the
    mint's own block must lie at or below it): ``for_mints`` of this one, with its timeline and
    alerts (what its page shows)."""
    p = for_mints([mint], hemibtc=hemibtc, at=at)[0]
    p.timeline = timeline(mint.block, p.finality, at)
    p.alerts = anchoring_alerts(p.finality, at)
    return p


def for_mints(mints, *, hemibtc: bytes | None = None, at: At | None = None) -> list[Provenance]:
    """The provenance links and finality of many mints, in order, in a fixed number of queries
    (about 15) however many: what the stored-verdict sweep and reports judge, by the same rules
    as one mint at a time. No timeline or alerts (``for_mint`` adds them for one mint's page)."""
    mints = list(mints)
    if not mints:
        return []
    rows = tunnel_audit.MintRows.read(mints, hemibtc=hemibtc, at=at)
    hemi_links = hemi_block_links([m.block for m in mints], at)
    finality = anchoring.block_finalities((m.block.number for m in mints), at)
    out = []
    for mint, hemi_link in zip(mints, hemi_links, strict=True):
        f = finality[mint.block.number]
        links = [
            tunnel_audit.audit_mint(mint, hemibtc=hemibtc, at=at, rows=rows),
            sequencer_link(mint, rows, at),
            hemi_link,
            anchored_link(f),
        ]
        out.append(Provenance(f"mint {tunnel_audit.hex0x(mint.transaction.hash)}", links, f, []))
    return out


def for_block(block: Block, at: At | None = None) -> Provenance:
    anchor, f, alerts = anchoring_link(block, at)
    links = [hemi_block_link(block, at), anchor]
    return Provenance(f"Hemi block {block.number}", links, f, timeline(block, f, at), alerts)


def mints_in_transaction(tx_hash: bytes):
    return (
        DepositConfirmation.objects.filter(transaction__hash=tx_hash)
        .select_related("transaction", "block")
        .order_by("-canonical", "log__log_index")
    )
