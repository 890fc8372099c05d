"""Shapes several resources share: errors, finality, verdicts, token summaries."""

from __future__ import annotations

from rest_framework import serializers

from explorer.api.v1.fields import EvmAddress
from explorer.finality import STAGES
from explorer.verdicts import FAILED, PENDING, VERIFIED

VERDICTS = (VERIFIED, PENDING, FAILED)


class ErrorSerializer(serializers.Serializer):
    error = serializers.CharField(help_text="What was wrong; a bad parameter is named first (`cursor: ...`).")
    status = serializers.IntegerField(help_text="The HTTP status again.")


class FinalitySerializer(serializers.Serializer):
    """Where a Hemi block stands on its way to Bitcoin superfinality."""

    block_number = serializers.IntegerField()
    stage = serializers.ChoiceField(choices=STAGES)
    keystone_number = serializers.IntegerField(help_text="The keystone that covers the block (next multiple of 25).")
    keystone_produced = serializers.BooleanField()
    anchoring_keystone_number = serializers.IntegerField(
        allow_null=True, help_text="The keystone (this one or a descendant) whose publication anchors the block."
    )
    publication_height = serializers.IntegerField(
        allow_null=True, help_text="Bitcoin height of the first anchoring PoP publication on the active chain."
    )
    bitcoin_tip_height = serializers.IntegerField(source="tip_height", allow_null=True)
    effective_confirmations = serializers.IntegerField(
        source="confirmations", allow_null=True, help_text="Bitcoin tip - publication height (BFG v2 convention)."
    )
    super_finality = serializers.BooleanField(source="superfinal", help_text="effective_confirmations >= 10.")
    btc_finality = serializers.IntegerField(
        source="legacy_btc_finality", help_text="op-node's legacy value: -9 unpublished, >= 0 final, capped at 100."
    )
    waiting_for = serializers.CharField(allow_null=True, help_text="What a block that is not superfinal waits for.")


class TokenSummarySerializer(serializers.Serializer):
    address = EvmAddress()
    name = serializers.CharField(help_text="As the contract reports it: untrusted text.")
    symbol = serializers.CharField(help_text="As the contract reports it: untrusted text.")
    decimals = serializers.IntegerField(allow_null=True)
    type = serializers.ChoiceField(choices=["ERC-20", "ERC-721"], source="get_standard_display")
