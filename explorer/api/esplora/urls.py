"""``/esplora/api/``: Esplora's paths (mempool.space serves the same under ``/api``)."""

from __future__ import annotations

from django.urls import path, re_path

from explorer.api.esplora import errors
from explorer.api.esplora.views import EsploraApi


def _get(action: str):
    return EsploraApi.as_view({"get": action})


app_name = "esplora"
urlpatterns = [
    path("blocks/tip/height", _get("tip_height"), name="tip-height"),
    path("blocks/tip/hash", _get("tip_hash"), name="tip-hash"),
    path("blocks", _get("blocks"), name="blocks"),
    path("blocks/<str:start_height>", _get("blocks_from"), name="blocks-from"),
    path("block-height/<str:height>", _get("block_height"), name="block-height"),
    path("block/<str:hash>", _get("block"), name="block"),
    path("v1/block/<str:hash>", _get("block_v1"), name="block-v1"),
    path("v1/blocks", _get("blocks_v1"), name="blocks-v1"),
    path("v1/blocks/<str:start_height>", _get("blocks_from_v1"), name="blocks-from-v1"),
    path("block/<str:hash>/header", _get("block_header"), name="block-header"),
    path("block/<str:hash>/status", _get("block_status"), name="block-status"),
    path("block/<str:hash>/raw", _get("block_raw"), name="block-raw"),
    path("tx/<str:txid>", _get("tx"), name="tx"),
    path("tx/<str:txid>/hex", _get("tx_hex"), name="tx-hex"),
    path("tx/<str:txid>/raw", _get("tx_raw"), name="tx-raw"),
    path("tx/<str:txid>/status", _get("tx_status"), name="tx-status"),
    path("tx/<str:txid>/merkle-proof", _get("tx_merkle_proof"), name="tx-merkle-proof"),
    # Anything else under the base is Esplora's plain-text 404, never the site's HTML page.
    re_path(r"^.*$", errors.not_found, name="not-found"),
]
