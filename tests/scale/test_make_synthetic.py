"""``make_synthetic`` at small size: the chain it writes is one the explorer accepts as real.

Built once per module (about 12 Bitcoin blocks and 600 Hemi blocks) through the command, then
checked the ways the explorer itself checks a live index: ``hemi_check``'s reference audit,
the tunnel's bookkeeping (every deposit old enough is minted once, balances never negative and
summing to the supply), every mint's offline evidence bundle verifying link by link, and every
page and API endpoint of the bench's request mix answering 200 with rows on deep cursors.
"""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Sum

from devnet import synthetic
from explorer import evidence
from explorer.verify import verify_bytes
from indexer.bitcoin import models as btc
from indexer.hemi import integrity
from indexer.hemi import models as hemi
from indexer.keystone import keystone_number_for
from indexer.models import ChainCursor, WorkItem

HEMI_BLOCKS = 600
TXS_PER_BLOCK = 6
WINDOWS = HEMI_BLOCKS // synthetic.HEMI_PER_BTC  # Bitcoin blocks beside them


@pytest.fixture(scope="module")
def chain(django_db_setup, django_db_blocker):
    """The synthetic chain, committed (the writers run their own transactions), removed after."""
    with django_db_blocker.unblock():
        out = StringIO()
        call_command("make_synthetic", "--hemi-blocks", HEMI_BLOCKS, "--txs-per-block", TXS_PER_BLOCK, stdout=out)
        summary = json.loads(out.getvalue().strip().splitlines()[-1])
        yield summary
        call_command("flush", "--no-input", verbosity=0)


@pytest.fixture
def explorer_env(chain, monkeypatch):
    for name, value in chain["settings"].items():
        monkeypatch.setenv(name, value)
    return chain


pytestmark = pytest.mark.django_db


def test_refuses_a_database_that_holds_blocks(chain):
    with pytest.raises(CommandError, match="empty database"):
        call_command("make_synthetic", "--hemi-blocks", 10, stdout=StringIO())


def test_rows_are_the_chain_asked_for(chain):
    assert chain["transactions"] == hemi.Transaction.objects.count() == HEMI_BLOCKS * TXS_PER_BLOCK
    assert hemi.Block.objects.canonical().count() == HEMI_BLOCKS
    cursors = dict(ChainCursor.objects.values_list("chain", "height"))
    assert cursors == {"hemi": HEMI_BLOCKS - 1, "bitcoin": synthetic.MAINNET_BTC_START + WINDOWS - 1}
    # Bitcoin: the anchor context below the start height is header-only; every block from the
    # start height on was scanned.
    scanned = btc.BitcoinBlock.objects.filter(scanned_at__isnull=False)
    assert scanned.order_by("height").values_list("height", flat=True).first() == synthetic.MAINNET_BTC_START
    assert scanned.count() == WINDOWS
    # A keystone every 25 blocks; each published on Bitcoin once the next Bitcoin block is mined.
    assert hemi.Keystone.objects.count() == (HEMI_BLOCKS - 1) // 25
    published = set(btc.KeystoneFirstPublication.objects.values_list("l2_block_number", flat=True))
    assert published == set(range(25, (WINDOWS - 1) * synthetic.HEMI_PER_BTC, 25))
    assert hemi.HvmUpdate.objects.count() == WINDOWS
    assert not WorkItem.objects.exclude(state=WorkItem.DONE).exists()


def test_hemi_references_audit_is_clean(chain):
    assert integrity.check_references() == []


def test_tunnel_bookkeeping(chain):
    deposits = btc.TunnelDeposit.objects.count()
    mints = hemi.DepositConfirmation.objects.count()
    assert deposits == WINDOWS * 2
    # Deposits of the last DEPOSIT_CONFIRMATIONS Bitcoin blocks wait for their mint.
    assert mints == (WINDOWS - synthetic.DEPOSIT_CONFIRMATIONS) * 2
    credited = list(hemi.DepositConfirmation.objects.values_list("deposit_txid_internal", flat=True))
    assert len({bytes(t) for t in credited}) == mints
    assert btc.BitcoinTransaction.objects.filter(txid_internal__in=credited).count() == mints
    assert hemi.WithdrawalInitiation.objects.exists()
    assert not hemi.TokenBalance.objects.filter(balance__lt=0).exists()
    token = hemi.Token.objects.get(address=synthetic.HEMIBTC)
    assert token.symbol == "hemiBTC"
    held = hemi.TokenBalance.objects.filter(token=token).aggregate(s=Sum("balance"))["s"]
    minted = hemi.DepositConfirmation.objects.aggregate(s=Sum("net_sats"))["s"]
    burned = hemi.WithdrawalInitiation.objects.aggregate(s=Sum("withdrawal_sats"))["s"]
    assert held == token.total_supply == minted - burned


def test_every_mint_evidence_bundle_verifies_offline(explorer_env):
    """Mints whose keystone is published verify; the newest, whose keystone waits for the next
    Bitcoin block, have no bundle yet (as on a live tip)."""
    published = set(btc.KeystoneFirstPublication.objects.values_list("l2_block_number", flat=True))
    verified = waiting = 0
    for mint in hemi.DepositConfirmation.objects.order_by("id"):
        if keystone_number_for(mint.block.number) not in published:
            with pytest.raises(evidence.EvidenceUnavailable, match="not published on Bitcoin yet"):
                evidence.export_bytes(mint)
            waiting += 1
            continue
        results = verify_bytes(evidence.export_bytes(mint))
        failed = [r for r in results if not r.ok]
        assert not failed, (mint.block.number, failed)
        verified += 1
    assert verified >= 10 and waiting <= 2


def test_every_endpoint_of_the_bench_mix_answers(explorer_env, client):
    mix = synthetic.request_mix()
    assert len(mix) > 50
    for name, path in mix:
        response = client.get(path, follow=False)
        if name == "page /search (tx hash)":
            assert response.status_code == 302, name  # a unique hit redirects to its page
            continue
        assert response.status_code == 200, (name, path, response.status_code)
        if name.startswith("etherscan"):  # its errors are HTTP 200 too, with status "0"
            assert response.json()["status"] == "1", (name, response.json())
        if name.startswith("api") and name.endswith("deep"):
            body = response.json()
            assert body["items"], (name, "a deep cursor must still find rows")


def test_every_row_has_the_verdict_the_refresh_computes(explorer_env):
    """The stored verdicts of the synthetic chain are what ``explorer.verdict_store`` judges for
    the same rows with the explorer's settings (hemiBTC, tunnel manager) - judged again here,
    row by row, after the command - and what the live provenance page shows for each mint."""
    from explorer import provenance, verdict_store
    from explorer.models import BlockVerdict, DepositVerdict, MintVerdict, WithdrawalVerdict

    compared = ["verdict", "stage", "reason", "settled", "waiting_for_bitcoin", "depends_bitcoin_height",
                "depends_hemi_number"]  # fmt: skip
    subjects = {
        verdict_store.MINT: (hemi.DepositConfirmation, MintVerdict),
        verdict_store.DEPOSIT: (btc.TunnelDeposit, DepositVerdict),
        verdict_store.WITHDRAWAL: (hemi.WithdrawalInitiation, WithdrawalVerdict),
        verdict_store.BLOCK: (hemi.Block, BlockVerdict),
    }
    hemibtc = synthetic.HEMIBTC
    for kind, (subject, model) in subjects.items():
        ids = list(subject.objects.order_by("pk").values_list("pk", flat=True))
        assert chain_counts(explorer_env)[kind] == len(ids) == model.objects.count() > 0, kind
        rows = verdict_store._subjects(kind, ids)
        again = verdict_store._judge(kind, rows, hemibtc if kind == verdict_store.MINT else None)
        field = verdict_store._SUBJECT_FIELD[kind]
        stored = {getattr(v, field): v for v in model.objects.all()}
        for row, values in zip(rows, again, strict=True):
            got = stored[row.pk]
            mine = [f for f in compared if f in values]  # a withdrawal does not wait "for Bitcoin only"
            assert {f: getattr(got, f) for f in mine} == {f: values[f] for f in mine}, (kind, row.pk)
            assert (got.bitcoin_height, got.hemi_number) == (
                synthetic.MAINNET_BTC_START + WINDOWS - 1, HEMI_BLOCKS - 1
            )  # fmt: skip
    for mint in hemi.DepositConfirmation.objects.select_related("block", "transaction"):
        assert provenance.for_mint(mint, hemibtc=hemibtc).verdict == mint.stored_verdict.verdict
    # 12 Bitcoin blocks are too few for a mint to be superfinal: every mint waits for Bitcoin
    # confirmations of its keystone's publication (or for the publication), and for nothing else.
    assert set(MintVerdict.objects.values_list("verdict", flat=True)) == {"pending"}
    for reason in MintVerdict.objects.values_list("reason", flat=True):
        assert reason.startswith("Bitcoin anchoring: waiting for "), reason
    # The oldest blocks are superfinal already; the newest wait for their keystone's publication.
    assert BlockVerdict.objects.get(block__number=1).verdict == "verified"
    assert BlockVerdict.objects.get(block__number=HEMI_BLOCKS - 1).verdict == "pending"
    assert not BlockVerdict.objects.filter(verdict="failed").exists()
    assert not DepositVerdict.objects.filter(verdict="failed").exists()
    assert not WorkItem.objects.exclude(state=WorkItem.DONE).exists()


def test_lists_read_the_stored_verdicts(explorer_env, client):
    from explorer.queries.verdicts import NOT_JUDGED

    body = client.get("/api/v1/tunnel/mints?verdict=pending").json()
    assert body["items"] and all(item["verdict"] == "pending" for item in body["items"])
    assert all(item["reason"] != NOT_JUDGED and item["computed_at"]["bitcoin_height"] for item in body["items"])
    assert client.get("/api/v1/tunnel/mints?verdict=failed").json()["items"] == []
    assert "not judged yet" not in client.get("/tunnel").content.decode()


def chain_counts(chain) -> dict[str, int]:
    v = chain["verdicts"]
    return {"mint": v["mints"], "deposit": v["deposits"], "withdrawal": v["withdrawals"], "block": v["blocks"]}
