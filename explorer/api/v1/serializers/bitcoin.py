"""Bitcoin resources: blocks (Esplora's field names), the transactions we store, PoP
publications. Every hash is in DISPLAY byte order; the schema says so on each field."""

from __future__ import annotations

from rest_framework import serializers

from explorer.api.v1.fields import BitcoinHashDisplay, EvmAddress, HexBytes, Sats, Uint256


class BitcoinBlockSerializer(serializers.Serializer):
    id = BitcoinHashDisplay(source="hash_internal", help_text="Block hash, display order (Esplora's `id`).")
    height = serializers.IntegerField()
    version = serializers.IntegerField()
    timestamp = serializers.IntegerField(source="time", help_text="Header time, unix seconds (as Esplora).")
    bits = serializers.IntegerField()
    nonce = serializers.IntegerField()
    merkle_root = BitcoinHashDisplay(source="merkle_root_internal")
    previousblockhash = BitcoinHashDisplay(source="prev_hash_internal")
    chainwork = Uint256(help_text="Cumulative proof of work through this block.")
    in_best_chain = serializers.BooleanField(source="in_active_chain")
    tx_count = serializers.IntegerField(allow_null=True, help_text="Null until the body was scanned.")
    size = serializers.IntegerField(allow_null=True, help_text="Bytes; null until the body was scanned.")


class PopPublicationSerializer(serializers.Serializer):
    txid = BitcoinHashDisplay(source="transaction.txid_internal")
    vout = serializers.IntegerField()
    block_hash = BitcoinHashDisplay(source="block.hash_internal")
    block_height = serializers.IntegerField(source="block.height")
    in_best_chain = serializers.BooleanField(source="block.in_active_chain")
    format = serializers.ChoiceField(choices=["v1", "legacy"])
    keystone_id = BitcoinHashDisplay(source="keystone_id_internal", help_text="dsha256 of the payload, display order.")
    l2_block_number = serializers.IntegerField(help_text="The published keystone's Hemi block number.")
    l1_block_number = serializers.IntegerField(allow_null=True, help_text="Absent from the legacy format: null.")
    payload = HexBytes(help_text="The bytes after the `HEMI` magic.")
    parent_ep_hash_prefix = HexBytes()
    prev_keystone_ep_hash_prefix = HexBytes()
    state_root = HexBytes()
    ep_hash_prefix = HexBytes()
    miner_pubkey = HexBytes(allow_null=True)
    miner_hemi_address = EvmAddress(allow_null=True)


class DepositRoleSerializer(serializers.Serializer):
    vout = serializers.IntegerField()
    value = Sats(source="value_sats")
    vault = EvmAddress(source="vault.vault_address")
    recipient = EvmAddress(allow_null=True, help_text="From the OP_RETURN; null when none is valid.")


class PayoutRoleSerializer(serializers.Serializer):
    vault = EvmAddress(source="vault.vault_address")
    withdrawal_index = serializers.IntegerField()
    value = Sats(source="amount_sats")
    scriptpubkey = HexBytes(source="payout_script")


class BitcoinTransactionSerializer(serializers.Serializer):
    txid = BitcoinHashDisplay(source="txid_internal")
    block_hash = BitcoinHashDisplay(source="block.hash_internal")
    block_height = serializers.IntegerField(source="block.height")
    block_time = serializers.IntegerField(source="block.time")
    position = serializers.IntegerField(source="tx_index", help_text="Index in the block.")
    in_best_chain = serializers.BooleanField(source="block.in_active_chain")


class BitcoinTransactionDetailSerializer(BitcoinTransactionSerializer):
    pop_publications = PopPublicationSerializer(many=True, source="roles.pop")
    deposit = DepositRoleSerializer(allow_null=True, source="roles.deposit", help_text="A tunnel deposit.")
    payout = PayoutRoleSerializer(allow_null=True, source="roles.payout", help_text="A withdrawal payout.")
