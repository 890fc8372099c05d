"""Benchmark: provenance JSON for one mint with 10 000 mints stored (goal: < 100 ms).

Run through the services launcher (it needs PostgreSQL): ``make bench``, or
``python -m hemiscope.services run -- python benchmarks/bench_provenance.py``.
It creates its own throwaway database (``test_<name>``) and drops it at the end.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hemiscope.settings")
os.environ.setdefault("DEBUG", "true")
# One client sends every request: the anonymous throttle (still counted, as in production)
# must not refuse the 121st.
os.environ.setdefault("THROTTLE_ANON_RATE", "1000000/min")
GOAL_MS = 100.0


def h(label: str) -> bytes:
    return hashlib.sha256(label.encode()).digest()


def populate(mints: int) -> list[bytes]:
    """Hemi blocks with one mint each, hVM relays, keystones and their Bitcoin publications."""
    from indexer.bitcoin import models as btc
    from indexer.hemi import models as hemi
    from indexer.keystone import L2Keystone

    n_blocks = mints + 50
    btc_blocks = btc.BitcoinBlock.objects.bulk_create(
        btc.BitcoinBlock(
            hash_internal=h(f"btc{i}"),
            height=i,
            prev_hash_internal=h(f"btc{i - 1}"),
            merkle_root_internal=h("m"),
            version=1,
            time=i,
            bits=0x207FFFFF,
            nonce=0,
            header_raw=b"\0" * 80,
            chainwork=Decimal(i),
        )
        for i in range(n_blocks // 5 + 20)
    )
    blocks = hemi.Block.objects.bulk_create(
        hemi.Block(
            number=n,
            hash=h(f"hemi{n}"),
            parent_hash=h(f"hemi{n - 1}"),
            timestamp=n,
            miner=b"\0" * 20,
            state_root=h(f"s{n}"),
            transactions_root=h("t"),
            receipts_root=h("r"),
            gas_used=0,
            gas_limit=1,
            header_rlp=b"",
            tx_count=2,
            l1_origin_number=n // 10,
        )
        for n in range(n_blocks)
    )
    keystones, pubs_tx, pubs = [], [], []
    for block in blocks[25::25]:
        n = block.number
        ks = L2Keystone(
            n // 10, n, h(f"hemi{n - 1}"), h(f"hemi{n - 25}") if n > 25 else b"\0" * 32, h(f"s{n}"), h(f"hemi{n}")
        )
        abrev = ks.abbreviate()
        keystones.append(
            hemi.Keystone(
                block=block,
                number=n,
                l1_block_number=n // 10,
                parent_ep_hash=ks.parent_ep_hash,
                prev_ep_keystone_hash=ks.prev_ep_keystone_hash,
                state_root=ks.state_root,
                ep_hash=ks.ep_hash,
                abrev=abrev.to_bytes(),
                keystone_id_internal=abrev.id_internal,
            )
        )
        pub_block = btc_blocks[min(n // 5 + 2, len(btc_blocks) - 1)]
        pubs_tx.append(
            btc.BitcoinTransaction(block=pub_block, txid_internal=h(f"pop{n}"), tx_index=1, raw=b"", merkle_branch=b"")
        )
        pubs.append((pub_block, abrev))
    hemi.Keystone.objects.bulk_create(keystones)
    pubs_tx = btc.BitcoinTransaction.objects.bulk_create(pubs_tx)
    publications = btc.PopPublication.objects.bulk_create(
        btc.PopPublication(
            transaction=tx,
            block=b,
            vout=1,
            format="v1",
            payload=a.to_bytes(),
            keystone_id_internal=a.id_internal,
            l1_block_number=a.l1_block_number,
            l2_block_number=a.l2_block_number,
            parent_ep_hash_prefix=a.parent_ep_hash_prefix,
            prev_keystone_ep_hash_prefix=a.prev_keystone_ep_hash_prefix,
            state_root=a.state_root,
            ep_hash_prefix=a.ep_hash_prefix,
        )
        for tx, (b, a) in zip(pubs_tx, pubs, strict=True)
    )
    btc.KeystoneFirstPublication.objects.bulk_create(
        btc.KeystoneFirstPublication(
            keystone_id_internal=p.keystone_id_internal,
            publication=p,
            height=p.block.height,
            l2_block_number=p.l2_block_number,
        )
        for p in publications
    )
    vault = btc.VaultScript.objects.create(
        vault_address=b"\xba" * 20, vault_index=0, custody_script=b"\x51", discovered_at_hemi_block=0
    )
    token = hemi.Token.objects.create(address=b"\xaa" * 20, standard="erc20", decimals=8, first_seen_block=0)
    txs = hemi.Transaction.objects.bulk_create(
        hemi.Transaction(
            block=b,
            hash=h(f"tx{b.number}-{i}"),
            index=i,
            type=2,
            sender=b"\1" * 20,
            to=b"\xee" * 20,
            value=0,
            gas=1,
            input=b"",
            raw=b"",
            receipt_raw=b"",
            status=1,
            gas_used=1,
            cumulative_gas_used=1,
        )
        for b in blocks[1 : mints + 1]
        for i in range(2)
    )
    relays = hemi.HvmUpdate.objects.bulk_create(
        hemi.HvmUpdate(
            transaction=t,
            block=t.block,
            source="call",
            canonical_tip_internal=h(f"btc{t.block.number // 5 + 5}"),
            header_count=1,
        )
        for t in txs[0::2]
    )
    hemi.HvmHeader.objects.bulk_create(
        hemi.HvmHeader(
            update=u,
            position=0,
            header_raw=b"\0" * 80,
            btc_hash_internal=h(f"btc{u.block.number // 5}"),
            prev_hash_internal=b"\0" * 32,
        )
        for u in relays
    )
    deposit_txs = btc.BitcoinTransaction.objects.bulk_create(
        btc.BitcoinTransaction(
            block=btc_blocks[b.number // 5], txid_internal=h(f"dep{b.number}"), tx_index=2, raw=b"", merkle_branch=b""
        )
        for b in blocks[1 : mints + 1]
    )
    btc.TunnelDeposit.objects.bulk_create(
        btc.TunnelDeposit(
            transaction=t,
            block=t.block,
            vout=0,
            vault=vault,
            value_sats=10**8,
            recipient=b"\xc0" * 20,
            recipient_format="ascii-42",
        )
        for t in deposit_txs
    )
    mint_txs = txs[1::2]
    logs = hemi.Log.objects.bulk_create(
        hemi.Log(transaction=t, block=t.block, log_index=i, address=a, data=b"")
        for t in mint_txs
        for i, a in enumerate((b"\xee" * 20, b"\xaa" * 20))
    )
    hemi.DepositConfirmation.objects.bulk_create(
        hemi.DepositConfirmation(
            log=log,
            transaction=log.transaction,
            block=log.block,
            vault=b"\xba" * 20,
            recipient=b"\xc0" * 20,
            deposit_txid_internal=h(f"dep{log.block.number}"),
            deposit_sats=10**8,
            net_sats=10**8 - 1000,
        )
        for log in logs[0::2]
    )
    hemi.TokenTransfer.objects.bulk_create(
        hemi.TokenTransfer(
            log=log, token=token, block=log.block, sender=b"\0" * 20, recipient=b"\xc0" * 20, value=10**8 - 1000
        )
        for log in logs[1::2]
    )
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return [bytes(t.hash) for t in mint_txs]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mints", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment

    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        t0 = time.perf_counter()
        hashes = populate(args.mints)
        print(f"populated {args.mints} mints in {time.perf_counter() - t0:.1f} s")
        client = Client()
        rng = random.Random(7)
        for tx in hashes[:5]:  # warm-up
            assert client.get(f"/api/v1/provenance/mint/0x{tx.hex()}").status_code == 200
        times = []
        from explorer import provenance
        from explorer.api.v1.serializers.tunnel import ProvenanceSerializer

        queries: list[str] = []

        def count(execute, sql, params, many, context):
            queries.append(sql)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(count):
            mint = provenance.mints_in_transaction(hashes[len(hashes) // 2]).first()
            _ = ProvenanceSerializer(provenance.for_mint(mint)).data
        for _ in range(args.requests):
            tx = rng.choice(hashes)
            start = time.perf_counter()
            response = client.get(f"/api/v1/provenance/mint/0x{tx.hex()}")
            times.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200
        median, p95 = statistics.median(times), sorted(times)[int(0.95 * len(times))]
        print(f"provenance JSON of one mint, {args.mints} mints stored, {len(queries)} SQL queries per request")
        print(f"  median {median:.1f} ms   p95 {p95:.1f} ms   goal < {GOAL_MS:.0f} ms")
        print(f"  ratio goal/median = {GOAL_MS / median:.2f}x  -> {'MET' if median < GOAL_MS else 'NOT MET'}")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
