"""Hemi resources: blocks, transactions, logs, addresses, tokens, keystones."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from explorer.api.v1.fields import BitcoinHashDisplay, EvmAddress, EvmHash, HexBytes, Uint256, UnixTime
from explorer.api.v1.serializers.common import FinalitySerializer, TokenSummarySerializer
from explorer.finality import STAGES


class BlockSerializer(serializers.Serializer):
    """A canonical Hemi block as the block list shows it (``BlockRow``: block, finality)."""

    height = serializers.IntegerField(source="block.number")
    hash = EvmHash(source="block.hash")
    parent_hash = EvmHash(source="block.parent_hash")
    timestamp = UnixTime(source="block.timestamp")
    miner = EvmAddress(source="block.miner")
    transactions_count = serializers.IntegerField(source="block.tx_count")
    gas_used = Uint256(source="block.gas_used")
    gas_limit = Uint256(source="block.gas_limit")
    base_fee_per_gas = Uint256(source="block.base_fee_per_gas", allow_null=True)
    l1_origin_number = serializers.IntegerField(source="block.l1_origin_number", allow_null=True)
    is_keystone = serializers.BooleanField(help_text="Its number is a multiple of 25.")
    finality = FinalitySerializer()


class IntegrityIssueSerializer(serializers.Serializer):
    check = serializers.CharField(
        source="check_name", help_text="`header hash`, `transaction hash`, `transactionsRoot`, `receiptsRoot`, ..."
    )
    expected = serializers.CharField(help_text="What the chain says (0x-hex).")
    found = serializers.CharField(help_text="What Hemiscope recomputed (0x-hex), or why it could not.")
    transaction_index = serializers.IntegerField(source="tx_index", allow_null=True)


class BlockDetailSerializer(serializers.Serializer):
    """One Hemi block. Carries no tip-relative numbers, so a superfinal block's body never
    changes (see ``/finality`` for confirmations)."""

    height = serializers.IntegerField(source="number")
    hash = EvmHash()
    parent_hash = EvmHash()
    timestamp = UnixTime()
    miner = EvmAddress()
    state_root = EvmHash()
    transactions_root = EvmHash()
    receipts_root = EvmHash()
    transactions_count = serializers.IntegerField(source="tx_count")
    gas_used = Uint256()
    gas_limit = Uint256()
    base_fee_per_gas = Uint256(allow_null=True)
    l1_origin_number = serializers.IntegerField(allow_null=True)
    canonical = serializers.BooleanField(help_text="False: reorged out (kept, marked, never deleted).")
    type = serializers.SerializerMethodField(help_text="Blockscout's name: `block`, or `reorg` once orphaned.")
    keystone_number = serializers.SerializerMethodField(help_text="The keystone covering this block.")
    finality_stage = serializers.ChoiceField(choices=STAGES, source="_finality.stage")
    super_finality = serializers.BooleanField(source="_finality.superfinal")
    integrity = IntegrityIssueSerializer(
        many=True,
        source="_integrity",
        help_text="Re-hash checks the block failed when stored (HEMI_VERIFY_STRICT off); empty: it verified. "
        "Mints in a flagged block read pending (integrity).",
    )

    def get_type(self, block) -> str:
        return "block" if block.canonical else "reorg"

    def get_keystone_number(self, block) -> int:
        return block._finality.keystone_number


class TransactionSerializer(serializers.Serializer):
    hash = EvmHash()
    block_number = serializers.IntegerField(source="block.number")
    block_hash = EvmHash(source="block.hash")
    timestamp = UnixTime(source="block.timestamp")
    position = serializers.IntegerField(source="index", help_text="Index in the block.")
    type = serializers.IntegerField(
        help_text="0-4 Ethereum types; 124 (0x7C) hVM, 125 (0x7D) PoP payout, 126 (0x7E) OP deposit."
    )
    from_ = EvmAddress(source="sender")
    to = EvmAddress(allow_null=True, help_text="Null for a contract creation.")
    created_contract = EvmAddress(source="contract_address", allow_null=True)
    value = Uint256(help_text="Wei.")
    nonce = Uint256(allow_null=True)
    gas_limit = Uint256(source="gas")
    gas_used = Uint256()
    gas_price = Uint256(allow_null=True)
    status = serializers.SerializerMethodField(help_text="Blockscout's words: `ok` (receipt status 1), `error` (0).")
    fee = serializers.SerializerMethodField(help_text="Wei paid: gas used x effective price + the L1 data fee.")
    canonical = serializers.BooleanField()

    def get_status(self, tx) -> str | None:
        return None if tx.status is None else ("ok" if tx.status == 1 else "error")

    def get_fee(self, tx) -> str | None:
        from explorer.queries.transactions import fee_of

        total = fee_of(tx).total_wei
        return None if total is None else str(total)

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")  # `from` is a Python keyword
        return fields


class DecodedParameterSerializer(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.CharField()
    value = serializers.CharField(help_text="As text: addresses and bytes 0x-hex, integers in decimal.")


class DecodedSerializer(serializers.Serializer):
    """A call or event decoded with an ABI we know (tunnel, ERC-20/721, L1Block, hVM, PoP)."""

    method_call = serializers.CharField(source="signature")
    name = serializers.CharField()
    parameters = serializers.SerializerMethodField()
    error = serializers.CharField(
        allow_null=True, help_text="Set when the selector matched but the bytes did not decode."
    )

    @extend_schema_field(DecodedParameterSerializer(many=True))
    def get_parameters(self, decoded) -> list[dict]:
        return [{"name": n, "type": t, "value": v} for n, t, v in decoded.args]


class SystemFieldSerializer(serializers.Serializer):
    name = serializers.CharField()
    value = serializers.CharField()


class SystemFieldsSerializer(serializers.Serializer):
    """The envelope of a 0x7C (hVM Bitcoin attributes), 0x7D (PoP payout) or 0x7E (OP deposit)."""

    kind = serializers.CharField()
    values = serializers.SerializerMethodField()
    call = DecodedSerializer(allow_null=True)
    error = serializers.CharField(allow_null=True)

    @extend_schema_field(SystemFieldSerializer(many=True))
    def get_values(self, system) -> list[dict]:
        return [{"name": n, "value": v} for n, v in system.rows]


class TokenTransferInlineSerializer(serializers.Serializer):
    log_index = serializers.IntegerField(source="log.log_index")
    token = TokenSummarySerializer()
    from_ = EvmAddress(source="sender")
    to = EvmAddress(source="recipient")
    value = Uint256(allow_null=True, help_text="ERC-20 amount in the token's smallest unit.")
    token_id = Uint256(source="nft_id", allow_null=True, help_text="ERC-721 token id.")

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields


class MintLinkSerializer(serializers.Serializer):
    log_index = serializers.IntegerField(source="log.log_index")
    deposit_txid = BitcoinHashDisplay(source="deposit_txid_internal")
    provenance = serializers.SerializerMethodField(help_text="Path of the mint's provenance in this API.")

    def get_provenance(self, mint) -> str:
        return "/api/v1/provenance/mint/0x" + bytes(mint.transaction.hash).hex()


class FeeSerializer(serializers.Serializer):
    execution = Uint256(source="execution_wei", allow_null=True, help_text="gas used x effective gas price (wei).")
    l1 = Uint256(source="l1_wei", allow_null=True, help_text="OP-stack L1 data fee from the receipt (wei).")
    total = Uint256(source="total_wei", allow_null=True, help_text="execution + l1 (wei).")


class TransactionDetailSerializer(TransactionSerializer):
    """One transaction (``TransactionDetail``). No tip-relative numbers: a transaction in a
    superfinal block has a body that never changes."""

    type_name = serializers.CharField()
    max_fee_per_gas = Uint256(allow_null=True)
    max_priority_fee_per_gas = Uint256(allow_null=True)
    effective_gas_price = Uint256(allow_null=True)
    cumulative_gas_used = Uint256()
    fees = FeeSerializer(help_text="The fee split: execution and the L1 data fee.")
    l1_fee = Uint256(allow_null=True, help_text="Receipt `l1Fee` (wei).")
    l1_gas_used = Uint256(allow_null=True)
    l1_gas_price = Uint256(allow_null=True)
    l1_blob_base_fee = Uint256(allow_null=True)
    l1_base_fee_scalar = Uint256(allow_null=True)
    l1_blob_base_fee_scalar = Uint256(allow_null=True)
    l1_fee_scalar = serializers.CharField(
        source="l1_fee_scalar_text", allow_null=True, help_text="Pre-Ecotone decimal text."
    )
    raw_input = HexBytes(source="input")
    decoded_input = DecodedSerializer(allow_null=True)
    system_fields = SystemFieldsSerializer(allow_null=True, source="system")
    token_transfers = TokenTransferInlineSerializer(many=True, source="transfers", help_text="At most 50.")
    token_transfers_overflow = serializers.BooleanField(
        source="transfers_overflow", help_text="More than 50 transfers: page them by log."
    )
    mints = MintLinkSerializer(many=True, help_text="hemiBTC mints (DepositConfirmed) in this transaction.")

    def to_representation(self, detail):
        # The row's own fields come from detail.tx; the decoded parts from the detail.
        return super().to_representation(_Merged(detail))


class _Merged:
    """Attribute lookup on a TransactionDetail first, then on its transaction row."""

    def __init__(self, detail):
        self._detail = detail

    def __getattr__(self, name):
        if name == "fees":
            return self._detail.fee
        if hasattr(self._detail, name):
            return getattr(self._detail, name)
        return getattr(self._detail.tx, name)


class LogSerializer(serializers.Serializer):
    index = serializers.IntegerField(source="log.log_index", help_text="Log index in the block.")
    address = EvmAddress(source="log.address")
    topics = serializers.SerializerMethodField()
    data = HexBytes(source="log.data")
    decoded = DecodedSerializer(allow_null=True)

    @extend_schema_field({"type": "array", "items": {"type": "string", "pattern": r"^0x[0-9a-f]{64}$"}, "maxItems": 4})
    def get_topics(self, view) -> list[str]:
        log = view.log
        return ["0x" + bytes(t).hex() for t in (log.topic0, log.topic1, log.topic2, log.topic3) if t is not None]


class TokenTransferSerializer(TokenTransferInlineSerializer):
    transaction_hash = EvmHash(source="log.transaction.hash")
    block_number = serializers.IntegerField(source="block.number")
    timestamp = UnixTime(source="block.timestamp")
    canonical = serializers.BooleanField()


class TokenBalanceSerializer(serializers.Serializer):
    token = TokenSummarySerializer()
    value = Uint256(source="balance", help_text="In the token's smallest unit (ERC-721: how many it holds).")


class TokenHolderSerializer(serializers.Serializer):
    address = EvmAddress(source="holder")
    value = Uint256(source="balance")


class TokenSerializer(TokenSummarySerializer):
    total_supply = Uint256(allow_null=True)
    first_seen_block = serializers.IntegerField()


class TokenDetailSerializer(TokenSerializer):
    metadata_problems = serializers.CharField(help_text="Why name/symbol/decimals may be missing or odd.")
    holders_count = serializers.IntegerField(help_text="Counted up to 10 000.")
    holders_count_capped = serializers.BooleanField(help_text="True: there are more than 10 000 holders.")
    transfers_count = serializers.IntegerField(help_text="Canonical transfers, counted up to 10 000.")
    transfers_count_capped = serializers.BooleanField()
    is_hemibtc = serializers.BooleanField(help_text="The network's tunnel token (its mints have provenance).")


class AddressSerializer(serializers.Serializer):
    hash = EvmAddress(source="address")
    is_contract = serializers.BooleanField()
    first_seen_block = serializers.IntegerField()
    token = TokenSerializer(allow_null=True, help_text="Set when the address is a token contract we index.")


class KeystoneSerializer(serializers.Serializer):
    number = serializers.IntegerField(source="keystone.number", help_text="The Hemi block number (a multiple of 25).")
    keystone_id = BitcoinHashDisplay(source="keystone.keystone_id_internal")
    block_hash = EvmHash(source="keystone.block.hash")
    timestamp = UnixTime(source="keystone.block.timestamp")
    l1_block_number = serializers.IntegerField(source="keystone.l1_block_number")
    parent_ep_hash = EvmHash(source="keystone.parent_ep_hash")
    prev_ep_keystone_hash = EvmHash(source="keystone.prev_ep_keystone_hash")
    state_root = EvmHash(source="keystone.state_root")
    ep_hash = EvmHash(source="keystone.ep_hash")
    abbreviation = HexBytes(source="keystone.abrev", help_text="The 76-byte L2KeystoneAbrev PoP miners publish.")
    canonical = serializers.BooleanField(source="keystone.canonical")
    finality = FinalitySerializer()


class AlertSerializer(serializers.Serializer):
    txid = BitcoinHashDisplay(source="publication.transaction.txid_internal")
    vout = serializers.IntegerField(source="publication.vout")
    bitcoin_block_height = serializers.IntegerField(source="publication.block.height")
    published_keystone_id = BitcoinHashDisplay(source="publication.keystone_id_internal")
    canonical_keystone_id = BitcoinHashDisplay(source="canonical_keystone.keystone_id_internal")
    keystone_number = serializers.IntegerField(source="canonical_keystone.number")


class KeystoneDetailSerializer(KeystoneSerializer):
    alerts = AlertSerializer(
        many=True, help_text="Publications naming this keystone's number with other contents (alternate chain)."
    )
