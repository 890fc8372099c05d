"""Reserve reconciliation: is every hemiBTC backed by Bitcoin in the vaults, at a position?

The equation, every term a sum over indexed rows (satoshis; 1 hemiBTC unit = 1 sat)::

    held by the vaults  =  hemiBTC total supply
                         + deposits not yet minted          (Bitcoin in, hemiBTC not yet out)
                         + withdrawals initiated, unpaid    (hemiBTC burnt, Bitcoin not yet paid)
                         + deposit fees retained            (deposited - minted, per mint)
                         + withdrawal fees retained         (burnt - owed, per withdrawal)
                         - Bitcoin network fees paid        (by vault spends)

Why it must hold: every satoshi in a vault arrived as a deposit and leaves as a payout, a
network fee or something the tunnel's rules do not explain; every hemiBTC is minted for a
deposit (net of its fee) or re-minted by a challenge, and burnt by a withdrawal. A challenged
withdrawal re-mints all it burnt, so it counts nowhere (neither owed nor fee).

"Balanced" is an exact zero difference. Held below the obligations is a *shortfall* (an
unbacked mint, a payout made twice, coins spent somewhere unexplained); held above them is an
*unexplained surplus* (a payment to a vault the tunnel cannot credit, a fee miscounted). Both
are alerts; ``findings`` names the rows that explain them.

A position is a Bitcoin height and a Hemi block, each at or below its indexer's cursor. Given
one, the other is paired with it through the hVM: a Hemi block's Bitcoin height is its hVM
view's tip (what the tunnel itself could see), a Bitcoin height's Hemi block the last one whose
view is at or below it. Given neither, the newest Hemi block whose view Bitcoin has indexed,
paired the same way: a lagging indexer never reads as a mismatch. ``min_confirmations`` K
counts only Bitcoin blocks with K confirmations at the Bitcoin height (height <= H - K + 1),
for every Bitcoin-side term alike, so the equation stays consistent; with K above the
tunnel's 4 a fresh mint can read as a shortfall until its deposit is K deep - the findings
name it.

The one entry point is :func:`reconcile`; it returns a plain :class:`Reconciliation` with
``to_dict()``. Pages, the API, the CLI, ``/healthz`` and audit reports all call it.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field

from django.db.models import F

from explorer.queries.reserve_rows import (  # noqa: F401 - the row functions are this module's API too
    ROW_KEYS,
    UNEXPLAINED_SATS,
    Position,
    PositionNotIndexed,
    ReconcileError,
    _signed_supply,
    _sums,
    _total,
    deposit_fees,
    deposits_not_yet_minted,
    held_outputs,
    hemibtc_token,
    minted_by,
    network_fees,
    non_deposit_inflows,
    supply_transfers,
    term_rows,
    unbacked_mints,
    unexplained_outflows,
    unexplained_sats,
    withdrawal_fees,
    withdrawals_unpaid,
)
from explorer.tunnel_audit import below_indexed_range
from indexer.bitcoin.chain import VAULT_RESCAN
from indexer.bitcoin.models import BitcoinBlock, VaultScript
from indexer.hemi.chain import VAULT_CUSTODY
from indexer.hemi.models import Block, HvmUpdate, Vault
from indexer.models import ChainCursor, WorkItem

DEFAULT_MIN_CONFIRMATIONS = 1
BALANCED, SHORTFALL, SURPLUS = "balanced", "shortfall", "surplus"


@dataclass(frozen=True)
class Term:
    key: str
    label: str
    sign: int  # +1 adds to the obligations, -1 subtracts
    sats: int
    rows: int  # how many rows make it up (the rows page lists them)
    explains: str

    @property
    def signed_sats(self) -> int:
        return self.sign * self.sats


@dataclass(frozen=True)
class Finding:
    """Rows that explain a difference (not part of the equation)."""

    key: str
    label: str
    sats: int
    rows: int
    explains: str


@dataclass(frozen=True)
class Reconciliation:
    """The equation at one position: what ``reconcile`` returns (plain data; ``to_dict()`` for
    JSON, ``equation()`` for text)."""

    position: Position
    held_sats: int
    held_rows: int  # vault outputs unspent at the position
    supply_sats: int
    terms: tuple[Term, ...]
    findings: tuple[Finding, ...]
    waiting_for: tuple[str, ...] = field(default_factory=tuple)  # unfinished work: incomplete

    @property
    def obligations_sats(self) -> int:
        return self.supply_sats + sum(t.signed_sats for t in self.terms)

    @property
    def difference_sats(self) -> int:
        """held - obligations: 0 balanced, negative a shortfall, positive a surplus."""
        return self.held_sats - self.obligations_sats

    @property
    def status(self) -> str:
        d = self.difference_sats
        return BALANCED if d == 0 else (SHORTFALL if d < 0 else SURPLUS)

    @property
    def complete(self) -> bool:
        return not self.waiting_for

    @property
    def alert(self) -> str | None:
        """One sentence for banners and /healthz, or None when it balances (or cannot be
        judged yet: incomplete rows are a wait, not a finding)."""
        if not self.complete or self.status == BALANCED:
            return None
        p = self.position
        where = f"at Bitcoin height {p.btc_height} / Hemi block {p.hemi_block}"
        if self.status == SHORTFALL:
            return f"hemiBTC reserve shortfall {where}: the vaults hold {-self.difference_sats} sat less than owed"
        return f"unexplained hemiBTC reserve surplus {where}: the vaults hold {self.difference_sats} sat more than owed"

    def equation(self) -> str:
        """The equation as text lines (the CLI prints it)."""
        width = max(len(t.label) for t in self.terms)
        width = max(width, len("hemiBTC total supply"), len("obligations"), len("held by the vaults"))
        p = self.position
        lines = [
            f"reserves at Bitcoin height {p.btc_height} (rows to {p.btc_counted_to}, "
            f"{p.min_confirmations} confirmation{'s' if p.min_confirmations != 1 else ''}), "
            f"Hemi block {p.hemi_block} [{p.paired}]",
            f"  {'hemiBTC total supply':<{width}}   {self.supply_sats:>20} sat",
        ]
        for t in self.terms:
            lines.append(f"{'+' if t.sign > 0 else '-'} {t.label:<{width}}   {t.sats:>20} sat  ({t.rows} rows)")
        lines.append(f"= {'obligations':<{width}}   {self.obligations_sats:>20} sat")
        lines.append(f"  {'held by the vaults':<{width}}   {self.held_sats:>20} sat  ({self.held_rows} outputs)")
        lines.append(f"  {'difference (held - obligations)':<{width}} {self.difference_sats:>20} sat")
        for f in self.findings:
            if f.rows:
                lines.append(f"  finding: {f.label}: {f.sats} sat in {f.rows} rows - {f.explains}")
        for reason in self.waiting_for:
            lines.append(f"  incomplete: waiting for {reason}")
        verdict = self.status.upper() if self.complete else f"INCOMPLETE ({self.status} so far)"
        lines.append(verdict)
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """Plain JSON-able data; satoshi amounts as decimal strings (the API's convention)."""
        position = asdict(self.position)
        query = self.position.query()

        def rows_path(key: str) -> str:
            return f"/reserves/rows/{key}?{query}"

        return {
            "position": position,
            "status": self.status,
            "complete": self.complete,
            "waiting_for": list(self.waiting_for),
            "alert": self.alert,
            "held_sats": str(self.held_sats),
            "held_rows": self.held_rows,
            "held_rows_url": rows_path("held"),
            "supply_sats": str(self.supply_sats),
            "supply_rows_url": rows_path("supply"),
            "terms": [
                {
                    "key": t.key,
                    "label": t.label,
                    "sign": "+" if t.sign > 0 else "-",
                    "sats": str(t.sats),
                    "rows": t.rows,
                    "rows_url": rows_path(t.key),
                    "explains": t.explains,
                }
                for t in self.terms
            ],
            "obligations_sats": str(self.obligations_sats),
            "difference_sats": str(self.difference_sats),
            "findings": [
                {
                    "key": f.key,
                    "label": f.label,
                    "sats": str(f.sats),
                    "rows": f.rows,
                    "rows_url": rows_path(f.key),
                    "explains": f.explains,
                }
                for f in self.findings
            ],
        }


# --------------------------------------------------------------------------- position


def _cursor(chain: str) -> int | None:
    return ChainCursor.objects.filter(chain=chain).values_list("height", flat=True).first()


def _hvm_btc_height(hemi_block: int) -> int | None:
    """Height of the Bitcoin tip the hVM showed Hemi block ``hemi_block`` (None: no view, or
    its tip is not an active indexed block)."""
    tip = (
        HvmUpdate.objects.filter(canonical=True, block__number__lte=hemi_block)
        .order_by("-block__number", "-transaction__index")
        .values_list("canonical_tip_internal", flat=True)
        .first()
    )
    if tip is None:
        return None
    return BitcoinBlock.objects.active().filter(hash_internal=bytes(tip)).values_list("height", flat=True).first()


def _hemi_block_seeing(btc_height: int, hemi_cursor: int) -> int:
    """The last canonical Hemi block whose hVM view is at or below ``btc_height``."""
    later = (
        HvmUpdate.objects.filter(
            canonical=True,
            block__number__lte=hemi_cursor,
            canonical_tip_internal__in=BitcoinBlock.objects.active()
            .filter(height__gt=btc_height)
            .values("hash_internal"),
        )
        .order_by("block__number")
        .values_list("block__number", flat=True)
        .first()
    )
    return hemi_cursor if later is None else later - 1


def resolve_position(
    at_btc_height: int | None, at_hemi_block: int | None, min_confirmations: int
) -> Position:
    """Check and pair the requested heights (see the module docstring). Raises
    :class:`PositionNotIndexed` for a height the indexers have not written."""
    if min_confirmations < 1:
        raise ReconcileError(f"min_confirmations must be at least 1, got {min_confirmations}")
    btc_cursor, hemi_cursor = _cursor("bitcoin"), _cursor("hemi")
    if btc_cursor is None or hemi_cursor is None:
        raise PositionNotIndexed("nothing indexed yet: both chains must have a cursor")
    if at_btc_height is not None and (at_btc_height < 0 or at_btc_height > btc_cursor):
        raise PositionNotIndexed(f"Bitcoin height {at_btc_height} is not indexed yet (the index is at {btc_cursor})")
    if at_hemi_block is not None and (at_hemi_block < 0 or at_hemi_block > hemi_cursor):
        raise PositionNotIndexed(f"Hemi block {at_hemi_block} is not indexed yet (the index is at {hemi_cursor})")
    if at_hemi_block is not None and not Block.objects.canonical().filter(number=at_hemi_block).exists():
        raise PositionNotIndexed(f"Hemi block {at_hemi_block} is below the indexed range")
    if at_btc_height is not None and not BitcoinBlock.objects.active().filter(height=at_btc_height).exists():
        raise PositionNotIndexed(f"Bitcoin height {at_btc_height} is below the indexed range")

    if at_btc_height is not None and at_hemi_block is not None:
        btc, hemi, paired = at_btc_height, at_hemi_block, "both given"
    elif at_btc_height is not None:
        btc, hemi = at_btc_height, _hemi_block_seeing(at_btc_height, hemi_cursor)
        paired = "Hemi block: the last whose hVM view is at or below the Bitcoin height"
    else:
        # A Hemi block given, or neither: the newest Hemi block whose hVM view Bitcoin has
        # indexed, with that view's height. At the tips this keeps one indexer lagging the
        # other from reading as a mismatch (a mint whose deposit block is not scanned yet, a
        # payout whose withdrawal is not indexed yet).
        hemi = at_hemi_block if at_hemi_block is not None else _hemi_block_seeing(btc_cursor, hemi_cursor)
        seen = _hvm_btc_height(hemi)
        if seen is not None and seen > btc_cursor:
            raise PositionNotIndexed(
                f"Hemi block {hemi} saw Bitcoin height {seen} in its hVM view, not indexed yet (the index is at "
                f"{btc_cursor})"
            )
        if seen is None:
            btc, paired = btc_cursor, "Bitcoin at its index tip (no indexed hVM view at the Hemi block)"
        else:
            btc, paired = seen, "Bitcoin height of the Hemi block's hVM view"
        if at_hemi_block is None:
            paired = "the newest Hemi block whose hVM view is indexed; " + paired
    return Position(btc, hemi, min_confirmations, btc - min_confirmations + 1, paired)


# --------------------------------------------------------------------------- waits


def _unfinished_work() -> list[str]:
    """Unfinished vault work (custody reads, rescans): until done, vault rows are missing."""
    out = []
    items = WorkItem.objects.filter(kind__in=[VAULT_CUSTODY, VAULT_RESCAN]).exclude(state=WorkItem.DONE)
    for kind, key, state in items.order_by("id").values_list("kind", "key", "state")[:5]:
        out.append(f"{kind} {key} ({state})")
    known = set(VaultScript.objects.values_list("vault_address", flat=True))
    for address in Vault.objects.exclude(address__in=[bytes(a) for a in known]).values_list("address", flat=True)[:5]:
        out.append(f"the custody read of vault 0x{bytes(address).hex()} (not recorded yet)")
    below = below_indexed_range()
    if below is not None:
        out.append(below.replace("the deposit may lie", "vault deposits may lie").replace(" to judge this mint", ""))
    return out


# --------------------------------------------------------------------------- the reconciliation


def reconcile(
    at_btc_height: int | None = None,
    at_hemi_block: int | None = None,
    min_confirmations: int = DEFAULT_MIN_CONFIRMATIONS,
) -> Reconciliation:
    """BTC held by the vaults vs hemiBTC total supply, with every term, at one position.

    1. Resolve the position (raises :class:`PositionNotIndexed` past the indexers' cursors).
    2. Held: vault outputs in counted blocks minus those spent in counted blocks.
    3. Supply: hemiBTC mints minus burns up to the Hemi block (Transfer events, canonical).
    4. The named terms and the findings, each one aggregate over its rows (a fixed number of
       queries, whatever the row counts).
    5. Unfinished vault work marks the result incomplete (it waits; it does not judge).
    """
    p = resolve_position(at_btc_height, at_hemi_block, min_confirmations)
    token = hemibtc_token()
    held = held_outputs(p)
    unminted = deposits_not_yet_minted(p)
    unpaid = withdrawals_unpaid(p)
    dep_fees = deposit_fees(p)
    wd_fees = withdrawal_fees(p)
    net_fees = network_fees(p)
    outflows = unexplained_outflows(p)
    inflows = non_deposit_inflows(p)
    t = {key: _total(qs, expr) for key, (qs, expr) in {
        "deposits_not_yet_minted": (unminted, F("value_sats")),
        "withdrawals_unpaid": (unpaid, F("net_sats")),
        "minted": (minted_by(p), F("net_sats")),
        "withdrawal_fees": (wd_fees, F("withdrawal_sats") - F("net_sats")),
        "network_fees": (net_fees, F("network_fee_sats")),
        "unexplained_outflows": (outflows, UNEXPLAINED_SATS),
        "non_deposit_inflows": (inflows, F("value_sats")),
        "held": (held, F("value_sats")),
    }.items()}  # fmt: skip
    # Unbacked = every mint minus the backed ones (those with a deposit fee): plain aggregates,
    # where the negated EXISTS pair of ``unbacked_mints`` (its rows page) costs a subplan per mint.
    fee, backed_net, backed_rows = _sums(dep_fees, F("deposit_sats") - F("net_sats"), F("net_sats"))
    t["deposit_fees"] = (fee, backed_rows)
    t["unbacked_mints"] = (t["minted"][0] - backed_net, t["minted"][1] - backed_rows)
    terms = (
        Term("deposits_not_yet_minted", "deposits not yet minted", +1, *t["deposits_not_yet_minted"],
             "Bitcoin deposited into a vault that no hemiBTC mint credits (yet)"),
        Term("withdrawals_unpaid", "withdrawals initiated but not yet paid", +1, *t["withdrawals_unpaid"],
             "hemiBTC burnt whose Bitcoin payout (amount - fee) the vault still owes"),
        Term("deposit_fees", "deposit fees retained", +1, *t["deposit_fees"], "deposited - minted, kept by the vault"),
        Term("withdrawal_fees", "withdrawal fees retained", +1, *t["withdrawal_fees"],
             "burnt - paid out, kept by the vault"),
        Term("network_fees", "Bitcoin network fees paid by the vaults", -1, *t["network_fees"],
             "inputs - outputs of vault spends (payouts, consolidations)"),
    )  # fmt: skip
    findings = (
        Finding("unbacked_mints", "mints without a counted Bitcoin deposit", *t["unbacked_mints"],
                "hemiBTC minted for a deposit not held at this position: unbacked, or not yet deep enough for the "
                "confirmations asked"),
        Finding("unexplained_outflows", "vault spends not explained by a withdrawal", *t["unexplained_outflows"],
                "coins left a vault other than as a withdrawal payout or a known network fee"),
        Finding("non_deposit_inflows", "payments to a vault that are not deposits", *t["non_deposit_inflows"],
                "the tunnel cannot credit these (below the minimum, past output 7, a second output)"),
    )  # fmt: skip
    return Reconciliation(
        position=p,
        held_sats=t["held"][0],
        held_rows=t["held"][1],
        supply_sats=_signed_supply(p, token),
        terms=terms,
        findings=findings,
        waiting_for=tuple(_unfinished_work()),
    )


# --------------------------------------------------------------------------- the newest position, cached

CACHE_SECONDS = 60  # also bounds how long finished vault work (no new block) goes unseen
LATEST_KEY = "reserves:latest"
LATEST_SECONDS = 600  # a worker refreshes it every HEARTBEAT_SECONDS; past this it is gone
log = logging.getLogger(__name__)


def _tip_key() -> str | None:
    cursors = dict(ChainCursor.objects.filter(chain__in=("bitcoin", "hemi")).values_list("chain", "block_hash"))
    if len(cursors) < 2:
        return None
    return "reserves:tips:" + bytes(cursors["bitcoin"]).hex() + ":" + bytes(cursors["hemi"]).hex()


def refresh() -> Reconciliation | None:
    """Reconcile at the newest position and cache it twice: per pair of chain tips (pages, the
    API) and as the latest verdict (banners, ``/healthz``). Run by the worker
    (``explorer.tasks.refresh_reserves``, every HEARTBEAT_SECONDS) so no health check or page
    banner ever pays for the aggregates. None when nothing is indexed or no hemiBTC is set."""
    from django.core.cache import cache

    key = _tip_key()
    if key is None:
        return None
    try:
        result = reconcile()
    except ReconcileError:
        return None
    cache.set(key, result, CACHE_SECONDS)
    cache.set(LATEST_KEY, result, LATEST_SECONDS)
    return result


def at_tips() -> Reconciliation | None:
    """The reconciliation at the newest position for pages and the API: cached per pair of
    cursor positions (a new block on either chain recomputes it; until then one query, the
    cursors, answers)."""
    from django.core.cache import cache

    key = _tip_key()
    if key is None:
        return None
    found = cache.get(key)
    return found if found is not None else refresh()


def latest_known() -> Reconciliation | None:
    """The last verdict the worker (or a page) computed, from the cache alone: no query. What
    banners and ``/healthz`` read; None when nothing was computed or the cache is unreachable
    (a banner must never break its page)."""
    from django.core.cache import cache

    try:
        return cache.get(LATEST_KEY)
    except Exception:  # Redis down: no banner, and /healthz already warns about the broker
        log.warning("reserves verdict unreadable from the cache", exc_info=True)
        return None


def newest_or_at(at_btc_height: int | None, at_hemi_block: int | None, min_confirmations: int) -> Reconciliation:
    """What pages and the API show: the cached newest position when nothing is pinned, else
    :func:`reconcile` at the position (errors raise as there)."""
    if at_btc_height is None and at_hemi_block is None and min_confirmations == DEFAULT_MIN_CONFIRMATIONS:
        found = at_tips()
        if found is not None:
            return found
    return reconcile(at_btc_height, at_hemi_block, min_confirmations)


def health_warnings(readings=None) -> list:
    """A ``HEALTH_WARNING_SOURCES`` entry: one ``reserves-mismatch`` warning (status stays 200)
    while the latest reconciliation is complete and does not balance. Reads the cache only."""
    from hemiscope.health import HealthWarning

    result = latest_known()
    if result is None or result.alert is None:
        return []
    return [HealthWarning("reserves-mismatch", result.alert)]
