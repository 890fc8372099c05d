"""``/api/v2/``: the Blockscout v2 subset (no trailing slashes, as upstream)."""

from __future__ import annotations

from django.urls import path, re_path

from explorer.api.blockscout.views import BlockscoutApi, not_found


def _get(action: str):
    return BlockscoutApi.as_view({"get": action})


app_name = "blockscout"
urlpatterns = [
    path("blocks", _get("blocks"), name="blocks"),
    path("blocks/<str:id>", _get("block"), name="block"),
    path("blocks/<str:id>/transactions", _get("block_transactions"), name="block-transactions"),
    path("transactions/<str:hash>", _get("transaction"), name="transaction"),
    path("transactions/<str:hash>/logs", _get("transaction_logs"), name="transaction-logs"),
    path("transactions/<str:hash>/token-transfers", _get("transaction_token_transfers"), name="transaction-transfers"),
    path("addresses/<str:address>", _get("address"), name="address"),
    path("addresses/<str:address>/transactions", _get("address_transactions"), name="address-transactions"),
    path("addresses/<str:address>/token-transfers", _get("address_token_transfers"), name="address-transfers"),
    path("tokens", _get("tokens"), name="tokens"),
    path("tokens/<str:address>", _get("token"), name="token"),
    path("tokens/<str:address>/holders", _get("token_holders"), name="token-holders"),
    path("search", _get("search"), name="search"),
    path("stats", _get("stats"), name="stats"),
    path("main-page/indexing-status", _get("indexing_status"), name="indexing-status"),
    # Anything else under /api/v2/ is upstream's 404 body, not /api/v1's error shape.
    re_path(r"^.*$", not_found, name="not-found"),
]
