"""The provider in a real Airflow deployment: faults in the middle of withdrawals and waits.

All scenarios share one deployment (see conftest.py) and run in this module's order; each asserts
the sandbox's ledger and call log. The last test scans everything Airflow stored for secrets.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import psutil
import pytest
from kraken_deployment import AIRFLOW_COMPONENTS, Deployment, wait_until
from kraken_deployment.leaks import LeakScanner
from kraken_deployment.report import REPORT
from kraken_deployment.world import KEY_NAME

from airflow_provider_kraken.hooks.kraken import KrakenHook
from airflow_provider_kraken.sandbox.admin import AdminClient, CallRecord
from airflow_provider_kraken.sandbox.faults import FaultKind

pytestmark = [pytest.mark.deployment, pytest.mark.timeout(420)]

WRITE_METHODS = frozenset({"Withdraw", "WithdrawCancel", "WalletTransfer"})
PUBLIC_METHODS = frozenset({"Assets", "Time", "SystemStatus"})


@pytest.fixture(autouse=True)
def _report_duration(request: pytest.FixtureRequest) -> Iterator[None]:
    started = time.monotonic()
    yield
    REPORT.append(f"  {request.node.name}: {time.monotonic() - started:.1f} s")


def last_seq(admin: AdminClient) -> int:
    """The sequence number of the newest call in the sandbox's log (0 when empty)."""
    calls = admin.calls()
    return calls[-1].seq if calls else 0


def is_write(call: CallRecord) -> bool:
    """Whether a call could move money or create something on Kraken."""
    new_address = call.method == "DepositAddresses" and call.params.get("new") == "true"
    return call.method in WRITE_METHODS or new_address


def bookings(admin: AdminClient, gross: str) -> list[dict[str, Any]]:
    """Withdrawals in the sandbox's ledger of this gross amount (each scenario uses its own amounts)."""
    wanted = Decimal(gross)
    return [w for w in admin.account("main").withdrawals if Decimal(w["gross"]) == wanted]


def deployment_calls(admin: AdminClient, since: int, method: str) -> list[CallRecord]:
    """Calls of `method` the deployment's key made after sequence number `since`."""
    return [call for call in admin.calls(since=since, method=method) if call.key_name == KEY_NAME]


def outcome_counts(calls: list[CallRecord]) -> dict[str, int]:
    return dict(Counter(f"{call.method}:{call.outcome}" for call in calls))


def report_calls(calls: list[CallRecord]) -> None:
    REPORT.append(f"    sandbox outcomes: {outcome_counts(calls)}")


def kill_task_process(ti: dict[str, Any]) -> None:
    """SIGKILL the process running a task instance (the pid Airflow's API names), nothing else."""
    assert ti["pid"], f"no pid for the task instance: {ti}"
    process = psutil.Process(ti["pid"])
    title = " ".join(process.cmdline())
    assert title.startswith("airflow worker") and ti["id"] in title, title
    process.kill()
    process.wait(timeout=10)


def test_a_trivial_dag_runs_on_the_deployment(deployment: Deployment) -> None:
    """The harness itself: a worker runs a task that reads the balance through the connection."""
    mark = last_seq(deployment.admin)

    run = deployment.trigger("kraken_smoke", "smoke")

    assert run.wait(120) == "success", run.logs("doge_balance")
    balance = deployment.admin.account("main").balance("XXDG")
    assert run.xcom("doge_balance") == f"{balance:f}"
    calls = deployment.admin.calls(since=mark)
    assert [(c.method, c.key_name) for c in calls if c.method not in PUBLIC_METHODS] == [
        ("Balance", KEY_NAME)
    ]


def test_worker_killed_between_send_and_record_books_once(deployment: Deployment) -> None:
    """SIGKILL the task while the sandbox holds the executed Withdraw's answer; the retry adopts it."""
    admin = deployment.admin
    mark = last_seq(admin)
    admin.delay(20, "Withdraw", execute=True, api_key=deployment.key.key)

    run = deployment.trigger("kraken_withdraw_once", "worker-killed", {"amount": "31.1"})
    [booked] = wait_until(
        "the Withdraw to execute in the sandbox",
        lambda: bookings(admin, "31.1"),
        timeout=120,
        interval=0.2,
        diagnostics=lambda: run.logs("withdraw"),
    )
    ti = run.ti("withdraw")
    assert (ti["state"], ti["try_number"]) == ("running", 1)
    kill_task_process(ti)

    assert run.wait() == "success", run.logs("withdraw")
    result = run.xcom("withdraw")
    assert (result["refid"], result["how"]) == (booked["refid"], "adopted")
    assert run.ti("withdraw")["try_number"] == 2
    assert [b["refid"] for b in bookings(admin, "31.1")] == [booked["refid"]]
    assert len(deployment_calls(admin, mark, "Withdraw")) == 1


def test_lost_withdraw_answer_then_airflow_retry_books_once(deployment: Deployment) -> None:
    """The answer is dropped after execution and try 1 dies reconciling; Airflow's retry adopts it."""
    admin = deployment.admin
    mark = last_seq(admin)
    key = deployment.key.key
    admin.add_fault(FaultKind.DROP, "Withdraw", execute=True, api_key=key)
    admin.add_fault(FaultKind.KRAKEN_ERROR, "WithdrawStatus", error="EGeneral:Permission denied", api_key=key)

    run = deployment.trigger("kraken_withdraw_once", "answer-lost", {"amount": "32.2"})

    assert run.wait() == "success", run.logs("withdraw")
    [booked] = bookings(admin, "32.2")
    [withdraw] = deployment_calls(admin, mark, "Withdraw")
    assert (withdraw.executed, withdraw.reply) == (True, "dropped")
    result = run.xcom("withdraw")
    assert (result["refid"], result["how"]) == (booked["refid"], "adopted")
    assert run.ti("withdraw")["try_number"] == 2
    assert "reconciling before anything else" in run.logs("withdraw", lines=300)


def test_cleared_successful_withdraw_reruns_without_booking(deployment: Deployment) -> None:
    """Clear a successful withdraw task (as in the UI): the re-run sends nothing and keeps its refid."""
    admin = deployment.admin
    mark = last_seq(admin)
    run = deployment.trigger("kraken_withdraw_once", "cleared", {"amount": "41.3"})
    assert run.wait() == "success", run.logs("withdraw")
    refid = run.xcom("withdraw")["refid"]

    deployment.api.clear(run.dag_id, run.run_id, ["withdraw"])
    wait_until("the cleared task to run again", lambda: run.ti("withdraw")["try_number"] == 2, timeout=60)

    assert run.wait() == "success", run.logs("withdraw")
    result = run.xcom("withdraw")
    assert (result["refid"], result["how"]) == (refid, "stored")
    assert [booked["refid"] for booked in bookings(admin, "41.3")] == [refid]
    assert len(deployment_calls(admin, mark, "Withdraw")) == 1


def test_20_parallel_withdrawals_on_one_connection(deployment: Deployment) -> None:
    """4 parallel runs x 5 mapped withdraw tasks on one key: 20 bookings, no nonce error, no rate limit."""
    admin = deployment.admin
    mark = last_seq(admin)
    amounts = {f"parallel-{r}": [f"5{r}.{i}1" for i in range(5)] for r in range(4)}

    runs = [
        deployment.trigger("kraken_withdraw_many", run_id, {"amounts": a}) for run_id, a in amounts.items()
    ]
    states = {run.run_id: run.wait(240) for run in runs}

    calls = admin.calls(since=mark)
    report_calls(calls)
    booked = {amount: bookings(admin, amount) for run_amounts in amounts.values() for amount in run_amounts}
    assert {amount: len(found) for amount, found in booked.items() if len(found) > 1} == {}, "booked twice"
    assert [call for call in calls if call.outcome.startswith("EAPI:Rate limit")] == [], outcome_counts(calls)
    for run in runs:
        assert states[run.run_id] == "success", run.logs("withdraw")
        for index, ti in run.task_instances("withdraw").items():
            [record] = booked[amounts[run.run_id][index]]
            result = run.xcom("withdraw", index)
            assert (result["refid"], result["how"]) == (record["refid"], "received")
            assert ti["try_number"] == 1, f"{run.run_id}[{index}] needed a retry:\n{run.logs('withdraw')}"
    withdraws = [call for call in calls if call.method == "Withdraw" and call.executed]
    assert len(withdraws) == 20


def test_triggerer_killed_while_50_sensors_wait(deployment: Deployment, setup_hook: KrakenHook) -> None:
    """SIGKILL the triggerer while 50 deferred sensors wait; after a restart all end right, reading only."""
    admin = deployment.admin
    admin.set_lifecycle(manual=True)  # the withdrawals stay Initial until the test decides
    try:
        refids = [setup_hook.withdraw(asset="doge", key="XDG_Savings", amount="20").refid for _ in range(50)]
        withdrawals_before = len(admin.account("main").withdrawals)
        mark = last_seq(admin)
        started = time.monotonic()
        run = deployment.trigger("kraken_wait_many", "triggerer-restart", {"refids": refids})
        wait_until(
            "all 50 sensors to defer",
            lambda: run.states().get("deferred") == 50,
            timeout=300,
            interval=2,
            diagnostics=lambda: f"{run.states()}\n{deployment.diagnostics()}",
        )
        REPORT.append(f"    50 sensors deferred after {time.monotonic() - started:.1f} s")
        assert deployment.capture_triggers() == 50

        deployment.component("triggerer").kill()
        for index, refid in enumerate(refids):
            admin.set_withdrawal_status(refid, "Success" if index < 40 else "Failure")
        killed_at = last_seq(admin)
        restarted = time.monotonic()
        deployment.start_component("triggerer")
        state = run.wait(300)
        REPORT.append(f"    run finished {time.monotonic() - restarted:.1f} s after the triggerer restart")
    finally:
        admin.set_lifecycle(manual=False)

    waits = run.task_instances("wait")
    assert {i: ti["state"] for i, ti in waits.items()} == {
        i: "success" if i < 40 else "failed" for i in range(50)
    }
    assert state == "failed"
    for index in (0, 39):
        record = run.xcom("wait", index)
        assert (record["refid"], record["status"]) == (refids[index], "Success")
    for index in (40, 49):
        assert "KrakenWaitFailed" in run.logs("wait", map_index=index), run.logs("wait", map_index=index)
    calls = admin.calls(since=mark)
    report_calls(calls)
    assert [call for call in calls if is_write(call)] == []
    assert {call.method for call in calls} - PUBLIC_METHODS == {"WithdrawStatus"}
    assert any(call.seq > killed_at for call in calls), "the restarted triggerer never polled"
    assert len(admin.account("main").withdrawals) == withdrawals_before


def test_no_secret_in_logs_xcom_rendered_fields_or_triggers(deployment: Deployment) -> None:
    """After every scenario: the API secret, the OTP and every signature sent appear nowhere in Airflow."""
    assert deployment.recorder is not None and deployment.postgres is not None
    signatures = sorted(deployment.recorder.signatures)
    assert len(signatures) > 100, "too few signatures recorded: did the scenarios run?"
    assert deployment.recorder.count(deployment.key.otp.encode()) > 0, "the OTP was never sent"
    # A planted value proves the scan reads the database and the log files it claims to read.
    canary = f"canary-{deployment.fernet_key[:20]}"
    deployment.api.set_variable("kraken_deployment_canary", canary)
    (deployment.logs_dir / "canary.log").write_text(f"planted {canary}\n", encoding="utf-8")
    secrets = {"API secret": [deployment.key.secret], "OTP": [deployment.key.otp], "API-Sign": signatures}
    scanner = LeakScanner({**secrets, "canary": [canary]})

    for path in sorted(deployment.logs_dir.rglob("*.log")):
        scanner.scan_file(path, category="trigger logs" if ".log.trigger." in path.name else "task logs")
    for name in AIRFLOW_COMPONENTS:
        scanner.scan_file(deployment.registry.log_dir / f"{name}.log", category="component output")
    scanner.scan_database(deployment.postgres, deployment.fernet_key)
    for where, text in deployment.captured:
        scanner.scan(where, text, category="trigger kwargs")

    REPORT.append(f"    scanned: {scanner.scanned}")
    canaries = sorted(leak.where.rsplit("/", 1)[-1] for leak in scanner.leaks if leak.secret == "canary")
    assert canaries == ["canary.log", "variable kraken_deployment_canary"]
    leaks = [leak for leak in scanner.leaks if leak.secret != "canary"]
    assert leaks == [], "\n".join(str(leak) for leak in leaks)
    for category in (
        "task logs",
        "trigger logs",
        "trigger kwargs",
        "db:xcom",
        "db:rendered_task_instance_fields",
    ):
        assert scanner.scanned.get(category, 0) > 0, f"nothing scanned in {category}"
