"""Test-wide setup: an isolated AIRFLOW_HOME (set before anything imports airflow) and shared fixtures."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="kraken-airflow-home-"))
os.environ["AIRFLOW_HOME"] = str(_AIRFLOW_HOME)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(ROOT / "example_dags")
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")
os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "INFO")


@pytest.fixture(autouse=True)
def _fresh_call_counters(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test's sandbox world starts with fresh rate counters, so the client's mirror of them does too."""
    from airflow_provider_kraken import pacing

    pacing._PACERS.clear()
    monkeypatch.setattr(pacing, "HOST_STATE_DIR", str(tmp_path_factory.mktemp("pacing")))


@pytest.fixture
def kraken_signed_requests(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every request the hook signs, spied on (they still go over real HTTP to the sandbox)."""
    from airflow_provider_kraken import protocol
    from airflow_provider_kraken.hooks import kraken as kraken_module

    seen: list[protocol.SignedRequest] = []

    def spy(*args: Any, **kwargs: Any) -> protocol.SignedRequest:
        request = protocol.encode_private(*args, **kwargs)
        seen.append(request)
        return request

    monkeypatch.setattr(kraken_module, "encode_private", spy)
    return seen
