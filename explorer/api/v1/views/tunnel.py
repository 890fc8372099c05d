"""The tunnel with verdicts, and provenance of a mint, block, token or address.

Lists read stored verdicts (``explorer.queries.verdicts``): keyset pages of up to 100 rows,
filtered by ``verdict`` and ``stage``. One mint's provenance is judged live."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response

from explorer import provenance
from explorer.api.v1 import examples as ex
from explorer.api.v1.paging import address_filter, hex_param, page_of, page_request, paged_body, paging_parameters
from explorer.api.v1.serializers import tunnel as s
from explorer.api.v1.views.base import ADDRESS, BLOCK_NUMBER, ERRORS, LIST_ERRORS, TOKEN, TX_HASH, ReadOnlyApi
from explorer.api.v1.views.hemi import address_param, token_or_404
from explorer.params import BadParameter, digits, parse_hex
from explorer.queries import blocks, tokens, tunnel, verdicts
from explorer.queries.cursor import Page

VERDICT_PAGING = paging_parameters()
FILTERS = ("verdict", "stage")


def filter_parameters(stages: tuple[str, ...], what: str) -> list[OpenApiParameter]:
    return [
        OpenApiParameter(
            "verdict",
            {"type": "string", "enum": list(verdicts.VERDICT_CHOICES)},
            description=f"Only {what} whose stored verdict is this one (rows not judged yet are left out).",
        ),
        OpenApiParameter("stage", {"type": "string", "enum": list(stages)}, description=f"Only {what} at this stage."),
    ]


def rows_of(name: str, items) -> list[dict]:
    return [{name: row, "verdict": verdicts.verdict_of(row)} for row in items]


def mint_page(request, page: Page) -> dict:
    return paged_body(request, s.MintSerializer(rows_of("mint", page.items), many=True).data, page.next_cursor)


class MintViewSet(ReadOnlyApi):
    @extend_schema(
        summary="hemiBTC mints with their provenance verdicts, newest first",
        parameters=[
            *VERDICT_PAGING,
            address_filter("address", "Only mints credited to this recipient."),
            *filter_parameters(verdicts.MINT_STAGES, "mints"),
        ],
        responses={200: page_of(s.MintSerializer), **LIST_ERRORS},
        examples=[ex.MINT_PAGE],
    )
    def list(self, request):
        q = self.query(request, "address", *FILTERS, paged=True)
        recipient = hex_param(q, "address", 20)
        f = verdicts.Filter.from_query(q, verdicts.MINT_STAGES)
        if recipient is None:
            page = verdicts.mints(page_request(q, verdicts.MINTS), f)
        else:
            page = verdicts.mints_to(recipient, page_request(q, verdicts.RECIPIENT_MINTS), f)
        return Response(mint_page(request, page))


class DepositViewSet(ReadOnlyApi):
    @extend_schema(
        summary="Bitcoin tunnel deposits, newest indexed first, with whether a mint credited them",
        parameters=[*VERDICT_PAGING, *filter_parameters(verdicts.DEPOSIT_STAGES, "deposits")],
        responses={200: page_of(s.DepositSerializer), **LIST_ERRORS},
        examples=[ex.DEPOSIT_PAGE],
    )
    def list(self, request):
        q = self.query(request, *FILTERS, paged=True)
        f = verdicts.Filter.from_query(q, verdicts.DEPOSIT_STAGES)
        page = verdicts.deposits(page_request(q, verdicts.DEPOSITS), f)
        rows = rows_of("deposit", page.items)
        return Response(paged_body(request, s.DepositSerializer(rows, many=True).data, page.next_cursor))


class WithdrawalViewSet(ReadOnlyApi):
    @extend_schema(
        summary="Withdrawals: initiated on Hemi, paid on Bitcoin, finalized or challenged",
        parameters=[*VERDICT_PAGING, *filter_parameters(verdicts.WITHDRAWAL_STAGES, "withdrawals")],
        responses={200: page_of(s.WithdrawalSerializer), **LIST_ERRORS},
        examples=[ex.WITHDRAWAL_PAGE],
    )
    def list(self, request):
        q = self.query(request, *FILTERS, paged=True)
        f = verdicts.Filter.from_query(q, verdicts.WITHDRAWAL_STAGES)
        page = verdicts.withdrawals(page_request(q, verdicts.WITHDRAWALS), f)
        rows = rows_of("withdrawal", page.items)
        return Response(paged_body(request, s.WithdrawalSerializer(rows, many=True).data, page.next_cursor))


class MintProvenanceViewSet(ReadOnlyApi):
    lookup_field = "hash"

    @extend_schema(
        summary="Provenance of a hemiBTC mint: four links, each with checks, verdict and evidence",
        parameters=[TX_HASH],
        responses={200: s.ProvenanceSerializer, **ERRORS},
        examples=[ex.PROVENANCE],
    )
    def retrieve(self, request, hash: str):
        self.query(request)
        tx_hash = parse_hex(hash, 32, "hash: a Hemi transaction hash")
        mint = provenance.mints_in_transaction(tx_hash).first()
        if mint is None:
            raise Http404("no hemiBTC mint (DepositConfirmed) in that transaction")
        return Response(s.ProvenanceSerializer(tunnel.mint_provenance(mint)).data)


class BlockProvenanceViewSet(ReadOnlyApi):
    lookup_field = "number"

    @extend_schema(
        summary="Provenance of any Hemi block: hash-linked to its keystone, anchored on Bitcoin",
        parameters=[BLOCK_NUMBER],
        responses={200: s.ProvenanceSerializer, **ERRORS},
        examples=[ex.BLOCK_PROVENANCE],
    )
    def retrieve(self, request, number: str):
        self.query(request)
        if not digits(number) or len(number) > 18:
            raise BadParameter(f"number: a Hemi block number, got {number[:80]!r}")
        block = blocks.get_block_by_number(int(number))
        if block is None:
            raise Http404(f"Hemi block {number} is not indexed (yet)")
        return Response(s.ProvenanceSerializer(provenance.for_block(block)).data)


class TokenProvenanceViewSet(ReadOnlyApi):
    lookup_field = "address"

    @extend_schema(
        summary="Every mint of a token, with verdicts (only the network's hemiBTC mints)",
        parameters=[TOKEN, *VERDICT_PAGING],
        responses={200: page_of(s.MintSerializer), **ERRORS},
        examples=[ex.MINT_PAGE],
    )
    def retrieve(self, request, address: str):
        q = self.query(request, paged=True)
        token = token_or_404(address)
        req = page_request(q, verdicts.MINTS)
        page = verdicts.mints(req) if tokens.is_hemibtc(token) else Page([], None)
        return Response(mint_page(request, page))


class AddressProvenanceViewSet(ReadOnlyApi):
    lookup_field = "address"

    @extend_schema(
        summary="Where an address's hemiBTC came from: every mint credited to it, with verdicts",
        parameters=[ADDRESS, *VERDICT_PAGING],
        responses={200: page_of(s.MintSerializer), **ERRORS},
        examples=[ex.MINT_PAGE],
    )
    def retrieve(self, request, address: str):
        q = self.query(request, paged=True)
        raw = address_param(address)
        page = verdicts.mints_to(raw, page_request(q, verdicts.RECIPIENT_MINTS))
        return Response(mint_page(request, page))
