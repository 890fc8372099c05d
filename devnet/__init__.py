"""Hemiscope's local devnet: anvil (standing in for Hemi) + bcoin (Bitcoin regtest).

Kept import-light on purpose: settings import ``devnet.constants`` and must not pull in web3.
"""
