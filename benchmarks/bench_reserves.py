"""Benchmark: reserve reconciliation (``explorer.reserves.reconcile``) over 100 000 deposits.

Run through the services launcher (it needs PostgreSQL): ``make bench``, or
``python -m hemiscope.services run -- python benchmarks/bench_reserves.py [--deposits N]``.
It creates its own throwaway database (``bench_reserves``) and drops it at the end.

The peer, measured in the same run on the same rows: the obvious script an auditor would write
without Hemiscope's aggregates - read every vault output, spend, deposit and mint into Python
and sum there (held, deposits not yet minted, deposit fees; a subset of the terms, so the ratio
flatters the peer). There is no published tool that reconciles Hemi's reserves to compare with.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hemiscope.settings")
os.environ.setdefault("DEBUG", "true")
PER_BTC_BLOCK = 50  # deposits per Bitcoin block
PER_HEMI_BLOCK = 10  # mints per Hemi block
BATCH = 5_000


def h(label: str) -> bytes:
    return hashlib.sha256(label.encode()).digest()


def populate(deposits: int, withdrawals: int) -> None:
    """``deposits`` vault deposits (1% not minted yet), their mints and hemiBTC transfers, and
    ``withdrawals`` paid withdrawals, each spending one deposit output with change back."""
    from indexer.bitcoin import models as btc
    from indexer.hemi import models as hemi
    from indexer.models import ChainCursor

    def bulk(model, rows):
        return model.objects.bulk_create(rows, batch_size=BATCH)

    n_btc = deposits // PER_BTC_BLOCK + 2
    btc_blocks = bulk(btc.BitcoinBlock, [
        btc.BitcoinBlock(hash_internal=h(f"btc{i}"), height=i, prev_hash_internal=h(f"btc{i - 1}"),
                         merkle_root_internal=h("m"), version=1, time=1_700_000_000 + 600 * i, bits=0x207FFFFF,
                         nonce=0, header_raw=b"\0" * 80, chainwork=Decimal(i), scanned_at=None)
        for i in range(n_btc)
    ])  # fmt: skip
    n_hemi = deposits // PER_HEMI_BLOCK + 2
    blocks = bulk(hemi.Block, [
        hemi.Block(number=n, hash=h(f"hemi{n}"), parent_hash=h(f"hemi{n - 1}"), timestamp=1_700_000_000 + 2 * n,
                   miner=b"\0" * 20, state_root=h("s"), transactions_root=h("t"), receipts_root=h("r"), gas_used=0,
                   gas_limit=1, header_rlp=b"", tx_count=1)
        for n in range(n_hemi)
    ])  # fmt: skip
    vault = btc.VaultScript.objects.create(
        vault_address=b"\xba" * 20, vault_index=0, custody_script=b"\x51", discovered_at_hemi_block=0
    )
    token = hemi.Token.objects.create(address=b"\xaa" * 20, standard="erc20", decimals=8, first_seen_block=0)
    dep_txs = bulk(btc.BitcoinTransaction, [
        btc.BitcoinTransaction(block=btc_blocks[i // PER_BTC_BLOCK], txid_internal=h(f"dep{i}"),
                               tx_index=i % PER_BTC_BLOCK + 1, raw=b"", merkle_branch=b"")
        for i in range(deposits)
    ])  # fmt: skip
    bulk(btc.TunnelDeposit, [
        btc.TunnelDeposit(transaction=t, block=t.block, vout=0, vault=vault, value_sats=10**8,
                          recipient=b"\xc0" * 20, recipient_format="ascii-42")
        for t in dep_txs
    ])  # fmt: skip
    bulk(btc.VaultUtxo, [
        btc.VaultUtxo(block=t.block, vault=vault, txid_internal=t.txid_internal, vout=0, value_sats=10**8)
        for t in dep_txs
    ])  # fmt: skip
    minted = [i for i in range(deposits) if i % 100]  # every 100th deposit is not minted yet
    txs = bulk(hemi.Transaction, [
        hemi.Transaction(block=blocks[i // PER_HEMI_BLOCK + 1], hash=h(f"mint{i}"), index=i % PER_HEMI_BLOCK,
                         type=2, sender=b"\1" * 20, to=b"\xee" * 20, value=0, gas=1, input=b"", raw=b"",
                         receipt_raw=b"", status=1, gas_used=1, cumulative_gas_used=1)
        for i in minted
    ])  # fmt: skip
    logs = bulk(hemi.Log, [
        hemi.Log(transaction=t, block=t.block, log_index=2 * t.index + j, address=a, data=b"")
        for t in txs for j, a in enumerate((b"\xee" * 20, b"\xaa" * 20))
    ])  # fmt: skip
    bulk(hemi.DepositConfirmation, [
        hemi.DepositConfirmation(log=log, transaction=log.transaction, block=log.block, vault=b"\xba" * 20,
                                 recipient=b"\xc0" * 20, deposit_txid_internal=h(f"dep{i}"), deposit_sats=10**8,
                                 net_sats=10**8 - 1000)
        for i, log in zip(minted, logs[0::2], strict=True)
    ])  # fmt: skip
    bulk(hemi.TokenTransfer, [
        hemi.TokenTransfer(log=log, token=token, block=log.block, sender=b"\0" * 20, recipient=b"\xc0" * 20,
                           value=10**8 - 1000)
        for log in logs[1::2]
    ])  # fmt: skip
    # Paid withdrawals: burn 10 000 000 on Hemi, pay 9 990 000 from a deposit output on Bitcoin.
    tip_block = btc_blocks[-1]
    w_txs = bulk(hemi.Transaction, [
        hemi.Transaction(block=blocks[-1], hash=h(f"wd{k}"), index=k, type=2, sender=b"\7" * 20, to=b"\xee" * 20,
                         value=0, gas=1, input=b"", raw=b"", receipt_raw=b"", status=1, gas_used=1,
                         cumulative_gas_used=1)
        for k in range(withdrawals)
    ])  # fmt: skip
    w_logs = bulk(hemi.Log, [
        hemi.Log(transaction=t, block=t.block, log_index=2 * t.index + j, address=a, data=b"")
        for t in w_txs for j, a in enumerate((b"\xee" * 20, b"\xaa" * 20))
    ])  # fmt: skip
    bulk(hemi.WithdrawalInitiation, [
        hemi.WithdrawalInitiation(log=log, transaction=log.transaction, block=log.block, vault=b"\xba" * 20,
                                  withdrawer=b"\7" * 20, btc_address="x", btc_address_hash=h("x"),
                                  withdrawal_sats=10**7, net_sats=10**7 - 10_000, uuid=k)
        for k, log in enumerate(w_logs[0::2])
    ])  # fmt: skip
    bulk(hemi.TokenTransfer, [
        hemi.TokenTransfer(log=log, token=token, block=log.block, sender=b"\7" * 20, recipient=b"\0" * 20,
                           value=10**7)
        for log in w_logs[1::2]
    ])  # fmt: skip
    p_txs = bulk(btc.BitcoinTransaction, [
        btc.BitcoinTransaction(block=tip_block, txid_internal=h(f"pay{k}"), tx_index=k + 1, raw=b"", merkle_branch=b"")
        for k in range(withdrawals)
    ])  # fmt: skip
    fee, change = 1_000, 10**8 - (10**7 - 10_000) - 1_000
    bulk(btc.WithdrawalPayout, [
        btc.WithdrawalPayout(transaction=t, block=tip_block, vault=vault, withdrawal_index=k, payout_script=b"\x51",
                             amount_sats=10**7 - 10_000)
        for k, t in enumerate(p_txs)
    ])  # fmt: skip
    bulk(btc.VaultSpend, [
        btc.VaultSpend(block=tip_block, transaction=t, input_index=0, vault=vault, spent_txid_internal=h(f"dep{k}"),
                       spent_vout=0, value_sats=10**8)
        for k, t in enumerate(p_txs)
    ])  # fmt: skip
    bulk(btc.VaultUtxo, [
        btc.VaultUtxo(block=tip_block, vault=vault, txid_internal=t.txid_internal, vout=1, value_sats=change)
        for t in p_txs
    ])  # fmt: skip
    bulk(btc.VaultOutflow, [
        btc.VaultOutflow(block=tip_block, transaction=t, vault=vault, kind="payout", input_count=1,
                         vault_input_count=1, spent_sats=10**8, output_sats=10**8 - fee, to_vault_sats=change,
                         payout_sats=10**7 - 10_000, network_fee_sats=fee)
        for t in p_txs
    ])  # fmt: skip
    ChainCursor.objects.create(chain="bitcoin", height=tip_block.height, block_hash=tip_block.hash_internal)
    ChainCursor.objects.create(chain="hemi", height=blocks[-1].number, block_hash=blocks[-1].hash)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def naive_peer() -> int:
    """Held - supply - unminted - deposit fees, by reading the rows into Python."""
    from indexer.bitcoin import models as btc
    from indexer.hemi import models as hemi

    outputs = {(bytes(t), v): s for t, v, s in btc.VaultUtxo.objects.values_list("txid_internal", "vout", "value_sats")}
    for t, v in btc.VaultSpend.objects.values_list("spent_txid_internal", "spent_vout"):
        outputs.pop((bytes(t), v), None)
    held = sum(outputs.values())
    rows = btc.TunnelDeposit.objects.values_list("transaction__txid_internal", "value_sats")
    deposits = {bytes(t): s for t, s in rows}
    minted, fees = set(), 0
    mints = hemi.DepositConfirmation.objects.values_list("deposit_txid_internal", "deposit_sats", "net_sats")
    for txid, gross, net in mints:
        minted.add(bytes(txid))
        fees += int(gross - net)
    supply = 0
    for sender, value in hemi.TokenTransfer.objects.values_list("sender", "value"):
        supply += int(value) if bytes(sender) == b"\0" * 20 else -int(value)
    unminted = sum(s for t, s in deposits.items() if t not in minted)
    return held - supply - unminted - fees


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deposits", type=int, default=100_000)
    parser.add_argument("--withdrawals", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    import django

    django.setup()
    from dataclasses import replace

    from django.db import connection

    from explorer import reserves
    from hemiscope import networks

    preset = replace(networks.current(), hemibtc_address="0x" + "aa" * 20)
    networks.current = lambda: preset  # the benchmark's own hemiBTC token
    old_name = connection.settings_dict["NAME"]
    # Its own database name: a test run in the same checkout uses test_<name>.
    connection.settings_dict.setdefault("TEST", {})["NAME"] = "bench_reserves"
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        t0 = time.perf_counter()
        populate(args.deposits, args.withdrawals)
        print(f"populated {args.deposits} deposits and {args.withdrawals} paid withdrawals in "
              f"{time.perf_counter() - t0:.1f} s")  # fmt: skip
        result = reserves.reconcile()  # warm-up, and the answer must be right
        assert result.status == reserves.BALANCED, result.equation()
        times, peer_times = [], []
        for _ in range(args.runs):
            start = time.perf_counter()
            reserves.reconcile()
            times.append(time.perf_counter() - start)
            start = time.perf_counter()
            naive_peer()
            peer_times.append(time.perf_counter() - start)
        median, peer = statistics.median(times), statistics.median(peer_times)
        timed: list[tuple[float, str]] = []

        def timing(execute, sql, params, many, context):
            start = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                timed.append((time.perf_counter() - start, sql))

        with connection.execute_wrapper(timing):
            reserves.reconcile()
        print(result.equation())
        print(f"{len(timed)} SQL queries; the slowest:")
        for seconds, sql in sorted(timed, reverse=True)[:4]:
            print(f"  {seconds * 1000:6.0f} ms  {sql[:150]}")
        print(f"reconcile() over {args.deposits} deposits: median {median * 1000:.0f} ms of {args.runs} runs")
        print(f"  peer (rows read into Python, 3 of the 5 terms): median {peer * 1000:.0f} ms")
        print(f"  ratio peer/reconcile = {peer / median:.2f}x")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
