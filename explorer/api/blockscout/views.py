"""The Blockscout v2 subset under ``/api/v2/``: the paths and field names Hemi's explorer
clients already use, read through ``explorer.queries``.

Lists are ``{"items": [...], "next_page_params": {...} | null}`` with 50 items; a client passes
the ``next_page_params`` keys back as query parameters (keyset paging: the key is the last
row's position in the list's fixed order, so rows arriving meanwhile never shift a walk).
Unknown query parameters are ignored, as upstream does. Errors are upstream's
``{"message": ...}``: 404 unknown, 422 a malformed parameter, 429 throttled.
"""

from __future__ import annotations

import math

from django.http import Http404, JsonResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, viewsets
from rest_framework.response import Response

from explorer.api.blockscout import examples as ex
from explorer.api.blockscout import schema as s
from explorer.api.blockscout import shapes
from explorer.api.negotiation import AnyClient
from explorer.params import BadParameter, digits, parse_hex
from explorer.queries import addresses, blocks, indexing, keystones, tokens, transactions
from explorer.queries.cursor import Page, PageRequest
from indexer.hemi.models import Block

PAGE_SIZE = 50
MAX_KEY = 2**63 - 1
TAG = ["blockscout"]


def exception_handler(exc, context):
    if isinstance(exc, BadParameter):
        return Response({"message": str(exc)}, status=422)
    if isinstance(exc, Http404):
        return Response({"message": "Not found"}, status=404)
    if isinstance(exc, exceptions.Throttled):
        wait = max(1, math.ceil(exc.wait)) if exc.wait is not None else None
        headers = {"Retry-After": str(wait)} if wait else {}
        return Response({"message": "Too Many Requests"}, status=429, headers=headers)
    if isinstance(exc, exceptions.MethodNotAllowed):
        return Response({"message": "Method not allowed"}, status=405, headers={"Allow": "GET, HEAD, OPTIONS"})
    if isinstance(exc, exceptions.APIException):
        return Response({"message": str(exc.detail)}, status=exc.status_code)
    return None


ERROR = OpenApiResponse(s.BlockscoutMessageSerializer, description="Upstream's error shape.")
ERRORS = {404: ERROR, 422: ERROR, 429: ERROR}


def not_found(request, *args, **kwargs) -> JsonResponse:
    """Any other path under /api/v2/: upstream's 404 body."""
    return JsonResponse({"message": "Not found"}, status=404)


def _path(name: str, pattern: str, description: str) -> OpenApiParameter:
    schema = {"type": "string", "pattern": pattern}
    return OpenApiParameter(name, schema, OpenApiParameter.PATH, description=description)


def _key(name: str, description: str) -> OpenApiParameter:
    return OpenApiParameter(name, {"type": "integer", "minimum": 0, "maximum": MAX_KEY}, OpenApiParameter.QUERY,
                            description=f"Keyset paging: pass back from `next_page_params`. {description}")  # fmt: skip


BLOCK_ID = _path("id", r"^([0-9]{1,18}|0x[0-9a-fA-F]{64})$", "A block number or 0x-hash.")
TX_HASH = _path("hash", r"^0x[0-9a-fA-F]{64}$", "A transaction hash (0x-hex).")
ADDRESS = _path("address", r"^0x[0-9a-fA-F]{40}$", "An address (0x-hex, any case).")
ITEMS_COUNT = _key("items_count", "Items seen so far (accepted and ignored).")


def _after(request, name: str) -> tuple[int, ...] | None:
    text = request.query_params.get(name)
    if text in (None, ""):
        return None
    if not digits(text) or int(text) > MAX_KEY:
        raise BadParameter(f"{name}: must be a non-negative integer")
    return (int(text),)


def _page(request, list_name: str, key: str) -> PageRequest:
    return PageRequest(list_name, _after(request, key), PAGE_SIZE)


def _next(page: Page, key: str, key_of, seen: int) -> dict | None:
    if page.next_cursor is None or not page.items:
        return None
    return {key: key_of(page.items[-1]), "items_count": seen + len(page.items)}


def _items_seen(request) -> int:
    text = request.query_params.get("items_count") or "0"
    return int(text) if digits(text) and len(text) <= 18 else 0


def _block(ident: str) -> Block:
    if ident[:2].lower() == "0x":
        block = blocks.get_block_by_hash(parse_hex(ident, 32, "id: a block hash"))
    elif digits(ident) and len(ident) <= 18:
        block = blocks.get_block_by_number(int(ident))
    else:
        raise BadParameter("Invalid parameter(s): id must be a block number or 0x hash")
    if block is None:
        raise Http404
    return block


def _address(text: str) -> bytes:
    return parse_hex(text, 20, "Invalid parameter(s): address_hash")


def _tx(hash_text: str):
    tx = transactions.get_transaction(parse_hex(hash_text, 32, "Invalid parameter(s): transaction_hash"))
    if tx is None:
        raise Http404
    return tx


def _token(address_text: str):
    token = tokens.get_token(_address(address_text))
    if token is None:
        raise Http404
    return token


class BlockscoutApi(viewsets.ViewSet):
    # Read-only; upstream's error shape; Accept ignored. (A comment: a docstring would become
    # every operation's description.)
    http_method_names = ["get", "head", "options"]
    content_negotiation_class = AnyClient

    def get_exception_handler(self):
        return exception_handler

    # --- blocks ----------------------------------------------------------------------------------

    @extend_schema(tags=TAG, summary="Canonical blocks, newest first (50 a page)", operation_id="api_v2_blocks_list",
                   parameters=[_key("block_number", "Blocks below this number."), ITEMS_COUNT,
                               OpenApiParameter("type", OpenApiTypes.STR,
                                                description="`block` (default), or `uncle` (none on Hemi).")],
                   responses={200: s.page_of(s.BlockscoutBlockSerializer), **ERRORS}, examples=[ex.BLOCKS])  # fmt: skip
    def blocks(self, request):
        kind = request.query_params.get("type") or "block"
        if kind == "uncle":
            return Response({"items": [], "next_page_params": None})  # an OP-stack chain has none
        if kind != "block":
            raise BadParameter("Invalid parameter(s): type (this API lists canonical blocks: type=block)")
        page = blocks.list_blocks(_page(request, blocks.LIST, "block_number"))
        fees = blocks.fees_by_block([row.block.id for row in page.items])
        items = [shapes.block_json(row.block, row.finality, fees.get(row.block.id, 0)) for row in page.items]
        nxt = _next(page, "block_number", lambda row: row.block.number, _items_seen(request))
        return Response({"items": items, "next_page_params": nxt})

    @extend_schema(tags=TAG, summary="One block (by number: the canonical one)", parameters=[BLOCK_ID],
                   responses={200: s.BlockscoutBlockSerializer, **ERRORS}, examples=[ex.BLOCK])  # fmt: skip
    def block(self, request, id: str):
        block = _block(id)
        finality = keystones.finality_for_numbers([block.number])[block.number] if block.canonical else None
        fees = blocks.fees_by_block([block.id]).get(block.id, 0)
        return Response(shapes.block_json(block, finality, fees))

    @extend_schema(tags=TAG, summary="A block's transactions in block order", parameters=[BLOCK_ID,
                   _key("index", "Transactions after this position."), ITEMS_COUNT],
                   responses={200: s.page_of(s.BlockscoutTransactionSerializer), **ERRORS},
                   examples=[ex.BLOCK_TXS])  # fmt: skip
    def block_transactions(self, request, id: str):
        block = _block(id)
        page = blocks.block_transactions(block, _page(request, blocks.BLOCK_TXS, "index"))
        tip = blocks.tip_number()
        items = [shapes.transaction_summary_json(tx, tip) for tx in _with_input(page.items)]
        return Response({"items": items, "next_page_params": _next(page, "index", lambda t: t.index,
                                                                    _items_seen(request))})  # fmt: skip

    # --- transactions ------------------------------------------------------------------------------

    @extend_schema(tags=TAG, summary="One transaction, upstream field names", parameters=[TX_HASH],
                   responses={200: s.BlockscoutTransactionSerializer, **ERRORS}, examples=[ex.TX])  # fmt: skip
    def transaction(self, request, hash: str):
        tx = _tx(hash)
        detail = transactions.transaction_detail(tx, with_logs=False, transfer_limit=PAGE_SIZE)
        transfers = [shapes.token_transfer_json(t) for t in _attach_block(detail.transfers, tx)]
        return Response(shapes.transaction_json(detail, blocks.tip_number(), transfers))

    @extend_schema(tags=TAG, summary="A transaction's logs", parameters=[TX_HASH,
                   _key("index", "Logs after this log index."), ITEMS_COUNT],
                   responses={200: s.page_of(s.BlockscoutLogSerializer), **ERRORS}, examples=[ex.LOGS])  # fmt: skip
    def transaction_logs(self, request, hash: str):
        tx = _tx(hash)
        page = transactions.logs(tx, _page(request, transactions.LOGS, "index"))
        items = [shapes.log_json(log, tx) for log in page.items]
        nxt = _next(page, "index", lambda log: log.log_index, _items_seen(request))
        return Response({"items": items, "next_page_params": nxt})

    @extend_schema(tags=TAG, summary="A transaction's token transfers", parameters=[TX_HASH],
                   responses={200: s.page_of(s.BlockscoutTokenTransferSerializer), **ERRORS},
                   examples=[ex.TRANSFERS])  # fmt: skip
    def transaction_token_transfers(self, request, hash: str):
        tx = _tx(hash)
        # At most 50 inline (a transaction's transfers are its logs: bounded by its gas).
        detail = transactions.transaction_detail(tx, with_logs=False, transfer_limit=PAGE_SIZE)
        items = [shapes.token_transfer_json(t) for t in _attach_block(detail.transfers, tx)]
        return Response({"items": items, "next_page_params": None})

    # --- addresses ---------------------------------------------------------------------------------

    @extend_schema(tags=TAG, summary="An address", parameters=[ADDRESS],
                   responses={200: s.BlockscoutAddressSerializer, **ERRORS}, examples=[ex.ADDRESS])  # fmt: skip
    def address(self, request, address: str):
        raw = _address(address)
        known = addresses.get_address(raw)
        if known is None:
            raise Http404
        token = tokens.get_token(raw)
        body = shapes.address_json(raw, is_contract=known.is_contract)
        body.update({
            "coin_balance": None, "exchange_rate": None, "block_number_balance_updated_at": None,
            "creator_address_hash": None, "creation_transaction_hash": None,
            "token": None if token is None else shapes.token_json(token),
            "has_tokens": None, "has_token_transfers": None, "has_logs": None,
        })  # fmt: skip
        return Response(body)

    @extend_schema(tags=TAG, summary="Transactions from or to the address, newest first", parameters=[ADDRESS,
                   _key("id", "Transactions indexed before this one."), ITEMS_COUNT],
                   responses={200: s.page_of(s.BlockscoutTransactionSerializer), **ERRORS},
                   examples=[ex.TXS])  # fmt: skip
    def address_transactions(self, request, address: str):
        page = addresses.transactions(_address(address), _page(request, addresses.TXS, "id"))
        tip = blocks.tip_number()
        items = [shapes.transaction_summary_json(tx, tip) for tx in _with_input(page.items)]
        return Response({"items": items, "next_page_params": _next(page, "id", lambda t: t.id, _items_seen(request))})

    @extend_schema(tags=TAG, summary="Token transfers from or to the address, newest first", parameters=[ADDRESS,
                   _key("id", "Transfers indexed before this one."), ITEMS_COUNT],
                   responses={200: s.page_of(s.BlockscoutTokenTransferSerializer), **ERRORS},
                   examples=[ex.TRANSFERS])  # fmt: skip
    def address_token_transfers(self, request, address: str):
        page = addresses.token_transfers(_address(address), _page(request, addresses.TRANSFERS, "id"))
        items = [shapes.token_transfer_json(t) for t in page.items]
        return Response({"items": items, "next_page_params": _next(page, "id", lambda t: t.id, _items_seen(request))})

    # --- tokens ------------------------------------------------------------------------------------

    @extend_schema(tags=TAG, summary="Tokens, newest first", operation_id="api_v2_tokens_list",
                   parameters=[_key("id", "Tokens first seen before this one."), ITEMS_COUNT],
                   responses={200: s.page_of(s.BlockscoutTokenSerializer), **ERRORS}, examples=[ex.TOKENS])  # fmt: skip
    def tokens(self, request):
        page = tokens.list_tokens(_page(request, tokens.LIST, "id"))
        items = [shapes.token_json(t) for t in page.items]
        return Response({"items": items, "next_page_params": _next(page, "id", lambda t: t.id, _items_seen(request))})

    @extend_schema(tags=TAG, summary="One token (holder count stops at 10000)", parameters=[ADDRESS],
                   responses={200: s.BlockscoutTokenSerializer, **ERRORS}, examples=[ex.TOKEN])  # fmt: skip
    def token(self, request, address: str):
        token = _token(address)
        return Response(shapes.token_json(token, tokens.holder_count(token)))

    @extend_schema(tags=TAG, summary="A token's holders with a non-zero balance", parameters=[ADDRESS,
                   _key("id", "Holders after this one."), ITEMS_COUNT],
                   responses={200: s.page_of(s.BlockscoutHolderSerializer), **ERRORS},
                   examples=[ex.HOLDERS])  # fmt: skip
    def token_holders(self, request, address: str):
        token = _token(address)
        page = tokens.holders(token, _page(request, tokens.HOLDERS, "id"))
        items = [shapes.holder_json(b, token) for b in page.items]
        return Response({"items": items, "next_page_params": _next(page, "id", lambda b: b.id, _items_seen(request))})

    # --- search, stats, indexing status -----------------------------------------------------------

    @extend_schema(tags=TAG, summary="Search blocks, transactions, addresses and tokens",
                   parameters=[OpenApiParameter("q", OpenApiTypes.STR, description="What to look for.")],
                   responses={200: s.page_of(s.BlockscoutSearchItemSerializer), **ERRORS},
                   examples=[ex.SEARCH])  # fmt: skip
    def search(self, request):
        from explorer.api.blockscout.search import search_items

        return Response({"items": search_items(request.query_params.get("q") or ""), "next_page_params": None})

    @extend_schema(tags=TAG, summary="Chain statistics (counts from the index, never a table scan)",
                   responses={200: s.BlockscoutStatsSerializer, **ERRORS}, examples=[ex.STATS])  # fmt: skip
    def stats(self, request):
        tip, first = blocks.tip_number(), blocks.first_number()
        times = blocks.recent_timestamps()
        average_ms = (times[0] - times[-1]) * 1000 / (len(times) - 1) if len(times) > 1 else None
        return Response({
            "total_blocks": None if tip is None else str(tip - first + 1),
            "total_addresses": None, "total_transactions": None, "transactions_today": None,
            "average_block_time": average_ms, "coin_price": None, "coin_price_change_percentage": None,
            "total_gas_used": None, "gas_used_today": None, "gas_prices": None, "static_gas_price": None,
            "market_cap": None, "network_utilization_percentage": None, "tvl": None,
        })  # fmt: skip

    @extend_schema(tags=TAG, summary="Whether indexing has caught up with the node",
                   responses={200: s.BlockscoutIndexingStatusSerializer, **ERRORS}, examples=[ex.INDEXING])  # fmt: skip
    def indexing_status(self, request):
        hemi = next(c for c in indexing.status() if c.chain == "hemi")
        ratio = None
        if hemi.cursor_height is not None and hemi.node_tip_height:
            ratio = f"{min(1.0, hemi.cursor_height / hemi.node_tip_height):.2f}"
        finished = hemi.lag == 0 if hemi.lag is not None else False
        return Response({
            "finished_indexing_blocks": finished, "indexed_blocks_ratio": ratio,
            "finished_indexing": finished, "indexed_internal_transactions_ratio": None,
        })  # fmt: skip


def _with_input(txs):
    """List queries defer ``input`` (large); the shapes read it for ``method``: one query for
    the page's inputs rather than one per row."""
    from indexer.hemi.models import Transaction

    inputs = dict(Transaction.objects.filter(id__in=[t.id for t in txs]).values_list("id", "input"))
    for tx in txs:
        tx.input = inputs.get(tx.id, b"")
    return txs


def _attach_block(transfers, tx):
    for t in transfers:
        t.block = tx.block
        t.log.transaction = tx
    return transfers
