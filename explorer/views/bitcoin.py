"""Bitcoin pages: every indexed header, one block with what it holds for Hemi, one stored
transaction with its role, inclusion proof and raw bytes."""

from __future__ import annotations

from django.shortcuts import redirect
from django.urls import reverse

from explorer.finality import SUPERFINALITY_CONFIRMATIONS
from explorer.params import BadParameter, digits, parse_hex
from explorer.queries import bitcoin, bitcoin_tx, trail
from explorer.views import live
from explorer.views.common import not_found, page, page_request
from indexer.models import ChainCursor

NOT_STORED = ("Hemiscope stores the Bitcoin transactions that matter to Hemi (PoP publications, tunnel deposits "
              "and withdrawal payouts); any other transaction is on a general Bitcoin explorer.")  # fmt: skip


def _hash_or_redirect(ident: str, what: str, find, route: str):
    """A display-order hash finds its row; an internal-order one redirects to the display
    form (users paste either; the URL always names the display order)."""
    value = parse_hex(ident, 32, what)
    row = find(value)
    if row is not None:
        return row, None
    if find(value[::-1]) is not None:
        return None, redirect(reverse(route, args=[value[::-1].hex()]))
    return None, None


@page("explorer/bitcoin/blocks.html", "explorer/bitcoin/blocks_table.html")
def block_list(request):
    """Every indexed header, highest first; on the first page a banner counts new blocks."""
    url = reverse("explorer:btc-blocks")
    head = live.newer_than(request)
    if head is not None:
        count = bitcoin.newer_blocks_than(head, live.BANNER_CAP)
        return live.banner_response(request, list_url=url, head=head, count=count, what="Bitcoin block")
    req = page_request(request, bitcoin.BLOCK_LIST, arity=2)
    page_ = bitcoin.block_list(req)
    first = page_.items[0].block.height if page_.items and req.after is None else None
    return {"page": page_, "banner": live.banner(request, url, first) if first is not None else None}


def _block_from_ident(ident: str):
    if digits(ident):
        if len(ident) > 12:
            raise BadParameter("a Bitcoin height is at most 12 digits")
        return bitcoin.block_for_height(int(ident)), None
    if len(ident) in (64, 66):
        return _hash_or_redirect(ident, "a Bitcoin block hash (display order)", bitcoin.block_by_hash_display,
                                 "explorer:btc-block")  # fmt: skip
    raise BadParameter(f"a Bitcoin block is a height or a 64-hex block hash (display order), got {ident[:80]!r}")


@page("explorer/bitcoin/block.html", "explorer/bitcoin/block_live.html")
def block_detail(request, ident: str):
    """``/btc/block/<height>`` (the active block, else an orphaned one) or ``<display hash>``."""
    block, moved = _block_from_ident(ident)
    if moved is not None:
        return moved
    if block is None:
        not_found(f"Bitcoin block {ident[:80]} is not indexed (yet)")
    paged = any(request.GET.get(p) for p in ("pops_cursor", "deposits_cursor", "payouts_cursor"))
    tip = bitcoin.tip_height()
    pops = bitcoin.block_pops(block, page_request(request, bitcoin.BLOCK_POPS, param="pops_cursor"))
    deposits = bitcoin.block_deposits(block, page_request(request, bitcoin.BLOCK_DEPOSITS, param="deposits_cursor"))
    payouts = bitcoin.block_payouts(block, page_request(request, bitcoin.BLOCK_PAYOUTS, param="payouts_cursor"))
    relays = bitcoin.relays(block)
    parent, children = bitcoin.neighbours(block)
    confirmations = bitcoin.confirmations(block, tip)
    context = {
        "btc_block": block,
        "tip": tip,
        "confirmations": confirmations,
        "parent": parent,
        "children": children,
        "pow": bitcoin.proof_of_work(block),
        "pops": pops,
        "deposits": deposits,
        "payouts": payouts,
        "relays": relays,
        "relay_limit": bitcoin.RELAY_LIMIT,
        "superfinal": bitcoin.superfinal_here(block),
        "superfinality_depth": SUPERFINALITY_CONFIRMATIONS,
    }
    if not paged:
        waiting = _block_waiting_for(block, confirmations, relays, pops.items, deposits.items, payouts.items)
        context["live"] = live.region(request, final=not waiting, waiting_for=waiting)
    return context


def _hemi_height() -> int | None:
    return ChainCursor.objects.filter(chain="hemi").values_list("height", flat=True).first()


def _depth_waiting(block, confirmations) -> list[str]:
    """Until 10 blocks sit on top, publications in this block are not superfinal yet."""
    if block.in_active_chain and (confirmations or 0) <= SUPERFINALITY_CONFIRMATIONS:
        return [f"Bitcoin block {block.height + SUPERFINALITY_CONFIRMATIONS} (10 blocks on top of this one)"]
    return []


def _pops_waiting(pop_rows) -> list[str]:
    """A publication whose keystone number Hemi has not reached yet will be judged later."""
    pending = [r.publication.l2_block_number for r in pop_rows if r.canonical is None]
    if not pending:
        return []
    hemi = _hemi_height()
    late = sorted({n for n in pending if hemi is None or n > hemi})
    return [f"Hemi keystone {n} to be indexed" for n in late[:3]]


def _block_waiting_for(block, confirmations, relays, pop_rows, deposit_rows, payout_rows) -> list[str]:
    """What on the block's page can still change (empty: the page is final)."""
    if not block.in_active_chain:
        return []  # an orphaned block's rows are kept as they were; nothing more arrives
    waiting = _depth_waiting(block, confirmations)
    if not relays:
        hvm_tip = bitcoin.hvm_tip_height()
        if hvm_tip is None or hvm_tip < block.height:
            waiting.append("Hemi's sequencer to relay this header into the hVM")
    waiting += _pops_waiting(pop_rows)
    waiting += [f"a Hemi mint for deposit {r.deposit.transaction.txid_display[:12]}…" for r in deposit_rows
                if not r.mints and r.deposit.recipient is not None]  # fmt: skip
    waiting += [f"the Hemi withdrawal paid by {r.payout.transaction.txid_display[:12]}…" for r in payout_rows
                if not r.withdrawals]  # fmt: skip
    return waiting


@page("explorer/bitcoin/tx.html", "explorer/bitcoin/tx_live.html")
def tx_detail(request, txid: str):
    """``/btc/tx/<display txid>``; an internal-order txid redirects to its display form."""
    if len(txid) not in (64, 66):
        raise BadParameter(f"a Bitcoin txid is 64 hex digits (display order), got {len(txid)} characters")
    found = None

    def find(value: bytes):
        nonlocal found
        found = bitcoin_tx.copies_of(value[::-1])
        return found[0] if found else None

    tx, moved = _hash_or_redirect(txid, "a Bitcoin txid (display order)", find, "explorer:btc-tx")
    if moved is not None:
        return moved
    if tx is None:
        not_found(f"Bitcoin transaction {txid[:80]} is not stored. {NOT_STORED}")
    copies = found
    roles = bitcoin_tx.roles(tx)
    tip = bitcoin.tip_height()
    confirmations = bitcoin.confirmations(tx.block, tip)
    context = {
        "tx": tx,
        "others": copies[1:],
        "tip": tip,
        "confirmations": confirmations,
        "roles": roles,
        "proof": bitcoin_tx.merkle_proof(tx),
        "decoded": bitcoin_tx.decode(tx),
        "show_raw": request.GET.get("raw") == "1",
    }
    if roles.deposit is not None and roles.deposit.mints and "mint" not in request.GET:
        mint = roles.deposit.mints[0]
        context["trail"] = trail.view_for(mint, request.path, "deposit")
    waiting = [] if not tx.block.in_active_chain else _depth_waiting(tx.block, confirmations)
    if tx.block.in_active_chain:
        waiting += _pops_waiting(roles.pops)
        if roles.deposit is not None and not roles.deposit.mints and roles.deposit.deposit.recipient is not None:
            waiting.append("the Hemi mint crediting this deposit")
        if roles.payout is not None and not roles.withdrawals:
            waiting.append("the Hemi withdrawal this pays")
    context["live"] = live.region(request, final=not waiting, waiting_for=waiting)
    return context
