"""Sensor fixtures: this folder's DAGs as an extra bundle, a metadata DB, and a sandbox connection."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
DAGS = HERE / "dags"
# The status proxy (a test double for statuses Kraken may add) lives with the trigger tests.
sys.path.insert(0, str(HERE.parent / "triggers"))

CONN_ID = "kraken_default"
FULL_KEY = "sandbox-full"
#: The DAG bundles while these tests run: the configured DAGs folder, plus this folder's test DAGs.
BUNDLES = json.dumps(
    [
        {
            "name": "dags-folder",
            "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
            "kwargs": {},
        },
        {
            "name": "kraken-sensor-tests",
            "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
            "kwargs": {"path": str(DAGS)},
        },
    ]
)


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """A metadata DB in the session's AIRFLOW_HOME (dag.test() needs one)."""
    from airflow.utils.db import initdb

    initdb()


@pytest.fixture
def conn_id(kraken_sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """The default connection on the world's full key (unpaced), with a short read-retry budget."""
    extra = {"rate_tier": "unlimited", "timeout": 5, "max_retry_seconds": 1}
    for name, value in kraken_sandbox.connection_env(CONN_ID, FULL_KEY, extra=extra).items():
        monkeypatch.setenv(name, value)
    return CONN_ID


@pytest.fixture
def manual(kraken_sandbox: Any) -> Any:
    """The sandbox with automatic status progression off: only the admin API moves records."""
    kraken_sandbox.admin.set_lifecycle(manual=True)
    return kraken_sandbox.admin


@pytest.fixture
def withdraw(conn_id: str, kraken_sandbox: Any) -> Callable[..., str]:
    """Make a real DOGE withdrawal through the hook and return its refid."""
    from airflow_provider_kraken.hooks.kraken import KrakenHook

    kraken_sandbox.admin.set_balance("XXDG", "100000")
    hook = KrakenHook(conn_id)
    return lambda amount="20": hook.withdraw(asset="doge", key="XDG_Wallet", amount=amount).refid


@dataclass
class Outcome:
    """What a dag.test() run ended with."""

    run_state: str
    task_state: str
    xcom: Any


@pytest.fixture
def run_dag(airflow_db: None, conn_id: str, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Outcome]:
    """Run one of this folder's DAGs with dag.test() and the given conf; report states and the XCom."""
    monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", BUNDLES)
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    bag = DagBag(dag_folder=DAGS)

    def run(dag_id: str, **conf: Any) -> Outcome:
        dag_run = bag.dags[dag_id].test(run_conf=conf)
        [ti] = dag_run.get_task_instances()
        with create_session() as session:
            rows = session.scalars(
                XComModel.get_many(run_id=dag_run.run_id, dag_ids=dag_id, key="return_value")
            ).all()
            xcom = XComModel.deserialize_value(rows[0]) if rows else None
        return Outcome(str(dag_run.state), str(ti.state), xcom)

    return run


class AfterPolls:
    """Run an admin action in the background once the sandbox has logged ``polls`` calls of ``method``."""

    def __init__(self, admin: Any, method: str, polls: int, action: Callable[[], Any]) -> None:
        calls = admin.calls()
        self._since = calls[-1].seq if calls else 0
        self._admin, self._method, self._polls, self._action = admin, method, polls, action
        self.done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        give_up = time.monotonic() + 60
        while time.monotonic() < give_up:
            if len(self._admin.calls(since=self._since, method=self._method)) >= self._polls:
                self._action()
                self.done.set()
                return
            time.sleep(0.05)

    def __enter__(self) -> AfterPolls:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._thread.join(timeout=60)


@pytest.fixture
def after_polls(manual: Any) -> Callable[..., AfterPolls]:
    """``with after_polls("WithdrawStatus", 2, action): ...`` runs ``action`` once the wait looked twice."""
    return lambda method, polls, action: AfterPolls(manual, method, polls, action)
