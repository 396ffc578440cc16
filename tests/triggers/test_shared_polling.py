"""Deferred waits on one connection and asset share their status lookups inside one triggerer process."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from trigger_helpers import UNPACED, deadline, first_event, last_seq, polls_seen, run_trigger

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


async def all_events(triggers: list[KrakenWithdrawalTrigger]) -> list[dict[str, Any]]:
    return list(await asyncio.gather(*(first_event(t) for t in triggers)))


@pytest.mark.parametrize(("share", "calls"), [(True, 1), (False, 20)])
def test_twenty_waits_cost_one_lookup_when_shared(
    conn_id: str, manual: Any, withdraw: Callable[..., str], share: bool, calls: int
) -> None:
    refids = [withdraw() for _ in range(20)]
    for refid in refids:
        manual.set_withdrawal_status(refid, "Success")
    since = last_seq(manual)
    events = asyncio.run(all_events([trigger(conn_id, r, share_polls=share) for r in refids]))
    assert [(e["status"], e["record"]["refid"]) for e in events] == [("success", r) for r in refids]
    assert len(manual.calls(since=since, method="WithdrawStatus")) == calls
    assert len(POLLERS) == 0


def test_every_round_is_one_lookup_for_all_waiters(
    conn_id: str, manual: Any, withdraw: Callable[..., str]
) -> None:
    refids = [withdraw() for _ in range(10)]
    since = last_seq(manual)

    async def scenario() -> tuple[list[dict[str, Any]], int]:
        triggers = [trigger(conn_id, r) for r in refids]
        poller = POLLERS.poller(conn_id, "doge", "withdrawal")  # the one the triggers will join
        waiting = asyncio.create_task(all_events(triggers))
        await polls_seen(manual, "WithdrawStatus", 3, since)
        for refid in refids:  # they finish one by one, across several rounds
            await asyncio.to_thread(manual.set_withdrawal_status, refid, "Success")
        return await waiting, poller.polls

    events, polls = asyncio.run(scenario())
    assert all(e["status"] == "success" for e in events)
    assert len(manual.calls(since=since, method="WithdrawStatus")) == polls


def test_waiters_come_and_go_and_the_lookup_reaches_back_for_the_earliest(
    conn_id: str, manual: Any, withdraw: Callable[..., str]
) -> None:
    first, second = withdraw(), withdraw()
    record_time = KrakenHook(conn_id).withdraw_status(asset="doge")[0].time
    since = last_seq(manual)

    async def scenario() -> dict[str, Any]:
        late = asyncio.create_task(first_event(trigger(conn_id, first, start=record_time)))
        await polls_seen(manual, "WithdrawStatus", 2, since)
        early = asyncio.create_task(first_event(trigger(conn_id, second, start=record_time - 600)))
        seen = await asyncio.to_thread(last_seq, manual)
        await polls_seen(manual, "WithdrawStatus", 2, seen)
        late.cancel()  # one waiter goes away (its task killed); the other keeps the poll alive
        with pytest.raises(asyncio.CancelledError):
            await late
        seen = await asyncio.to_thread(last_seq, manual)
        await polls_seen(manual, "WithdrawStatus", 1, seen)
        assert POLLERS.poller(conn_id, "doge", "withdrawal").subscriber_count == 1
        await asyncio.to_thread(manual.set_withdrawal_status, second, "Success")
        return await early

    event = asyncio.run(scenario())
    assert (event["status"], event["record"]["refid"]) == ("success", second)
    starts = [call.params.get("start") for call in manual.calls(since=since, method="WithdrawStatus")]
    assert starts[:2] == [str(record_time)] * 2
    assert starts[-1] == str(record_time - 600)
    assert len(POLLERS) == 0


def test_each_event_loop_gets_its_own_poller(conn_id: str, manual: Any, withdraw: Callable[..., str]) -> None:
    first, second = withdraw(), withdraw()
    since = last_seq(manual)

    async def abandon_while_waiting() -> None:
        asyncio.create_task(first_event(trigger(conn_id, first)))  # noqa: RUF006 - asyncio.run cancels it
        await polls_seen(manual, "WithdrawStatus", 1, since)

    asyncio.run(abandon_while_waiting())  # the loop ends with the wait still running
    manual.set_withdrawal_status(second, "Failure")
    assert run_trigger(trigger(conn_id, second))["status"] == "failure"
    manual.set_withdrawal_status(first, "Success")
    assert run_trigger(trigger(conn_id, first))["status"] == "success"
    assert len(POLLERS) == 0


def test_a_fatal_error_reaches_every_waiter_from_one_lookup(
    kraken_sandbox: Any, manual: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_KRAKEN_NOFUNDS", kraken_sandbox.connection_json("sandbox-nofunds"))
    since = last_seq(manual)
    events = asyncio.run(all_events([trigger("kraken_nofunds", f"REF-{i}") for i in range(5)]))
    assert {e["status"] for e in events} == {"error"}
    assert len(manual.calls(since=since, method="WithdrawStatus")) == 1


def test_a_cancel_racing_with_a_snapshot_still_stops_the_trigger(conn_id: str, manual: Any) -> None:
    """Airflow cancels a trigger (cleanup) just as a snapshot arrives: the trigger must stop, not go on."""
    from airflow_provider_kraken.triggers.funding import Snapshot

    async def scenario() -> None:
        task = asyncio.create_task(first_event(trigger(conn_id, "ASBG2IX-OQZTG5-CRWGN3")))
        await polls_seen(manual, "WithdrawStatus", 1)
        await asyncio.sleep(0)
        [subscription] = POLLERS.poller(conn_id, "doge", "withdrawal")._subscribers  # white box: the race
        subscription.offer(Snapshot(start=None))  # wakes the waiter ...
        task.cancel()  # ... and cancels it in the same loop iteration
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=10)

    asyncio.run(scenario())
    assert len(POLLERS) == 0
