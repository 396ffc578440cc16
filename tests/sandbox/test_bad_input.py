"""Whatever a client sends, it gets Kraken's error shape - never a 500 page or a traceback."""

from __future__ import annotations

import json
import socket
import urllib.parse

import pytest
import requests

from airflow_provider_kraken.sandbox.pytest_plugin import KrakenSandbox

from .conftest import Kraken, kraken_sign, next_nonce

INVALID = {"error": ["EGeneral:Invalid arguments"]}


def signed_post(
    sandbox: KrakenSandbox, method: str, body: bytes, content_type: str, nonce: str
) -> requests.Response:
    path = f"/0/private/{method}"
    return requests.post(
        sandbox.url + path,
        data=body,
        headers={
            "API-Key": sandbox.api_key,
            "API-Sign": kraken_sign(sandbox.api_secret, path, nonce, body),
            "Content-Type": content_type,
        },
        timeout=10,
    )


def test_unknown_methods(sandbox: KrakenSandbox, kraken: Kraken) -> None:
    assert kraken.call("AddOrder") == {"error": ["EGeneral:Unknown method"]}
    assert kraken.call("balance") == {"error": ["EGeneral:Unknown method"]}
    assert requests.post(sandbox.url + "/0/private/Nope", timeout=10).json() == {
        "error": ["EGeneral:Unknown method"]
    }
    assert kraken.public("Ticker").json() == {"error": ["EGeneral:Unknown method"]}


def test_wrong_http_verbs(sandbox: KrakenSandbox) -> None:
    private = requests.get(sandbox.url + "/0/private/Balance", timeout=10)
    assert (private.status_code, private.json()) == (200, {"error": ["EGeneral:Unknown method"]})
    public = requests.post(sandbox.url + "/0/public/Time", timeout=10)
    assert (public.status_code, public.json()) == (200, {"error": ["EGeneral:Unknown method"]})


@pytest.mark.parametrize("path", ["/", "/0/private/", "/0/private/a/b", "/favicon.ico", "/0/public/"])
def test_paths_outside_the_api(sandbox: KrakenSandbox, path: str) -> None:
    response = requests.post(sandbox.url + path, timeout=10)
    assert (response.status_code, response.json()) == (404, {"error": ["EGeneral:Unknown method"]})


def test_garbage_bodies(sandbox: KrakenSandbox) -> None:
    nonce = next_nonce()
    assert (
        signed_post(
            sandbox, "Balance", b"\xff\xfe\x00garbage", "application/x-www-form-urlencoded", nonce
        ).json()
        == INVALID
    )
    assert (
        signed_post(sandbox, "Balance", b"nonce=%FF%FE", "application/x-www-form-urlencoded", nonce).json()
        == INVALID
    )
    assert signed_post(sandbox, "Balance", b"{not json", "application/json", nonce).json() == INVALID
    assert signed_post(sandbox, "Balance", b"[1, 2]", "application/json", nonce).json() == INVALID
    deep = b"[" * 100_000 + b"]" * 100_000
    assert signed_post(sandbox, "Balance", deep, "application/json", nonce).json() == INVALID


def test_nested_json_values_are_invalid_arguments(sandbox: KrakenSandbox) -> None:
    nonce = next_nonce()
    body = json.dumps({"nonce": nonce, "asset": {"id": "doge"}}).encode()
    answer = signed_post(sandbox, "DepositStatus", body, "application/json", nonce).json()
    assert answer == {"error": ["EGeneral:Invalid arguments:asset"]}


def test_garbage_without_credentials(sandbox: KrakenSandbox) -> None:
    response = requests.post(sandbox.url + "/0/private/Balance", data=b"\x00\x01\x02", timeout=10)
    assert response.json() == {"error": ["EAPI:Invalid key"]}


def test_huge_body_is_drained_and_refused(sandbox: KrakenSandbox) -> None:
    nonce = next_nonce()
    body = f"nonce={nonce}&pad=".encode() + b"x" * (2 * 1024 * 1024)
    response = signed_post(sandbox, "Balance", body, "application/x-www-form-urlencoded", nonce)
    assert (response.status_code, response.json()) == (200, INVALID)
    (call,) = sandbox.admin.calls()
    assert call.outcome == "EGeneral:Invalid arguments"


def test_absurd_content_length_gets_an_answer_and_a_closed_connection(sandbox: KrakenSandbox) -> None:
    split = urllib.parse.urlsplit(sandbox.url)
    assert split.hostname is not None and split.port is not None
    with socket.create_connection((split.hostname, split.port), timeout=5) as sock:
        sock.sendall(
            b"POST /0/private/Balance HTTP/1.1\r\nHost: x\r\nContent-Length: 900000000\r\n\r\nnonce=1"
        )
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert b"connection: close" in head.lower()
    assert json.loads(body) == INVALID


def test_missing_nonce(sandbox: KrakenSandbox) -> None:
    response = signed_post(sandbox, "Balance", b"asset=doge", "application/x-www-form-urlencoded", "")
    assert response.json() == {"error": ["EAPI:Invalid nonce"]}


def test_admin_api_is_out_of_the_signed_apis_reach(sandbox: KrakenSandbox) -> None:
    nonce = next_nonce()
    body = f"nonce={nonce}".encode()
    for path in ("/_sandbox/reset", "/_sandbox/faults"):
        signed = requests.post(
            sandbox.url + path,
            data=body,
            headers={
                "API-Key": sandbox.api_key,
                "API-Sign": kraken_sign(sandbox.api_secret, path, nonce, body),
            },
            timeout=10,
        )
        assert signed.status_code == 401
    wrong = requests.get(sandbox.url + "/_sandbox/keys", headers={"X-Sandbox-Token": "guess"}, timeout=10)
    assert wrong.status_code == 401
    assert "secret" not in wrong.text
    assert sandbox.admin.health() is True


def test_admin_api_errors_are_json(sandbox: KrakenSandbox) -> None:
    headers = {"X-Sandbox-Token": sandbox.admin_token}
    for method, path, payload in (
        ("POST", "/_sandbox/faults", b"{"),
        ("POST", "/_sandbox/faults", b"[]"),
        ("POST", "/_sandbox/deposits", b'{"asset": "nope", "amount": "1"}'),
        ("POST", "/_sandbox/deposits", b'{"asset": "doge", "amount": "1.123456789"}'),
        ("POST", "/_sandbox/reset", b'{"overrides": {"assets": {"XXDG": {"decimals": "many"}}}}'),
        ("POST", "/_sandbox/clock", b'{"advance": "soon"}'),
        ("POST", "/_sandbox/lifecycle", b'{"speed": 2}'),
    ):
        response = requests.request(method, sandbox.url + path, data=payload, headers=headers, timeout=10)
        assert response.status_code in (400, 404), (path, payload, response.text)
        assert "error" in response.json()


def test_a_failed_reset_keeps_the_world(sandbox: KrakenSandbox, kraken: Kraken) -> None:
    with pytest.raises(RuntimeError, match="400"):
        sandbox.admin.reset(overrides={"accounts": {"main": {"balances": {"XXDG": "-1"}}}})
    assert kraken.result("Balance")["XXDG"] == "100.00000000"
