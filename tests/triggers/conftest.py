"""Trigger fixtures: a connection to the sandbox and withdrawals to wait on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_kraken.hooks.kraken import KrakenHook

CONN_ID = "kraken_default"
FULL_KEY = "sandbox-full"


@pytest.fixture
def conn_id(kraken_sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """The default connection on the world's full key (unpaced: see UNPACED), short read-retry budget."""
    extra = {"rate_tier": "unlimited", "timeout": 5, "max_retry_seconds": 3}
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
    kraken_sandbox.admin.set_balance("XXDG", "100000")
    hook = KrakenHook(conn_id)

    def make(amount: str = "20") -> str:
        return hook.withdraw(asset="doge", key="XDG_Wallet", amount=amount).refid

    return make
