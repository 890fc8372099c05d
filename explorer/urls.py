from __future__ import annotations

from django.urls import path

from explorer import views

app_name = "explorer"

urlpatterns = [
    path("", views.home, name="home"),
    # The .json route must come first: <str:...> would also match the suffix.
    path("provenance/mint/<str:tx_hash>.json", views.mint_provenance_json, name="mint-provenance-json"),
    path("provenance/mint/<str:tx_hash>", views.mint_provenance, name="mint-provenance"),
    path("provenance/mint/<str:tx_hash>/evidence", views.mint_evidence, name="mint-evidence"),
    path("provenance/block/<int:number>", views.block_provenance, name="block-provenance"),
    path("provenance/token/<str:address>", views.token_provenance, name="token-provenance"),
    path("provenance/address/<str:address>", views.address_provenance, name="address-provenance"),
    path("tunnel", views.tunnel, name="tunnel"),
    path("api/v1/tunnel/withdrawals", views.withdrawals_json, name="api-withdrawals"),
    path("api/v1/provenance/mint/<str:tx_hash>", views.mint_provenance_json, name="api-mint-provenance"),
]
