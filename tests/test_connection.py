"""Connection parsing: clear errors naming the connection, never the secret."""

from __future__ import annotations

import base64

import pytest

from airflow_provider_kraken.connection import DEFAULT_BASE_URL, parse_connection
from airflow_provider_kraken.exceptions import KrakenConnectionConfigError

SECRET = base64.b64encode(b"s" * 64).decode()


def parse(**fields: object) -> object:
    values: dict[str, object] = {"login": "KEY", "password": SECRET, "host": None, "port": None, "extra": {}}
    values.update(fields)
    return parse_connection("kraken_test", **values)  # type: ignore[arg-type]


def test_defaults() -> None:
    settings = parse()
    assert settings.base_url == DEFAULT_BASE_URL  # type: ignore[attr-defined]
    assert settings.rate_tier == "starter"  # type: ignore[attr-defined]
    assert SECRET not in repr(settings)


@pytest.mark.parametrize(
    ("host", "port", "url"),
    [
        ("http://127.0.0.1:8080", None, "http://127.0.0.1:8080"),
        ("127.0.0.1", 8080, "http://127.0.0.1:8080"),
        ("localhost", 9, "http://localhost:9"),
        ("api.kraken.com", None, "https://api.kraken.com"),
        ("https://api.kraken.com/", None, "https://api.kraken.com"),
    ],
)
def test_base_url(host: str, port: int | None, url: str) -> None:
    assert parse(host=host, port=port).base_url == url  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"login": None}, "no API key"),
        ({"login": "KEY\n"}, "whitespace"),
        ({"password": None}, "no API secret"),
        ({"password": SECRET + "\n"}, "whitespace"),
        ({"password": "not*base64"}, "not valid base64"),
        ({"host": "http://example.com"}, "plain http"),
        ({"host": "ftp://x"}, "not an http"),
        ({"extra": {"otp_password": "1234"}}, "at least 5"),
        ({"extra": {"rate_tier": "gold"}}, "rate_tier"),
        ({"extra": {"timeout": "soon"}}, "timeout"),
        ({"extra": {"timeout": -1}}, "timeout"),
    ],
)
def test_malformed_connections_name_the_conn_id_never_the_value(
    fields: dict[str, object], message: str
) -> None:
    with pytest.raises(KrakenConnectionConfigError, match=message) as info:
        parse(**fields)
    text = str(info.value)
    assert "kraken_test" in text
    assert SECRET not in text and "not*base64" not in text and "1234" not in text


def test_missing_secret_names_the_accepted_shapes() -> None:
    with pytest.raises(KrakenConnectionConfigError, match="api_key/api_secret are not read"):
        parse(login=None, password=None)
