"""Devnet constants shared by the devnet package, tests and Django settings (no imports).

The chain id is next to Hemi Sepolia's (743111) but distinct, so a wallet or explorer can never
mistake devnet data for a public network.
"""

from __future__ import annotations

DEVNET_CHAIN_ID = 743112

# anvil's well-known test mnemonic: its accounts are public, which is what a devnet wants.
DEVNET_MNEMONIC = "test test test test test test test test test test test junk"
DEVNET_ACCOUNTS = 10
DEVNET_ACCOUNT_BALANCE_ETH = 10_000

# Hemi system accounts (hemi-protocol.md 5.2) and OP-stack L1-info constants.
SYSTEM_SENDER = "0x8888888888888888888888888888888888888888"
L1_INFO_DEPOSITOR = "0xDeaDDEaDDeAdDeAdDEAdDEaddeAddEAdDEAd0001"
L1_BLOCK_PREDEPLOY = "0x4200000000000000000000000000000000000015"
UPDATE_HVM_STATE_SELECTOR = bytes.fromhex("c94f1cca")
SET_L1_BLOCK_VALUES_ECOTONE_SELECTOR = bytes.fromhex("440a5e20")

# Tunnel rules the devnet contracts enforce (hemi-protocol.md 6.2-6.4).
MIN_BITCOIN_CONFIRMATIONS = 4
MINIMUM_DEPOSIT_SATS = 1_000_000
MINIMUM_WITHDRAWAL_SATS = 1_000_000
DEFAULT_DEPOSIT_FEE_BPS = 10
DEFAULT_WITHDRAWAL_FEE_BPS = 10
# Hemi uses 12 h; the devnet wants challenges to be testable within seconds of block time.
DEVNET_WITHDRAWAL_GRACE_PERIOD_SECONDS = 600

# bcoin regtest (bcoin-regtest.md): its own address versions, not Bitcoin Core's.
BCOIN_P2PKH_VERSION = 0x3C
BCOIN_P2SH_VERSION = 0x26
BCOIN_WIF_VERSION = 0x5A
BCOIN_BECH32_HRP = "rb"
REGTEST_BITS = 0x207FFFFF
REGTEST_GENESIS_HASH_DISPLAY = "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206"
REGTEST_HALVING_INTERVAL = 150
COINBASE_MATURITY = 100
# Segwit is a BIP9 deployment on bcoin regtest: rules apply from block 432.
BCOIN_SEGWIT_ACTIVE_AFTER_HEIGHT = 431
