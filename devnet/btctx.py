"""Build and sign Bitcoin transactions and regtest blocks in Python (pure, no I/O).

Signing is legacy P2PKH (SIGHASH_ALL) with coincurve, so transactions are byte-for-byte
deterministic and need no segwit activation. Blocks are mined here too: regtest's target for
bits 0x207fffff accepts about every second nonce, so a side chain costs microseconds.

Byte order: ``*_internal`` = raw double-SHA256 bytes (what headers and outpoints carry),
``*_display`` = reversed hex (what RPC and explorers show).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from bitcoin.core import (
    CBlock,
    CBlockHeader,
    CMutableTransaction,
    CMutableTxIn,
    CMutableTxOut,
    COutPoint,
    CTransaction,
)
from bitcoin.core.script import SIGHASH_ALL, CScript, SignatureHash

from devnet.btckeys import DevKey
from devnet.constants import REGTEST_BITS, REGTEST_HALVING_INTERVAL
from indexer.hashing import display_to_internal, dsha256, internal_to_display

# P2PKH input with a compressed key: outpoint 36 + script length 1 + sig push <= 73 + key push 34
# + sequence 4. Used for the fee estimate, before the signature exists.
_P2PKH_INPUT_VBYTES = 148
_TX_OVERHEAD_VBYTES = 10
DUST_SATS = 546
DEFAULT_FEE_RATE_SAT_VB = 2  # above bcoin's 1 sat/vB relay floor


class TxBuildError(ValueError):
    """The requested transaction cannot be built (not enough funds, bad output, ...)."""


@dataclass(frozen=True, slots=True)
class Utxo:
    txid_display: str
    vout: int
    value_sats: int
    script_pubkey: bytes
    height: int | None = None  # None while unconfirmed
    is_coinbase: bool = False


@dataclass(frozen=True, slots=True)
class TxOutput:
    script_pubkey: bytes
    value_sats: int


def op_return_script(data: bytes) -> bytes:
    """OP_RETURN with one push (direct push up to 75 bytes, PUSHDATA1 above, as Core does)."""
    if len(data) <= 75:
        return b"\x6a" + bytes([len(data)]) + data
    if len(data) <= 255:
        return b"\x6a\x4c" + bytes([len(data)]) + data
    raise TxBuildError("OP_RETURN data above 255 bytes is not standard")


def _evm_address_bytes(evm_address: str) -> bytes:
    raw = bytes.fromhex(evm_address.removeprefix("0x"))
    if len(raw) != 20:
        raise TxBuildError(f"not a 20-byte EVM address: {evm_address!r}")
    return raw


def deposit_recipient_script_ascii(evm_address: str) -> bytes:
    """The portal's 42-byte form: OP_RETURN + 40 upper-case ASCII hex characters (spec 6.2)."""
    return op_return_script(_evm_address_bytes(evm_address).hex().upper().encode("ascii"))


def deposit_recipient_script_binary(evm_address: str) -> bytes:
    """The 22-byte form: OP_RETURN + the 20 address bytes."""
    return op_return_script(_evm_address_bytes(evm_address))


def estimate_vbytes(n_inputs: int, outputs: Sequence[TxOutput]) -> int:
    # each output: value 8 + script length 1 + script
    outputs_vbytes = sum(9 + len(o.script_pubkey) for o in outputs)
    return _TX_OVERHEAD_VBYTES + n_inputs * _P2PKH_INPUT_VBYTES + outputs_vbytes


def tx_bytes(tx: CTransaction) -> bytes:
    """Full serialization (with witness if any) - what sendrawtransaction takes."""
    return tx.serialize()


def tx_bytes_no_witness(tx: CTransaction) -> bytes:
    """Legacy serialization: the bytes the txid commits to (and the tunnel's extraInfo wants)."""
    return tx.serialize({"include_witness": False}) if tx.has_witness() else tx.serialize()


def txid_internal(tx: CTransaction) -> bytes:
    return dsha256(tx_bytes_no_witness(tx))


def txid_display(tx: CTransaction) -> str:
    return internal_to_display(txid_internal(tx))


def build_p2pkh_spend(
    key: DevKey,
    utxos: Sequence[Utxo],
    outputs: Sequence[TxOutput],
    *,
    change_script: bytes | None = None,
    change_position: int | None = None,
    fee_rate_sat_vb: int = DEFAULT_FEE_RATE_SAT_VB,
    version: int = 2,
    locktime: int = 0,
) -> CTransaction:
    """Spend ``utxos`` (all paying ``key``'s P2PKH script) to ``outputs`` plus change.

    Change goes to ``change_script`` (default: the key's P2PKH) at ``change_position``
    (default: last; a vault payout wants it at 1, before its OP_RETURN); it is dropped into the
    fee when below dust. Raises TxBuildError if the inputs do not cover
    outputs + fee.
    """
    if not utxos:
        raise TxBuildError("no inputs to spend")
    for utxo in utxos:
        if utxo.script_pubkey != key.p2pkh_script:
            raise TxBuildError(f"utxo {utxo.txid_display}:{utxo.vout} does not pay this key's P2PKH script")
    change_script = key.p2pkh_script if change_script is None else change_script
    total_in = sum(u.value_sats for u in utxos)
    total_out = sum(o.value_sats for o in outputs)
    with_change = [*outputs, TxOutput(change_script, 0)]
    fee = estimate_vbytes(len(utxos), with_change) * fee_rate_sat_vb
    change = total_in - total_out - fee
    if change < 0:
        raise TxBuildError(f"inputs {total_in} sat do not cover outputs {total_out} sat + fee {fee} sat")
    final_outputs = list(outputs)
    if change >= DUST_SATS:
        position = len(final_outputs) if change_position is None else change_position
        final_outputs.insert(position, TxOutput(change_script, change))

    tx = CMutableTransaction(
        vin=[CMutableTxIn(COutPoint(display_to_internal(u.txid_display), u.vout)) for u in utxos],
        vout=[CMutableTxOut(o.value_sats, CScript(o.script_pubkey)) for o in final_outputs],
        nLockTime=locktime,
        nVersion=version,
    )
    script_code = CScript(key.p2pkh_script)
    for index in range(len(utxos)):
        sighash = SignatureHash(script_code, tx, index, SIGHASH_ALL)
        signature = key.sign_digest(sighash) + bytes([SIGHASH_ALL])
        tx.vin[index].scriptSig = CScript([signature, key.pubkey])
    return CTransaction.from_tx(tx)


def block_subsidy(height: int) -> int:
    halvings = height // REGTEST_HALVING_INTERVAL
    return 0 if halvings >= 64 else (50 * 100_000_000) >> halvings


def make_coinbase(height: int, payout_script: bytes, value_sats: int, tag: bytes = b"") -> CTransaction:
    """Coinbase with the BIP34 height push; ``tag`` makes side-chain coinbases (and so their
    txids) differ from the main chain's at the same height."""
    script_sig = CScript([height]) + CScript([b"hemiscope devnet" + tag])
    return CTransaction(
        vin=[CMutableTxIn(COutPoint(), script_sig, 0xFFFFFFFF)],
        vout=[CMutableTxOut(value_sats, CScript(payout_script))],
        nVersion=1,
    )


def _target(bits: int) -> int:
    exponent, mantissa = bits >> 24, bits & 0x007FFFFF
    return mantissa << (8 * (exponent - 3))


def build_block(
    parent_hash_internal: bytes,
    parent_time: int,
    height: int,
    txs: Sequence[CTransaction],
    payout_script: bytes,
    *,
    fees_sats: int = 0,
    tag: bytes = b"",
    block_time: int | None = None,
    bits: int = REGTEST_BITS,
    version: int = 0x20000000,
) -> CBlock:
    """A mined regtest block on ``parent``: coinbase + ``txs`` (legacy txs only; a witness
    commitment is not built, so witness transactions are refused)."""
    if any(tx.has_witness() for tx in txs):
        raise TxBuildError("build_block does not build witness commitments; pass legacy transactions")
    coinbase = make_coinbase(height, payout_script, block_subsidy(height) + fees_sats, tag)
    vtx = [coinbase, *txs]
    # strictly after the parent keeps it above median-time-past even for fast side chains
    ntime = block_time if block_time is not None else max(parent_time + 1, int(time.time()))
    merkle_root = CBlock.build_merkle_tree_from_txs(vtx)[-1]
    target = _target(bits)
    fields = {
        "nVersion": version,
        "hashPrevBlock": parent_hash_internal,
        "hashMerkleRoot": merkle_root,
        "nTime": ntime,
        "nBits": bits,
    }
    for nonce in range(2**32):
        # grind on the bare header: CBlock() would rebuild the Merkle tree for every nonce
        if int.from_bytes(CBlockHeader(nNonce=nonce, **fields).GetHash(), "little") <= target:
            return CBlock(nNonce=nonce, vtx=vtx, **fields)
    raise TxBuildError("no nonce satisfies the target; bits too hard for Python mining")


def block_hash_internal(block: CBlock) -> bytes:
    return dsha256(block.get_header().serialize())


def merkle_branch(txids_internal: Sequence[bytes], index: int) -> list[bytes]:
    """Sibling hashes from leaf ``index`` up to the root (internal order), Bitcoin rules:
    an odd level duplicates its last hash."""
    if not 0 <= index < len(txids_internal):
        raise IndexError(f"tx index {index} outside block of {len(txids_internal)} txs")
    level = list(txids_internal)
    branch: list[bytes] = []
    while len(level) > 1:
        if len(level) % 2:
            level.append(level[-1])
        branch.append(level[index ^ 1])
        level = [dsha256(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
        index //= 2
    return branch


def merkle_root_from_branch(leaf_internal: bytes, branch: Sequence[bytes], index: int) -> bytes:
    node = leaf_internal
    for sibling in branch:
        node = dsha256(sibling + node) if index & 1 else dsha256(node + sibling)
        index >>= 1
    return node
