// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title L1Block (devnet stand-in for the OP-stack L1 attributes predeploy)
/// @notice Receives the Ecotone "L1 info" call that opens every OP-stack block. The call is
///         `setL1BlockValuesEcotone()` (selector 0x440a5e20) followed by 160 tightly PACKED bytes,
///         not ABI-encoded arguments, so the function parses msg.data itself:
///         baseFeeScalar u32 | blobBaseFeeScalar u32 | sequenceNumber u64 | timestamp u64 |
///         number u64 | basefee u256 | blobBaseFee u256 | hash bytes32 | batcherHash bytes32
contract L1Block {
    address public constant DEPOSITOR_ACCOUNT = 0xDeaDDEaDDeAdDeAdDEAdDEaddeAddEAdDEAd0001;
    uint256 private constant ECOTONE_CALLDATA_SIZE = 4 + 160;

    uint64 public number;
    uint64 public timestamp;
    uint256 public basefee;
    bytes32 public hash;
    uint64 public sequenceNumber;
    bytes32 public batcherHash;
    uint32 public baseFeeScalar;
    uint32 public blobBaseFeeScalar;
    uint256 public blobBaseFee;

    function setL1BlockValuesEcotone() external {
        require(msg.sender == DEPOSITOR_ACCOUNT, "L1Block: only the depositor account");
        // The ABI decoder ignores extra calldata for a no-argument function, so the length check
        // is what makes a truncated or padded payload fail loudly.
        require(msg.data.length == ECOTONE_CALLDATA_SIZE, "L1Block: Ecotone calldata must be 164 bytes");
        baseFeeScalar = uint32(bytes4(msg.data[4:8]));
        blobBaseFeeScalar = uint32(bytes4(msg.data[8:12]));
        sequenceNumber = uint64(bytes8(msg.data[12:20]));
        timestamp = uint64(bytes8(msg.data[20:28]));
        number = uint64(bytes8(msg.data[28:36]));
        basefee = uint256(bytes32(msg.data[36:68]));
        blobBaseFee = uint256(bytes32(msg.data[68:100]));
        hash = bytes32(msg.data[100:132]);
        batcherHash = bytes32(msg.data[132:164]);
    }
}
