"""A verifiable hemiBTC mint in the test database (the evidence story: real bytes, no node)."""

from __future__ import annotations

import io

import pytest

from tests.explorer.evidence_story import HEMIBTC, MANAGER, EvidenceStory, load_into_db


@pytest.fixture
def devnet_addresses(monkeypatch):
    monkeypatch.setenv("TUNNEL_MANAGER_ADDRESS", "0x" + MANAGER.hex())
    monkeypatch.setenv("HEMIBTC_ADDRESS", "0x" + HEMIBTC.hex())


def load_story():
    """The story's rows plus the hemiBTC Transfer its mint emitted (the story's receipt holds
    it; the live "minted amount" check reads the indexed transfer), so its verdict is verified."""
    from indexer.hemi import models as hemi
    from indexer.hemi.records import ZERO_ADDRESS

    mint = load_into_db(EvidenceStory())
    token = hemi.Token.objects.create(address=HEMIBTC, standard="erc20", name="hemiBTC", first_seen_block=0)
    log = hemi.Log.objects.create(
        transaction=mint.transaction, block=mint.block, log_index=1, address=HEMIBTC, data=b""
    )
    hemi.TokenTransfer.objects.create(
        log=log, token=token, block=mint.block, sender=ZERO_ADDRESS, recipient=mint.recipient, value=mint.net_sats
    )
    return mint


@pytest.fixture
def story_mint(db, devnet_addresses):
    return load_story()


TOKEN = "0x" + HEMIBTC.hex()


def build(fmt: str, **selectors) -> bytes:
    """A report's bytes, built in this process (the token scope defaults to hemiBTC)."""
    from explorer.reports.build import write_report
    from explorer.reports.request import make_request

    scope = selectors.pop("scope", "token")
    if scope == "token":
        selectors.setdefault("id", TOKEN)
    out = io.BytesIO()
    write_report(make_request(scope, **selectors), fmt, out)
    return out.getvalue()
