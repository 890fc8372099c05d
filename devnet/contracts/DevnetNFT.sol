// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @notice What a contract must implement to receive a token through safeTransferFrom.
interface IDevnetERC721Receiver {
    function onERC721Received(address operator, address from, uint256 tokenId, bytes calldata data)
        external
        returns (bytes4);
}

/// @title DevnetNFT: a minimal ERC-721, so the devnet has NFT transfers to index.
/// @notice Transfer(from, to, tokenId) has all three arguments indexed: four topics, no data -
///         the only thing that tells it apart from an ERC-20 Transfer with the same topic0.
///         The owner mints any token id (0 and 2**256-1 included); a holder may burn its tokens.
///         No decimals(): an NFT has none. totalSupply() counts the live tokens.
contract DevnetNFT {
    string public constant name = "Devnet NFT";
    string public constant symbol = "dNFT";
    address public immutable owner;
    uint256 public totalSupply;

    mapping(uint256 => address) private _ownerOf;
    mapping(address => uint256) private _balanceOf;
    mapping(uint256 => address) private _approved;
    mapping(address => mapping(address => bool)) public isApprovedForAll;

    event Transfer(address indexed from, address indexed to, uint256 indexed tokenId);
    event Approval(address indexed owner, address indexed approved, uint256 indexed tokenId);
    event ApprovalForAll(address indexed owner, address indexed operator, bool approved);

    constructor() {
        owner = msg.sender;
    }

    function supportsInterface(bytes4 interfaceId) external pure returns (bool) {
        return interfaceId == 0x01ffc9a7 // ERC-165
            || interfaceId == 0x80ac58cd // ERC-721
            || interfaceId == 0x5b5e139f; // ERC-721 metadata (name, symbol, tokenURI)
    }

    function tokenURI(uint256 tokenId) external view returns (string memory) {
        ownerOf(tokenId);
        return "";
    }

    function balanceOf(address holder) external view returns (uint256) {
        require(holder != address(0), "ERC721: balance of the zero address");
        return _balanceOf[holder];
    }

    function ownerOf(uint256 tokenId) public view returns (address) {
        address holder = _ownerOf[tokenId];
        require(holder != address(0), "ERC721: no such token");
        return holder;
    }

    function getApproved(uint256 tokenId) external view returns (address) {
        ownerOf(tokenId);
        return _approved[tokenId];
    }

    function approve(address spender, uint256 tokenId) external {
        address holder = ownerOf(tokenId);
        require(msg.sender == holder || isApprovedForAll[holder][msg.sender], "ERC721: not allowed to approve");
        _approved[tokenId] = spender;
        emit Approval(holder, spender, tokenId);
    }

    function setApprovalForAll(address operator, bool approved) external {
        isApprovedForAll[msg.sender][operator] = approved;
        emit ApprovalForAll(msg.sender, operator, approved);
    }

    function transferFrom(address from, address to, uint256 tokenId) public {
        address holder = ownerOf(tokenId);
        require(holder == from, "ERC721: from is not the owner");
        require(to != address(0), "ERC721: transfer to the zero address");
        require(
            msg.sender == holder || msg.sender == _approved[tokenId] || isApprovedForAll[holder][msg.sender],
            "ERC721: not the owner nor approved"
        );
        delete _approved[tokenId];
        unchecked {
            _balanceOf[from] -= 1;
            _balanceOf[to] += 1;
        }
        _ownerOf[tokenId] = to;
        emit Transfer(from, to, tokenId);
    }

    function safeTransferFrom(address from, address to, uint256 tokenId) external {
        safeTransferFrom(from, to, tokenId, "");
    }

    function safeTransferFrom(address from, address to, uint256 tokenId, bytes memory data) public {
        transferFrom(from, to, tokenId);
        _checkReceiver(from, to, tokenId, data);
    }

    function mint(address to, uint256 tokenId) external {
        require(msg.sender == owner, "DevnetNFT: only the owner");
        require(to != address(0), "ERC721: mint to the zero address");
        require(_ownerOf[tokenId] == address(0), "ERC721: token already minted");
        unchecked {
            _balanceOf[to] += 1;
            totalSupply += 1;
        }
        _ownerOf[tokenId] = to;
        emit Transfer(address(0), to, tokenId);
    }

    function burn(uint256 tokenId) external {
        address holder = ownerOf(tokenId);
        require(msg.sender == holder, "DevnetNFT: only the holder burns");
        delete _approved[tokenId];
        delete _ownerOf[tokenId];
        unchecked {
            _balanceOf[holder] -= 1;
            totalSupply -= 1;
        }
        emit Transfer(holder, address(0), tokenId);
    }

    function _checkReceiver(address from, address to, uint256 tokenId, bytes memory data) private {
        if (to.code.length == 0) {
            return;
        }
        bytes4 reply = IDevnetERC721Receiver(to).onERC721Received(msg.sender, from, tokenId, data);
        require(reply == IDevnetERC721Receiver.onERC721Received.selector, "ERC721: receiver rejected the token");
    }
}
