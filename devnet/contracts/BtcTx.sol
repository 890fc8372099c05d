// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title BtcTx: minimal Bitcoin transaction / Merkle helpers for the devnet tunnel.
/// @dev Only the legacy (non-witness) serialization is accepted: the txid commits to exactly
///      those bytes, so callers must strip the witness before passing a segwit transaction.
library BtcTx {
    struct Output {
        uint64 valueSats;
        bytes script;
    }

    struct Parsed {
        uint256 inputCount;
        uint256 outputCount;
        /// the first `maxOutputs` outputs only (the tunnel looks at outputs 0..7)
        Output[] outputs;
    }

    function dsha256(bytes memory data) internal pure returns (bytes32) {
        return sha256(abi.encodePacked(sha256(data)));
    }

    /// @notice Reverse the 32 bytes (internal <-> display order).
    function reverse(bytes32 value) internal pure returns (bytes32) {
        uint256 v = uint256(value);
        // swap bytes, then 2-byte pairs, 4-byte groups, ... 16-byte halves
        v = ((v >> 8) & 0x00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF)
            | ((v & 0x00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF) << 8);
        v = ((v >> 16) & 0x0000FFFF0000FFFF0000FFFF0000FFFF0000FFFF0000FFFF0000FFFF0000FFFF)
            | ((v & 0x0000FFFF0000FFFF0000FFFF0000FFFF0000FFFF0000FFFF0000FFFF0000FFFF) << 16);
        v = ((v >> 32) & 0x00000000FFFFFFFF00000000FFFFFFFF00000000FFFFFFFF00000000FFFFFFFF)
            | ((v & 0x00000000FFFFFFFF00000000FFFFFFFF00000000FFFFFFFF00000000FFFFFFFF) << 32);
        v = ((v >> 64) & 0x0000000000000000FFFFFFFFFFFFFFFF0000000000000000FFFFFFFFFFFFFFFF)
            | ((v & 0x0000000000000000FFFFFFFFFFFFFFFF0000000000000000FFFFFFFFFFFFFFFF) << 64);
        v = (v >> 128) | (v << 128);
        return bytes32(v);
    }

    /// @notice Climb a Bitcoin Merkle branch (all hashes internal order). Bit i of `index`
    ///         says whether the running hash is the right (1) or left (0) child at level i.
    function merkleRootFromBranch(bytes32 leafInternal, bytes32[] memory branch, uint256 index)
        internal
        pure
        returns (bytes32)
    {
        require(branch.length < 256 && index >> branch.length == 0, "BtcTx: tx index out of range for branch");
        bytes32 h = leafInternal;
        for (uint256 i = 0; i < branch.length; i++) {
            if (index & 1 == 1) {
                h = dsha256(abi.encodePacked(branch[i], h));
            } else {
                h = dsha256(abi.encodePacked(h, branch[i]));
            }
            index >>= 1;
        }
        return h;
    }

    function parse(bytes memory raw, uint256 maxOutputs) internal pure returns (Parsed memory p) {
        // A 64-byte "transaction" can collide with an inner Merkle node (CVE-2017-12842).
        require(raw.length != 64, "BtcTx: 64-byte transactions are ambiguous");
        uint256 pos = 4; // version
        _need(raw, pos, 1);
        require(uint8(raw[4]) != 0, "BtcTx: witness serialization; pass the transaction without witness");
        uint256 n;
        (n, pos) = readVarInt(raw, pos);
        p.inputCount = n;
        for (uint256 i = 0; i < n; i++) {
            pos += 36; // prevout txid + vout
            uint256 scriptLen;
            (scriptLen, pos) = readVarInt(raw, pos);
            pos += scriptLen + 4; // scriptSig + sequence
        }
        (n, pos) = readVarInt(raw, pos);
        p.outputCount = n;
        uint256 kept = n < maxOutputs ? n : maxOutputs;
        p.outputs = new Output[](kept);
        for (uint256 i = 0; i < n; i++) {
            _need(raw, pos, 8);
            uint64 value = uint64(readUintLE(raw, pos, 8));
            pos += 8;
            uint256 scriptLen;
            (scriptLen, pos) = readVarInt(raw, pos);
            _need(raw, pos, scriptLen);
            if (i < kept) {
                p.outputs[i] = Output(value, slice(raw, pos, scriptLen));
            }
            pos += scriptLen;
        }
        require(pos + 4 == raw.length, "BtcTx: transaction length does not match its contents");
    }

    function readVarInt(bytes memory raw, uint256 pos) internal pure returns (uint256 value, uint256 next) {
        _need(raw, pos, 1);
        uint8 first = uint8(raw[pos]);
        if (first < 0xfd) {
            return (first, pos + 1);
        }
        uint256 size = first == 0xfd ? 2 : (first == 0xfe ? 4 : 8);
        _need(raw, pos + 1, size);
        return (readUintLE(raw, pos + 1, size), pos + 1 + size);
    }

    function readUintLE(bytes memory raw, uint256 pos, uint256 size) internal pure returns (uint256 value) {
        for (uint256 i = 0; i < size; i++) {
            value |= uint256(uint8(raw[pos + i])) << (8 * i);
        }
    }

    function slice(bytes memory raw, uint256 start, uint256 len) internal pure returns (bytes memory out) {
        _need(raw, start, len);
        out = new bytes(len);
        assembly {
            mcopy(add(out, 32), add(add(raw, 32), start), len)
        }
    }

    /// @notice The tunnel's recipient rule: the first output among those given whose script
    ///         starts with OP_RETURN and is exactly 22 bytes (binary address at bytes 2..21) or
    ///         42 bytes (40 ASCII hex characters at bytes 2..41, any case). The push opcode byte
    ///         is not checked, matching the real vault.
    function extractRecipient(Output[] memory outputs) internal pure returns (address) {
        for (uint256 i = 0; i < outputs.length; i++) {
            bytes memory s = outputs[i].script;
            if (s.length == 0 || uint8(s[0]) != 0x6a) {
                continue;
            }
            if (s.length == 22) {
                return address(uint160(readUintBE(s, 2, 20)));
            }
            if (s.length == 42) {
                return _parseHexAddress(s, 2);
            }
        }
        revert("BtcTx: no OP_RETURN recipient in the first outputs");
    }

    function readUintBE(bytes memory raw, uint256 pos, uint256 size) internal pure returns (uint256 value) {
        _need(raw, pos, size);
        for (uint256 i = 0; i < size; i++) {
            value = (value << 8) | uint256(uint8(raw[pos + i]));
        }
    }

    function _parseHexAddress(bytes memory s, uint256 start) private pure returns (address) {
        uint160 value = 0;
        for (uint256 i = 0; i < 40; i++) {
            uint8 c = uint8(s[start + i]);
            uint8 nibble;
            if (c >= 0x30 && c <= 0x39) {
                nibble = c - 0x30;
            } else if (c >= 0x61 && c <= 0x66) {
                nibble = c - 0x61 + 10;
            } else if (c >= 0x41 && c <= 0x46) {
                nibble = c - 0x41 + 10;
            } else {
                revert("BtcTx: OP_RETURN recipient is not 40 hex characters");
            }
            value = (value << 4) | nibble;
        }
        return address(value);
    }

    function _need(bytes memory raw, uint256 pos, uint256 len) private pure {
        require(pos + len <= raw.length, "BtcTx: truncated transaction");
    }
}
