// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title BtcAddress: bcoin-regtest address -> scriptPubKey (devnet stand-in for hVM 0x46).
/// @dev The real tunnel asks the hVM precompile to turn a withdrawal's Bitcoin address into a
///      script. The devnet has no precompile, so it decodes the regtest forms bcoin uses:
///      base58check P2PKH (version 0x3c) and P2SH (0x26), and bech32 witness v0 with hrp "rb".
///      Anything else reverts, which is what makes `initiateWithdrawal` reject bad addresses.
library BtcAddress {
    uint8 internal constant P2PKH_VERSION = 0x3c;
    uint8 internal constant P2SH_VERSION = 0x26;
    bytes private constant BASE58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    bytes private constant BECH32_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

    function scriptFor(string memory addr) internal pure returns (bytes memory) {
        bytes memory a = bytes(addr);
        if (a.length > 3 && _lower(a[0]) == "r" && _lower(a[1]) == "b" && a[2] == "1") {
            return _bech32Script(a);
        }
        return _base58Script(a);
    }

    function _base58Script(bytes memory a) private pure returns (bytes memory) {
        // 25 decoded bytes never need more than 35 characters; the bound also keeps the
        // accumulator below 2**256.
        require(a.length >= 26 && a.length <= 35, "BtcAddress: unsupported address");
        uint256 num = 0;
        for (uint256 i = 0; i < a.length; i++) {
            num = num * 58 + _indexOf(BASE58_ALPHABET, a[i], "BtcAddress: invalid base58 character");
        }
        // version byte is nonzero for both regtest versions, so there are no leading '1's
        require(uint8(a[0]) != 0x31 && num >> 200 == 0 && num >> 192 != 0, "BtcAddress: unsupported address");
        bytes memory decoded = new bytes(25);
        for (uint256 i = 0; i < 25; i++) {
            decoded[24 - i] = bytes1(uint8(num >> (8 * i)));
        }
        bytes memory payload = new bytes(21);
        for (uint256 i = 0; i < 21; i++) {
            payload[i] = decoded[i];
        }
        bytes32 check = sha256(abi.encodePacked(sha256(payload)));
        for (uint256 i = 0; i < 4; i++) {
            require(decoded[21 + i] == check[i], "BtcAddress: bad base58 checksum");
        }
        bytes20 hash160;
        assembly {
            hash160 := mload(add(decoded, 33))
        }
        if (uint8(decoded[0]) == P2PKH_VERSION) {
            return abi.encodePacked(hex"76a914", hash160, hex"88ac");
        }
        if (uint8(decoded[0]) == P2SH_VERSION) {
            return abi.encodePacked(hex"a914", hash160, hex"87");
        }
        revert("BtcAddress: not a regtest P2PKH/P2SH address");
    }

    function _bech32Script(bytes memory a) private pure returns (bytes memory) {
        require(a.length <= 90, "BtcAddress: bech32 address too long");
        bool upper = a[0] == "R";
        uint256 dataLen = a.length - 3;
        require(dataLen >= 7, "BtcAddress: bech32 address too short");
        uint8[] memory values = new uint8[](dataLen);
        for (uint256 i = 0; i < dataLen; i++) {
            bytes1 c = a[3 + i];
            // mixed case is invalid bech32
            require(upper ? !(c >= "a" && c <= "z") : !(c >= "A" && c <= "Z"), "BtcAddress: mixed-case bech32");
            values[i] = uint8(_indexOf(BECH32_CHARSET, _lower(c), "BtcAddress: invalid bech32 character"));
        }
        // hrp "rb" expanded: [r>>5, b>>5, 0, r&31, b&31] = [3, 3, 0, 18, 2]
        uint256 chk = 1;
        chk = _polymodStep(chk, 3);
        chk = _polymodStep(chk, 3);
        chk = _polymodStep(chk, 0);
        chk = _polymodStep(chk, 18);
        chk = _polymodStep(chk, 2);
        for (uint256 i = 0; i < dataLen; i++) {
            chk = _polymodStep(chk, values[i]);
        }
        require(chk == 1, "BtcAddress: bad bech32 checksum (only witness v0 / bech32 is supported)");
        require(values[0] == 0, "BtcAddress: only witness version 0 is supported");
        // convert 5-bit groups (after the version, before the 6 checksum symbols) to bytes
        uint256 groups = dataLen - 7;
        bytes memory program = new bytes((groups * 5) / 8);
        uint256 acc = 0;
        uint256 bits = 0;
        uint256 out = 0;
        for (uint256 i = 1; i <= groups; i++) {
            acc = (acc << 5) | values[i];
            bits += 5;
            if (bits >= 8) {
                bits -= 8;
                program[out++] = bytes1(uint8(acc >> bits));
                acc &= (1 << bits) - 1;
            }
        }
        require(bits < 5 && acc == 0, "BtcAddress: bad bech32 padding");
        require(program.length == 20 || program.length == 32, "BtcAddress: bad witness program length");
        return abi.encodePacked(bytes1(0x00), bytes1(uint8(program.length)), program);
    }

    function _polymodStep(uint256 chk, uint256 value) private pure returns (uint256) {
        uint256 top = chk >> 25;
        chk = ((chk & 0x1ffffff) << 5) ^ value;
        if (top & 1 != 0) chk ^= 0x3b6a57b2;
        if (top & 2 != 0) chk ^= 0x26508e6d;
        if (top & 4 != 0) chk ^= 0x1ea119fa;
        if (top & 8 != 0) chk ^= 0x3d4233dd;
        if (top & 16 != 0) chk ^= 0x2a1462b3;
        return chk;
    }

    function _indexOf(bytes memory alphabet, bytes1 c, string memory err) private pure returns (uint256) {
        for (uint256 i = 0; i < alphabet.length; i++) {
            if (alphabet[i] == c) {
                return i;
            }
        }
        revert(err);
    }

    function _lower(bytes1 c) private pure returns (bytes1) {
        return (c >= "A" && c <= "Z") ? bytes1(uint8(c) + 32) : c;
    }
}
