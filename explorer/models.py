"""The explorer's own tables: stored verdicts and audit report jobs (everything else it reads
belongs to the indexers).

Stored verdicts: every mint, deposit, withdrawal and Hemi block judged once and kept current.

A verdict is computed by the audit modules (``explorer.provenance``, ``tunnel_audit``,
``withdrawal_audit``) - never re-implemented here - and stored with the chain positions it was
computed at, so a list can page and filter by verdict without judging each row on every view.
``explorer.verdict_store`` keeps the rows current from the ``chain.changed`` durable work items
every chain cursor move records; ``explorer.queries.verdicts`` reads them.

The subject tables (Hemi rows written by binary COPY, Bitcoin rows by the ingest) have no
foreign-key constraints to these tables, so the one-to-one links are ``db_constraint=False``:
the indexers never wait on, or fail because of, a verdict row.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q

from indexer.bitcoin.models import TunnelDeposit
from indexer.hemi.models import Block, DepositConfirmation, WithdrawalInitiation

VERDICTS = [(v, v) for v in ("verified", "pending", "failed")]


class StoredVerdict(models.Model):
    verdict = models.CharField(max_length=16, choices=VERDICTS)
    stage = models.CharField(max_length=32)
    reason = models.TextField(blank=True, default="")  # why not verified ("link: reason"); empty when verified
    # True when only a change to a row the verdict was judged on can alter it (a reorg at or
    # below depends_*, a matching txid, vault or withdrawal): it is then skipped on new blocks.
    settled = models.BooleanField()
    # True when, unsettled, it waits only for Bitcoin blocks (a found publication to deepen, a
    # deposit to confirm): a new Hemi block cannot move it, so Hemi changes skip it (a reorg
    # still reaches it through depends_hemi_number, a crediting mint through its txid).
    waiting_for_bitcoin = models.BooleanField(default=False)
    # Computed at: the active Bitcoin tip and the Hemi cursor the computation saw.
    bitcoin_height = models.IntegerField(null=True)
    bitcoin_hash_internal = models.BinaryField(max_length=32, null=True)
    hemi_number = models.BigIntegerField(null=True)
    hemi_hash = models.BinaryField(max_length=32, null=True)
    # The highest Bitcoin height and Hemi block number the verdict was judged on (deposit,
    # publication and payout blocks; mint, keystone and finalization blocks): a reorg whose
    # fork lies below them must recompute it.
    depends_bitcoin_height = models.IntegerField(null=True)
    depends_hemi_number = models.BigIntegerField(null=True)
    computed_at = models.DateTimeField()

    class Meta:
        abstract = True


def _indexes(prefix: str, subject: str) -> list[models.Index]:
    return [
        # Lists filtered by verdict or stage, newest (highest subject id) first.
        models.Index(fields=["verdict", f"-{subject}"], name=f"{prefix}_verdict"),
        models.Index(fields=["stage", f"-{subject}"], name=f"{prefix}_stage"),
        # The refresh: rows a new block can change, rows a reorg at a height can change, rows
        # computed on a chain longer than the one there is now.
        models.Index(fields=[subject], condition=Q(settled=False), name=f"{prefix}_unsettled"),
        models.Index(fields=["depends_bitcoin_height"], name=f"{prefix}_dep_btc"),
        models.Index(fields=["depends_hemi_number"], name=f"{prefix}_dep_hemi"),
        models.Index(fields=["bitcoin_height"], name=f"{prefix}_at_btc"),
    ]


class MintVerdict(StoredVerdict):
    """A hemiBTC mint's provenance verdict (all four links); ``stage`` is its block's finality stage."""

    mint = models.OneToOneField(
        DepositConfirmation,
        primary_key=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="stored_verdict",
    )

    class Meta:
        indexes = _indexes("verdict_mint", "mint")


class DepositVerdict(StoredVerdict):
    """A Bitcoin tunnel deposit: verified once a canonical mint credits it; ``stage`` is minted,
    confirming, awaiting mint, orphaned or no recipient."""

    deposit = models.OneToOneField(
        TunnelDeposit, primary_key=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="stored_verdict"
    )
    mint = models.ForeignKey(
        DepositConfirmation, null=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )

    class Meta:
        indexes = _indexes("verdict_deposit", "deposit")


class WithdrawalVerdict(StoredVerdict):
    """A withdrawal; ``stage`` is its status (pending, paid, finalized, challenged, failed)."""

    withdrawal = models.OneToOneField(
        WithdrawalInitiation,
        primary_key=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="stored_verdict",
    )
    evidence = models.JSONField(default=dict)

    class Meta:
        indexes = _indexes("verdict_withdrawal", "withdrawal")


class BlockVerdict(StoredVerdict):
    """A Hemi block's finality: its "Hemi block" and "Bitcoin anchoring" links; ``stage`` is the
    finality stage (produced ... superfinal)."""

    block = models.OneToOneField(
        Block, primary_key=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="stored_verdict"
    )

    class Meta:
        indexes = _indexes("verdict_block", "block")


class ReportJob(models.Model):
    """One audit report being built (or built) by the worker; see explorer/reports/jobs.py."""

    QUEUED, RUNNING, DONE, FAILED, EXPIRED = "queued", "running", "done", "failed", "expired"
    STATES = [(s, s) for s in (QUEUED, RUNNING, DONE, FAILED, EXPIRED)]
    LIVE = (QUEUED, RUNNING, DONE)  # states an identical request reuses

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # SHA-256 of the normalized request and format (explorer.reports.request.Request.key).
    request_key = models.CharField(max_length=64)
    request = models.JSONField()
    format = models.CharField(max_length=8)
    state = models.CharField(max_length=8, choices=STATES, default=QUEUED)
    progress_done = models.BigIntegerField(default=0)
    progress_total = models.BigIntegerField(null=True)
    positions = models.JSONField(null=True)  # what the report was judged at, once running
    file_name = models.CharField(max_length=200, blank=True)
    size = models.BigIntegerField(null=True)
    sha256 = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True)
    finished_at = models.DateTimeField(null=True)
    expires_at = models.DateTimeField(null=True)

    class Meta:
        constraints = [
            # At most one live job per request: concurrent identical POSTs meet here.
            models.UniqueConstraint(
                fields=["request_key"], condition=Q(state__in=["queued", "running", "done"]), name="report_one_live"
            )
        ]
        indexes = [models.Index(fields=["state", "expires_at"], name="report_expiry")]
