"""Sandbox test helpers: a tiny signed Kraken client written here (independent of the sandbox's signer)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import time
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

import pytest
import requests

from airflow_provider_kraken.sandbox.pytest_plugin import KrakenSandbox

# One process-wide counter in microsecond ticks: strictly increasing for every key, in every test.
_NONCES = itertools.count(time.time_ns() // 1000)


def next_nonce() -> str:
    """A fresh microsecond-scale nonce."""
    return str(next(_NONCES))


def kraken_sign(secret: str, path: str, nonce: str, body: bytes) -> str:
    """API-Sign per Kraken's documentation (deliberately re-implemented for the tests)."""
    inner = hashlib.sha256(nonce.encode() + body).digest()
    return base64.b64encode(
        hmac.new(base64.b64decode(secret), path.encode() + inner, hashlib.sha512).digest()
    ).decode()


class Kraken:
    """Signed calls against one sandbox with one key; returns decoded JSON or raw responses."""

    def __init__(self, url: str, key: str, secret: str, otp: str | None = None) -> None:
        self.url = url
        self.key = key
        self.secret = secret
        self.otp = otp
        self.session = requests.Session()

    def raw(
        self,
        method: str,
        /,
        params: Mapping[str, Any] | None = None,
        *,
        nonce: str | None = None,
        as_json: bool = False,
        headers: Mapping[str, str] | None = None,
        timeout: float = 10,
    ) -> requests.Response:
        """POST /0/private/<method>, nonce first then params, signed over the exact body sent."""
        data: dict[str, Any] = {"nonce": nonce if nonce is not None else next_nonce()}
        if self.otp is not None:
            data["otp"] = self.otp
        data.update(params or {})
        path = f"/0/private/{method}"
        if as_json:
            body = json.dumps(data).encode()
            content_type = "application/json"
        else:
            body = urllib.parse.urlencode(data).encode()
            content_type = "application/x-www-form-urlencoded"
        sent = {
            "API-Key": self.key,
            "API-Sign": kraken_sign(self.secret, path, str(data["nonce"]), body),
            "Content-Type": content_type,
        }
        sent.update(headers or {})
        return self.session.post(self.url + path, data=body, headers=sent, timeout=timeout)

    def call(self, method: str, /, **params: Any) -> dict[str, Any]:
        """The decoded answer (HTTP 200 asserted)."""
        response = self.raw(method, params)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    def text(self, method: str, /, **params: Any) -> str:
        """The answer's exact text."""
        response = self.raw(method, params)
        assert response.status_code == 200, response.text
        return response.text

    def result(self, method: str, /, **params: Any) -> Any:
        """The `result` of a successful call."""
        answer = self.call(method, **params)
        assert answer["error"] == [], answer
        return answer["result"]

    def error(self, method: str, /, **params: Any) -> str:
        """The single error of a refused call (and no `result`)."""
        answer = self.call(method, **params)
        assert "result" not in answer, answer
        assert len(answer["error"]) == 1, answer
        error: str = answer["error"][0]
        return error

    def public(self, method: str, /, **query: str) -> requests.Response:
        """GET /0/public/<method>."""
        return self.session.get(f"{self.url}/0/public/{method}", params=query, timeout=10)


@pytest.fixture
def sandbox(kraken_sandbox: KrakenSandbox) -> KrakenSandbox:
    """The plugin's fixture (fresh default world)."""
    return kraken_sandbox


@pytest.fixture
def kraken(sandbox: KrakenSandbox) -> Kraken:
    """A client with the fixture's full-permission key."""
    return Kraken(sandbox.url, sandbox.api_key, sandbox.api_secret)


@pytest.fixture
def client_for(sandbox: KrakenSandbox) -> Callable[..., Kraken]:
    """A client for a world key by name (e.g. "sandbox-query")."""

    def make(name: str, *, otp: str | None = None) -> Kraken:
        creds = sandbox.world_key(name)
        return Kraken(sandbox.url, creds.key, creds.secret, otp=otp)

    return make
