"""A small data set on which every API list has at least five rows (three pages at limit=2),
and ``grow`` to make new blocks - and every kind of row they carry - arrive at the head."""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.explorer.conftest import h32, store_verdicts


@dataclass
class Dataset:
    chains: object
    tunnel: object
    hemi: dict
    btc: dict
    tx_with_logs: object = None
    holder: bytes = b"\x01" * 20  # sends every test transaction
    next_hemi: int = 0
    next_btc: int = 0
    count: int = 0
    extra_tokens: list = field(default_factory=list)

    @property
    def recipient(self) -> bytes:
        return self.tunnel.RECIPIENT


def build(chains, tunnel, rows: int = 5) -> Dataset:
    hemi = chains.hemi_chain(130)  # keystones 25..125
    btc = chains.btc_chain(110, start=100)
    d = Dataset(chains, tunnel, hemi, btc, next_hemi=131, next_btc=111)
    # One transaction with many logs; a block with many transactions.
    d.tx_with_logs = tunnel.hemi_tx(hemi[11], to=b"\xee" * 20)
    for _ in range(rows):
        tunnel.log(d.tx_with_logs, b"\xee" * 20)
    # Publications of keystone 25 in several Bitcoin blocks.
    abrev = chains.keystone_of(hemi[25]).abbreviate()
    for i in range(rows):
        chains.publish(btc[102 + i], abrev, tx_index=1 + i, first=i == 0)
    # Stored Bitcoin transactions in one block (distinct positions).
    for i in range(rows):
        chains.btc.BitcoinTransaction.objects.create(
            block=btc[109], txid_internal=h32(f"stored-{i}"), tx_index=10 + i, raw=b"r", merkle_branch=b""
        )
    for _ in range(rows):
        add_rows(d, hemi[12], btc[101])
    store_verdicts()
    return d


def add_rows(d: Dataset, hemi_block, btc_block) -> None:
    """One of each tunnel row and token row, in the given blocks."""
    c, t = d.chains, d.tunnel
    d.count += 1
    n = d.count
    deposit = t.deposit(btc_block, label=f"dataset-deposit-{n}")
    t.mint(hemi_block, deposit.transaction.txid_internal)
    tx = t.hemi_tx(hemi_block, to=t.VAULT)
    c.hemi.WithdrawalInitiation.objects.create(
        log=t.log(tx, t.VAULT), transaction=tx, block=hemi_block, vault=t.VAULT, withdrawer=b"\x07" * 20,
        btc_address="RAxgMnwsw5ikxfXoDekC6DDD5ppygc76AP", btc_address_hash=b"\x00" * 32, withdrawal_sats=10_000_000,
        net_sats=9_990_000, uuid=n,
    )  # fmt: skip
    token = c.hemi.Token.objects.create(
        address=h32(f"token-{n}")[:20], standard="erc20", name=f"Token {n}", symbol=f"T{n}", first_seen_block=0
    )
    c.hemi.TokenBalance.objects.create(token=token, holder=d.holder, balance=n)
    c.hemi.TokenBalance.objects.create(token=t.token, holder=h32(f"holder-{n}")[:20], balance=n)
    c.hemi.Address.objects.get_or_create(address=d.holder, defaults={"first_seen_block": 0})
    c.hemi.Address.objects.get_or_create(address=t.RECIPIENT, defaults={"first_seen_block": 0})


def grow(d: Dataset) -> None:
    """A new Hemi block (a keystone every 25) and a new Bitcoin block arrive, carrying a
    transaction, a mint, a deposit, a withdrawal, a token, balances and a PoP publication."""
    from tests.explorer.test_hemi_pages import _grow

    n, h = d.next_hemi, d.next_btc
    _grow(d.chains, n, n)
    d.hemi[n] = d.chains.hemi_blocks[n]
    d.btc[h] = d.chains.btc.BitcoinBlock.objects.create(
        hash_internal=h32(f"btc-{h}"), height=h, prev_hash_internal=d.btc[h - 1].hash_internal,
        merkle_root_internal=h32("m"), version=0x20000000, time=1_700_000_000 + 600 * h, bits=0x207FFFFF,
        nonce=0, header_raw=b"\x00" * 80, chainwork=h + 1,
    )  # fmt: skip
    add_rows(d, d.hemi[n], d.btc[h])
    d.chains.publish(d.btc[h], d.chains.keystone_of(d.hemi[50]).abbreviate(), tx_index=7, first=False)
    d.next_hemi, d.next_btc = n + 1, h + 1
    store_verdicts()  # the new rows judged, as the worker would after these blocks


def lists(d: Dataset) -> list[tuple[str, object, bool]]:
    """(URL, key of an item, ascending?) for every API list. Descending lists put arrivals
    before page one; ascending ones after the last page."""
    holder = "0x" + d.holder.hex()
    token = "0x" + d.tunnel.HEMIBTC.hex()
    recipient = "0x" + d.recipient.hex()
    txid = d.btc[109].hash_display
    tx = "0x" + bytes(d.tx_with_logs.hash).hex()
    mint_key = lambda m: (m["transaction_hash"], m["log_index"])  # noqa: E731
    return [
        ("/api/v1/blocks", lambda b: b["height"], False),
        ("/api/v1/blocks/12/transactions", lambda t: t["hash"], True),
        (f"/api/v1/transactions/{tx}/logs", lambda log: log["index"], True),
        (f"/api/v1/addresses/{holder}/transactions", lambda t: t["hash"], False),
        (f"/api/v1/addresses/{recipient}/token-transfers", lambda t: (t["transaction_hash"], t["log_index"]), False),
        (f"/api/v1/addresses/{holder}/token-balances", lambda b: b["token"]["address"], True),
        ("/api/v1/tokens", lambda t: t["address"], False),
        (f"/api/v1/tokens/{token}/holders", lambda h: h["address"], True),
        (f"/api/v1/tokens/{token}/transfers", lambda t: (t["transaction_hash"], t["log_index"]), False),
        ("/api/v1/keystones", lambda k: k["number"], False),
        ("/api/v1/keystones/25/publications", lambda p: (p["txid"], p["vout"]), True),
        ("/api/v1/pop-publications", lambda p: (p["txid"], p["vout"]), False),
        ("/api/v1/bitcoin/blocks", lambda b: b["id"], False),
        (f"/api/v1/bitcoin/blocks/{txid}/transactions", lambda t: t["txid"], True),
        ("/api/v1/tunnel/mints", mint_key, False),
        ("/api/v1/tunnel/deposits", lambda x: (x["txid"], x["vout"]), False),
        ("/api/v1/tunnel/withdrawals", lambda w: w["uuid"], False),
        (f"/api/v1/provenance/token/{token}", mint_key, False),
        (f"/api/v1/provenance/address/{recipient}", mint_key, False),
    ]
