"""Header-chain validation: real mainnet headers 0..32260 and mined synthetic chains."""

from __future__ import annotations

import dataclasses
import struct

import pytest

from indexer.bitcoin.decode import BlockHeader, decode_header
from indexer.bitcoin.headers import (
    MAINNET,
    NETWORKS,
    REGTEST,
    TESTNET3,
    TESTNET4,
    HeaderChain,
    HeaderChainValidator,
    HeaderRejected,
    MissingAncestor,
    bits_to_target,
    block_work,
    calculate_next_work,
    decode_compact,
    target_to_bits,
)

GENESIS_MERKLE = bytes.fromhex("4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b")[::-1]
REGTEST_GENESIS = decode_header(
    struct.pack("<i32s32sIII", 1, b"\0" * 32, GENESIS_MERKLE, 1296688602, 0x207FFFFF, 2)
)
EASY = (1 << 255) - 1  # regtest's pow limit, so synthetic headers are mined in a few hashes


def mine(prev: BlockHeader, time: int, bits: int, version: int = 0x20000000, salt: int = 0) -> BlockHeader:
    """Find a nonce for an easy target (test helper; ~2 hashes at 0x207fffff)."""
    target = bits_to_target(bits)
    merkle = salt.to_bytes(32, "little")
    for nonce in range(1 << 20):
        raw = struct.pack("<i32s32sIII", version, prev.hash_internal, merkle, time, bits, nonce)
        header = decode_header(raw)
        if int.from_bytes(header.hash_internal, "little") <= target:
            return header
    raise AssertionError("could not mine")


def retime(header: BlockHeader, **changes: int) -> BlockHeader:
    """Rewrite fields of a header WITHOUT re-mining (its hash changes)."""
    fields = {
        "version": header.version,
        "prev": header.prev_hash_internal,
        "merkle": header.merkle_root_internal,
        "time": header.time,
        "bits": header.bits,
        "nonce": header.nonce,
    }
    fields.update(changes)
    return decode_header(struct.pack("<i32s32sIII", *fields.values()))


# --------------------------------------------------------------------------- real mainnet


def test_mainnet_headers_0_to_32260_all_validate(mainnet_headers):
    chain = HeaderChain(MAINNET)
    for header in mainnet_headers:
        chain.append(header)
    assert chain.tip_height == 32260
    assert chain.header_at(0).hash_display == MAINNET.genesis_hash_display
    assert (
        chain.header_at(32260).hash_display
        == "0000000007bfbe7ec5510ccf80c5a291bf8fc603dd79f5d6a69fae6039f8a35e"
    )


def test_mainnet_retargets_have_the_real_values(mainnet_headers):
    chain = HeaderChain(MAINNET, headers=mainnet_headers)
    for height in range(2016, 32257, 2016):
        header = mainnet_headers[height]
        computed = chain.validator.next_bits_required(header, height, mainnet_headers[height - 1])
        assert computed == header.bits
        # Until 32256 blocks came slower than planned: the 4x clamp would lower the difficulty
        # but powLimit caps it, so bits stay at the minimum.
        assert computed == (0x1D00D86A if height == 32256 else 0x1D00FFFF)
    assert mainnet_headers[32255].bits == 0x1D00FFFF and mainnet_headers[32256].bits == 0x1D00D86A


def test_retarget_uses_the_block_2016_back_core_off_by_one(mainnet_headers):
    asked: list[int] = []

    class Recording:
        def header_at(self, height: int) -> BlockHeader:
            asked.append(height)
            return mainnet_headers[height]

    validator = HeaderChainValidator(MAINNET, Recording())
    validator.next_bits_required(mainnet_headers[32256], 32256, mainnet_headers[32255])
    assert asked == [30240]  # the period's first block, so the timespan covers 2015 intervals
    assert (mainnet_headers[30240].time, mainnet_headers[32255].time) == (1261130161, 1262152739)


def test_tampered_mainnet_headers_are_rejected(mainnet_headers):
    chain = HeaderChain(MAINNET, headers=mainnet_headers[:30000])
    real = mainnet_headers[30000]
    # Any edited field changes the hash, and proof of work is checked first (as in Core), so
    # an edited nonce, bits or prev hash fails as "high-hash".
    wrong_prev = mainnet_headers[29998].hash_internal
    for header in (
        retime(real, nonce=real.nonce + 1),
        retime(real, bits=0x1D00FFFE),
        retime(real, prev=wrong_prev),
    ):
        with pytest.raises(HeaderRejected) as info:
            chain.validator.validate(header, 30000)
        assert info.value.reason == "high-hash"
    # a valid header offered on top of the wrong parent (its real parent is 29999, not 29998)
    short = HeaderChain(MAINNET, headers=mainnet_headers[:29999])
    with pytest.raises(HeaderRejected) as info:
        short.append(real)
    assert info.value.reason == "bad-prevblk"
    chain.validator.validate(real, 30000)  # and the untouched header passes


def test_bits_above_pow_limit_are_high_hash(mainnet_headers):
    genesis = retime(mainnet_headers[0], bits=0x1D01FFFF)
    with pytest.raises(HeaderRejected, match="out of range") as info:
        HeaderChain(MAINNET).append(genesis)
    assert info.value.reason == "high-hash"


def test_genesis_checks(mainnet_headers):
    with pytest.raises(HeaderRejected) as info:
        HeaderChain(TESTNET3).append(mainnet_headers[0])
    assert info.value.reason == "bad-genesis"
    with pytest.raises(HeaderRejected) as info:
        HeaderChain(MAINNET).append(REGTEST_GENESIS)
    assert info.value.reason == "high-hash"  # its bits are far above mainnet's pow limit
    assert HeaderChain(REGTEST).append(REGTEST_GENESIS) == 0
    assert REGTEST_GENESIS.hash_display == REGTEST.genesis_hash_display


def test_missing_ancestor_is_not_a_rejection(mainnet_headers):
    chain = HeaderChain(MAINNET, start_height=100, headers=mainnet_headers[100:105])
    with pytest.raises(MissingAncestor):
        chain.append(mainnet_headers[105])  # median time past needs heights 95..99


# --------------------------------------------------------------------------- compact targets


def test_compact_encoding_matches_core():
    assert decode_compact(0x01003456) == (0, False, False)
    assert decode_compact(0x01123456) == (0x12, False, False)
    assert decode_compact(0x04923456) == (0x12345600, True, False)
    assert decode_compact(0x05009234) == (0x92340000, False, False)
    assert decode_compact(0x20123456)[0] == 0x123456 << 232
    assert decode_compact(0xFF123456)[2] is True
    assert target_to_bits(0x12) == 0x01120000
    assert target_to_bits(0x80) == 0x02008000
    assert target_to_bits(0x92340000) == 0x05009234
    assert target_to_bits(MAINNET.pow_limit) == 0x1D00FFFF
    assert target_to_bits(REGTEST.pow_limit) == 0x207FFFFF
    assert block_work(0x1D00FFFF) == 0x100010001
    with pytest.raises(ValueError):
        bits_to_target(0x04923456)


@pytest.mark.parametrize(
    ("last_bits", "first_time", "last_time", "expected"),
    [
        (0x1D00FFFF, 1261130161, 1262152739, 0x1D00D86A),  # Core pow_tests get_next_work
        (0x1D00FFFF, 1231006505, 1233061996, 0x1D00FFFF),  # capped at powLimit
        (0x1C05A3F4, 1279008237, 1279297671, 0x1C0168FD),  # fast period: 4x clamp
        (0x1C387F6F, 1263163443, 1269211443, 0x1D00E1FD),  # slow period: 1/4 clamp
    ],
)
def test_calculate_next_work_core_vectors(last_bits, first_time, last_time, expected):
    assert calculate_next_work(last_bits, last_time, first_time, MAINNET) == expected


def test_network_parameters():
    assert set(NETWORKS) == {"mainnet", "testnet3", "testnet4", "regtest"}
    assert TESTNET3.genesis_hash_display == "000000000933ea01ad0ee984209779baaec3ced90fa3f408719526f8d77f4943"
    assert TESTNET4.genesis_hash_display == "00000000da84f2bafbbc53dee25a72ae507ff4914b867c565be350b0da8bf043"
    assert [p.pow_limit_bits for p in (MAINNET, TESTNET3, TESTNET4)] == [0x1D00FFFF] * 3
    assert MAINNET.interval == 2016


# --------------------------------------------------------------------------- synthetic chains


def _ancestors(count: int, spacing: int, bits: int, start_time: int = 1_600_000_000) -> list[BlockHeader]:
    """``count`` linked but unmined headers: only times and bits matter to the rules under test."""
    headers, prev = [], REGTEST_GENESIS
    for i in range(count):
        prev = retime(prev, prev=prev.hash_internal, time=start_time + i * spacing, bits=bits, nonce=i)
        headers.append(prev)
    return headers


def _seeded(params, count: int, spacing: int, bits: int) -> HeaderChain:
    return HeaderChain(params, headers=_ancestors(count, spacing, bits))


def test_regtest_chain_never_retargets():
    chain = HeaderChain(REGTEST, headers=[REGTEST_GENESIS])
    prev = REGTEST_GENESIS
    for i in range(1, 30):
        prev = mine(prev, REGTEST_GENESIS.time + i, 0x207FFFFF)
        chain.append(prev)
    seeded = _seeded(REGTEST, 2016, 1, 0x207FFFFF)
    assert (
        seeded.validator.next_bits_required(seeded.header_at(2015), 2016, seeded.header_at(2015))
        == 0x207FFFFF
    )


def test_regtest_wrong_bits_time_and_version_are_rejected():
    chain = HeaderChain(REGTEST, headers=[REGTEST_GENESIS])
    t = REGTEST_GENESIS.time
    for i in range(1, 12):
        chain.append(mine(chain.header_at(i - 1), t + 100 * i, 0x207FFFFF))
    tip = chain.header_at(11)
    mtp = chain.validator.median_time_past(11)
    assert mtp == t + 600
    cases = [
        (mine(tip, tip.time + 1, 0x207FFFFE), "bad-diffbits"),
        (mine(tip, mtp, 0x207FFFFF), "time-too-old"),
        (mine(tip, tip.time + 1, 0x207FFFFF, version=1), "bad-version"),
    ]
    for header, reason in cases:
        with pytest.raises(HeaderRejected) as info:
            chain.append(header)
        assert info.value.reason == reason
    chain.append(mine(tip, mtp + 1, 0x207FFFFF))  # one second past the median is fine
    future = mine(chain.header_at(12), 2_000_000_000, 0x207FFFFF)
    with pytest.raises(HeaderRejected) as info:
        chain.validator.validate(future, 13, now=2_000_000_000 - 7201)
    assert info.value.reason == "time-too-new"
    chain.validator.validate(future, 13, now=2_000_000_000 - 7200)


def test_mainnet_rules_clamp_a_fast_period_to_4x():
    params = dataclasses.replace(MAINNET, pow_limit=EASY)
    chain = _seeded(params, 2016, 60, 0x1F00FFFF)  # ten times too fast
    parent = chain.header_at(2015)
    expected = target_to_bits(bits_to_target(0x1F00FFFF) // 4)
    assert chain.validator.next_bits_required(parent, 2016, parent) == expected
    chain.append(mine(parent, parent.time + 600, expected))
    with pytest.raises(HeaderRejected) as info:
        chain.append(mine(chain.header_at(2016), chain.header_at(2016).time + 600, 0x1F00FFFF))
    assert info.value.reason == "bad-diffbits"


TESTNET_EASY = dataclasses.replace(TESTNET3, name="testnet3-easy", pow_limit=EASY)
REGULAR_BITS = 0x1F7FFFFF  # harder than the (easy) limit 0x207fffff: ~1 in 512 hashes


def test_testnet_twenty_minute_rule_and_walk_back():
    chain = _seeded(TESTNET_EASY, 10, 600, REGULAR_BITS)
    tip = chain.header_at(9)
    # a block more than 20 minutes after its parent may use the pow limit ...
    chain.append(mine(tip, tip.time + 1201, 0x207FFFFF))
    # ... exactly 20 minutes is not enough
    with pytest.raises(HeaderRejected):
        chain.validator.validate(mine(tip, tip.time + 1200, 0x207FFFFF), 10)
    # the next on-time block walks back past the min-difficulty block to the regular bits
    special = chain.header_at(10)
    with pytest.raises(HeaderRejected) as info:
        chain.append(mine(special, special.time + 60, 0x207FFFFF))
    assert info.value.reason == "bad-diffbits"
    chain.append(mine(special, special.time + 60, REGULAR_BITS))


def test_testnet_walk_back_can_be_supplied_by_the_caller():
    chain = _seeded(TESTNET_EASY, 10, 600, REGULAR_BITS)
    calls: list[int] = []

    def walk_back(parent_height: int) -> int:
        calls.append(parent_height)
        return 0x1F3FFFFF

    validator = HeaderChainValidator(TESTNET_EASY, chain, walk_back=walk_back)
    tip = chain.header_at(9)
    assert validator.next_bits_required(tip, 10, tip) == 0x1F3FFFFF
    assert calls == [9]


def test_testnet3_retarget_uses_the_last_blocks_bits_but_testnet4_the_first():
    t4 = dataclasses.replace(TESTNET4, pow_limit=EASY)
    for params, expected_base in ((TESTNET_EASY, 0x207FFFFF), (t4, REGULAR_BITS)):
        headers = _ancestors(2015, 600, REGULAR_BITS)
        tip = headers[-1]
        headers.append(retime(tip, prev=tip.hash_internal, time=tip.time + 1300, bits=0x207FFFFF))
        chain = HeaderChain(params, headers=headers)
        parent = chain.header_at(2015)
        # timespan 2014*600 + 1300 ~= 2 weeks: the new target is ~ the base target
        got = chain.validator.next_bits_required(parent, 2016, parent)
        timespan = parent.time - chain.header_at(0).time
        assert got == target_to_bits(min(bits_to_target(expected_base) * timespan // 1209600, EASY))


def test_testnet4_timewarp_rule():
    params = dataclasses.replace(TESTNET4, pow_limit=EASY)
    headers = _ancestors(2016, 600, 0x207FFFFF)
    headers[-1] = parent = retime(headers[-1], time=headers[-1].time + 5000)  # jump; MTP stays low
    chain = HeaderChain(params, headers=headers)
    bits = chain.validator.next_bits_required(parent, 2016, parent)
    with pytest.raises(HeaderRejected) as info:
        chain.validator.validate(mine(parent, parent.time - 601, bits), 2016)
    assert info.value.reason == "time-timewarp-attack"
    chain.validator.validate(mine(parent, parent.time - 600, bits), 2016)
