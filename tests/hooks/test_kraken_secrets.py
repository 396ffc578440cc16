"""Secrets never reach logs, exceptions or reprs; the secret, OTP and write signatures are masked."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from airflow.sdk.log import redact

from airflow_provider_kraken import protocol
from airflow_provider_kraken.exceptions import KrakenConnectionConfigError, KrakenOutcomeUnknown
from airflow_provider_kraken.hooks.kraken import KrakenHook


@pytest.fixture
def otp_hook(kraken_sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> KrakenHook:
    creds = kraken_sandbox.admin.keys()["sandbox-otp"]
    monkeypatch.setenv(
        "AIRFLOW_CONN_KRAKEN_OTP",
        json.dumps(
            {
                "conn_type": "kraken",
                "login": creds.key,
                "password": creds.secret,
                "host": kraken_sandbox.url,
                "extra": {"otp_password": creds.otp, "rate_tier": "pro"},
            }
        ),
    )
    return KrakenHook("kraken_otp")


def test_secret_otp_and_write_signatures_are_masked(
    otp_hook: KrakenHook, kraken_sandbox: Any, kraken_signed_requests: list[protocol.SignedRequest]
) -> None:
    creds = kraken_sandbox.admin.keys()["sandbox-otp"]
    otp_hook.balance()
    otp_hook.withdraw(asset="doge", key="XDG_Wallet", amount="25")
    assert "***" in redact(f"secret={creds.secret}") and creds.secret not in redact(creds.secret)
    assert creds.otp not in redact(f"otp={creds.otp}")
    [write] = [r for r in kraken_signed_requests if r.method == "Withdraw"]
    assert write.signature not in redact(f"API-Sign: {write.signature}")


def test_no_secret_signature_or_body_in_debug_logs(
    otp_hook: KrakenHook,
    kraken_sandbox: Any,
    kraken_signed_requests: list[protocol.SignedRequest],
    caplog: pytest.LogCaptureFixture,
) -> None:
    creds = kraken_sandbox.admin.keys()["sandbox-otp"]
    kraken_sandbox.admin.drop_response("Withdraw", times=1)
    kraken_sandbox.admin.http_error(502, "Balance", times=1)
    with caplog.at_level(logging.DEBUG):
        otp_hook.balance()
        with pytest.raises(KrakenOutcomeUnknown) as info:
            otp_hook.withdraw(asset="doge", key="XDG_Wallet", amount="25")
    logged = caplog.text + str(info.value) + repr(info.value) + repr(otp_hook) + repr(otp_hook.settings)
    assert kraken_signed_requests, "the spy saw the signed requests"
    forbidden = [creds.secret, creds.otp, *(r.signature for r in kraken_signed_requests), "nonce="]
    assert [f for f in forbidden if f and f in logged] == []


def test_malformed_secret_error_names_connection_not_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_KRAKEN_BAD",
        json.dumps(
            {"conn_type": "kraken", "login": "KEY", "password": "not-base64!!", "host": "http://127.0.0.1:1"}
        ),
    )
    with pytest.raises(KrakenConnectionConfigError) as info:
        KrakenHook("kraken_bad").balance()
    assert "kraken_bad" in str(info.value) and "not-base64!!" not in str(info.value)
