from __future__ import annotations

import pytest

from explorer import finality as fin


def test_effective_confirmations_do_not_count_the_publication_block():
    assert fin.effective_confirmations(tip_height=110, publication_height=100) == 10
    assert fin.effective_confirmations(tip_height=100, publication_height=100) == 0


def test_superfinality_needs_ten_effective_confirmations():
    assert not fin.is_superfinal(9)
    assert fin.is_superfinal(10)
    assert not fin.is_superfinal(None)


def test_legacy_btc_finality_is_confirmations_minus_eight_capped_at_100():
    assert fin.legacy_btc_finality(tip_height=110, publication_height=100) == 2  # v2 superfinal <=> v1 2
    assert fin.legacy_btc_finality(tip_height=108, publication_height=100) == 0
    assert fin.legacy_btc_finality(tip_height=100, publication_height=100) == -8
    assert fin.legacy_btc_finality(tip_height=10_000, publication_height=100) == 100
    assert fin.legacy_btc_finality(tip_height=100, publication_height=None) == -9


def test_a_publication_above_the_tip_is_an_error_not_a_negative_count():
    with pytest.raises(ValueError, match="above the tip"):
        fin.effective_confirmations(tip_height=5, publication_height=6)


@pytest.mark.parametrize(
    ("produced", "pub", "tip", "stage", "waiting"),
    [
        (False, None, 100, "produced", "Hemi keystone 50 to be produced"),
        (True, None, 100, "keystone produced", "a Bitcoin PoP publication of keystone 50 or a later keystone"),
        (True, 100, 100, "published", "10 more Bitcoin block(s) on top of the publication"),
        (True, 100, 104, "confirming", "6 more Bitcoin block(s) on top of the publication"),
        (True, 100, 110, "superfinal", None),
    ],
)
def test_lifecycle_stage_and_what_a_block_waits_for(produced, pub, tip, stage, waiting):
    f = fin.finality(
        block_number=37,
        keystone_number=50,
        keystone_produced=produced,
        publication_height=pub,
        anchoring_keystone_number=50 if pub else None,
        tip_height=tip,
    )
    assert f.stage == stage
    assert f.waiting_for == waiting
