// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {BTCToken} from "./BTCToken.sol";
import {HvmState} from "./HvmState.sol";
import {SimpleBitcoinVault} from "./SimpleBitcoinVault.sol";

/// @title BitcoinTunnelManager (devnet)
/// @notice Same function and event signatures as Hemi's tunnel manager, so the explorer's
///         decoders and provenance checks run unchanged against the devnet. Logic is the
///         devnet's own; see SimpleBitcoinVault for the deposit/withdrawal rules.
contract BitcoinTunnelManager {
    BTCToken public immutable btcTokenContract;
    HvmState public immutable hvmState;
    /// @notice how long a withdrawal may stay unpaid before the withdrawer can challenge it
    uint256 public immutable withdrawalGracePeriodSeconds;
    address public owner;
    uint32 public vaultCounter;
    mapping(uint32 => address) public vaults;

    event DepositConfirmed(
        address indexed vault,
        address indexed recipient,
        bytes32 indexed depositTxId,
        uint256 depositSats,
        uint256 netSatsAfterFee
    );
    event WithdrawalInitiated(
        address indexed vault,
        address indexed withdrawer,
        string indexed btcAddress,
        uint256 withdrawalSats,
        uint256 netSatsAfterFee,
        uint64 uuid
    );
    event WithdrawalChallengeSuccess(address indexed vault, address indexed withdrawer, uint64 indexed uuid);
    event VaultCreated(address indexed setupAdmin, address indexed operatorAdmin, address indexed vaultAddress);

    uint256 public constant MINIMUM_WITHDRAWAL_SATS = 1_000_000;

    constructor(HvmState hvmState_, uint256 withdrawalGracePeriodSeconds_) {
        owner = msg.sender;
        hvmState = hvmState_;
        withdrawalGracePeriodSeconds = withdrawalGracePeriodSeconds_;
        btcTokenContract = new BTCToken();
    }

    modifier onlyOwner() {
        require(msg.sender == owner, "BitcoinTunnelManager: only the owner");
        _;
    }

    function createVault(
        address operatorAdmin,
        bytes calldata custodyScript,
        string calldata bitcoinCustodyAddress,
        uint256 depositFeeBps,
        uint256 withdrawalFeeBps
    ) external onlyOwner returns (uint32 vaultIndex, address vault) {
        vaultIndex = vaultCounter;
        vault = address(
            new SimpleBitcoinVault(
                address(this),
                hvmState,
                vaultIndex,
                operatorAdmin,
                custodyScript,
                bitcoinCustodyAddress,
                depositFeeBps,
                withdrawalFeeBps
            )
        );
        vaults[vaultIndex] = vault;
        vaultCounter = vaultIndex + 1;
        emit VaultCreated(msg.sender, operatorAdmin, vault);
    }

    /// @param txid the DISPLAY-order Bitcoin txid, as on Hemi
    /// @param extraInfo abi.encode(bytes rawTxNoWitness, bytes32 blockHashInternal,
    ///        bytes32[] merkleBranch, uint256 txIndex): the devnet's replacement for the hVM lookup
    function confirmDeposit(uint32 vaultIndex, bytes32 txid, uint256 outputIndex, bytes calldata extraInfo)
        external
        returns (bool)
    {
        SimpleBitcoinVault vault = _vault(vaultIndex);
        (uint256 depositSats, uint256 netSats, address recipient) = vault.confirmDeposit(txid, outputIndex, extraInfo);
        btcTokenContract.mint(recipient, netSats);
        emit DepositConfirmed(address(vault), recipient, txid, depositSats, netSats);
        return true;
    }

    /// @notice Burn hemiBTC now; the vault operator then pays `amount - fee` on Bitcoin.
    function initiateWithdrawal(uint32 vaultIndex, string calldata btcAddress, uint256 amount)
        external
        returns (uint64 uuid)
    {
        require(amount >= MINIMUM_WITHDRAWAL_SATS, "BitcoinTunnelManager: withdrawal below minimum");
        SimpleBitcoinVault vault = _vault(vaultIndex);
        btcTokenContract.burn(msg.sender, amount);
        (uint32 withdrawalIndex, uint256 fee) = vault.initiateWithdrawal(btcAddress, amount, msg.sender);
        uuid = (uint64(vaultIndex) << 32) | uint64(withdrawalIndex);
        emit WithdrawalInitiated(address(vault), msg.sender, btcAddress, amount, amount - fee, uuid);
    }

    /// @notice After the grace period an unpaid withdrawal can be challenged; the burnt hemiBTC
    ///         is minted back to the withdrawer. Anyone may call (the refund is not theirs).
    function challengeWithdrawal(uint64 uuid, bytes calldata) external returns (bool) {
        uint32 vaultIndex = uint32(uuid >> 32);
        SimpleBitcoinVault vault = _vault(vaultIndex);
        (address withdrawer, uint256 amount) =
            vault.challengeWithdrawal(uint32(uuid), withdrawalGracePeriodSeconds);
        btcTokenContract.mint(withdrawer, amount);
        emit WithdrawalChallengeSuccess(address(vault), withdrawer, uuid);
        return true;
    }

    /// @notice DANGER - DEVNET ONLY. Models a COMPROMISED OPERATOR: mints hemiBTC and emits a
    ///         DepositConfirmed for `txid` without any Bitcoin evidence (no raw tx, no Merkle
    ///         proof, no confirmations, no vault bookkeeping). It exists so the devnet's
    ///         `unbacked-mint` scenario can produce a mint the provenance auditor must flag as
    ///         unbacked. No real Hemi contract has this function.
    function operatorMintUnchecked(uint32 vaultIndex, bytes32 txid, address recipient, uint256 sats)
        external
        onlyOwner
    {
        SimpleBitcoinVault vault = _vault(vaultIndex);
        // Apply the normal fee so the forged event looks exactly like a genuine one.
        uint256 netSats = sats - vault.calculateDepositFee(sats);
        btcTokenContract.mint(recipient, netSats);
        emit DepositConfirmed(address(vault), recipient, txid, sats, netSats);
    }

    function _vault(uint32 vaultIndex) private view returns (SimpleBitcoinVault) {
        require(vaultIndex < vaultCounter, "BitcoinTunnelManager: unknown vault");
        return SimpleBitcoinVault(vaults[vaultIndex]);
    }
}
