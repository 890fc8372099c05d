"""Bitcoin-tunnel and token events decoded from Hemi logs (pure).

Topic0 values are computed from the event signatures (spec §6.1); tests pin them to the
spec's table. Every decoder checks topic count, data length, that address topics have
12 zero bytes of padding and that small integers fit their type, and raises
:class:`EventDecodeError` otherwise - a log that merely *looks* like a tunnel event is not
recorded as one.

Byte order: ``DepositConfirmed``'s third topic is ``bytes32 depositTxId`` = the Bitcoin txid
in **display** order (what the portal and the manager use), so it is exposed as
``deposit_txid_display`` (hex, no 0x) and never reversed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_abi.exceptions import DecodingError

from indexer.hashing import keccak256
from indexer.hemi.records import ZERO_ADDRESS, HemiLog

DEPOSIT_CONFIRMED_SIGNATURE = "DepositConfirmed(address,address,bytes32,uint256,uint256)"
WITHDRAWAL_INITIATED_SIGNATURE = "WithdrawalInitiated(address,address,string,uint256,uint256,uint64)"
WITHDRAWAL_CHALLENGE_SUCCESS_SIGNATURE = "WithdrawalChallengeSuccess(address,address,uint64)"
VAULT_CREATED_SIGNATURE = "VaultCreated(address,address,address)"
TRANSFER_SIGNATURE = "Transfer(address,address,uint256)"
INITIATE_WITHDRAWAL_SIGNATURE = "initiateWithdrawal(uint32,string,uint256)"

DEPOSIT_CONFIRMED_TOPIC = keccak256(DEPOSIT_CONFIRMED_SIGNATURE.encode())
WITHDRAWAL_INITIATED_TOPIC = keccak256(WITHDRAWAL_INITIATED_SIGNATURE.encode())
WITHDRAWAL_CHALLENGE_SUCCESS_TOPIC = keccak256(WITHDRAWAL_CHALLENGE_SUCCESS_SIGNATURE.encode())
VAULT_CREATED_TOPIC = keccak256(VAULT_CREATED_SIGNATURE.encode())
TRANSFER_TOPIC = keccak256(TRANSFER_SIGNATURE.encode())
INITIATE_WITHDRAWAL_SELECTOR = keccak256(INITIATE_WITHDRAWAL_SIGNATURE.encode())[:4]

_U64_MAX = 2**64 - 1


class EventDecodeError(ValueError):
    """A log whose topic0 matches but whose shape does not."""


@dataclass(frozen=True, slots=True)
class DepositConfirmed:
    manager: bytes  # emitting contract (BitcoinTunnelManager)
    vault: bytes
    recipient: bytes
    deposit_txid_display: str  # Bitcoin txid, display order hex (topic3 as-is)
    deposit_sats: int
    net_sats_after_fee: int


@dataclass(frozen=True, slots=True)
class WithdrawalInitiated:
    manager: bytes
    vault: bytes
    withdrawer: bytes
    btc_address_hash: bytes  # keccak256(bytes(btcAddress)); the string itself is in tx input
    withdrawal_sats: int
    net_sats_after_fee: int
    uuid: int  # (vaultIndex << 32) | vault-specific withdrawal index

    @property
    def vault_index(self) -> int:
        return self.uuid >> 32

    @property
    def vault_withdrawal_index(self) -> int:
        return self.uuid & 0xFFFFFFFF

    def btc_address_matches(self, btc_address: str) -> bool:
        return keccak256(btc_address.encode("utf-8")) == self.btc_address_hash


@dataclass(frozen=True, slots=True)
class WithdrawalChallengeSuccess:
    manager: bytes
    vault: bytes
    withdrawer: bytes
    uuid: int


@dataclass(frozen=True, slots=True)
class VaultCreated:
    manager: bytes
    setup_admin: bytes
    operator_admin: bytes
    vault: bytes


class TokenTransfer(NamedTuple):
    """ERC-20 (``value`` set) or ERC-721 (``token_id`` set) Transfer.

    A named tuple like the records (see ``records``): one per transfer log, built in the fetch
    workers and pickled with the laid-out block to the writer.
    """

    standard: str  # "erc20" | "erc721"
    token: bytes
    from_address: bytes
    to_address: bytes
    value: int | None
    token_id: int | None

    @property
    def is_mint(self) -> bool:
        return self.from_address == ZERO_ADDRESS

    @property
    def is_burn(self) -> bool:
        return self.to_address == ZERO_ADDRESS


@dataclass(frozen=True, slots=True)
class InitiateWithdrawalCall:
    vault_index: int
    btc_address: str
    amount_sats: int


TunnelEvent = DepositConfirmed | WithdrawalInitiated | WithdrawalChallengeSuccess | VaultCreated


_ADDRESS_PADDING = bytes(12)  # an address topic is the address left-padded to 32 bytes


def _topic_address(topic: bytes, name: str) -> bytes:
    if topic[:12] != _ADDRESS_PADDING:
        raise EventDecodeError(f"{name} topic is not a left-padded address: 0x{topic.hex()}")
    return topic[12:]


def _topic_uint64(topic: bytes, name: str) -> int:
    value = int.from_bytes(topic, "big")
    if value > _U64_MAX:
        raise EventDecodeError(f"{name} topic does not fit uint64")
    return value


def _shape(log: HemiLog, name: str, n_topics: int, data_len: int) -> None:
    if len(log.topics) != n_topics:
        raise EventDecodeError(f"{name} needs {n_topics} topics, log has {len(log.topics)}")
    if len(log.data) != data_len:
        raise EventDecodeError(f"{name} needs {data_len} data bytes, log has {len(log.data)}")


def _words(data: bytes) -> list[int]:
    return [int.from_bytes(data[i : i + 32], "big") for i in range(0, len(data), 32)]


def decode_deposit_confirmed(log: HemiLog) -> DepositConfirmed:
    _shape(log, "DepositConfirmed", 4, 64)
    gross, net = _words(log.data)
    return DepositConfirmed(
        manager=log.address,
        vault=_topic_address(log.topics[1], "vault"),
        recipient=_topic_address(log.topics[2], "recipient"),
        deposit_txid_display=log.topics[3].hex(),
        deposit_sats=gross,
        net_sats_after_fee=net,
    )


def decode_withdrawal_initiated(log: HemiLog) -> WithdrawalInitiated:
    _shape(log, "WithdrawalInitiated", 4, 96)
    gross, net, uuid = _words(log.data)
    if uuid > _U64_MAX:
        raise EventDecodeError("WithdrawalInitiated uuid does not fit uint64")
    return WithdrawalInitiated(
        manager=log.address,
        vault=_topic_address(log.topics[1], "vault"),
        withdrawer=_topic_address(log.topics[2], "withdrawer"),
        btc_address_hash=log.topics[3],
        withdrawal_sats=gross,
        net_sats_after_fee=net,
        uuid=uuid,
    )


def decode_withdrawal_challenge_success(log: HemiLog) -> WithdrawalChallengeSuccess:
    _shape(log, "WithdrawalChallengeSuccess", 4, 0)
    return WithdrawalChallengeSuccess(
        manager=log.address,
        vault=_topic_address(log.topics[1], "vault"),
        withdrawer=_topic_address(log.topics[2], "withdrawer"),
        uuid=_topic_uint64(log.topics[3], "uuid"),
    )


def decode_vault_created(log: HemiLog) -> VaultCreated:
    _shape(log, "VaultCreated", 4, 0)
    return VaultCreated(
        manager=log.address,
        setup_admin=_topic_address(log.topics[1], "setupAdmin"),
        operator_admin=_topic_address(log.topics[2], "operatorAdmin"),
        vault=_topic_address(log.topics[3], "vaultAddress"),
    )


_TUNNEL_DECODERS = {
    DEPOSIT_CONFIRMED_TOPIC: decode_deposit_confirmed,
    WITHDRAWAL_INITIATED_TOPIC: decode_withdrawal_initiated,
    WITHDRAWAL_CHALLENGE_SUCCESS_TOPIC: decode_withdrawal_challenge_success,
    VAULT_CREATED_TOPIC: decode_vault_created,
}


def decode_tunnel_event(log: HemiLog) -> TunnelEvent | None:
    """Decode a BitcoinTunnelManager event; None if topic0 is not one of the four.

    The caller filters by emitting address (the manager of the network): anyone can emit a
    log with the same topic0 from another contract.
    """
    if not log.topics:
        return None
    decoder = _TUNNEL_DECODERS.get(log.topics[0])
    return None if decoder is None else decoder(log)


def decode_transfer(log: HemiLog) -> TokenTransfer | None:
    """ERC-20 (3 topics + 32-byte value) or ERC-721 (4 topics, empty data) Transfer.

    Returns None when topic0 is not Transfer; raises on any other Transfer shape (ERC-20
    and ERC-721 share topic0, so the topic count is what tells them apart).
    """
    if not log.topics or log.topics[0] != TRANSFER_TOPIC:
        return None
    if len(log.topics) == 3:
        _shape(log, "ERC-20 Transfer", 3, 32)
        # Positional (one per transfer log; see records): standard, token, from, to, value, token_id.
        return TokenTransfer(
            "erc20",
            log.address,
            _topic_address(log.topics[1], "from"),
            _topic_address(log.topics[2], "to"),
            int.from_bytes(log.data, "big"),
            None,
        )
    if len(log.topics) == 4:
        _shape(log, "ERC-721 Transfer", 4, 0)
        return TokenTransfer(
            standard="erc721",
            token=log.address,
            from_address=_topic_address(log.topics[1], "from"),
            to_address=_topic_address(log.topics[2], "to"),
            value=None,
            token_id=int.from_bytes(log.topics[3], "big"),
        )
    raise EventDecodeError(f"Transfer with {len(log.topics)} topics is neither ERC-20 nor ERC-721")


def decode_initiate_withdrawal_input(calldata: bytes) -> InitiateWithdrawalCall:
    """Readable Bitcoin address from ``initiateWithdrawal(uint32,string,uint256)`` tx input.

    Strict: decoded values must re-encode to the same bytes and the string must be UTF-8.
    """
    if calldata[:4] != INITIATE_WITHDRAWAL_SELECTOR:
        raise EventDecodeError(f"selector 0x{calldata[:4].hex()} is not initiateWithdrawal")
    types = ["uint32", "string", "uint256"]
    try:
        vault_index, btc_address, amount = abi_decode(types, calldata[4:])
    except (DecodingError, ValueError, OverflowError) as exc:
        raise EventDecodeError(f"initiateWithdrawal input does not decode: {exc}") from exc
    if abi_encode(types, [vault_index, btc_address, amount]) != calldata[4:]:
        raise EventDecodeError("initiateWithdrawal input is not canonically encoded")
    return InitiateWithdrawalCall(vault_index, btc_address, amount)
