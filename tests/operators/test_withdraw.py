"""KrakenWithdrawOperator through real task runs (dag.test) against the sandbox and its faults.

Each test asserts what matters for money: the sandbox ledger's bookings, the calls it logged,
the DagRun / task instance states and the refid in XCom.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from operator_helpers import RunResult, bookings, calls, clear_and_rerun, task_output

pytestmark = pytest.mark.dag

# (fault method, kwargs) of faults that hide Kraken's answer to Withdraw
LOST_ANSWERS = {
    "drop": ("drop_response", {}),
    "http_502": ("http_error", {"status": 502}),
    "eservice_unavailable": ("service_unavailable", {}),
    "read_timeout": ("delay", {"seconds": 3.0}),  # longer than the connection's 2 s timeout
}


def lose_answer(sandbox: Any, fault: str, *, executed: bool) -> None:
    name, kwargs = LOST_ANSWERS[fault]
    getattr(sandbox.admin, name)(method="Withdraw", execute=executed, **kwargs)


def test_plain_withdrawal_books_once_and_returns_the_refid(
    run_dag: Callable[..., RunResult], kraken_env: Any
) -> None:
    run = run_dag("kraken_op_withdraw", conf={"amount": "10"})

    assert run.state == "success"
    [booked] = bookings(kraken_env)
    result = run.xcom("withdraw")
    assert result["refid"] == booked["refid"] == run.xcom("withdraw", key="refid")
    assert result | {"sent_at": None, "time": None} == {
        "refid": booked["refid"],
        "asset": "XXDG",
        "key": "XDG_Wallet",
        "amount": "10",
        "net_amount": "6.00000000",
        "fee": "4.00000000",
        "status": "Initial",
        "status_prop": None,
        "time": None,
        "sent_at": None,
        "how": "received",
    }
    assert len(calls(kraken_env, "Withdraw")) == 1
    assert run.state_store("withdraw")["kraken_withdraw_intent"]["state"] == "done"


@pytest.mark.parametrize("fault", sorted(LOST_ANSWERS))
def test_answer_lost_after_execution_adopts_the_one_booking(
    run_dag: Callable[..., RunResult], kraken_env: Any, fault: str
) -> None:
    lose_answer(kraken_env, fault, executed=True)

    run = run_dag("kraken_op_withdraw")

    assert run.state == "success"
    [booked] = bookings(kraken_env)
    assert len(calls(kraken_env, "Withdraw")) == 1
    assert run.xcom("withdraw")["refid"] == booked["refid"]
    assert run.xcom("withdraw")["how"] == "adopted"
    assert run.ti("withdraw").try_number == 1


def test_answer_lost_then_airflow_retry_adopts_the_booking(
    run_dag: Callable[..., RunResult],
    kraken_env: Any,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    # The answer is lost and the first try dies before it can reconcile (its status read fails):
    # the next Airflow try finds the intent at "sending" and must reconcile, not send.
    lose_answer(kraken_env, "drop", executed=True)
    kraken_env.admin.kraken_error("EGeneral:Permission denied", "WithdrawStatus", times=1)

    run = run_dag("kraken_op_withdraw")

    assert run.state == "success"
    assert run.ti("withdraw").try_number == 2
    [booked] = bookings(kraken_env)
    assert len(calls(kraken_env, "Withdraw")) == 1
    assert run.xcom("withdraw")["refid"] == booked["refid"]
    assert "reconciling before anything else" in task_output(caplog, capfd)


@pytest.mark.parametrize("fault", ["drop", "http_502", "eservice_unavailable"])
def test_answer_lost_without_execution_fails_for_a_human(
    run_dag: Callable[..., RunResult],
    kraken_env: Any,
    fault: str,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    lose_answer(kraken_env, fault, executed=False)

    run = run_dag("kraken_op_withdraw")

    assert run.state == "failed"
    ti = run.ti("withdraw")
    assert ti.state == "failed"
    assert ti.try_number == 1  # no Airflow retry despite retries=2
    assert bookings(kraken_env) == []
    assert len(calls(kraken_env, "Withdraw")) == 1
    assert "OUTCOME UNKNOWN" in task_output(caplog, capfd)
    assert run.state_store("withdraw")["kraken_withdraw_intent"]["state"] == "sending"


@pytest.mark.parametrize("fault", ["drop", "http_502", "eservice_unavailable"])
def test_answer_lost_without_execution_resends_once_when_opted_in(
    run_dag: Callable[..., RunResult], kraken_env: Any, fault: str
) -> None:
    lose_answer(kraken_env, fault, executed=False)

    run = run_dag("kraken_op_withdraw_resend")

    assert run.state == "success"
    [booked] = bookings(kraken_env)
    assert [c.executed for c in calls(kraken_env, "Withdraw")] == [False, True]
    assert run.xcom("withdraw")["refid"] == booked["refid"]


def test_resend_opt_in_never_resends_when_the_withdrawal_exists(
    run_dag: Callable[..., RunResult], kraken_env: Any
) -> None:
    lose_answer(kraken_env, "drop", executed=True)

    run = run_dag("kraken_op_withdraw_resend")

    assert run.state == "success"
    assert len(bookings(kraken_env)) == 1
    assert len(calls(kraken_env, "Withdraw")) == 1


def test_parameters_changed_between_tries_fails_without_sending(
    run_dag: Callable[..., RunResult],
    operator_dags: Any,
    kraken_env: Any,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    from airflow.models.variable import Variable

    # Try 1 sends 10 DOGE, loses the answer and dies before reconciling (retries=0 on this DAG).
    Variable.set("kraken_op_test_amount", "10")
    lose_answer(kraken_env, "drop", executed=True)
    kraken_env.admin.kraken_error("EGeneral:Permission denied", "WithdrawStatus", times=1)
    first = run_dag("kraken_op_withdraw_var_amount")
    assert first.state == "failed"
    assert first.state_store("withdraw")["kraken_withdraw_intent"]["state"] == "sending"

    # Someone edits the amount, then clears the task: the next try must refuse, not send 12.
    Variable.set("kraken_op_test_amount", "12")
    try:
        second = clear_and_rerun(first, operator_dags.DAGS["kraken_op_withdraw_var_amount"])
    finally:
        Variable.delete("kraken_op_test_amount")

    assert second.state == "failed"
    assert second.ti("withdraw").try_number == 2
    assert len(calls(kraken_env, "Withdraw")) == 1
    assert len(bookings(kraken_env)) == 1
    output = task_output(caplog, capfd)
    assert "parameters changed" in output
    assert "amount: '10' -> '12'" in output


def test_clear_and_rerun_after_success_sends_nothing(
    run_dag: Callable[..., RunResult], operator_dags: Any, kraken_env: Any
) -> None:
    first = run_dag("kraken_op_withdraw")
    again = clear_and_rerun(first, operator_dags.DAGS["kraken_op_withdraw"])

    assert first.state == again.state == "success"
    assert again.ti("withdraw").try_number == 2
    [booked] = bookings(kraken_env)
    assert len(calls(kraken_env, "Withdraw")) == 1
    assert again.xcom("withdraw")["refid"] == booked["refid"]
    assert again.xcom("withdraw")["how"] == "stored"


def test_clear_on_success_wipes_the_intent_but_the_registry_guard_sends_nothing(
    run_dag: Callable[..., RunResult],
    operator_dags: Any,
    kraken_env: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("AIRFLOW__STATE_STORE__CLEAR_ON_SUCCESS", "True")
    first = run_dag("kraken_op_withdraw")
    assert first.state == "success"
    assert first.state_store("withdraw") == {}  # Airflow wiped the intent on success

    again = clear_and_rerun(first, operator_dags.DAGS["kraken_op_withdraw"])

    assert again.state == "success"
    assert again.ti("withdraw").try_number == 2
    [booked] = bookings(kraken_env)
    assert len(calls(kraken_env, "Withdraw")) == 1
    assert again.xcom("withdraw")["refid"] == booked["refid"]
    assert "the task state store was cleared" in task_output(caplog, capfd)


def test_two_runs_with_equal_amounts_keep_their_own_refids(
    run_dag: Callable[..., RunResult], kraken_env: Any
) -> None:
    first = run_dag("kraken_op_withdraw", conf={"amount": "10"})
    lose_answer(kraken_env, "drop", executed=True)
    second = run_dag("kraken_op_withdraw", conf={"amount": "10"})

    assert first.state == second.state == "success"
    booked = {w["refid"] for w in bookings(kraken_env)}
    refids = {first.xcom("withdraw")["refid"], second.xcom("withdraw")["refid"]}
    assert len(booked) == 2
    assert refids == booked
    assert second.xcom("withdraw")["how"] == "adopted"


def test_a_lost_request_never_adopts_another_runs_withdrawal(
    run_dag: Callable[..., RunResult], kraken_env: Any
) -> None:
    first = run_dag("kraken_op_withdraw", conf={"amount": "10"})
    lose_answer(kraken_env, "drop", executed=False)
    second = run_dag("kraken_op_withdraw", conf={"amount": "10"})

    assert first.state == "success"
    assert second.state == "failed"  # its own request never executed; the other run's is claimed
    assert [w["refid"] for w in bookings(kraken_env)] == [first.xcom("withdraw")["refid"]]
    assert second.xcom("withdraw") is None


def test_several_unclaimed_matches_fail_for_a_human(
    run_dag: Callable[..., RunResult],
    kraken_env: Any,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    from airflow_provider_kraken.hooks.kraken import KrakenHook

    # A withdrawal made outside Airflow looks exactly like the one whose answer gets lost.
    KrakenHook("kraken_default").withdraw(asset="doge", key="XDG_Wallet", amount="10")
    lose_answer(kraken_env, "drop", executed=True)

    run = run_dag("kraken_op_withdraw", conf={"amount": "10"})

    assert run.state == "failed"
    assert run.ti("withdraw").try_number == 1
    assert len(bookings(kraken_env)) == 2
    assert len(calls(kraken_env, "Withdraw")) == 2  # the outside one and the task's one
    assert "AMBIGUOUS" in task_output(caplog, capfd)


@pytest.mark.parametrize(
    ("conf", "code"),
    [
        ({"key": "BTC_Wallet_missing"}, "EFunding:Unknown withdraw key"),
        ({"amount": "5000"}, "EFunding:Insufficient funds"),
        ({"amount": "3"}, "EFunding:Invalid amount"),  # not above the 4 DOGE fee
    ],
)
def test_definitive_rejection_fails_once_with_the_raw_code(
    run_dag: Callable[..., RunResult],
    kraken_env: Any,
    conf: dict[str, str],
    code: str,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    run = run_dag("kraken_op_withdraw", conf=conf)

    assert run.state == "failed"
    assert run.ti("withdraw").try_number == 1
    assert [c.outcome for c in calls(kraken_env, "Withdraw")] == [code]
    assert bookings(kraken_env) == []
    assert code in task_output(caplog, capfd)


def test_beneficiary_rejection_keeps_kraken_code(
    run_dag: Callable[..., RunResult],
    kraken_env: Any,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    kraken_env.admin.kraken_error("EGeneral:Invalid arguments:beneficiary_recipient", "Withdraw")

    run = run_dag("kraken_op_withdraw")

    assert run.state == "failed"
    assert run.ti("withdraw").try_number == 1
    assert len(calls(kraken_env, "Withdraw")) == 1
    assert "EGeneral:Invalid arguments:beneficiary_recipient" in task_output(caplog, capfd)


def test_refused_before_execution_is_retried_by_airflow(
    run_dag: Callable[..., RunResult], kraken_env: Any
) -> None:
    kraken_env.admin.rate_limit("Withdraw", times=1)  # EAPI:Rate limit exceeded: refused, not executed

    run = run_dag("kraken_op_withdraw")

    assert run.state == "success"
    assert run.ti("withdraw").try_number == 2
    assert [c.executed for c in calls(kraken_env, "Withdraw")] == [False, True]
    assert len(bookings(kraken_env)) == 1


@pytest.mark.parametrize(
    ("amount", "hint"), [("10.123456789", "more than the 8 decimals"), ("-3", "plain decimal")]
)
def test_invalid_amount_is_refused_before_any_request(
    run_dag: Callable[..., RunResult],
    kraken_env: Any,
    amount: str,
    hint: str,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    run = run_dag("kraken_op_withdraw", conf={"amount": amount})

    assert run.state == "failed"
    assert run.ti("withdraw").try_number == 1
    assert calls(kraken_env, "Withdraw") == []
    assert hint in task_output(caplog, capfd)


def test_float_amount_from_xcom_is_refused_with_a_hint(
    run_dag: Callable[..., RunResult],
    kraken_env: Any,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    run = run_dag("kraken_op_withdraw_from_xcom")

    assert run.state == "failed"
    assert run.ti("withdraw").try_number == 1
    assert calls(kraken_env, "Withdraw") == []
    output = task_output(caplog, capfd)
    assert "got float 10.5" in output
    assert "pass a decimal string" in output


@pytest.mark.parametrize("dag_id", ["kraken_op_withdraw_wait", "kraken_op_withdraw_deferred"])
def test_wait_for_completion_returns_the_final_record(
    run_dag: Callable[..., RunResult], kraken_env: Any, dag_id: str
) -> None:
    run = run_dag(dag_id)

    assert run.state == "success"
    [booked] = bookings(kraken_env)
    result = run.xcom("withdraw")
    assert result["refid"] == booked["refid"]
    assert result["status"] == "Success"
    assert result["fee"] == "4.00000000"
    assert len(calls(kraken_env, "Withdraw")) == 1
    assert run.state_store("withdraw")["kraken_withdraw_intent"]["state"] == "done"


@pytest.mark.parametrize("dag_id", ["kraken_op_withdraw_wait", "kraken_op_withdraw_deferred"])
def test_wait_for_completion_fails_when_the_withdrawal_is_cancelled(
    run_dag: Callable[..., RunResult], kraken_env: Any, dag_id: str
) -> None:
    kraken_env.admin.set_lifecycle(manual=True)
    admin = kraken_env.admin

    # The withdrawal gets cancelled on Kraken's side while the task waits.
    import threading

    def cancel_when_booked() -> None:
        for _ in range(200):
            booked = bookings(kraken_env)
            if booked:
                admin.set_withdrawal_status(booked[0]["refid"], "Failure", status_prop="canceled")
                return
            threading.Event().wait(0.1)

    canceller = threading.Thread(target=cancel_when_booked)
    canceller.start()
    try:
        run = run_dag(dag_id)
    finally:
        canceller.join()

    assert run.state == "failed"
    assert run.ti("withdraw").try_number == 1
    assert len(calls(kraken_env, "Withdraw")) == 1
    assert run.xcom("withdraw", key="refid") == bookings(kraken_env)[0]["refid"]


def test_wait_timeout_retries_the_wait_not_the_withdrawal(
    run_dag: Callable[..., RunResult], kraken_env: Any
) -> None:
    kraken_env.admin.set_lifecycle(manual=True)  # the withdrawal never completes

    run = run_dag("kraken_op_withdraw_wait_timeout")

    assert run.state == "failed"
    assert run.ti("withdraw").try_number == 2  # the retry waited again...
    assert len(calls(kraken_env, "Withdraw")) == 1  # ...and sent nothing
    [booked] = bookings(kraken_env)
    assert run.xcom("withdraw", key="refid") == booked["refid"]  # pushed before waiting


@pytest.mark.parametrize(("cancel_on_kill", "cancels"), [(False, 0), (True, 1)])
def test_on_kill_cancels_only_when_opted_in(kraken_env: Any, cancel_on_kill: bool, cancels: int) -> None:
    from airflow_provider_kraken.hooks.kraken import KrakenHook
    from airflow_provider_kraken.operators.funding import KrakenWithdrawOperator

    kraken_env.admin.set_lifecycle(manual=True)
    refid = KrakenHook("kraken_default").withdraw(asset="doge", key="XDG_Wallet", amount="10").refid
    operator = KrakenWithdrawOperator(
        task_id="withdraw", asset="doge", key="XDG_Wallet", amount="10", cancel_on_kill=cancel_on_kill
    )
    operator._refid, operator._asset_id = refid, "XXDG"  # what execute() records once the refid is known

    operator.on_kill()

    assert len(calls(kraken_env, "WithdrawCancel")) == cancels


def test_wiped_store_and_registry_still_refuse_a_second_send(
    run_dag: Callable[..., RunResult],
    operator_dags: Any,
    kraken_env: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session

    # Worst case: clear_on_success wiped the intent AND someone deleted the registry Variables.
    monkeypatch.setenv("AIRFLOW__STATE_STORE__CLEAR_ON_SUCCESS", "True")
    first = run_dag("kraken_op_withdraw")
    with create_session() as session:
        session.query(Variable).filter(Variable.key.startswith("kraken.")).delete(synchronize_session=False)

    again = clear_and_rerun(first, operator_dags.DAGS["kraken_op_withdraw"])

    assert again.state == "failed"
    assert again.ti("withdraw").try_number == 2
    assert len(calls(kraken_env, "Withdraw")) == 1
    assert len(bookings(kraken_env)) == 1
    assert "finds no record of an earlier send" in task_output(caplog, capfd)
