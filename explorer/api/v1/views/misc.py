"""Search and indexing status."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response

from explorer.api.v1 import examples as ex
from explorer.api.v1.serializers.tunnel import IndexingStatusSerializer, SearchSerializer
from explorer.api.v1.views.base import LIST_ERRORS, ReadOnlyApi
from explorer.queries import indexing
from explorer.queries.search import MAX_QUERY_CHARS, search


class SearchViewSet(ReadOnlyApi):
    @extend_schema(
        summary="Search: what a string names on either chain",
        description="A Hemi block number or hash, a transaction hash, an address, a token name or symbol "
        "prefix, a Bitcoin block hash or txid in either byte order, `btc:HEIGHT`, or a keystone id. "
        "No hit is an empty `items` list (200); malformed input is a 400 naming `q`.",
        parameters=[
            OpenApiParameter(
                "q",
                {"type": "string", "minLength": 1, "maxLength": MAX_QUERY_CHARS},
                required=True,
                description="What to look for.",
            )
        ],
        responses={200: SearchSerializer, **LIST_ERRORS},
        examples=[ex.SEARCH],
    )
    def list(self, request):
        q = self.query(request, "q")
        return Response(SearchSerializer(search(q.get("q"))).data)


class StatusViewSet(ReadOnlyApi):
    @extend_schema(
        summary="Indexing status: each chain's cursor, the node tip where known, the lag, and alerts",
        responses={200: IndexingStatusSerializer, **LIST_ERRORS},
        examples=[ex.STATUS],
    )
    def list(self, request):
        self.query(request)
        body = {"network": settings.HEMI_NETWORK, "chains": indexing.status(), "alerts": indexing.alerts()}
        return Response(IndexingStatusSerializer(body).data)
