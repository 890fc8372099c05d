"""The proof-of-work comparison a Bitcoin reorg must pass (issue 12, item 2), on real mainnet headers.

Mainnet's first 32 256 blocks all have difficulty 1 (bits 0x1d00ffff); the first retarget, at
height 32 256, raised it to 1.18 (0x1d00d86a). So five blocks from either side of the retarget
are two branches of equal length and different work: the comparison must look at work, not
at height.
"""

from __future__ import annotations

import pytest

from indexer.bitcoin.decode import decode_header
from indexer.bitcoin.headers import MAINNET, HeaderRejected, branch_work
from indexer.bitcoin.reorg import LessWorkChain, require_more_work

from .conftest import MAINNET_GENESIS_RAW, MAINNET_HEADERS

RETARGET = 32256
# Bitcoin Core's chainwork of block 32255 (getblockheader): 32 256 blocks of 0x100010001 each.
CORE_CHAINWORK_32255 = 0x7E007E007E00


@pytest.fixture(scope="module")
def headers():
    """Decoded mainnet headers by height, 0..32260."""
    data = MAINNET_HEADERS.read_bytes()
    count = int.from_bytes(data[:4], "little")
    raws = [MAINNET_GENESIS_RAW] + [data[4 + 80 * i : 84 + 80 * i] for i in range(count)]
    return [decode_header(raw) for raw in raws]


def segment(headers, first: int, last: int):
    """Headers first..last and the hash they must build on."""
    return headers[first : last + 1], headers[first - 1].hash_internal


def test_the_summed_work_is_the_chainwork_bitcoin_core_reports(headers) -> None:
    run, parent = segment(headers, 1, RETARGET - 1)
    genesis_work = branch_work([headers[0]], b"\x00" * 32, MAINNET)
    assert genesis_work == 0x100010001  # Core's chainwork of the genesis block
    assert genesis_work + branch_work(run, parent, MAINNET) == CORE_CHAINWORK_32255


def test_equal_length_less_work_is_refused_and_more_work_accepted(headers) -> None:
    after = branch_work(*segment(headers, RETARGET, RETARGET + 4), MAINNET)  # 5 blocks at 1.18
    before = branch_work(*segment(headers, RETARGET - 5, RETARGET - 1), MAINNET)  # 5 blocks at 1
    assert headers[RETARGET].bits == 0x1D00D86A and headers[RETARGET - 1].bits == 0x1D00FFFF
    assert after > before
    with pytest.raises(LessWorkChain, match="less work"):
        require_more_work(ours=after, theirs=before, fork_height=RETARGET - 1, node="test")
    require_more_work(ours=before, theirs=after, fork_height=RETARGET - 1, node="test")
    # Equal work: the node's choice stands (it saw its branch first).
    require_more_work(ours=before, theirs=before, fork_height=RETARGET - 1, node="test")


def test_a_shorter_branch_has_less_work(headers) -> None:
    six = branch_work(*segment(headers, RETARGET - 6, RETARGET - 1), MAINNET)
    five = branch_work(*segment(headers, RETARGET - 5, RETARGET - 1), MAINNET)
    with pytest.raises(LessWorkChain):
        require_more_work(ours=six, theirs=five, fork_height=RETARGET - 7, node="test")


def test_headers_that_do_not_link_or_lack_the_work_they_claim_count_nothing(headers) -> None:
    run, parent = segment(headers, 100, 110)
    with pytest.raises(HeaderRejected, match="does not link"):
        branch_work(run, headers[50].hash_internal, MAINNET)
    with pytest.raises(HeaderRejected, match="does not link"):
        branch_work(run[:3] + run[4:], parent, MAINNET)
    forged = bytearray(run[5].raw)
    forged[76:80] = (int.from_bytes(forged[76:80], "little") ^ 1).to_bytes(4, "little")  # another nonce
    bad = decode_header(bytes(forged))
    with pytest.raises(HeaderRejected, match="high-hash"):
        branch_work([*run[:5], bad], parent, MAINNET)
