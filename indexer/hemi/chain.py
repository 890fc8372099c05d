"""The Hemi indexer's names in the shared core: its cursor, its locks, its work kinds."""

from __future__ import annotations

from indexer.core.locks import WriterLock

CHAIN = "hemi"  # ChainCursor.chain; block hashes there are EVM order
# Every ingest/reorg transaction takes it, so two processes (the beat-scheduled follower and a
# backfill, or a duplicate task delivery) never interleave their parent-hash checks and inserts.
WRITER = WriterLock("hemi:write")
# Held (session level) for a whole follow_tip run so overlapping scheduled runs skip.
FOLLOW_LOCK = "hemi:follow"
# Work items recorded by the ingest transaction that first sees the token / vault.
TOKEN_METADATA = "hemi.token_metadata"  # noqa: S105 - a work kind, not a secret. key: token address (0x-hex); payload: token_id
VAULT_CUSTODY = "hemi.vault_custody"  # key: vault address (0x-hex); payload: index
