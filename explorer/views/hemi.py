"""Hemi pages: blocks, a block, a transaction, an address, tokens, a token, keystones, a keystone."""

from __future__ import annotations

import rlp
from django.shortcuts import redirect
from django.urls import reverse

from explorer import anchoring, provenance
from explorer.params import BadParameter, digits, parse_address, parse_evm_hash, parse_hex
from explorer.queries import addresses, blocks, keystones, tokens, trail, transactions, verdicts
from explorer.views import live
from explorer.views.common import not_found, page, page_request
from explorer.views.tunnel import mint_rows
from indexer.hemi.models import Keystone
from indexer.keystone import keystone_number_for


def _number(text: str, what: str) -> int:
    if not digits(text) or len(text) > 18:
        raise BadParameter(f"{what} must be a non-negative whole number or a 0x hash, got {text[:80]!r}")
    return int(text)


@page("explorer/hemi/blocks.html", "explorer/hemi/blocks_table.html")
def block_list(request):
    """Canonical blocks, newest first; on the first page a banner counts new blocks."""
    url = reverse("explorer:blocks")
    head = live.newer_than(request)
    if head is not None:
        count = blocks.newer_blocks_than(head, live.BANNER_CAP)
        return live.banner_response(request, list_url=url, head=head, count=count, what="block")
    req = page_request(request, blocks.LIST)
    page_ = blocks.list_blocks(req)
    first = page_.items[0].block.number if page_.items and req.after is None else None
    return {"page": page_, "banner": live.banner(request, url, first) if first is not None else None}


def _anchoring_live(request, finality, canonical: bool) -> live.Live:
    """A Hemi block's anchoring can change until it is superfinal (or the block is reorged out)."""
    final = finality.superfinal or not canonical
    return live.region(request, final=final, waiting_for=[finality.waiting_for] if finality.waiting_for else [])


@page("explorer/hemi/block.html", "explorer/hemi/block_live.html")
def block_detail(request, ident: str):
    """``/block/<number>`` or ``/block/<0x hash>``; htmx polls get the anchoring panel."""
    if ident[:2].lower() == "0x":
        block = blocks.get_block_by_hash(parse_hex(ident, 32, "a Hemi block hash"))
    else:
        block = blocks.get_block_by_number(_number(ident, "a Hemi block"))
    if block is None:
        not_found(f"Hemi block {ident[:80]} is not indexed (yet)")
    finality = blocks.block_finality(block)
    keystone_number = keystone_number_for(block.number)
    context = {
        "hblock": block,
        "finality": finality,
        "keystone": blocks.keystone_of(block),
        "keystone_number": keystone_number,
        "alerts": anchoring.alternate_chain_alerts(
            numbers=range(keystone_number, (finality.anchoring_keystone_number or keystone_number) + 1, 25), limit=10
        ),
        "live": _anchoring_live(request, finality, block.canonical),
    }
    if request.htmx:
        return context
    searched = request.GET.get("q") == str(block.number)
    previous, following = blocks.neighbours(block)
    return {
        **context,
        "txs": blocks.block_transactions(block, page_request(request, blocks.BLOCK_TXS)),
        "hvm": blocks.hvm_panel(block),
        "integrity": blocks.integrity_issues(block),
        "payouts": blocks.pop_payouts(block),
        "previous": previous,
        "next": following,
        "searched": searched,
        "btc_same_height": searched and _btc_block_exists(block.number),
        "keystone_same_number": searched and Keystone.objects.canonical().filter(number=block.number).exists(),
    }


def _btc_block_exists(height: int) -> bool:
    from explorer.queries import bitcoin

    return bitcoin.block_at_height(height) is not None


@page("explorer/hemi/tx.html", "explorer/hemi/tx_live.html")
def tx_detail(request, tx_hash: str):
    tx = transactions.get_transaction(parse_evm_hash(tx_hash))
    if tx is None:
        not_found(f"transaction {tx_hash[:80]} is not indexed (yet)")
    finality = blocks.block_finality(tx.block)
    region = _anchoring_live(request, finality, tx.canonical)
    if request.htmx:
        return {"tx": tx, "finality": finality, "live": region}
    detail = transactions.transaction_detail(tx)
    show_raw = request.GET.get("raw") == "1"
    raw_fields = None
    if show_raw:
        raw = bytes(tx.raw)
        try:
            payload = rlp.decode(raw if raw[:1] >= b"\xc0" else raw[1:])
            raw_fields = [("0x" + x.hex()) if isinstance(x, bytes) else repr(x) for x in payload]
        except Exception as exc:
            raw_fields = [f"does not decode as RLP: {exc}"]
    context = {"d": detail, "tx": tx, "show_raw": show_raw, "raw_fields": raw_fields, "finality": finality,
               "live": region, "relayed": transactions.relayed_headers(tx),
               "integrity": blocks.integrity_issues(tx.block)}  # fmt: skip
    if detail.mints and "mint" not in request.GET:
        context["trail"] = trail.view_for(detail.mints[0], request.path, "mint")
    return context


@page("explorer/hemi/address.html")
def address_detail(request, address: str):
    raw = parse_address(address)
    known = addresses.get_address(raw)
    token = tokens.get_token(raw)
    req = page_request(request, addresses.TXS)
    txs = addresses.transactions(raw, req)
    mints = verdicts.mints_to(raw, page_request(request, verdicts.RECIPIENT_MINTS, param="mints_cursor"))
    if known is None and not txs.items and not mints.items:
        not_found(f"address 0x{raw.hex()} has not been seen on Hemi by this indexer")
    return {
        "address": "0x" + raw.hex(),
        "known": known,
        "token": token,
        "txs": txs,
        "transfers": addresses.token_transfers(
            raw, page_request(request, addresses.TRANSFERS, param="transfers_cursor")
        ),
        "balances": addresses.balances(raw, page_request(request, addresses.BALANCES, param="tokens_cursor")),
        "mint_rows": mint_rows(mints.items),
        "mints": mints,
        "mints_param": "mints_cursor",
    }


@page("explorer/hemi/tokens.html", "explorer/hemi/tokens_table.html")
def token_list(request):
    return {"page": tokens.list_tokens(page_request(request, tokens.LIST))}


@page("explorer/hemi/token.html")
def token_detail(request, address: str):
    raw = parse_address(address)
    token = tokens.get_token(raw)
    if token is None:
        not_found(f"0x{raw.hex()} is not a token this indexer has seen (no Transfer event from it)")
    context = {
        "token": token,
        "address": "0x" + raw.hex(),
        "holders": tokens.holder_count(token),
        "transfer_count": tokens.transfer_count(token),
        "transfers": tokens.transfers(token, page_request(request, tokens.TRANSFERS)),
        "holder_page": tokens.holders(token, page_request(request, tokens.HOLDERS, param="holders_cursor")),
        "is_hemibtc": tokens.is_hemibtc(token),
    }
    if context["is_hemibtc"]:
        mints = verdicts.mints(page_request(request, verdicts.MINTS, param="mints_cursor"))
        context["mints"] = mints
        context["mints_param"] = "mints_cursor"
        context["mint_rows"] = mint_rows(mints.items)
    return context


@page("explorer/hemi/keystones.html", "explorer/hemi/keystones_table.html")
def keystone_list(request):
    """Canonical keystones, newest first; on the first page a banner counts new keystones."""
    url = reverse("explorer:keystones")
    head = live.newer_than(request)
    if head is not None:
        count = keystones.newer_keystones_than(head, live.BANNER_CAP)
        return live.banner_response(request, list_url=url, head=head, count=count, what="keystone")
    req = page_request(request, keystones.LIST)
    page_ = keystones.list_keystones(req)
    first = page_.items[0].keystone.number if page_.items and req.after is None else None
    return {"page": page_, "banner": live.banner(request, url, first) if first is not None else None}


@page("explorer/hemi/keystone.html", "explorer/hemi/keystone_live.html")
def keystone_detail(request, ident: str):
    """``/keystone/<number>``; a keystone id (64 hex, display order) redirects to its number."""
    if len(ident) in (64, 66):
        keystone = keystones.keystone_by_id(parse_hex(ident, 32, "a keystone id")[::-1])
        if keystone is None:
            not_found(f"no indexed keystone has id {ident[:80]} (display order)")
        return redirect(reverse("explorer:keystone", args=[keystone.number]))
    number = _number(ident, "a keystone number")
    keystone = keystones.get_keystone(number)
    if keystone is None:
        if number % 25:
            raise BadParameter(f"keystone numbers are multiples of 25; block {number} is covered by keystone "
                               f"{keystone_number_for(number)}")  # fmt: skip
        not_found(f"keystone {number} is not indexed (yet)")
    finality = anchoring.block_finality(keystone.number)
    req = page_request(request, keystones.PUBLICATIONS)
    return {
        "keystone": keystone,
        "finality": finality,
        "timeline": provenance.timeline(keystone.block, finality),
        "publications": keystones.publications(keystone, req),
        "alerts": keystones.alerts_for(keystone),
        # A deeper page of publications is a fixed slice: only the first page follows new ones.
        "live": _anchoring_live(request, finality, keystone.canonical) if req.after is None else None,
    }
