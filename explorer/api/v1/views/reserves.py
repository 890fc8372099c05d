"""``/api/v1/reserves``: the reserve equation at a position (the same terms as /reserves)."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response

from explorer import reserves
from explorer.api.v1 import examples as ex
from explorer.api.v1.serializers.reserves import ReservesSerializer
from explorer.api.v1.views.base import ERRORS, ReadOnlyApi
from explorer.params import BadParameter
from explorer.views.reserves import position_params

_INT = {"type": "integer", "minimum": 0}


class ReservesViewSet(ReadOnlyApi):
    @extend_schema(
        summary="Reserves: BTC held by the tunnel vaults vs hemiBTC total supply, with every term",
        description="held = supply + deposits not yet minted + withdrawals unpaid + deposit fees + withdrawal fees "
        "- Bitcoin network fees paid by the vaults. `status` is `balanced` when the difference is exactly zero, "
        "`shortfall` or `surplus` otherwise (both alerts). Without parameters: the newest Hemi block whose hVM "
        "view Bitcoin has indexed, and that view's height. Given one height, the other chain is paired through "
        "the hVM view. A position not indexed yet is a 404.",
        parameters=[
            OpenApiParameter("at_btc_height", _INT, description="Bitcoin height (active chain)."),
            OpenApiParameter("at_hemi_block", _INT, description="Hemi block number (canonical chain)."),
            OpenApiParameter(
                "min_confirmations",
                {"type": "integer", "minimum": 1, "default": reserves.DEFAULT_MIN_CONFIRMATIONS},
                description="Count only Bitcoin blocks with this many confirmations at the Bitcoin height.",
            ),
        ],
        responses={200: ReservesSerializer, **ERRORS},
        examples=[ex.RESERVES],
    )
    def list(self, request):
        q = self.query(request, "at_btc_height", "at_hemi_block", "min_confirmations")
        at_btc, at_hemi, k = position_params(q)
        try:
            result = reserves.newest_or_at(at_btc, at_hemi, k)
        except reserves.PositionNotIndexed as exc:
            raise Http404(str(exc)) from exc
        except reserves.ReconcileError as exc:
            raise BadParameter(str(exc)) from exc
        return Response(ReservesSerializer(result.to_dict()).data)
