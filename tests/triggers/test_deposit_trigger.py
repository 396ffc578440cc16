"""KrakenDepositTrigger against the sandbox: identified and matched deposits, Settled vs Success, faults."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from decimal import Decimal
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

from airflow_provider_kraken.triggers.funding import DepositMatch, KrakenDepositTrigger

pytestmark = UNPACED
POLL = 0.2
ADDRESS = "DFSHkVSQycPZDu8CkiNvx8ymHKHoMLteUD"


def trigger(conn_id: str, match: DepositMatch, **overrides: Any) -> KrakenDepositTrigger:
    kwargs: dict[str, Any] = {
        "kraken_conn_id": conn_id,
        "asset": "doge",
        "match": match.to_kwargs(),
        "end_time": deadline(),
        "poll_interval": POLL,
    }
    return KrakenDepositTrigger(**{**kwargs, **overrides})


async def wait_then(admin: Any, action: Callable[[], Any], trig: KrakenDepositTrigger, polls: int = 1) -> Any:
    """Run the trigger; once it has looked ``polls`` times, apply ``action``; return its event."""
    since = await asyncio.to_thread(last_seq, admin)
    task = asyncio.create_task(first_event(trig))
    await polls_seen(admin, "DepositStatus", polls, since)
    assert not task.done(), "the trigger must still be waiting"
    await asyncio.to_thread(action)
    return await task


def now(admin: Any) -> int:
    return int(admin.clock().now)


def test_kwargs_are_plain_json_with_a_decimal_string(conn_id: str) -> None:
    match = DepositMatch(address=ADDRESS, min_amount=Decimal("0.12345678"), since=1700000000)
    original = trigger(conn_id, match, settled_is_enough=True)
    classpath, kwargs = original.serialize()
    assert classpath == "airflow_provider_kraken.triggers.funding.KrakenDepositTrigger"
    assert json.loads(json.dumps(kwargs)) == kwargs
    assert kwargs["match"]["min_amount"] == "0.12345678"
    assert roundtrip(original).serialize() == (classpath, kwargs)


def test_by_refid_waits_for_success(conn_id: str, manual: Any) -> None:
    manual.inject_deposit("XXDG", "250", method="Dogecoin", refid="DEP-REFID-1")
    event = asyncio.run(
        wait_then(
            manual,
            lambda: manual.set_deposit_status("DEP-REFID-1", "Success"),
            trigger(conn_id, DepositMatch(refid="DEP-REFID-1")),
            polls=2,
        )
    )
    assert (event["status"], event["record"]["status"], event["record"]["amount"]) == (
        "success",
        "Success",
        "250.00000000",
    )


def test_settled_is_enough_when_asked(conn_id: str, manual: Any) -> None:
    manual.inject_deposit("XXDG", "250", method="Dogecoin", txid="tx-settled")
    event = run_trigger(trigger(conn_id, DepositMatch(txid="tx-settled"), settled_is_enough=True))
    assert (event["status"], event["record"]["status"]) == ("success", "Settled")
    assert "Settled" in event["message"]


def test_matched_by_method_address_amount_after_a_time(conn_id: str, manual: Any) -> None:
    match = DepositMatch(method="Dogecoin", address=ADDRESS, min_amount=Decimal("100"), since=now(manual))
    manual.inject_deposit("XXDG", "99.99999999", method="Dogecoin", address=ADDRESS, status="Success")
    manual.inject_deposit(
        "XXDG", "500", method="Dogecoin", address="DOtherAddressxxxxxxxxxxxxxxxxxxxxx", status="Success"
    )

    def arrive() -> None:
        manual.inject_deposit(
            "XXDG", "100", method="Dogecoin", address=ADDRESS, refid="DEP-BIG", status="Success"
        )

    event = asyncio.run(wait_then(manual, arrive, trigger(conn_id, match), polls=2))
    assert (event["status"], event["record"]["refid"], event["record"]["amount"]) == (
        "success",
        "DEP-BIG",
        "100.00000000",
    )


def test_older_deposits_do_not_count(conn_id: str, manual: Any) -> None:
    # The world's seeded 95 DOGE deposit to ADDRESS happened in 2023: a wait starting now ignores it.
    match = DepositMatch(address=ADDRESS, since=now(manual))
    event = run_trigger(trigger(conn_id, match, end_time=deadline(1.0)))
    assert (event["status"], event["record"]) == ("timeout", None)


def test_failure(conn_id: str, manual: Any) -> None:
    manual.inject_deposit("XXDG", "10", method="Dogecoin", refid="DEP-FAIL")
    event = asyncio.run(
        wait_then(
            manual,
            lambda: manual.set_deposit_status("DEP-FAIL", "Failure"),
            trigger(conn_id, DepositMatch(refid="DEP-FAIL")),
        )
    )
    assert (event["status"], event["record"]["status"]) == ("failure", "Failure")


def test_onhold_then_success(conn_id: str, manual: Any) -> None:
    manual.inject_deposit("XXDG", "10", method="Dogecoin", refid="DEP-HOLD")
    manual.set_deposit_status("DEP-HOLD", "Settled", status_prop="onhold")
    event = asyncio.run(
        wait_then(
            manual,
            lambda: manual.set_deposit_status("DEP-HOLD", "Success", status_prop=None),
            trigger(conn_id, DepositMatch(refid="DEP-HOLD"), settled_is_enough=True),
            polls=2,
        )
    )
    assert (event["status"], event["record"]["status"]) == ("success", "Success")


def test_unknown_status_fails_loudly(
    kraken_sandbox: Any, manual: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    manual.inject_deposit("XXDG", "10", method="Dogecoin", refid="DEP-ODD")
    proxy = StatusProxy(kraken_sandbox.url).start()
    try:
        proxy.overrides["DEP-ODD"] = {"status": "Settled", "status-prop": "quarantine"}
        proxied = kraken_sandbox.connection_json("sandbox-full", {"rate_tier": "unlimited"})
        monkeypatch.setenv("AIRFLOW_CONN_KRAKEN_PROXIED", proxied.replace(kraken_sandbox.url, proxy.url))
        event = run_trigger(trigger("kraken_proxied", DepositMatch(refid="DEP-ODD"), settled_is_enough=True))
    finally:
        proxy.stop()
    assert event["status"] == "unknown"
    assert "'quarantine'" in event["message"]


def test_transient_errors_then_result_and_restart_without_writes(conn_id: str, manual: Any) -> None:
    manual.inject_deposit("XXDG", "10", method="Dogecoin", refid="DEP-RETRY")
    since = last_seq(manual)
    original = trigger(conn_id, DepositMatch(refid="DEP-RETRY"))

    async def until_the_triggerer_stops() -> None:
        task = asyncio.create_task(first_event(original))
        await polls_seen(manual, "DepositStatus", 1, since)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(until_the_triggerer_stops())
    manual.set_deposit_status("DEP-RETRY", "Success")
    manual.http_error(503, "DepositStatus", times=2)
    event = run_trigger(roundtrip(original))
    assert (event["status"], event["record"]["refid"]) == ("success", "DEP-RETRY")
    calls = manual.calls(since=since)
    assert {c.method for c in calls}.isdisjoint(WRITE_METHODS)
    assert [c.reply for c in calls if c.method == "DepositStatus"].count("http 503") == 2
