"""Models shared by both chains' indexers."""

from __future__ import annotations

from django.db import models


class ChainCursor(models.Model):
    """How far one chain has been indexed: the last block whose rows are all written.

    Each indexer saves its cursor in the same transaction as the rows of the block it covers,
    so a crash can never leave the cursor ahead of (or behind) the data.
    """

    chain = models.CharField(max_length=32, unique=True)  # "bitcoin" or "hemi"
    height = models.BigIntegerField()
    # Bitcoin: internal byte order; Hemi: EVM order. The column name says which chain owns it.
    block_hash = models.BinaryField(max_length=32)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.chain}@{self.height}"


class WorkItem(models.Model):
    """One piece of follow-up work, recorded in the same transaction as the rows that create it.

    A Celery message about it is only a nudge: if the broker loses it (no worker running,
    Redis flushed), the row is still here and the next drain - the beat-driven follow loop or
    ``manage.py sync`` - does the work. ``(kind, key)`` is the item's natural identity, so
    recording the same work twice is a no-op. Workers claim an item with compare-and-set and
    hold it for a lease; a killed worker's claim runs out and the item is taken again. See
    ``indexer.core.work``.
    """

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"  # a permanent error: needs an operator; verdicts stay "pending (...)"
    STATES = [(s, s) for s in (PENDING, RUNNING, DONE, FAILED)]

    kind = models.CharField(max_length=64)  # e.g. "bitcoin.vault_rescan"
    key = models.CharField(max_length=200)  # e.g. the vault's address, 0x-hex
    payload = models.JSONField(default=dict)
    state = models.CharField(max_length=16, choices=STATES, default=PENDING)
    attempts = models.IntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    next_attempt_at = models.DateTimeField()
    lease_until = models.DateTimeField(null=True)
    claim_token = models.CharField(max_length=32, blank=True, default="")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    done_at = models.DateTimeField(null=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "key"], name="work_item_kind_key")]
        indexes = [
            # The claim query: open items by due time. Done items (the vast majority, later)
            # stay out of the index.
            models.Index(
                fields=["next_attempt_at", "id"],
                condition=models.Q(state__in=["pending", "running"]),
                name="work_item_open",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.key} ({self.state})"


class IndexerAlert(models.Model):
    """A condition an operator must see: an indexer refused to go on (``core.errors.Refusal``).

    At most one active row per (chain, code); seeing it again updates the message and
    ``last_seen_at``. A later run that passes clears it (``cleared_at``); cleared rows stay as
    history. Written by ``indexer.core.alerts``; read by ``/healthz`` and the home page.
    """

    chain = models.CharField(max_length=32)  # "bitcoin" or "hemi"
    code = models.CharField(max_length=64)  # e.g. "wrong-chain", "reorg-too-deep"
    message = models.TextField()
    raised_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    seen = models.IntegerField(default=1)  # runs that met the condition while the alert was active
    cleared_at = models.DateTimeField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["chain", "code"], condition=models.Q(cleared_at__isnull=True), name="indexer_alert_active"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.chain} {self.code}: {self.message[:80]}"
