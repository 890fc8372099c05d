"""Bitcoin rows. Every hash column holds INTERNAL byte order (raw double-SHA256 output); the
``*_display`` properties give the reversed hex that explorers show.

Rows of blocks that leave the active chain are kept and marked (``BitcoinBlock.in_active_chain``
is False and ``orphaned_at`` set): auditors may have linked to them, and a PoP publication or
deposit in an orphaned block is exactly what the provenance view must be able to explain.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class BitcoinBlockQuerySet(models.QuerySet):
    def active(self):
        return self.filter(in_active_chain=True)


class BitcoinBlock(models.Model):
    """One Bitcoin header (all of them from the network's start height), body scan status."""

    hash_internal = models.BinaryField(max_length=32, unique=True)
    height = models.IntegerField()
    prev_hash_internal = models.BinaryField(max_length=32)
    merkle_root_internal = models.BinaryField(max_length=32)
    version = models.BigIntegerField()  # int32 as Bitcoin Core reads it (may be negative)
    time = models.BigIntegerField()
    bits = models.BigIntegerField()
    nonce = models.BigIntegerField()
    header_raw = models.BinaryField(max_length=80)
    # Cumulative proof of work up to and including this block (uint256).
    chainwork = models.DecimalField(max_digits=78, decimal_places=0)
    in_active_chain = models.BooleanField(default=True)
    orphaned_at = models.DateTimeField(null=True, blank=True)
    # Filled when the block body was fetched and scanned for PoP/tunnel transactions.
    tx_count = models.IntegerField(null=True, blank=True)
    size = models.IntegerField(null=True, blank=True)
    scanned_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = BitcoinBlockQuerySet.as_manager()

    class Meta:
        constraints = [
            # At most one active block per height: the invariant the reorg walk-back maintains.
            models.UniqueConstraint(
                fields=["height"], condition=Q(in_active_chain=True), name="btc_one_active_per_height"
            ),
        ]
        indexes = [models.Index(fields=["height"], name="btc_block_height")]

    @property
    def hash_display(self) -> str:
        return bytes(self.hash_internal)[::-1].hex()

    @property
    def prev_hash_display(self) -> str:
        return bytes(self.prev_hash_internal)[::-1].hex()

    def __str__(self) -> str:
        return f"bitcoin block {self.height} {self.hash_display}"


class BitcoinTransaction(models.Model):
    """A transaction Hemiscope keeps (PoP, tunnel deposit or withdrawal payout), with the
    evidence needed to prove it offline: its raw bytes and its merkle branch in its block."""

    block = models.ForeignKey(BitcoinBlock, on_delete=models.CASCADE, related_name="transactions")
    txid_internal = models.BinaryField(max_length=32)
    tx_index = models.IntegerField()
    raw = models.BinaryField()
    # Concatenated 32-byte sibling hashes, leaf to root (internal order).
    merkle_branch = models.BinaryField()
    # The outputs its inputs spend, in input order, each serialized as in a transaction (8-byte
    # value, script length, script): fee and Esplora's ``vin[].prevout``. NULL until fetched
    # from the source (``indexer.bitcoin.prevouts``); empty for a coinbase.
    prevouts = models.BinaryField(null=True)
    # Set when the source could not serve a spent output (a node without a tx index): not
    # asked again, and the API says the prevouts are unknown rather than guessing.
    prevouts_unavailable_at = models.DateTimeField(null=True)

    class Meta:
        constraints = [
            # The same txid may appear in two blocks across a reorg, never twice in one block.
            models.UniqueConstraint(fields=["block", "txid_internal"], name="btc_tx_unique_in_block"),
        ]
        indexes = [
            models.Index(fields=["txid_internal"], name="btc_tx_txid"),
            # prevouts.fill_missing: the few rows still waiting for their spent outputs.
            models.Index(
                fields=["id"],
                name="btc_tx_prevouts_todo",
                condition=Q(prevouts__isnull=True, prevouts_unavailable_at__isnull=True),
            ),
        ]

    @property
    def txid_display(self) -> str:
        return bytes(self.txid_internal)[::-1].hex()

    def merkle_branch_nodes(self) -> list[bytes]:
        raw = bytes(self.merkle_branch)
        return [raw[i : i + 32] for i in range(0, len(raw), 32)]


class PopPublication(models.Model):
    """One PoP output: a keystone abbreviation published on Bitcoin (``HEMI`` + payload)."""

    FORMAT_V1 = "v1"
    FORMAT_LEGACY = "legacy"
    FORMATS = [(FORMAT_V1, "76-byte keystone (v1)"), (FORMAT_LEGACY, "73-byte legacy header")]

    transaction = models.ForeignKey(BitcoinTransaction, on_delete=models.CASCADE, related_name="pop_outputs")
    block = models.ForeignKey(BitcoinBlock, on_delete=models.CASCADE, related_name="pop_publications")
    vout = models.IntegerField()
    format = models.CharField(max_length=8, choices=FORMATS)
    payload = models.BinaryField(max_length=76)  # the abbreviation bytes after "HEMI"
    keystone_id_internal = models.BinaryField(max_length=32)  # dsha256(payload), internal order
    l1_block_number = models.BigIntegerField(null=True)  # absent in the legacy format
    l2_block_number = models.BigIntegerField()
    parent_ep_hash_prefix = models.BinaryField(max_length=12)
    prev_keystone_ep_hash_prefix = models.BinaryField(max_length=12)
    state_root = models.BinaryField(max_length=32)
    ep_hash_prefix = models.BinaryField(max_length=12)
    miner_pubkey = models.BinaryField(max_length=33, null=True)
    miner_hemi_address = models.BinaryField(max_length=20, null=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["transaction", "vout"], name="btc_pop_unique_output")]
        indexes = [
            # Matching looks publications up by keystone id and by L2 number (alternate-chain alerts).
            models.Index(fields=["keystone_id_internal"], name="btc_pop_keystone"),
            models.Index(fields=["l2_block_number"], name="btc_pop_l2_number"),
        ]

    @property
    def keystone_id_display(self) -> str:
        return bytes(self.keystone_id_internal)[::-1].hex()


class KeystoneFirstPublication(models.Model):
    """Per keystone id, the first publication on the ACTIVE Bitcoin chain (lowest height, then
    lowest tx index and vout). Recomputed for the affected ids after every reorg."""

    keystone_id_internal = models.BinaryField(max_length=32, unique=True)
    publication = models.ForeignKey(PopPublication, on_delete=models.CASCADE, related_name="+")
    height = models.IntegerField()
    l2_block_number = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["l2_block_number"], name="btc_first_pub_l2")]


class VaultScript(models.Model):
    """A tunnel vault's Bitcoin custody script, learned from the Hemi side (VaultCreated +
    ``eth_call``). Deposit detection looks outputs up in this table."""

    vault_address = models.BinaryField(max_length=20, unique=True)
    vault_index = models.IntegerField()
    custody_script = models.BinaryField()
    custody_address = models.CharField(max_length=100, blank=True)
    discovered_at_hemi_block = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["custody_script"], name="btc_vault_script")]


class TunnelDeposit(models.Model):
    """A Bitcoin transaction that pays a vault under the tunnel's rules (first 8 outputs)."""

    transaction = models.ForeignKey(BitcoinTransaction, on_delete=models.CASCADE, related_name="deposits")
    block = models.ForeignKey(BitcoinBlock, on_delete=models.CASCADE, related_name="deposits")
    vout = models.IntegerField()
    vault = models.ForeignKey(VaultScript, on_delete=models.PROTECT, related_name="deposits")
    value_sats = models.BigIntegerField()
    recipient = models.BinaryField(max_length=20, null=True)  # None: no valid recipient OP_RETURN
    recipient_format = models.CharField(max_length=16, blank=True)  # "binary-22" / "ascii-42"

    class Meta:
        # One deposit per Bitcoin txid per block, as the tunnel credits at most one per txid.
        constraints = [models.UniqueConstraint(fields=["transaction"], name="btc_deposit_one_per_tx")]


class WithdrawalPayout(models.Model):
    """A Bitcoin transaction in which a vault pays out a withdrawal (OP_RETURN index)."""

    transaction = models.ForeignKey(BitcoinTransaction, on_delete=models.CASCADE, related_name="payouts")
    block = models.ForeignKey(BitcoinBlock, on_delete=models.CASCADE, related_name="payouts")
    vault = models.ForeignKey(VaultScript, on_delete=models.PROTECT, related_name="payouts")
    withdrawal_index = models.BigIntegerField()
    payout_script = models.BinaryField()
    amount_sats = models.BigIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["transaction"], name="btc_payout_one_per_tx")]


class VaultUtxo(models.Model):
    """An output paying a vault's custody script (a deposit, a payout's change, any payment).

    Withdrawal-payout detection needs to know which outpoints belong to a vault: a payout is a
    transaction whose single input spends one of these. Rows are per block, like everything
    else here, so a reorg needs no undo: lookups only count rows whose block is active.
    Spends are not recorded; a valid chain cannot spend an outpoint twice.
    """

    block = models.ForeignKey(BitcoinBlock, on_delete=models.CASCADE, related_name="vault_utxos")
    vault = models.ForeignKey(VaultScript, on_delete=models.PROTECT, related_name="utxos")
    txid_internal = models.BinaryField(max_length=32)
    vout = models.IntegerField()
    value_sats = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["block", "txid_internal", "vout"], name="btc_vault_utxo_unique"),
        ]
        # Payout detection looks spent outpoints up by txid.
        indexes = [models.Index(fields=["txid_internal"], name="btc_vault_utxo_txid")]


class VaultSpend(models.Model):
    """One input that spends a vault output: where a vault's coins leave it (or move).

    Per block like ``VaultUtxo``, so a reorg needs no undo: an output is spent at height H when
    an ACTIVE block at or below H holds a row for it. Reserve reconciliation
    (``explorer/reserves.py``) subtracts these from the vault outputs to get what a vault holds.
    """

    block = models.ForeignKey(BitcoinBlock, on_delete=models.CASCADE, related_name="vault_spends")
    transaction = models.ForeignKey(BitcoinTransaction, on_delete=models.CASCADE, related_name="vault_spends")
    input_index = models.IntegerField()
    vault = models.ForeignKey(VaultScript, on_delete=models.PROTECT, related_name="spends")
    spent_txid_internal = models.BinaryField(max_length=32)
    spent_vout = models.IntegerField()
    value_sats = models.BigIntegerField()  # the spent output's value

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["transaction", "input_index"], name="btc_vault_spend_unique"),
        ]
        # Which spend consumed an output (the reserves page links a held output to nothing, a
        # spent one to its spend).
        indexes = [models.Index(fields=["spent_txid_internal", "spent_vout"], name="btc_vault_spend_outpoint")]


class VaultOutflow(models.Model):
    """A transaction that spends vault outputs, summed: how much left, where it went, what it
    cost. One row per (transaction, vault) for the vault of its first vault input.

    ``kind``: ``payout`` (a withdrawal payout, spec 6.4), ``consolidation`` (every input and
    every paying output belongs to vaults: only the network fee leaves), ``other`` (anything
    else: coins went somewhere the tunnel's rules do not explain).
    ``network_fee_sats`` is inputs - outputs when every input is a vault's (we know all input
    values), else NULL: with foreign inputs we cannot tell who paid the fee.
    """

    PAYOUT, CONSOLIDATION, OTHER = "payout", "consolidation", "other"
    KINDS = [(PAYOUT, "withdrawal payout"), (CONSOLIDATION, "consolidation"), (OTHER, "other spend")]

    block = models.ForeignKey(BitcoinBlock, on_delete=models.CASCADE, related_name="vault_outflows")
    transaction = models.OneToOneField(BitcoinTransaction, on_delete=models.CASCADE, related_name="vault_outflow")
    vault = models.ForeignKey(VaultScript, on_delete=models.PROTECT, related_name="outflows")
    kind = models.CharField(max_length=16, choices=KINDS)
    input_count = models.IntegerField()
    vault_input_count = models.IntegerField()
    spent_sats = models.BigIntegerField()  # the vault inputs' values
    output_sats = models.BigIntegerField()  # every output of the transaction
    to_vault_sats = models.BigIntegerField()  # outputs paying a vault script (change, consolidation)
    payout_sats = models.BigIntegerField()  # output 0 of a payout, else 0
    network_fee_sats = models.BigIntegerField(null=True)

    @property
    def left_vaults_sats(self) -> int:
        """What left the vaults for good: spent minus what came back to a vault."""
        return self.spent_sats - self.to_vault_sats
