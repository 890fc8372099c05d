"""The tunnel (mints, deposits, withdrawals with verdicts), provenance, search and status."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from explorer.api.v1.fields import BitcoinHashDisplay, EvmAddress, EvmHash, Sats, UnixTime
from explorer.api.v1.serializers.common import VERDICTS, FinalitySerializer
from explorer.finality import STAGES
from explorer.queries.verdicts import DEPOSIT_STAGES, WITHDRAWAL_STAGES


class ComputedAtSerializer(serializers.Serializer):
    """Where both chains stood when a stored verdict was computed (all null: not judged yet)."""

    bitcoin_height = serializers.IntegerField(allow_null=True, help_text="The active Bitcoin tip's height.")
    bitcoin_hash = BitcoinHashDisplay(source="bitcoin_hash_internal", allow_null=True)
    hemi_block = serializers.IntegerField(source="hemi_number", allow_null=True, help_text="The Hemi cursor.")
    hemi_hash = EvmHash(allow_null=True)
    at = serializers.DateTimeField(source="computed_at", allow_null=True)


class StoredVerdictFields(serializers.Serializer):
    """The stored verdict of a row (``explorer.queries.verdicts``): rows are (subject, verdict)."""

    verdict = serializers.ChoiceField(choices=VERDICTS, source="verdict.verdict")
    reason = serializers.SerializerMethodField(help_text="Why it is not verified; null when verified.")
    computed_at = ComputedAtSerializer(source="verdict", help_text="The chain positions the verdict was computed at.")

    def get_reason(self, row) -> str | None:
        return row["verdict"].reason or None


class MintSerializer(StoredVerdictFields):
    """A hemiBTC mint (``DepositConfirmed``) with its stored provenance verdict (all four
    links; ``reason`` names the first link not verified). Rows are (mint, stored verdict)."""

    transaction_hash = EvmHash(source="mint.transaction.hash")
    log_index = serializers.IntegerField(source="mint.log.log_index")
    block_number = serializers.IntegerField(source="mint.block.number")
    timestamp = UnixTime(source="mint.block.timestamp")
    vault = EvmAddress(source="mint.vault")
    recipient = EvmAddress(source="mint.recipient")
    deposit_txid = BitcoinHashDisplay(source="mint.deposit_txid_internal")
    deposit_sats = Sats(source="mint.deposit_sats")
    net_sats = Sats(source="mint.net_sats", help_text="Minted: deposit_sats minus the tunnel fee.")
    canonical = serializers.BooleanField(source="mint.canonical")
    finality_stage = serializers.SerializerMethodField(help_text="The mint block's finality stage (`?stage=`).")
    provenance = serializers.SerializerMethodField(help_text="Path of the full provenance (computed live).")

    @extend_schema_field({"type": "string", "enum": list(STAGES), "nullable": True})
    def get_finality_stage(self, row):
        return row["verdict"].stage or None

    def get_provenance(self, row) -> str:
        return "/api/v1/provenance/mint/0x" + bytes(row["mint"].transaction.hash).hex()


class DepositSerializer(StoredVerdictFields):
    """A Bitcoin tunnel deposit: verified once a canonical mint credits it. Rows are (deposit,
    stored verdict)."""

    txid = BitcoinHashDisplay(source="deposit.transaction.txid_internal")
    vout = serializers.IntegerField(source="deposit.vout")
    block_hash = BitcoinHashDisplay(source="deposit.block.hash_internal")
    block_height = serializers.IntegerField(source="deposit.block.height")
    block_time = serializers.IntegerField(source="deposit.block.time", help_text="Unix seconds.")
    in_best_chain = serializers.BooleanField(source="deposit.block.in_active_chain")
    vault = EvmAddress(source="deposit.vault.vault_address")
    custody_address = serializers.CharField(source="deposit.vault.custody_address")
    value_sats = Sats(source="deposit.value_sats")
    recipient = EvmAddress(source="deposit.recipient", allow_null=True)
    stage = serializers.SerializerMethodField(help_text="`?stage=`; null when not judged yet.")
    mint_transaction_hash = EvmHash(source="verdict.mint.transaction.hash", allow_null=True)

    @extend_schema_field({"type": "string", "enum": list(DEPOSIT_STAGES), "nullable": True})
    def get_stage(self, row):
        return row["verdict"].stage or None


class WithdrawalSerializer(StoredVerdictFields):
    """A withdrawal: initiated on Hemi, paid on Bitcoin, finalized (or challenged). Rows are
    (withdrawal, stored verdict)."""

    uuid = serializers.SerializerMethodField(help_text="uint64 as a decimal string: vault index << 32 | index.")
    transaction_hash = EvmHash(source="withdrawal.transaction.hash")
    block_number = serializers.IntegerField(source="withdrawal.block.number")
    timestamp = UnixTime(source="withdrawal.block.timestamp")
    vault = EvmAddress(source="withdrawal.vault")
    withdrawer = EvmAddress(source="withdrawal.withdrawer")
    btc_address = serializers.CharField(source="withdrawal.btc_address")
    withdrawal_sats = Sats(source="withdrawal.withdrawal_sats")
    net_sats = Sats(source="withdrawal.net_sats")
    status = serializers.SerializerMethodField(
        help_text="The withdrawal's stage (`?stage=`); null when not judged yet."
    )
    evidence = serializers.DictField(source="verdict.evidence", help_text="What the verdict was judged on.")

    @extend_schema_field({"type": "string", "enum": list(WITHDRAWAL_STAGES), "nullable": True})
    def get_status(self, row):
        return row["verdict"].stage or None

    def get_uuid(self, row) -> str:
        return str(int(row["withdrawal"].uuid))


class CheckSerializer(serializers.Serializer):
    name = serializers.CharField()
    verdict = serializers.ChoiceField(choices=VERDICTS)
    detail = serializers.CharField()
    expected = serializers.CharField(allow_null=True)
    found = serializers.CharField(allow_null=True)


class LinkSerializer(serializers.Serializer):
    name = serializers.CharField()
    verdict = serializers.ChoiceField(choices=VERDICTS)
    reason = serializers.CharField(allow_null=True)
    checks = CheckSerializer(many=True)
    evidence = serializers.DictField(help_text="The rows the link was judged on (hashes in the order their key names).")


class TimelineEventSerializer(serializers.Serializer):
    stage = serializers.CharField()
    done = serializers.BooleanField()
    detail = serializers.CharField()
    timestamp = serializers.IntegerField(allow_null=True, help_text="Unix seconds.")


class ProvenanceSerializer(serializers.Serializer):
    """A trust chain: Bitcoin lock -> sequencer ordering -> Hemi block -> Bitcoin anchoring."""

    subject = serializers.CharField()
    verdict = serializers.ChoiceField(choices=VERDICTS)
    links = LinkSerializer(many=True)
    finality = FinalitySerializer(allow_null=True)
    timeline = TimelineEventSerializer(many=True)
    alerts = serializers.ListField(child=serializers.CharField())


class SearchLinkSerializer(serializers.Serializer):
    text = serializers.CharField()
    url = serializers.CharField()


class SearchHitSerializer(serializers.Serializer):
    type = serializers.CharField(source="kind", help_text="Hemi block, transaction, address, token, keystone, ...")
    label = serializers.CharField()
    url = serializers.CharField(allow_null=True, help_text="The explorer page, when the hit has one.")
    detail = serializers.CharField()
    links = serializers.SerializerMethodField()

    @extend_schema_field(SearchLinkSerializer(many=True))
    def get_links(self, hit) -> list[dict]:
        return [{"text": text, "url": url} for text, url in hit.links]


@extend_schema_serializer(many=False)  # served by a list action, but one object
class SearchSerializer(serializers.Serializer):
    query = serializers.CharField()
    items = SearchHitSerializer(many=True, source="hits")
    redirect = serializers.CharField(allow_null=True, help_text="The page of a unique hit, if it has one.")


class ChainStatusSerializer(serializers.Serializer):
    chain = serializers.ChoiceField(choices=["hemi", "bitcoin"])
    cursor_height = serializers.IntegerField(allow_null=True, help_text="Last block whose rows are all written.")
    cursor_hash = serializers.SerializerMethodField(
        help_text="Hemi: 0x-hex (EVM order). Bitcoin: display order, no 0x."
    )
    updated_at = serializers.DateTimeField(allow_null=True)
    node_tip_height = serializers.IntegerField(allow_null=True, help_text="The node's tip as a worker last read it.")
    node_tip_age_seconds = serializers.FloatField(allow_null=True)
    lag = serializers.IntegerField(allow_null=True, help_text="node_tip_height - cursor_height, when both are known.")

    @extend_schema_field({"type": "string", "nullable": True, "pattern": r"^(0x)?[0-9a-f]{64}$"})
    def get_cursor_hash(self, status):
        if status.cursor_hash is None:
            return None
        if status.chain == "bitcoin":
            return status.cursor_hash[::-1].hex()
        return "0x" + status.cursor_hash.hex()


class IndexerAlertSerializer(serializers.Serializer):
    code = serializers.CharField(
        help_text="`<chain>-wrong-chain`, `<chain>-reorg-too-deep`, `bitcoin-less-work`, `hemi-block-rejected`, "
        "`hemi-integrity` (the /healthz warning codes)."
    )
    message = serializers.CharField()
    since = serializers.DateTimeField(allow_null=True)


@extend_schema_serializer(many=False)  # served by a list action, but one object
class IndexingStatusSerializer(serializers.Serializer):
    network = serializers.CharField()
    chains = ChainStatusSerializer(many=True)
    alerts = IndexerAlertSerializer(
        many=True, help_text="What an operator must look at: indexer refusals, Hemi blocks stored unverified."
    )
