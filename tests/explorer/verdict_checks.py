"""The check every stored-verdict test ends with: what is stored is what the audit modules say
now, for every mint, deposit, withdrawal and Hemi block (shared by the unit and devnet tests)."""

from __future__ import annotations

from explorer import provenance, verdict_store, withdrawal_audit
from explorer.models import BlockVerdict, DepositVerdict, MintVerdict, WithdrawalVerdict
from explorer.queries import tunnel as tunnel_queries
from explorer.verdicts import VERIFIED


def assert_stored_agrees_with_live() -> int:
    """Every row has a stored verdict equal (verdict, stage, reason) to the live one. Returns how
    many rows were compared."""
    from indexer.bitcoin.models import TunnelDeposit
    from indexer.hemi.models import Block, DepositConfirmation, WithdrawalInitiation

    hemibtc = verdict_store._hemibtc()
    compared = 0
    for mint in DepositConfirmation.objects.select_related("transaction", "block"):
        live = provenance.for_mint(mint, hemibtc=hemibtc)
        stored = MintVerdict.objects.get(pk=mint.pk)
        assert (stored.verdict, stored.stage, stored.reason) == (
            live.verdict,
            live.finality.stage,
            verdict_store.first_reason(live.links),
        ), f"mint {bytes(mint.transaction.hash).hex()}"
        compared += 1
    ids = list(TunnelDeposit.objects.values_list("pk", flat=True))
    deposits = verdict_store._subjects(verdict_store.DEPOSIT, ids)
    for d, live in zip(deposits, tunnel_queries.deposit_verdicts(deposits), strict=True):
        stored = DepositVerdict.objects.get(pk=d.pk)
        expected = (live.verdict, "" if live.verdict == VERIFIED else live.reason)
        assert (stored.verdict, stored.reason) == expected, f"deposit {d.transaction.txid_display}"
        assert stored.stage == verdict_store.deposit_stage(live.verdict, live.reason)
        compared += 1
    for w in WithdrawalInitiation.objects.select_related("block"):
        link = withdrawal_audit.audit_withdrawal(w)
        stored = WithdrawalVerdict.objects.get(pk=w.pk)
        expected = (link.verdict, withdrawal_audit.withdrawal_status(link), link.reason or "")
        assert (stored.verdict, stored.stage, stored.reason) == expected, f"withdrawal {w.uuid}"
        compared += 1
    for block in Block.objects.defer("header_rlp"):
        live = provenance.for_block(block)
        stored = BlockVerdict.objects.get(pk=block.pk)
        expected = (live.verdict, live.finality.stage, verdict_store.first_reason(live.links))
        assert (stored.verdict, stored.stage, stored.reason) == expected, f"Hemi block {block.number}"
        compared += 1
    return compared
