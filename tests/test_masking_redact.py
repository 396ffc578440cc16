"""What the hook registers with Airflow's secrets masker, and what never reaches a log line at DEBUG.

Design (the lead's): the API secret, the OTP and the API-Sign of every write are registered with
``mask_secret``. Read signatures are not (Airflow recompiles one regex over all patterns per
registration, which grows quadratically with thousands of reads): they are kept out of every
loggable place instead, which the DEBUG-level log captures below check, sync and async.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
from collections.abc import Iterator, MutableMapping
from typing import Any

import pytest
import structlog
from airflow.sdk._shared.secrets_masker import reset_secrets_masker
from airflow.sdk.log import redact

from airflow_provider_kraken import protocol
from airflow_provider_kraken.exceptions import KrakenError, KrakenOutcomeUnknown
from airflow_provider_kraken.hooks.kraken import KrakenHook

CONN_ID = "kraken_masking_unit"
KEY_NAME = "masking-unit"
OTP = "otp-unit-73519"
LOGGERS = (
    "requests",
    "urllib3",
    "aiohttp",
    "httpx",
    "httpcore",
    "asyncio",
    "airflow",
    "airflow_provider_kraken",
)
#: A key only this module uses (the hook paces per key and process), with a distinctive OTP; and
#: withdrawals that stay pending until moved, so a cancel always finds its withdrawal.
pytestmark = pytest.mark.kraken_world(
    overrides={
        "api_keys": {
            KEY_NAME: {
                "key": base64.b64encode(os.urandom(42)).decode(),
                "secret": base64.b64encode(os.urandom(64)).decode(),
                "permissions": ["funds_query", "funds_deposit", "funds_withdraw", "ledger_query"],
                "otp": OTP,
            }
        },
        "lifecycle": {"manual": True},
    }
)


@pytest.fixture
def fresh_masker() -> Iterator[None]:
    """An empty masker, so a masked value proves this test's hook registered it."""
    reset_secrets_masker()
    yield
    reset_secrets_masker()


@pytest.fixture
def creds(kraken_sandbox: Any) -> Any:
    return kraken_sandbox.world_key(KEY_NAME)


@pytest.fixture
def hook(kraken_sandbox: Any, creds: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[KrakenHook]:
    """A hook on this module's two-factor key."""
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{CONN_ID.upper()}",
        kraken_sandbox.connection_json(
            KEY_NAME, extra={"otp_password": OTP, "rate_tier": "pro", "max_retry_seconds": 2}
        ),
    )
    made = KrakenHook(CONN_ID)
    yield made
    made.close()


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[Logged]:
    """Capture, at DEBUG, stdlib records (HTTP clients) and structlog events (Airflow, the hook)."""
    caplog.set_level(logging.DEBUG)
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    wrapper = structlog.get_config()["wrapper_class"]
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG))
    try:
        with structlog.testing.capture_logs() as events:
            yield Logged(caplog, events)
    finally:
        structlog.configure(wrapper_class=wrapper)


class Logged:
    """Everything logged during a test: stdlib records and structlog events."""

    def __init__(self, caplog: pytest.LogCaptureFixture, events: list[MutableMapping[str, Any]]) -> None:
        self.caplog = caplog
        self.events = events

    @property
    def names(self) -> set[str]:
        """Logger names that emitted something (stdlib records only)."""
        return {record.name for record in self.caplog.records}

    def text(self) -> str:
        """Messages, arguments and extras of every record and event, rendered."""
        parts = [self.caplog.text]
        for record in self.caplog.records:
            parts += [record.getMessage(), repr(record.args), repr(record.__dict__)]
        for event in self.events:
            parts += [repr(event), _render(event)]
        return "\n".join(parts)


def _render(event: MutableMapping[str, Any]) -> str:
    """The event's message with its positional arguments applied, as a log line would show it."""
    args = event.get("positional_args") or ()
    try:
        return str(event.get("event", "")) % tuple(args) if args else str(event.get("event", ""))
    except (TypeError, ValueError):
        return f"{event.get('event', '')} {args!r}"


def test_secret_and_otp_are_masked_once_the_connection_is_read(
    kraken_sandbox: Any, creds: Any, hook: KrakenHook, fresh_masker: None
) -> None:
    assert redact(creds.secret) == creds.secret and redact(OTP) == OTP  # nothing registered yet
    assert hook.settings.otp == OTP
    line = f"secret={creds.secret} otp={OTP}"
    assert redact(line) == "secret=*** otp=***"
    nested = redact({"note": [f"otp {OTP}", {"blob": creds.secret}]})
    assert nested == {"note": ["otp ***", {"blob": "***"}]}


def test_async_connection_path_masks_too(
    kraken_sandbox: Any, creds: Any, hook: KrakenHook, fresh_masker: None
) -> None:
    """Triggers resolve the connection with ``aget_settings``; the same values get masked."""
    settings = asyncio.run(hook.aget_settings())
    assert settings.otp == OTP
    assert redact(f"{creds.secret} {OTP}") == "*** ***"


def test_every_write_signature_is_masked_and_reads_are_not_registered(
    kraken_sandbox: Any,
    hook: KrakenHook,
    kraken_signed_requests: list[protocol.SignedRequest],
    fresh_masker: None,
) -> None:
    receipt = hook.withdraw(asset="doge", key="XDG_Wallet", amount="12")
    hook.withdraw_cancel(asset="doge", refid=receipt.refid)
    hook.deposit_addresses(asset="doge", method="Dogecoin", new=True)
    hook.wallet_transfer(asset="USDC", from_wallet="Spot Wallet", to_wallet="Futures Wallet", amount="5")
    hook.withdraw_status(asset="doge")

    writes = [
        r
        for r in kraken_signed_requests
        if protocol.call_kind(r.method, _params(r)) is protocol.CallKind.WRITE
    ]
    reads = [r for r in kraken_signed_requests if r not in writes]
    assert sorted(r.method for r in writes) == [
        "DepositAddresses",
        "WalletTransfer",
        "Withdraw",
        "WithdrawCancel",
    ]
    assert {r.method for r in reads} >= {"WithdrawStatus"}
    for request in writes:
        assert redact(f"API-Sign: {request.signature}") == "API-Sign: ***", request.method
    for request in reads:
        assert redact(request.signature) == request.signature, request.method


def test_no_secret_or_signature_in_debug_logs_sync(
    kraken_sandbox: Any,
    creds: Any,
    hook: KrakenHook,
    kraken_signed_requests: list[protocol.SignedRequest],
    debug_logs: Logged,
) -> None:
    kraken_sandbox.admin.service_unavailable("Balance", times=1)  # a retried read logs a warning
    kraken_sandbox.admin.drop_response("WithdrawCancel", times=1)  # a lost write raises OutcomeUnknown
    hook.balance()
    receipt = hook.withdraw(asset="doge", key="XDG_Wallet", amount="12")
    hook.withdraw_status(asset="doge")
    with pytest.raises(KrakenOutcomeUnknown) as lost:
        hook.withdraw_cancel(asset="doge", refid=receipt.refid)

    logged = debug_logs.text() + str(lost.value) + repr(lost.value)
    assert "Kraken Withdraw answered" in logged and "Kraken call failed" in logged
    assert "urllib3.connectionpool" in debug_logs.names
    assert {"Balance", "Withdraw", "WithdrawStatus", "WithdrawCancel"} <= {
        r.method for r in kraken_signed_requests
    }
    forbidden = {creds.secret, OTP, *(request.signature for request in kraken_signed_requests)}
    assert [value for value in forbidden if value in logged] == []


def test_no_secret_or_signature_in_debug_logs_async(
    kraken_sandbox: Any,
    creds: Any,
    hook: KrakenHook,
    kraken_signed_requests: list[protocol.SignedRequest],
    debug_logs: Logged,
) -> None:
    """The triggers' path: the async transport, async retries, async errors."""
    kraken_sandbox.admin.service_busy("WithdrawStatus", times=1)
    kraken_sandbox.admin.http_error(502, "DepositStatus", times=8)

    async def poll() -> str:
        await hook.awithdraw_status(asset="doge")
        try:
            await hook.adeposit_status(asset="doge")
        except KrakenError as exc:
            return f"{exc} {exc!r}"
        finally:
            await hook.aclose()
        return ""

    error = asyncio.run(poll())
    logged = debug_logs.text() + error
    assert "HTTP 502" in error
    assert "Kraken WithdrawStatus answered" in logged and "Kraken call failed" in logged
    assert {r.method for r in kraken_signed_requests} == {"WithdrawStatus", "DepositStatus"}
    forbidden = {creds.secret, OTP, *(request.signature for request in kraken_signed_requests)}
    assert [value for value in forbidden if value in logged] == []


def _params(request: protocol.SignedRequest) -> dict[str, str]:
    """The form fields of a signed request (to tell DepositAddresses' read and write apart)."""
    from urllib.parse import parse_qsl

    return dict(parse_qsl(request.body.decode()))
