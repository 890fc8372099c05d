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
