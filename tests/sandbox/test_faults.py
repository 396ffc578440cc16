"""Fault injection: each kind, executed or not, proven from the ledger and the call log."""

from __future__ import annotations

import socket
import time
import urllib.parse
from collections.abc import Callable
from decimal import Decimal

import pytest
import requests

from airflow_provider_kraken.sandbox.admin import FaultKind
from airflow_provider_kraken.sandbox.pytest_plugin import KrakenSandbox

from .conftest import Kraken, kraken_sign, next_nonce

WITHDRAW = {"asset": "doge", "key": "XDG_Wallet", "amount": "30"}


def booked(sandbox: KrakenSandbox) -> list[str]:
    """Refids of every withdrawal the ledger holds."""
    return [w["refid"] for w in sandbox.admin.account().withdrawals]


def raw_exchange(sandbox: KrakenSandbox, method: str, params: dict[str, str]) -> bytes:
    """Send one signed request on a fresh socket (Connection: close) and return every byte received."""
    host, port = urllib.parse.urlsplit(sandbox.url).hostname, urllib.parse.urlsplit(sandbox.url).port
    assert host is not None and port is not None
    nonce = next_nonce()
    body = urllib.parse.urlencode({"nonce": nonce, **params}).encode()
    path = f"/0/private/{method}"
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n"
        f"API-Key: {sandbox.api_key}\r\n"
        f"API-Sign: {kraken_sign(sandbox.api_secret, path, nonce, body)}\r\n\r\n"
    )
    received = b""
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(head.encode() + body)
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            received += chunk
    return received


@pytest.mark.parametrize("mode", ["close", "reset"])
def test_drop_after_execution_sends_no_response_at_all(sandbox: KrakenSandbox, mode: str) -> None:
    sandbox.admin.drop_response("Withdraw", mode=mode)
    assert raw_exchange(sandbox, "Withdraw", WITHDRAW) == b""
    assert booked(sandbox) == ["ASBG2IX-OQZTG5-CRWGN3"]
    (call,) = sandbox.admin.calls(method="Withdraw")
    assert (call.executed, call.outcome, call.fault, call.reply, call.http_status) == (
        True,
        "ok",
        "drop",
        "dropped",
        None,
    )
    assert call.result == {"refid": "ASBG2IX-OQZTG5-CRWGN3"}


def test_drop_seen_by_requests_then_the_session_recovers(sandbox: KrakenSandbox, kraken: Kraken) -> None:
    sandbox.admin.drop_response("Withdraw")
    with pytest.raises(requests.ConnectionError):
        kraken.result("Withdraw", **WITHDRAW)
    assert booked(sandbox) == ["ASBG2IX-OQZTG5-CRWGN3"]
    assert sandbox.admin.account().balance("XXDG") == Decimal(70)
    assert kraken.result("Balance")["XXDG"] == "70.00000000"


def test_drop_without_execution_books_nothing_and_keeps_the_nonce(
    sandbox: KrakenSandbox, kraken: Kraken
) -> None:
    sandbox.admin.drop_response("Withdraw", execute=False)
    nonce = next_nonce()
    with pytest.raises(requests.ConnectionError):
        kraken.raw("Withdraw", WITHDRAW, nonce=nonce)
    assert booked(sandbox) == []
    # The identical signed request (same nonce) is still acceptable: the first copy never reached Kraken.
    assert kraken.raw("Withdraw", WITHDRAW, nonce=nonce).json()["result"]["refid"] == "ASBG2IX-OQZTG5-CRWGN3"
    assert booked(sandbox) == ["ASBG2IX-OQZTG5-CRWGN3"]


@pytest.mark.parametrize("status", [502, 503, 520])
@pytest.mark.parametrize("execute", [False, True])
def test_http_errors_with_html_pages(
    sandbox: KrakenSandbox, kraken: Kraken, status: int, execute: bool
) -> None:
    sandbox.admin.http_error(status, "Withdraw", execute=execute)
    response = kraken.raw("Withdraw", WITHDRAW)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert f"<title>{status} " in response.text
    assert booked(sandbox) == (["ASBG2IX-OQZTG5-CRWGN3"] if execute else [])
    (call,) = sandbox.admin.calls(method="Withdraw")
    assert (call.executed, call.reply, call.http_status) == (execute, f"http {status}", status)


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        ("service_unavailable", "EService:Unavailable"),
        ("service_busy", "EService:Busy"),
        ("invalid_nonce", "EAPI:Invalid nonce"),
    ],
)
@pytest.mark.parametrize("execute", [False, True])
def test_kraken_error_faults(
    sandbox: KrakenSandbox, kraken: Kraken, kind: str, error: str, execute: bool
) -> None:
    getattr(sandbox.admin, kind)("Withdraw", execute=execute)
    response = kraken.raw("Withdraw", WITHDRAW)
    assert (response.status_code, response.json()) == (200, {"error": [error]})
    assert booked(sandbox) == (["ASBG2IX-OQZTG5-CRWGN3"] if execute else [])
    (call,) = sandbox.admin.calls(method="Withdraw")
    assert (call.fault, call.executed, call.reply) == (kind, execute, error)
    assert call.outcome == ("ok" if execute else "skipped")


def test_forced_invalid_nonce_does_not_consume_the_nonce(sandbox: KrakenSandbox, kraken: Kraken) -> None:
    sandbox.admin.invalid_nonce("Balance")
    nonce = next_nonce()
    assert kraken.raw("Balance", nonce=nonce).json() == {"error": ["EAPI:Invalid nonce"]}
    assert kraken.raw("Balance", nonce=nonce).json()["error"] == []


def test_rate_limit_the_next_n_calls(sandbox: KrakenSandbox, kraken: Kraken) -> None:
    fault = sandbox.admin.rate_limit("*", times=3)
    assert fault.kind is FaultKind.RATE_LIMIT
    errors = [kraken.call("Balance")["error"] for _ in range(4)]
    assert errors == [["EAPI:Rate limit exceeded"]] * 3 + [[]]
    (info,) = sandbox.admin.faults()
    assert (info.fired, info.remaining) == (3, 0)


def test_any_kraken_error(sandbox: KrakenSandbox, kraken: Kraken) -> None:
    sandbox.admin.kraken_error("EGeneral:Internal error", "Withdraw", execute=True)
    assert kraken.error("Withdraw", **WITHDRAW) == "EGeneral:Internal error"
    assert booked(sandbox) == ["ASBG2IX-OQZTG5-CRWGN3"]


def test_delay_after_execution_times_the_client_out_but_books_once(
    sandbox: KrakenSandbox, kraken: Kraken
) -> None:
    sandbox.admin.delay(1.0, "Withdraw", execute=True)
    with pytest.raises(requests.ReadTimeout):
        kraken.raw("Withdraw", WITHDRAW, timeout=0.3)
    assert booked(sandbox) == ["ASBG2IX-OQZTG5-CRWGN3"]
    (call,) = sandbox.admin.calls(method="Withdraw")
    assert (call.fault, call.executed) == ("delay", True)


def test_delay_before_execution_books_late(sandbox: KrakenSandbox, kraken: Kraken) -> None:
    sandbox.admin.delay(0.6, "Withdraw", execute=False)
    with pytest.raises(requests.ReadTimeout):
        kraken.raw("Withdraw", WITHDRAW, timeout=0.2)
    assert booked(sandbox) == []
    deadline = time.monotonic() + 5
    while not booked(sandbox):
        assert time.monotonic() < deadline, "the delayed call never executed"
        time.sleep(0.05)
    assert booked(sandbox) == ["ASBG2IX-OQZTG5-CRWGN3"]


def test_delay_that_the_client_waits_out(sandbox: KrakenSandbox, kraken: Kraken) -> None:
    sandbox.admin.delay(0.3, "Balance")
    started = time.monotonic()
    assert kraken.result("Balance")["XXDG"] == "100.00000000"
    assert time.monotonic() - started >= 0.3


def test_fault_targeting(sandbox: KrakenSandbox, kraken: Kraken, client_for: Callable[..., Kraken]) -> None:
    sandbox.admin.service_busy("Balance", times=2)
    other_key = sandbox.world_key("sandbox-full").key
    sandbox.admin.service_unavailable("DepositStatus", api_key=other_key)
    assert kraken.call("WithdrawMethods", asset="doge")["error"] == []  # other method untouched
    assert kraken.error("Balance") == "EService:Busy"
    assert kraken.call("DepositStatus")["error"] == []  # other key's fault
    assert client_for("sandbox-full").error("DepositStatus") == "EService:Unavailable"
    assert kraken.error("Balance") == "EService:Busy"
    assert kraken.call("Balance")["error"] == []  # spent after twice
    faults = sandbox.admin.faults()
    assert [(f.method, f.fired, f.remaining) for f in faults] == [("Balance", 2, 0), ("DepositStatus", 1, 0)]


def test_faults_fire_in_order_and_can_be_removed(sandbox: KrakenSandbox, kraken: Kraken) -> None:
    first = sandbox.admin.service_busy()
    sandbox.admin.service_unavailable()
    kept = sandbox.admin.http_error(502)
    sandbox.admin.remove_fault(first.id)
    assert kraken.error("Balance") == "EService:Unavailable"
    sandbox.admin.remove_fault(kept.id)
    assert kraken.call("Balance")["error"] == []
    sandbox.admin.service_busy(times=5)
    sandbox.admin.clear_faults()
    assert sandbox.admin.faults() == []
    assert kraken.call("Balance")["error"] == []


def test_public_calls_take_faults_too(sandbox: KrakenSandbox, kraken: Kraken) -> None:
    sandbox.admin.http_error(520, "Time")
    assert kraken.public("Time").status_code == 520
    assert kraken.public("Time").json()["error"] == []


def test_bad_fault_specs_are_refused(sandbox: KrakenSandbox) -> None:
    with pytest.raises(RuntimeError, match="400"):
        sandbox.admin.add_fault("explode")
    with pytest.raises(RuntimeError, match="status must be 4xx/5xx"):
        sandbox.admin.http_error(200)
    with pytest.raises(RuntimeError, match="needs an `error`"):
        sandbox.admin.add_fault(FaultKind.KRAKEN_ERROR)
    with pytest.raises(RuntimeError, match="times must be >= 1"):
        sandbox.admin.service_busy(times=0)


def test_call_log_is_exact(sandbox: KrakenSandbox, kraken: Kraken, client_for: Callable[..., Kraken]) -> None:
    sandbox.admin.freeze()
    nonce = next_nonce()
    kraken.raw("Withdraw", WITHDRAW, nonce=nonce)
    kraken.raw("Withdraw", WITHDRAW, nonce=nonce)
    client_for("sandbox-otp", otp="424242").call("Balance")
    Kraken(sandbox.url, "nobody", sandbox.api_secret).call("Balance")
    sandbox.admin.drop_response("Balance", execute=False)
    with pytest.raises(requests.ConnectionError):
        kraken.call("Balance", asset="doge")
    kraken.public("Assets", asset="doge")
    calls = sandbox.admin.calls()
    assert [c.seq for c in calls] == [1, 2, 3, 4, 5, 6]
    first, second, otp_call, stranger, dropped, public = calls
    assert (first.method, first.api_key, first.key_name, first.nonce) == (
        "Withdraw",
        sandbox.api_key,
        "server",
        nonce,
    )
    assert first.params == WITHDRAW
    assert (first.outcome, first.executed, first.reply, first.http_status) == ("ok", True, "ok", 200)
    assert first.result == {"refid": "ASBG2IX-OQZTG5-CRWGN3"}
    assert (second.outcome, second.executed, second.result) == ("EAPI:Invalid nonce", False, None)
    assert "otp" not in otp_call.params and otp_call.key_name == "sandbox-otp"
    assert (stranger.outcome, stranger.key_name, stranger.api_key) == ("EAPI:Invalid key", None, "nobody")
    assert (dropped.outcome, dropped.fault, dropped.reply, dropped.params) == (
        "skipped",
        "drop",
        "dropped",
        {"asset": "doge"},
    )
    assert (public.method, public.params, public.outcome) == ("Assets", {"asset": "doge"}, "ok")
    assert first.time == second.time  # sandbox clock (frozen); wall_time is real time
    assert [c.seq for c in sandbox.admin.calls(since=4)] == [5, 6]
    assert [c.seq for c in sandbox.admin.calls(method="Withdraw")] == [1, 2]
