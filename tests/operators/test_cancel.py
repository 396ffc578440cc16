"""KrakenWithdrawCancelOperator: reports the resulting state and never sends a second cancel blindly."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from operator_helpers import RunResult, bookings, calls, task_output

pytestmark = pytest.mark.dag


@pytest.fixture
def slow_withdrawals(kraken_env: Any) -> Any:
    """Withdrawals stay Initial (cancellable) for a minute, then move on as usual."""
    kraken_env.admin.set_lifecycle(withdraw_initial_seconds=60)
    return kraken_env


def test_cancel_is_requested_once_and_reported(
    run_dag: Callable[..., RunResult], slow_withdrawals: Any
) -> None:
    kraken_env = slow_withdrawals
    run = run_dag("kraken_op_withdraw_then_cancel")

    assert run.state == "success"
    [booked] = bookings(kraken_env)
    result = run.xcom("cancel")
    assert result["refid"] == booked["refid"]
    assert result["state"] in ("cancel-pending", "canceled")
    assert result["how"] == "received"
    assert len(calls(kraken_env, "WithdrawCancel")) == 1


def test_lost_cancel_answer_reads_the_status_instead_of_cancelling_again(
    run_dag: Callable[..., RunResult], slow_withdrawals: Any
) -> None:
    kraken_env = slow_withdrawals
    kraken_env.admin.drop_response("WithdrawCancel", execute=True)

    run = run_dag("kraken_op_withdraw_then_cancel")

    assert run.state == "success"
    assert len(calls(kraken_env, "WithdrawCancel")) == 1
    assert run.xcom("cancel")["state"] in ("cancel-pending", "canceled")
    assert run.xcom("cancel")["how"] == "adopted"


def test_lost_cancel_that_never_arrived_is_not_sent_again(
    run_dag: Callable[..., RunResult],
    kraken_env: Any,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    kraken_env.admin.set_lifecycle(manual=True)  # the withdrawal stays cancellable (Initial)
    kraken_env.admin.drop_response("WithdrawCancel", execute=False)

    run = run_dag("kraken_op_withdraw_then_cancel")

    assert run.state == "failed"
    assert run.ti("cancel").try_number == 1
    assert len(calls(kraken_env, "WithdrawCancel")) == 1
    [booked] = bookings(kraken_env)
    assert booked["status"] == "Initial"
    assert "OUTCOME UNKNOWN" in task_output(caplog, capfd)


def test_too_late_is_reported_not_retried(run_dag: Callable[..., RunResult], kraken_env: Any) -> None:
    kraken_env.admin.set_lifecycle(withdraw_initial_seconds=0.01)  # processed before the cancel arrives

    run = run_dag("kraken_op_withdraw_then_cancel")

    assert run.state == "success"  # this DAG sets fail_if_too_late=False
    result = run.xcom("cancel")
    assert result["state"] == "too-late"
    assert result["how"] == "refused"
    assert result["status"] in ("Pending", "Success")
    assert len(calls(kraken_env, "WithdrawCancel")) == 1
