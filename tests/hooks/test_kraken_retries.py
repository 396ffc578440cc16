"""Retry rules against real faults: reads shrug off transient trouble; writes are never sent twice."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from airflow_provider_kraken.exceptions import (
    KrakenEAPIError,
    KrakenEFundingError,
    KrakenOutcomeUnknown,
    KrakenTransportError,
)
from airflow_provider_kraken.hooks import kraken as kraken_module
from airflow_provider_kraken.hooks.kraken import KrakenHook


def outcomes(calls: list[Any], method: str) -> list[str]:
    """What each call of ``method`` met: the injected fault's kind, or the sandbox's own outcome."""
    return [c.fault or c.outcome for c in calls if c.method == method]


def withdrawals_booked(sandbox: Any) -> list[dict[str, Any]]:
    return [
        w
        for w in sandbox.admin.account().withdrawals
        if w["key"] == "XDG_Wallet" and w["refid"] != "ASBTV5V-STE7C7-MIQUAC"
    ]


# -- reads -------------------------------------------------------------------------------------------


def test_read_rate_limited_then_succeeds(
    hook: KrakenHook, kraken_sandbox: Any, calls_since: Callable[[], list[Any]]
) -> None:
    kraken_sandbox.admin.rate_limit("Balance", times=1)
    assert "XXDG" in hook.balance()
    assert outcomes(calls_since(), "Balance") == ["rate_limit", "ok"]


@pytest.mark.parametrize("status", [502, 503, 520])
def test_read_http_5xx_then_succeeds(
    hook: KrakenHook, kraken_sandbox: Any, calls_since: Callable[[], list[Any]], status: int
) -> None:
    kraken_sandbox.admin.http_error(status, "WithdrawStatus", times=2)
    hook.withdraw_status(asset="doge")
    assert len(outcomes(calls_since(), "WithdrawStatus")) == 3


@pytest.mark.parametrize("fault", ["service_unavailable", "service_busy", "invalid_nonce", "drop_response"])
def test_read_transient_kraken_errors_then_succeeds(
    hook: KrakenHook, kraken_sandbox: Any, calls_since: Callable[[], list[Any]], fault: str
) -> None:
    getattr(kraken_sandbox.admin, fault)("DepositStatus", times=1)
    assert hook.deposit_status(asset="doge")
    assert outcomes(calls_since(), "DepositStatus")[-1] == "ok"


def test_read_timeout_then_succeeds(
    make_hook: Callable[..., KrakenHook], kraken_sandbox: Any, calls_since: Callable[[], list[Any]]
) -> None:
    hook = make_hook(timeout=0.5)
    kraken_sandbox.admin.delay(2, "Balance", times=1)
    assert hook.balance()
    assert len(outcomes(calls_since(), "Balance")) == 2


def test_read_definitive_error_is_not_retried(
    hook: KrakenHook, kraken_sandbox: Any, calls_since: Callable[[], list[Any]]
) -> None:
    kraken_sandbox.admin.kraken_error("EGeneral:Permission denied", "Balance", times=1)
    with pytest.raises(Exception, match="EGeneral:Permission denied"):
        hook.balance()
    assert len(outcomes(calls_since(), "Balance")) == 1


# -- writes ------------------------------------------------------------------------------------------


def test_lost_withdraw_response_is_outcome_unknown_and_books_once(
    hook: KrakenHook, kraken_sandbox: Any, calls_since: Callable[[], list[Any]]
) -> None:
    kraken_sandbox.admin.drop_response("Withdraw", times=1)
    with pytest.raises(KrakenOutcomeUnknown) as info:
        hook.withdraw(asset="doge", key="XDG_Wallet", amount="25")
    error = info.value
    assert (error.asset, error.key, error.amount) == ("XXDG", "XDG_Wallet", Decimal(25))
    assert not error.retry_safe
    assert len(outcomes(calls_since(), "Withdraw")) == 1
    assert len(withdrawals_booked(kraken_sandbox)) == 1


@pytest.mark.parametrize("execute", [True, False])
@pytest.mark.parametrize("fault", ["http_error", "service_unavailable", "service_busy"])
def test_ambiguous_withdraw_failures_are_never_resent(
    hook: KrakenHook, kraken_sandbox: Any, calls_since: Callable[[], list[Any]], fault: str, execute: bool
) -> None:
    getattr(kraken_sandbox.admin, fault)(method="Withdraw", times=1, execute=execute)
    with pytest.raises(KrakenOutcomeUnknown):
        hook.withdraw(asset="doge", key="XDG_Wallet", amount="25")
    assert len(outcomes(calls_since(), "Withdraw")) == 1
    assert len(withdrawals_booked(kraken_sandbox)) == (1 if execute else 0)


def test_withdraw_timeout_after_sending_is_outcome_unknown(
    make_hook: Callable[..., KrakenHook], kraken_sandbox: Any, calls_since: Callable[[], list[Any]]
) -> None:
    hook = make_hook(timeout=0.5)
    kraken_sandbox.admin.delay(2, "Withdraw", times=1, execute=True)
    with pytest.raises(KrakenOutcomeUnknown, match="ReadTimeout"):
        hook.withdraw(asset="doge", key="XDG_Wallet", amount="25")
    assert len(outcomes(calls_since(), "Withdraw")) == 1
    assert len(withdrawals_booked(kraken_sandbox)) == 1


def test_withdraw_invalid_nonce_is_resent_and_books_once(
    hook: KrakenHook, kraken_sandbox: Any, calls_since: Callable[[], list[Any]]
) -> None:
    kraken_sandbox.admin.invalid_nonce("Withdraw", times=1)
    receipt = hook.withdraw(asset="doge", key="XDG_Wallet", amount="25")
    assert outcomes(calls_since(), "Withdraw") == ["invalid_nonce", "ok"]
    assert [w["refid"] for w in withdrawals_booked(kraken_sandbox)] == [receipt.refid]


def test_withdraw_rate_limit_and_definitive_errors_are_raised_as_is(
    hook: KrakenHook, kraken_sandbox: Any, calls_since: Callable[[], list[Any]]
) -> None:
    kraken_sandbox.admin.rate_limit("Withdraw", times=1)
    with pytest.raises(KrakenEAPIError, match="EAPI:Rate limit exceeded"):
        hook.withdraw(asset="doge", key="XDG_Wallet", amount="25")
    with pytest.raises(KrakenEFundingError, match="EFunding:Unknown withdraw key") as info:
        hook.withdraw(asset="doge", key="nope", amount="25")
    assert not info.value.transient
    assert len(outcomes(calls_since(), "Withdraw")) == 2
    assert withdrawals_booked(kraken_sandbox) == []


def test_lost_cancel_response_is_outcome_unknown(
    hook: KrakenHook, kraken_sandbox: Any, calls_since: Callable[[], list[Any]]
) -> None:
    kraken_sandbox.admin.set_lifecycle(manual=True)
    receipt = hook.withdraw(asset="doge", key="XDG_Wallet", amount="25")
    kraken_sandbox.admin.drop_response("WithdrawCancel", times=1)
    with pytest.raises(KrakenOutcomeUnknown):
        hook.withdraw_cancel(asset="doge", refid=receipt.refid)
    assert len(outcomes(calls_since(), "WithdrawCancel")) == 1


def test_new_deposit_address_lost_response_is_not_resent(
    hook: KrakenHook, kraken_sandbox: Any, calls_since: Callable[[], list[Any]]
) -> None:
    kraken_sandbox.admin.drop_response("DepositAddresses", times=1)
    with pytest.raises(KrakenOutcomeUnknown):
        hook.deposit_addresses(asset="doge", method="Dogecoin", new=True)
    assert len(outcomes(calls_since(), "DepositAddresses")) == 1
    assert len(kraken_sandbox.admin.account().addresses) == 1


def test_refused_connection_is_provably_not_sent(hook: KrakenHook, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    monkeypatch.setenv(
        "AIRFLOW_CONN_KRAKEN_DEAD",
        f'{{"conn_type": "kraken", "login": "k", "password": "c2VjcmV0", "host": "http://127.0.0.1:{dead_port}"}}',
    )
    dead = KrakenHook("kraken_dead")
    # Reuse the live asset list, so that the write itself is what meets the closed port.
    monkeypatch.setitem(
        kraken_module._assets_cache, dead.settings.base_url, (time.monotonic(), hook.assets())
    )
    with pytest.raises(KrakenTransportError) as info:
        dead.withdraw(asset="doge", key="XDG_Wallet", amount="1")
    assert not info.value.sent and info.value.retry_safe
