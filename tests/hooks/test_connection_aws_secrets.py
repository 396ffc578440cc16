"""Connections stored in AWS Secrets Manager, read through Airflow's SecretsManagerBackend (moto).

Airflow's backend keeps only the standard fields of a JSON secret (login, password, host, ...) and
drops every other key, so a secret written with ``api_key``/``api_secret`` must fail loudly.
"""

from __future__ import annotations

import base64
import json
import os
import urllib.parse
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import boto3
import pytest
from airflow.sdk.configuration import clear_secrets_backends_cache
from moto import mock_aws

from airflow_provider_kraken.exceptions import KrakenConnectionConfigError
from airflow_provider_kraken.hooks.kraken import KrakenHook

REGION = "us-east-1"
PREFIX = "airflow/connections"
KEY_NAME = "conn-aws-otp"


def own_key(permissions: list[str], otp: str | None = None) -> dict[str, Any]:
    """A world API key only this module uses, with '+' and '/' in key and secret ('=' ends the secret).

    The hook paces calls per key in each process, so keys shared between test modules would share
    one pacer (at the strictest rate tier any of them named);
    a key of its own keeps this module independent of the others.
    """
    return {
        "key": base64.b64encode(b"\xfb\xff" + os.urandom(40)).decode(),
        "secret": base64.b64encode(b"\xfb\xff" + os.urandom(62)).decode(),
        "permissions": permissions,
        "otp": otp,
    }


pytestmark = pytest.mark.kraken_world(
    overrides={
        "api_keys": {
            KEY_NAME: own_key(
                ["funds_query", "funds_deposit", "funds_withdraw", "ledger_query"], otp="Otp-aws-2741"
            )
        }
    }
)

# --8<-- [start:aws-backend]
# airflow.cfg [secrets] (or AIRFLOW__SECRETS__BACKEND / AIRFLOW__SECRETS__BACKEND_KWARGS)
SECRETS_BACKEND = "airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend"
SECRETS_BACKEND_KWARGS = {
    "connections_prefix": "airflow/connections",  # the secret of conn id X is airflow/connections/X
    "variables_prefix": None,
    "config_prefix": None,
    "region_name": "us-east-1",
}
# --8<-- [end:aws-backend]


# --8<-- [start:aws-secret]
def kraken_secret_string(api_key: str, api_secret: str, otp: str | None = None, host: str = "") -> str:
    """The SecretString of airflow/connections/kraken_default: Airflow's standard field names only."""
    extra = {"otp_password": otp} if otp else {}
    return json.dumps(
        {"conn_type": "kraken", "login": api_key, "password": api_secret, "host": host, "extra": extra}
    )


# --8<-- [end:aws-secret]


@pytest.fixture
def secrets_manager(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A moto Secrets Manager configured as Airflow's secrets backend; yields a boto3 client."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AIRFLOW__SECRETS__BACKEND": SECRETS_BACKEND,
        "AIRFLOW__SECRETS__BACKEND_KWARGS": json.dumps(SECRETS_BACKEND_KWARGS),
    }.items():
        monkeypatch.setenv(name, value)
    clear_secrets_backends_cache()
    with mock_aws():
        yield boto3.client("secretsmanager", region_name=REGION)
    clear_secrets_backends_cache()


@pytest.fixture
def otp_key(kraken_sandbox: Any) -> Any:
    creds = kraken_sandbox.world_key(KEY_NAME)
    assert {"+", "/", "="} <= set(creds.secret)
    return creds


def store(client: Any, conn_id: str, value: object) -> KrakenHook:
    """Store a secret for ``conn_id`` and return a hook on it."""
    text = value if isinstance(value, str) else json.dumps(value)
    client.create_secret(Name=f"{PREFIX}/{conn_id}", SecretString=text)
    return KrakenHook(conn_id)


def check_signed_call(hook: KrakenHook, kraken_sandbox: Any) -> None:
    try:
        assert hook.balance()["XXDG"] == Decimal("100")
    finally:
        hook.close()
    [call] = kraken_sandbox.admin.calls(method="Balance")[-1:]
    assert (call.key_name, call.outcome) == (KEY_NAME, "ok")


@pytest.mark.parametrize(
    "extra_form",
    ["object", "string"],
    ids=["extra-object", "extra-string"],
)
def test_json_secret_with_standard_names(
    secrets_manager: Any, kraken_sandbox: Any, otp_key: Any, extra_form: str
) -> None:
    extra = {"otp_password": otp_key.otp, "rate_tier": "pro"}
    hook = store(
        secrets_manager,
        f"kraken_sm_{extra_form}",
        {
            "conn_type": "kraken",
            "login": otp_key.key,
            "password": otp_key.secret,
            "host": kraken_sandbox.url,
            "extra": extra if extra_form == "object" else json.dumps(extra),
        },
    )
    assert (hook.settings.otp, hook.settings.rate_tier) == (otp_key.otp, "pro")
    check_signed_call(hook, kraken_sandbox)


def test_documented_secret(secrets_manager: Any, kraken_sandbox: Any, otp_key: Any) -> None:
    value = kraken_secret_string(otp_key.key, otp_key.secret, otp=otp_key.otp, host=kraken_sandbox.url)
    hook = store(secrets_manager, "kraken_default", value)
    assert hook.settings.otp == otp_key.otp
    check_signed_call(hook, kraken_sandbox)


def test_json_secret_with_backend_aliases(secrets_manager: Any, kraken_sandbox: Any, otp_key: Any) -> None:
    """The backend's own aliases (user, pass, remote_host) are standard names too."""
    hook = store(
        secrets_manager,
        "kraken_sm_alias",
        {
            "conn_type": "kraken",
            "user": otp_key.key,
            "pass": otp_key.secret,
            "remote_host": kraken_sandbox.url,
            "extra": {"otp_password": otp_key.otp},
        },
    )
    check_signed_call(hook, kraken_sandbox)


def test_uri_secret_with_url_encoded_secret(secrets_manager: Any, kraken_sandbox: Any, otp_key: Any) -> None:
    key, secret = (urllib.parse.quote(part, safe="") for part in (otp_key.key, otp_key.secret))
    netloc = urllib.parse.urlsplit(kraken_sandbox.url).netloc
    hook = store(
        secrets_manager, "kraken_sm_uri", f"kraken://{key}:{secret}@{netloc}?otp_password={otp_key.otp}"
    )
    assert hook.settings.base_url == kraken_sandbox.url
    check_signed_call(hook, kraken_sandbox)


@pytest.mark.parametrize(
    ("names", "missing"),
    [
        ({"api_key": "key", "api_secret": "secret"}, "no API key (login)"),
        ({"login": "key", "api_secret": "secret"}, "no API secret (password)"),
        ({"key_id": "key", "secret": "secret"}, "no API key (login)"),
    ],
    ids=["api_key+api_secret", "login+api_secret", "key_id+secret"],
)
def test_non_standard_names_get_a_clear_error(
    secrets_manager: Any, kraken_sandbox: Any, otp_key: Any, names: dict[str, str], missing: str
) -> None:
    values = {"key": otp_key.key, "secret": otp_key.secret}
    stored = {name: values[role] for name, role in names.items()}
    before = kraken_sandbox.admin.calls()
    hook = store(
        secrets_manager, "kraken_sm_custom", {"conn_type": "kraken", "host": kraken_sandbox.url, **stored}
    )
    with pytest.raises(KrakenConnectionConfigError) as raised:
        hook.balance()
    message = str(raised.value)
    assert message.startswith("Malformed Kraken connection 'kraken_sm_custom': ")
    assert missing in message
    # It names the accepted shapes, and never a value.
    assert '"login": "<key>", "password": "<secret>"' in message
    assert "kraken://<key>:<url-encoded secret>@<host>" in message
    assert "api_key/api_secret are not read" in message
    assert otp_key.secret not in message and otp_key.key not in message
    assert kraken_sandbox.admin.calls() == before
