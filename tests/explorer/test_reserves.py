"""The reserve equation over hand-built rows: each term moves by exactly what the tunnel's rules
say, positions pin every term, and every surface (page, rows, API, CLI, /healthz, banners)
reports the same verdict. The devnet version is tests/provenance_e2e/test_reserves_devnet.py."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from explorer import reserves
from tests.explorer.conftest import h32

DEPOSIT = 100 * 10**8
FEE = 10**7


@pytest.fixture(autouse=True)
def _fresh_cache():
    """The newest position's verdict is cached per pair of cursor hashes, and every test here
    builds the same hashes: no test may read another's verdict."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _hemibtc(monkeypatch, tunnel):
    from dataclasses import replace

    from hemiscope import networks

    preset = replace(networks.current(), hemibtc_address="0x" + tunnel.HEMIBTC.hex())
    monkeypatch.setattr(networks, "current", lambda: preset)


class Vault:
    """A vault's life in rows: deposits (outputs), mints, withdrawals, payouts (spends)."""

    def __init__(self, chains, tunnel, withdrawals):
        from indexer.models import ChainCursor

        self.c, self.t, self.w = chains, tunnel, withdrawals
        self.hemi, self.btc = withdrawals.hemi, withdrawals.btc  # Hemi 0..20, Bitcoin 100..110
        ChainCursor.objects.create(chain="bitcoin", height=110, block_hash=self.btc[110].hash_internal)
        ChainCursor.objects.create(chain="hemi", height=20, block_hash=self.hemi[20].hash)

    def deposit(self, height=101, value=DEPOSIT, label="deposit"):
        d = self.t.deposit(self.btc[height], value_sats=value, label=label)
        self.output(height, d.transaction.txid_internal, 0, value)
        return d

    def output(self, height, txid_internal, vout, value):
        return self.c.btc.VaultUtxo.objects.create(
            block=self.btc[height], vault=self.t.vault_script, txid_internal=txid_internal, vout=vout, value_sats=value
        )

    def mint(self, deposit, block=3):
        txid = deposit.transaction.txid_internal
        return self.t.mint(self.hemi[block], txid, deposit_sats=deposit.value_sats, fee=FEE)

    def withdraw(self, index=0):
        w = self.w.initiate(index=index)  # burns 10 000 000 at Hemi 5, owes 9 990 000
        tx = self.t.hemi_tx(self.hemi[5], to=b"\xee" * 20)
        self.c.hemi.TokenTransfer.objects.create(
            log=self.t.log(tx, self.t.HEMIBTC), token=self.t.token, block=self.hemi[5],
            sender=b"\x07" * 20, recipient=b"\x00" * 20, value=10_000_000,
        )  # fmt: skip
        return w

    def pay(self, deposit, index=0, height=103, fee=5_000):
        """Payout spending ``deposit``'s output: 9 990 000 to the user, change back, ``fee`` to miners."""
        payout = self.w.pay(index=index, height=height)
        change = deposit.value_sats - 9_990_000 - fee
        self.output(height, payout.transaction.txid_internal, 1, change)
        self.spend(payout.transaction, deposit.transaction.txid_internal, deposit.value_sats, height)
        self.c.btc.VaultOutflow.objects.create(
            block=self.btc[height], transaction=payout.transaction, vault=self.t.vault_script, kind="payout",
            input_count=1, vault_input_count=1, spent_sats=deposit.value_sats, output_sats=deposit.value_sats - fee,
            to_vault_sats=change, payout_sats=9_990_000, network_fee_sats=fee,
        )  # fmt: skip
        return payout

    def spend(self, tx, txid_internal, value, height, vout=0, input_index=0):
        return self.c.btc.VaultSpend.objects.create(
            block=self.btc[height], transaction=tx, input_index=input_index, vault=self.t.vault_script,
            spent_txid_internal=txid_internal, spent_vout=vout, value_sats=value,
        )  # fmt: skip


@pytest.fixture
def vault(chains, tunnel, withdrawals):
    return Vault(chains, tunnel, withdrawals)


def terms(result):
    return {t.key: t.sats for t in result.terms}


def run_cli(*args):
    out = io.StringIO()
    try:
        call_command("reserves", *args, stdout=out, stderr=out)
    except SystemExit as exc:
        return int(exc.code), out.getvalue()
    except Exception as exc:
        if getattr(exc, "returncode", None) is None:
            raise
        return exc.returncode, out.getvalue() + str(exc)
    return 0, out.getvalue()


def test_a_deposit_before_and_after_its_mint_balances(vault):
    deposit = vault.deposit()
    before = reserves.reconcile()
    assert before.status == reserves.BALANCED and before.held_sats == DEPOSIT and before.supply_sats == 0
    assert terms(before)["deposits_not_yet_minted"] == DEPOSIT

    vault.mint(deposit)
    after = reserves.reconcile()
    assert after.status == reserves.BALANCED, after.equation()
    assert after.supply_sats == DEPOSIT - FEE and terms(after)["deposit_fees"] == FEE
    assert terms(after)["deposits_not_yet_minted"] == 0
    # Pinned at a Hemi block before the mint: the deposit is still waiting.
    pinned = reserves.reconcile(at_btc_height=110, at_hemi_block=2)
    assert pinned.status == reserves.BALANCED and terms(pinned)["deposits_not_yet_minted"] == DEPOSIT
    # Pinned at a Bitcoin height before the deposit (Hemi at the tip): the mint is unbacked there.
    early = reserves.reconcile(at_btc_height=100, at_hemi_block=20)
    assert early.status == reserves.SHORTFALL and -early.difference_sats == DEPOSIT - FEE
    assert {f.key: f.rows for f in early.findings}["unbacked_mints"] == 1


def test_a_withdrawal_is_owed_until_paid_and_then_its_fees_explain_the_rest(vault):
    deposit = vault.deposit()
    vault.mint(deposit)
    vault.withdraw()
    owed = reserves.reconcile(at_btc_height=102, at_hemi_block=20)
    assert owed.status == reserves.BALANCED, owed.equation()
    assert terms(owed)["withdrawals_unpaid"] == 9_990_000 and terms(owed)["withdrawal_fees"] == 10_000

    vault.pay(deposit, fee=5_000)
    paid = reserves.reconcile()
    assert paid.status == reserves.BALANCED, paid.equation()
    assert terms(paid)["withdrawals_unpaid"] == 0 and terms(paid)["network_fees"] == 5_000
    assert paid.held_sats == DEPOSIT - 9_990_000 - 5_000 and paid.held_rows == 1  # only the change is held
    assert {f.key: f.rows for f in paid.findings}["unexplained_outflows"] == 0  # the payout names its withdrawal
    # A second payout naming a withdrawal index nobody initiated: coins out, no burn behind them.
    stray = vault.pay(vault.c.btc.TunnelDeposit.objects.get(), index=7, height=104)
    stray_result = reserves.reconcile()
    finding = {f.key: f for f in stray_result.findings}["unexplained_outflows"]
    assert finding.rows == 1 and finding.sats == 9_990_000, stray_result.equation()
    assert reserves.unexplained_outflows(stray_result.position).get().transaction_id == stray.transaction_id
    # More confirmations than the payout has: counted as unpaid again, still balanced.
    deep = reserves.reconcile(min_confirmations=10)
    assert deep.position.btc_counted_to == 101 and deep.status == reserves.BALANCED, deep.equation()


def test_a_challenged_withdrawal_counts_nowhere_and_a_paid_one_challenged_is_a_shortfall(vault):
    deposit = vault.deposit()
    vault.mint(deposit)
    vault.withdraw()
    vault.w.challenge()
    tx = vault.t.hemi_tx(vault.hemi[15], to=b"\xee" * 20)
    vault.c.hemi.TokenTransfer.objects.create(
        log=vault.t.log(tx, vault.t.HEMIBTC), token=vault.t.token, block=vault.hemi[15],
        sender=b"\x00" * 20, recipient=b"\x07" * 20, value=10_000_000,
    )  # fmt: skip
    refunded = reserves.reconcile()
    assert refunded.status == reserves.BALANCED, refunded.equation()
    assert terms(refunded)["withdrawals_unpaid"] == 0 and terms(refunded)["withdrawal_fees"] == 0

    vault.pay(deposit, fee=5_000)  # the operator ALSO paid: the reserve paid twice
    twice = reserves.reconcile()
    assert twice.status == reserves.SHORTFALL and -twice.difference_sats == 9_990_000, twice.equation()


def test_coins_spent_elsewhere_are_a_shortfall_and_a_payment_the_tunnel_cannot_credit_a_surplus(vault):
    deposit = vault.deposit()
    vault.mint(deposit)
    stray = vault.output(104, h32("stray"), 3, 50_000)  # below the minimum: not a deposit
    surplus = reserves.reconcile()
    assert surplus.status == reserves.SURPLUS and surplus.difference_sats == 50_000
    finding = {f.key: f for f in surplus.findings}["non_deposit_inflows"]
    assert (finding.sats, finding.rows) == (50_000, 1)

    tx = vault.c.btc.BitcoinTransaction.objects.create(
        block=vault.btc[105], txid_internal=h32("theft"), tx_index=1, raw=b"r", merkle_branch=b""
    )
    vault.spend(tx, deposit.transaction.txid_internal, DEPOSIT, 105)
    vault.spend(tx, stray.txid_internal, 50_000, 105, vout=3, input_index=1)
    vault.c.btc.VaultOutflow.objects.create(
        block=vault.btc[105], transaction=tx, vault=vault.t.vault_script, kind="other", input_count=2,
        vault_input_count=2, spent_sats=DEPOSIT + 50_000, output_sats=DEPOSIT + 40_000, to_vault_sats=0,
        payout_sats=0, network_fee_sats=10_000,
    )  # fmt: skip
    stolen = reserves.reconcile()
    assert stolen.status == reserves.SHORTFALL and stolen.held_sats == 0, stolen.equation()
    finding = {f.key: f for f in stolen.findings}["unexplained_outflows"]
    assert (finding.sats, finding.rows) == (DEPOSIT + 40_000, 1)


def test_a_deposit_credited_twice_is_short_by_exactly_the_second_mint(vault):
    deposit = vault.deposit()
    vault.mint(deposit)
    again = vault.mint(deposit, block=6)
    result = reserves.reconcile()
    assert result.status == reserves.SHORTFALL and -result.difference_sats == DEPOSIT - FEE, result.equation()
    assert terms(result)["deposit_fees"] == FEE  # the deposit's fee, once
    assert list(reserves.unbacked_mints(result.position)) == [again]  # the rows page's list ...
    finding = {f.key: f for f in result.findings}["unbacked_mints"]
    assert (finding.sats, finding.rows) == (DEPOSIT - FEE, 1)  # ... agrees with the aggregate


def test_positions_past_the_index_are_refused(vault):
    vault.deposit()
    with pytest.raises(reserves.PositionNotIndexed):
        reserves.reconcile(at_btc_height=111)
    with pytest.raises(reserves.PositionNotIndexed):
        reserves.reconcile(at_hemi_block=21)
    with pytest.raises(reserves.PositionNotIndexed):
        reserves.reconcile(at_btc_height=99)  # below the first indexed height
    with pytest.raises(reserves.ReconcileError):
        reserves.reconcile(min_confirmations=0)


def test_the_cli_exit_code_is_the_verdict(vault):
    deposit = vault.deposit()
    vault.mint(deposit)
    code, text = run_cli()
    assert code == 0 and "BALANCED" in text and "deposit fees retained" in text
    code, text = run_cli("--at-btc-height", "100", "--at-hemi-block", "20")
    assert code == 1 and "SHORTFALL" in text and "mints without a counted Bitcoin deposit" in text
    code, text = run_cli("--at-hemi-block", "999")
    assert code == 2 and "not indexed yet" in text
    code, text = run_cli("--json")
    assert code == 0 and '"status": "balanced"' in text


def test_unfinished_vault_work_makes_it_incomplete_a_wait_not_an_alert(vault):
    from django.utils import timezone

    from indexer.models import WorkItem

    vault.t.mint(vault.hemi[8], h32("nowhere"), deposit_sats=5_000_000, fee=5_000)  # would be a shortfall
    now = timezone.now()
    WorkItem.objects.create(kind="bitcoin.vault_rescan", key="0x" + "ba" * 20, payload={}, next_attempt_at=now,
                            created_at=now, updated_at=now)  # fmt: skip
    result = reserves.reconcile()
    assert not result.complete and result.alert is None
    assert "bitcoin.vault_rescan 0x" + "ba" * 20 in result.waiting_for[0]
    code, text = run_cli()
    assert code == 2 and "INCOMPLETE (shortfall so far)" in text and "incomplete" in text


def test_an_empty_index_is_not_yet_indexed_for_the_cli(db):
    code, text = run_cli()
    assert code == 2 and "nothing indexed yet" in text


def test_the_reserves_page_api_and_rows_show_the_same_terms_in_bounded_queries(client, vault):
    deposit = vault.deposit()
    vault.mint(deposit)
    vault.withdraw()
    vault.pay(deposit)
    with CaptureQueriesContext(connection) as queries:
        page = client.get("/reserves")
    assert page.status_code == 200
    html = page.content.decode()
    assert "balanced" in html and "withdrawal fees retained" in html and "/charts/reserves-vs-supply.csv" in html
    assert 'style="' not in html.split("<main")[1] and "<script" not in html.split("<main")[1]
    assert len(queries) <= 45
    for i in range(3):  # more rows of every kind: the same number of queries
        vault.deposit(height=106, value=DEPOSIT + i, label=f"more-{i}")
    from django.core.cache import cache

    cache.clear()  # the newest position's verdict is cached until a new block; these rows came without one
    with CaptureQueriesContext(connection) as more:
        assert client.get("/reserves").status_code == 200
    assert len(more) == len(queries)
    with CaptureQueriesContext(connection) as cached:
        assert client.get("/reserves").status_code == 200
    assert len(cached) < len(queries) - 10  # the equation came from the cache

    api = client.get("/api/v1/reserves").json()
    assert api["status"] == "balanced" and api["difference_sats"] == "0"
    assert {t["key"]: t["sats"] for t in api["terms"]}["network_fees"] == "5000"
    assert client.get("/api/v1/reserves?at_hemi_block=999").status_code == 404
    assert client.get("/api/v1/reserves?min_confirmations=0").status_code == 400
    assert client.get("/api/v1/reserves?at_btc_heigth=1").status_code == 400  # a typo is refused

    held = client.get(api["held_rows_url"] + "&limit=2")
    assert held.status_code == 200 and "More" in held.content.decode()
    fees = client.get(api["terms"][4]["rows_url"]).content.decode()
    assert "withdrawal payout" in fees and "/btc/tx/" in fees
    assert client.get("/reserves/rows/nonsense").status_code == 404
    assert client.get("/reserves?at_btc_height=x").status_code == 400


def test_a_mismatch_raises_the_banner_and_the_healthz_warning(client, vault):
    deposit = vault.deposit()
    vault.mint(deposit)
    assert reserves.refresh().status == reserves.BALANCED
    assert reserves.health_warnings() == []
    assert 'role="alert"' not in client.get("/tunnel").content.decode()
    vault.t.mint(vault.hemi[8], h32("nowhere"), deposit_sats=5_000_000, fee=5_000)  # unbacked
    assert reserves.health_warnings() == []  # banners and /healthz show what the worker last computed
    reserves.refresh()  # the worker's beat task (explorer.tasks.refresh_reserves)
    [warning] = reserves.health_warnings()
    assert warning.code == "reserves-mismatch" and "4995000 sat less than owed" in warning.message
    health = client.get("/healthz")
    assert health.status_code == 200
    assert "reserves-mismatch" in {w["code"] for w in health.json()["warnings"]}
    for path in ("/tunnel", f"/token/0x{vault.t.HEMIBTC.hex()}"):
        assert "4995000 sat less than owed" in client.get(path).content.decode(), path


def test_banners_and_healthz_read_the_cache_alone(client, vault, django_assert_max_num_queries):
    vault.t.mint(vault.hemi[8], h32("nowhere"), deposit_sats=5_000_000, fee=5_000)
    reserves.refresh()
    with django_assert_max_num_queries(0):
        assert reserves.health_warnings() and reserves.latest_known().status == reserves.SHORTFALL


def test_the_history_csv_ends_at_what_the_equation_holds_and_supplies(client, vault):
    import csv

    deposit = vault.deposit()
    vault.mint(deposit)
    vault.withdraw()
    vault.pay(deposit)
    response = client.get("/charts/reserves-vs-supply.csv?span=1y")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    result = reserves.reconcile()
    assert int(rows[-1]["held_sats"]) == result.held_sats and int(rows[-1]["supply_sats"]) == result.supply_sats
    assert int(rows[0]["held_sats"]) == 0  # a year back, before the deposit
    assert client.get("/charts").status_code == 200


def test_a_lagging_bitcoin_indexer_pairs_the_newest_position_back_instead_of_alerting(vault):
    from indexer.models import ChainCursor

    # Bitcoin bodies scanned only to 105 (headers known to 110); Hemi block 10's hVM saw 108.
    ChainCursor.objects.filter(chain="bitcoin").update(height=105, block_hash=vault.btc[105].hash_internal)
    vault.t.relay(vault.hemi[10], [vault.btc[h] for h in range(106, 109)], tip=vault.btc[108])
    deposit = vault.deposit(height=107)
    vault.mint(deposit, block=12)

    newest = reserves.reconcile()
    assert (newest.position.hemi_block, newest.position.btc_height) == (9, 105)
    assert newest.status == reserves.BALANCED and newest.supply_sats == 0, newest.equation()
    with pytest.raises(reserves.PositionNotIndexed, match="saw Bitcoin height 108"):
        reserves.reconcile(at_hemi_block=12)
    # Pinned past what Bitcoin has indexed on purpose: the mint has no counted deposit there.
    forced = reserves.reconcile(at_btc_height=105, at_hemi_block=12)
    assert forced.status == reserves.SHORTFALL, forced.equation()
