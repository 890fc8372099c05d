"""Raw receipts from a proof: every log field must be a byte string of the EVM's size, never a list."""

from __future__ import annotations

import re

import pytest
import rlp

from indexer.hemi.rawtx import RawTxError, decode_raw_receipt

ADDRESS, TOPIC = b"\x11" * 20, b"\x22" * 32


def _receipt(*logs) -> bytes:
    return b"\x02" + rlp.encode([b"\x01", 21000, b"\x00" * 256, list(logs)])


def test_a_well_formed_receipt_decodes():
    receipt = decode_raw_receipt(_receipt([ADDRESS, [TOPIC], b"data"]))
    assert (receipt.status, receipt.logs[0].address, receipt.logs[0].topics, receipt.logs[0].data) == (
        1,
        ADDRESS,
        (TOPIC,),
        b"data",
    )


@pytest.mark.parametrize(
    ("log", "reason"),
    [
        ([[b"\x00"] * 20, [TOPIC], b""], "log 0: address must be a 20-byte string"),
        ([ADDRESS, [[b"\x00"] * 32], b""], "log 0: every topic must be a 32-byte string"),
        ([ADDRESS, [TOPIC], [b"data"]], "log 0: data must be a byte string, not a list"),
        ([ADDRESS, [TOPIC], [[b"\x00" * 32]]], "log 0: data must be a byte string"),
        ([ADDRESS, b"\x00" * 32, b""], "log 0: topics must be a list"),
        ([ADDRESS, [TOPIC] * 5, b""], "at most 4"),
        ([ADDRESS, [TOPIC]], "log 0 is not a list"),
        (b"\x00", "log 0 is not a list"),
    ],
)
def test_nested_lists_as_log_fields_are_refused_by_name(log, reason):
    with pytest.raises(RawTxError, match=re.escape(reason)):
        decode_raw_receipt(_receipt(log))
