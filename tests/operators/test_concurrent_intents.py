"""Two task instances withdrawing equal amounts to one key at the same moment, answers lost.

``dag.test()`` runs tasks one after another, so this drives the exactly-once protocol directly from
two threads: real hooks against the sandbox, the real protocol, and the registry on a thread-safe
stand-in for Airflow Variables (Variables need a running task). Whatever the interleaving, no
refid may be adopted twice and nothing may be guessed.
"""

from __future__ import annotations

import logging
import threading
from decimal import Decimal
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException
from operator_helpers import MemoryVariables, bookings, calls

from airflow_provider_kraken.hooks.kraken import KrakenHook
from airflow_provider_kraken.operators.claims import ClaimRegistry, Owner
from airflow_provider_kraken.operators.intents import IntentStore, new_intent
from airflow_provider_kraken.operators.once import ReconcilePolicy, WithdrawOnce

REQUEST = {"asset": "XXDG", "key": "XDG_Wallet", "amount": "10", "address": None, "max_fee": None}


class MemoryStateStore:
    """One task instance's task_state_store."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def set(self, key: str, value: Any, *, retention: Any = None) -> None:
        self.data[key] = value


@pytest.fixture
def conn(kraken_sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    extra = {"rate_tier": "pro", "timeout": 2, "max_retry_seconds": 3}
    for name, value in kraken_sandbox.connection_env("kraken_default", extra=extra).items():
        monkeypatch.setenv(name, value)
    kraken_sandbox.admin.set_balance("XXDG", "1000")
    return kraken_sandbox


def withdraw_concurrently(count: int) -> list[str | Exception]:
    """Run ``count`` task instances' withdrawals at once; each returns its refid or its failure."""
    variables = MemoryVariables()
    barrier = threading.Barrier(count)
    results: list[str | Exception] = [RuntimeError("did not finish")] * count

    def task_instance(n: int) -> None:
        owner = Owner("kraken_concurrency", f"run_{n}", "withdraw")
        once = WithdrawOnce(
            KrakenHook("kraken_default"),
            store=IntentStore(MemoryStateStore(), "kraken_withdraw_intent"),
            registry=ClaimRegistry("withdraw", ("XXDG", "XDG_Wallet"), owner, variables=variables),
            policy=ReconcilePolicy(grace=2.0, skew=30.0),
            try_number=1,
            log=logging.getLogger(f"ti{n}"),
        )
        intent = new_intent("withdraw", {**REQUEST, "amount": Decimal("10")}, REQUEST)
        barrier.wait()
        try:
            results[n] = once.complete(intent).result
        except AirflowFailException as exc:
            results[n] = exc

    threads = [threading.Thread(target=task_instance, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_one_lost_answer_among_concurrent_equal_withdrawals_adopts_its_own(conn: Any) -> None:
    conn.admin.drop_response("Withdraw", execute=True, times=1)

    results = withdraw_concurrently(2)

    booked = {w["refid"] for w in bookings(conn)}
    assert len(calls(conn, "Withdraw")) == 2
    assert len(booked) == 2
    assert sorted(results) == sorted(booked)  # both succeed, each with a different booking


def test_all_answers_lost_never_adopt_one_withdrawal_twice(conn: Any) -> None:
    conn.admin.drop_response("Withdraw", execute=True, times=3)

    results = withdraw_concurrently(3)

    booked = {w["refid"] for w in bookings(conn)}
    assert len(booked) == 3
    adopted = [r for r in results if isinstance(r, str)]
    failed = [r for r in results if not isinstance(r, str)]
    assert len(adopted) == len(set(adopted))  # never the same refid twice
    assert set(adopted) <= booked
    assert all("AMBIGUOUS" in str(exc) for exc in failed)  # the rest wait for a human, never guess
