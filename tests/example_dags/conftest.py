"""Fixtures for the example DAG tests: the repository root importable (for ``example_dags``), a
migrated Airflow database, and the example DAGs' connection pointed at the session's sandbox."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

if TYPE_CHECKING:
    from airflow_provider_kraken.sandbox.admin import AdminClient
    from airflow_provider_kraken.sandbox.pytest_plugin import KrakenSandbox


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """The metadata database ``dag.test()`` needs (in the isolated AIRFLOW_HOME of tests/conftest.py)."""
    from example_dags.harness.home import migrate_db

    migrate_db()


@pytest.fixture
def example_sandbox(
    kraken_sandbox: KrakenSandbox, airflow_db: None, monkeypatch: pytest.MonkeyPatch
) -> AdminClient:
    """A fresh sandbox world, with ``kraken_default`` set up exactly as the demo sets it up."""
    from example_dags.harness.connection import connection_env

    for name, value in connection_env(
        kraken_sandbox.url, kraken_sandbox.api_key, kraken_sandbox.api_secret
    ).items():
        monkeypatch.setenv(name, value)
    return kraken_sandbox.admin
