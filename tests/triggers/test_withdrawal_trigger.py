"""KrakenWithdrawalTrigger against the sandbox: every outcome, faults, deadlines and restarts."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest
from status_proxy import StatusProxy
from trigger_helpers import (
    UNPACED,
    WRITE_METHODS,
    deadline,
    first_event,
    last_seq,
    polls_seen,
    roundtrip,
    run_trigger,
)

from airflow_provider_kraken.hooks.kraken import KrakenHook
from airflow_provider_kraken.triggers.funding import POLLERS, KrakenWithdrawalTrigger

pytestmark = UNPACED
POLL = 0.2


def trigger(conn_id: str, refid: str, **overrides: Any) -> KrakenWithdrawalTrigger:
    kwargs: dict[str, Any] = {
        "kraken_conn_id": conn_id,
        "asset": "doge",
        "refid": refid,
        "end_time": deadline(),
        "poll_interval": POLL,
    }
    return KrakenWithdrawalTrigger(**{**kwargs, **overrides})


async def wait_then(
    admin: Any, action: Callable[[], Any], trig: KrakenWithdrawalTrigger, polls: int = 1
) -> Any:
    """Run the trigger; once it has looked ``polls`` times, apply ``action``; return its event."""
    since = await asyncio.to_thread(last_seq, admin)
    task = asyncio.create_task(first_event(trig))
    await polls_seen(admin, "WithdrawStatus", polls, since)
    assert not task.done(), "the trigger must still be waiting"
    await asyncio.to_thread(action)
    return await task


def test_kwargs_are_plain_json_without_secrets(conn_id: str, kraken_sandbox: Any) -> None:
    original = trigger(conn_id, "ASBG2IX-OQZTG5-CRWGN3", start=1700000000)
    classpath, kwargs = original.serialize()
    assert classpath == "airflow_provider_kraken.triggers.funding.KrakenWithdrawalTrigger"
    assert json.loads(json.dumps(kwargs)) == kwargs
    text = json.dumps(kwargs)
    secrets = (kraken_sandbox.world_key("sandbox-full").secret, kraken_sandbox.world_key("sandbox-full").key)
    assert not any(secret in text for secret in secrets)
    assert roundtrip(original).serialize() == (classpath, kwargs)


def test_success(conn_id: str, manual: Any, withdraw: Callable[..., str]) -> None:
    refid = withdraw("20")
    event = asyncio.run(
        wait_then(manual, lambda: manual.set_withdrawal_status(refid, "Success"), trigger(conn_id, refid))
    )
    assert event["status"] == "success"
    record = event["record"]
    assert (record["refid"], record["status"], record["amount"], record["fee"]) == (
        refid,
        "Success",
        "16.00000000",
        "4.00000000",
    )


def test_settled_keeps_waiting_until_success(conn_id: str, manual: Any, withdraw: Callable[..., str]) -> None:
    refid = withdraw()
    manual.set_withdrawal_status(refid, "Settled")
    event = asyncio.run(
        wait_then(
            manual, lambda: manual.set_withdrawal_status(refid, "Success"), trigger(conn_id, refid), polls=2
        )
    )
    assert event["status"] == "success"


def test_failure(conn_id: str, manual: Any, withdraw: Callable[..., str]) -> None:
    refid = withdraw()
    event = asyncio.run(
        wait_then(manual, lambda: manual.set_withdrawal_status(refid, "Failure"), trigger(conn_id, refid))
    )
    assert (event["status"], event["record"]["status"]) == ("failure", "Failure")
    assert "failed" in event["message"]


def test_cancelled_after_cancel_pending(conn_id: str, manual: Any, withdraw: Callable[..., str]) -> None:
    refid = withdraw()
    assert KrakenHook(conn_id).withdraw_cancel(asset="doge", refid=refid) is True
    event = asyncio.run(
        wait_then(
            manual,
            lambda: manual.set_withdrawal_status(refid, "Failure", status_prop="canceled"),
            trigger(conn_id, refid),
            polls=2,
        )
    )
    assert (event["status"], event["record"]["status-prop"]) == ("failure", "canceled")
    assert "cancelled" in event["message"]


def test_onhold_then_success(conn_id: str, manual: Any, withdraw: Callable[..., str]) -> None:
    refid = withdraw()
    manual.set_withdrawal_status(refid, "Pending", status_prop="onhold")
    event = asyncio.run(
        wait_then(
            manual,
            lambda: manual.set_withdrawal_status(refid, "Success", status_prop=None),
            trigger(conn_id, refid),
            polls=3,
        )
    )
    assert event["status"] == "success"
    assert "status-prop" not in event["record"]


def test_unknown_status_fails_loudly(
    kraken_sandbox: Any, manual: Any, withdraw: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    refid = withdraw()
    proxy = StatusProxy(kraken_sandbox.url).start()
    try:
        proxy.overrides[refid] = {"status": "Reviewing"}
        proxied = kraken_sandbox.connection_json("sandbox-full", {"rate_tier": "unlimited"})
        monkeypatch.setenv("AIRFLOW_CONN_KRAKEN_PROXIED", proxied.replace(kraken_sandbox.url, proxy.url))
        event = run_trigger(trigger("kraken_proxied", refid))
    finally:
        proxy.stop()
    assert (event["status"], event["record"]["status"]) == ("unknown", "Reviewing")
    assert "'Reviewing'" in event["message"]


def test_transient_5xx_is_retried_inside(conn_id: str, manual: Any, withdraw: Callable[..., str]) -> None:
    refid = withdraw()
    manual.set_withdrawal_status(refid, "Success")
    since = last_seq(manual)
    # More 502s than the connection's 3 s read-retry budget covers: the trigger itself polls again.
    manual.http_error(502, "WithdrawStatus", times=6)
    event = run_trigger(trigger(conn_id, refid))
    assert event["status"] == "success"
    replies = [call.reply for call in manual.calls(since=since, method="WithdrawStatus")]
    assert replies.count("http 502") == 6 and replies[-1] == "ok"


def test_service_unavailable_is_transient(conn_id: str, manual: Any, withdraw: Callable[..., str]) -> None:
    refid = withdraw()
    manual.set_withdrawal_status(refid, "Failure")
    manual.service_unavailable("WithdrawStatus", times=2)
    assert run_trigger(trigger(conn_id, refid))["status"] == "failure"


def test_permission_denied_fails_fast(
    kraken_sandbox: Any, manual: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_KRAKEN_NOFUNDS", kraken_sandbox.connection_json("sandbox-nofunds", {"timeout": 5})
    )
    since = last_seq(manual)
    event = run_trigger(trigger("kraken_nofunds", "ASBG2IX-OQZTG5-CRWGN3"))
    assert event["status"] == "error"
    assert "EGeneral:Permission denied" in event["message"]
    assert len(manual.calls(since=since, method="WithdrawStatus")) == 1


def test_invalid_key_fails_fast_without_leaking_the_secret(
    kraken_sandbox: Any, manual: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    bogus = kraken_sandbox.connection_json("sandbox-full").replace(
        kraken_sandbox.world_key("sandbox-full").key, "A" * 56
    )
    monkeypatch.setenv("AIRFLOW_CONN_KRAKEN_BOGUS", bogus)
    event = run_trigger(trigger("kraken_bogus", "ASBG2IX-OQZTG5-CRWGN3"))
    assert event["status"] == "error"
    assert "EAPI:Invalid key" in event["message"]
    assert kraken_sandbox.world_key("sandbox-full").secret not in json.dumps(event)


def test_deadline_gives_a_timeout_event_with_the_last_record(
    conn_id: str, manual: Any, withdraw: Callable[..., str]
) -> None:
    refid = withdraw()
    event = run_trigger(trigger(conn_id, refid, end_time=deadline(2.0)))
    assert event["status"] == "timeout"
    assert event["record"]["status"] == "Initial"
    assert "did not reach a final state" in event["message"]
    assert len(POLLERS) == 0


def test_a_past_deadline_times_out_at_once(conn_id: str, manual: Any) -> None:
    event = run_trigger(trigger(conn_id, "NEVER-LOOKED-UP", end_time=deadline(-1)))
    assert (event["status"], event["record"]) == ("timeout", None)


def test_triggerer_restart_reaches_the_same_result_without_writing(
    conn_id: str, manual: Any, withdraw: Callable[..., str]
) -> None:
    refid = withdraw()
    since = last_seq(manual)
    original = trigger(conn_id, refid)

    async def run_until_the_triggerer_stops() -> None:
        task = asyncio.create_task(first_event(original))
        await polls_seen(manual, "WithdrawStatus", 2, since)
        task.cancel()  # the triggerer shuts down: Airflow cancels the trigger's task
        with pytest.raises(asyncio.CancelledError):
            await task
        assert len(POLLERS) == 0

    asyncio.run(run_until_the_triggerer_stops())
    manual.set_withdrawal_status(refid, "Success")
    event = run_trigger(roundtrip(original))  # a new triggerer process, from the stored kwargs
    assert (event["status"], event["record"]["refid"]) == ("success", refid)
    methods = {call.method for call in manual.calls(since=since)}
    assert methods.isdisjoint(WRITE_METHODS)
    assert "WithdrawStatus" in methods


def test_start_bound_reaches_the_query(conn_id: str, manual: Any, withdraw: Callable[..., str]) -> None:
    refid = withdraw()
    manual.set_withdrawal_status(refid, "Success")
    record_time = KrakenHook(conn_id).withdraw_status(asset="doge")[0].time
    since = last_seq(manual)
    assert run_trigger(trigger(conn_id, refid, start=record_time))["status"] == "success"
    [call] = manual.calls(since=since, method="WithdrawStatus")
    assert call.params["start"] == str(record_time)
