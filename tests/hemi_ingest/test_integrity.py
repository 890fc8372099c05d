"""The integrity audit that stands in for the FK constraints the ingest tables no longer have.

Blocks come from a real anvil through the real ingest; the corruptions are then written with
plain UPDATE/INSERT, which the database now accepts because the constraints are gone.
"""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, models

from indexer.hemi import ingest, integrity, sync
from indexer.hemi.models import Block, Log, TokenTransfer, Transaction

from .conftest import DevChain

pytestmark = pytest.mark.django_db
DEVNET = ingest.IngestConfig(tunnel_manager=None, accept_impersonated=True)
HOT_PATH = {
    (Transaction, "block"),
    (Log, "transaction"),
    (Log, "block"),
    (TokenTransfer, "log"),
    (TokenTransfer, "token"),
    (TokenTransfer, "block"),
}
NOWHERE = -1  # the sequences never hand out a negative id (nor 0)


@pytest.fixture(scope="module")
def mined(chain: DevChain) -> int:
    """A token deployment (mint) and two transfers in one block, a plain payment in the next."""
    a = chain.accounts
    usd = chain.deploy("DevnetUSD", 10**12)
    token = chain.contract("DevnetUSD", usd)
    chain.mine([
        chain.call_tx(token, "transfer", a[1], 5_000, sender=a[0]),
        chain.call_tx(token, "transfer", a[2], 7_000, sender=a[0]),
    ])  # fmt: skip
    chain.mine([{"from": a[0], "to": a[3], "value": 1, "gasPrice": hex(3 * 10**9)}])
    return chain.tip()


@pytest.fixture
def ingested(chain: DevChain, mined: int, rpc) -> None:
    sync.follow_tip(rpc, network=chain.network(), config=DEVNET)
    assert Block.objects.count() == mined + 1
    assert TokenTransfer.objects.count() == 3 and Log.objects.count() >= 3


def run_check() -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("hemi_check", stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_every_relation_without_a_database_constraint_is_audited() -> None:
    audited = {(f.model, f.name) for f in integrity.unconstrained_relations()}
    assert audited == HOT_PATH
    for model in (Block, Transaction, Log, TokenTransfer):
        fk_columns = {
            tuple(c["columns"])
            for c in connection.introspection.get_constraints(connection.cursor(), model._meta.db_table).values()
            if c["foreign_key"]
        }
        for field in model._meta.concrete_fields:
            if isinstance(field, models.ForeignKey):
                # Each FK column has a database constraint or is audited - never neither, never both.
                assert ((field.column,) in fk_columns) != ((model, field.name) in audited), field


def test_an_ingested_chain_has_no_dangling_references(ingested: None) -> None:
    assert integrity.check_references() == []
    out, err = run_check()
    assert integrity.check_chain() == []
    assert out.splitlines() == [
        f"hemi references: ok ({len(HOT_PATH)} relations checked)",
        f"hemi chain: ok ({len(integrity.chain_checks())} checks)",
    ]
    assert err == ""


def test_a_log_of_a_missing_transaction_is_reported_and_the_command_fails(ingested: None) -> None:
    real = Log.objects.order_by("id").first()
    orphan = Log.objects.create(
        transaction_id=NOWHERE, block_id=real.block_id, log_index=10_000, address=real.address, data=b""
    )
    problems = integrity.check_references()
    assert problems == [
        integrity.Dangling(
            table=Log._meta.db_table,
            column="transaction_id",
            count=1,
            sample_ids=(orphan.pk,),
            problem=f"point to no {Transaction._meta.db_table}.id",
        )
    ]
    err = StringIO()
    with pytest.raises(CommandError, match="1 check"):
        call_command("hemi_check", stdout=StringIO(), stderr=err)
    assert f"{Log._meta.db_table}.transaction_id: 1 row(s) point to no" in err.getvalue()
    assert f"(ids {orphan.pk})" in err.getvalue()


@pytest.mark.parametrize(("model", "name"), sorted(HOT_PATH, key=lambda r: (r[0].__name__, r[1])))
def test_every_relation_reports_rows_pointing_nowhere(ingested: None, model: type[models.Model], name: str) -> None:
    field = model._meta.get_field(name)
    victims = sorted(model.objects.values_list("pk", flat=True))[:7]
    for pk in victims:  # distinct ids: (block_id, index) and (block_id, log_index) are unique
        model.objects.filter(pk=pk).update(**{field.attname: -pk})
    dangling = [p for p in integrity.check_references() if p.problem.startswith("point to no")]
    assert [(p.table, p.column, p.count, p.sample_ids) for p in dangling] == [
        (model._meta.db_table, field.column, len(victims), tuple(victims[: integrity.SAMPLE_SIZE]))
    ]


def test_a_transfer_in_another_block_than_its_log_is_reported(ingested: None) -> None:
    transfer = TokenTransfer.objects.select_related("log").order_by("id").first()
    elsewhere = Block.objects.exclude(pk=transfer.log.block_id).order_by("number").first()
    TokenTransfer.objects.filter(pk=transfer.pk).update(block=elsewhere)
    assert integrity.check_references() == [
        integrity.Dangling(
            table=TokenTransfer._meta.db_table,
            column="block_id",
            count=1,
            sample_ids=(transfer.pk,),
            problem=f"differs from {Log._meta.db_table}.block_id via log_id",
        )
    ]
    with pytest.raises(CommandError):
        run_check()


def test_a_log_in_another_block_than_its_transaction_is_reported(ingested: None) -> None:
    transfer = TokenTransfer.objects.select_related("log").order_by("id").first()
    log = transfer.log
    elsewhere = Block.objects.exclude(pk=log.block_id).order_by("number").first()
    Log.objects.filter(pk=log.pk).update(block=elsewhere, log_index=10_000)
    found = {(p.table, p.column, p.count, p.sample_ids, p.problem) for p in integrity.check_references()}
    assert found == {
        (Log._meta.db_table, "block_id", 1, (log.pk,), "differs from hemi_transaction.block_id via transaction_id"),
        # ... and its transfer now sits in another block than its log.
        (TokenTransfer._meta.db_table, "block_id", 1, (transfer.pk,), "differs from hemi_log.block_id via log_id"),
    }


# --- The canonical chain (integrity.check_chain, the second half of hemi_check) ----------------


def _orphan_with_rows(number: int) -> None:
    """A block and its rows marked orphaned together, as a reorg would - but nothing took its place."""
    from indexer.hemi.reorg import DERIVED_MODELS

    block = Block.objects.get(number=number, canonical=True)
    Block.objects.filter(pk=block.pk).update(canonical=False)
    for model in DERIVED_MODELS:
        model.objects.filter(block_id=block.pk).update(canonical=False)


def _break_link(number: int) -> None:
    Block.objects.filter(number=number).update(parent_hash=b"\x00" * 32)


def _cursor_elsewhere(number: int) -> None:
    from indexer.models import ChainCursor

    ChainCursor.objects.filter(chain="hemi").update(block_hash=b"\x02" * 32)


def _canonical_rows_in_an_orphaned_block(number: int) -> None:
    # A half-done reorg: the block left the chain, its transactions still say canonical.
    Block.objects.filter(number=number).update(canonical=False)


def _orphaned_rows_in_a_canonical_block(number: int) -> None:
    Transaction.objects.filter(block__number=number).update(canonical=False)


@pytest.mark.parametrize(
    ("corrupt", "expected"),
    [
        (_orphan_with_rows, {"hemi-gap"}),
        (_break_link, {"hemi-linkage"}),
        (_cursor_elsewhere, {"hemi-cursor"}),
        (
            _canonical_rows_in_an_orphaned_block,  # the block with the two token transfers
            {"hemi-gap", "hemi-transaction-canonical", "hemi-log-canonical", "hemi-tokentransfer-canonical"},
        ),
        (_orphaned_rows_in_a_canonical_block, {"hemi-transaction-canonical"}),
    ],
    ids=lambda v: v.__name__.strip("_") if callable(v) else None,
)
def test_each_chain_corruption_is_named_and_fails_the_command(ingested: None, mined: int, corrupt, expected) -> None:
    middle = mined - 1  # below the cursor, above the first block; holds the L1-info transaction
    corrupt(middle)
    findings = integrity.check_chain()
    assert {f.check for f in findings} == expected
    assert integrity.check_references() == []  # the references half stays quiet
    err = StringIO()
    with pytest.raises(CommandError, match=rf"hemi chain: {len(expected)} check"):
        call_command("hemi_check", stdout=StringIO(), stderr=err)
    assert "hemi chain: hemi-" in err.getvalue()
