"""Hook fixtures: a Kraken connection (env JSON) pointing at the sandbox, and a hook on it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from airflow_provider_kraken.hooks.kraken import KrakenHook


def connection_json(sandbox: Any, *, key_name: str | None = None, **extra: object) -> str:
    """An AIRFLOW_CONN_* JSON value for the sandbox's default key (or a named key of its world)."""
    login, password = sandbox.api_key, sandbox.api_secret
    if key_name is not None:
        creds = sandbox.admin.keys()[key_name]
        login, password = creds.key, creds.secret
    return json.dumps(
        {
            "conn_type": "kraken",
            "login": login,
            "password": password,
            "host": sandbox.url,
            "extra": {"rate_tier": "unlimited", "timeout": 5, "max_retry_seconds": 20, **extra},
        }
    )


@pytest.fixture
def kraken_conn_id(kraken_sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("AIRFLOW_CONN_KRAKEN_DEFAULT", connection_json(kraken_sandbox))
    return "kraken_default"


@pytest.fixture
def hook(kraken_conn_id: str) -> Iterator[KrakenHook]:
    hook = KrakenHook(kraken_conn_id)
    yield hook
    hook.close()


@pytest.fixture
def make_hook(kraken_sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., KrakenHook]]:
    """Build a hook on a connection with the given extras (e.g. a short timeout)."""
    made: list[KrakenHook] = []

    def make(conn_id: str = "kraken_custom", key_name: str | None = None, **extra: object) -> KrakenHook:
        monkeypatch.setenv(
            f"AIRFLOW_CONN_{conn_id.upper()}", connection_json(kraken_sandbox, key_name=key_name, **extra)
        )
        made.append(KrakenHook(conn_id))
        return made[-1]

    yield make
    for hook in made:
        hook.close()


@pytest.fixture
def calls_since(kraken_sandbox: Any) -> Callable[[], list[Any]]:
    """Return a function listing the sandbox calls made after this fixture was created."""
    existing = kraken_sandbox.admin.calls()
    start = existing[-1].seq if existing else 0
    return lambda: kraken_sandbox.admin.calls(since=start)
