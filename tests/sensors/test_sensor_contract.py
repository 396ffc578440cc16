"""The sensors' contract without a DAG run: deferral details, event handling, soft_fail, defaults."""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from airflow.sdk import PokeReturnValue
from airflow.sdk.exceptions import AirflowSensorTimeout, AirflowSkipException, TaskDeferred
from trigger_helpers import UNPACED

import airflow_provider_kraken.sensors.funding as sensors
from airflow_provider_kraken.exceptions import KrakenInputError
from airflow_provider_kraken.sensors.funding import KrakenDepositStatusSensor, KrakenWithdrawStatusSensor
from airflow_provider_kraken.triggers.funding import (
    KrakenDepositTrigger,
    KrakenTriggerEventError,
    KrakenWaitError,
    KrakenWaitFailed,
    KrakenWithdrawalTrigger,
)

pytestmark = UNPACED
RECORD = {"refid": "R", "status": "Success", "amount": "16.00000000"}


def sensor(**kwargs: Any) -> KrakenWithdrawStatusSensor:
    return KrakenWithdrawStatusSensor(
        **{"task_id": "wait", "asset": "doge", "refid": "R", "poke_interval": 0.5, "timeout": 120, **kwargs}
    )


def test_refid_and_criteria_are_templated() -> None:
    assert {"kraken_conn_id", "asset", "refid", "since"} <= set(KrakenWithdrawStatusSensor.template_fields)
    assert {"refid", "txid", "method", "address", "min_amount", "since"} <= set(
        KrakenDepositStatusSensor.template_fields
    )


def test_deferrable_defaults_to_airflow_config(monkeypatch: pytest.MonkeyPatch) -> None:
    assert sensor().deferrable is False
    monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", "true")
    try:
        assert (
            importlib.reload(sensors)
            .KrakenWithdrawStatusSensor(task_id="w", asset="doge", refid="R")
            .deferrable
        )
    finally:
        monkeypatch.delenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE")
        importlib.reload(sensors)


def test_float_minimum_is_refused_at_once() -> None:
    with pytest.raises(TypeError, match="float"):
        KrakenDepositStatusSensor(task_id="w", asset="doge", address="D", since=1, min_amount=0.1)
    assert KrakenDepositStatusSensor(task_id="w", asset="doge", refid="R", min_amount=Decimal("0.1"))


@pytest.mark.parametrize("deferrable", [False, True])
def test_bad_parameters_fail_before_any_request(conn_id: str, manual: Any, deferrable: bool) -> None:
    criteria = KrakenDepositStatusSensor(
        task_id="w", asset="doge", address="D", min_amount="1", deferrable=deferrable
    )
    with pytest.raises(KrakenInputError, match="since"):
        criteria.execute({})  # type: ignore[arg-type]
    with pytest.raises(KrakenInputError, match="refid"):
        sensor(refid="", deferrable=deferrable).execute({})  # type: ignore[arg-type]
    with pytest.raises(KrakenInputError, match="since"):
        sensor(since="last tuesday", deferrable=deferrable).execute({})  # type: ignore[arg-type]
    assert manual.calls() == []


def test_unknown_asset_fails_the_wait(conn_id: str) -> None:
    with pytest.raises(KrakenWaitError, match="unknown asset 'dogg'"):
        sensor(asset="dogg").execute({})  # type: ignore[arg-type]


def test_poke_reports_progress_then_the_final_event(
    conn_id: str, manual: Any, withdraw: Callable[..., str]
) -> None:
    refid = withdraw()
    waiting = sensor(refid=refid)
    assert waiting.poke({}).is_done is False  # type: ignore[arg-type]
    manual.set_withdrawal_status(refid, "Success")
    done = waiting.poke({})  # type: ignore[arg-type]
    assert isinstance(done, PokeReturnValue) and done.is_done
    assert done.xcom_value["status"] == "success"
    assert done.xcom_value["record"]["refid"] == refid


def test_deferral_hands_the_trigger_a_deadline_and_the_learned_start(
    conn_id: str, manual: Any, withdraw: Callable[..., str]
) -> None:
    refid = withdraw()
    waiting = sensor(refid=refid, deferrable=True, timeout=120)
    before = time.time()
    with pytest.raises(TaskDeferred) as deferred:
        waiting.execute({})  # type: ignore[arg-type]
    trigger = deferred.value.trigger
    assert isinstance(trigger, KrakenWithdrawalTrigger)
    assert deferred.value.method_name == "execute_complete"
    assert deferred.value.timeout == timedelta(seconds=180)  # a backstop behind the trigger's own deadline
    _, kwargs = trigger.serialize()
    record_time = manual.account().withdrawal(refid)["time"]
    assert (kwargs["refid"], kwargs["start"], kwargs["poll_interval"]) == (refid, record_time, 0.5)
    assert before + 120 <= kwargs["end_time"] <= time.time() + 120


def test_no_deferral_when_already_final(conn_id: str, manual: Any, withdraw: Callable[..., str]) -> None:
    refid = withdraw()
    manual.set_withdrawal_status(refid, "Success")
    assert sensor(refid=refid, deferrable=True).execute({})["refid"] == refid  # type: ignore[arg-type]
    manual.set_withdrawal_status(refid, "Failure")
    with pytest.raises(KrakenWaitFailed, match="failed"):
        sensor(refid=refid, deferrable=True).execute({})  # type: ignore[arg-type]


def test_deposit_deferral_carries_the_criteria(conn_id: str, manual: Any) -> None:
    waiting = KrakenDepositStatusSensor(
        task_id="w", asset="doge", address="Daddr", min_amount="12.5", since="1700000000", deferrable=True
    )
    with pytest.raises(TaskDeferred) as deferred:
        waiting.execute({})  # type: ignore[arg-type]
    trigger = deferred.value.trigger
    assert isinstance(trigger, KrakenDepositTrigger)
    _, kwargs = trigger.serialize()
    assert kwargs["match"] == {
        "refid": None,
        "txid": None,
        "method": None,
        "address": "Daddr",
        "min_amount": "12.5",
        "since": 1700000000,
    }
    assert (kwargs["start"], kwargs["settled_is_enough"]) == (1700000000, False)


@pytest.mark.parametrize(
    ("event", "raised"),
    [
        ({"status": "failure", "message": "withdrawal R was cancelled", "record": RECORD}, KrakenWaitFailed),
        ({"status": "unknown", "message": "status 'X'", "record": RECORD}, KrakenWaitFailed),
        ({"status": "error", "message": "EAPI:Invalid key", "record": None}, KrakenWaitError),
        ({"status": "timeout", "message": "late", "record": None}, AirflowSensorTimeout),
        (None, KrakenTriggerEventError),
        ({"status": "done", "message": "?"}, KrakenTriggerEventError),
    ],
)
def test_execute_complete_concludes_like_every_mode(event: Any, raised: type[BaseException]) -> None:
    with pytest.raises(raised):
        sensor().execute_complete({}, event=event)  # type: ignore[arg-type]


def test_execute_complete_returns_the_record() -> None:
    event = {"status": "success", "message": "ok", "record": RECORD}
    assert sensor().execute_complete({}, event=event) == RECORD  # type: ignore[arg-type]


def test_soft_fail_skips_a_timeout_but_not_a_failure() -> None:
    soft = sensor(soft_fail=True)
    timeout = {"status": "timeout", "message": "late", "record": None}
    with pytest.raises(AirflowSkipException):
        soft.resume_execution("execute_complete", {"event": timeout}, {})  # type: ignore[arg-type]
    for status in ("failure", "unknown"):
        event = {"status": status, "message": "m", "record": RECORD}
        with pytest.raises(KrakenWaitFailed):
            soft.resume_execution("execute_complete", {"event": event}, {})  # type: ignore[arg-type]
    with pytest.raises(KrakenTriggerEventError):
        soft.resume_execution("execute_complete", {"event": None}, {})  # type: ignore[arg-type]


def test_a_query_only_key_reads_deposits_but_not_withdrawals(
    kraken_sandbox: Any, manual: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_KRAKEN_QUERY", kraken_sandbox.connection_json("sandbox-query"))
    manual.inject_deposit("XXDG", "5", method="Dogecoin", refid="DEP-Q", status="Success")
    deposit = KrakenDepositStatusSensor(
        task_id="d", kraken_conn_id="kraken_query", asset="doge", refid="DEP-Q"
    )
    assert deposit.execute({})["refid"] == "DEP-Q"  # type: ignore[arg-type]
    with pytest.raises(KrakenWaitError, match="EGeneral:Permission denied"):
        sensor(kraken_conn_id="kraken_query").execute({})  # type: ignore[arg-type]
