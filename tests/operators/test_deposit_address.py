"""KrakenDepositAddressOperator: listing, and new=True created exactly once even when the answer is lost."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from operator_helpers import RunResult, calls, task_output

pytestmark = pytest.mark.dag


def created_addresses(sandbox: Any) -> list[str]:
    return [a["address"] for a in sandbox.admin.account().addresses if a["asset"] == "XXDG"]


def fault_on_creation(sandbox: Any, fault: str, *, execute: bool) -> None:
    """Arm ``fault`` for the creating call: the listing that precedes it uses up a harmless delay."""
    sandbox.admin.delay(0.01, "DepositAddresses")  # faults fire first-added-first
    getattr(sandbox.admin, fault)("DepositAddresses", execute=execute)


def new_address_calls(sandbox: Any) -> list[Any]:
    return [c for c in calls(sandbox, "DepositAddresses") if c.params.get("new", "").lower() == "true"]


def test_new_address_is_created_and_returned(run_dag: Callable[..., RunResult], kraken_env: Any) -> None:
    run = run_dag("kraken_op_deposit_address")

    assert run.state == "success"
    [address] = created_addresses(kraken_env)
    result = run.xcom("address")
    assert result["address"] == address
    assert result["asset"] == "XXDG"
    assert result["method"] == "Dogecoin"
    assert result["how"] == "received"
    assert len(new_address_calls(kraken_env)) == 1


@pytest.mark.parametrize("fault", ["drop_response", "service_unavailable"])
def test_lost_answer_adopts_the_address_it_created(
    run_dag: Callable[..., RunResult], kraken_env: Any, fault: str
) -> None:
    fault_on_creation(kraken_env, fault, execute=True)

    run = run_dag("kraken_op_deposit_address")

    assert run.state == "success"
    [address] = created_addresses(kraken_env)
    assert len(new_address_calls(kraken_env)) == 1
    assert run.xcom("address")["address"] == address
    assert run.xcom("address")["how"] == "adopted"


def test_lost_answer_without_creation_fails_without_creating_one(
    run_dag: Callable[..., RunResult],
    kraken_env: Any,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    fault_on_creation(kraken_env, "drop_response", execute=False)

    run = run_dag("kraken_op_deposit_address")

    assert run.state == "failed"
    assert run.ti("address").try_number == 1
    assert created_addresses(kraken_env) == []
    assert len(new_address_calls(kraken_env)) == 1
    assert "OUTCOME UNKNOWN" in task_output(caplog, capfd)


def test_listing_returns_an_existing_address_without_creating_one(
    run_dag: Callable[..., RunResult], kraken_env: Any
) -> None:
    first = run_dag("kraken_op_deposit_address")
    listed = run_dag("kraken_op_deposit_address_list")

    assert listed.state == "success"
    assert listed.xcom("address")["address"] == first.xcom("address")["address"]
    assert listed.xcom("address")["how"] == "listed"
    assert len(new_address_calls(kraken_env)) == 1
