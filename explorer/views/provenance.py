"""Provenance pages: a mint's trust chain, any Hemi block's, and the mint lists of a token or
an address; plus the JSON and the offline evidence download."""

from __future__ import annotations

from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from explorer import evidence, evidence_cache, provenance
from explorer.params import BadParameter, get_or_404, parse_address, parse_evm_hash
from explorer.queries import blocks, trail, verdicts
from explorer.verdicts import FAILED, PENDING
from explorer.views import live
from explorer.views.common import bad_request, hemibtc, not_found, page, page_request
from explorer.views.tunnel import mint_rows


def _mint_provenance(tx_hash_hex: str):
    tx_hash = parse_evm_hash(tx_hash_hex)
    mint = get_or_404(
        provenance.mints_in_transaction(tx_hash), "no hemiBTC mint (DepositConfirmed) in that transaction"
    )
    return mint, provenance.for_mint(mint, hemibtc=hemibtc())


# A mint whose deposit does not exist (or was orphaned) will never be backed: no bundle to offer.
UNBACKED_CHECKS = frozenset({"deposit exists", "deposit on the active Bitcoin chain"})


def evidence_offered(p) -> bool:
    return bool(p.links) and not any(c.name in UNBACKED_CHECKS and c.verdict == FAILED for c in p.links[0].checks)


def provenance_live(request, p) -> live.Live:
    """A trust chain can change until its block is superfinal and no link is pending; then the
    page stops polling (a later Bitcoin reorg deeper than superfinality shows on reload)."""
    settled = p.finality is not None and p.finality.superfinal and p.verdict != PENDING
    waiting = [f"{link.name}: {link.reason}" for link in p.links if link.verdict == PENDING and link.reason]
    return live.region(request, final=settled, waiting_for=waiting[:3])


@page("explorer/provenance/provenance.html", "explorer/provenance/provenance_body.html")
def mint_provenance(request, tx_hash: str):
    mint, p = _mint_provenance(tx_hash)
    context = {"p": p, "mint": mint, "tx_hash": "0x" + bytes(mint.transaction.hash).hex(),
               "evidence_offered": evidence_offered(p), "live": provenance_live(request, p),
               # Judged live just now, at these positions; beside it what the lists show (stored).
               "computed_at": verdicts.chain_positions(),
               "stored": verdicts.stored_verdicts("mint", [mint.pk]).get(mint.pk)}  # fmt: skip
    if not request.htmx and "mint" not in request.GET:
        # The whole cross-chain trail of this mint, from its Bitcoin deposit to superfinality.
        context["trail"] = trail.view_for(mint, request.path)
    return context


@require_GET
def mint_provenance_json(request, tx_hash: str):
    """The same body as ``/api/v1/provenance/mint/<hash>`` (one serializer), for the page's link."""
    from explorer.api.v1.serializers.tunnel import ProvenanceSerializer

    try:
        _, p = _mint_provenance(tx_hash)
    except BadParameter as exc:
        return bad_request(request, exc)
    return JsonResponse(ProvenanceSerializer(p).data)


@require_GET
def mint_evidence(request, tx_hash: str):
    """The offline-verifiable evidence bundle as a download; a styled 409 while it is incomplete.

    Built once per chain state (``evidence_cache``), not once per click; the mint's provenance
    is computed only to word the 409."""
    try:
        mint = get_or_404(
            provenance.mints_in_transaction(parse_evm_hash(tx_hash)),
            "no hemiBTC mint (DepositConfirmed) in that transaction",
        )
    except BadParameter as exc:
        return bad_request(request, exc)
    try:
        data = evidence_cache.export_bytes(mint)
    except evidence.EvidenceUnavailable as exc:
        p = provenance.for_mint(mint, hemibtc=hemibtc())
        context = {
            "status": 409,
            "title": "Evidence not available",
            "reason": str(exc),
            "hint": "The bundle can be exported once every link of the mint's provenance can be proven."
            if evidence_offered(p)
            else "This mint has no Bitcoin deposit on the active chain, so it will never be backed.",
            "back": reverse("explorer:mint-provenance", args=["0x" + bytes(mint.transaction.hash).hex()]),
        }
        return render(request, "explorer/errors/error.html", context, status=409)
    response = HttpResponse(data, content_type="application/json")
    name = "0x" + bytes(mint.transaction.hash).hex()
    response["Content-Disposition"] = f'attachment; filename="hemiscope-evidence-{name}.json"'
    return response


@page("explorer/provenance/provenance.html", "explorer/provenance/provenance_body.html")
def block_provenance(request, number: int):
    block = blocks.get_block_by_number(number)
    if block is None:
        not_found(f"Hemi block {number} is not indexed (yet)")
    p = provenance.for_block(block)
    from indexer.hemi.models import DepositConfirmation

    mints = DepositConfirmation.objects.filter(block=block).select_related("transaction").order_by("id")
    return {"p": p, "hblock": block, "mints": mints, "live": provenance_live(request, p)}


@require_GET
def token_provenance(request, address: str):
    """Kept for old links: a token's mints now live on its token page."""
    try:
        token = parse_address(address)
    except BadParameter as exc:
        return bad_request(request, exc)
    return redirect(reverse("explorer:token", args=["0x" + token.hex()]) + "#mints", permanent=False)


@page("explorer/provenance/mint_list.html", "explorer/provenance/mint_table.html")
def address_provenance(request, address: str):
    """Where an address's hemiBTC came from: every mint credited to it, 25 per page."""
    holder = parse_address(address)
    mints = verdicts.mints_to(
        holder,
        page_request(request, verdicts.RECIPIENT_MINTS),
        verdicts.Filter.from_query(request.GET, verdicts.MINT_STAGES),
    )
    return {
        "title": "hemiBTC minted to",
        "subject": "0x" + holder.hex(),
        "rows": mint_rows(mints.items),
        "mints": mints,
    }
