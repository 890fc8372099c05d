"""Hemi resources: blocks, transactions (+ logs), addresses, tokens, keystones."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.response import Response

from explorer import anchoring
from explorer.api.v1 import examples as ex
from explorer.api.v1.paging import (
    address_filter,
    body_of,
    hex_param,
    page_of,
    page_request,
    paging_parameters,
    range_parameters,
)
from explorer.api.v1.paging import range_params as ranges
from explorer.api.v1.serializers import hemi as s
from explorer.api.v1.serializers.bitcoin import PopPublicationSerializer
from explorer.api.v1.serializers.common import FinalitySerializer
from explorer.api.v1.views.base import (
    ADDRESS,
    BLOCK_IDENT,
    ERRORS,
    KEYSTONE,
    LIST_ERRORS,
    TOKEN,
    TX_HASH,
    ReadOnlyApi,
    cached_response,
)
from explorer.params import BadParameter, digits, parse_hex
from explorer.queries import addresses, blocks, keystones, tokens, transactions
from explorer.queries.keystones import KeystoneRow

TRANSFERS_INLINE = 50


def block_or_404(ident: str):
    if ident[:2].lower() == "0x":
        block = blocks.get_block_by_hash(parse_hex(ident, 32, "ident: a Hemi block hash"))
    elif digits(ident) and len(ident) <= 18:
        block = blocks.get_block_by_number(int(ident))
    else:
        raise BadParameter(f"ident: a Hemi block number or 0x hash, got {ident[:80]!r}")
    if block is None:
        raise Http404(f"Hemi block {ident[:80]} is not indexed (yet)")
    return block


def tx_or_404(tx_hash: str):
    tx = transactions.get_transaction(parse_hex(tx_hash, 32, "hash: a Hemi transaction hash"))
    if tx is None:
        raise Http404(f"transaction {tx_hash[:80]} is not indexed (yet)")
    return tx


def address_param(text: str, name: str = "address") -> bytes:
    return parse_hex(text, 20, f"{name}: an address")


def token_or_404(address: str):
    token = tokens.get_token(address_param(address))
    if token is None:
        raise Http404(f"{address[:80]} is not a token this indexer has seen (no Transfer event from it)")
    return token


class BlockViewSet(ReadOnlyApi):
    lookup_field = "ident"

    @extend_schema(
        summary="Canonical Hemi blocks, newest first",
        parameters=[
            *paging_parameters(),
            *range_parameters("from_block", "to_block", "block number"),
            *range_parameters("from_time", "to_time", "block time", time=True),
        ],
        responses={200: page_of(s.BlockSerializer), **LIST_ERRORS},
        examples=[ex.BLOCK_PAGE],
    )
    def list(self, request):
        q = self.query(request, "from_block", "to_block", "from_time", "to_time", paged=True)
        page = blocks.list_blocks(
            page_request(q, blocks.LIST),
            numbers=ranges(q, "from_block", "to_block"),
            times=ranges(q, "from_time", "to_time", time=True),
        )
        return Response(body_of(request, page, s.BlockSerializer))

    @extend_schema(
        summary="One Hemi block (by number or hash)",
        description="Cached for a day (`Cache-Control: immutable`, `ETag`) once superfinal; revalidated on "
        "every request before that. A number gives the canonical block, else the newest orphaned one.",
        parameters=[BLOCK_IDENT],
        responses={200: s.BlockDetailSerializer, **ERRORS},
        examples=[ex.BLOCK],
    )
    def retrieve(self, request, ident: str):
        self.query(request)
        block = block_or_404(ident)
        block._finality = anchoring.block_finality(block.number)
        block._integrity = blocks.integrity_issues(block)  # written with the block: never changes
        final = block.canonical and block._finality.superfinal
        return cached_response(request, s.BlockDetailSerializer(block).data, final=final)

    @extend_schema(
        summary="A block's transactions, in block order",
        parameters=[BLOCK_IDENT, *paging_parameters()],
        responses={200: page_of(s.TransactionSerializer), **ERRORS},
        examples=[ex.TRANSACTION_PAGE],
    )
    @action(detail=True)
    def transactions(self, request, ident: str):
        q = self.query(request, paged=True)
        block = block_or_404(ident)
        page = blocks.block_transactions(block, page_request(q, blocks.BLOCK_TXS))
        return Response(body_of(request, page, s.TransactionSerializer))

    @extend_schema(
        summary="Bitcoin finality of a Hemi block",
        description="Its keystone, the first Bitcoin PoP publication anchoring it (its own keystone's or a "
        "descendant's), confirmations and superfinality (>= 10), and the legacy `btc_finality`.",
        parameters=[BLOCK_IDENT],
        responses={200: FinalitySerializer, **ERRORS},
        examples=[ex.FINALITY],
    )
    @action(detail=True)
    def finality(self, request, ident: str):
        self.query(request)
        block = block_or_404(ident)
        return Response(FinalitySerializer(anchoring.block_finality(block.number)).data)


class TransactionViewSet(ReadOnlyApi):
    lookup_field = "hash"

    @extend_schema(
        summary="One Hemi transaction",
        description="Fee including the OP-stack L1 data fee; 0x7C/0x7D/0x7E envelopes decoded; input decoded "
        "for the ABIs we know; up to 50 token transfers; hemiBTC mints. Cached like its block.",
        parameters=[TX_HASH],
        responses={200: s.TransactionDetailSerializer, **ERRORS},
        examples=[ex.TRANSACTION],
    )
    def retrieve(self, request, hash: str):
        self.query(request)
        tx = tx_or_404(hash)
        detail = transactions.transaction_detail(tx, with_logs=False, transfer_limit=TRANSFERS_INLINE)
        final = tx.canonical and tx.block.canonical and anchoring.block_finality(tx.block.number).superfinal
        return cached_response(request, s.TransactionDetailSerializer(detail).data, final=final)

    @extend_schema(
        summary="A transaction's logs, by log index, with events decoded",
        parameters=[TX_HASH, *paging_parameters()],
        responses={200: page_of(s.LogSerializer), **ERRORS},
        examples=[ex.LOG_PAGE],
    )
    @action(detail=True)
    def logs(self, request, hash: str):
        q = self.query(request, paged=True)
        tx = tx_or_404(hash)
        page = transactions.logs(tx, page_request(q, transactions.LOGS))
        return Response(body_of(request, page, s.LogSerializer, [transactions.log_view(log) for log in page.items]))


class AddressViewSet(ReadOnlyApi):
    lookup_field = "address"

    def _known(self, address: str) -> bytes:
        raw = address_param(address)
        if addresses.get_address(raw) is None:
            raise Http404(f"address 0x{raw.hex()} has not been seen on Hemi by this indexer")
        return raw

    @extend_schema(
        summary="What we know of an address",
        parameters=[ADDRESS],
        responses={200: s.AddressSerializer, **ERRORS},
        examples=[ex.ADDRESS],
    )
    def retrieve(self, request, address: str):
        self.query(request)
        raw = address_param(address)
        known = addresses.get_address(raw)
        if known is None:
            raise Http404(f"address 0x{raw.hex()} has not been seen on Hemi by this indexer")
        known.token = tokens.get_token(raw)
        return Response(s.AddressSerializer(known).data)

    @extend_schema(
        summary="Transactions from or to the address, newest first",
        parameters=[ADDRESS, *paging_parameters()],
        responses={200: page_of(s.TransactionSerializer), **ERRORS},
        examples=[ex.TRANSACTION_PAGE],
    )
    @action(detail=True)
    def transactions(self, request, address: str):
        q = self.query(request, paged=True)
        page = addresses.transactions(self._known(address), page_request(q, addresses.TXS))
        return Response(body_of(request, page, s.TransactionSerializer))

    @extend_schema(
        summary="Token transfers from or to the address, newest first",
        parameters=[
            ADDRESS,
            *paging_parameters(),
            address_filter("token", "Only this token's transfers (a token contract address)."),
        ],
        responses={200: page_of(s.TokenTransferSerializer), **ERRORS},
        examples=[ex.TRANSFER_PAGE],
    )
    @action(detail=True, url_path="token-transfers")
    def token_transfers(self, request, address: str):
        q = self.query(request, "token", paged=True)
        raw = self._known(address)
        token_id = _token_filter(q)
        page = addresses.token_transfers(raw, page_request(q, addresses.TRANSFERS), token_id=token_id)
        return Response(body_of(request, page, s.TokenTransferSerializer))

    @extend_schema(
        summary="Non-zero token balances of the address",
        parameters=[ADDRESS, *paging_parameters()],
        responses={200: page_of(s.TokenBalanceSerializer), **ERRORS},
        examples=[ex.BALANCE_PAGE],
    )
    @action(detail=True, url_path="token-balances")
    def token_balances(self, request, address: str):
        q = self.query(request, paged=True)
        page = addresses.balances(self._known(address), page_request(q, addresses.BALANCES))
        return Response(body_of(request, page, s.TokenBalanceSerializer))


def _token_filter(q) -> int | None:
    """``?token=0x...``: a token we index (a 400 naming ``token`` otherwise)."""
    raw = hex_param(q, "token", 20)
    if raw is None:
        return None
    token = tokens.get_token(raw)
    if token is None:
        raise BadParameter(f"token: 0x{raw.hex()} is not a token this indexer has seen")
    return token.id


class TokenViewSet(ReadOnlyApi):
    lookup_field = "address"

    @extend_schema(
        summary="Tokens, newest first seen",
        parameters=paging_parameters(),
        responses={200: page_of(s.TokenSerializer), **LIST_ERRORS},
        examples=[ex.TOKEN_PAGE],
    )
    def list(self, request):
        q = self.query(request, paged=True)
        return Response(body_of(request, tokens.list_tokens(page_request(q, tokens.LIST)), s.TokenSerializer))

    @extend_schema(
        summary="One token, with bounded holder and transfer counts",
        parameters=[TOKEN],
        responses={200: s.TokenDetailSerializer, **ERRORS},
        examples=[ex.TOKEN],
    )
    def retrieve(self, request, address: str):
        self.query(request)
        token = token_or_404(address)
        token.holders_count, token.holders_count_capped = tokens.holder_count(token)
        token.transfers_count, token.transfers_count_capped = tokens.transfer_count(token)
        token.is_hemibtc = tokens.is_hemibtc(token)
        return Response(s.TokenDetailSerializer(token).data)

    @extend_schema(
        summary="Holders with a non-zero balance, in the order they first held it",
        parameters=[TOKEN, *paging_parameters()],
        responses={200: page_of(s.TokenHolderSerializer), **ERRORS},
        examples=[ex.HOLDER_PAGE],
    )
    @action(detail=True)
    def holders(self, request, address: str):
        q = self.query(request, paged=True)
        page = tokens.holders(token_or_404(address), page_request(q, tokens.HOLDERS))
        return Response(body_of(request, page, s.TokenHolderSerializer))

    @extend_schema(
        summary="The token's transfers, newest first",
        parameters=[TOKEN, *paging_parameters(), address_filter("address", "Only transfers from or to this address.")],
        responses={200: page_of(s.TokenTransferSerializer), **ERRORS},
        examples=[ex.TRANSFER_PAGE],
    )
    @action(detail=True)
    def transfers(self, request, address: str):
        q = self.query(request, "address", paged=True)
        token = token_or_404(address)
        holder = hex_param(q, "address", 20)
        if holder is None:
            page = tokens.transfers(token, page_request(q, tokens.TRANSFERS))
        else:
            page = addresses.token_transfers(holder, page_request(q, addresses.TRANSFERS), token_id=token.id)
        return Response(body_of(request, page, s.TokenTransferSerializer))


def keystone_or_404(ident: str):
    if len(ident) == 64:
        keystone = keystones.keystone_by_id(parse_hex(ident, 32, "ident: a keystone id")[::-1])
    elif digits(ident) and len(ident) <= 18:
        keystone = keystones.get_keystone(int(ident))
    else:
        raise BadParameter(f"ident: a keystone number or a 64-hex keystone id (display order), got {ident[:80]!r}")
    if keystone is None:
        raise Http404(f"keystone {ident[:80]} is not indexed (yet)")
    return keystone


class KeystoneViewSet(ReadOnlyApi):
    lookup_field = "ident"

    @extend_schema(
        summary="Canonical keystones, newest first, with finality",
        parameters=[*paging_parameters(), *range_parameters("from_block", "to_block", "keystone number")],
        responses={200: page_of(s.KeystoneSerializer), **LIST_ERRORS},
        examples=[ex.KEYSTONE_PAGE],
    )
    def list(self, request):
        q = self.query(request, "from_block", "to_block", paged=True)
        page = keystones.list_keystones(page_request(q, keystones.LIST), numbers=ranges(q, "from_block", "to_block"))
        return Response(body_of(request, page, s.KeystoneSerializer))

    @extend_schema(
        summary="One keystone: finality and alternate-chain alerts",
        parameters=[KEYSTONE],
        responses={200: s.KeystoneDetailSerializer, **ERRORS},
        examples=[ex.KEYSTONE],
    )
    def retrieve(self, request, ident: str):
        self.query(request)
        keystone = keystone_or_404(ident)
        row = KeystoneRow(keystone, anchoring.block_finality(keystone.number))
        data = s.KeystoneDetailSerializer({**vars_of(row), "alerts": keystones.alerts_for(keystone)}).data
        return Response(data)

    @extend_schema(
        summary="Every Bitcoin PoP publication of exactly this keystone",
        parameters=[KEYSTONE, *paging_parameters()],
        responses={200: page_of(PopPublicationSerializer), **ERRORS},
        examples=[ex.POP_PAGE],
    )
    @action(detail=True)
    def publications(self, request, ident: str):
        q = self.query(request, paged=True)
        page = keystones.publications(keystone_or_404(ident), page_request(q, keystones.PUBLICATIONS))
        return Response(body_of(request, page, PopPublicationSerializer))


def vars_of(row: KeystoneRow) -> dict:
    return {"keystone": row.keystone, "finality": row.finality}
