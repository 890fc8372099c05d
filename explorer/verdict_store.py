"""Stored verdicts: computed by the audit modules, refreshed from durable work, read by lists.

What triggers a refresh. Every chain cursor move records a ``chain.changed`` work item in the
writer's own transaction (``indexer.core.cursor``): "Bitcoin (or Hemi) rows changed from
height H on" - a new block, or the blocks above a reorg's fork. Vault registrations and rescan
chunks record one naming the vault (``indexer.bitcoin.vaults.record_vault_change``). This
module is their handler (plugged into the crosschain drain through ``WORK_HANDLERS``), so a
refresh survives a lost broker message or a killed worker exactly as a rescan does, and a
duplicate delivery only recomputes the same rows again.

What one item recomputes - only rows whose inputs may have changed:

1. every *unsettled* row (pending, or not superfinal yet: its confirmations move with the tip);
   for a Hemi change, not those that wait only for Bitcoin blocks (``waiting_for_bitcoin``);
2. Bitcoin from height H: rows judged on a Bitcoin block at or above H (``depends_*``), rows
   computed on a tip higher than the tip now (a reorg to a shorter chain), deposits and
   payouts at or above H (new or orphaned) and the mints and withdrawals they match;
3. Hemi from block H: mints, withdrawals and blocks at or above H (new or orphaned), rows
   judged on a Hemi block at or above H, mints and deposits sharing a txid with a mint at or
   above H (a second credit), withdrawals challenged at or above H;
4. a vault: its mints not verified and its deposits (a rescan may have found them);
5. a sweep (every few minutes, and the backfill the migration records): rows that have no
   verdict yet (indexed before this table, or by a backfill below the cursor), in id batches.

Each batch is one short REPEATABLE READ transaction, so the verdicts of a batch and the chain
positions stored with them ("computed at") come from one snapshot; refreshes are serialized
by a session lock, so an older snapshot never overwrites a newer one.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from explorer import anchoring, provenance, withdrawal_audit
from explorer.finality import SUPERFINALITY_CONFIRMATIONS
from explorer.models import BlockVerdict, DepositVerdict, MintVerdict, WithdrawalVerdict
from explorer.verdicts import PENDING, VERIFIED, Link, overall
from hemiscope import networks
from indexer.bitcoin.models import BitcoinBlock, TunnelDeposit, WithdrawalPayout
from indexer.core import work
from indexer.core.cursor import CHAIN_CHANGED
from indexer.core.errors import TransientError
from indexer.core.locks import session_lock
from indexer.hemi.models import Block, DepositConfirmation, WithdrawalChallenge, WithdrawalInitiation
from indexer.models import ChainCursor, WorkItem

log = logging.getLogger(__name__)

BATCH = 100  # rows judged per transaction (judged together: about 15 indexed queries for 100 mints)
SWEEP_BATCH = 500  # rows judged per sweep step (well inside one work lease)
REFRESH_LOCK = "verdicts:refresh"
DONE_ITEMS_KEPT_S = 3600  # finished chain.changed items are deleted after this (one per cursor move)

MINT, DEPOSIT, WITHDRAWAL, BLOCK = "mint", "deposit", "withdrawal", "block"
KINDS = (MINT, DEPOSIT, WITHDRAWAL, BLOCK)


class RefreshBusy(TransientError):
    """Another process is refreshing verdicts; this item is retried after a short backoff."""


# ----------------------------------------------------------------------------- judging


@dataclass(frozen=True)
class Position:
    """Where both chains stood when a batch was judged."""

    bitcoin_height: int | None
    bitcoin_hash_internal: bytes | None
    hemi_number: int | None
    hemi_hash: bytes | None

    @classmethod
    def now(cls) -> Position:
        tip = BitcoinBlock.objects.active().order_by("-height").values_list("height", "hash_internal").first()
        hemi = ChainCursor.objects.filter(chain="hemi").values_list("height", "block_hash").first()
        return cls(
            tip[0] if tip else None,
            bytes(tip[1]) if tip else None,
            hemi[0] if hemi else None,
            bytes(hemi[1]) if hemi else None,
        )

    def fields(self) -> dict:
        return {
            "bitcoin_height": self.bitcoin_height,
            "bitcoin_hash_internal": self.bitcoin_hash_internal,
            "hemi_number": self.hemi_number,
            "hemi_hash": self.hemi_hash,
        }


def first_reason(links: Iterable[Link]) -> str:
    """The first link that is not verified, as "link: reason" (what the API has always shown)."""
    for link in links:
        if link.verdict != VERIFIED:
            return f"{link.name}: {link.reason}"
    return ""


def _max(*values) -> int | None:
    known = [v for v in values if v is not None]
    return max(known) if known else None


def _hemibtc() -> bytes | None:
    address = networks.current().hemibtc_address
    return bytes.fromhex(address[2:]) if address else None


def judge_mints(mints: list[DepositConfirmation], hemibtc: bytes | None) -> list[dict]:
    """Every mint of a batch judged together (``provenance.for_mints``: about 15 queries a batch)."""
    out = []
    for mint, p in zip(mints, provenance.for_mints(mints, hemibtc=hemibtc), strict=True):
        f = p.finality
        lock = p.links[0]
        settled = p.verdict != PENDING and f.superfinal
        out.append(
            {
                "verdict": p.verdict,
                "stage": f.stage,
                "reason": first_reason(p.links),
                "settled": settled,
                "waiting_for_bitcoin": not settled and _only_anchoring_waits(p.links, f),
                "depends_bitcoin_height": _max(lock.evidence.get("deposit_height"), f.publication_height),
                "depends_hemi_number": _max(mint.block.number, f.keystone_number, f.anchoring_keystone_number),
            }
        )
    return out


def _only_anchoring_waits(links: list[Link], f) -> bool:
    """Everything verified but the anchoring, whose publication is found: only Bitcoin blocks
    on top of it can move the verdict on."""
    return f.publication_height is not None and all(
        link.verdict == VERIFIED for link in links if link.name != "Bitcoin anchoring"
    )


def deposit_stage(verdict: str, detail: str | None) -> str:
    if verdict == VERIFIED:
        return "minted"
    detail = detail or ""
    if "orphaned" in detail:
        return "orphaned"
    if "recipient" in detail:
        return "no recipient"
    if detail.startswith("waiting for") or detail == "Bitcoin tip unknown":
        return "confirming"
    return "awaiting mint"


def judge_deposits(rows: list[TunnelDeposit]) -> list[dict]:
    """Through the read layer's page function (2 queries for all rows), as lists always did."""
    from explorer.queries import tunnel

    out = []
    for d, v in zip(rows, tunnel.deposit_verdicts(rows), strict=True):
        verified = v.verdict == VERIFIED
        out.append(
            {
                "verdict": v.verdict,
                "stage": deposit_stage(v.verdict, v.reason),
                "reason": "" if verified else (v.reason or ""),
                "settled": v.verdict != PENDING,
                # Pending deposits wait for confirmations and a crediting mint, which the Hemi
                # plan finds by txid: no Hemi change needs to re-judge them otherwise.
                "waiting_for_bitcoin": v.verdict == PENDING,
                "mint_id": v.mint.pk if v.mint is not None else None,
                "depends_bitcoin_height": d.block.height,
                "depends_hemi_number": v.mint.block.number if v.mint is not None else None,
            }
        )
    return out


def judge_withdrawal(w: WithdrawalInitiation) -> dict:
    link = withdrawal_audit.audit_withdrawal(w)
    finalized = withdrawal_audit.finalization_of(w) if "finalize_tx" in link.evidence else None
    return {
        "verdict": link.verdict,
        "stage": withdrawal_audit.withdrawal_status(link),
        "reason": link.reason or "",
        "settled": link.verdict != PENDING,
        "evidence": link.evidence,
        "depends_bitcoin_height": link.evidence.get("payout_height"),
        "depends_hemi_number": _max(w.block.number, finalized.block.number if finalized else None),
    }


def judge_blocks(blocks: list[Block]) -> list[dict]:
    """Each block's "Hemi block" and "Bitcoin anchoring" links, for the whole batch at once
    (``provenance.hemi_block_links``, ``anchoring.block_finalities``: six queries)."""
    finality = anchoring.block_finalities(b.number for b in blocks)
    out = []
    for block, hemi_link in zip(blocks, provenance.hemi_block_links(blocks), strict=True):
        f = finality[block.number]
        links = [hemi_link, provenance.anchored_link(f)]
        verdict = overall(links)
        settled = verdict != PENDING and f.superfinal
        out.append(
            {
                "verdict": verdict,
                "stage": f.stage,
                "reason": first_reason(links),
                "settled": settled,
                "waiting_for_bitcoin": not settled and _only_anchoring_waits(links, f),
                "depends_bitcoin_height": f.publication_height,
                "depends_hemi_number": _max(block.number, f.keystone_number, f.anchoring_keystone_number),
            }
        )
    return out


# What each kind stores, and how its subject rows are loaded for judging.
_MODELS = {MINT: MintVerdict, DEPOSIT: DepositVerdict, WITHDRAWAL: WithdrawalVerdict, BLOCK: BlockVerdict}
_SUBJECT_FIELD = {MINT: "mint_id", DEPOSIT: "deposit_id", WITHDRAWAL: "withdrawal_id", BLOCK: "block_id"}
_FIELDS = [
    "verdict",
    "stage",
    "reason",
    "settled",
    "waiting_for_bitcoin",
    "bitcoin_height",
    "bitcoin_hash_internal",
    "hemi_number",
    "hemi_hash",
    "depends_bitcoin_height",
    "depends_hemi_number",
    "computed_at",
]
_EXTRA_FIELDS = {DEPOSIT: ["mint_id"], WITHDRAWAL: ["evidence"]}


def _subjects(kind: str, ids: list[int]) -> list:
    if kind == MINT:
        qs = DepositConfirmation.objects.select_related("transaction", "block").defer(
            "transaction__raw", "transaction__receipt_raw", "transaction__input", "block__header_rlp"
        )
    elif kind == DEPOSIT:
        qs = TunnelDeposit.objects.select_related("transaction", "block", "vault").defer(
            "transaction__raw", "transaction__merkle_branch", "block__header_raw"
        )
    elif kind == WITHDRAWAL:
        qs = WithdrawalInitiation.objects.select_related("block", "transaction").defer(
            "transaction__raw", "transaction__receipt_raw", "block__header_rlp"
        )
    else:
        qs = Block.objects.defer("header_rlp")
    return list(qs.filter(pk__in=ids).order_by("pk"))


def _judge(kind: str, rows: list, hemibtc: bytes | None) -> list[dict]:
    if kind == MINT:
        return judge_mints(rows, hemibtc)
    if kind == DEPOSIT:
        return judge_deposits(rows)
    if kind == WITHDRAWAL:
        return [judge_withdrawal(w) for w in rows]
    return judge_blocks(rows)


def _judge_each(kind: str, rows: list, hemibtc: bytes | None) -> list[dict]:
    """Judge a batch; if that raises (a bug, or rows no audit rule foresaw), judge row by row
    and store a row that still raises as pending naming the error, so one bad row neither
    stops the refresh of the others nor keeps an old verdict looking current."""
    try:
        with transaction.atomic():  # a savepoint: a failed query must not poison the batch
            return _judge(kind, rows, hemibtc)
    except Exception:
        log.exception("verdict batch failed; judging row by row", extra={"kind": kind})
    out = []
    for row in rows:
        try:
            with transaction.atomic():
                out += _judge(kind, [row], hemibtc)
        except Exception as exc:
            log.exception("verdict could not be judged", extra={"kind": kind, "id": row.pk})
            out.append(
                {
                    "verdict": PENDING,
                    "stage": "",
                    "reason": f"could not be judged ({type(exc).__name__}: {str(exc)[:200]}); an operator must look",
                    "settled": False,
                    "depends_bitcoin_height": None,
                    "depends_hemi_number": None,
                }
            )
    return out


def store(kind: str, ids: Iterable[int], *, batch: int = BATCH) -> int:
    """Judge the ``kind`` rows with these ids and upsert their verdicts, ``batch`` rows per short
    transaction. Ids whose row does not exist are skipped. Returns how many were stored."""
    ids = sorted(set(ids))
    model, subject = _MODELS[kind], _SUBJECT_FIELD[kind]
    hemibtc = _hemibtc() if kind == MINT else None
    stored = 0
    for offset in range(0, len(ids), batch):
        chunk = ids[offset : offset + batch]
        outermost = not connection.in_atomic_block
        with transaction.atomic():
            if outermost:
                with connection.cursor() as cur:
                    cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            at = Position.now()
            now = timezone.now()
            rows = _subjects(kind, chunk)
            judged = _judge_each(kind, rows, hemibtc)
            objs = [
                model(**{subject: row.pk}, **at.fields(), computed_at=now, **values)
                for row, values in zip(rows, judged, strict=True)
            ]
            model.objects.bulk_create(
                objs,
                update_conflicts=True,
                unique_fields=[model._meta.pk.name],
                update_fields=_FIELDS + _EXTRA_FIELDS.get(kind, []),
            )
            stored += len(objs)
    return stored


# ----------------------------------------------------------------------------- what to refresh


@dataclass
class Plan:
    """Subject ids to judge, per kind."""

    mint: set
    deposit: set
    withdrawal: set
    block: set

    @classmethod
    def empty(cls) -> Plan:
        return cls(set(), set(), set(), set())

    def add(self, kind: str, ids: Iterable[int]) -> None:
        getattr(self, kind).update(ids)

    def size(self) -> int:
        return sum(len(getattr(self, k)) for k in KINDS)


def _ids(qs, field: str = "pk") -> list[int]:
    return list(qs.values_list(field, flat=True))


def plan_unsettled(plan: Plan, *, hemi_change: bool = False) -> None:
    """Unsettled rows; for a Hemi change, not those waiting only for Bitcoin blocks."""
    for kind in KINDS:
        model = _MODELS[kind]
        qs = model.objects.filter(settled=False)
        if hemi_change:
            qs = qs.filter(waiting_for_bitcoin=False)
        plan.add(kind, _ids(qs, _SUBJECT_FIELD[kind]))


def _mints_by_txid(txids: Iterable[bytes]) -> list[int]:
    txids = list({bytes(t) for t in txids})
    return _ids(DepositConfirmation.objects.filter(deposit_txid_internal__in=txids)) if txids else []


def _deposits_by_txid(txids: Iterable[bytes]) -> list[int]:
    txids = list({bytes(t) for t in txids})
    return _ids(TunnelDeposit.objects.filter(transaction__txid_internal__in=txids)) if txids else []


def plan_bitcoin(plan: Plan, from_height: int) -> None:
    tip = anchoring.bitcoin_tip_height()
    for kind in KINDS:
        model, field = _MODELS[kind], _SUBJECT_FIELD[kind]
        plan.add(kind, _ids(model.objects.filter(depends_bitcoin_height__gte=from_height), field))
        # Judged on a longer chain than the one there is now: confirmations may have dropped.
        if tip is not None:
            plan.add(kind, _ids(model.objects.filter(bitcoin_height__gt=tip), field))
            # Superfinality needs the tip SUPERFINALITY_CONFIRMATIONS above the publication.
            plan.add(
                kind,
                _ids(model.objects.filter(depends_bitcoin_height__gt=tip - SUPERFINALITY_CONFIRMATIONS), field),
            )
    deposits = TunnelDeposit.objects.filter(block__height__gte=from_height)
    plan.add(DEPOSIT, _ids(deposits))
    plan.add(MINT, _mints_by_txid(deposits.values_list("transaction__txid_internal", flat=True)))
    payouts = WithdrawalPayout.objects.filter(block__height__gte=from_height)
    for vault, vault_index, index in payouts.values_list(
        "vault__vault_address", "vault__vault_index", "withdrawal_index"
    ):
        # uuid = vault index << 32 | the vault's own withdrawal index (withdrawal_audit.split_uuid)
        uuid_ = (int(vault_index) << 32) | int(index)
        plan.add(WITHDRAWAL, _ids(WithdrawalInitiation.objects.filter(vault=bytes(vault), uuid=uuid_)))


def plan_hemi(plan: Plan, from_number: int) -> None:
    for kind in KINDS:
        model, field = _MODELS[kind], _SUBJECT_FIELD[kind]
        plan.add(kind, _ids(model.objects.filter(depends_hemi_number__gte=from_number), field))
    mints = DepositConfirmation.objects.filter(block__number__gte=from_number)
    txids = list(mints.values_list("deposit_txid_internal", flat=True))
    plan.add(MINT, _ids(mints))
    plan.add(MINT, _mints_by_txid(txids))
    plan.add(DEPOSIT, _deposits_by_txid(txids))
    plan.add(WITHDRAWAL, _ids(WithdrawalInitiation.objects.filter(block__number__gte=from_number)))
    for vault, uuid_ in WithdrawalChallenge.objects.filter(block__number__gte=from_number).values_list("vault", "uuid"):
        plan.add(WITHDRAWAL, _ids(WithdrawalInitiation.objects.filter(vault=bytes(vault), uuid=uuid_)))
    plan.add(BLOCK, _ids(Block.objects.filter(number__gte=from_number)))


def plan_vault(plan: Plan, vault_address: bytes) -> None:
    plan.add(
        MINT, _ids(DepositConfirmation.objects.filter(vault=vault_address).exclude(stored_verdict__verdict=VERIFIED))
    )
    plan.add(DEPOSIT, _ids(TunnelDeposit.objects.filter(vault__vault_address=vault_address)))


_SUBJECT_QS: dict[str, Callable] = {
    MINT: lambda: DepositConfirmation.objects,
    DEPOSIT: lambda: TunnelDeposit.objects,
    WITHDRAWAL: lambda: WithdrawalInitiation.objects,
    BLOCK: lambda: Block.objects,
}


def sweep_step(kind: str, after_id: int, *, limit: int = SWEEP_BATCH) -> int | None:
    """Store verdicts for up to ``limit`` ``kind`` rows after ``after_id`` that have none (one
    anti-join down both primary keys). Returns the last id judged, or None when none is left."""
    model, field = _MODELS[kind], _SUBJECT_FIELD[kind]
    missing = ~Exists(model.objects.filter(**{field: OuterRef("pk")}))
    ids = _ids(_SUBJECT_QS[kind]().filter(missing, pk__gt=after_id).order_by("pk")[:limit])
    if not ids:
        return None
    store(kind, ids)
    return ids[-1]


# ----------------------------------------------------------------------------- work items


def record_sweep(*, backfill: bool = False) -> None:
    """Record a sweep for rows without verdicts (the migration records one as the backfill)."""
    name = "backfill" if backfill else "sweep"
    work.add([work.Work(CHAIN_CHANGED, f"{name}:{uuid.uuid4().hex}", {"sweep": name, "kind": MINT, "after_id": 0})])


def refresh(payload: dict, *, also: Iterable[dict] = ()) -> work.Continue | None:
    """Handle one ``chain.changed`` payload (see the module docstring), together with the chain
    changes ``also`` (pending items coalesced into this run: one plan, one pass over the rows)."""
    if "sweep" in payload:
        kind = payload.get("kind", MINT)
        last = sweep_step(kind, int(payload.get("after_id", 0)))
        if last is not None:
            return work.Continue({**payload, "after_id": last})
        following = KINDS.index(kind) + 1
        if following < len(KINDS):
            return work.Continue({**payload, "kind": KINDS[following], "after_id": 0})
        _forget_done_items()
        return None
    changes = [payload, *also]
    lowest: dict[str, int] = {}
    for change in changes:
        if change.get("chain") in ("bitcoin", "hemi"):
            chain, height = change["chain"], int(change["from_height"])
            lowest[chain] = min(height, lowest.get(chain, height))
    plan = Plan.empty()
    plan_unsettled(plan, hemi_change=set(lowest) == {"hemi"} and "vault" not in payload)
    if "vault" in payload:
        plan_vault(plan, bytes.fromhex(str(payload["vault"]).removeprefix("0x")))
    if "bitcoin" in lowest:
        plan_bitcoin(plan, lowest["bitcoin"])
    if "hemi" in lowest:
        plan_hemi(plan, lowest["hemi"])
    for kind in KINDS:
        store(kind, getattr(plan, kind))
    log.info(
        "verdicts refreshed",
        extra={"cause": payload, "coalesced": len(changes) - 1, **{k: len(getattr(plan, k)) for k in KINDS}},
    )
    return None


COALESCE_MAX = 1000


def _pending_chain_changes(exclude_id: int) -> list[tuple[int, dict]]:
    """Other due chain-move items (not sweeps, not vaults): a backlog (a long sync, a worker
    that was down) is handled in one run instead of one run per cursor move."""
    rows = (
        WorkItem.objects.filter(kind=CHAIN_CHANGED, state=WorkItem.PENDING, next_attempt_at__lte=timezone.now())
        .exclude(id=exclude_id)
        .filter(payload__has_key="chain")
        .order_by("id")
        .values_list("id", "payload")[:COALESCE_MAX]
    )
    return list(rows)


def handle(item: work.Claimed) -> work.Continue | None:
    with session_lock(REFRESH_LOCK) as acquired:
        if not acquired:
            raise RefreshBusy("another process is refreshing verdicts")
        # Read before planning: the plan then covers these changes, which are committed.
        others = [] if "sweep" in item.payload else _pending_chain_changes(item.id)
        outcome = refresh(item.payload, also=[p for _, p in others])
        if others:
            # Done only now that the refresh succeeded; an item another drain holds meanwhile
            # (state running) is left to run again - a harmless duplicate.
            WorkItem.objects.filter(id__in=[i for i, _ in others], state=WorkItem.PENDING).update(
                state=WorkItem.DONE, done_at=timezone.now(), updated_at=timezone.now()
            )
        return outcome


def _forget_done_items() -> None:
    """One finished item per cursor move would pile up: drop those older than an hour."""
    cutoff = timezone.now() - timezone.timedelta(seconds=DONE_ITEMS_KEPT_S)
    WorkItem.objects.filter(kind=CHAIN_CHANGED, state=WorkItem.DONE, done_at__lt=cutoff).delete()


def handlers() -> dict[str, work.Handler]:
    """The work handlers this module adds to the crosschain drain (``settings.WORK_HANDLERS``)."""
    return {CHAIN_CHANGED: handle}


def refresh_all(*, max_items: int | None = None) -> work.DrainResult:
    """Drain every due ``chain.changed`` item here and now (``manage.py refresh_verdicts``, tests)."""
    return work.drain(handlers(), kinds=[CHAIN_CHANGED], max_items=max_items)
