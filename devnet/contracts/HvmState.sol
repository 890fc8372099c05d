// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title HvmState (devnet stand-in)
/// @notice Hemi's op-geth feeds Bitcoin headers into every block through a system transaction
///         from 0x8888...8888 calling `updateHvmState(bytes32 canonicalTip, bytes[] headers)`.
///         On the devnet there is no op-geth, so an impersonated 0x8888 account calls this
///         contract instead, and contracts that need "the hVM's Bitcoin view at this Hemi block"
///         (the tunnel vault) read it from here.
/// @dev Byte order: every Bitcoin hash here is in INTERNAL order (the raw double-SHA256 digest),
///      exactly as op-geth passes `canonicalTip`. Display order is only used by the tunnel's txids.
///      Proof of work is not checked: on the real chain op-geth validates headers before relaying
///      them, and the devnet trusts its own relayer.
contract HvmState {
    address public constant SYSTEM_SENDER = 0x8888888888888888888888888888888888888888;
    uint256 private constant HEADER_SIZE = 80;

    struct StoredHeader {
        uint64 height;
        bool known;
        bytes32 prevHashInternal;
        bytes32 merkleRootInternal;
    }

    mapping(bytes32 => StoredHeader) private _headers;
    /// @notice height => hash (internal order) of the header on the currently canonical chain.
    mapping(uint256 => bytes32) public canonicalHashAt;

    uint256 public immutable startHeight;
    bytes32 public immutable startHashInternal;
    bytes32 private _tipHash;
    uint256 private _tipHeight;

    event BitcoinHeaderStored(
        bytes32 indexed blockHashInternal,
        bytes32 indexed prevHashInternal,
        uint256 indexed height,
        bytes32 merkleRootInternal
    );
    /// @param replacedHeights how many heights changed their canonical hash (reorg depth; 0 = extension)
    event CanonicalTipUpdated(bytes32 indexed tipHashInternal, uint256 indexed height, uint256 replacedHeights);

    /// @param startHeader the 80-byte header the view starts from (the devnet uses regtest genesis)
    /// @param startHeight_ its height
    constructor(bytes memory startHeader, uint256 startHeight_) {
        require(startHeader.length == HEADER_SIZE, "HvmState: start header must be 80 bytes");
        bytes32 hashInternal = sha256(abi.encodePacked(sha256(startHeader)));
        bytes32 prev;
        bytes32 merkle;
        assembly {
            // header layout: version(4) prev(32) merkle(32) time(4) bits(4) nonce(4)
            prev := mload(add(startHeader, 36))
            merkle := mload(add(startHeader, 68))
        }
        _headers[hashInternal] = StoredHeader(uint64(startHeight_), true, prev, merkle);
        canonicalHashAt[startHeight_] = hashInternal;
        startHeight = startHeight_;
        startHashInternal = hashInternal;
        _tipHash = hashInternal;
        _tipHeight = startHeight_;
        emit BitcoinHeaderStored(hashInternal, prev, startHeight_, merkle);
        emit CanonicalTipUpdated(hashInternal, startHeight_, 0);
    }

    /// @notice Store new headers (each must link to a known header) and move the canonical tip.
    function updateHvmState(bytes32 canonicalTip, bytes[] calldata headers) external {
        require(msg.sender == SYSTEM_SENDER, "HvmState: only the system sender");
        for (uint256 i = 0; i < headers.length; i++) {
            _storeHeader(headers[i]);
        }
        _setTip(canonicalTip);
    }

    function _storeHeader(bytes calldata header) private {
        require(header.length == HEADER_SIZE, "HvmState: header must be 80 bytes");
        bytes32 hashInternal = sha256(abi.encodePacked(sha256(header)));
        if (_headers[hashInternal].known) {
            return; // re-relaying a header is harmless (the relayer may resend after a restart)
        }
        bytes32 prev = bytes32(header[4:36]);
        StoredHeader storage parent = _headers[prev];
        require(parent.known, "HvmState: header does not link to a known header");
        uint64 height = parent.height + 1;
        bytes32 merkle = bytes32(header[36:68]);
        _headers[hashInternal] = StoredHeader(height, true, prev, merkle);
        emit BitcoinHeaderStored(hashInternal, prev, height, merkle);
    }

    /// @dev Tip switch, in steps:
    ///      1. forget canonical entries above the new tip's height (the new branch may be shorter);
    ///      2. walk back from the new tip writing height => hash until the map already agrees
    ///         (at the latest at the start header, which is canonical on every branch).
    function _setTip(bytes32 newTip) private {
        StoredHeader storage tipHeader = _headers[newTip];
        require(tipHeader.known, "HvmState: canonical tip is not a known header");
        if (newTip == _tipHash) {
            return;
        }
        uint256 newHeight = tipHeader.height;
        uint256 replaced = 0;
        for (uint256 h = _tipHeight; h > newHeight; h--) {
            delete canonicalHashAt[h];
            replaced++;
        }
        bytes32 cursor = newTip;
        uint256 height = newHeight;
        while (canonicalHashAt[height] != cursor) {
            if (canonicalHashAt[height] != bytes32(0)) {
                replaced++;
            }
            canonicalHashAt[height] = cursor;
            cursor = _headers[cursor].prevHashInternal;
            height--;
        }
        _tipHash = newTip;
        _tipHeight = newHeight;
        emit CanonicalTipUpdated(newTip, newHeight, replaced);
    }

    function tip() external view returns (bytes32 hashInternal, uint256 height) {
        return (_tipHash, _tipHeight);
    }

    function headerOf(bytes32 blockHashInternal)
        external
        view
        returns (uint256 height, bytes32 merkleRoot, bool known)
    {
        StoredHeader storage s = _headers[blockHashInternal];
        return (s.height, s.merkleRootInternal, s.known);
    }

    function isCanonical(bytes32 blockHashInternal) public view returns (bool) {
        StoredHeader storage s = _headers[blockHashInternal];
        return s.known && canonicalHashAt[s.height] == blockHashInternal;
    }

    /// @notice tipHeight - height + 1 for a header on the canonical chain, else 0 (like hVM 0x43).
    function confirmations(bytes32 blockHashInternal) external view returns (uint256) {
        if (!isCanonical(blockHashInternal)) {
            return 0;
        }
        return _tipHeight - _headers[blockHashInternal].height + 1;
    }
}
