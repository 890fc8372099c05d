"""The compatible subsets cost the same queries whatever the table sizes, like /api/v1/
(measured on the data set, then again after more blocks and every kind of row arrived)."""

from __future__ import annotations

from tests.explorer import api_dataset
from tests.explorer.api.test_api_query_counts import _count, _hemibtc  # noqa: F401 - autouse fixture


def test_blockscout_etherscan_and_esplora_cost_the_same_queries_at_two_table_sizes(client, chains, tunnel):
    d = api_dataset.build(chains, tunnel)
    for _ in range(2):
        api_dataset.grow(d)
    mint = chains.hemi.DepositConfirmation.objects.order_by("id").first()
    tx = "0x" + bytes(mint.transaction.hash).hex()
    holder, token, recipient = "0x" + d.holder.hex(), "0x" + tunnel.HEMIBTC.hex(), "0x" + tunnel.RECIPIENT.hex()
    btc = d.btc[105].hash_display
    urls = [
        "/api/v2/blocks", "/api/v2/blocks/12", "/api/v2/blocks/12/transactions", f"/api/v2/transactions/{tx}",
        f"/api/v2/transactions/{tx}/logs", f"/api/v2/transactions/{tx}/token-transfers",
        f"/api/v2/addresses/{holder}", f"/api/v2/addresses/{holder}/transactions",
        f"/api/v2/addresses/{recipient}/token-transfers", "/api/v2/tokens", f"/api/v2/tokens/{token}",
        f"/api/v2/tokens/{token}/holders", f"/api/v2/search?q={tx}", "/api/v2/stats",
        "/api/v2/main-page/indexing-status",
        f"/api?module=account&action=txlist&address={holder}&page=1&offset=5",
        f"/api?module=account&action=tokentx&address={recipient}&page=1&offset=5",
        f"/api?module=account&action=tokenbalance&address={recipient}&contractaddress={token}",
        "/api?module=block&action=eth_block_number",
        f"/api?module=logs&action=getlogs&address=0x{'ee' * 20}&fromBlock=0&toBlock=20&page=1&offset=5",
        f"/api?module=token&action=gettoken&contractaddress={token}",
        f"/api?module=transaction&action=gettxreceiptstatus&txhash={tx}",
        "/esplora/api/blocks/tip/height", "/esplora/api/blocks", f"/esplora/api/block/{btc}",
        f"/esplora/api/block/{btc}/status", f"/esplora/api/block/{btc}/header",
    ]  # fmt: skip
    small = {url: _count(client, url) for url in urls}
    for _ in range(15):
        api_dataset.grow(d)
    large = {url: _count(client, url) for url in urls}
    assert large == small
    assert all(n <= 12 for n in small.values()), small
