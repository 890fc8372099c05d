// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {BtcTx} from "./BtcTx.sol";
import {BtcAddress} from "./BtcAddress.sol";
import {HvmState} from "./HvmState.sol";

/// @title SimpleBitcoinVaultState: the vault's bookkeeping, readable by the explorer.
/// @dev Mirrors the real split (status views live on `vault.vaultStateChild()`). Only the
///      owning vault may write.
contract SimpleBitcoinVaultState {
    struct Withdrawal {
        address withdrawer;
        uint64 initiatedAt;
        uint256 amountSats;
        uint256 feeSats;
        bytes32 scriptHash;
        string btcAddress;
        bool fulfilled;
        bool challenged;
        bytes32 fulfillmentTxidDisplay;
    }

    address public immutable vault;
    /// @notice keyed by the DISPLAY-order Bitcoin txid (as passed to confirmDeposit)
    mapping(bytes32 => bool) public acknowledgedDeposits;
    mapping(bytes32 => uint256) public acknowledgedDepositOutputIndexes;
    uint32 public withdrawalCounter;
    mapping(uint32 => Withdrawal) private _withdrawals;

    constructor() {
        vault = msg.sender;
    }

    modifier onlyVault() {
        require(msg.sender == vault, "SimpleBitcoinVaultState: only the vault");
        _;
    }

    function acknowledgeDeposit(bytes32 txidDisplay, uint256 outputIndex) external onlyVault {
        require(!acknowledgedDeposits[txidDisplay], "SimpleBitcoinVault: deposit already acknowledged");
        acknowledgedDeposits[txidDisplay] = true;
        acknowledgedDepositOutputIndexes[txidDisplay] = outputIndex;
    }

    function addWithdrawal(Withdrawal calldata w) external onlyVault returns (uint32 index) {
        index = withdrawalCounter;
        withdrawalCounter = index + 1;
        _withdrawals[index] = w;
    }

    function markFulfilled(uint32 index, bytes32 txidDisplay) external onlyVault {
        _withdrawals[index].fulfilled = true;
        _withdrawals[index].fulfillmentTxidDisplay = txidDisplay;
    }

    function markChallenged(uint32 index) external onlyVault {
        _withdrawals[index].challenged = true;
    }

    function getWithdrawal(uint32 index) external view returns (Withdrawal memory) {
        require(index < withdrawalCounter, "SimpleBitcoinVault: unknown withdrawal");
        return _withdrawals[index];
    }

    function isWithdrawalFulfilled(uint32 index) external view returns (bool) {
        return _withdrawals[index].fulfilled;
    }

    function isWithdrawalAlreadyChallenged(uint32 index) external view returns (bool) {
        return _withdrawals[index].challenged;
    }
}

/// @title SimpleBitcoinVault (devnet)
/// @notice One Bitcoin custody script per vault. Deposits and withdrawals are checked against
///         the HvmState Bitcoin view at the current Hemi block.
/// @dev Devnet stand-in for the hVM transaction lookup: callers pass the raw transaction
///      (without witness), the block hash (internal order), the Merkle branch and the tx index,
///      ABI-encoded as `extraInfo`/`proof`; the vault proves them against HvmState.
contract SimpleBitcoinVault {
    uint256 public constant MIN_BITCOIN_CONFIRMATIONS = 4;
    uint256 public constant MINIMUM_DEPOSIT_SATS = 1_000_000;
    uint256 public constant MAX_SCANNED_OUTPUTS = 8;
    uint256 private constant BPS = 10_000;

    address public immutable manager;
    HvmState public immutable hvmState;
    SimpleBitcoinVaultState public immutable vaultStateChild;
    uint32 public immutable vaultIndex;
    address public immutable operatorAdmin;
    uint256 public immutable depositFeeBps;
    uint256 public immutable withdrawalFeeBps;
    bytes32 public immutable custodyScriptHash;
    bytes public custodyScript;
    string public bitcoinCustodyAddress;

    event WithdrawalFinalized(uint32 indexed withdrawalIndex, bytes32 indexed txidDisplay, uint256 netSats);

    constructor(
        address manager_,
        HvmState hvmState_,
        uint32 vaultIndex_,
        address operatorAdmin_,
        bytes memory custodyScript_,
        string memory bitcoinCustodyAddress_,
        uint256 depositFeeBps_,
        uint256 withdrawalFeeBps_
    ) {
        require(custodyScript_.length > 0, "SimpleBitcoinVault: empty custody script");
        require(depositFeeBps_ < BPS && withdrawalFeeBps_ < BPS, "SimpleBitcoinVault: fee too high");
        manager = manager_;
        hvmState = hvmState_;
        vaultIndex = vaultIndex_;
        operatorAdmin = operatorAdmin_;
        custodyScript = custodyScript_;
        custodyScriptHash = keccak256(custodyScript_);
        bitcoinCustodyAddress = bitcoinCustodyAddress_;
        depositFeeBps = depositFeeBps_;
        withdrawalFeeBps = withdrawalFeeBps_;
        vaultStateChild = new SimpleBitcoinVaultState();
    }

    modifier onlyManager() {
        require(msg.sender == manager, "SimpleBitcoinVault: only the tunnel manager");
        _;
    }

    function calculateDepositFee(uint256 sats) public view returns (uint256) {
        return (sats * depositFeeBps) / BPS;
    }

    function calculateWithdrawalFee(uint256 sats) public view returns (uint256) {
        return (sats * withdrawalFeeBps) / BPS;
    }

    /// @notice Validate a Bitcoin deposit and record it; the manager mints.
    /// @return depositSats the vault output's value
    /// @return netSats depositSats minus the deposit fee
    /// @return recipient the Hemi address named by the OP_RETURN
    function confirmDeposit(bytes32 txidDisplay, uint256 outputIndex, bytes calldata extraInfo)
        external
        onlyManager
        returns (uint256 depositSats, uint256 netSats, address recipient)
    {
        SimpleBitcoinVaultState state = vaultStateChild;
        require(!state.acknowledgedDeposits(txidDisplay), "SimpleBitcoinVault: deposit already acknowledged");
        bytes memory rawTx = _verifyConfirmedTx(txidDisplay, extraInfo);
        BtcTx.Parsed memory parsed = BtcTx.parse(rawTx, MAX_SCANNED_OUTPUTS);
        require(outputIndex < parsed.outputs.length, "SimpleBitcoinVault: output index outside the first 8 outputs");
        BtcTx.Output memory paid = parsed.outputs[outputIndex];
        require(keccak256(paid.script) == custodyScriptHash, "SimpleBitcoinVault: output does not pay the vault");
        depositSats = paid.valueSats;
        require(depositSats >= MINIMUM_DEPOSIT_SATS, "SimpleBitcoinVault: deposit below minimum");
        uint256 fee = calculateDepositFee(depositSats);
        require(depositSats > fee, "SimpleBitcoinVault: deposit does not cover the fee");
        recipient = BtcTx.extractRecipient(parsed.outputs);
        require(recipient != address(0), "SimpleBitcoinVault: zero recipient");
        state.acknowledgeDeposit(txidDisplay, outputIndex);
        netSats = depositSats - fee;
    }

    function initiateWithdrawal(string calldata btcAddress, uint256 amountSats, address withdrawer)
        external
        onlyManager
        returns (uint32 withdrawalIndex, uint256 feeSats)
    {
        bytes memory script = BtcAddress.scriptFor(btcAddress);
        require(script.length >= 20 && script.length <= 64, "SimpleBitcoinVault: unsupported withdrawal script");
        feeSats = calculateWithdrawalFee(amountSats);
        withdrawalIndex = vaultStateChild.addWithdrawal(
            SimpleBitcoinVaultState.Withdrawal({
                withdrawer: withdrawer,
                initiatedAt: uint64(block.timestamp),
                amountSats: amountSats,
                feeSats: feeSats,
                scriptHash: keccak256(script),
                btcAddress: btcAddress,
                fulfilled: false,
                challenged: false,
                fulfillmentTxidDisplay: bytes32(0)
            })
        );
    }

    /// @notice Anyone may prove that the operator paid a withdrawal on Bitcoin. Rule (spec 6.4):
    ///         exactly one input; outputs are [0] the requested script for exactly amount - fee,
    ///         then optionally [1] change to the custody script, and last an OP_RETURN whose first
    ///         4 data bytes are the withdrawal index, big-endian. The devnet does not track the
    ///         vault's sweep UTXO, so the input itself is not checked.
    function finalizeWithdrawal(bytes32 txidDisplay, uint32 withdrawalIndex, bytes calldata proof) external {
        SimpleBitcoinVaultState state = vaultStateChild;
        SimpleBitcoinVaultState.Withdrawal memory w = state.getWithdrawal(withdrawalIndex);
        require(!w.fulfilled, "SimpleBitcoinVault: withdrawal already fulfilled");
        require(!w.challenged, "SimpleBitcoinVault: withdrawal was challenged");
        bytes memory rawTx = _verifyConfirmedTx(txidDisplay, proof);
        BtcTx.Parsed memory parsed = BtcTx.parse(rawTx, 3);
        require(parsed.inputCount == 1, "SimpleBitcoinVault: withdrawal must spend exactly one input");
        require(parsed.outputCount == 2 || parsed.outputCount == 3, "SimpleBitcoinVault: withdrawal needs 2 or 3 outputs");
        BtcTx.Output memory payout = parsed.outputs[0];
        require(keccak256(payout.script) == w.scriptHash, "SimpleBitcoinVault: output 0 does not pay the requested address");
        uint256 netSats = w.amountSats - w.feeSats;
        require(payout.valueSats == netSats, "SimpleBitcoinVault: output 0 does not pay amount minus fee");
        if (parsed.outputCount == 3) {
            require(keccak256(parsed.outputs[1].script) == custodyScriptHash, "SimpleBitcoinVault: change must return to the vault");
        }
        bytes memory opReturn = parsed.outputs[parsed.outputCount - 1].script;
        require(opReturn.length >= 6 && uint8(opReturn[0]) == 0x6a, "SimpleBitcoinVault: last output must be OP_RETURN");
        uint256 dataStart = opReturn.length > 77 ? 3 : 2;
        require(
            BtcTx.readUintBE(opReturn, dataStart, 4) == withdrawalIndex,
            "SimpleBitcoinVault: OP_RETURN names another withdrawal"
        );
        state.markFulfilled(withdrawalIndex, txidDisplay);
        emit WithdrawalFinalized(withdrawalIndex, txidDisplay, netSats);
    }

    /// @return withdrawer who gets the hemiBTC back
    /// @return amountSats how much was burnt at initiation
    function challengeWithdrawal(uint32 withdrawalIndex, uint256 gracePeriodSeconds)
        external
        onlyManager
        returns (address withdrawer, uint256 amountSats)
    {
        SimpleBitcoinVaultState state = vaultStateChild;
        SimpleBitcoinVaultState.Withdrawal memory w = state.getWithdrawal(withdrawalIndex);
        require(!w.fulfilled, "SimpleBitcoinVault: withdrawal already fulfilled");
        require(!w.challenged, "SimpleBitcoinVault: withdrawal already challenged");
        require(
            block.timestamp >= uint256(w.initiatedAt) + gracePeriodSeconds,
            "SimpleBitcoinVault: grace period not over"
        );
        state.markChallenged(withdrawalIndex);
        return (w.withdrawer, w.amountSats);
    }

    /// @dev Steps: 0. legacy serialization only; 1. dsha256(raw) reversed must equal the display
    ///      txid; 2. the block must be known to HvmState and its Merkle root must be reached from
    ///      the txid through the branch; 3. the block needs MIN_BITCOIN_CONFIRMATIONS on
    ///      HvmState's canonical chain.
    function _verifyConfirmedTx(bytes32 txidDisplay, bytes calldata encodedProof) private view returns (bytes memory) {
        (bytes memory rawTx, bytes32 blockHashInternal, bytes32[] memory branch, uint256 txIndex) =
            abi.decode(encodedProof, (bytes, bytes32, bytes32[], uint256));
        // Checked before hashing: a witness serialization hashes to the wtxid, and the caller
        // deserves this message rather than "does not hash to txid".
        require(
            rawTx.length > 5 && uint8(rawTx[4]) != 0,
            "BtcTx: witness serialization; pass the transaction without witness"
        );
        bytes32 txidInternal = BtcTx.dsha256(rawTx);
        require(BtcTx.reverse(txidInternal) == txidDisplay, "SimpleBitcoinVault: raw transaction does not hash to txid");
        (, bytes32 merkleRoot, bool known) = hvmState.headerOf(blockHashInternal);
        require(known, "SimpleBitcoinVault: block unknown to the hVM");
        require(
            BtcTx.merkleRootFromBranch(txidInternal, branch, txIndex) == merkleRoot,
            "SimpleBitcoinVault: Merkle proof does not reach the block's root"
        );
        require(
            hvmState.confirmations(blockHashInternal) >= MIN_BITCOIN_CONFIRMATIONS,
            "SimpleBitcoinVault: not enough Bitcoin confirmations"
        );
        return rawTx;
    }
}
