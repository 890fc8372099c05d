"""The Bitcoin indexer's names in the shared core: its cursor, its locks, its work kinds."""

from __future__ import annotations

from indexer.core.locks import WriterLock

CHAIN = "bitcoin"  # ChainCursor.chain; block hashes there are INTERNAL byte order
# Every transaction that writes Bitcoin rows (ingest, reorg undo, vault registration, rescan).
WRITER = WriterLock("bitcoin:write")
# Held (session level) while a sync loop runs: follow_tip task, backfill task, btc_sync.
SYNC_LOCK = "bitcoin:sync"
# Work item: re-run deposit detection for a newly registered vault over blocks scanned before
# it was known. key: the vault's Hemi address (0x-hex); payload: vault_id, from_height.
VAULT_RESCAN = "bitcoin.vault_rescan"
