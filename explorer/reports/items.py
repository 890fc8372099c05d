"""Each report item's verdict, read through ONE function: ``judge``.

Today ``judge`` computes verdicts live through the same list helpers the tunnel pages use
(``explorer/queries/tunnel.py``: about 15 indexed queries per mint). When stored verdicts
(issue 15) land, ``judge`` is the only body to switch to the stored-verdict query; the writers,
the CLI, the jobs and the tests call nothing else. Live verdicts are judged at the indexed tips:
the report's positions select which items are in it, and its verdicts are those the explorer
shows now (stored verdicts can record the positions they were judged at).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from explorer.queries import tunnel as tunnel_queries
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


def _first_open(links) -> tuple[str, str]:
    """Stage and reason: the first link not verified, or the whole chain's last stage."""
    for link in links:
        if link.verdict != VERIFIED:
            return link.name, link.reason or ""
    return "superfinal", ""


def judge(kind: str, rows: list) -> list[Judged]:
    """THE verdict source of reports (see the module docstring): rows of one kind, in order."""
    if kind == MINT:
        return [_mint(m, p) for m, p in zip(rows, tunnel_queries.mint_verdicts(rows), strict=True)]
    if kind == DEPOSIT:
        return [_deposit(d, v) for d, v in zip(rows, tunnel_queries.deposit_verdicts(rows), strict=True)]
    if kind == WITHDRAWAL:
        return [_withdrawal(w, v) for w, v in zip(rows, tunnel_queries.withdrawal_verdicts(rows), strict=True)]
    raise ValueError(f"unknown item kind {kind!r}")


def _mint(m, p) -> Judged:
    stage, reason = _first_open(p.links)
    lock = p.links[0].evidence if p.links else {}
    tx = _hex0x(m.transaction.hash)
    fields = {
        "kind": MINT,
        "hemi_tx_hash": tx,
        "hemi_block": m.block.number,
        "hemi_log_index": m.log.log_index,
        "bitcoin_txid_display": m.deposit_txid_display,
        "bitcoin_height": lock.get("deposit_height"),
        "vault": _hex0x(m.vault),
        "party": _hex0x(m.recipient),
        "amount_sats": str(int(m.deposit_sats)),
        "net_sats": str(int(m.net_sats)),
        "verdict": p.verdict,
        "stage": stage,
        "reason": reason,
    }
    return Judged(MINT, tx, p.verdict, stage, reason, fields, tuple(p.links), m)


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
