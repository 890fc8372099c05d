"""Issue 12, item 1: a lost broker message must never become a false verdict.

Following the README without a Celery worker - ``btc_sync``, then ``hemi_sync`` - used to leave
the vault's Bitcoin rescan as a Celery message nobody ran: the deposit was never found and the
mint read "unbacked". Now the rescan (like every follow-up) is a durable work item: until it
has run the mint is *pending* and says what it waits for, and ``manage.py sync`` finishes the
work, with no worker and whatever happened to Redis in between.
"""

from __future__ import annotations

import pytest
import redis
from django.conf import settings
from django.core.management import call_command

from devnet.scenarios import treasury_lock
from explorer import evidence, provenance
from explorer.verdicts import PENDING, VERIFIED
from explorer.verify import verify_bytes
from indexer.models import WorkItem

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def story(devnet) -> dict:
    """The treasury's 100 BTC lock, minted and superfinal on the devnet, before any indexing."""
    return treasury_lock.run(devnet.net)


def judge(devnet, story: dict) -> provenance.Provenance:
    mint = provenance.mints_in_transaction(bytes.fromhex(story["mint_tx_hash"].removeprefix("0x"))).first()
    assert mint is not None, "the mint was not indexed"
    return provenance.for_mint(mint, hemibtc=bytes.fromhex(devnet.net.contracts["BTCToken"][2:]))


def flush_redis() -> None:
    redis.Redis.from_url(settings.REDIS_URL).flushdb()


def assert_pending_on_the_rescan(p: provenance.Provenance, story: dict) -> None:
    lock = p.links[0]
    assert (lock.name, lock.verdict) == ("Bitcoin lock", PENDING), lock.reason
    assert lock.reason.startswith("pending (") and "Bitcoin rescan for vault" in lock.reason, lock.reason
    assert story["vault_address"].lower() in lock.reason
    assert p.verdict == PENDING  # never "failed" while the rescan is unfinished
    with pytest.raises(evidence.EvidenceUnavailable, match="pending"):
        evidence.build_bundle(provenance.mints_in_transaction(bytes.fromhex(story["mint_tx_hash"][2:])).first())


def assert_verified_and_provable_offline(devnet, story: dict) -> None:
    p = judge(devnet, story)
    assert [(link.name, link.verdict) for link in p.links] == [
        ("Bitcoin lock", VERIFIED),
        ("Sequencer ordering", VERIFIED),
        ("Hemi block", VERIFIED),
        ("Bitcoin anchoring", VERIFIED),
    ], [link.reason for link in p.links]
    mint = provenance.mints_in_transaction(bytes.fromhex(story["mint_tx_hash"][2:])).first()
    results = verify_bytes(evidence.export_bytes(mint))
    assert results and all(r.ok for r in results), [r for r in results if not r.ok]
    assert not WorkItem.objects.exclude(state=WorkItem.DONE).exists()


def test_btc_sync_then_hemi_sync_without_a_worker_is_pending_and_sync_verifies_it(devnet, story) -> None:
    call_command("btc_sync")
    call_command("hemi_sync", "--no-progress")
    assert_pending_on_the_rescan(judge(devnet, story), story)

    call_command("sync")
    assert_verified_and_provable_offline(devnet, story)


def test_the_same_with_redis_flushed_between_the_steps(devnet, story) -> None:
    flush_redis()
    call_command("btc_sync")
    flush_redis()
    call_command("hemi_sync", "--no-progress")
    flush_redis()
    assert_pending_on_the_rescan(judge(devnet, story), story)
    flush_redis()
    call_command("sync")
    assert_verified_and_provable_offline(devnet, story)
