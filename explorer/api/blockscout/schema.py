"""Schema-only serializers documenting the Blockscout v2 shapes ``shapes.py`` builds (for
/api/schema/ and schemathesis' response checks). Aliases and "not indexed" are said per field."""

from __future__ import annotations

from functools import cache

from rest_framework import serializers

from explorer.api.blockscout.shapes import NOT_INDEXED

U256 = "Decimal string (uint256)."


def _alias(of: str) -> str:
    return f"Alias of `{of}` (the name Hemi's Blockscout fork v6.9.0 serves)."


def _null(field: type[serializers.Field] = serializers.CharField, **kwargs) -> serializers.Field:
    return field(allow_null=True, help_text=NOT_INDEXED, **kwargs)


class BlockscoutMessageSerializer(serializers.Serializer):
    message = serializers.CharField()


class BlockscoutAddressRefSerializer(serializers.Serializer):
    hash = serializers.CharField(help_text="EIP-55 checksummed address.")
    is_contract = serializers.BooleanField(allow_null=True)
    name = _null()
    implementations = serializers.ListField(child=serializers.DictField())
    is_verified = _null(serializers.BooleanField)
    ens_domain_name = _null()
    metadata = _null(serializers.DictField)
    private_tags = serializers.ListField(child=serializers.DictField())
    public_tags = serializers.ListField(child=serializers.DictField())
    watchlist_names = serializers.ListField(child=serializers.DictField())


class BlockscoutBlockSerializer(serializers.Serializer):
    height = serializers.IntegerField()
    hash = serializers.CharField()
    parent_hash = serializers.CharField()
    timestamp = serializers.CharField(help_text="ISO 8601, UTC.")
    transactions_count = serializers.IntegerField()
    tx_count = serializers.IntegerField(help_text=_alias("transactions_count"))
    internal_transactions_count = _null(serializers.IntegerField)
    miner = BlockscoutAddressRefSerializer()
    size = _null(serializers.IntegerField)
    difficulty = _null()
    total_difficulty = _null()
    nonce = _null()
    gas_used = serializers.CharField(help_text=U256)
    gas_limit = serializers.CharField(help_text=U256)
    base_fee_per_gas = serializers.CharField(allow_null=True, help_text=U256)
    burnt_fees = serializers.CharField(allow_null=True, help_text="base fee x gas used, wei.")
    priority_fee = _null()
    uncles_hashes = serializers.ListField(child=serializers.CharField())
    rewards = serializers.ListField(child=serializers.DictField())
    gas_target_percentage = _null(serializers.FloatField)
    gas_used_percentage = serializers.FloatField(allow_null=True)
    burnt_fees_percentage = serializers.FloatField(allow_null=True)
    type = serializers.CharField(help_text="`block`, or `reorg` once reorged out.")
    transaction_fees = serializers.CharField(allow_null=True, help_text="Its txs' execution + L1 fees, wei.")
    tx_fees = serializers.CharField(allow_null=True, help_text=_alias("transaction_fees"))
    withdrawals_count = _null(serializers.IntegerField)
    is_pending_update = serializers.BooleanField()
    btc_finality = serializers.IntegerField(
        allow_null=True, help_text="Hemi fork: op-node's legacy value (-9 unpublished, >= 0 final). Null: reorged out."
    )


class BlockscoutFeeSerializer(serializers.Serializer):
    type = serializers.CharField()
    value = serializers.CharField(allow_null=True, help_text="Execution + L1 data fee, wei.")


class BlockscoutTokenSerializer(serializers.Serializer):
    address = serializers.CharField()
    address_hash = serializers.CharField(help_text="Upstream's newer name of `address`.")
    name = serializers.CharField(allow_null=True, help_text="Hostile text: display escaped.")
    symbol = serializers.CharField(allow_null=True, help_text="Hostile text: display escaped.")
    decimals = serializers.CharField(allow_null=True)
    type = serializers.CharField()
    total_supply = serializers.CharField(allow_null=True)
    holders = serializers.CharField(allow_null=True, help_text="Stops at 10000; null in lists.")
    holders_count = serializers.CharField(allow_null=True, help_text="Upstream's newer name of `holders`.")
    exchange_rate = _null()
    volume_24h = _null()
    circulating_market_cap = _null()
    icon_url = _null()


class BlockscoutTokenTransferSerializer(serializers.Serializer):
    transaction_hash = serializers.CharField()
    tx_hash = serializers.CharField(help_text=_alias("transaction_hash"))
    to = BlockscoutAddressRefSerializer()
    total = serializers.DictField(help_text="`{decimals, value}` (ERC-20) or `{token_id}` (ERC-721).")
    token = BlockscoutTokenSerializer()
    type = serializers.CharField(help_text="`token_transfer`, `token_minting` or `token_burning`.")
    timestamp = serializers.CharField()
    block_hash = serializers.CharField()
    block_number = serializers.IntegerField()
    log_index = serializers.IntegerField()
    method = _null()

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = BlockscoutAddressRefSerializer()  # a Python keyword, so declared here
        return fields


class BlockscoutTransactionSerializer(serializers.Serializer):
    hash = serializers.CharField()
    result = serializers.CharField()
    status = serializers.CharField(allow_null=True)
    block_number = serializers.IntegerField()
    block = serializers.IntegerField(help_text=_alias("block_number"))
    block_hash = serializers.CharField()
    timestamp = serializers.CharField()
    to = BlockscoutAddressRefSerializer(allow_null=True)
    created_contract = BlockscoutAddressRefSerializer(allow_null=True)
    confirmations = serializers.IntegerField()
    confirmation_duration = _null(serializers.ListField)
    value = serializers.CharField()
    fee = BlockscoutFeeSerializer()
    l1_fee = serializers.CharField(allow_null=True, help_text="OP-stack L1 data fee, wei.")
    gas_price = serializers.CharField(allow_null=True)
    type = serializers.IntegerField()
    gas_used = serializers.CharField()
    gas_limit = serializers.CharField()
    max_fee_per_gas = serializers.CharField(allow_null=True)
    max_priority_fee_per_gas = serializers.CharField(allow_null=True)
    base_fee_per_gas = serializers.CharField(allow_null=True)
    priority_fee = serializers.CharField(allow_null=True)
    transaction_burnt_fee = serializers.CharField(allow_null=True)
    tx_burnt_fee = serializers.CharField(allow_null=True, help_text=_alias("transaction_burnt_fee"))
    nonce = serializers.IntegerField(allow_null=True)
    position = serializers.IntegerField()
    revert_reason = _null(serializers.DictField)
    raw_input = serializers.CharField()
    decoded_input = serializers.DictField(allow_null=True)
    token_transfers = BlockscoutTokenTransferSerializer(many=True, allow_null=True, help_text="Null in lists.")
    token_transfers_overflow = serializers.BooleanField()
    method = serializers.CharField(allow_null=True)
    transaction_types = serializers.ListField(child=serializers.CharField())
    tx_types = serializers.ListField(child=serializers.CharField(), help_text=_alias("transaction_types"))
    transaction_tag = _null()
    has_error_in_internal_transactions = _null(serializers.BooleanField)
    is_pending_update = serializers.BooleanField()
    actions = serializers.ListField(child=serializers.DictField())
    exchange_rate = _null()

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = BlockscoutAddressRefSerializer()
        return fields


class BlockscoutLogSerializer(serializers.Serializer):
    address = BlockscoutAddressRefSerializer()
    topics = serializers.ListField(child=serializers.CharField(allow_null=True))
    data = serializers.CharField()
    decoded = serializers.DictField(allow_null=True)
    index = serializers.IntegerField()
    transaction_hash = serializers.CharField()
    tx_hash = serializers.CharField(help_text=_alias("transaction_hash"))
    block_number = serializers.IntegerField()
    block_hash = serializers.CharField()
    smart_contract = _null(serializers.DictField)


class BlockscoutAddressSerializer(BlockscoutAddressRefSerializer):
    coin_balance = _null()
    exchange_rate = _null()
    block_number_balance_updated_at = _null(serializers.IntegerField)
    creator_address_hash = _null()
    creation_transaction_hash = _null()
    token = BlockscoutTokenSerializer(allow_null=True)
    has_tokens = _null(serializers.BooleanField)
    has_token_transfers = _null(serializers.BooleanField)
    has_logs = _null(serializers.BooleanField)


class BlockscoutHolderSerializer(serializers.Serializer):
    address = BlockscoutAddressRefSerializer()
    value = serializers.CharField()
    token_id = serializers.CharField(allow_null=True)
    token = BlockscoutTokenSerializer()


class BlockscoutSearchItemSerializer(serializers.Serializer):
    type = serializers.CharField(help_text="`block`, `transaction`, `address`, `contract` or `token`.")
    url = serializers.CharField(help_text="Hemiscope's page for the hit.")
    block_number = serializers.IntegerField(required=False)
    block_hash = serializers.CharField(required=False)
    timestamp = serializers.CharField(required=False)
    transaction_hash = serializers.CharField(required=False)
    tx_hash = serializers.CharField(required=False, help_text=_alias("transaction_hash"))
    address_hash = serializers.CharField(required=False)
    address = serializers.CharField(required=False, help_text="Older name of `address_hash`.")
    is_smart_contract_verified = serializers.BooleanField(required=False, allow_null=True)
    name = serializers.CharField(required=False, allow_null=True)
    symbol = serializers.CharField(required=False, allow_null=True)
    token_type = serializers.CharField(required=False)


class BlockscoutStatsSerializer(serializers.Serializer):
    total_blocks = serializers.CharField(allow_null=True, help_text="Canonical blocks indexed.")
    total_addresses = _null()
    total_transactions = _null()
    transactions_today = _null()
    average_block_time = serializers.FloatField(allow_null=True, help_text="Milliseconds, over the newest 100 blocks.")
    coin_price = _null()
    coin_price_change_percentage = _null()
    total_gas_used = _null()
    gas_used_today = _null()
    gas_prices = _null(serializers.DictField)
    static_gas_price = _null()
    market_cap = _null()
    network_utilization_percentage = _null(serializers.FloatField)
    tvl = _null()


class BlockscoutIndexingStatusSerializer(serializers.Serializer):
    finished_indexing_blocks = serializers.BooleanField()
    indexed_blocks_ratio = serializers.CharField(allow_null=True, help_text="Cursor / node tip, 2 decimals.")
    finished_indexing = serializers.BooleanField()
    indexed_internal_transactions_ratio = _null()


@cache
def page_of(item: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """``{items, next_page_params}`` around ``item`` (one named component per item type)."""
    return type(
        f"Blockscout{item.__name__.removeprefix('Blockscout').removesuffix('Serializer')}PageSerializer",
        (serializers.Serializer,),
        {
            "items": item(many=True),
            "next_page_params": serializers.DictField(
                allow_null=True, help_text="Pass these keys back as query parameters for the next page; null: last."
            ),
            "__module__": __name__,
        },
    )
