"""``/api/v1/``: every resource, read-only, no trailing slashes (the paths clients already use)."""

from __future__ import annotations

from django.urls import path
from rest_framework.routers import SimpleRouter

from explorer.api.v1.views import bitcoin, hemi, misc, reports, reserves, tunnel

router = SimpleRouter(trailing_slash=False)
router.register("blocks", hemi.BlockViewSet, basename="block")
router.register("transactions", hemi.TransactionViewSet, basename="transaction")
router.register("addresses", hemi.AddressViewSet, basename="address")
router.register("tokens", hemi.TokenViewSet, basename="token")
router.register("keystones", hemi.KeystoneViewSet, basename="keystone")
router.register("pop-publications", bitcoin.PopPublicationViewSet, basename="pop-publication")
router.register("bitcoin/blocks", bitcoin.BitcoinBlockViewSet, basename="bitcoin-block")
router.register("bitcoin/transactions", bitcoin.BitcoinTransactionViewSet, basename="bitcoin-transaction")
router.register("tunnel/mints", tunnel.MintViewSet, basename="mint")
router.register("tunnel/deposits", tunnel.DepositViewSet, basename="deposit")
router.register("tunnel/withdrawals", tunnel.WithdrawalViewSet, basename="withdrawal")
router.register("provenance/mint", tunnel.MintProvenanceViewSet, basename="mint-provenance")
router.register("provenance/block", tunnel.BlockProvenanceViewSet, basename="block-provenance")
router.register("provenance/token", tunnel.TokenProvenanceViewSet, basename="token-provenance")
router.register("provenance/address", tunnel.AddressProvenanceViewSet, basename="address-provenance")
router.register("search", misc.SearchViewSet, basename="search")
router.register("status", misc.StatusViewSet, basename="status")
router.register("reserves", reserves.ReservesViewSet, basename="reserves")

app_name = "api-v1"
urlpatterns = [
    *router.urls,
    # Report jobs (POST creates one): plain views, not a read-only viewset.
    path("reports", reports.ReportCreateView.as_view(), name="reports"),
    path("reports/<uuid:job_id>", reports.ReportStatusView.as_view(), name="report"),
    path("reports/<uuid:job_id>/download", reports.ReportDownloadView.as_view(), name="report-download"),
]
