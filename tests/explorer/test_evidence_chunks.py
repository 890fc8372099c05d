"""Bundles built a chunk of mints at a time (what reports do) are byte for byte the bundles of
each mint built alone, and a chunk's query count does not grow with its mints.

The evidence story (real bytes, no node) holds one backed, anchored mint; more mint rows are
added around it so one chunk mixes mints that share every row (a second mint event in the same
transaction), mints with other proofs (another block, another transaction) and mints whose
evidence is unavailable for different reasons (an unknown deposit, a block stored unverified).
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from explorer import evidence
from explorer.verify import canonical_bytes, verify_bytes
from indexer.hemi import models as hemi
from tests.explorer.evidence_story import EvidenceStory, load_into_db


@pytest.fixture
def story(db, monkeypatch):
    from tests.explorer.evidence_story import HEMIBTC, MANAGER

    monkeypatch.setenv("TUNNEL_MANAGER_ADDRESS", "0x" + MANAGER.hex())
    monkeypatch.setenv("HEMIBTC_ADDRESS", "0x" + HEMIBTC.hex())
    story = EvidenceStory()
    return story, load_into_db(story)


def another_mint(like: hemi.DepositConfirmation, number: int, index: int, **changes) -> hemi.DepositConfirmation:
    """A mint event like ``like`` in transaction ``index`` of Hemi block ``number``."""
    tx = hemi.Transaction.objects.get(block__number=number, index=index)
    log_index = hemi.Log.objects.filter(block=tx.block).count() + 10
    log = hemi.Log.objects.create(
        transaction=tx, block=tx.block, log_index=log_index, address=like.log.address, data=b""
    )
    fields = {
        "vault": like.vault,
        "recipient": like.recipient,
        "deposit_txid_internal": like.deposit_txid_internal,
        "deposit_sats": like.deposit_sats,
        "net_sats": like.net_sats,
        **changes,
    }
    return hemi.DepositConfirmation.objects.create(log=log, transaction=tx, block=tx.block, **fields)


def alone(mint) -> tuple[bytes | None, str | None]:
    """The mint's bundle built on its own, as the download and ``provenance_export`` do."""
    try:
        return evidence.export_bytes(mint), None
    except evidence.EvidenceUnavailable as exc:
        return None, str(exc)


def reload(mints):
    """The rows as a report reads them (fresh instances, nothing cached on them)."""
    by_pk = hemi.DepositConfirmation.objects.select_related("transaction", "block", "log").in_bulk(
        [m.pk for m in mints]
    )
    return [by_pk[m.pk] for m in mints]


def test_a_chunk_builds_each_mints_bundle_byte_for_byte_as_it_is_built_alone(story):
    story, mint = story
    twin = another_mint(mint, 12, 1)  # same transaction: every row shared with the story mint
    elsewhere = another_mint(mint, 11, 0)  # another block's transaction, same deposit
    unbacked = another_mint(mint, 13, 0, deposit_txid_internal=b"\x99" * 32)
    flagged = another_mint(mint, 14, 0)
    stranger = another_mint(mint, 16, 0, vault=b"\x01" * 20, deposit_txid_internal=b"\x98" * 32)  # no such vault
    hemi.BlockIntegrityIssue.objects.create(block=flagged.block, check_name="receiptsRoot", expected="", found="")
    mints = reload([mint, twin, unbacked, elsewhere, flagged, stranger])

    chunk = list(evidence.export_many(mints))

    assert [m.pk for m, _, _ in chunk] == [m.pk for m in mints]
    assert [(data, why) for _, data, why in chunk] == [alone(m) for m in reload(mints)]
    results = dict(zip((m.pk for m in mints), chunk, strict=True))
    # The story mint's bundle is the story's own (built independently of the exporter) and verifies.
    assert results[mint.pk][1] == canonical_bytes(story.bundle())
    assert all(r.ok for r in verify_bytes(results[mint.pk][1]))
    # The chunk really mixes outcomes: bundles that differ, and reasons.
    assert results[elsewhere.pk][1] not in (None, results[mint.pk][1])
    assert results[twin.pk][1] is not None
    assert results[unbacked.pk][2].startswith("pending (Bitcoin indexing up to the mint's hVM view")
    assert results[flagged.pk][2].startswith("pending (integrity: Hemi block 14")
    assert results[stranger.pk][1] is None and results[stranger.pk][2]


def test_a_chunk_reads_in_as_many_queries_for_many_mints_as_for_one(story):
    _, mint = story
    more = [another_mint(mint, 12, 1), another_mint(mint, 11, 0), another_mint(mint, 15, 0), another_mint(mint, 20, 0)]
    one, many = reload([mint]), reload([mint, *more])
    with CaptureQueriesContext(connection) as single:
        assert [why for _, _, why in evidence.export_many(one)] == [None]
    with CaptureQueriesContext(connection) as chunk:
        assert [why for _, _, why in evidence.export_many(many)] == [None] * len(many)
    assert len(chunk) == len(single), [q["sql"][:80] for q in chunk.captured_queries]


def test_chunks_split_a_long_list_and_keep_its_order(story, monkeypatch):
    _, mint = story
    mints = reload([mint, another_mint(mint, 11, 0), another_mint(mint, 12, 1)])
    whole = list(evidence.export_many(mints))
    monkeypatch.setattr(evidence, "CHUNK", 2)
    assert list(evidence.export_many(reload(mints))) == [(m, d, w) for m, d, w in whole]


def test_a_proof_that_cannot_be_made_stops_only_its_own_bundle_as_it_does_alone(story):
    """A stored transaction with empty bytes cannot enter a trie: its mint's bundle raises
    what building it alone raises, and the chunk's other bundles are built."""
    story, mint = story
    broken = another_mint(mint, 17, 0)
    hemi.Transaction.objects.filter(pk=broken.transaction_id).update(raw=b"")
    with pytest.raises(ValueError, match="empty value"):
        evidence.export_bytes(reload([broken])[0])
    built = evidence.export_many(reload([mint, broken]))
    assert next(built)[1] == canonical_bytes(story.bundle())
    with pytest.raises(ValueError, match="empty value"):
        next(built)
