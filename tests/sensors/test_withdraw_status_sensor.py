"""KrakenWithdrawStatusSensor end to end under dag.test(), in poke, reschedule and deferrable mode."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from status_proxy import StatusProxy
from trigger_helpers import UNPACED, WRITE_METHODS

from airflow_provider_kraken.hooks.kraken import KrakenHook

pytestmark = [UNPACED, pytest.mark.dag]
MODES = ("poke", "reschedule", "deferrable")


def no_writes(admin: Any, since: int) -> bool:
    return {call.method for call in admin.calls(since=since)}.isdisjoint(WRITE_METHODS)


@pytest.mark.parametrize("mode", MODES)
def test_success_returns_the_record_and_learns_the_lookup_start(
    mode: str, run_dag: Callable[..., Any], withdraw: Callable[..., str], manual: Any, after_polls: Any
) -> None:
    refid = withdraw()
    since = manual.calls()[-1].seq
    with after_polls("WithdrawStatus", 2, lambda: manual.set_withdrawal_status(refid, "Success")) as release:
        outcome = run_dag(f"kraken_test_withdraw_{mode}_wait", refid=refid)
    assert release.done.is_set()
    assert (outcome.run_state, outcome.task_state) == ("success", "success")
    assert (outcome.xcom["refid"], outcome.xcom["status"], outcome.xcom["amount"]) == (
        refid,
        "Success",
        "16.00000000",
    )
    record_time = str(outcome.xcom["time"])
    starts = [call.params.get("start") for call in manual.calls(since=since, method="WithdrawStatus")]
    assert starts[0] is None and set(starts[1:]) == {record_time}
    assert no_writes(manual, since)


@pytest.mark.parametrize("mode", MODES)
def test_since_bounds_every_lookup(
    mode: str, run_dag: Callable[..., Any], withdraw: Callable[..., str], manual: Any, after_polls: Any
) -> None:
    refid = withdraw()
    since = manual.calls()[-1].seq
    requested = int(manual.clock().now)
    with after_polls("WithdrawStatus", 2, lambda: manual.set_withdrawal_status(refid, "Success")):
        outcome = run_dag(f"kraken_test_withdraw_{mode}_wait", refid=refid, since=str(requested))
    assert outcome.task_state == "success"
    starts = {call.params.get("start") for call in manual.calls(since=since, method="WithdrawStatus")}
    assert starts == {str(requested - 300)}


@pytest.mark.parametrize("mode", MODES)
def test_failure_fails_even_with_soft_fail(
    mode: str, run_dag: Callable[..., Any], withdraw: Callable[..., str], manual: Any, after_polls: Any
) -> None:
    refid = withdraw()
    with after_polls("WithdrawStatus", 2, lambda: manual.set_withdrawal_status(refid, "Failure")) as release:
        outcome = run_dag(f"kraken_test_withdraw_{mode}_soft", refid=refid)
    assert release.done.is_set()
    assert (outcome.run_state, outcome.task_state, outcome.xcom) == ("failed", "failed", None)


@pytest.mark.parametrize("mode", MODES)
def test_cancelled_fails(
    mode: str,
    run_dag: Callable[..., Any],
    withdraw: Callable[..., str],
    manual: Any,
    after_polls: Any,
    conn_id: str,
) -> None:
    refid = withdraw()
    assert KrakenHook(conn_id).withdraw_cancel(asset="doge", refid=refid)

    def cancelled() -> None:
        manual.set_withdrawal_status(refid, "Failure", status_prop="canceled")

    with after_polls("WithdrawStatus", 2, cancelled):
        outcome = run_dag(f"kraken_test_withdraw_{mode}_wait", refid=refid)
    assert (outcome.run_state, outcome.task_state) == ("failed", "failed")


@pytest.mark.parametrize("mode", MODES)
def test_onhold_then_success(
    mode: str, run_dag: Callable[..., Any], withdraw: Callable[..., str], manual: Any, after_polls: Any
) -> None:
    refid = withdraw()
    manual.set_withdrawal_status(refid, "Pending", status_prop="onhold")
    with after_polls(
        "WithdrawStatus", 3, lambda: manual.set_withdrawal_status(refid, "Success", status_prop=None)
    ):
        outcome = run_dag(f"kraken_test_withdraw_{mode}_wait", refid=refid)
    assert (outcome.task_state, outcome.xcom["status"]) == ("success", "Success")


@pytest.mark.parametrize("mode", MODES)
def test_unknown_status_fails_loudly(
    mode: str,
    run_dag: Callable[..., Any],
    withdraw: Callable[..., str],
    manual: Any,
    after_polls: Any,
    kraken_sandbox: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    refid = withdraw()
    proxy = StatusProxy(kraken_sandbox.url).start()
    try:
        proxied = kraken_sandbox.connection_json("sandbox-full", {"rate_tier": "unlimited"})
        monkeypatch.setenv("AIRFLOW_CONN_KRAKEN_DEFAULT", proxied.replace(kraken_sandbox.url, proxy.url))
        with after_polls(
            "WithdrawStatus", 2, lambda: proxy.overrides.update({refid: {"status": "Reviewing"}})
        ):
            outcome = run_dag(f"kraken_test_withdraw_{mode}_soft", refid=refid)
    finally:
        proxy.stop()
    assert (outcome.run_state, outcome.task_state) == ("failed", "failed")


@pytest.mark.parametrize("mode", MODES)
def test_transient_5xx_while_waiting(
    mode: str, run_dag: Callable[..., Any], withdraw: Callable[..., str], manual: Any, after_polls: Any
) -> None:
    refid = withdraw()
    since = manual.calls()[-1].seq

    def flaky_then_done() -> None:
        manual.http_error(502, "WithdrawStatus", times=4)  # more than one lookup's retry budget
        manual.set_withdrawal_status(refid, "Success")

    with after_polls("WithdrawStatus", 2, flaky_then_done):
        outcome = run_dag(f"kraken_test_withdraw_{mode}_wait", refid=refid)
    assert (outcome.run_state, outcome.task_state) == ("success", "success")
    replies = [call.reply for call in manual.calls(since=since, method="WithdrawStatus")]
    assert replies.count("http 502") == 4


@pytest.mark.parametrize(("mode", "soft"), [(m, s) for m in MODES for s in (False, True)])
def test_timeout(
    mode: str, soft: bool, run_dag: Callable[..., Any], withdraw: Callable[..., str], manual: Any
) -> None:
    refid = withdraw()
    since = manual.calls()[-1].seq
    outcome = run_dag(f"kraken_test_withdraw_{mode}_{'softtimeout' if soft else 'timeout'}", refid=refid)
    expected = "skipped" if soft else "failed"
    assert outcome.task_state == expected
    assert outcome.run_state == ("success" if soft else "failed")
    assert manual.account().withdrawal(refid)["status"] == "Initial"  # waiting never touched it
    assert no_writes(manual, since)
