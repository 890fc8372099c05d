"""``/api/v1/reserves``: the reserve equation (explorer/reserves.py ``Reconciliation.to_dict``)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from explorer.api.v1.fields import Sats


class ReservePositionSerializer(serializers.Serializer):
    btc_height = serializers.IntegerField(help_text="The Bitcoin height reconciled at (active chain).")
    hemi_block = serializers.IntegerField(help_text="The Hemi block reconciled at (canonical chain).")
    min_confirmations = serializers.IntegerField(min_value=1)
    btc_counted_to = serializers.IntegerField(
        help_text="Highest Bitcoin height whose rows count: btc_height - min_confirmations + 1."
    )
    paired = serializers.CharField(help_text="How the two heights were chosen (given, index tips, hVM view).")


class ReserveTermSerializer(serializers.Serializer):
    key = serializers.ChoiceField(
        choices=["deposits_not_yet_minted", "withdrawals_unpaid", "deposit_fees", "withdrawal_fees", "network_fees"]
    )
    label = serializers.CharField()
    sign = serializers.ChoiceField(choices=["+", "-"], help_text="How the term enters the obligations.")
    sats = Sats()
    rows = serializers.IntegerField(help_text="How many rows make up the term.")
    rows_url = serializers.CharField(help_text="The page listing those rows at this position.")
    explains = serializers.CharField()


class ReserveFindingSerializer(serializers.Serializer):
    key = serializers.ChoiceField(choices=["unbacked_mints", "unexplained_outflows", "non_deposit_inflows"])
    label = serializers.CharField()
    sats = Sats()
    rows = serializers.IntegerField()
    rows_url = serializers.CharField()
    explains = serializers.CharField()


@extend_schema_serializer(many=False)
class ReservesSerializer(serializers.Serializer):
    position = ReservePositionSerializer()
    status = serializers.ChoiceField(
        choices=["balanced", "shortfall", "surplus"],
        help_text="balanced: held = obligations exactly; shortfall: held is less; surplus: held is more, unexplained.",
    )
    complete = serializers.BooleanField(help_text="False while vault work (custody reads, rescans) is unfinished.")
    waiting_for = serializers.ListField(child=serializers.CharField())
    alert = serializers.CharField(allow_null=True, help_text="The mismatch sentence banners and /healthz show.")
    held_sats = Sats(help_text="BTC held by the vaults: their outputs not spent at the position.")
    held_rows = serializers.IntegerField()
    held_rows_url = serializers.CharField()
    supply_sats = Sats(help_text="hemiBTC total supply: mints minus burns up to the Hemi block.")
    supply_rows_url = serializers.CharField()
    terms = ReserveTermSerializer(many=True)
    obligations_sats = Sats(help_text="supply + the terms, each with its sign.")
    difference_sats = Sats(help_text="held - obligations (negative: shortfall).")
    findings = ReserveFindingSerializer(many=True, help_text="Rows that explain a difference; not in the equation.")
