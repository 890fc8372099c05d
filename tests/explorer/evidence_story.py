"""A byte-correct evidence bundle built from scratch, for verifier tests that need no node.

Everything is real encoding, nothing is mocked: Bitcoin regtest headers with ground proof of
work and real merkle roots, legacy Bitcoin transactions, Hemi RLP headers whose roots are
Merkle-Patricia tries of real typed transactions and receipts. Only signatures are dummies,
because the verifier never needs a sender.
"""

from __future__ import annotations

import struct

import rlp

from explorer.verify import FORMAT
from indexer.bitcoin.decode import decode_tx
from indexer.bitcoin.merkle import merkle_branch, merkle_root
from indexer.hashing import dsha256, keccak256
from indexer.hemi.events import DEPOSIT_CONFIRMED_TOPIC, TRANSFER_TOPIC
from indexer.hemi.hvm import encode_update_hvm_state
from indexer.hemi.l1info import L1BlockInfo, encode_l1_info
from indexer.hemi.mpt import ordered_trie_proof, ordered_trie_root
from indexer.keystone import L2Keystone

REGTEST_BITS = 0x207FFFFF
MANAGER = bytes.fromhex("11" * 20)
HEMIBTC = bytes.fromhex("22" * 20)
HVM_STATE = bytes.fromhex("33" * 20)
L1_BLOCK = bytes.fromhex("4200000000000000000000000000000000000015")
VAULT = bytes.fromhex("44" * 20)
RECIPIENT = bytes.fromhex("5a" * 20)
VAULT_SCRIPT = bytes.fromhex("76a914" + "66" * 20 + "88ac")
MINER_SCRIPT = bytes.fromhex("76a914" + "77" * 20 + "88ac")
DEPOSIT_SATS = 100 * 10**8
FEE = 10**7


def varint(n: int) -> bytes:
    return bytes([n]) if n < 0xFD else b"\xfd" + struct.pack("<H", n)


def legacy_tx(outputs: list[tuple[int, bytes]], *, script_sig: bytes, prevout: bytes, locktime: int = 0) -> bytes:
    body = struct.pack("<i", 2) + varint(1) + prevout + varint(len(script_sig)) + script_sig + b"\xff\xff\xff\xff"
    body += varint(len(outputs))
    for value, script in outputs:
        body += struct.pack("<q", value) + varint(len(script)) + script
    return body + struct.pack("<I", locktime)


def coinbase(height: int) -> bytes:
    script_sig = bytes([3]) + height.to_bytes(3, "little") + b"hemiscope"
    return legacy_tx([(50 * 10**8, MINER_SCRIPT)], script_sig=script_sig, prevout=b"\x00" * 32 + b"\xff" * 4)


def mine_header(prev: bytes, root: bytes, time: int) -> bytes:
    target = 0x7FFFFF << (8 * (0x20 - 3))
    for nonce in range(1 << 32):
        header = struct.pack("<i32s32sIII", 0x20000000, prev, root, time, REGTEST_BITS, nonce)
        if int.from_bytes(dsha256(header), "little") <= target:
            return header
    raise AssertionError("unreachable")


def type2_tx(nonce: int, to: bytes, data: bytes) -> bytes:
    payload = [743112, nonce, 1, 10**9, 1_000_000, to, 0, data, [], 1, 1, 1]
    return b"\x02" + rlp.encode(payload)


def deposit_tx_7e(source: bytes, data: bytes) -> bytes:
    sender = bytes.fromhex("deaddeaddeaddeaddeaddeaddeaddeaddead0001")
    return b"\x7e" + rlp.encode([source, sender, L1_BLOCK, 0, 0, 1_000_000, False, data])


def receipt(logs: list[tuple[bytes, list[bytes], bytes]], tx_type: int = 2) -> bytes:
    body = rlp.encode([1, 21000, b"\x00" * 256, [[a, t, d] for a, t, d in logs]])
    return bytes([tx_type]) + body


def word(n: int) -> bytes:
    return n.to_bytes(32, "big")


class EvidenceStory:
    """Bitcoin blocks 100..115 and Hemi blocks 1..25 telling one backed, anchored mint.

    ``leaves`` swaps in other raw bytes for the transactions and receipt the verifier decodes
    (keys ``relay_tx``, ``mint_tx``, ``mint_receipt``, ``l1_info_tx``); the tries, headers and
    claims are built around them, so hostile bytes reach the decoders behind valid proofs.
    """

    def __init__(self, leaves: dict[str, bytes] | None = None):
        self.leaves = leaves or {}
        self.build_bitcoin_lock()
        self.build_hemi()
        self.build_pop_and_tip()

    # Bitcoin: deposit in 101, relayed headers 100..104, PoP in 105, tip 115
    def btc_block(self, height: int, txs: list[bytes]) -> None:
        txids = [decode_tx(tx).txid_internal for tx in txs]
        prev = dsha256(self.btc_headers[-1]) if self.btc_headers else b"\x00" * 32
        self.btc_headers.append(mine_header(prev, merkle_root(txids), 1_700_000_000 + 600 * height))
        self.btc_txids[height] = txids

    def build_bitcoin_lock(self) -> None:
        self.btc_headers: list[bytes] = []
        self.btc_txids: dict[int, list[bytes]] = {}
        recipient_script = bytes.fromhex("6a28") + RECIPIENT.hex().upper().encode()
        self.deposit_raw = legacy_tx(
            [(DEPOSIT_SATS, VAULT_SCRIPT), (0, recipient_script)], script_sig=b"\x01\x01", prevout=b"\xab" * 36
        )
        self.btc_block(100, [coinbase(100)])
        self.btc_block(101, [coinbase(101), self.deposit_raw])
        for height in range(102, 105):
            self.btc_block(height, [coinbase(height)])

    def hemi_header(self, number: int, txs: list[bytes], receipts: list[bytes], parent: bytes) -> bytes:
        fields = [
            parent,
            keccak256(rlp.encode([])),
            b"\x00" * 20,
            keccak256(b"state-%d" % number),
            ordered_trie_root(txs),
            ordered_trie_root(receipts),
            b"\x00" * 256,
            0,
            number,
            30_000_000,
            0,
            1_700_000_000 + 2 * number,
            b"",
            b"\x00" * 32,
            b"\x00" * 8,
            1_000_000,
        ]
        return rlp.encode(fields)

    def build_hemi(self) -> None:
        self.hemi_txs: dict[int, list[bytes]] = {}
        self.hemi_receipts: dict[int, list[bytes]] = {}
        self.hemi_headers: dict[int, bytes] = {}
        parent = keccak256(b"block-9")
        tip_internal = dsha256(self.btc_headers[-1])
        relay_data = encode_update_hvm_state(tip_internal, self.btc_headers[:5])
        deposit_txid_display = decode_tx(self.deposit_raw).txid_internal[::-1]
        mint_logs = [
            (
                MANAGER,
                [DEPOSIT_CONFIRMED_TOPIC, b"\x00" * 12 + VAULT, b"\x00" * 12 + RECIPIENT, deposit_txid_display],
                word(DEPOSIT_SATS) + word(DEPOSIT_SATS - FEE),
            ),
            (HEMIBTC, [TRANSFER_TOPIC, b"\x00" * 32, b"\x00" * 12 + RECIPIENT], word(DEPOSIT_SATS - FEE)),
        ]
        for number in range(10, 26):
            info = L1BlockInfo(
                layout="ecotone",
                number=5000 + number // 5,
                timestamp=1_700_000_000,
                base_fee=7,
                block_hash=keccak256(b"l1-%d" % (number // 5)),
                sequence_number=number % 5,
                batcher_hash=b"\x00" * 32,
                base_fee_scalar=1,
                blob_base_fee_scalar=1,
                blob_base_fee=1,
            )
            txs = [deposit_tx_7e(keccak256(b"src-%d" % number), encode_l1_info(info))]
            if number == 25:
                txs[0] = self.leaves.get("l1_info_tx", txs[0])
            receipts = [receipt([], tx_type=0x7E)]
            if number == 10:
                txs.append(self.leaves.get("relay_tx", type2_tx(0, HVM_STATE, relay_data)))
                receipts.append(receipt([]))
            if number == 12:
                txs.append(self.leaves.get("mint_tx", type2_tx(1, MANAGER, b"\x91\xfb\x6a\x99")))
                receipts.append(self.leaves.get("mint_receipt", receipt(mint_logs)))
            header = self.hemi_header(number, txs, receipts, parent)
            self.hemi_txs[number], self.hemi_receipts[number] = txs, receipts
            self.hemi_headers[number] = header
            parent = keccak256(header)
        keystone_header = rlp.decode(self.hemi_headers[25])
        self.keystone = L2Keystone(
            l1_block_number=5005,
            l2_block_number=25,
            parent_ep_hash=keystone_header[0],
            prev_ep_keystone_hash=b"\x00" * 32,
            state_root=keystone_header[3],
            ep_hash=keccak256(self.hemi_headers[25]),
        )

    def build_pop_and_tip(self) -> None:
        abrev = self.keystone.abbreviate()
        pop_script = bytes.fromhex("6a4c50") + b"HEMI" + abrev.to_bytes()
        pubkey = bytes.fromhex("02e730d9295a286edceb8d1f11d650bc3880b9ca6e321cbc23791b7eb2e3c9dafb")
        script_sig = bytes([71]) + b"\x30" + b"\x11" * 70 + bytes([33]) + pubkey
        self.pop_raw = legacy_tx(
            [(10_000, MINER_SCRIPT), (0, pop_script)], script_sig=script_sig, prevout=b"\xcd" * 36, locktime=104
        )
        self.btc_block(105, [coinbase(105), self.pop_raw])
        for height in range(106, 116):
            self.btc_block(height, [coinbase(height)])

    def btc_item(self, height: int, index: int, raw: bytes) -> dict:
        return {
            "height": height,
            "tx_index": index,
            "raw_tx": raw.hex(),
            "merkle_branch": [n.hex() for n in merkle_branch(self.btc_txids[height], index)],
        }

    def hemi_item(self, number: int, index: int, *, with_receipt: bool = False) -> dict:
        item = {
            "number": number,
            "tx_index": index,
            "tx_proof": [p.hex() for p in ordered_trie_proof(self.hemi_txs[number], index)],
        }
        if with_receipt:
            item["receipt_proof"] = [p.hex() for p in ordered_trie_proof(self.hemi_receipts[number], index)]
        return item

    def bundle(self) -> dict:
        abrev = self.keystone.abbreviate()
        return {
            "format": FORMAT,
            "network": {
                "name": "devnet",
                "bitcoin_network": "regtest",
                "tunnel_manager": "0x" + MANAGER.hex(),
                "hemibtc": "0x" + HEMIBTC.hex(),
                "keystone_period": 25,
            },
            "claims": {
                "mint_tx_hash": "0x" + keccak256(self.hemi_txs[12][1]).hex(),
                "deposit_txid": decode_tx(self.deposit_raw).txid_display,
                "deposit_vout": 0,
                "deposit_sats": DEPOSIT_SATS,
                "net_sats": DEPOSIT_SATS - FEE,
                "vault": "0x" + VAULT.hex(),
                "vault_script": VAULT_SCRIPT.hex(),
                "recipient": "0x" + RECIPIENT.hex(),
                "hvm_confirmations": 4,
                "keystone_number": 25,
                "anchoring_keystone_number": 25,
                "anchoring_keystone_id": abrev.id_display,
                "pop_txid": decode_tx(self.pop_raw).txid_display,
                "pop_vout": 1,
                "publication_height": 105,
                "bitcoin_tip_height": 115,
                "bitcoin_tip_hash": dsha256(self.btc_headers[-1])[::-1].hex(),
                "effective_confirmations": 10,
                "superfinal": True,
                "hemi_last_block_hash": "0x" + keccak256(self.hemi_headers[25]).hex(),
            },
            "bitcoin": {
                "start_height": 101,
                "headers": [h.hex() for h in self.btc_headers[1:]],
                "deposit": self.btc_item(101, 1, self.deposit_raw),
                "pop": self.btc_item(105, 1, self.pop_raw),
            },
            "hemi": {
                "start_number": 10,
                "headers": [self.hemi_headers[n].hex() for n in range(10, 26)],
                "mint": self.hemi_item(12, 1, with_receipt=True),
                "hvm_relay": self.hemi_item(10, 1),
                "hvm_view": self.hemi_item(10, 1),
                "l1_info": self.hemi_item(25, 0),
            },
        }


def load_into_db(story: EvidenceStory):
    """Write the story as indexer rows (what the ingest layers would store); return the mint row."""
    from decimal import Decimal

    from indexer.bitcoin import models as btc
    from indexer.bitcoin.decode import decode_header
    from indexer.bitcoin.pop import scan_tx
    from indexer.hemi import models as hemi

    blocks = {}
    for offset, raw in enumerate(story.btc_headers):
        height = 100 + offset
        h = decode_header(raw)
        blocks[height] = btc.BitcoinBlock.objects.create(
            hash_internal=h.hash_internal,
            height=height,
            prev_hash_internal=h.prev_hash_internal,
            merkle_root_internal=h.merkle_root_internal,
            version=h.version,
            time=h.time,
            bits=h.bits,
            nonce=h.nonce,
            header_raw=raw,
            chainwork=Decimal(offset + 1),
        )

    def btc_tx(height, index, raw):
        return btc.BitcoinTransaction.objects.create(
            block=blocks[height],
            txid_internal=decode_tx(raw).txid_internal,
            tx_index=index,
            raw=raw,
            merkle_branch=b"".join(merkle_branch(story.btc_txids[height], index)),
        )

    vault = btc.VaultScript.objects.create(
        vault_address=VAULT, vault_index=0, custody_script=VAULT_SCRIPT, discovered_at_hemi_block=0
    )
    btc.TunnelDeposit.objects.create(
        transaction=btc_tx(101, 1, story.deposit_raw),
        block=blocks[101],
        vout=0,
        vault=vault,
        value_sats=DEPOSIT_SATS,
        recipient=RECIPIENT,
        recipient_format="ascii-42",
    )
    pop_tx = btc_tx(105, 1, story.pop_raw)
    out = scan_tx(decode_tx(story.pop_raw)).outputs[0]
    k = out.keystone
    pub = btc.PopPublication.objects.create(
        transaction=pop_tx,
        block=blocks[105],
        vout=out.vout,
        format="v1",
        payload=k.to_bytes(),
        keystone_id_internal=k.id_internal,
        l1_block_number=k.l1_block_number,
        l2_block_number=k.l2_block_number,
        parent_ep_hash_prefix=k.parent_ep_hash_prefix,
        prev_keystone_ep_hash_prefix=k.prev_keystone_ep_hash_prefix,
        state_root=k.state_root,
        ep_hash_prefix=k.ep_hash_prefix,
    )
    btc.KeystoneFirstPublication.objects.create(
        keystone_id_internal=k.id_internal, publication=pub, height=105, l2_block_number=25
    )

    hemi_blocks, txs = {}, {}
    for number, header in story.hemi_headers.items():
        fields = rlp.decode(header)
        hemi_blocks[number] = hemi.Block.objects.create(
            number=number,
            hash=keccak256(header),
            parent_hash=fields[0],
            timestamp=int.from_bytes(fields[11], "big"),
            miner=fields[2],
            state_root=fields[3],
            transactions_root=fields[4],
            receipts_root=fields[5],
            gas_used=0,
            gas_limit=30_000_000,
            header_rlp=header,
            tx_count=len(story.hemi_txs[number]),
            l1_origin_number=5000 + number // 5,
        )
        for index, (raw, rcpt) in enumerate(zip(story.hemi_txs[number], story.hemi_receipts[number], strict=True)):
            txs[number, index] = hemi.Transaction.objects.create(
                block=hemi_blocks[number],
                hash=keccak256(raw),
                index=index,
                type=raw[0],
                sender=b"\x00" * 20,
                value=0,
                gas=1_000_000,
                input=b"",
                raw=raw,
                receipt_raw=rcpt,
                status=1,
                gas_used=0,
                cumulative_gas_used=0,
            )
    update = hemi.HvmUpdate.objects.create(
        transaction=txs[10, 1],
        block=hemi_blocks[10],
        source="call",
        canonical_tip_internal=dsha256(story.btc_headers[4]),
        header_count=5,
    )
    for pos, raw in enumerate(story.btc_headers[:5]):
        h = decode_header(raw)
        hemi.HvmHeader.objects.create(
            update=update,
            position=pos,
            header_raw=raw,
            btc_hash_internal=h.hash_internal,
            prev_hash_internal=h.prev_hash_internal,
        )
    ks = story.keystone
    abrev = ks.abbreviate()
    hemi.Keystone.objects.create(
        block=hemi_blocks[25],
        number=25,
        l1_block_number=ks.l1_block_number,
        parent_ep_hash=ks.parent_ep_hash,
        prev_ep_keystone_hash=ks.prev_ep_keystone_hash,
        state_root=ks.state_root,
        ep_hash=ks.ep_hash,
        abrev=abrev.to_bytes(),
        keystone_id_internal=abrev.id_internal,
    )
    mint_tx = txs[12, 1]
    log = hemi.Log.objects.create(transaction=mint_tx, block=hemi_blocks[12], log_index=0, address=MANAGER, data=b"")
    return hemi.DepositConfirmation.objects.create(
        log=log,
        transaction=mint_tx,
        block=hemi_blocks[12],
        vault=VAULT,
        recipient=RECIPIENT,
        deposit_txid_internal=decode_tx(story.deposit_raw).txid_internal,
        deposit_sats=DEPOSIT_SATS,
        net_sats=DEPOSIT_SATS - FEE,
    )
