"""The shared judgements: which records end a wait and how, which events are trusted, and lookup bounds."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from airflow.triggers.base import TriggerEvent

from airflow_provider_kraken.exceptions import KrakenInputError
from airflow_provider_kraken.models import Deposit, Withdrawal
from airflow_provider_kraken.triggers.funding import (
    HISTORY_LIMIT,
    DepositMatch,
    EventStatus,
    KrakenTriggerEventError,
    KrakenWaitFailed,
    WaitEvent,
    WaitOutcome,
    deposit_verdict,
    judge_deposit,
    judge_withdrawal,
    start_bound,
    validate_trigger_event,
    withdrawal_verdict,
)

SUCCEEDED, FAILED, WAITING, UNKNOWN = (
    WaitOutcome.SUCCEEDED,
    WaitOutcome.FAILED,
    WaitOutcome.WAITING,
    WaitOutcome.UNKNOWN,
)


def withdrawal(status: str, prop: str | None = None, refid: str = "AGBSO6T-UFMTTQ-I7KGS6") -> Withdrawal:
    record: dict[str, Any] = {
        "method": "Dogecoin",
        "asset": "XXDG",
        "refid": refid,
        "amount": "16.00000000",
        "fee": "4.00000000",
        "time": 1700000000,
        "status": status,
    }
    if prop is not None:
        record["status-prop"] = prop
    return Withdrawal.model_validate(record)


def deposit(
    status: str,
    prop: str | None = None,
    *,
    refid: str = "QSBALMX-YTM4MI-REMLWN",
    amount: str = "95",
    time: int = 1700000000,
    info: str = "DFSHkVSQycPZDu8CkiNvx8ymHKHoMLteUD",
) -> Deposit:
    record: dict[str, Any] = {
        "method": "Dogecoin",
        "asset": "XXDG",
        "refid": refid,
        "txid": f"tx-{refid}",
        "info": info,
        "amount": amount,
        "time": time,
        "status": status,
    }
    if prop is not None:
        record["status-prop"] = prop
    return Deposit.model_validate(record)


@pytest.mark.parametrize(
    ("status", "prop", "outcome"),
    [
        ("Success", None, SUCCEEDED),
        ("Success", "cancel-denied", SUCCEEDED),
        ("Success", "return", SUCCEEDED),
        ("Failure", None, FAILED),
        ("Failure", "canceled", FAILED),
        ("Initial", None, WAITING),
        ("Pending", None, WAITING),
        ("Settled", None, WAITING),
        ("Pending", "onhold", WAITING),
        ("Initial", "cancel-pending", WAITING),
        ("Success", "onhold", WAITING),
        ("Success", "cancel-pending", WAITING),
        ("Success", "canceled", UNKNOWN),
        ("Refunded", None, UNKNOWN),
        ("Pending", "frozen", UNKNOWN),
        ("Success", "frozen", UNKNOWN),
    ],
)
def test_judge_withdrawal(status: str, prop: str | None, outcome: WaitOutcome) -> None:
    verdict = judge_withdrawal(withdrawal(status, prop))
    assert verdict.outcome is outcome
    assert "AGBSO6T-UFMTTQ-I7KGS6" in verdict.reason
    assert verdict.is_final is (outcome is not WAITING)


def test_withdrawal_reasons_say_why() -> None:
    assert "cancelled" in judge_withdrawal(withdrawal("Failure", "canceled")).reason
    assert "on hold" in judge_withdrawal(withdrawal("Pending", "onhold")).reason
    assert "cancellation pending" in judge_withdrawal(withdrawal("Initial", "cancel-pending")).reason
    assert "'Refunded'" in judge_withdrawal(withdrawal("Refunded")).reason


@pytest.mark.parametrize(
    ("status", "prop", "settled_is_enough", "outcome"),
    [
        ("Success", None, False, SUCCEEDED),
        ("Success", "return", False, SUCCEEDED),
        ("Settled", None, False, WAITING),
        ("Settled", None, True, SUCCEEDED),
        ("Settled", "onhold", True, WAITING),
        ("Pending", None, True, WAITING),
        ("Failure", None, True, FAILED),
        ("Confirming", None, True, UNKNOWN),
        ("Settled", "frozen", True, UNKNOWN),
    ],
)
def test_judge_deposit(status: str, prop: str | None, settled_is_enough: bool, outcome: WaitOutcome) -> None:
    assert judge_deposit(deposit(status, prop), settled_is_enough=settled_is_enough).outcome is outcome


def test_withdrawal_verdict_finds_the_refid() -> None:
    records = [withdrawal("Success", refid="A"), withdrawal("Pending", refid="B")]
    verdict, record = withdrawal_verdict(records, "B")
    assert (verdict.outcome, record) == (WAITING, records[1])
    verdict, record = withdrawal_verdict(records, "C")
    assert (verdict.outcome, record) == (WAITING, None)
    assert "not listed yet" in verdict.reason


def test_a_refid_beyond_the_lookup_limit_is_not_waited_for_forever() -> None:
    records = [withdrawal("Success", refid=f"R{i}") for i in range(HISTORY_LIMIT)]
    verdict, record = withdrawal_verdict(records, "OLD")
    assert (verdict.outcome, record) == (UNKNOWN, None)
    assert "since" in verdict.reason


def test_deposit_criteria_match_method_address_amount_and_time() -> None:
    match = DepositMatch(method="Dogecoin", address="Daddr", min_amount=Decimal("50"), since=1700000100)
    assert match.matches(deposit("Success", amount="50", time=1700000100, info="Daddr"))
    assert not match.matches(deposit("Success", amount="49.99999999", time=1700000100, info="Daddr"))
    assert not match.matches(deposit("Success", amount="50", time=1700000099, info="Daddr"))
    assert not match.matches(deposit("Success", amount="50", time=1700000100, info="Dother"))


def test_deposit_verdict_prefers_success_then_progress_over_failure() -> None:
    match = DepositMatch(address="Daddr", since=0)
    failed = deposit("Failure", refid="F", time=1, info="Daddr")
    pending = deposit("Settled", refid="P", time=2, info="Daddr")
    done = deposit("Success", refid="S", time=3, info="Daddr")
    assert deposit_verdict([done, pending, failed], match, settled_is_enough=False)[1] == done
    verdict, record = deposit_verdict([pending, failed], match, settled_is_enough=False)
    assert (verdict.outcome, record) == (WAITING, pending)
    verdict, record = deposit_verdict([failed], match, settled_is_enough=False)
    assert (verdict.outcome, record) == (FAILED, failed)
    verdict, record = deposit_verdict([deposit("Success", info="Delse")], match, settled_is_enough=False)
    assert (verdict.outcome, record) == (WAITING, None)


def test_deposit_match_needs_an_identity_or_a_time() -> None:
    with pytest.raises(KrakenInputError, match="since"):
        DepositMatch(method="Dogecoin", min_amount=Decimal(1))
    with pytest.raises(KrakenInputError, match="min_amount"):
        DepositMatch(refid="R", min_amount=Decimal(-1))


def test_deposit_match_travels_as_plain_json() -> None:
    match = DepositMatch(address="Daddr", min_amount=Decimal("1234567890.123456789012"), since=5)
    kwargs = match.to_kwargs()
    assert kwargs["min_amount"] == "1234567890.123456789012"
    assert DepositMatch.from_kwargs(kwargs) == match
    with pytest.raises(TypeError, match="float"):
        DepositMatch.from_kwargs({**kwargs, "min_amount": 1.5})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        (1700000000, 1700000000),
        (1700000000.9, 1700000000),
        ("1700000000", 1700000000),
        ("1700000000.5", 1700000000),
        (datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC), 1700000000),
        ("2023-11-14T22:13:20+00:00", 1700000000),
        ("2023-11-14 22:13:20+00:00", 1700000000),
    ],
)
def test_start_bound_accepts_times(value: object, expected: int | None) -> None:
    assert start_bound(value) == expected


@pytest.mark.parametrize("value", [True, "yesterday", [1]])
def test_start_bound_refuses_other_things(value: object) -> None:
    with pytest.raises(KrakenInputError, match="since"):
        start_bound(value)


def test_valid_events_pass() -> None:
    record = {"refid": "R", "amount": "16.00000000"}
    event = validate_trigger_event({"status": "success", "message": "ok", "record": record})
    assert event == WaitEvent(EventStatus.SUCCESS, "ok", record)
    wrapped = TriggerEvent({"status": "timeout", "message": "late", "record": None})  # type: ignore[no-untyped-call]
    assert validate_trigger_event(wrapped).status is EventStatus.TIMEOUT
    assert validate_trigger_event(event.payload) == event


@pytest.mark.parametrize(
    ("event", "complaint"),
    [
        (None, "no usable trigger event"),
        ([], "no usable trigger event"),
        ({"message": "m"}, "unknown status None"),
        ({"status": "cancelled", "message": "m"}, "unknown status 'cancelled'"),
        ({"status": "SUCCESS", "message": "m", "record": {}}, "unknown status 'SUCCESS'"),
        ({"status": "failure"}, "no message"),
        ({"status": "failure", "message": "m", "record": "R"}, "not a JSON object"),
        ({"status": "success", "message": "m"}, "without the record"),
    ],
)
def test_bad_events_fail_loudly(event: object, complaint: str) -> None:
    with pytest.raises(KrakenTriggerEventError, match=complaint) as raised:
        validate_trigger_event(event)
    assert isinstance(raised.value, KrakenWaitFailed)


def test_events_from_verdicts_carry_json_records() -> None:
    record = withdrawal("Failure", "canceled")
    event = WaitEvent.from_verdict(judge_withdrawal(record), record)
    assert event.status is EventStatus.FAILURE
    assert event.record is not None
    assert (event.record["amount"], event.record["status-prop"]) == ("16.00000000", "canceled")
    unknown = withdrawal("Refunded")
    assert WaitEvent.from_verdict(judge_withdrawal(unknown), unknown).status is EventStatus.UNKNOWN
    with pytest.raises(ValueError, match="WAITING"):
        WaitEvent.from_verdict(judge_withdrawal(withdrawal("Pending")), None)
