"""Fixtures of the deployment suite: one Airflow deployment shared by every scenario.

Module-scoped: the scenarios live in one module, and the deployment stops as soon as they are done
instead of idling through the rest of the test session.
"""

from __future__ import annotations

import atexit
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kraken_deployment import Deployment
from kraken_deployment.report import REPORT

from airflow_provider_kraken.hooks.kraken import KrakenHook

DAGS_FOLDER = Path(__file__).resolve().parent / "dags"
DAG_IDS = sorted(path.stem for path in DAGS_FOLDER.glob("kraken_*.py"))
"""Each DAG file defines one DAG whose id is the file's name."""


@pytest.fixture(scope="module")
def deployment() -> Iterator[Deployment]:
    """PostgreSQL, API server, scheduler, dag-processor, triggerer and sandbox, up for the module."""
    started = time.monotonic()
    deployed = Deployment(DAGS_FOLDER)
    atexit.register(deployed.stop)
    try:
        deployed.start(DAG_IDS)
        REPORT.append(f"deployment up in {time.monotonic() - started:.1f} s ({deployed.timings})")
        yield deployed
    finally:
        stopping = time.monotonic()
        leftovers = deployed.stop()
        atexit.unregister(deployed.stop)
        REPORT.append(
            f"deployment stopped in {time.monotonic() - stopping:.1f} s; "
            f"total {time.monotonic() - started:.1f} s; leftover processes killed: {leftovers or 'none'}"
        )


@pytest.fixture(scope="module")
def setup_hook(deployment: Deployment) -> Iterator[KrakenHook]:
    """A hook on the sandbox's unlimited-tier setup key (same account), for arranging scenarios.

    It talks to the sandbox directly, with its own key, so it neither counts against the deployment
    key's rate limit nor shows up among the deployment's signatures.
    """
    assert deployment.sandbox is not None
    connection = {
        "conn_type": "kraken",
        "host": deployment.sandbox.url,
        "login": deployment.sandbox.setup_key,
        "password": deployment.sandbox.setup_secret,
        "extra": {"rate_tier": "unlimited"},
    }
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIRFLOW_CONN_KRAKEN_SETUP", json.dumps(connection))
        hook = KrakenHook(kraken_conn_id="kraken_setup")
        yield hook
        hook.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Report how long the deployment took, also when every test passed."""
    if REPORT:
        terminalreporter.section("Airflow deployment")
        for line in REPORT:
            terminalreporter.write_line(line)
