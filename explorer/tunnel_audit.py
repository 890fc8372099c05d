"""Tunnel audit: link every hemiBTC mint to its Bitcoin deposit and check the tunnel's rules.

A mint is ``DepositConfirmed(vault, recipient, depositTxId, depositSats, netSatsAfterFee)`` from
the BitcoinTunnelManager. The event's txid is in display order; rows store it in internal order,
so it joins ``BitcoinTransaction.txid_internal`` directly.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, QuerySet, Subquery

from explorer.at import At, btc_exists, btc_upto, hemi_upto
from explorer.verdicts import FAILED, PENDING, VERIFIED, Check, Link
from indexer.bitcoin.models import BitcoinBlock, TunnelDeposit
from indexer.crosschain.pending import deposit_wait
from indexer.hemi.models import Block, BlockIntegrityIssue, DepositConfirmation, HvmHeader, HvmUpdate, TokenTransfer
from indexer.hemi.records import ZERO_ADDRESS

MIN_DEPOSIT_CONFIRMATIONS = 4
# The hVM-confirmations rule's answer (_hvm_confirmations) when our Bitcoin index has not
# reached the hVM's tip: not a failure of the mint, a wait for the indexer.
HVM_TIP_NOT_INDEXED = "the hVM tip is not an indexed Bitcoin block yet"
# Its answer when judging at a position (``explorer.at``) below the hVM's tip: at that
# position the tip was not indexed yet either - the same wait, named with both heights.
HVM_TIP_ABOVE_POSITION = "the hVM tip (Bitcoin height {tip}) lies above the Bitcoin height judged at ({height})"


def hex0x(raw: bytes | memoryview | None) -> str | None:
    return None if raw is None else "0x" + bytes(raw).hex()


def deposit_for(mint: DepositConfirmation, at: At | None = None) -> TunnelDeposit | None:
    """The Bitcoin deposit a mint claims, preferring one on the active chain (at or below ``at``)."""
    return (
        btc_upto(TunnelDeposit.objects.filter(transaction__txid_internal=mint.deposit_txid_internal), at)
        .select_related("transaction", "block", "vault")
        .order_by("-block__in_active_chain", "block__height")
        .first()
    )


def deposits_for(mints, at: At | None = None) -> dict[bytes, TunnelDeposit]:
    """``deposit_for`` of many mints in one query: deposit txid (internal order) -> the deposit
    ``deposit_for`` picks (DISTINCT ON keeps each txid's first row in the same order)."""
    txids = {bytes(m.deposit_txid_internal) for m in mints}
    rows = (
        btc_upto(TunnelDeposit.objects.filter(transaction__txid_internal__in=txids), at)
        .select_related("transaction__block", "block", "vault")
        .order_by("transaction__txid_internal", "-block__in_active_chain", "block__height")
        .distinct("transaction__txid_internal")
    )
    return {bytes(d.transaction.txid_internal): d for d in rows}


def _views_at_or_before(block_number) -> QuerySet:
    """Canonical hVM updates at or before a Hemi block (a number or an OuterRef), latest first."""
    return HvmUpdate.objects.filter(canonical=True, block__number__lte=block_number).order_by(
        "-block__number", "-transaction__index"
    )


def hvm_view_at(block_number: int) -> HvmUpdate | None:
    """The last canonical hVM update at or before a Hemi block: the Bitcoin view it executed in."""
    return _views_at_or_before(block_number).select_related("block").first()


def hvm_views_at(block_ids) -> dict[int, HvmUpdate]:
    """``hvm_view_at`` of the Hemi blocks with these row ids, in two queries: block number ->
    view (blocks without one are left out). One correlated subquery picks each block's view,
    as ``hvm_view_at`` would one at a time; the second query reads those updates."""
    view_ids = dict(
        Block.objects.filter(pk__in=set(block_ids))
        .annotate(view_id=Subquery(_views_at_or_before(OuterRef("number")).values("pk")[:1]))
        .values_list("number", "view_id")
    )
    views = HvmUpdate.objects.filter(pk__in={v for v in view_ids.values() if v is not None}).select_related(
        "block", "transaction__block"
    )
    by_id = {v.pk: v for v in views}
    return {number: by_id[v] for number, v in view_ids.items() if v is not None}


def _hvm_confirmations(
    deposit_block: BitcoinBlock, view: HvmUpdate | None, tip_height: int | None, relayed: bool, at: At | None
) -> tuple[int | None, str]:
    """Confirmations of the deposit's Bitcoin block in the hVM view of the mint's Hemi block.

    ``MintRows.hvm`` reads the rows for it (``view``, its tip's height, ``relayed``).

    1. Find the hVM view (last canonical updateHvmState at or before the mint block).
    2. Its canonical tip must be a Bitcoin block we know; the deposit block must have been
       relayed in a canonical update at or before the mint block.
    3. confirmations = tip height - deposit height + 1 (the hVM precompile's definition).

    At a position (``at``) whose Bitcoin height is below the hVM's tip, the tip is not indexed
    there: a wait (``HVM_TIP_ABOVE_POSITION``), as at the tips while Bitcoin indexing lags.
    """
    if view is None:
        return None, "no hVM Bitcoin view at or before the mint block"
    if tip_height is None:
        return None, HVM_TIP_NOT_INDEXED
    if not btc_exists(tip_height, at):
        return None, HVM_TIP_ABOVE_POSITION.format(tip=tip_height, height=at.btc_height)
    if not relayed:
        return None, "the deposit's Bitcoin block was never relayed into the hVM before the mint"
    return tip_height - deposit_block.height + 1, f"hVM tip {tip_height} at Hemi block {view.block.number}"


def first_relays(mints, deposits: dict[bytes, TunnelDeposit]) -> dict[bytes, HvmHeader]:
    """Bitcoin block hash (internal order) -> the first canonical hVM update relaying it, at or
    below the highest of these mints' blocks (one query; DISTINCT ON keeps each hash's earliest).
    A mint's relay is this one when it lies at or below the mint's own block - else none is
    (``MintRows.relay``)."""
    hashes = {bytes(d.block.hash_internal) for d in deposits.values()}
    if not hashes or not mints:
        return {}
    rows = (
        HvmHeader.objects.filter(
            btc_hash_internal__in=hashes,
            update__canonical=True,
            update__block__number__lte=max(m.block.number for m in mints),
        )
        .select_related("update__block", "update__transaction__block")
        .order_by("btc_hash_internal", "update__block__number", "update__transaction__index")
        .distinct("btc_hash_internal")
    )
    return {bytes(r.btc_hash_internal): r for r in rows}


@dataclass
class MintRows:
    """Every row the mint audit and the sequencer link read, for a list of mints at once: a
    fixed number of queries (9) however many mints, where one mint at a time cost about a dozen
    each - the stored-verdict sweep judges every mint of the chain, reports judge thousands.

    Built by ``read``; the accessors answer for one mint of the list. At a position (``at``:
    ``explorer.at``) deposits above its Bitcoin height and credits above its Hemi block do not
    exist, as in ``deposit_for`` and ``audit_mint``.
    """

    at: At | None
    flagged: dict[int, str]  # Hemi block row id -> integrity wait (flagged blocks only)
    deposits: dict[bytes, TunnelDeposit]  # deposit txid (internal order) -> deposit_for's pick
    views: dict[int, HvmUpdate]  # Hemi block number -> its hVM view
    tip_heights: dict[bytes, int]  # hVM view tip hash (internal order) -> indexed height
    relays: dict[bytes, HvmHeader]  # deposit block hash (internal order) -> first relay
    minted: dict[tuple[int, bytes], list[int]]  # (transaction row id, recipient) -> minted values
    credits: dict[bytes, int]  # deposit txid (internal order) -> canonical mints of it

    @classmethod
    def read(cls, mints, *, hemibtc: bytes | None = None, at: At | None = None) -> MintRows:
        mints = list(mints)
        deposits = deposits_for(mints, at)
        views = hvm_views_at(m.block_id for m in mints)
        tips = {bytes(v.canonical_tip_internal) for v in views.values()}
        transfers = TokenTransfer.objects.filter(
            log__transaction__in={m.transaction_id for m in mints}, sender=ZERO_ADDRESS, value__isnull=False
        )
        if hemibtc is not None:
            transfers = transfers.filter(token__address=hemibtc)
        minted: dict[tuple[int, bytes], list[int]] = {}
        for tx_id, recipient, value in transfers.values_list("log__transaction", "recipient", "value"):
            minted.setdefault((tx_id, bytes(recipient)), []).append(int(value))
        credits = hemi_upto(
            DepositConfirmation.objects.canonical().filter(
                deposit_txid_internal__in={bytes(m.deposit_txid_internal) for m in mints}
            ),
            at,
        )
        return cls(
            at=at,
            flagged=integrity_waits(m.block for m in mints),
            deposits=deposits,
            views=views,
            tip_heights={
                bytes(h): height
                for h, height in BitcoinBlock.objects.filter(hash_internal__in=tips).values_list(
                    "hash_internal", "height"
                )
            },
            relays=first_relays(mints, deposits),
            minted=minted,
            credits={
                bytes(txid): n
                for txid, n in credits.order_by()
                .values("deposit_txid_internal")
                .annotate(n=Count("id"))
                .values_list("deposit_txid_internal", "n")
            },
        )

    def deposit(self, mint: DepositConfirmation) -> TunnelDeposit | None:
        return self.deposits.get(bytes(mint.deposit_txid_internal))

    def relay(self, mint: DepositConfirmation) -> HvmHeader | None:
        """The first canonical hVM update relaying the deposit's block, at or below the mint's block."""
        deposit = self.deposit(mint)
        relay = None if deposit is None else self.relays.get(bytes(deposit.block.hash_internal))
        if relay is not None and relay.update.block.number > mint.block.number:
            return None  # the deposit block's first relay came after the mint
        return relay

    def view_tip_height(self, mint: DepositConfirmation) -> int | None:
        view = self.views.get(mint.block.number)
        return None if view is None else self.tip_heights.get(bytes(view.canonical_tip_internal))

    def hvm(self, mint: DepositConfirmation) -> tuple[int | None, str] | None:
        """Confirmations of the mint's deposit block in its hVM view (``_hvm_confirmations``),
        or None without a deposit."""
        deposit = self.deposit(mint)
        if deposit is None:
            return None
        view = self.views.get(mint.block.number)
        relayed = self.relay(mint) is not None
        return _hvm_confirmations(deposit.block, view, self.view_tip_height(mint), relayed, self.at)

    def minted_amount(self, mint: DepositConfirmation) -> int | None:
        """hemiBTC the mint's transaction minted to its recipient (None: no such transfer)."""
        values = self.minted.get((mint.transaction_id, bytes(mint.recipient)))
        return sum(values) if values else None

    def credit_count(self, mint: DepositConfirmation) -> int:
        return self.credits.get(bytes(mint.deposit_txid_internal), 0)


def deposit_wait_reason(mint: DepositConfirmation, at: At | None = None) -> str | None:
    """What a mint whose deposit is not found still waits for (a vault custody read, a
    Bitcoin rescan, Bitcoin indexing up to the mint's hVM view, Bitcoin heights below the
    indexed range), or None: then nothing unindexed or unfinished could reveal the deposit,
    and "unbacked" is a finding, not a guess. At a position (``at``) below the mint's hVM view,
    Bitcoin was not indexed up to that view there: the same wait."""
    view = hvm_view_at(mint.block.number)
    if at is not None and view is not None:
        seen = BitcoinBlock.objects.filter(hash_internal=view.canonical_tip_internal).values_list("height", flat=True)
        height = seen.first()
        if height is None or not btc_exists(height, at):
            tip = bytes(view.canonical_tip_internal)[::-1].hex()
            return f"Bitcoin indexing up to the mint's hVM view (block {tip}, above Bitcoin height {at.btc_height})"
    waiting = deposit_wait(bytes(mint.vault), None if view is None else bytes(view.canonical_tip_internal))
    return waiting if waiting is not None else below_indexed_range()


def lowest_creditable_height() -> int:
    """The lowest Bitcoin height a deposit the tunnel credits can lie at.

    The tunnel confirms deposits through the hVM, which only knows Bitcoin from its own
    genesis on: the preset's ``hvm_bitcoin_genesis_height`` where known (testnet, mainnet),
    else the lowest stored block the hVM was ever sent (its headers relayed in
    ``updateHvmState``), else 0 - nothing known, so any height could hold it.
    """
    from hemiscope import networks

    known = (networks.current().extra or {}).get("hvm_bitcoin_genesis_height")
    if known is not None:
        return int(known)
    relayed = (
        BitcoinBlock.objects.active()
        .filter(hash_internal__in=HvmHeader.objects.filter(update__canonical=True).values("btc_hash_internal"))
        .order_by("height")
        .values_list("height", flat=True)
        .first()
    )
    return 0 if relayed is None else relayed


def below_indexed_range() -> str | None:
    """Why a missing deposit may lie below the Bitcoin blocks this index scanned, or None.

    The deposit's txid is known, its block is not: a block we never scanned cannot support
    "unbacked". Bitcoin is scanned from the first scanned active height on (every block
    above it up to the tip, in order); if a creditable deposit could lie lower, the verdict
    waits for an operator to index those heights.
    """
    first = (
        BitcoinBlock.objects.active()
        .filter(scanned_at__isnull=False)
        .order_by("height")
        .values_list("height", flat=True)
        .first()
    )
    if not first:  # nothing scanned yet (other waits cover it), or scanned from genesis
        return None
    lowest = lowest_creditable_height()
    if lowest >= first:
        return None
    return (
        f"not indexed: the deposit may lie at Bitcoin heights {lowest}..{first - 1}, below the first height this "
        f"index scanned ({first}, BITCOIN_START_HEIGHT); index Bitcoin from height {lowest} to judge this mint"
    )


def integrity_waits(blocks) -> dict[int, str]:
    """Why nothing in a block can be judged: it was stored although re-hash checks failed
    (``HEMI_VERIFY_STRICT`` off), so its events may not be what the chain committed to. For many
    blocks in one query: block row id -> reason, for the flagged ones."""
    numbers = {b.pk: b.number for b in blocks}
    failed: dict[int, list[str]] = {}
    issues = BlockIntegrityIssue.objects.filter(block_id__in=numbers).order_by("id")
    for block_id, check in issues.values_list("block_id", "check_name"):
        failed.setdefault(block_id, []).append(check)
    return {block_id: _integrity_reason(numbers[block_id], checks[:3]) for block_id, checks in failed.items()}


def _integrity_reason(number: int, failed: list[str]) -> str | None:
    if not failed:
        return None
    return f"integrity: Hemi block {number} was stored unverified, its {', '.join(failed)} failed to recompute"


def _tip_wait(how: str) -> bool:
    prefix = HVM_TIP_ABOVE_POSITION.split("{", 1)[0]
    return how == HVM_TIP_NOT_INDEXED or how.startswith(prefix)


def confirmations_check(name: str, confirmations: int | None, how: str) -> Check:
    """The hVM-confirmations rule; a tip we have not indexed yet (or not at the position judged
    at) is pending, not failed."""
    if confirmations is None:
        return Check(name, PENDING if _tip_wait(how) else FAILED, how)
    ok = confirmations >= MIN_DEPOSIT_CONFIRMATIONS
    return Check(
        name,
        VERIFIED if ok else FAILED,
        f"{confirmations} confirmations ({how})",
        expected=f">= {MIN_DEPOSIT_CONFIRMATIONS}",
        found=str(confirmations),
    )


def audit_mint(
    mint: DepositConfirmation, *, hemibtc: bytes | None = None, at: At | None = None, rows: MintRows | None = None
) -> Link:
    """Judge one mint against its Bitcoin deposit (the "Bitcoin lock" link), at the tips or at
    ``at`` (``explorer.at``).

    ``rows``: the ``MintRows`` of a list holding this mint (read with the same ``hemibtc`` and
    ``at``), from a caller judging many; read for this mint alone when not given.
    """
    if rows is None:
        rows = MintRows.read([mint], hemibtc=hemibtc, at=at)
    checks: list[Check] = []
    deposit = rows.deposit(mint)
    evidence = {"deposit_txid": mint.deposit_txid_display, "mint_tx": hex0x(mint.transaction.hash)}
    if (flagged := rows.flagged.get(mint.block_id)) is not None:
        return Link("Bitcoin lock", (Check("Hemi block integrity", PENDING, f"pending ({flagged})"),), evidence)
    if deposit is None and (waiting := deposit_wait_reason(mint, at)) is not None:
        checks.append(
            Check(
                "deposit exists",
                PENDING,
                f"pending ({waiting})",
                expected=f"a deposit {mint.deposit_txid_display} to vault {hex0x(mint.vault)}",
                found="not yet",
            )
        )
        return Link("Bitcoin lock", tuple(checks), evidence)
    if deposit is None:
        checks.append(
            Check(
                "deposit exists",
                FAILED,
                "unbacked mint: no Bitcoin transaction with this txid pays a known vault custody script",
                expected=f"a deposit {mint.deposit_txid_display} to vault {hex0x(mint.vault)}",
                found="none",
            )
        )
        return Link("Bitcoin lock", tuple(checks), evidence)

    evidence.update(
        deposit_block=deposit.block.hash_display,
        deposit_height=deposit.block.height,
        vout=deposit.vout,
        custody_script=bytes(deposit.vault.custody_script).hex(),
    )
    checks.append(Check("deposit exists", VERIFIED, f"txid {mint.deposit_txid_display} output {deposit.vout}"))
    if deposit.block.in_active_chain:
        checks.append(Check("deposit on the active Bitcoin chain", VERIFIED, f"block {deposit.block.height}"))
    else:
        checks.append(
            Check("deposit on the active Bitcoin chain", FAILED, "the deposit's Bitcoin block was orphaned by a reorg")
        )
    vault_ok = bytes(deposit.vault.vault_address) == bytes(mint.vault)
    checks.append(
        Check(
            "custody script is the vault's",
            VERIFIED if vault_ok else FAILED,
            "deposit pays the custody script of the minting vault" if vault_ok else "deposit pays another vault",
            expected=hex0x(mint.vault),
            found=hex0x(deposit.vault.vault_address),
        )
    )
    amount_ok = int(mint.deposit_sats) == deposit.value_sats
    checks.append(
        Check(
            "deposited amount",
            VERIFIED if amount_ok else FAILED,
            "event amount equals the Bitcoin output value" if amount_ok else "event amount differs from the output",
            expected=str(deposit.value_sats),
            found=str(int(mint.deposit_sats)),
        )
    )
    minted = rows.minted_amount(mint)
    net = int(mint.net_sats)
    fee = int(mint.deposit_sats) - net
    mint_ok = minted == net and 0 <= fee < int(mint.deposit_sats)
    checks.append(
        Check(
            "amount - fee = minted",
            VERIFIED if mint_ok else FAILED,
            f"{int(mint.deposit_sats)} - fee {fee} = {net} hemiBTC sats minted"
            if mint_ok
            else "minted amount is wrong",
            expected=str(net),
            found=str(minted),
        )
    )
    recipient_ok = deposit.recipient is not None and bytes(deposit.recipient) == bytes(mint.recipient)
    checks.append(
        Check(
            "recipient from the OP_RETURN",
            VERIFIED if recipient_ok else FAILED,
            "minted to the address the depositor named" if recipient_ok else "minted to someone else",
            expected=hex0x(deposit.recipient),
            found=hex0x(mint.recipient),
        )
    )
    confirmations, how = rows.hvm(mint)
    checks.append(confirmations_check("≥ 4 confirmations in the hVM view", confirmations, how))
    credits = rows.credit_count(mint)
    checks.append(
        Check(
            "one credit per txid",
            VERIFIED if credits <= 1 else FAILED,
            "credited once" if credits <= 1 else f"credited {credits} times",
        )
    )
    return Link("Bitcoin lock", tuple(checks), evidence)


def unminted_deposits():
    """Active-chain deposits with no canonical mint yet (pending, or never credited)."""
    minted = DepositConfirmation.objects.canonical().filter(
        deposit_txid_internal=OuterRef("transaction__txid_internal")
    )
    return (
        TunnelDeposit.objects.filter(block__in_active_chain=True)
        .annotate(minted=Exists(minted))
        .filter(minted=False)
        .select_related("transaction", "block", "vault")
        .order_by("block__height", "transaction__tx_index")
    )


def deposit_status(deposit: TunnelDeposit, tip_height: int | None) -> Check:
    """A deposit that was never minted: pending while young, flagged once it clearly should be."""
    if not deposit.block.in_active_chain:
        return Check("deposit minted", FAILED, "the deposit's Bitcoin block was orphaned; it cannot be minted")
    if deposit.recipient is None:
        return Check("deposit minted", FAILED, "no valid recipient OP_RETURN in the first 8 outputs")
    if tip_height is None:
        return Check("deposit minted", PENDING, "Bitcoin tip unknown")
    confirmations = tip_height - deposit.block.height + 1
    if confirmations < MIN_DEPOSIT_CONFIRMATIONS:
        return Check("deposit minted", PENDING, f"waiting for {MIN_DEPOSIT_CONFIRMATIONS} confirmations")
    return Check("deposit minted", PENDING, f"{confirmations} confirmations and not minted yet")
