"""The spent outputs of stored transactions (fee, Esplora's ``vin[].prevout``), on the real
testnet3 fixture block: its PoP transactions chain their change, so many spend an output of an
earlier transaction in the same block - real bytes for both sides of an input."""

from __future__ import annotations

import pytest

from indexer.bitcoin import prevouts
from indexer.bitcoin.decode import decode_block, decode_tx
from indexer.bitcoin.ingest import ingest_block
from indexer.bitcoin.models import BitcoinTransaction
from indexer.bitcoin.source import TxNotFound

HEIGHT = 3802509


class BlockOnlySource:
    """Serves the transactions of one block; anything else is "not found", like a node without
    a tx index asked for a transaction outside its wallet."""

    name = "block-only"

    def __init__(self, raw_block: bytes):
        self.txs = {tx.txid_internal: tx.raw for tx in decode_block(raw_block).txs}
        self.asked: list[int] = []

    def raw_transactions(self, txids):
        self.asked.append(len(txids))
        missing = [t for t in txids if t not in self.txs]
        if missing:
            raise TxNotFound(f"{missing[0][::-1].hex()} not found")
        return [self.txs[t] for t in txids]


def test_spent_outputs_round_trip_and_give_the_fee_on_real_bytes(testnet3_block):
    block = decode_block(testnet3_block)
    spender, funder = block.tx(27), block.tx(26)  # tx 27's only input spends tx 26's output 0
    (txin,) = spender.inputs
    assert txin.prev_txid_internal == funder.txid_internal
    spent = funder.outputs[txin.vout]
    encoded = prevouts.encode([spent])
    assert prevouts.decode(encoded, 1) == [spent]
    fee = prevouts.fee_sats(spender.raw, encoded)
    assert fee == spent.value_sats - sum(o.value_sats for o in spender.outputs) and fee > 0
    assert prevouts.fee_sats(spender.raw, None) is None  # unknown, never guessed
    assert prevouts.fee_sats(block.tx(0).raw, b"") == 0  # a coinbase spends nothing
    for bad, expected in ((encoded[:-1], 1), (encoded, 2), (encoded + b"\x00", 1)):
        with pytest.raises(prevouts.BadPrevouts):
            prevouts.decode(bad, expected)


@pytest.mark.django_db
def test_fill_keeps_what_the_source_serves_and_marks_the_rest_once(testnet3_block, settings):
    settings.BITCOIN_KEEP_PREVOUTS = True
    ingest_block(testnet3_block, HEIGHT, bitcoin_network="testnet3")
    stored = BitcoinTransaction.objects.count()
    source = BlockOnlySource(testnet3_block)
    settled = 0
    while done := prevouts.fill_missing(source, limit=1000):
        settled += done
    assert settled == stored
    kept = BitcoinTransaction.objects.filter(prevouts__isnull=False)
    unavailable = BitcoinTransaction.objects.filter(prevouts_unavailable_at__isnull=False)
    assert kept.count() + unavailable.count() == stored and kept.exists() and unavailable.exists()
    for row in kept[:50]:
        tx = decode_tx(bytes(row.raw))
        spent = prevouts.decode(bytes(row.prevouts), len(tx.inputs))
        for txin, out in zip(tx.inputs, spent, strict=True):
            assert decode_tx(source.txs[txin.prev_txid_internal]).outputs[txin.vout] == out
    for row in unavailable[:50]:
        tx = decode_tx(bytes(row.raw))
        assert any(txin.prev_txid_internal not in source.txs for txin in tx.inputs)
    # Settled rows are never asked for again.
    source.asked.clear()
    assert prevouts.fill_missing(source) == 0 and source.asked == []


@pytest.mark.django_db
def test_nothing_is_fetched_when_prevouts_are_switched_off(testnet3_block, settings):
    settings.BITCOIN_KEEP_PREVOUTS = False
    ingest_block(testnet3_block, HEIGHT, bitcoin_network="testnet3")
    source = BlockOnlySource(testnet3_block)
    assert prevouts.fill_missing(source) == 0 and source.asked == []
    assert not BitcoinTransaction.objects.filter(prevouts__isnull=False).exists()
