"""Provider metadata read by Airflow's ProvidersManager; imports nothing heavy.

The connection form's extra fields are built from ``connection.EXTRA_FIELDS`` (names, descriptions,
defaults), so the form and the parser cannot drift apart.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_kraken.connection import DEFAULT_BASE_URL, EXTRA_FIELDS
from airflow_provider_kraken.pacing import RATE_TIERS

PACKAGE_NAME = "airflow-provider-kraken"
CONNECTION_TYPE = "kraken"
INTEGRATION = "Kraken"
HOOK_CLASS = "airflow_provider_kraken.hooks.kraken.KrakenHook"

#: Form label of each extra field; every field of ``EXTRA_FIELDS`` must have one.
EXTRA_LABELS: dict[str, str] = {
    "otp_password": "Two-factor password (OTP)",
    "timeout": "Read timeout (s)",
    "connect_timeout": "Connect timeout (s)",
    "rate_tier": "Rate tier",
    "max_retry_seconds": "Read retry budget (s)",
}

#: Extras whose value is a secret: a password field in the form (masking itself goes by the name).
SECRET_EXTRAS = frozenset({"otp_password"})


def ui_field_behaviour() -> dict[str, Any]:
    """How the form shows Airflow's standard fields: relabelled, with placeholders, some hidden."""
    return {
        # The base URL carries scheme and port; every extra has its own field.
        "hidden-fields": ["schema", "port", "extra"],
        "relabeling": {"login": "API key", "password": "API secret (base64)", "host": "Base URL"},
        "placeholders": {
            "host": f"{DEFAULT_BASE_URL} (leave empty for Kraken; http://127.0.0.1:<port> for the sandbox)",
            "login": "API key exactly as Kraken shows it",
            "password": "API secret (base64) exactly as Kraken shows it",
        },
    }


def conn_fields() -> dict[str, dict[str, Any]]:
    """The connection form's extra fields, one per ``EXTRA_FIELDS`` entry, with type and default."""
    return {
        name: {"label": EXTRA_LABELS[name], "description": description, "schema": _schema(name, default)}
        for name, (description, default) in EXTRA_FIELDS.items()
    }


def _schema(name: str, default: Any) -> dict[str, Any]:
    if name in SECRET_EXTRAS:
        return {"type": ["string", "null"], "format": "password"}
    if name == "rate_tier":
        return {"type": ["string", "null"], "default": default, "enum": list(RATE_TIERS)}
    if isinstance(default, int | float) and not isinstance(default, bool):
        return {"type": ["number", "null"], "default": default, "exclusiveMinimum": 0}
    return {"type": ["string", "null"], "default": default}


def get_provider_info() -> dict[str, Any]:
    """Return the provider's metadata for the ``apache_airflow_provider`` entry point."""
    return {
        "package-name": PACKAGE_NAME,
        "name": "Kraken",
        "description": "Kraken funding API: deposits, withdrawals and sweeps, with exactly-once withdrawals.",
        "integrations": [
            {
                "integration-name": INTEGRATION,
                "external-doc-url": "https://docs.kraken.com/exchange/guides/rest/funding",
                "tags": ["service"],
            }
        ],
        "hooks": [
            {"integration-name": INTEGRATION, "python-modules": ["airflow_provider_kraken.hooks.kraken"]}
        ],
        "operators": [
            {"integration-name": INTEGRATION, "python-modules": ["airflow_provider_kraken.operators.funding"]}
        ],
        "sensors": [
            {"integration-name": INTEGRATION, "python-modules": ["airflow_provider_kraken.sensors.funding"]}
        ],
        "triggers": [
            {"integration-name": INTEGRATION, "python-modules": ["airflow_provider_kraken.triggers.funding"]}
        ],
        "connection-types": [
            {
                "connection-type": CONNECTION_TYPE,
                "hook-class-name": HOOK_CLASS,
                "hook-name": "Kraken",
                "ui-field-behaviour": ui_field_behaviour(),
                "conn-fields": conn_fields(),
            }
        ],
    }
