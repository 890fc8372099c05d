// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {DevnetERC20Core} from "./DevnetERC20Core.sol";

/// @notice An ordinary token, so the devnet has plain ERC-20 transfers to index.
contract DevnetUSD is DevnetERC20Core {
    string public constant name = "Devnet USD";
    string public constant symbol = "dUSD";
    uint8 public constant decimals = 6;
    address public immutable owner;

    constructor(uint256 initialSupply) {
        owner = msg.sender;
        _mint(msg.sender, initialSupply);
    }

    function mint(address to, uint256 value) external {
        require(msg.sender == owner, "DevnetUSD: only the owner");
        _mint(to, value);
    }
}

/// @notice Old-style metadata (as MKR/SAI did): name() and symbol() return bytes32, not string.
///         Indexers that ABI-decode these as `string` must cope.
contract Bytes32MetaToken is DevnetERC20Core {
    uint8 public constant decimals = 18;

    constructor(uint256 initialSupply) {
        _mint(msg.sender, initialSupply);
    }

    function name() external pure returns (bytes32) {
        return "Bytes32 Meta Token";
    }

    function symbol() external pure returns (bytes32) {
        return "B32M";
    }
}

/// @notice A token whose decimals() reverts: the explorer must show "unknown", not crash or guess.
contract NoDecimalsToken is DevnetERC20Core {
    string public constant name = "No Decimals Token";
    string public constant symbol = "NODEC";

    constructor(uint256 initialSupply) {
        _mint(msg.sender, initialSupply);
    }

    function decimals() external pure returns (uint8) {
        revert("NoDecimalsToken: decimals() is not implemented");
    }
}

/// @notice Hostile metadata: a ~10 kB name with a right-to-left override and markup, and a
///         symbol that is a script tag. Anything rendering these must escape and truncate.
contract HostileToken is DevnetERC20Core {
    string public constant symbol = "<script>alert(1)</script>";
    uint8 public constant decimals = 18;
    uint256 public constant NAME_FILLER_WORDS = 312; // 312 * 32 bytes + prefix ~= 10 kB

    constructor(uint256 initialSupply) {
        _mint(msg.sender, initialSupply);
    }

    /// @dev Built on each call instead of stored: 10 kB of storage would cost ~7M gas to write.
    function name() external pure returns (string memory) {
        bytes memory prefix = bytes(unicode"Hostile \u202eTOKEN\u202c \"quoted\" <b>bold</b>\n");
        bytes32 filler = "<img src=x onerror=alert(2)>AAA ";
        bytes memory out = new bytes(prefix.length + NAME_FILLER_WORDS * 32);
        assembly {
            let dst := add(out, 32)
            mcopy(dst, add(prefix, 32), mload(prefix))
            dst := add(dst, mload(prefix))
            for { let i := 0 } lt(i, NAME_FILLER_WORDS) { i := add(i, 1) } {
                mstore(add(dst, mul(i, 32)), filler)
            }
        }
        return string(out);
    }
}
