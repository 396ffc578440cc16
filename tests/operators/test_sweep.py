"""KrakenSweepOperator through real task runs: sizing from BalanceEx, skips, and the exactly-once path."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from operator_helpers import RunResult, bookings, calls, task_output

pytestmark = pytest.mark.dag


def test_sweeps_what_sits_above_the_reserve(run_dag: Callable[..., RunResult], kraken_env: Any) -> None:
    kraken_env.admin.set_balance("XXDG", "1000", hold_trade="100")  # available = 900

    run = run_dag("kraken_op_sweep", conf={"reserve": "50"})

    assert run.state == "success"
    [booked] = bookings(kraken_env)
    result = run.xcom("sweep")
    assert result["refid"] == booked["refid"]
    assert result["amount"] == "850"
    assert result["fee"] == "4.00000000"
    assert [c.params["amount"] for c in calls(kraken_env, "Withdraw")] == ["850"]
    assert [c.method for c in calls(kraken_env, "WithdrawInfo")] == ["WithdrawInfo"]


@pytest.mark.parametrize(
    ("conf", "reason"),
    [
        ({"reserve": "1000"}, "nothing above the reserve"),
        ({"reserve": "995", "min_amount": "1"}, "below the method minimum 10"),
        ({"reserve": "985"}, "below min_amount 20"),
    ],
)
def test_skips_with_a_clear_log_line_when_nothing_is_worth_sending(
    run_dag: Callable[..., RunResult],
    kraken_env: Any,
    conf: dict[str, str],
    reason: str,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    run = run_dag("kraken_op_sweep", conf=conf)

    assert run.ti("sweep").state == "skipped"
    assert calls(kraken_env, "Withdraw") == []
    assert bookings(kraken_env) == []
    output = task_output(caplog, capfd)
    assert "Nothing worth sweeping" in output
    assert reason in output


def test_retry_after_a_lost_answer_reconciles_the_first_amount_instead_of_resizing(
    run_dag: Callable[..., RunResult], kraken_env: Any
) -> None:
    # After the lost Withdraw executed only the reserve is left: re-sizing would skip (or worse).
    kraken_env.admin.drop_response("Withdraw", execute=True)
    kraken_env.admin.kraken_error("EGeneral:Permission denied", "WithdrawStatus", times=1)

    run = run_dag("kraken_op_sweep", conf={"reserve": "50"})

    assert run.state == "success"
    assert run.ti("sweep").try_number == 2
    [booked] = bookings(kraken_env)
    assert len(calls(kraken_env, "Withdraw")) == 1
    assert len(calls(kraken_env, "BalanceEx")) == 1  # sized once, on the first try
    assert run.xcom("sweep")["refid"] == booked["refid"]
    assert run.xcom("sweep")["amount"] == "950"
