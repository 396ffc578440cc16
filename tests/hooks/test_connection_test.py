"""``KrakenHook.test_connection()`` (the UI's Test button) against the sandbox's keys, one per outcome."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_kraken.exceptions import KrakenEGeneralError
from airflow_provider_kraken.hooks.kraken import KrakenHook


@pytest.fixture
def connect(kraken_sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Build a hook for a world key by name, optionally with another key's secret or an OTP."""
    keys = kraken_sandbox.admin.keys()
    made: list[KrakenHook] = []

    def make(
        name: str, *, key: str | None = None, secret_of: str | None = None, otp: str | None = None
    ) -> KrakenHook:
        creds = keys[name]
        conn_id = f"kraken_{len(made)}"
        value = {
            "conn_type": "kraken",
            "login": key or creds.key,
            "password": keys[secret_of or name].secret,
            "host": kraken_sandbox.url,
            # The sandbox's own tier: the hook's process-wide pacer keeps the first tier it sees per key.
            "extra": {"rate_tier": "unlimited", **({"otp_password": otp} if otp else {})},
        }
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(value))
        made.append(KrakenHook(conn_id))
        return made[-1]

    yield make
    for hook in made:
        hook.close()


def test_success_with_every_funding_permission(connect: Any) -> None:
    assert connect("sandbox-full").test_connection() == (
        True,
        "Connected; the key can query funds and withdraw",
    )


def test_unknown_key(connect: Any, kraken_sandbox: Any) -> None:
    ok, message = connect("sandbox-full", key="UnknownKey" + "A" * 46).test_connection()
    assert not ok
    assert message.startswith("Kraken does not know this API key (EAPI:Invalid key)")
    assert "login" in message


def test_wrong_secret(connect: Any, kraken_sandbox: Any) -> None:
    wrong = kraken_sandbox.admin.keys()["sandbox-query"].secret
    ok, message = connect("sandbox-full", secret_of="sandbox-query").test_connection()
    assert not ok
    assert message.startswith("Kraken rejected the signature (EAPI:Invalid signature)")
    assert "API secret (password)" in message
    assert wrong not in message


def test_key_without_funding_permissions(connect: Any) -> None:
    ok, message = connect("sandbox-nofunds").test_connection()
    assert not ok
    assert message.startswith(
        "The API key lacks the funding permissions this needs (EGeneral:Permission denied)"
    )


def test_key_that_can_query_but_not_withdraw(connect: Any) -> None:
    """Connected, but the message says withdrawals will be refused: distinct from full success."""
    ok, message = connect("sandbox-query").test_connection()
    assert ok
    assert "lacks the Withdraw funding permission" in message
    assert "withdrawals will be refused" in message


def test_query_only_message_does_not_promise_withdrawal_status(connect: Any) -> None:
    """WithdrawStatus needs the Withdraw (or ledger) permission: a query-only key cannot watch withdrawals."""
    hook = connect("sandbox-query")
    ok, message = hook.test_connection()
    with pytest.raises(KrakenEGeneralError, match="EGeneral:Permission denied"):
        hook.withdraw_status(asset="doge")
    assert ok
    assert "sensors work" not in message


def test_key_with_two_factor_password(connect: Any, kraken_sandbox: Any) -> None:
    otp = kraken_sandbox.admin.keys()["sandbox-otp"].otp
    assert connect("sandbox-otp", otp=otp).test_connection() == (
        True,
        "Connected; the key can query funds and withdraw",
    )


def test_wrong_two_factor_password(connect: Any, kraken_sandbox: Any) -> None:
    ok, message = connect("sandbox-otp", otp="000000-wrong").test_connection()
    assert not ok
    assert "EAPI:Invalid signature" in message and "OTP" in message
    assert "000000-wrong" not in message


def test_missing_two_factor_password_is_named(connect: Any) -> None:
    """Kraken answers a missing OTP with ``Permission denied``; the message must point at the OTP too."""
    ok, message = connect("sandbox-otp").test_connection()
    assert not ok
    assert "EGeneral:Permission denied" in message
    assert "otp_password" in message


def test_each_failure_reads_differently(connect: Any, kraken_sandbox: Any) -> None:
    messages = {
        connect("sandbox-full", key="UnknownKey" + "A" * 46).test_connection()[1],
        connect("sandbox-full", secret_of="sandbox-query").test_connection()[1],
        connect("sandbox-nofunds").test_connection()[1],
        connect("sandbox-query").test_connection()[1],
        connect("sandbox-full").test_connection()[1],
    }
    assert len(messages) == 5
