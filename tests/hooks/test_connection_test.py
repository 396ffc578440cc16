"""``KrakenHook.test_connection()`` (the UI's Test button) against sandbox keys, one per outcome."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_kraken.exceptions import KrakenEGeneralError
from airflow_provider_kraken.hooks.kraken import KrakenHook

ALL_FUNDS = ["funds_query", "funds_deposit", "funds_withdraw", "ledger_query"]
CONNECTED = "Connected; the key can query funds and withdraw"


def own_key(permissions: list[str], otp: str | None = None) -> dict[str, Any]:
    """A world API key only this module uses.

    The hook paces calls per key in each process, so keys shared between test modules would share
    one pacer (at the strictest rate tier any of them named);
    keys of its own keep this module independent of the others.
    """
    return {
        "key": base64.b64encode(os.urandom(42)).decode(),
        "secret": base64.b64encode(os.urandom(64)).decode(),
        "permissions": permissions,
        "otp": otp,
    }


#: Like the world's sandbox-full, sandbox-query, sandbox-nofunds and sandbox-otp keys.
KEYS = {
    "full": own_key(ALL_FUNDS),
    "query": own_key(["funds_query"]),
    "nofunds": own_key([]),
    "otp": own_key(ALL_FUNDS, otp="Otp-test-6639"),
}
pytestmark = pytest.mark.kraken_world(overrides={"api_keys": {f"conn-test-{n}": k for n, k in KEYS.items()}})


@pytest.fixture
def connect(kraken_sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Build a hook for one of this module's keys, optionally with another key's secret or an OTP."""
    made: list[KrakenHook] = []

    def make(
        name: str, *, key: str | None = None, secret_of: str | None = None, otp: str | None = None
    ) -> KrakenHook:
        conn_id = f"kraken_{len(made)}"
        value = {
            "conn_type": "kraken",
            "login": key or KEYS[name]["key"],
            "password": KEYS[secret_of or name]["secret"],
            "host": kraken_sandbox.url,
            "extra": {"otp_password": otp} if otp else {},
        }
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(value))
        made.append(KrakenHook(conn_id))
        return made[-1]

    yield make
    for hook in made:
        hook.close()


def test_success_with_every_funding_permission(connect: Any) -> None:
    assert connect("full").test_connection() == (True, CONNECTED)


def test_unknown_key(connect: Any) -> None:
    ok, message = connect("full", key="UnknownKey" + "A" * 46).test_connection()
    assert not ok
    assert message.startswith("Kraken does not know this API key (EAPI:Invalid key)")
    assert "login" in message


def test_wrong_secret(connect: Any) -> None:
    ok, message = connect("full", secret_of="query").test_connection()
    assert not ok
    assert message.startswith("Kraken rejected the signature (EAPI:Invalid signature)")
    assert "API secret (password)" in message
    assert KEYS["query"]["secret"] not in message


def test_key_without_funding_permissions(connect: Any) -> None:
    ok, message = connect("nofunds").test_connection()
    assert not ok
    assert message.startswith(
        "The API key lacks the funding permissions this needs (EGeneral:Permission denied)"
    )


def test_key_that_can_query_but_not_withdraw(connect: Any) -> None:
    """Connected, but the message says withdrawals will be refused: distinct from full success."""
    ok, message = connect("query").test_connection()
    assert ok
    assert "lacks the Withdraw funding permission" in message
    assert "withdrawals will be refused" in message


def test_query_only_message_does_not_promise_withdrawal_status(connect: Any) -> None:
    """WithdrawStatus needs the Withdraw (or ledger) permission: a query-only key cannot watch withdrawals."""
    hook = connect("query")
    ok, message = hook.test_connection()
    with pytest.raises(KrakenEGeneralError, match="EGeneral:Permission denied"):
        hook.withdraw_status(asset="doge")
    assert ok
    assert "sensors work" not in message


def test_key_with_two_factor_password(connect: Any) -> None:
    assert connect("otp", otp=KEYS["otp"]["otp"]).test_connection() == (True, CONNECTED)


def test_wrong_two_factor_password(connect: Any) -> None:
    ok, message = connect("otp", otp="000000-wrong").test_connection()
    assert not ok
    assert "EAPI:Invalid signature" in message and "OTP" in message
    assert "000000-wrong" not in message


def test_missing_two_factor_password_is_named(connect: Any) -> None:
    """Kraken answers a missing OTP with ``Permission denied``; the message must point at the OTP too."""
    ok, message = connect("otp").test_connection()
    assert not ok
    assert "EGeneral:Permission denied" in message
    assert "otp_password" in message


def test_each_outcome_reads_differently(connect: Any) -> None:
    messages = {
        connect("full", key="UnknownKey" + "A" * 46).test_connection()[1],
        connect("full", secret_of="query").test_connection()[1],
        connect("nofunds").test_connection()[1],
        connect("query").test_connection()[1],
        connect("full").test_connection()[1],
    }
    assert len(messages) == 5
