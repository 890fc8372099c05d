"""What every API view shares: read-only, declared query parameters, paged bodies, error
schemas, and HTTP caching for immutable resources."""

from __future__ import annotations

import hashlib

from django.utils.cache import get_conditional_response, patch_cache_control
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse
from rest_framework import viewsets
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from explorer.api.v1.paging import check_known
from explorer.api.v1.serializers.common import ErrorSerializer

PAGING = frozenset({"cursor", "limit"})

# Documented on every operation: what a client can get besides a 200.
_ERROR = ErrorSerializer
ERRORS = {
    400: OpenApiResponse(_ERROR, description="A malformed parameter; `error` names it."),
    404: OpenApiResponse(_ERROR, description="Nothing indexed under that identifier (yet)."),
    429: OpenApiResponse(_ERROR, description="Throttled: retry after the `Retry-After` seconds."),
}
LIST_ERRORS = {400: ERRORS[400], 429: ERRORS[429]}


def path_param(name: str, pattern: str, description: str, example: str) -> OpenApiParameter:
    return OpenApiParameter(
        name,
        {"type": "string", "pattern": pattern},
        OpenApiParameter.PATH,
        description=description,
        examples=[OpenApiExample(name, value=example)],
    )


# Identifiers as the paths take them.
BLOCK_IDENT = path_param(
    "ident", r"^([0-9]{1,18}|0x[0-9a-fA-F]{64})$", "A Hemi block number, or its hash (0x-hex).", "12"
)
TX_HASH = path_param("hash", r"^0x[0-9a-fA-F]{64}$", "A Hemi transaction hash (0x-hex, EVM order).", "0x" + "ab" * 32)
ADDRESS = path_param("address", r"^0x[0-9a-fA-F]{40}$", "A Hemi address (0x-hex).", "0x" + "c0" * 20)
TOKEN = path_param("address", r"^0x[0-9a-fA-F]{40}$", "A token contract address (0x-hex).", "0x" + "aa" * 20)
KEYSTONE = path_param(
    "ident",
    r"^([0-9]{1,18}|[0-9a-fA-F]{64})$",
    "A keystone number (a multiple of 25), or its keystone id in DISPLAY byte order (64 hex).",
    "25",
)
BTC_BLOCK = path_param(
    "ident",
    r"^([0-9]{1,10}|[0-9a-fA-F]{64})$",
    "A Bitcoin height (active chain), or a block hash in DISPLAY byte order (64 hex, no 0x).",
    "101",
)
TXID = path_param("txid", r"^[0-9a-fA-F]{64}$", "A Bitcoin txid in DISPLAY byte order (64 hex, no 0x).", "ab" * 32)
BLOCK_NUMBER = path_param("number", r"^[0-9]{1,18}$", "A Hemi block number.", "12")


class ReadOnlyApi(viewsets.ViewSet):
    # GET (and HEAD/OPTIONS) only: anything else is a JSON 405 from DRF. (A comment, not a
    # docstring: drf-spectacular would show a docstring as every operation's description.)

    http_method_names = ["get", "head", "options"]
    lookup_value_regex = "[^/]+"

    def query(self, request, *allowed: str, paged: bool = False):
        names = set(allowed) | (PAGING if paged else set())
        check_known(request.query_params, names)
        return request.query_params


# --- HTTP caching ---------------------------------------------------------------------------------
# "Final" is Hemi's own notion: SUPERFINAL (the block's keystone, or a descendant's, published on
# Bitcoin with >= 10 confirmations). Undoing such a block takes a Bitcoin reorg 10 blocks deep,
# so its body is cached for a day. Anything younger may still be reorged out: clients revalidate
# every time (the ETag makes that a cheap 304).
FINAL_MAX_AGE = 86_400


def cached_response(request, data, *, final: bool) -> Response:
    """A 200 with a strong ETag over the exact JSON bytes; 304 when the client has them."""
    body = JSONRenderer().render(data)
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    not_modified = get_conditional_response(request._request, etag=etag)
    if not_modified is not None:
        response = Response(status=304)
    else:
        response = Response(data)
    response["ETag"] = etag
    if final:
        patch_cache_control(response, public=True, max_age=FINAL_MAX_AGE, immutable=True)
    else:
        patch_cache_control(response, no_cache=True)
    return response
