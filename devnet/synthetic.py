"""A synthetic Hemi + Bitcoin chain of any size, written through the indexers' own write paths.

What it is for: measuring pages, the API and ingest at mainnet size (``make bench-scale``),
and letting operators size hardware, without syncing millions of blocks from a node.

How it stays honest: nothing here inserts rows by hand. Every block is built as the records
the RPC mappers produce (``indexer.hemi.records``; Bitcoin blocks as raw bytes), encoded with
the indexer's own codecs, and stored by the real writers:

* Hemi: ``layout.lay_out`` then ``ingest.write_run`` - the backfill path (binary COPY of
  transactions, logs and transfers; token balances; first-seen addresses; keystones, hVM
  updates and tunnel rows derived by ``block_extras``; the chain cursor);
* Bitcoin: ``ingest.ingest_block`` on raw regtest-rule blocks from height ``btc_start``
  (mainnet's 859 303 by default): header validation, PoP scan, tunnel deposit detection,
  first publications, cursor;
* the vault's custody through ``bitcoin.vaults.register_vault`` and
  ``hemi.vaults_ingest.store_custody``, as the crosschain work handler does after its RPC read.

What is consistent: header RLP hashes to the block hash; every transaction's raw bytes hash to
its hash; transactionsRoot and receiptsRoot are the tries of the stored raw bytes; keystones are
built by ``hemi.keystones`` from the stored blocks and published on Bitcoin by PoP outputs that
the PoP scanner decodes; each mint's Bitcoin deposit pays the vault's custody script, sits in a
block relayed into the hVM (``updateHvmState`` 0x7C) at least 5 blocks before the mint, and is
credited once; token balances follow from the transfers (no holder goes negative).

What is not real: signatures (r, s are fixed non-zero values; senders are not recoverable from
them), logs blooms (zero), state roots (hashes of the block number), and Bitcoin PoW (regtest
bits, so blocks are mined in microseconds; the Bitcoin side is validated with regtest rules at
mainnet heights). There are no PoP payouts (0x7D) and no Bitcoin withdrawal payouts yet:
withdrawals stay "initiated".

Cadence: one Bitcoin block per ``HEMI_PER_BTC`` (50) Hemi blocks, i.e. 12 s Hemi blocks and
10 min Bitcoin blocks; a keystone every 25 Hemi blocks, published in the next Bitcoin block.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bitcoin.core import CMutableTransaction, CMutableTxIn, CMutableTxOut, COutPoint, CTransaction
from bitcoin.core.script import CScript
from coincurve import PrivateKey
from eth_abi import encode as abi_encode

from devnet.btctx import block_hash_internal, build_block, op_return_script
from devnet.keystones import pop_script
from indexer.hashing import keccak256
from indexer.hemi import events, hvm, keystones, l1info, layout
from indexer.hemi.headers import encode_header
from indexer.hemi.mpt import ordered_trie_root
from indexer.hemi.records import (
    BTC_ATTRIBUTES_TX,
    DEPOSIT_TX,
    DYNAMIC_FEE_TX,
    HEMI_SYSTEM_SENDER,
    ZERO_ADDRESS,
    HemiBlock,
    HemiLog,
    HemiReceipt,
    HemiTransaction,
)
from indexer.hemi.rlpcodec import encode_receipt, encode_transaction
from indexer.hemi.verify import PreparedBlock
from indexer.keystone import ZERO_HASH, is_keystone_number

HEMI_PER_BTC = 50  # Hemi blocks (12 s) per Bitcoin block (10 min)
HEMI_BLOCK_SECONDS = 12
MAINNET_BTC_START = 859_303
CHAIN_ID = 743112
DEPOSIT_CONFIRMATIONS = 5  # a mint credits a deposit this many relayed Bitcoin blocks later


def _address(label: str) -> bytes:
    return keccak256(label.encode())[12:]


MANAGER = _address("synthetic tunnel manager")
VAULT = _address("synthetic vault 0")
HEMIBTC = _address("synthetic hemiBTC")
OPERATOR = _address("synthetic tunnel operator")
HVM_STATE = _address("synthetic hvm state")
SEQUENCER_FEE_VAULT = bytes.fromhex("4200000000000000000000000000000000000011")
CUSTODY_SCRIPT = bytes.fromhex("76a914") + keccak256(b"synthetic custody")[:20] + bytes.fromhex("88ac")
MINER_PAYOUT = bytes.fromhex("76a914") + keccak256(b"synthetic btc miner")[:20] + bytes.fromhex("88ac")
ERC20_TRANSFER_SELECTOR = keccak256(b"transfer(address,uint256)")[:4]
CONFIRM_DEPOSIT_SELECTOR = keccak256(b"confirmDeposit(uint32,bytes32)")[:4]
POP_KEYS = [PrivateKey(keccak256(f"synthetic pop miner {i}".encode())) for i in range(4)]
# (address, name, symbol, decimals, standard); hemiBTC first. Token metadata is written after
# the run as the metadata work item would (the synthetic chain has no node to eth_call).
TOKENS = [(HEMIBTC, "hemiBTC", "hemiBTC", 8, "erc20")] + [
    (_address(f"synthetic token {i}"), f"Synthetic Token {i}", f"SYN{i}", 18 if i % 3 else 6, "erc20")
    for i in range(1, 19)
] + [(_address("synthetic nft"), "Synthetic NFT", "SNFT", None, "erc721")]
ERC20_TOKENS = [t[0] for t in TOKENS[1:-1]]
NFT = TOKENS[-1][0]


def _word(value: int) -> bytes:
    return value.to_bytes(32, "big")


def _topic(address: bytes) -> bytes:
    return bytes(12) + address


class DatabaseNotEmpty(RuntimeError):
    """The database already holds Hemi blocks: a synthetic chain is only written into empty tables."""


@dataclass
class Options:
    hemi_blocks: int
    txs_per_block: int = 10
    deposits_per_btc_block: int = 2
    withdrawals_per_btc_block: int = 1
    btc_start: int = MAINNET_BTC_START
    seed: int = 21
    users: int | None = None
    run_blocks: int = 500  # Hemi blocks per write_run transaction  # address pool; default scales with the chain

    @property
    def user_count(self) -> int:
        return self.users or max(1000, self.hemi_blocks * self.txs_per_block // 20)


@dataclass
class _State:
    rng: random.Random
    users: list[bytes]
    nonces: dict[bytes, int] = field(default_factory=dict)
    # token -> holder -> balance; holders[token] lists holders (with duplicates dropped lazily).
    balances: dict[bytes, dict[bytes, int]] = field(default_factory=dict)
    holders: dict[bytes, list[bytes]] = field(default_factory=dict)
    nft_owner: dict[int, bytes] = field(default_factory=dict)
    next_nft: int = 0
    hashes: dict[int, bytes] = field(default_factory=dict)  # Hemi number -> hash (recent)
    pending_keystones: list[tuple[HemiBlock, int]] = field(default_factory=list)  # (block, l1 origin)
    btc_headers: list[bytes] = field(default_factory=list)  # raw 80-byte headers, by offset
    btc_parent: tuple[bytes, int] = (ZERO_HASH, 0)  # (hash internal, time)
    deposits: dict[int, list[tuple[bytes, bytes, int]]] = field(default_factory=dict)  # btc j -> (txid, to, sats)
    next_uuid: int = 1
    relay_tip: int | None = None


def generate(opts: Options, *, progress: Callable[[str], None] = print, verdicts: bool = True):
    """Fill an empty database with ``opts.hemi_blocks`` Hemi blocks and the Bitcoin chain beside
    them, then (``verdicts``) judge and store every verdict (:func:`store_verdicts`)."""
    from django.db import connection

    from indexer.bitcoin import ingest as btc_ingest
    from indexer.bitcoin.vaults import register_vault
    from indexer.hemi import ingest as hemi_ingest
    from indexer.hemi.models import Block

    if Block.objects.exists():
        raise DatabaseNotEmpty("make_synthetic fills an empty database; this one already holds Hemi blocks")
    rng = random.Random(opts.seed)
    state = _State(rng=rng, users=[_address(f"synthetic user {i}") for i in range(opts.user_count)])
    start = time.time() - opts.hemi_blocks * HEMI_BLOCK_SECONDS - 3600
    config = hemi_ingest.IngestConfig(tunnel_manager=MANAGER, accept_impersonated=True, verify_strict=True)
    register_vault(VAULT, 0, CUSTODY_SCRIPT, "", 1, not_before_time=int(start))
    _anchor_context(state, opts, int(start))
    windows = (opts.hemi_blocks + HEMI_PER_BTC - 1) // HEMI_PER_BTC
    t0 = time.monotonic()
    txs = 0
    # Blocks are built in chain order and written in runs of about ``run_blocks`` Hemi blocks
    # (one write_run transaction each, as a backfill batch) after the Bitcoin blocks built
    # beside them: a run of 50 blocks spent a third of its time on per-run round trips.
    raws: list[tuple[bytes, int]] = []
    items: list = []
    custody_stored = False
    for j in range(windows):
        raws.append(_bitcoin_block(state, opts, j, int(start) + 600 * j))
        first = j * HEMI_PER_BTC
        last = min(first + HEMI_PER_BTC, opts.hemi_blocks)
        for n in range(first, last):
            prepared = _hemi_block(state, opts, n, int(start) + HEMI_BLOCK_SECONDS * n, j)
            prev_ks = state.hashes.get(n - 25) if is_keystone_number(n) and n > 25 else None
            items.append((layout.lay_out(prepared), prev_ks))
            txs += len(prepared.block.transactions)
        if len(items) < opts.run_blocks and j != windows - 1:
            continue
        for raw, height in raws:
            btc_ingest.ingest_block(raw, height, bitcoin_network="regtest")
        if hemi_ingest.write_run(items, config=config) is None:
            raise RuntimeError(f"Hemi blocks {items[0][0].number}..{last - 1} did not extend the stored chain")
        raws, items = [], []
        if not custody_stored:
            _store_custody(int(start))
            custody_stored = True
        elapsed = time.monotonic() - t0
        progress(f"hemi {last}/{opts.hemi_blocks} blocks, {txs} txs, bitcoin {height}; "
                 f"{last / elapsed:.0f} blocks/s, {txs / elapsed:.0f} txs/s")
    _finish_tokens(state)
    _finish_work()
    build_seconds = time.monotonic() - t0
    judged = store_verdicts(progress) if verdicts else None
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    return {"hemi_blocks": opts.hemi_blocks, "transactions": txs, "bitcoin_blocks": windows,
            "seconds": time.monotonic() - t0, "build_seconds": build_seconds, "verdicts": judged}


# --------------------------------------------------------------------------- Bitcoin


def _anchor_context(state: _State, opts: Options, start: int) -> None:
    """Header-only rows below the start height, as the Bitcoin sync stores for an empty index:
    what the rules read to validate the first scanned blocks (here: a retarget boundary)."""
    from indexer.bitcoin import ingest as btc_ingest

    first = btc_ingest.anchor_context_start(opts.btc_start, btc_ingest.chain_params("regtest"))
    if first >= opts.btc_start:
        return
    raws = []
    for height in range(first, opts.btc_start):
        parent_hash, parent_time = state.btc_parent
        block = build_block(parent_hash, parent_time, height, [], MINER_PAYOUT,
                            block_time=start - 600 * (opts.btc_start - height))
        state.btc_parent = (block_hash_internal(block), block.nTime)
        raws.append(block.get_header().serialize())
    btc_ingest.ingest_headers(raws, first, bitcoin_network="regtest", trusted=True)


def _script_sig(key: PrivateKey, label: bytes) -> bytes:
    # <71-byte push> <33-byte compressed pubkey>: the shape the PoP scanner reads the miner from.
    sig = b"\x30" + keccak256(label)[:1] + bytes(69)
    return bytes(CScript([sig, key.public_key.format(compressed=True)]))


def _tx(inputs: list[bytes], outputs: list[tuple[bytes, int]], version: int = 2) -> CTransaction:
    vin = [CMutableTxIn(COutPoint(keccak256(label), 0), CScript(_script_sig(POP_KEYS[0], label))) for label in inputs]
    vout = [CMutableTxOut(value, CScript(script)) for script, value in outputs]
    return CTransaction.from_tx(CMutableTransaction(vin, vout, nVersion=version))


def _bitcoin_block(state: _State, opts: Options, j: int, block_time: int) -> tuple[bytes, int]:
    """Bitcoin block ``j``: PoP publications of the keystones of Hemi window j-1, and the tunnel
    deposits that Hemi window j+DEPOSIT_CONFIRMATIONS will mint."""
    height = opts.btc_start + j
    txs = []
    for ks_block, l1_origin in state.pending_keystones:
        prev = state.hashes.get(ks_block.number - 25, ZERO_HASH) if ks_block.number > 25 else ZERO_HASH
        keystone = keystones.build_keystone(ks_block, prev, l1_origin)
        for m in range(1 + (ks_block.number // 25) % 2):  # some keystones published twice
            key = POP_KEYS[(ks_block.number + m) % len(POP_KEYS)]
            label = b"pop %d %d" % (ks_block.number, m)
            vin = [CMutableTxIn(COutPoint(keccak256(label), 0), CScript(_script_sig(key, label)))]
            change = bytes.fromhex("76a914") + keccak256(key.public_key.format())[:20] + bytes.fromhex("88ac")
            vout = [CMutableTxOut(10_000, CScript(change)), CMutableTxOut(0, CScript(pop_script(keystone)))]
            txs.append(CTransaction.from_tx(CMutableTransaction(vin, vout, nVersion=2, nLockTime=height)))
    state.pending_keystones = []
    deposits = []
    # The deposits of the last DEPOSIT_CONFIRMATIONS blocks stay unminted, as on a live tip.
    for d in range(opts.deposits_per_btc_block):
        recipient = state.rng.choice(state.users)
        sats = 1_000_000 * state.rng.randint(1, 500)
        tx = _tx([b"deposit %d %d" % (j, d)], [(CUSTODY_SCRIPT, sats), (op_return_script(recipient), 0)])
        txs.append(tx)
        deposits.append((tx.GetTxid(), recipient, sats))
    state.deposits[j] = deposits
    parent_hash, parent_time = state.btc_parent
    block = build_block(parent_hash, parent_time, height, txs, MINER_PAYOUT, block_time=block_time)
    state.btc_parent = (block_hash_internal(block), block_time)
    state.btc_headers.append(block.get_header().serialize())
    return block.serialize(), height


# --------------------------------------------------------------------------- Hemi


_SIG = (1, 0x1111 << 200, 0x2222 << 200)  # y_parity, r, s: fixed, non-zero (see module docstring)
_BASE_FEE = 252


def _user_tx(state: _State, sender: bytes, to: bytes | None, value: int, data: bytes, gas: int) -> HemiTransaction:
    nonce = state.nonces.get(sender, 0)
    state.nonces[sender] = nonce + 1
    tx = HemiTransaction(
        hash=b"", tx_type=DYNAMIC_FEE_TX, from_address=sender, to_address=to, nonce=nonce, gas=gas, value=value,
        input=data, gas_price=_BASE_FEE + 1_000_000, max_fee_per_gas=_BASE_FEE * 2 + 1_000_000,
        max_priority_fee_per_gas=1_000_000, chain_id=CHAIN_ID, access_list=(), v=_SIG[0], r=_SIG[1], s=_SIG[2],
        y_parity=_SIG[0],
    )  # fmt: skip
    return tx


def _credit(state: _State, token: bytes, holder: bytes, amount: int) -> None:
    book = state.balances.setdefault(token, {})
    if holder not in book:
        state.holders.setdefault(token, []).append(holder)
    book[holder] = book.get(holder, 0) + amount


def _transfer_log(token: bytes, sender: bytes, recipient: bytes, amount: int) -> tuple[bytes, tuple, bytes]:
    return token, (events.TRANSFER_TOPIC, _topic(sender), _topic(recipient)), _word(amount)


def _erc20_transfer(state: _State, rng: random.Random) -> tuple[HemiTransaction, list, int]:
    token = ERC20_TOKENS[min(int(rng.paretovariate(1.2)) - 1, len(ERC20_TOKENS) - 1)]
    holders = state.holders.get(token)
    book = state.balances.setdefault(token, {})
    if not holders or rng.random() < 0.05:
        sender = rng.choice(state.users)  # a faucet claim: minted from zero
        amount = rng.randint(1, 10**21)
        logs = [_transfer_log(token, ZERO_ADDRESS, sender, amount)]
        _credit(state, token, sender, amount)
        return _user_tx(state, sender, token, 0, bytes.fromhex("4e71d92d"), 80_000), logs, 48_000
    sender = holders[rng.randrange(len(holders))]
    balance = book.get(sender, 0)
    recipient = rng.choice(state.users)
    amount = rng.randint(0, balance // 2) if balance > 1 else balance
    book[sender] = balance - amount
    _credit(state, token, recipient, amount)
    data = ERC20_TRANSFER_SELECTOR + _word(int.from_bytes(recipient, "big")) + _word(amount)
    return _user_tx(state, sender, token, 0, data, 65_000), [_transfer_log(token, sender, recipient, amount)], 51_000


def _nft(state: _State, rng: random.Random) -> tuple[HemiTransaction, list, int]:
    if state.next_nft == 0 or rng.random() < 0.5:
        token_id, sender, recipient = state.next_nft, ZERO_ADDRESS, rng.choice(state.users)
        state.next_nft += 1
        caller = recipient
    else:
        token_id = rng.randrange(state.next_nft)
        sender, recipient = state.nft_owner[token_id], rng.choice(state.users)
        caller = sender
    state.nft_owner[token_id] = recipient
    topics = (events.TRANSFER_TOPIC, _topic(sender), _topic(recipient), _word(token_id))
    tx = _user_tx(state, caller, NFT, 0, bytes.fromhex("a1448194") + _word(token_id), 120_000)
    return tx, [(NFT, topics, b"")], 90_000


def _mint(state: _State, txid_internal: bytes, recipient: bytes, sats: int) -> tuple[HemiTransaction, list, int]:
    net = sats - sats // 1000  # the vault's 10 bps deposit fee
    logs = [
        (MANAGER, (events.DEPOSIT_CONFIRMED_TOPIC, _topic(VAULT), _topic(recipient), txid_internal[::-1]),
         _word(sats) + _word(net)),
        _transfer_log(HEMIBTC, ZERO_ADDRESS, recipient, net),
    ]  # fmt: skip
    _credit(state, HEMIBTC, recipient, net)
    data = CONFIRM_DEPOSIT_SELECTOR + _word(0) + txid_internal[::-1]
    return _user_tx(state, OPERATOR, MANAGER, 0, data, 300_000), logs, 180_000


def _withdrawal(state: _State, rng: random.Random) -> tuple[HemiTransaction, list, int] | None:
    book = state.balances.get(HEMIBTC, {})
    holders = [h for h in state.holders.get(HEMIBTC, ()) if book.get(h, 0) >= 2_000_000]
    if not holders:
        return None
    withdrawer = rng.choice(holders)
    amount = rng.randint(1_000_000, book[withdrawer] // 2 + 1_000_000)
    book[withdrawer] -= amount
    btc_address = "bc1q" + keccak256(withdrawer)[:19].hex()[:38]
    uuid = state.next_uuid
    state.next_uuid += 1
    logs = [
        _transfer_log(HEMIBTC, withdrawer, ZERO_ADDRESS, amount),
        (MANAGER, (events.WITHDRAWAL_INITIATED_TOPIC, _topic(VAULT), _topic(withdrawer),
                   keccak256(btc_address.encode())), _word(amount) + _word(amount - amount // 1000) + _word(uuid)),
    ]  # fmt: skip
    data = events.INITIATE_WITHDRAWAL_SELECTOR + abi_encode(["uint32", "string", "uint256"], [0, btc_address, amount])
    return _user_tx(state, withdrawer, MANAGER, 0, data, 250_000), logs, 160_000


def _plain(state: _State, rng: random.Random) -> tuple[HemiTransaction, list, int]:
    sender = state.users[rng.randrange(min(200, len(state.users)))] if rng.random() < 0.5 else rng.choice(state.users)
    return _user_tx(state, sender, rng.choice(state.users), rng.randint(1, 10**17), b"", 21_000), [], 21_000


def _hemi_block(state: _State, opts: Options, n: int, timestamp: int, j: int) -> PreparedBlock:
    rng = state.rng
    l1_origin = 20_000_000 + n // 6
    info = l1info.L1BlockInfo(
        layout="ecotone", number=l1_origin, timestamp=timestamp - 24, base_fee=7 * 10**9,
        block_hash=keccak256(b"l1 %d" % l1_origin), sequence_number=n % 6, batcher_hash=_topic(_address("batcher")),
        base_fee_scalar=2269, blob_base_fee_scalar=1055762, blob_base_fee=1,
    )  # fmt: skip
    body: list[tuple[HemiTransaction, list, int]] = [(
        HemiTransaction(
            hash=b"", tx_type=DEPOSIT_TX, from_address=l1info.L1_INFO_DEPOSITOR, to_address=l1info.L1_BLOCK_PREDEPLOY,
            nonce=0, gas=1_000_000, value=0, input=l1info.encode_l1_info(info), gas_price=None,
            source_hash=keccak256(b"l1 info %d" % n), mint=0, is_system_tx=False,
        ), [], 45_000,
    )]  # fmt: skip
    offset = n - j * HEMI_PER_BTC
    if n == 1:  # the tunnel's one vault; its custody is stored after the block (_store_custody)
        topics = (events.VAULT_CREATED_TOPIC, _topic(OPERATOR), _topic(OPERATOR), _topic(VAULT))
        body.append((_user_tx(state, OPERATOR, MANAGER, 0, keccak256(b"createVault()")[:4], 3_000_000),
                     [(MANAGER, topics, b"")], 2_400_000))
    if offset == 2 and j < len(state.btc_headers):
        header = state.btc_headers[j]
        data = hvm.encode_update_hvm_state(_dsha(header), [header])  # the tip: the header relayed
        tx = HemiTransaction(hash=b"", tx_type=BTC_ATTRIBUTES_TX, from_address=HEMI_SYSTEM_SENDER,
                             to_address=HVM_STATE, nonce=0, gas=5_000_000, value=0, input=data, gas_price=None)
        body.append((tx, [], 0))
    if offset >= 10 and (d := offset - 10) < len(state.deposits.get(j - DEPOSIT_CONFIRMATIONS, ())):
        body.append(_mint(state, *state.deposits[j - DEPOSIT_CONFIRMATIONS][d]))
    if 40 <= offset < 40 + opts.withdrawals_per_btc_block and (w := _withdrawal(state, rng)) is not None:
        body.append(w)
    while len(body) < opts.txs_per_block:
        roll = rng.random()
        if roll < 0.55:
            body.append(_erc20_transfer(state, rng))
        elif roll < 0.6:
            body.append(_nft(state, rng))
        else:
            body.append(_plain(state, rng))
    return _assemble(state, n, timestamp, body, l1_origin)


def _dsha(data: bytes) -> bytes:
    from indexer.hashing import dsha256

    return dsha256(data)


def _assemble(state: _State, n: int, timestamp: int, body: list, l1_origin: int) -> PreparedBlock:
    txs, receipts, raw_txs, raw_receipts = [], [], [], []
    cumulative = log_index = 0
    for i, (tx, logs, gas_used) in enumerate(body):
        raw = encode_transaction(tx)
        tx = tx._replace(hash=keccak256(raw), block_number=n, transaction_index=i)
        cumulative += gas_used
        hemi_logs = []
        for address, topics, data in logs:
            hemi_logs.append(HemiLog(address, topics, data, log_index, i, tx.hash, None, n, False))
            log_index += 1
        user = tx.tx_type == DYNAMIC_FEE_TX
        receipt = HemiReceipt(
            transaction_hash=tx.hash, transaction_index=i, block_hash=b"", block_number=n, tx_type=tx.tx_type,
            from_address=tx.from_address, to_address=tx.to_address, contract_address=None, status=1, root=None,
            cumulative_gas_used=cumulative, gas_used=gas_used,
            effective_gas_price=(_BASE_FEE + 1_000_000) if user else 0, logs_bloom=bytes(256), logs=tuple(hemi_logs),
            deposit_nonce=n if tx.tx_type == DEPOSIT_TX else None,
            deposit_receipt_version=1 if tx.tx_type == DEPOSIT_TX else None,
            l1_fee=(1600 + len(raw)) * 7 if user else None, l1_gas_used=1600 + len(raw) if user else None,
            l1_gas_price=7 * 10**9 if user else None, l1_blob_base_fee=1 if user else None,
            l1_base_fee_scalar=2269 if user else None, l1_blob_base_fee_scalar=1055762 if user else None,
        )  # fmt: skip
        txs.append(tx)
        receipts.append(receipt)
        raw_txs.append(raw)
        raw_receipts.append(encode_receipt(receipt))
    parent = state.hashes.get(n - 1, ZERO_HASH)
    block = HemiBlock(
        hash=b"", parent_hash=parent, sha3_uncles=bytes.fromhex(_EMPTY_UNCLES), miner=SEQUENCER_FEE_VAULT,
        state_root=keccak256(b"state %d" % n), transactions_root=ordered_trie_root(raw_txs),
        receipts_root=ordered_trie_root(raw_receipts), logs_bloom=bytes(256), difficulty=0, number=n,
        gas_limit=30_000_000, gas_used=cumulative, timestamp=timestamp, extra_data=b"", mix_hash=keccak256(b"%d" % n),
        nonce=bytes(8), base_fee_per_gas=_BASE_FEE, withdrawals_root=bytes.fromhex(_EMPTY_TRIE), blob_gas_used=0,
        excess_blob_gas=0, parent_beacon_block_root=keccak256(b"beacon %d" % n), requests_hash=None, size=None,
        transaction_hashes=tuple(t.hash for t in txs), transactions=tuple(txs), uncles=(), withdrawals=(),
    )  # fmt: skip
    header_rlp = encode_header(block)
    block = block._replace(hash=keccak256(header_rlp))
    state.hashes[n] = block.hash
    state.hashes.pop(n - 200, None)  # keystones need k-25 until their Bitcoin block is built
    if is_keystone_number(n):
        state.pending_keystones.append((block, l1_origin))
    return PreparedBlock(block, tuple(receipts), header_rlp, tuple(raw_txs), tuple(raw_receipts), l1_origin)


_EMPTY_UNCLES = "1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347"
_EMPTY_TRIE = "56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421"


# --------------------------------------------------------------------------- follow-up work


def _store_custody(created_at: int) -> None:
    """What the vault-custody work handler stores after its ``eth_call`` reads (no node here)."""
    from indexer.hemi.models import Vault
    from indexer.hemi.vaults_ingest import CustodyReading, store_custody

    vault = Vault.objects.get(address=VAULT)
    store_custody(CustodyReading(vault.id, vault.index, VAULT, vault.created_in_block, created_at, "", None),
                  CUSTODY_SCRIPT)  # fmt: skip


def _finish_tokens(state: _State) -> None:
    """Token metadata as the metadata work item would read it; supply = the sum of balances."""
    from indexer.hemi.models import Token

    for address, name, symbol, decimals, _standard in TOKENS:
        supply = sum(state.balances.get(address, {}).values()) if address != NFT else state.next_nft
        Token.objects.filter(address=address).update(
            name=name, symbol=symbol, decimals=decimals, total_supply=supply, metadata_read_at_block=0
        )


def _finish_work() -> None:
    """Mark the metadata and custody work items done: their results were stored above."""
    from django.utils import timezone

    from indexer.hemi.chain import TOKEN_METADATA, VAULT_CUSTODY
    from indexer.models import WorkItem

    now = timezone.now()
    WorkItem.objects.filter(kind__in=[TOKEN_METADATA, VAULT_CUSTODY]).update(
        state=WorkItem.DONE, done_at=now, updated_at=now, lease_until=None
    )


def store_verdicts(progress: Callable[[str], None] = print) -> dict:
    """Judge every mint, deposit, withdrawal and block and store the verdicts, through the same
    code the worker runs (``explorer.verdict_store``): the backfill sweep a migration records on
    an existing database, drained by the real work handler in steps of ``SWEEP_BATCH`` rows.

    The build recorded one ``chain.changed`` item per cursor move. They are marked done first:
    with no verdict stored yet, all they would ask for is every row judged at the final tip,
    which is what the sweep does - once, instead of once for each coalesced backlog run.
    Verdicts are judged with the explorer's settings for this chain (hemiBTC, tunnel manager),
    set here for the duration, so they are the ones the explorer computes when it reads it.
    """
    import os

    from django.utils import timezone

    from explorer import verdict_store
    from indexer.core.cursor import CHAIN_CHANGED
    from indexer.models import WorkItem

    now = timezone.now()
    WorkItem.objects.filter(kind=CHAIN_CHANGED, state=WorkItem.PENDING).update(
        state=WorkItem.DONE, done_at=now, updated_at=now, lease_until=None
    )
    saved = {name: os.environ.get(name) for name in explorer_settings()}
    os.environ.update(explorer_settings())
    t0 = time.monotonic()
    try:
        verdict_store.record_sweep(backfill=True)
        while True:
            result = verdict_store.refresh_all(max_items=1)
            if result.failed or result.retrying or result.lost:
                raise RuntimeError(f"the verdict sweep did not finish: {result}")
            if not result.handled:
                break
            counts = _verdict_counts()
            progress(f"verdicts stored: {', '.join(f'{k} {n}' for k, n in counts.items())}; "
                     f"{sum(counts.values()) / (time.monotonic() - t0):.0f} rows/s")
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return {"seconds": round(time.monotonic() - t0, 1), **_verdict_counts()}


def _verdict_counts() -> dict[str, int]:
    from explorer.models import BlockVerdict, DepositVerdict, MintVerdict, WithdrawalVerdict

    return {"mints": MintVerdict.objects.count(), "deposits": DepositVerdict.objects.count(),
            "withdrawals": WithdrawalVerdict.objects.count(), "blocks": BlockVerdict.objects.count()}


def explorer_settings() -> dict[str, str]:
    """The environment the explorer needs to read a synthetic database (README: Configuration)."""
    return {"TUNNEL_MANAGER_ADDRESS": "0x" + MANAGER.hex(), "HEMIBTC_ADDRESS": "0x" + HEMIBTC.hex()}


# --------------------------------------------------------------------------- request mix


def request_mix() -> list[tuple[str, str]]:
    """(name, path) of every page and API endpoint, on identifiers of the stored synthetic chain.

    Lists twice: their head and a *deep* cursor (a key about 5% from the oldest row, signed
    with this process's SECRET_KEY - the server must share it), so a page far back is measured
    beside the first. Used by ``make bench-scale`` and by the test that pages answer on a
    synthetic chain. Names are stable; the bench reports per name.
    """
    from explorer.queries import addresses, bitcoin, blocks, keystones, tokens, tunnel
    from explorer.queries.cursor import encode
    from indexer.bitcoin.models import BitcoinBlock, PopPublication
    from indexer.hemi.models import (
        Block,
        DepositConfirmation,
        Keystone,
        Token,
        TokenBalance,
        TokenTransfer,
        Transaction,
        WithdrawalInitiation,
    )

    def deep(model, fraction: float = 0.05, **filters) -> int:
        """The id ``fraction`` of the way from the oldest row: 5% is deep for a newest-first
        list, 95% for an oldest-first one (token holders); a page there still has rows after it."""
        rows = model.objects.filter(**filters)
        n = rows.count()
        return rows.order_by("id").values_list("id", flat=True)[min(n - 2, max(1, int(n * fraction)))]

    top = Block.objects.canonical().order_by("-number").values_list("number", flat=True).first()
    mid = top // 2
    block = Block.objects.get(number=mid, canonical=True)
    tx = Transaction.objects.filter(block=block, index=2).first() or Transaction.objects.filter(block=block).last()
    hot = _address("synthetic user 0")
    mint = DepositConfirmation.objects.order_by("id")[DepositConfirmation.objects.count() // 2]
    mint_tx = "0x" + bytes(mint.transaction.hash).hex()
    keystone = Keystone.objects.canonical().order_by("-number")[Keystone.objects.count() // 2]
    btc_top = BitcoinBlock.objects.active().order_by("-height").values_list("height", flat=True).first()
    btc_first = BitcoinBlock.objects.active().filter(scanned_at__isnull=False).order_by("height").first()
    btc_block = BitcoinBlock.objects.active().get(height=(btc_first.height + btc_top) // 2)
    pop = PopPublication.objects.filter(block=btc_block).select_related("transaction").first() or (
        PopPublication.objects.select_related("transaction").order_by("id").first()
    )
    hemibtc = "0x" + HEMIBTC.hex()
    busy_token = ERC20_TOKENS[0]
    busy_token_id = Token.objects.get(address=busy_token).id
    hot_hex, tx_hex, busy = "0x" + hot.hex(), "0x" + bytes(tx.hash).hex(), "0x" + busy_token.hex()
    deep_tx = deep(Transaction, sender=hot)
    low_btc = BitcoinBlock.objects.active().filter(height__lte=btc_first.height + (btc_top - btc_first.height) // 20)
    low_btc = low_btc.order_by("-height").first()
    pop_txid = pop.transaction.txid_display

    deep_keystone = 25 * max(2, Keystone.objects.count() // 20)

    def c(name: str, *key: int) -> str:
        return "cursor=" + encode(name, key)

    return [
        ("page /", "/"),
        ("page /blocks", "/blocks"),
        ("page /blocks deep", f"/blocks?{c(blocks.LIST, top // 20)}"),
        ("page /block/N", f"/block/{mid}"),
        ("page /tx", f"/tx/{tx_hex}"),
        ("page /address (busy)", f"/address/{hot_hex}"),
        ("page /tokens", "/tokens"),
        ("page /token (hemiBTC)", f"/token/{hemibtc}"),
        ("page /keystones", "/keystones"),
        ("page /keystones deep", f"/keystones?{c(keystones.LIST, deep_keystone)}"),
        ("page /keystone/N", f"/keystone/{keystone.number}"),
        ("page /btc/blocks", "/btc/blocks"),
        ("page /btc/blocks deep", f"/btc/blocks?{c(bitcoin.BLOCK_LIST, low_btc.height, low_btc.id)}"),
        ("page /btc/block/N", f"/btc/block/{btc_block.height}"),
        ("page /btc/tx (PoP)", f"/btc/tx/{pop.transaction.txid_display}"),
        ("page /tunnel", "/tunnel"),
        ("page /provenance/mint", f"/provenance/mint/{mint_tx}"),
        ("page /provenance/block", f"/provenance/block/{mint.block.number}"),
        ("page /search (tx hash)", f"/search?q={tx_hex}"),
        ("page /search (token prefix)", "/search?q=SYN1"),
        ("page /status", "/status"),
        ("page /charts", "/charts"),
        ("api blocks", "/api/v1/blocks"),
        ("api blocks deep", f"/api/v1/blocks?{c(blocks.LIST, top // 20)}"),
        ("api block", f"/api/v1/blocks/{mid}"),
        ("api block transactions", f"/api/v1/blocks/{mid}/transactions"),
        ("api transaction", f"/api/v1/transactions/{tx_hex}"),
        ("api transaction logs", f"/api/v1/transactions/{tx_hex}/logs"),
        ("api address", f"/api/v1/addresses/{hot_hex}"),
        ("api address transactions", f"/api/v1/addresses/{hot_hex}/transactions"),
        ("api address transactions deep", f"/api/v1/addresses/{hot_hex}/transactions?{c(addresses.TXS, deep_tx)}"),
        ("api address token-transfers", f"/api/v1/addresses/{hot_hex}/token-transfers"),
        ("api address token-balances", f"/api/v1/addresses/{hot_hex}/token-balances"),
        ("api tokens", "/api/v1/tokens"),
        ("api token", f"/api/v1/tokens/{hemibtc}"),
        ("api token holders", f"/api/v1/tokens/{busy}/holders"),
        ("api token holders deep",
         f"/api/v1/tokens/{busy}/holders?{c(tokens.HOLDERS, deep(TokenBalance, 0.95, token_id=busy_token_id))}"),
        ("api token transfers", f"/api/v1/tokens/{busy}/transfers"),
        ("api token transfers deep",
         f"/api/v1/tokens/{busy}/transfers?{c(tokens.TRANSFERS, deep(TokenTransfer, token_id=busy_token_id))}"),
        ("api keystones", "/api/v1/keystones"),
        ("api keystones deep", f"/api/v1/keystones?{c(keystones.LIST, deep_keystone)}"),
        ("api keystone", f"/api/v1/keystones/{keystone.number}"),
        ("api pop-publications", "/api/v1/pop-publications"),
        ("api pop-publications deep", f"/api/v1/pop-publications?{c(bitcoin.POP_PUBLICATIONS, deep(PopPublication))}"),
        ("api bitcoin blocks", "/api/v1/bitcoin/blocks"),
        ("api bitcoin blocks deep", f"/api/v1/bitcoin/blocks?{c(bitcoin.BLOCKS, low_btc.height)}"),
        ("api bitcoin block", f"/api/v1/bitcoin/blocks/{btc_block.height}"),
        ("api bitcoin transaction", f"/api/v1/bitcoin/transactions/{pop.transaction.txid_display}"),
        ("api tunnel mints", "/api/v1/tunnel/mints"),
        ("api tunnel mints deep", f"/api/v1/tunnel/mints?{c(tunnel.MINTS, deep(DepositConfirmation))}"),
        ("api tunnel deposits", "/api/v1/tunnel/deposits"),
        ("api tunnel withdrawals", "/api/v1/tunnel/withdrawals"),
        ("api tunnel withdrawals deep",
         f"/api/v1/tunnel/withdrawals?{c(tunnel.WITHDRAWALS, deep(WithdrawalInitiation))}"),
        ("api provenance mint", f"/api/v1/provenance/mint/{mint_tx}"),
        ("api provenance block", f"/api/v1/provenance/block/{mint.block.number}"),
        ("api search", f"/api/v1/search?q={tx_hex}"),
        ("api status", "/api/v1/status"),
        # Stored verdicts filtered (issue 15) and the reserves (issue 20).
        ("api tunnel mints failed", "/api/v1/tunnel/mints?verdict=failed"),
        ("page /reserves", "/reserves"),
        ("api reserves", "/api/v1/reserves"),
        # The compatible subsets (issue 18): Esplora, Blockscout v2, Etherscan-style. Not
        # block/:hash/raw - whole Bitcoin blocks come from the Bitcoin node, which the bench has not.
        ("esplora tip height", "/esplora/api/blocks/tip/height"),
        ("esplora blocks", "/esplora/api/blocks"),
        ("esplora block", f"/esplora/api/block/{btc_block.hash_display}"),
        ("esplora tx", f"/esplora/api/tx/{pop_txid}"),
        ("esplora tx merkle-proof", f"/esplora/api/tx/{pop_txid}/merkle-proof"),
        ("blockscout blocks", "/api/v2/blocks"),
        ("blockscout block", f"/api/v2/blocks/{mid}"),
        ("blockscout transaction", f"/api/v2/transactions/{tx_hex}"),
        ("blockscout address transactions", f"/api/v2/addresses/{hot_hex}/transactions"),
        ("blockscout token holders", f"/api/v2/tokens/{busy}/holders"),
        ("blockscout stats", "/api/v2/stats"),
        ("etherscan txlist", f"/api?module=account&action=txlist&address={hot_hex}&page=1&offset=25&sort=desc"),
        ("etherscan tokentx", f"/api?module=account&action=tokentx&address={hot_hex}&page=1&offset=25&sort=desc"),
        ("etherscan tokenbalance", f"/api?module=account&action=tokenbalance&contractaddress={busy}&address={hot_hex}"),
        ("etherscan getlogs", f"/api?module=logs&action=getlogs&address={busy}&fromBlock={mid}&toBlock={mid + 100}"),
        ("etherscan eth_block_number", "/api?module=block&action=eth_block_number"),
        ("etherscan gettxreceiptstatus", f"/api?module=transaction&action=gettxreceiptstatus&txhash={tx_hex}"),
    ]
