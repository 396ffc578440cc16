"""The sandbox world of the deployment: the default world plus the one API key Airflow uses.

The key has an OTP (so the leak scan has one to look for) and the `pro` tier, and no nonce window:
the docs call the window optional, so parallel workers must cope without one.
"""

from __future__ import annotations

import base64
import json
import secrets
import string
from dataclasses import dataclass
from typing import Any

from airflow_provider_kraken.sandbox.world import default_world_text

KEY_NAME = "airflow-deployment"
TIER = "pro"


@dataclass(frozen=True)
class DeploymentKey:
    """The API key the deployment's connection uses, with everything secret about it."""

    key: str
    secret: str
    otp: str

    @classmethod
    def generate(cls) -> DeploymentKey:
        alphabet = string.ascii_letters + string.digits
        return cls(
            key=base64.b64encode(secrets.token_bytes(42)).decode(),
            secret=base64.b64encode(secrets.token_bytes(64)).decode(),
            otp="".join(secrets.choice(alphabet) for _ in range(12)),
        )

    def connection(self, host: str, **extra: Any) -> str:
        """The connection as Airflow reads it from `AIRFLOW_CONN_KRAKEN_DEFAULT` (JSON form)."""
        return json.dumps(
            {
                "conn_type": "kraken",
                "host": host,
                "login": self.key,
                "password": self.secret,
                "extra": {"otp_password": self.otp, "rate_tier": TIER, **extra},
            }
        )


def world_text(key: DeploymentKey) -> str:
    """The default world plus the deployment key."""
    return (
        default_world_text()
        + f"""
[api_keys.{KEY_NAME}]
account = "main"
key = "{key.key}"
secret = "{key.secret}"
permissions = ["funds_query", "funds_deposit", "funds_withdraw", "ledger_query"]
tier = "{TIER}"
otp = "{key.otp}"
"""
    )
