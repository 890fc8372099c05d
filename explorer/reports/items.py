"""Each report item's verdict, read through ONE function: ``judge``.

A pinned report's verdicts are judged at its positions (``at``, see ``reports/positions.py``):
through the same audit functions as pages, with Bitcoin blocks above the height and Hemi blocks
above the block left out. A stored verdict is current at the tips, not at an earlier position,
so there it is read only where it provably cannot differ (``queries.verdicts.verified_at``:
verified and settled at the tips, everything it was judged on at or below the pins, its
publication 10 deep at the height, its hVM view's tip at or below it; 2 more queries per
batch); every other mint is judged live at the pins (about 15 indexed queries, 60-115 ms each:
a report pinned where many mints are young or pending costs that per mint).

An unpinned report's verdicts are those the explorer gives now, at the indexed tips: the
report's positions select which items are in it. Judging a mint live costs about 15 indexed
queries (``explorer/queries/tunnel.py``, 60-115 ms), so ``judge`` reads the STORED verdict of every
mint whose stored verdict is verified, settled and current (``queries.verdicts.
current_verified_mints``: 4 queries per batch) - by definition what a live judgement gives, and
written here to the same fields, stage and reason - and judges live only the rest: pending and
failed mints (the PDF shows them in full with their links and checks), mints not judged yet,
and those a refresh still has to reach. Deposits are judged live in two queries per batch
already; withdrawals are judged live (a few queries each; a tunnel has few of them).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from explorer.at import At
from explorer.queries import tunnel as tunnel_queries
from explorer.queries import verdicts as verdict_queries
from explorer.reports.collect import DEPOSIT, MINT, WITHDRAWAL
from explorer.verdicts import VERIFIED, Link
from explorer.verify_report import ITEM_COLUMNS

COLUMNS = ITEM_COLUMNS  # defined beside the (Django-free) verifier, which checks them


@dataclass(frozen=True)
class Judged:
    kind: str
    id: str  # mints and withdrawals: Hemi tx hash; deposits: Bitcoin txid (display order)
    verdict: str
    stage: str
    reason: str
    fields: dict  # COLUMNS -> str|int|None
    links: tuple[Link, ...] = field(default_factory=tuple)
    row: object = None  # the database row (a mint's evidence bundle is built from it)


def _hex0x(raw) -> str | None:
    return None if raw is None else "0x" + bytes(raw).hex()


ALL_VERIFIED = "superfinal"  # a mint's stage once every link is verified (the chain's last stage)


def _first_open(links) -> tuple[str, str]:
    """Stage and reason: the first link not verified, or the whole chain's last stage."""
    for link in links:
        if link.verdict != VERIFIED:
            return link.name, link.reason or ""
    return ALL_VERIFIED, ""


def judge(kind: str, rows: list, at: At | None = None) -> list[Judged]:
    """THE verdict source of reports (see the module docstring): rows of one kind, in order,
    judged at the tips (``at`` None) or at a pinned report's positions."""
    if kind == MINT:
        return _mints(rows, at)
    if kind == DEPOSIT:
        return [_deposit(d, v) for d, v in zip(rows, tunnel_queries.deposit_verdicts(rows, at), strict=True)]
    if kind == WITHDRAWAL:
        verdicts = tunnel_queries.withdrawal_verdicts(rows, at)
        return [_withdrawal(w, v) for w, v in zip(rows, verdicts, strict=True)]
    raise ValueError(f"unknown item kind {kind!r}")


def _mints(rows: list, at: At | None) -> list[Judged]:
    """Stored where current (see the module docstring), live for the rest; in ``rows`` order.
    At a pinned position, stored only where it cannot differ there (``verified_at``)."""
    stored = verdict_queries.current_verified_mints(rows)
    if at is not None:
        stored = verdict_queries.verified_at(stored, at)
    live_rows = [m for m in rows if m.pk not in stored]
    judged = tunnel_queries.mint_verdicts(live_rows) if at is None else tunnel_queries.mint_verdicts(live_rows, at)
    live = dict(zip((m.pk for m in live_rows), judged, strict=True))
    return [_stored_mint(m, stored[m.pk]) if m.pk in stored else _mint(m, live[m.pk]) for m in rows]


def _stored_mint(m, deposit_height: int) -> Judged:
    """A mint whose stored verdict is verified and settled: every link verified, so its stage
    and reason are those ``_first_open`` gives such a mint, and the Bitcoin height is its
    deposit's (what the "Bitcoin lock" link's evidence records). No links: the PDF lists
    verified items without them."""
    fields = _mint_fields(m, VERIFIED, ALL_VERIFIED, "", deposit_height)
    return Judged(MINT, fields["hemi_tx_hash"], VERIFIED, ALL_VERIFIED, "", fields, (), m)


def _mint(m, p) -> Judged:
    stage, reason = _first_open(p.links)
    lock = p.links[0].evidence if p.links else {}
    fields = _mint_fields(m, p.verdict, stage, reason, lock.get("deposit_height"))
    return Judged(MINT, fields["hemi_tx_hash"], p.verdict, stage, reason, fields, tuple(p.links), m)


def _mint_fields(m, verdict: str, stage: str, reason: str, bitcoin_height) -> dict:
    tx = _hex0x(m.transaction.hash)
    fields = {
        "kind": MINT,
        "hemi_tx_hash": tx,
        "hemi_block": m.block.number,
        "hemi_log_index": m.log.log_index,
        "bitcoin_txid_display": m.deposit_txid_display,
        "bitcoin_height": bitcoin_height,
        "vault": _hex0x(m.vault),
        "party": _hex0x(m.recipient),
        "amount_sats": str(int(m.deposit_sats)),
        "net_sats": str(int(m.net_sats)),
        "verdict": verdict,
        "stage": stage,
        "reason": reason,
    }
    return fields


def _deposit(d, v) -> Judged:
    txid = d.transaction.txid_display
    stage = "minted" if v.verdict == VERIFIED else "awaiting mint"
    fields = {
        "kind": DEPOSIT,
        "hemi_tx_hash": _hex0x(v.mint.transaction.hash) if v.mint else None,
        "hemi_block": None,
        "hemi_log_index": None,
        "bitcoin_txid_display": txid,
        "bitcoin_height": d.block.height,
        "vault": _hex0x(d.vault.vault_address),
        "party": _hex0x(d.recipient),
        "amount_sats": str(d.value_sats),
        "net_sats": str(int(v.mint.net_sats)) if v.mint else None,
        "verdict": v.verdict,
        "stage": stage,
        "reason": v.reason or "",
    }
    return Judged(DEPOSIT, txid, v.verdict, stage, v.reason or "", fields, (), d)


def _withdrawal(w, v) -> Judged:
    tx = _hex0x(w.transaction.hash)
    fields = {
        "kind": WITHDRAWAL,
        "hemi_tx_hash": tx,
        "hemi_block": w.block.number,
        "hemi_log_index": w.log.log_index,
        "bitcoin_txid_display": v.link.evidence.get("payout_txid"),
        "bitcoin_height": v.link.evidence.get("payout_height"),
        "vault": _hex0x(w.vault),
        "party": _hex0x(w.withdrawer),
        "amount_sats": str(int(w.withdrawal_sats)),
        "net_sats": str(int(w.net_sats)),
        "verdict": v.verdict,
        "stage": v.status,
        "reason": v.link.reason or "",
    }
    return Judged(WITHDRAWAL, tx, v.verdict, v.status, v.link.reason or "", fields, (v.link,), w)
