"""Bitcoin header-chain validation, following Bitcoin Core's rules (pure, no Django).

What is checked for a header at height h (Core's CheckBlockHeader + ContextualCheckBlockHeader):

* proof of work: the hash, read as a little-endian 256-bit integer, is <= the target its
  ``bits`` encode, and that target is valid and not above the network's powLimit ("high-hash");
* linkage to the header at h-1 ("bad-prevblk");
* ``bits`` equal to what GetNextWorkRequired demands ("bad-diffbits");
* time strictly above the median of the previous 11 block times ("time-too-old");
* testnet4 (BIP94): at a retarget height, time >= parent time - 600 ("time-timewarp-attack");
* optionally, time <= now + 2 h ("time-too-new");
* block version >= 2/3/4 once BIP34/66/65 are active ("bad-version").

Ancestors come from an ``AncestorSource`` (in memory for tests, the database later), so the
validator works on any branch, including a fork being evaluated during a reorg.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from indexer.bitcoin.decode import BlockHeader

MAX_FUTURE_BLOCK_TIME = 2 * 60 * 60
MEDIAN_TIME_SPAN = 11
MAX_TIMEWARP = 600  # BIP94


class HeaderRejected(ValueError):
    """A header that breaks a consensus rule. ``reason`` is Bitcoin Core's reject code."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class MissingAncestor(LookupError):
    """The ancestor source cannot provide a header the rules need (not the header's fault)."""


@dataclass(frozen=True, slots=True)
class ChainParams:
    name: str
    pow_limit: int
    genesis_hash_display: str
    allow_min_difficulty_blocks: bool = False  # testnet 20-minute rule
    no_retargeting: bool = False  # regtest
    enforce_bip94: bool = False  # testnet4
    bip34_height: int = 0
    bip66_height: int = 0
    bip65_height: int = 0
    pow_target_spacing: int = 10 * 60
    pow_target_timespan: int = 14 * 24 * 60 * 60

    @property
    def interval(self) -> int:
        return self.pow_target_timespan // self.pow_target_spacing  # 2016

    @property
    def pow_limit_bits(self) -> int:
        return target_to_bits(self.pow_limit)


_POW_LIMIT_MAIN = (1 << 224) - 1  # 00000000ffff...ff
MAINNET = ChainParams(
    "mainnet",
    _POW_LIMIT_MAIN,
    "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f",
    bip34_height=227931,
    bip66_height=363725,
    bip65_height=388381,
)
TESTNET3 = ChainParams(
    "testnet3",
    _POW_LIMIT_MAIN,
    "000000000933ea01ad0ee984209779baaec3ced90fa3f408719526f8d77f4943",
    allow_min_difficulty_blocks=True,
    bip34_height=21111,
    bip66_height=330776,
    bip65_height=581885,
)
TESTNET4 = ChainParams(
    "testnet4",
    _POW_LIMIT_MAIN,
    "00000000da84f2bafbbc53dee25a72ae507ff4914b867c565be350b0da8bf043",
    allow_min_difficulty_blocks=True,
    enforce_bip94=True,
    bip34_height=1,
    bip66_height=1,
    bip65_height=1,
)
REGTEST = ChainParams(
    "regtest",
    (1 << 255) - 1,  # 7fff...ff, compact 0x207fffff
    "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206",
    allow_min_difficulty_blocks=True,
    no_retargeting=True,
    bip34_height=1,
    bip66_height=1,
    bip65_height=1,
)
NETWORKS: dict[str, ChainParams] = {p.name: p for p in (MAINNET, TESTNET3, TESTNET4, REGTEST)}


# --------------------------------------------------------------------------- compact targets


def decode_compact(bits: int) -> tuple[int, bool, bool]:
    """Core's arith_uint256::SetCompact: (target, negative, overflow).

    Compact = 1 byte size + 3 byte mantissa whose top bit is a sign bit (a relic of OpenSSL
    bignums): target = mantissa * 256^(size-3).
    """
    size = bits >> 24
    word = bits & 0x007FFFFF
    target = word >> (8 * (3 - size)) if size <= 3 else word << (8 * (size - 3))
    negative = word != 0 and bool(bits & 0x00800000)
    overflow = word != 0 and (size > 34 or (word > 0xFF and size > 33) or (word > 0xFFFF and size > 32))
    return target, negative, overflow


def bits_to_target(bits: int) -> int:
    """Target encoded by ``bits``; ValueError for negative or overflowing encodings."""
    target, negative, overflow = decode_compact(bits)
    if negative or overflow:
        raise ValueError(f"bits {bits:#010x} encode an invalid target")
    return target


def target_to_bits(target: int) -> int:
    """Core's arith_uint256::GetCompact for a non-negative target (rounds down)."""
    size = (target.bit_length() + 7) // 8
    compact = target << (8 * (3 - size)) if size <= 3 else target >> (8 * (size - 3))
    if compact & 0x00800000:  # would read as negative: shift into one more size byte
        compact >>= 8
        size += 1
    return compact | (size << 24)


def block_work(bits: int) -> int:
    """Expected hashes for a block at ``bits`` (Core's GetBlockProof): 2^256 / (target + 1)."""
    target, negative, overflow = decode_compact(bits)
    if negative or overflow or target == 0:
        return 0
    return (1 << 256) // (target + 1)


def check_proof_of_work(header: BlockHeader, params: ChainParams) -> None:
    target, negative, overflow = decode_compact(header.bits)
    if negative or overflow or target == 0 or target > params.pow_limit:
        raise HeaderRejected("high-hash", f"bits {header.bits:#010x} out of range")
    # The hash is compared as a 256-bit little-endian number: internal byte order, reversed.
    if int.from_bytes(header.hash_internal, "little") > target:
        raise HeaderRejected("high-hash", f"{header.hash_display} above target {header.bits:#010x}")


def branch_work(headers: Sequence[BlockHeader], parent_hash_internal: bytes, params: ChainParams) -> int:
    """Total proof of work of a run of headers built on ``parent_hash_internal``: what a reorg
    onto that branch would gain. Each header must link to the one before and meet its own
    target (a source cannot claim work it did not do), else :class:`HeaderRejected`."""
    total = 0
    parent = parent_hash_internal
    for header in headers:
        if header.prev_hash_internal != parent:
            raise HeaderRejected("bad-prevblk", f"header {header.hash_display} does not link to {parent[::-1].hex()}")
        check_proof_of_work(header, params)
        total += block_work(header.bits)
        parent = header.hash_internal
    return total


def calculate_next_work(
    last_bits: int, last_time: int, first_time: int, params: ChainParams, first_bits: int | None = None
) -> int:
    """Core's CalculateNextWorkRequired at a retarget boundary.

    1. timespan = last block time - first block time of the period, clamped to [T/4, 4T].
    2. new target = old target * timespan / T, capped at powLimit (old = last block's bits, or
       the period's first block's bits under BIP94).
    3. Re-encode to compact (which truncates, as Core does).
    """
    if params.no_retargeting:
        return last_bits
    timespan = last_time - first_time
    timespan = max(params.pow_target_timespan // 4, min(timespan, params.pow_target_timespan * 4))
    base = first_bits if params.enforce_bip94 and first_bits is not None else last_bits
    target = decode_compact(base)[0] * timespan // params.pow_target_timespan
    return target_to_bits(min(target, params.pow_limit))


# --------------------------------------------------------------------------- chain context


class AncestorSource(Protocol):
    """Headers of the branch being extended, by height; None when unknown.

    For a header at height h the validator asks for h-1 .. h-11 (parent and median time past),
    h-2016 at retarget heights (the first block of the closing period), and on testnets, when
    the walk-back is not supplied separately, parents back to the last retarget boundary.
    """

    def header_at(self, height: int) -> BlockHeader | None: ...


class HeaderChainValidator:
    """Validate headers against their ancestors.

    ``walk_back`` optionally replaces the testnet walk-back: given the parent's height it returns
    the bits of the last block at or below it that is at a period boundary or not at min
    difficulty (a database can answer that with one indexed query instead of ~2000 lookups).
    """

    def __init__(
        self,
        params: ChainParams,
        ancestors: AncestorSource,
        walk_back: Callable[[int], int] | None = None,
    ):
        self.params = params
        self.ancestors = ancestors
        self._walk_back = walk_back
        self._pow_limit_bits = params.pow_limit_bits

    def _at(self, height: int) -> BlockHeader:
        header = self.ancestors.header_at(height)
        if header is None:
            raise MissingAncestor(f"{self.params.name}: no header at height {height}")
        return header

    def median_time_past(self, height: int) -> int:
        """Median time of the (up to) 11 blocks ending at ``height`` (Core's GetMedianTimePast)."""
        times = sorted(self._at(h).time for h in range(height, max(-1, height - MEDIAN_TIME_SPAN), -1))
        return times[len(times) // 2]

    def last_regular_bits(self, parent_height: int, parent: BlockHeader) -> int:
        """Testnet walk-back: bits of the last block that is not a min-difficulty exception."""
        if self._walk_back is not None:
            return self._walk_back(parent_height)
        height, header = parent_height, parent
        while height > 0 and height % self.params.interval != 0 and header.bits == self._pow_limit_bits:
            height -= 1
            header = self._at(height)
        return header.bits

    def next_bits_required(self, header: BlockHeader, height: int, parent: BlockHeader) -> int:
        """Core's GetNextWorkRequired for a header at ``height`` whose parent is ``parent``.

        1. Off a retarget boundary: keep the parent's bits - except on testnets, where a block
           timed more than 20 minutes after its parent may use the pow limit, and otherwise the
           bits of the last non-min-difficulty block apply (walk-back).
        2. On a boundary: retarget over the closing period. Core's famous off-by-one: the
           period's "first" block is at height-2016, so the timespan covers 2015 intervals.
        """
        params = self.params
        if height % params.interval != 0:
            if params.allow_min_difficulty_blocks:
                if header.time > parent.time + 2 * params.pow_target_spacing:
                    return self._pow_limit_bits
                return self.last_regular_bits(height - 1, parent)
            return parent.bits
        if params.no_retargeting:
            return parent.bits
        first = self._at(height - params.interval)
        return calculate_next_work(parent.bits, parent.time, first.time, params, first.bits)

    def validate(self, header: BlockHeader, height: int, now: int | None = None) -> None:
        """Raise HeaderRejected (with Core's reason code) unless ``header`` may sit at ``height``.

        1. Proof of work against the header's own bits (context-free, checked first like Core).
        2. Genesis: the hash must be the network's genesis hash.
        3. Linkage to the parent, then bits, median time past, BIP94 timewarp, future time,
           and version, in Core's order.
        """
        params = self.params
        check_proof_of_work(header, params)
        if height == 0:
            if header.hash_display != params.genesis_hash_display:
                raise HeaderRejected("bad-genesis", f"{header.hash_display} is not {params.name} genesis")
            return
        parent = self._at(height - 1)
        if header.prev_hash_internal != parent.hash_internal:
            raise HeaderRejected(
                "bad-prevblk", f"prev {header.prev_hash_display} != {parent.hash_display} at {height - 1}"
            )
        expected = self.next_bits_required(header, height, parent)
        if header.bits != expected:
            raise HeaderRejected("bad-diffbits", f"bits {header.bits:#010x}, expected {expected:#010x}")
        mtp = self.median_time_past(height - 1)
        if header.time <= mtp:
            raise HeaderRejected("time-too-old", f"time {header.time} <= median time past {mtp}")
        if (
            params.enforce_bip94
            and height % params.interval == 0
            and header.time < parent.time - MAX_TIMEWARP
        ):
            raise HeaderRejected("time-timewarp-attack", f"time {header.time} < parent {parent.time} - 600")
        if now is not None and header.time > now + MAX_FUTURE_BLOCK_TIME:
            raise HeaderRejected("time-too-new", f"time {header.time} more than 2 h after {now}")
        if (
            (header.version < 2 and height >= params.bip34_height)
            or (header.version < 3 and height >= params.bip66_height)
            or (header.version < 4 and height >= params.bip65_height)
        ):
            raise HeaderRejected("bad-version", f"version {header.version:#010x} at height {height}")


class HeaderChain:
    """An in-memory branch: validates each header before appending it (tests, small tools)."""

    def __init__(self, params: ChainParams, start_height: int = 0, headers: Iterable[BlockHeader] = ()):
        self.params = params
        self.start_height = start_height
        self._headers: list[BlockHeader] = list(headers)
        self.validator = HeaderChainValidator(params, self)

    def header_at(self, height: int) -> BlockHeader | None:
        index = height - self.start_height
        if 0 <= index < len(self._headers):
            return self._headers[index]
        return None

    @property
    def tip_height(self) -> int:
        return self.start_height + len(self._headers) - 1

    def append(self, header: BlockHeader, now: int | None = None) -> int:
        """Validate ``header`` as the next block and append it; returns its height."""
        height = self.tip_height + 1
        self.validator.validate(header, height, now)
        self._headers.append(header)
        return height
