"""Operator fixtures: a migrated Airflow DB, a DAG bundle for tests/operators/dags, a sandbox
connection, and helpers that run a DAG with ``dag.test()`` and read what it left behind."""

from __future__ import annotations

import importlib.util
import json
import logging
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from operator_helpers import RunResult, new_logical_date

DAGS_DIR = Path(__file__).parent / "dags"
DAG_FILE = DAGS_DIR / "kraken_operator_dags.py"
BUNDLES = [
    {"name": "dags-folder", "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle", "kwargs": {}},
    {
        "name": "kraken-operator-tests",
        "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
        "kwargs": {"path": str(DAGS_DIR), "refresh_interval": 0},
    },
]
CONN_EXTRA = {"rate_tier": "pro", "timeout": 2, "connect_timeout": 2, "max_retry_seconds": 3}


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """The session's metadata DB (SQLite under the test AIRFLOW_HOME), migrated once."""
    from airflow.utils import db

    db.initdb()


@pytest.fixture(scope="session")
def operator_dags() -> ModuleType:
    """The test DAG file, imported once (dag.test() runs these objects; the bundle serialises them)."""
    spec = importlib.util.spec_from_file_location("kraken_operator_dags", DAG_FILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def kraken_env(airflow_db: None, kraken_sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A fresh sandbox (DOGE balance 1000), the default connection, our DAG bundle, an empty registry."""
    monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", json.dumps(BUNDLES))
    for name, value in kraken_sandbox.connection_env("kraken_default", extra=CONN_EXTRA).items():
        monkeypatch.setenv(name, value)
    kraken_sandbox.admin.set_balance("XXDG", "1000")
    _clear_registry()
    yield kraken_sandbox
    _clear_registry()


def _clear_registry() -> None:
    """Registry entries of earlier tests would be rivals of this one's (same key, overlapping time)."""
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session

    with create_session() as session:
        session.query(Variable).filter(Variable.key.startswith("kraken.")).delete(synchronize_session=False)


@pytest.fixture
def run_dag(
    operator_dags: ModuleType, kraken_env: Any, caplog: pytest.LogCaptureFixture
) -> Callable[..., RunResult]:
    """Run one of the test DAGs with dag.test(); pass ``logical_date`` again to Clear and re-run a run."""
    caplog.set_level(logging.INFO)

    def run(
        dag_id: str, *, conf: dict[str, Any] | None = None, logical_date: datetime | None = None
    ) -> RunResult:
        dag = operator_dags.DAGS[dag_id]
        date = logical_date or new_logical_date()
        # The run id comes from run_after: the same date means the same run, cleared and re-run.
        return RunResult(dag.test(logical_date=date, run_after=date, run_conf=conf))

    return run
