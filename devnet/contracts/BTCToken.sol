// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {DevnetERC20Core} from "./DevnetERC20Core.sol";

/// @title BTCToken (hemiBTC on the devnet)
/// @notice 1 unit = 1 satoshi. Deployed by the BitcoinTunnelManager's constructor, which is the
///         only account allowed to mint and burn (as on Hemi, where
///         `BitcoinTunnelManager.btcTokenContract()` is hemiBTC).
contract BTCToken is DevnetERC20Core {
    string public constant name = "Hemi Bitcoin";
    string public constant symbol = "hemiBTC";
    uint8 public constant decimals = 8;

    address public immutable tunnelManager;

    constructor() {
        tunnelManager = msg.sender;
    }

    modifier onlyManager() {
        require(msg.sender == tunnelManager, "BTCToken: only the tunnel manager");
        _;
    }

    function mint(address to, uint256 sats) external onlyManager {
        _mint(to, sats);
    }

    function burn(address from, uint256 sats) external onlyManager {
        _burn(from, sats);
    }
}
