"""Connections from environment variables, in Airflow's JSON and URI forms, used for real signed calls.

The module's own sandbox key has an API key and secret holding ``+``, ``/`` and ``=`` and a
two-factor password, so a call that Kraken (the sandbox) accepts proves every byte arrived intact.
"""

from __future__ import annotations

import base64
import json
import os
import urllib.parse
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from airflow.sdk import Connection
from airflow.sdk.exceptions import AirflowNotFoundException

from airflow_provider_kraken.exceptions import KrakenConnectionConfigError
from airflow_provider_kraken.hooks.kraken import KrakenHook

#: Kraken's published signing example secret (public), and a made-up key: for the docs examples.
EXAMPLE_SECRET = "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg=="
EXAMPLE_KEY = "Example+Key/0123456789abcdefghijklmnopqrstuvwxyzABCDEFGH="
KEY_NAME = "conn-env-otp"


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
                ["funds_query", "funds_deposit", "funds_withdraw", "ledger_query"], otp="Otp-env-5813"
            )
        }
    }
)


# --8<-- [start:env-json]
def kraken_connection_json(api_key: str, api_secret: str, otp: str | None = None, host: str = "") -> str:
    """The value of AIRFLOW_CONN_KRAKEN_DEFAULT, JSON form. An empty host means https://api.kraken.com."""
    extra: dict[str, object] = {"rate_tier": "intermediate"}  # your account's verification tier
    if otp:
        extra["otp_password"] = otp  # only if the API key has a two-factor password
    return json.dumps(
        {"conn_type": "kraken", "login": api_key, "password": api_secret, "host": host, "extra": extra}
    )


# --8<-- [end:env-json]


# --8<-- [start:env-uri]
def kraken_connection_uri(
    api_key: str, api_secret: str, otp: str | None = None, host: str = "api.kraken.com"
) -> str:
    """The same connection as a URI. Key and secret contain '+', '/' and '=': URL-encode them."""
    query = {"rate_tier": "intermediate"} | ({"otp_password": otp} if otp else {})
    key, secret = urllib.parse.quote(api_key, safe=""), urllib.parse.quote(api_secret, safe="")
    return f"kraken://{key}:{secret}@{host}?{urllib.parse.urlencode(query)}"


# --8<-- [end:env-uri]


@pytest.fixture
def otp_key(kraken_sandbox: Any) -> Any:
    """This module's key with a two-factor password; its key and secret hold '+', '/' and '='."""
    creds = kraken_sandbox.world_key(KEY_NAME)
    assert {"+", "/", "="} <= set(creds.secret) and "/" in creds.key and creds.otp
    return creds


@pytest.fixture
def hooks() -> Iterator[list[KrakenHook]]:
    """Hooks made by a test, closed afterwards."""
    made: list[KrakenHook] = []
    yield made
    for hook in made:
        hook.close()


@pytest.fixture
def new_calls(kraken_sandbox: Any) -> Callable[[], list[Any]]:
    """Lists the sandbox calls made after the test started."""
    existing = kraken_sandbox.admin.calls()
    start = existing[-1].seq if existing else 0
    return lambda: kraken_sandbox.admin.calls(since=start)


def hook_for(made: list[KrakenHook], monkeypatch: pytest.MonkeyPatch, conn_id: str, value: str) -> KrakenHook:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", value)
    made.append(KrakenHook(conn_id))
    return made[-1]


def sandbox_netloc(kraken_sandbox: Any) -> str:
    return urllib.parse.urlsplit(str(kraken_sandbox.url)).netloc


def assert_signed_calls_work(hook: KrakenHook, kraken_sandbox: Any, creds: Any) -> None:
    """A private call is accepted only if key, secret and OTP all arrived byte for byte."""
    assert hook.balance()["XXDG"] == Decimal("100")
    [call] = kraken_sandbox.admin.calls(method="Balance")[-1:]
    assert (call.key_name, call.outcome) == (KEY_NAME, "ok")
    assert hook.settings.secret == base64.b64decode(creds.secret)
    assert hook.settings.otp == creds.otp


@pytest.mark.parametrize("extra_as_string", [False, True], ids=["extra-object", "extra-string"])
def test_env_json(
    kraken_sandbox: Any,
    otp_key: Any,
    hooks: list[KrakenHook],
    monkeypatch: pytest.MonkeyPatch,
    extra_as_string: bool,
) -> None:
    extra = {"otp_password": otp_key.otp, "rate_tier": "pro", "timeout": 12}
    value = json.dumps(
        {
            "conn_type": "kraken",
            "login": otp_key.key,
            "password": otp_key.secret,
            "host": kraken_sandbox.url,
            "extra": json.dumps(extra) if extra_as_string else extra,
        }
    )
    hook = hook_for(hooks, monkeypatch, "kraken_env_json", value)
    assert_signed_calls_work(hook, kraken_sandbox, otp_key)
    assert (hook.settings.rate_tier, hook.settings.timeout) == ("pro", 12.0)


def test_env_uri_with_url_encoded_secret(
    kraken_sandbox: Any, otp_key: Any, hooks: list[KrakenHook], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``+``, ``/`` and ``=`` in key and secret survive when URL-encoded; query extras arrive as text."""
    key, secret = (urllib.parse.quote(part, safe="") for part in (otp_key.key, otp_key.secret))
    assert "%2B" in secret and "%2F" in secret and "%3D" in secret
    query = urllib.parse.urlencode({"otp_password": otp_key.otp, "timeout": "12", "rate_tier": "pro"})
    uri = f"kraken://{key}:{secret}@{sandbox_netloc(kraken_sandbox)}?{query}"
    hook = hook_for(hooks, monkeypatch, "kraken_env_uri", uri)
    assert_signed_calls_work(hook, kraken_sandbox, otp_key)
    # The sandbox's loopback host:port becomes an http base URL; "12" from the query is a number.
    assert hook.settings.base_url == kraken_sandbox.url
    assert hook.settings.timeout == 12.0


@pytest.mark.parametrize("build", [kraken_connection_json, kraken_connection_uri], ids=["json", "uri"])
def test_docs_examples_point_at_kraken(
    build: Any, hooks: list[KrakenHook], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The documented forms, with default host, parse to Kraken's URL (nothing is sent)."""
    hook = hook_for(hooks, monkeypatch, "kraken_docs", build(EXAMPLE_KEY, EXAMPLE_SECRET, otp="123456"))
    settings = hook.settings
    assert settings.base_url == "https://api.kraken.com"
    assert (settings.api_key, settings.secret) == (EXAMPLE_KEY, base64.b64decode(EXAMPLE_SECRET))
    assert (settings.otp, settings.rate_tier) == ("123456", "intermediate")


@pytest.mark.parametrize("build", [kraken_connection_json, kraken_connection_uri], ids=["json", "uri"])
def test_docs_examples_sign_correctly(
    build: Any,
    kraken_sandbox: Any,
    otp_key: Any,
    hooks: list[KrakenHook],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The documented forms pointed at the sandbox: Kraken's side accepts the signed calls."""
    host = kraken_sandbox.url if build is kraken_connection_json else sandbox_netloc(kraken_sandbox)
    value = build(otp_key.key, otp_key.secret, otp=otp_key.otp, host=host)
    assert_signed_calls_work(hook_for(hooks, monkeypatch, "kraken_docs", value), kraken_sandbox, otp_key)


def test_env_uri_built_by_airflow(
    kraken_sandbox: Any, otp_key: Any, hooks: list[KrakenHook], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``Connection.get_uri()`` (as ``airflow connections get`` prints it) round-trips, scheme included."""
    conn = Connection(
        conn_id="kraken_generated",
        conn_type="kraken",
        login=otp_key.key,
        password=otp_key.secret,
        host=kraken_sandbox.url,
        extra=json.dumps({"otp_password": otp_key.otp}),
    )
    hook = hook_for(hooks, monkeypatch, "kraken_generated", conn.get_uri())
    assert_signed_calls_work(hook, kraken_sandbox, otp_key)
    assert hook.settings.base_url == kraken_sandbox.url


@pytest.mark.parametrize("slash_first", [True, False], ids=["slash-first", "slash-later"])
def test_env_uri_with_unencoded_secret_is_refused(
    kraken_sandbox: Any,
    otp_key: Any,
    hooks: list[KrakenHook],
    monkeypatch: pytest.MonkeyPatch,
    new_calls: Callable[[], list[Any]],
    slash_first: bool,
) -> None:
    """A raw '/' cuts the URI short: refused before any request, by the hook or by Airflow itself."""
    secret = "/" + otp_key.secret if slash_first else otp_key.secret
    assert secret.index("/") == 0 if slash_first else secret.index("/") > 0
    key = urllib.parse.quote(otp_key.key, safe="")
    hook = hook_for(
        hooks, monkeypatch, "kraken_raw_uri", f"kraken://{key}:{secret}@{sandbox_netloc(kraken_sandbox)}"
    )
    with pytest.raises((KrakenConnectionConfigError, AirflowNotFoundException)) as raised:
        hook.balance()
    message = str(raised.value)
    if slash_first:  # Airflow reads the key as the host: no login, so the hook names the shapes
        assert isinstance(raised.value, KrakenConnectionConfigError)
        assert "'kraken_raw_uri'" in message and "kraken://<key>:<url-encoded secret>@<host>" in message
    else:  # the text after ':' is not a port: Airflow cannot parse the URI at all
        assert isinstance(raised.value, AirflowNotFoundException)
        assert "kraken_raw_uri" in message
    assert not any(part in message for part in otp_key.secret.split("/") if len(part) >= 5)
    assert new_calls() == []


NON_STANDARD = {"conn_type": "kraken", "host": "https://api.kraken.com"}


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"password": "c2VjcmV0K2tleS8/PT0+"}, "no API key (login) is set"),
        ({"login": "KEY"}, "no API secret (password) is set"),
        ({"login": "KEY", "password": "not base64 at all!"}, "not valid base64"),
        ({"login": "KEY", "password": "c2VjcmV0K2tleS8/PT0+\n"}, "trailing whitespace"),
        (
            {"login": "KEY", "password": "c2VjcmV0K2tleS8/PT0+", "extra": {"otp_password": "4242"}},
            "at least 5",
        ),
        ({"login": "KEY", "password": "c2VjcmV0K2tleS8/PT0+", "extra": {"rate_tier": "gold"}}, "rate_tier"),
        ({"login": "KEY", "password": "c2VjcmV0K2tleS8/PT0+", "host": "http://example.com"}, "https"),
    ],
    ids=["no-key", "no-secret", "not-base64", "pasted-newline", "short-otp", "bad-tier", "plain-http"],
)
def test_malformed_env_connection_fails_before_any_request(
    new_calls: Callable[[], list[Any]],
    hooks: list[KrakenHook],
    monkeypatch: pytest.MonkeyPatch,
    fields: dict[str, Any],
    expected: str,
) -> None:
    hook = hook_for(hooks, monkeypatch, "kraken_bad", json.dumps({**NON_STANDARD, **fields}))
    with pytest.raises(KrakenConnectionConfigError) as raised:
        hook.balance()
    message = str(raised.value)
    assert message.startswith("Malformed Kraken connection 'kraken_bad': ")
    assert expected in message
    for secret in (fields.get("password"), fields.get("extra", {}).get("otp_password")):
        assert not secret or secret.strip() not in message
    assert new_calls() == []
