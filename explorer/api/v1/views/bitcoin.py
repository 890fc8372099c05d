"""Bitcoin resources: blocks, the transactions we store, PoP publications. Paths take hashes
in DISPLAY byte order (what users paste from any explorer); the rows hold internal order."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.response import Response

from explorer.api.v1 import examples as ex
from explorer.api.v1.paging import body_of, page_of, page_request, paging_parameters, range_parameters
from explorer.api.v1.paging import range_params as ranges
from explorer.api.v1.serializers import bitcoin as s
from explorer.api.v1.views.base import BTC_BLOCK, ERRORS, LIST_ERRORS, TXID, ReadOnlyApi
from explorer.params import BadParameter, digits, parse_hex
from explorer.queries import bitcoin


def block_or_404(ident: str):
    if len(ident) == 64:
        block = bitcoin.block_by_hash_internal(parse_hex(ident, 32, "ident: a Bitcoin block hash")[::-1])
    elif digits(ident) and len(ident) <= 10:
        block = bitcoin.block_at_height(int(ident))
    else:
        raise BadParameter(f"ident: a Bitcoin height or a 64-hex block hash (display order), got {ident[:80]!r}")
    if block is None:
        raise Http404(f"Bitcoin block {ident[:80]} is not indexed (yet)")
    return block


class BitcoinBlockViewSet(ReadOnlyApi):
    lookup_field = "ident"

    @extend_schema(
        summary="Active-chain Bitcoin blocks, highest first",
        parameters=[*paging_parameters(), *range_parameters("from_height", "to_height", "Bitcoin height")],
        responses={200: page_of(s.BitcoinBlockSerializer), **LIST_ERRORS},
        examples=[ex.BTC_BLOCK_PAGE],
    )
    def list(self, request):
        q = self.query(request, "from_height", "to_height", paged=True)
        page = bitcoin.list_blocks(page_request(q, bitcoin.BLOCKS), heights=ranges(q, "from_height", "to_height"))
        return Response(body_of(request, page, s.BitcoinBlockSerializer))

    @extend_schema(
        summary="One Bitcoin block (by height on the active chain, or by hash in display order)",
        parameters=[BTC_BLOCK],
        responses={200: s.BitcoinBlockSerializer, **ERRORS},
        examples=[ex.BTC_BLOCK],
    )
    def retrieve(self, request, ident: str):
        self.query(request)
        return Response(s.BitcoinBlockSerializer(block_or_404(ident)).data)

    @extend_schema(
        summary="The block's transactions that Hemiscope stores (PoP, tunnel deposits, payouts)",
        parameters=[BTC_BLOCK, *paging_parameters()],
        responses={200: page_of(s.BitcoinTransactionSerializer), **ERRORS},
        examples=[ex.BTC_TX_PAGE],
    )
    @action(detail=True)
    def transactions(self, request, ident: str):
        q = self.query(request, paged=True)
        block = block_or_404(ident)
        page = bitcoin.stored_transactions(block, page_request(q, bitcoin.BLOCK_TXS))
        for tx in page.items:
            tx.block = block
        return Response(body_of(request, page, s.BitcoinTransactionSerializer))


class BitcoinTransactionViewSet(ReadOnlyApi):
    lookup_field = "txid"

    @extend_schema(
        summary="A stored Bitcoin transaction and what it is to Hemi",
        description="Only transactions Hemiscope keeps: PoP publications, tunnel deposits, withdrawal payouts. "
        "When a txid is in blocks on both sides of a reorg, the active-chain copy is shown.",
        parameters=[TXID],
        responses={200: s.BitcoinTransactionDetailSerializer, **ERRORS},
        examples=[ex.BTC_TX],
    )
    def retrieve(self, request, txid: str):
        self.query(request)
        tx = bitcoin.transaction_by_txid_internal(parse_hex(txid, 32, "txid: a Bitcoin txid")[::-1])
        if tx is None:
            raise Http404(f"Bitcoin transaction {txid[:80]} is not stored by this indexer")
        tx.roles = bitcoin.transaction_roles(tx)
        return Response(s.BitcoinTransactionDetailSerializer(tx).data)


class PopPublicationViewSet(ReadOnlyApi):
    @extend_schema(
        summary="Bitcoin PoP publications, newest indexed first",
        parameters=[
            *paging_parameters(),
            *range_parameters("from_keystone", "to_keystone", "published keystone number"),
        ],
        responses={200: page_of(s.PopPublicationSerializer), **LIST_ERRORS},
        examples=[ex.POP_PAGE],
    )
    def list(self, request):
        q = self.query(request, "from_keystone", "to_keystone", paged=True)
        page = bitcoin.pop_publications(
            page_request(q, bitcoin.POP_PUBLICATIONS), keystone_numbers=ranges(q, "from_keystone", "to_keystone")
        )
        return Response(body_of(request, page, s.PopPublicationSerializer))
