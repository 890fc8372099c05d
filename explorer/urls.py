from __future__ import annotations

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from explorer.api.etherscan.views import EtherscanApi
from explorer.views import bitcoin, charts, errors, hemi, provenance, reports, reserves, search, status, tunnel

app_name = "explorer"

urlpatterns = [
    path("", status.home, name="home"),
    path("search", search.search_page, name="search"),
    path("blocks", hemi.block_list, name="blocks"),
    path("block/<str:ident>", hemi.block_detail, name="block"),
    path("tx/<str:tx_hash>", hemi.tx_detail, name="tx"),
    path("address/<str:address>", hemi.address_detail, name="address"),
    path("tokens", hemi.token_list, name="tokens"),
    path("token/<str:address>", hemi.token_detail, name="token"),
    path("keystones", hemi.keystone_list, name="keystones"),
    path("keystone/<str:ident>", hemi.keystone_detail, name="keystone"),
    path("btc/blocks", bitcoin.block_list, name="btc-blocks"),
    path("btc/block/<str:ident>", bitcoin.block_detail, name="btc-block"),
    path("btc/tx/<str:txid>", bitcoin.tx_detail, name="btc-tx"),
    path("status", status.status_page, name="status"),
    path("charts", charts.charts_page, name="charts"),
    path("charts/<str:name>.csv", charts.chart_csv, name="chart-csv"),
    # The .json route must come first: <str:...> would also match the suffix.
    path("provenance/mint/<str:tx_hash>.json", provenance.mint_provenance_json, name="mint-provenance-json"),
    path("provenance/mint/<str:tx_hash>", provenance.mint_provenance, name="mint-provenance"),
    path("provenance/mint/<str:tx_hash>/evidence", provenance.mint_evidence, name="mint-evidence"),
    path("provenance/block/<int:number>", provenance.block_provenance, name="block-provenance"),
    path("provenance/token/<str:address>", provenance.token_provenance, name="token-provenance"),
    path("provenance/address/<str:address>", provenance.address_provenance, name="address-provenance"),
    path("tunnel", tunnel.tunnel_page, name="tunnel"),
    path("reserves", reserves.reserves_page, name="reserves"),
    path("reserves/rows/<str:key>", reserves.reserve_rows, name="reserve-rows"),
    path("reports", reports.report_create, name="report-create"),
    path("reports/<uuid:pk>", reports.report_status, name="report"),
    # The REST API (DRF), its OpenAPI schema and the Swagger UI.
    path("api/v1/", include("explorer.api.v1.urls")),
    # Compatible subsets in the shapes existing clients speak (issue 18).
    path("api/v2/", include("explorer.api.blockscout.urls")),
    path("esplora/api/", include("explorer.api.esplora.urls")),
    # The Etherscan-style dialect lives at exactly /api (module/action in the query string).
    path("api", EtherscanApi.as_view(), name="etherscan-api"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="explorer:api-schema"), name="api-docs"),
]

# Last: anything else is our styled 404 (JSON under /api/), also when DEBUG is on.
catch_all = [re_path(r"^(?!static/).*$", errors.not_found, name="not-found")]
