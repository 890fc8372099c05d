"""Hemi (EVM) rows. Hashes and addresses are raw bytes in their natural EVM order (never
reversed); amounts are exact integers in ``DecimalField(78, 0)`` (uint256 fits in 78 digits).

Reorgs mark rows instead of deleting them: ``canonical`` is False on the block and on every
row derived from it (transactions, logs, transfers, keystones, tunnel events), set in the
same transaction that walks back to the fork point.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

U256 = {"max_digits": 78, "decimal_places": 0}


class CanonicalQuerySet(models.QuerySet):
    def canonical(self):
        return self.filter(canonical=True)


class Block(models.Model):
    number = models.BigIntegerField()
    hash = models.BinaryField(max_length=32, unique=True)
    parent_hash = models.BinaryField(max_length=32)
    timestamp = models.BigIntegerField()
    miner = models.BinaryField(max_length=20)
    state_root = models.BinaryField(max_length=32)
    transactions_root = models.BinaryField(max_length=32)
    receipts_root = models.BinaryField(max_length=32)
    gas_used = models.BigIntegerField()
    gas_limit = models.BigIntegerField()
    base_fee_per_gas = models.DecimalField(null=True, **U256)
    # The full RLP header: keccak(header_rlp) == hash, checked before the row is written.
    header_rlp = models.BinaryField()
    tx_count = models.IntegerField()
    # Number of the Ethereum L1 origin block, from the block's L1-info deposit transaction.
    l1_origin_number = models.BigIntegerField(null=True)
    canonical = models.BooleanField(default=True)
    orphaned_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = CanonicalQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["number"], condition=Q(canonical=True), name="hemi_one_canonical_per_number"
            ),
        ]
        indexes = [
            models.Index(fields=["number"], name="hemi_block_number"),
            # Time windows (charts' tunnel flows, the API's from_time/to_time): at 100k blocks the
            # planner seq-scanned every block for a one-hour window (make bench-scale EXPLAIN=1).
            models.Index(fields=["timestamp"], name="hemi_block_timestamp"),
        ]

    def __str__(self) -> str:
        return f"hemi block {self.number} 0x{bytes(self.hash).hex()}"


class BlockIntegrityIssue(models.Model):
    """A re-hash check a stored block failed (``HEMI_VERIFY_STRICT`` off; see ``verify.py``).

    The block and its rows were stored as the node served them, but Hemiscope could not
    recompute what the header commits to: its pages carry an integrity alert, ``/healthz`` a
    warning, and its mints read "pending (integrity)". Rare: one row per failed check.
    """

    block = models.ForeignKey(Block, on_delete=models.CASCADE, related_name="integrity_issues")
    check_name = models.CharField(max_length=64)  # "receiptsRoot", "transaction hash", ...
    expected = models.TextField()  # what the chain says (0x-hex)
    found = models.TextField()  # what we recomputed (0x-hex), or why we could not
    tx_index = models.IntegerField(null=True)  # the transaction / receipt concerned, if one
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"block {self.block_id} {self.check_name}: expected {self.expected}, found {self.found}"


# Ingest-path tables: a ForeignKey whose column leads a composite index or unique constraint
# gets no index of its own (db_index=False) - the composite serves every lookup by it, and each
# index is one more btree insert per row (50+ rows per block).
#
# The relations of the three high-volume child tables (Transaction.block, Log.transaction/block,
# TokenTransfer.log/token/block) have no database FOREIGN KEY constraint (db_constraint=False).
# Why: PostgreSQL enforces an FK with a per-row RI trigger that probes the parent's index for every
# inserted row - measured at ~40% of the database's CPU on the ingest hot path (~10k rows per 200
# blocks). Their only writer is indexer/hemi/ingest.py, which writes a block's rows in one
# transaction with ids it drew from the sequences itself. Integrity is proven set-based instead, by
# indexer/hemi/integrity.py (``manage.py hemi_check``). They stay ForeignKeys, so joins,
# select_related and on_delete cascades (done by Django in Python) work as before.


class Transaction(models.Model):
    # Indexed by hemi_tx_position (block, index).
    # No DB FK constraint: see "Ingest-path tables" above.
    block = models.ForeignKey(
        Block, on_delete=models.CASCADE, related_name="transactions", db_index=False, db_constraint=False
    )
    hash = models.BinaryField(max_length=32)
    index = models.IntegerField()
    type = models.SmallIntegerField()  # 0,1,2,3,4; 0x7E OP deposit; 0x7C/0x7D Hemi system txs
    sender = models.BinaryField(max_length=20)
    to = models.BinaryField(max_length=20, null=True)
    value = models.DecimalField(**U256)
    nonce = models.DecimalField(null=True, **U256)
    gas = models.DecimalField(**U256)
    gas_price = models.DecimalField(null=True, **U256)
    max_fee_per_gas = models.DecimalField(null=True, **U256)
    max_priority_fee_per_gas = models.DecimalField(null=True, **U256)
    input = models.BinaryField()
    # Consensus encodings: keccak(raw) == hash; raw/receipt_raw are the trie values that
    # transactionsRoot/receiptsRoot commit to (needed for offline Merkle-Patricia proofs).
    raw = models.BinaryField()
    receipt_raw = models.BinaryField()
    status = models.SmallIntegerField(null=True)
    gas_used = models.DecimalField(**U256)
    cumulative_gas_used = models.DecimalField(**U256)
    effective_gas_price = models.DecimalField(null=True, **U256)
    contract_address = models.BinaryField(max_length=20, null=True)
    # OP-stack receipt extras: the L1 data fee the sender paid on top of gas_used x price, and
    # the inputs op-geth priced it with. NULL when the node reports none (deposits, system
    # transactions, or a node that is not OP-stack such as plain anvil).
    l1_fee = models.DecimalField(null=True, **U256)
    l1_gas_used = models.DecimalField(null=True, **U256)
    l1_gas_price = models.DecimalField(null=True, **U256)
    l1_blob_base_fee = models.DecimalField(null=True, **U256)
    l1_base_fee_scalar = models.DecimalField(null=True, **U256)
    l1_blob_base_fee_scalar = models.DecimalField(null=True, **U256)
    # Pre-Ecotone op-geth prints the scalar as a decimal string ("0.684"): kept as text, never a float.
    l1_fee_scalar_text = models.CharField(max_length=80, null=True)
    canonical = models.BooleanField(default=True)

    objects = CanonicalQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["block", "index"], name="hemi_tx_position")]
        indexes = [
            models.Index(fields=["hash"], name="hemi_tx_hash"),
            # An address's transactions, newest first, as keyset pages (explorer/queries/addresses.py):
            # (address, id) gives both the lookup and the order, so a page is one range scan.
            models.Index(fields=["sender", "id"], name="hemi_tx_sender_id"),
            models.Index(fields=["to", "id"], name="hemi_tx_to_id"),
        ]


class Log(models.Model):
    # No DB FK constraints on transaction/block: see "Ingest-path tables" above.
    transaction = models.ForeignKey(Transaction, on_delete=models.CASCADE, related_name="logs", db_constraint=False)
    # Indexed by hemi_log_position (block, log_index).
    block = models.ForeignKey(Block, on_delete=models.CASCADE, related_name="logs", db_index=False, db_constraint=False)
    log_index = models.IntegerField()
    address = models.BinaryField(max_length=20)
    topic0 = models.BinaryField(max_length=32, null=True)
    topic1 = models.BinaryField(max_length=32, null=True)
    topic2 = models.BinaryField(max_length=32, null=True)
    topic3 = models.BinaryField(max_length=32, null=True)
    data = models.BinaryField()
    canonical = models.BooleanField(default=True)

    objects = CanonicalQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["block", "log_index"], name="hemi_log_position")]
        indexes = [models.Index(fields=["address", "topic0"], name="hemi_log_address_topic")]


class Address(models.Model):
    """Every address seen as a sender, recipient, log emitter or token holder."""

    address = models.BinaryField(max_length=20, unique=True)
    first_seen_block = models.BigIntegerField()
    is_contract = models.BooleanField(default=False)


class Token(models.Model):
    ERC20 = "erc20"
    ERC721 = "erc721"
    STANDARDS = [(ERC20, "ERC-20"), (ERC721, "ERC-721")]

    address = models.BinaryField(max_length=20, unique=True)
    standard = models.CharField(max_length=8, choices=STANDARDS)
    # Token metadata is hostile input: stored as plain data, escaped by templates, never trusted.
    name = models.CharField(max_length=256, blank=True)
    symbol = models.CharField(max_length=64, blank=True)
    decimals = models.SmallIntegerField(null=True)
    total_supply = models.DecimalField(null=True, **U256)
    metadata_problems = models.TextField(blank=True)
    first_seen_block = models.BigIntegerField()
    metadata_read_at_block = models.BigIntegerField(null=True)


class TokenTransfer(models.Model):
    # No DB FK constraints on log/token/block: see "Ingest-path tables" above.
    log = models.OneToOneField(Log, on_delete=models.CASCADE, related_name="transfer", db_constraint=False)
    # Indexed by hemi_transfer_token (token, id).
    token = models.ForeignKey(
        Token, on_delete=models.CASCADE, related_name="transfers", db_index=False, db_constraint=False
    )
    block = models.ForeignKey(Block, on_delete=models.CASCADE, related_name="token_transfers", db_constraint=False)
    sender = models.BinaryField(max_length=20)
    recipient = models.BinaryField(max_length=20)
    value = models.DecimalField(null=True, **U256)  # ERC-20 amount
    nft_id = models.DecimalField(null=True, **U256)  # ERC-721 token id
    canonical = models.BooleanField(default=True)

    objects = CanonicalQuerySet.as_manager()

    class Meta:
        # Keyset pages of a token's and of an address's transfers, newest first
        # (explorer/queries/tokens.py, addresses.py); the balance recompute after a reorg looks a
        # (token, holder) pair up through the holder's index.
        indexes = [
            models.Index(fields=["token", "id"], name="hemi_transfer_token"),
            models.Index(fields=["sender", "id"], name="hemi_transfer_sender"),
            models.Index(fields=["recipient", "id"], name="hemi_transfer_recipient"),
        ]


class TokenBalance(models.Model):
    """Holder balance derived from canonical transfers; recomputed for touched holders on reorg."""

    # Indexed by hemi_balance_unique (token, holder).
    token = models.ForeignKey(Token, on_delete=models.CASCADE, related_name="balances", db_index=False)
    holder = models.BinaryField(max_length=20)
    balance = models.DecimalField(**U256)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["token", "holder"], name="hemi_balance_unique")]
        # An address page lists the holder's balances across tokens (explorer/queries/addresses.py).
        indexes = [models.Index(fields=["holder", "token"], name="hemi_balance_holder")]


class Keystone(models.Model):
    """A keystone block (number a positive multiple of 25) and its full and abbreviated forms."""

    block = models.OneToOneField(Block, on_delete=models.CASCADE, related_name="keystone")
    number = models.BigIntegerField()
    l1_block_number = models.BigIntegerField()
    parent_ep_hash = models.BinaryField(max_length=32)
    prev_ep_keystone_hash = models.BinaryField(max_length=32)
    state_root = models.BinaryField(max_length=32)
    ep_hash = models.BinaryField(max_length=32)
    abrev = models.BinaryField(max_length=76)
    keystone_id_internal = models.BinaryField(max_length=32)  # dsha256(abrev), internal order
    canonical = models.BooleanField(default=True)

    objects = CanonicalQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["number"], condition=Q(canonical=True), name="hemi_one_canonical_keystone"),
        ]
        indexes = [models.Index(fields=["keystone_id_internal"], name="hemi_keystone_id")]

    @property
    def keystone_id_display(self) -> str:
        return bytes(self.keystone_id_internal)[::-1].hex()


class HvmUpdate(models.Model):
    """An ``updateHvmState(canonicalTip, headers)`` call: the Bitcoin view a Hemi block committed to."""

    SYSTEM_TX = "system-0x7c"
    CALL = "call"

    transaction = models.OneToOneField(Transaction, on_delete=models.CASCADE, related_name="hvm_update")
    block = models.ForeignKey(Block, on_delete=models.CASCADE, related_name="hvm_updates")
    source = models.CharField(max_length=16, choices=[(SYSTEM_TX, "0x7C system tx"), (CALL, "contract call")])
    canonical_tip_internal = models.BinaryField(max_length=32)
    header_count = models.IntegerField()
    canonical = models.BooleanField(default=True)


class HvmHeader(models.Model):
    update = models.ForeignKey(HvmUpdate, on_delete=models.CASCADE, related_name="headers")
    position = models.IntegerField()
    header_raw = models.BinaryField(max_length=80)
    btc_hash_internal = models.BinaryField(max_length=32)
    prev_hash_internal = models.BinaryField(max_length=32)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["update", "position"], name="hemi_hvm_header_position")]
        indexes = [models.Index(fields=["btc_hash_internal"], name="hemi_hvm_btc_hash")]


class PopPayout(models.Model):
    """A 0x7D payout: ``mintPoPRewards`` for the keystone ``block_rewarded``."""

    transaction = models.OneToOneField(Transaction, on_delete=models.CASCADE, related_name="pop_payout")
    block = models.ForeignKey(Block, on_delete=models.CASCADE, related_name="pop_payouts")
    variant = models.CharField(max_length=16)  # "v1-uint256" / "v2-uint32"
    block_rewarded = models.BigIntegerField()
    to = models.BinaryField(max_length=20, null=True)
    canonical = models.BooleanField(default=True)


class PopPayoutEntry(models.Model):
    payout = models.ForeignKey(PopPayout, on_delete=models.CASCADE, related_name="entries")
    position = models.IntegerField()
    account = models.BinaryField(max_length=20)
    amount = models.DecimalField(null=True, **U256)  # v1: reward amount
    rel_pub_height = models.BigIntegerField(null=True)  # v2: relative publication height

    class Meta:
        constraints = [models.UniqueConstraint(fields=["payout", "position"], name="hemi_payout_entry_position")]


class Vault(models.Model):
    """A tunnel vault, from ``VaultCreated`` and ``vaults(i)`` / custody-script reads."""

    index = models.IntegerField(unique=True)
    address = models.BinaryField(max_length=20, unique=True)
    custody_script = models.BinaryField(null=True)
    custody_address = models.CharField(max_length=100, blank=True)
    created_in_block = models.BigIntegerField()


class DepositConfirmation(models.Model):
    """``DepositConfirmed``: a hemiBTC mint for a Bitcoin deposit."""

    log = models.OneToOneField(Log, on_delete=models.CASCADE, related_name="deposit_confirmation")
    transaction = models.ForeignKey(Transaction, on_delete=models.CASCADE, related_name="deposit_confirmations")
    block = models.ForeignKey(Block, on_delete=models.CASCADE, related_name="deposit_confirmations")
    vault = models.BinaryField(max_length=20)
    recipient = models.BinaryField(max_length=20)
    # The event carries the DISPLAY-order txid as bytes32; stored here in INTERNAL order so it
    # joins BitcoinTransaction.txid_internal directly.
    deposit_txid_internal = models.BinaryField(max_length=32)
    deposit_sats = models.DecimalField(**U256)
    net_sats = models.DecimalField(**U256)
    canonical = models.BooleanField(default=True)

    objects = CanonicalQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["deposit_txid_internal"], name="hemi_deposit_txid"),
            # hemiBTC received by an address -> its provenance (explorer/queries/tunnel.py).
            models.Index(fields=["recipient", "id"], name="hemi_deposit_recipient"),
        ]

    @property
    def deposit_txid_display(self) -> str:
        return bytes(self.deposit_txid_internal)[::-1].hex()


class WithdrawalInitiation(models.Model):
    log = models.OneToOneField(Log, on_delete=models.CASCADE, related_name="withdrawal_initiation")
    transaction = models.ForeignKey(Transaction, on_delete=models.CASCADE, related_name="withdrawal_initiations")
    block = models.ForeignKey(Block, on_delete=models.CASCADE, related_name="withdrawal_initiations")
    vault = models.BinaryField(max_length=20)
    withdrawer = models.BinaryField(max_length=20)
    btc_address = models.CharField(max_length=100, blank=True)  # decoded from the tx input
    btc_address_hash = models.BinaryField(max_length=32)  # the indexed-string topic
    withdrawal_sats = models.DecimalField(**U256)
    net_sats = models.DecimalField(**U256)
    uuid = models.DecimalField(**U256)
    canonical = models.BooleanField(default=True)

    objects = CanonicalQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["uuid"], name="hemi_withdrawal_uuid")]


class WithdrawalChallenge(models.Model):
    log = models.OneToOneField(Log, on_delete=models.CASCADE, related_name="withdrawal_challenge")
    block = models.ForeignKey(Block, on_delete=models.CASCADE, related_name="withdrawal_challenges")
    vault = models.BinaryField(max_length=20)
    withdrawer = models.BinaryField(max_length=20)
    uuid = models.DecimalField(**U256)
    canonical = models.BooleanField(default=True)

    objects = CanonicalQuerySet.as_manager()
