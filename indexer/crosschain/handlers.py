"""What each kind of durable work item does, and the drain that runs them.

Kinds (named where their items are recorded):

* ``hemi.token_metadata`` (``hemi.chain.TOKEN_METADATA``) - read name/symbol/decimals/supply;
* ``hemi.vault_custody`` (``hemi.chain.VAULT_CUSTODY``) - read the custody and register the
  vault with the Bitcoin indexer (``crosschain.vaults``), which may record...
* ``bitcoin.vault_rescan`` (``bitcoin.chain.VAULT_RESCAN``) - deposit detection for the vault
  over blocks scanned before it was known, one chunk per run, progress saved in the payload.

Kinds defined above the indexer plug in through ``settings.WORK_HANDLERS`` (dotted paths of
functions returning ``{kind: handler}``), looked up by name so ``indexer/`` never imports them:
``explorer.verdict_store.handlers`` refreshes stored verdicts from the ``chain.changed`` items
every cursor move records (``indexer.core.cursor.CHAIN_CHANGED``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from indexer.bitcoin import sync as bitcoin_sync
from indexer.bitcoin.chain import VAULT_RESCAN
from indexer.bitcoin.connect import source_for
from indexer.bitcoin.source import BitcoinSource
from indexer.bitcoin.vaults import record_vault_change
from indexer.core import work
from indexer.crosschain.vaults import read_and_register
from indexer.hemi import tokens_ingest
from indexer.hemi.chain import TOKEN_METADATA, VAULT_CUSTODY
from indexer.hemi.rpc import HemiRpc
from indexer.hemi.vaults_ingest import vaults_without_custody

log = logging.getLogger(__name__)

HEMI_KINDS = (TOKEN_METADATA, VAULT_CUSTODY)
BITCOIN_KINDS = (VAULT_RESCAN,)
INDEXER_KINDS = HEMI_KINDS + BITCOIN_KINDS


def extension_handlers() -> dict[str, work.Handler]:
    """The handlers of ``settings.WORK_HANDLERS`` (kinds whose handlers live above indexer/)."""
    from django.conf import settings
    from django.utils.module_loading import import_string

    found: dict[str, work.Handler] = {}
    for path in getattr(settings, "WORK_HANDLERS", ()):
        found.update(import_string(path)())
    return found


def all_kinds() -> tuple[str, ...]:
    """Every kind a drain runs: the indexer's own, then the extensions'."""
    return INDEXER_KINDS + tuple(k for k in extension_handlers() if k not in INDEXER_KINDS)


class Context:
    """RPC clients for one drain, opened on first use (a drain of token reads never needs a
    Bitcoin source) and closed at the end."""

    def __init__(self, network: Any = None) -> None:
        if network is None:
            from hemiscope import networks

            network = networks.current()
        self.network = network
        self._hemi: HemiRpc | None = None
        self._bitcoin: BitcoinSource | None = None

    @property
    def hemi(self) -> HemiRpc:
        if self._hemi is None:
            self._hemi = HemiRpc.from_network(self.network)
        return self._hemi

    @property
    def bitcoin(self) -> BitcoinSource:
        if self._bitcoin is None:
            self._bitcoin = source_for(self.network)
        return self._bitcoin

    def close(self) -> None:
        for client in (self._hemi, self._bitcoin):
            if client is not None:
                client.close()
        self._hemi = self._bitcoin = None

    def __enter__(self) -> Context:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def token_metadata(item: work.Claimed, ctx: Context) -> None:
    tokens_ingest.read_token_metadata(int(item.payload["token_id"]), ctx.hemi)


def vault_custody(item: work.Claimed, ctx: Context) -> None:
    read_and_register(bytes.fromhex(item.key.removeprefix("0x")), ctx.hemi, ctx.network)


def vault_rescan(item: work.Claimed, ctx: Context) -> work.Continue | None:
    next_height = bitcoin_sync.rescan_vault(
        ctx.bitcoin, int(item.payload["vault_id"]), int(item.payload["from_height"])
    )
    # The chunk may have found deposits: what depends on the vault is judged again.
    record_vault_change(bytes.fromhex(item.key.removeprefix("0x")))
    return None if next_height is None else work.Continue({**item.payload, "from_height": next_height})


def handlers(ctx: Context) -> dict[str, work.Handler]:
    return {
        TOKEN_METADATA: lambda item: token_metadata(item, ctx),
        VAULT_CUSTODY: lambda item: vault_custody(item, ctx),
        VAULT_RESCAN: lambda item: vault_rescan(item, ctx),
        **extension_handlers(),
    }


def drain(ctx: Context, *, kinds: tuple[str, ...] | None = None, seconds: float | None = None) -> work.DrainResult:
    """Run due work items of ``kinds`` (default: all) until none is due (or ``seconds`` have passed)."""
    kinds = all_kinds() if kinds is None else kinds
    deadline = None if seconds is None else time.monotonic() + seconds
    result = work.drain(handlers(ctx), kinds=kinds, deadline=deadline)
    if result.handled:
        log.info("work drained", extra={"kinds": list(kinds), **vars(result)})
    return result


def sweep() -> int:
    """Record work for rows that lack it: tokens without metadata and vaults without custody
    whose items never existed (indexed before the work table, or by hand). Idempotent."""
    from indexer.hemi.models import Token

    items = [
        work.Work(TOKEN_METADATA, "0x" + bytes(address).hex(), {"token_id": token_id})
        for token_id, address in Token.objects.filter(id__in=list(tokens_ingest.tokens_without_metadata())).values_list(
            "id", "address"
        )
    ]
    items += [
        work.Work(VAULT_CUSTODY, "0x" + address.hex(), {"index": index}) for index, address in vaults_without_custody()
    ]
    work.add(items)
    return len(items)


def after_commit_for(mode: str, network: Any = None) -> Callable[[list], None] | None:
    """What a Hemi sync does after each committed batch: ``inline`` drains the Hemi-side work
    at once (own clients: the sync's may be busy prefetching), ``celery`` nudges a worker,
    ``none`` leaves the recorded work for a later drain."""
    if mode == "none":
        return None
    if mode == "celery":
        return lambda _results: work.nudge()
    if mode != "inline":
        raise ValueError(f"unknown follow-up mode {mode!r}")

    def inline(_results: list) -> None:
        with Context(network) as ctx:
            drain(ctx, kinds=HEMI_KINDS)

    return inline
