"""The Airflow connection the example DAGs use (``kraken_default``), pointed at a sandbox."""

from __future__ import annotations

from airflow_provider_kraken.sandbox.pytest_plugin import kraken_connection_json

CONN_ID = "kraken_default"
#: The sandbox's own key is on Kraken's "pro" tier; saying so lets the hook pace calls as for that tier.
EXTRA = {"rate_tier": "pro"}


def connection_env(url: str, api_key: str, api_secret: str) -> dict[str, str]:
    """``{"AIRFLOW_CONN_KRAKEN_DEFAULT": <JSON>}`` for a sandbox, ready for ``os.environ``."""
    return {f"AIRFLOW_CONN_{CONN_ID.upper()}": kraken_connection_json(url, api_key, api_secret, EXTRA)}
