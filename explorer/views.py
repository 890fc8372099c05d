"""Server-rendered pages. Full page normally; the named partial for htmx requests.

Links keep ``href`` so every page works without JavaScript; htmx only refreshes parts.
"""

from __future__ import annotations

from django.http import HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from explorer import anchoring, evidence, provenance, tunnel_audit, withdrawal_audit
from explorer.params import BadParameter, get_or_404, parse_address, parse_evm_hash
from explorer.serializers import provenance_json
from hemiscope import networks
from indexer.hemi.models import Block, DepositConfirmation

# Rows whose verdict is computed live (about 15 indexed queries each). Materialised verdicts,
# refreshed by a worker as blocks arrive, would lift this; until then lists stay short.
LIVE_VERDICT_ROWS = 25


def _hemibtc() -> bytes | None:
    address = networks.current().hemibtc_address
    return bytes.fromhex(address[2:]) if address else None


def bad_request(request, exc: BadParameter):
    return HttpResponseBadRequest(str(exc), content_type="text/plain; charset=utf-8")


def _recent_keystones(limit: int = 10) -> list[tuple]:
    """Newest canonical keystones with their first anchoring publication and finality stage."""
    from indexer.hemi.models import Keystone

    tip = anchoring.bitcoin_tip_height()
    return [
        (keystone, anchoring.block_finality(keystone.number, tip_height=tip, keystone_produced=True))
        for keystone in Keystone.objects.canonical().order_by("-number")[:limit]
    ]


@require_GET
@vary_on_headers("HX-Request")
def home(request):
    from indexer.models import ChainCursor

    net = networks.current()
    cursors = {c.chain: c for c in ChainCursor.objects.all()}
    mints = (
        DepositConfirmation.objects.canonical()
        .select_related("transaction", "block")
        .order_by("-block__number", "-log__log_index")[:5]
    )
    context = {
        "network": net,
        "hemi_cursor": cursors.get("hemi"),
        "bitcoin_cursor": cursors.get("bitcoin"),
        "keystones": _recent_keystones(),
        "rows": _mint_rows(mints),
    }
    template = "explorer/partials/home_summary.html" if request.htmx else "explorer/home.html"
    return render(request, template, context)


def _mint_provenance(tx_hash_hex: str):
    tx_hash = parse_evm_hash(tx_hash_hex)
    mint = get_or_404(
        provenance.mints_in_transaction(tx_hash), "no hemiBTC mint (DepositConfirmed) in that transaction"
    )
    return mint, provenance.for_mint(mint, hemibtc=_hemibtc())


@require_GET
@vary_on_headers("HX-Request")
def mint_provenance(request, tx_hash: str):
    try:
        mint, p = _mint_provenance(tx_hash)
    except BadParameter as exc:
        return bad_request(request, exc)
    context = {"p": p, "mint": mint, "tx_hash": "0x" + bytes(mint.transaction.hash).hex()}
    template = "explorer/partials/provenance_body.html" if request.htmx else "explorer/provenance.html"
    return render(request, template, context)


@require_GET
def mint_provenance_json(request, tx_hash: str):
    try:
        _, p = _mint_provenance(tx_hash)
    except BadParameter as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    return JsonResponse(provenance_json(p))


@require_GET
def mint_evidence(request, tx_hash: str):
    """The offline-verifiable evidence bundle as a download (409 while it is incomplete)."""
    try:
        mint, _ = _mint_provenance(tx_hash)
    except BadParameter as exc:
        return bad_request(request, exc)
    try:
        data = evidence.export_bytes(mint)
    except evidence.EvidenceUnavailable as exc:
        return HttpResponse(f"evidence not available yet: {exc}", status=409, content_type="text/plain; charset=utf-8")
    response = HttpResponse(data, content_type="application/json")
    name = "0x" + bytes(mint.transaction.hash).hex()
    response["Content-Disposition"] = f'attachment; filename="hemiscope-evidence-{name}.json"'
    return response


@require_GET
@vary_on_headers("HX-Request")
def block_provenance(request, number: int):
    block = get_or_404(Block.objects.filter(number=number).order_by("-canonical"), f"Hemi block {number} not indexed")
    p = provenance.for_block(block)
    mints = DepositConfirmation.objects.filter(block=block).select_related("transaction")
    context = {"p": p, "block": block, "mints": mints}
    template = "explorer/partials/provenance_body.html" if request.htmx else "explorer/provenance.html"
    return render(request, template, context)


def _mint_rows(mints):
    hemibtc = _hemibtc()
    return [(m, provenance.for_mint(m, hemibtc=hemibtc)) for m in mints]


@require_GET
def token_provenance(request, address: str):
    """Every mint of a tunnel token (hemiBTC), newest first, with its verdict."""
    try:
        token = parse_address(address)
    except BadParameter as exc:
        return bad_request(request, exc)
    mints = (
        DepositConfirmation.objects.filter(transaction__logs__transfer__token__address=token)
        .distinct()
        .select_related("transaction", "block")
        .order_by("-block__number", "-log__log_index")[:LIVE_VERDICT_ROWS]
    )
    context = {"title": f"Mints of token 0x{token.hex()}", "rows": _mint_rows(mints)}
    return render(request, "explorer/mint_list.html", context)


@require_GET
def address_provenance(request, address: str):
    """Where an address's hemiBTC came from: every mint credited to it."""
    try:
        holder = parse_address(address)
    except BadParameter as exc:
        return bad_request(request, exc)
    mints = (
        DepositConfirmation.objects.filter(recipient=holder)
        .select_related("transaction", "block")
        .order_by("-block__number", "-log__log_index")[:LIVE_VERDICT_ROWS]
    )
    context = {"title": f"hemiBTC minted to 0x{holder.hex()}", "rows": _mint_rows(mints)}
    return render(request, "explorer/mint_list.html", context)


@require_GET
@vary_on_headers("HX-Request")
def tunnel(request):
    """The Bitcoin tunnel at a glance: mints with verdicts, deposits never minted, withdrawals."""
    mints = (
        DepositConfirmation.objects.canonical()
        .select_related("transaction", "block")
        .order_by("-block__number", "-log__log_index")[:LIVE_VERDICT_ROWS]
    )
    tip = anchoring.bitcoin_tip_height()
    unminted = [(d, tunnel_audit.deposit_status(d, tip)) for d in tunnel_audit.unminted_deposits()[:LIVE_VERDICT_ROWS]]
    withdrawals = []
    for w in withdrawal_audit.recent_withdrawals(LIVE_VERDICT_ROWS):
        link = withdrawal_audit.audit_withdrawal(w)
        withdrawals.append((w, link, withdrawal_audit.withdrawal_status(link)))
    context = {"mint_rows": _mint_rows(mints), "unminted": unminted, "withdrawals": withdrawals}
    template = "explorer/partials/tunnel_body.html" if request.htmx else "explorer/tunnel.html"
    return render(request, template, context)


@require_GET
def withdrawals_json(request):
    rows = []
    for w in withdrawal_audit.recent_withdrawals(LIVE_VERDICT_ROWS):
        link = withdrawal_audit.audit_withdrawal(w)
        rows.append(
            {
                "uuid": str(int(w.uuid)),
                "hemi_tx": "0x" + bytes(w.transaction.hash).hex(),
                "btc_address": w.btc_address,
                "withdrawal_sats": str(int(w.withdrawal_sats)),
                "net_sats": str(int(w.net_sats)),
                "status": withdrawal_audit.withdrawal_status(link),
                "verdict": link.verdict,
                "reason": link.reason,
                "evidence": link.evidence,
            }
        )
    return JsonResponse({"items": rows, "next_page_params": None})
