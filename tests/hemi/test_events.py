"""Bitcoin tunnel and token Transfer events decoded from logs."""

from __future__ import annotations

import pytest
from eth_abi import encode as abi_encode

from indexer.hashing import keccak256
from indexer.hemi.events import (
    DEPOSIT_CONFIRMED_TOPIC,
    INITIATE_WITHDRAWAL_SELECTOR,
    TRANSFER_TOPIC,
    VAULT_CREATED_TOPIC,
    WITHDRAWAL_CHALLENGE_SUCCESS_TOPIC,
    WITHDRAWAL_INITIATED_TOPIC,
    DepositConfirmed,
    EventDecodeError,
    VaultCreated,
    WithdrawalChallengeSuccess,
    WithdrawalInitiated,
    decode_initiate_withdrawal_input,
    decode_transfer,
    decode_tunnel_event,
)
from indexer.hemi.records import HemiLog

MANAGER = bytes.fromhex("eaca824f46c000fb89403846bb57e6b913321081")  # mainnet BitcoinTunnelManager
HEMI_BTC = bytes.fromhex("aa40c0c7644e0b2b224509571e10ad20d9c4ef28")
VAULT = b"\x0a" * 20
RECIPIENT = b"\x0b" * 20
# A real Bitcoin txid (spec §3.6 a) in display order, as the manager stores it in bytes32.
TXID_DISPLAY = "3b86ff14a739baf19a8cfa96c3e360757c9556564693794beaaa87bff88fe328"
BTC_ADDRESS = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"


def topic_address(address: bytes) -> bytes:
    return bytes(12) + address


def make_log(address: bytes, topics: list[bytes], data: bytes = b"") -> HemiLog:
    return HemiLog(address, tuple(topics), data, 0, 0, b"\x00" * 32, b"\x00" * 32, 1, False)


def test_topics_are_computed_from_signatures_and_match_the_spec():
    assert DEPOSIT_CONFIRMED_TOPIC.hex() == "072ddac1530d27f4989ecfc488d7ea4cb925a388349c9a3fed5e54718b29e35d"
    assert (
        WITHDRAWAL_INITIATED_TOPIC.hex() == "250f03806508f9538415b8528c0b4d697b347a33292f38f84f60f17c8a015b4e"
    )
    assert (
        WITHDRAWAL_CHALLENGE_SUCCESS_TOPIC.hex()
        == "8db03ab7b83cd05a81139c42ee7134ce98301121e28398d0c8b076dc2b14ebd4"
    )
    assert VAULT_CREATED_TOPIC.hex() == "897c133dfbfe1f6239e98b4ffd7e4f6c86a62350a131a7a37790419f58af02f9"
    assert TRANSFER_TOPIC.hex() == "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
    assert INITIATE_WITHDRAWAL_SELECTOR.hex() == "6fff6d2e"


def deposit_log(**changes) -> HemiLog:
    topics = [
        DEPOSIT_CONFIRMED_TOPIC,
        topic_address(VAULT),
        topic_address(RECIPIENT),
        bytes.fromhex(TXID_DISPLAY),
    ]
    data = abi_encode(["uint256", "uint256"], [2_000_000, 1_990_000])
    return make_log(MANAGER, changes.get("topics", topics), changes.get("data", data))


def test_deposit_confirmed_keeps_the_txid_in_display_order():
    event = decode_tunnel_event(deposit_log())
    assert isinstance(event, DepositConfirmed)
    assert event.deposit_txid_display == TXID_DISPLAY  # not reversed
    assert (event.vault, event.recipient, event.manager) == (VAULT, RECIPIENT, MANAGER)
    assert (event.deposit_sats, event.net_sats_after_fee) == (2_000_000, 1_990_000)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"topics": [DEPOSIT_CONFIRMED_TOPIC, topic_address(VAULT), topic_address(RECIPIENT)]}, "4 topics"),
        ({"data": bytes(63)}, "64 data bytes"),
        ({"data": bytes(96)}, "64 data bytes"),
        (
            {
                "topics": [
                    DEPOSIT_CONFIRMED_TOPIC,
                    b"\x01" + bytes(11) + VAULT,
                    topic_address(RECIPIENT),
                    bytes(32),
                ]
            },
            "vault topic is not a left-padded address",
        ),
    ],
)
def test_malformed_deposit_confirmed_is_rejected(changes, reason):
    with pytest.raises(EventDecodeError, match=reason):
        decode_tunnel_event(deposit_log(**changes))


def test_withdrawal_initiated_and_the_readable_address_from_tx_input():
    uuid = (3 << 32) | 17
    log = make_log(
        MANAGER,
        [WITHDRAWAL_INITIATED_TOPIC, topic_address(VAULT), topic_address(RECIPIENT),
         keccak256(BTC_ADDRESS.encode())],
        abi_encode(["uint256", "uint256", "uint64"], [1_500_000, 1_495_000, uuid]),
    )  # fmt: skip
    event = decode_tunnel_event(log)
    assert isinstance(event, WithdrawalInitiated)
    assert (event.vault_index, event.vault_withdrawal_index) == (3, 17)
    assert (event.withdrawal_sats, event.net_sats_after_fee) == (1_500_000, 1_495_000)

    calldata = INITIATE_WITHDRAWAL_SELECTOR + abi_encode(
        ["uint32", "string", "uint256"], [3, BTC_ADDRESS, 1_500_000]
    )
    call = decode_initiate_withdrawal_input(calldata)
    assert (call.vault_index, call.btc_address, call.amount_sats) == (3, BTC_ADDRESS, 1_500_000)
    assert event.btc_address_matches(call.btc_address)
    assert not event.btc_address_matches(BTC_ADDRESS.upper())


def test_withdrawal_uuid_must_fit_uint64():
    log = make_log(
        MANAGER,
        [WITHDRAWAL_INITIATED_TOPIC, topic_address(VAULT), topic_address(RECIPIENT), bytes(32)],
        abi_encode(["uint256", "uint256", "uint256"], [1, 1, 2**64]),
    )
    with pytest.raises(EventDecodeError, match="uuid"):
        decode_tunnel_event(log)


def test_initiate_withdrawal_input_is_strict():
    good = INITIATE_WITHDRAWAL_SELECTOR + abi_encode(["uint32", "string", "uint256"], [1, BTC_ADDRESS, 5])
    with pytest.raises(EventDecodeError, match="not initiateWithdrawal"):
        decode_initiate_withdrawal_input(b"\x00" * 4 + good[4:])
    with pytest.raises(EventDecodeError, match="not canonically encoded"):
        decode_initiate_withdrawal_input(good + bytes(32))
    with pytest.raises(EventDecodeError, match="does not decode"):
        decode_initiate_withdrawal_input(good[:-1])
    not_utf8 = INITIATE_WITHDRAWAL_SELECTOR + abi_encode(["uint32", "bytes", "uint256"], [1, b"\xff\xfe", 5])
    with pytest.raises(EventDecodeError, match="does not decode"):
        decode_initiate_withdrawal_input(not_utf8)


def test_withdrawal_challenge_success_and_vault_created():
    challenge = decode_tunnel_event(
        make_log(
            MANAGER,
            [WITHDRAWAL_CHALLENGE_SUCCESS_TOPIC, topic_address(VAULT), topic_address(RECIPIENT),
             ((3 << 32) | 17).to_bytes(32, "big")],
        )
    )  # fmt: skip
    assert isinstance(challenge, WithdrawalChallengeSuccess) and challenge.uuid == (3 << 32) | 17
    created = decode_tunnel_event(
        make_log(MANAGER, [VAULT_CREATED_TOPIC, topic_address(b"\x01" * 20), topic_address(b"\x02" * 20),
                           topic_address(VAULT)])
    )  # fmt: skip
    assert (
        isinstance(created, VaultCreated) and created.vault == VAULT and created.setup_admin == b"\x01" * 20
    )


def test_challenge_with_data_or_oversized_uuid_is_rejected():
    topics = [WITHDRAWAL_CHALLENGE_SUCCESS_TOPIC, topic_address(VAULT), topic_address(RECIPIENT), bytes(32)]
    with pytest.raises(EventDecodeError, match="0 data bytes"):
        decode_tunnel_event(make_log(MANAGER, topics, bytes(32)))
    with pytest.raises(EventDecodeError, match="uuid topic does not fit uint64"):
        decode_tunnel_event(make_log(MANAGER, [*topics[:3], (2**64).to_bytes(32, "big")]))


def test_unrelated_logs_are_not_tunnel_events():
    assert decode_tunnel_event(make_log(MANAGER, [])) is None
    assert decode_tunnel_event(make_log(MANAGER, [TRANSFER_TOPIC])) is None


def test_erc20_mint_transfer_of_hemibtc():
    log = make_log(
        HEMI_BTC, [TRANSFER_TOPIC, bytes(32), topic_address(RECIPIENT)], (1_990_000).to_bytes(32, "big")
    )
    transfer = decode_transfer(log)
    assert transfer.standard == "erc20" and transfer.value == 1_990_000 and transfer.token_id is None
    assert transfer.is_mint and not transfer.is_burn and transfer.to_address == RECIPIENT


def test_erc721_transfer_has_four_topics_and_no_data():
    log = make_log(HEMI_BTC, [TRANSFER_TOPIC, topic_address(RECIPIENT), bytes(32), (42).to_bytes(32, "big")])
    transfer = decode_transfer(log)
    assert transfer.standard == "erc721" and transfer.token_id == 42 and transfer.value is None
    assert transfer.is_burn


@pytest.mark.parametrize(
    ("topics", "data", "reason"),
    [
        ([TRANSFER_TOPIC, bytes(32)], b"", "2 topics is neither"),
        ([TRANSFER_TOPIC, bytes(32), bytes(32)], bytes(31), "32 data bytes"),
        ([TRANSFER_TOPIC, bytes(32), bytes(32), bytes(32)], bytes(32), "0 data bytes"),
        ([TRANSFER_TOPIC, b"\xff" * 32, bytes(32)], bytes(32), "from topic is not a left-padded address"),
    ],
)
def test_malformed_transfers_are_rejected(topics, data, reason):
    with pytest.raises(EventDecodeError, match=reason):
        decode_transfer(make_log(HEMI_BTC, topics, data))


def test_non_transfer_log_is_ignored():
    assert decode_transfer(make_log(HEMI_BTC, [DEPOSIT_CONFIRMED_TOPIC])) is None
