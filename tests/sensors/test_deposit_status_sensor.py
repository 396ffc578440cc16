"""KrakenDepositStatusSensor end to end under dag.test(), in poke, reschedule and deferrable mode."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from trigger_helpers import UNPACED

pytestmark = [UNPACED, pytest.mark.dag]
MODES = ("poke", "reschedule", "deferrable")
ADDRESS = "DFSHkVSQycPZDu8CkiNvx8ymHKHoMLteUD"


@pytest.mark.parametrize("mode", MODES)
def test_by_refid_waits_for_all_confirmations(
    mode: str, run_dag: Callable[..., Any], manual: Any, after_polls: Any
) -> None:
    manual.inject_deposit("XXDG", "250", method="Dogecoin", refid="DEP-1")
    with after_polls("DepositStatus", 2, lambda: manual.set_deposit_status("DEP-1", "Success")) as release:
        outcome = run_dag(f"kraken_test_deposit_{mode}_wait", refid="DEP-1")
    assert release.done.is_set()
    assert (outcome.run_state, outcome.task_state) == ("success", "success")
    assert (outcome.xcom["refid"], outcome.xcom["status"], outcome.xcom["amount"]) == (
        "DEP-1",
        "Success",
        "250.00000000",
    )


@pytest.mark.parametrize("mode", MODES)
def test_settled_is_enough_when_asked(mode: str, run_dag: Callable[..., Any], manual: Any) -> None:
    manual.inject_deposit("XXDG", "250", method="Dogecoin", txid="tx-settled")
    outcome = run_dag(f"kraken_test_deposit_{mode}_settled", txid="tx-settled")
    assert (outcome.task_state, outcome.xcom["status"], outcome.xcom["txid"]) == (
        "success",
        "Settled",
        "tx-settled",
    )


@pytest.mark.parametrize("mode", MODES)
def test_matched_by_method_address_and_minimum_after_a_time(
    mode: str, run_dag: Callable[..., Any], manual: Any, after_polls: Any
) -> None:
    since = int(manual.clock().now)
    manual.inject_deposit("XXDG", "9.99999999", method="Dogecoin", address=ADDRESS, status="Success")

    def arrives() -> None:
        manual.inject_deposit(
            "XXDG", "10", method="Dogecoin", address=ADDRESS, refid="DEP-OK", status="Success"
        )

    with after_polls("DepositStatus", 2, arrives):
        outcome = run_dag(
            f"kraken_test_deposit_{mode}_wait",
            method="Dogecoin",
            address=ADDRESS,
            min_amount="10",
            since=str(since),
        )
    assert (outcome.task_state, outcome.xcom["refid"], outcome.xcom["amount"]) == (
        "success",
        "DEP-OK",
        "10.00000000",
    )


@pytest.mark.parametrize("mode", MODES)
def test_failure_fails(mode: str, run_dag: Callable[..., Any], manual: Any, after_polls: Any) -> None:
    manual.inject_deposit("XXDG", "250", method="Dogecoin", refid="DEP-2")
    with after_polls("DepositStatus", 2, lambda: manual.set_deposit_status("DEP-2", "Failure")):
        outcome = run_dag(f"kraken_test_deposit_{mode}_wait", refid="DEP-2")
    assert (outcome.run_state, outcome.task_state, outcome.xcom) == ("failed", "failed", None)


@pytest.mark.parametrize("mode", MODES)
def test_timeout_when_nothing_arrives(mode: str, run_dag: Callable[..., Any], manual: Any) -> None:
    outcome = run_dag(
        f"kraken_test_deposit_{mode}_timeout", address=ADDRESS, since=str(int(manual.clock().now))
    )
    assert (outcome.run_state, outcome.task_state) == ("failed", "failed")
