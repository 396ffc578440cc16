"""What a Kraken connection holds, checked before any request leaves; errors never echo a secret.

Connection fields: login = API key, password = API secret (base64, as Kraken shows it),
host = base URL (empty: ``https://api.kraken.com``), extras below. Pure: no Airflow, no HTTP.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_kraken.exceptions import KrakenConnectionConfigError
from airflow_provider_kraken.pacing import RATE_TIERS

DEFAULT_BASE_URL = "https://api.kraken.com"
#: Airflow's masker never hides values shorter than this, so a shorter OTP would leak in logs.
MIN_MASKED_LENGTH = 5

#: Extra fields: name -> (description, default). Secret extras carry a word Airflow masks by name.
EXTRA_FIELDS: dict[str, tuple[str, Any]] = {
    "otp_password": ("Two-factor password set on the API key, sent as Kraken's `otp`.", None),
    "timeout": ("Seconds to wait for Kraken's answer to one request.", 30),
    "connect_timeout": ("Seconds to wait for a TCP connection to Kraken.", 5),
    "rate_tier": ("Kraken verification tier of the account: starter, intermediate or pro.", "starter"),
    "max_retry_seconds": ("Upper bound, in seconds, on retrying one read call.", 60),
}

ACCEPTED_SHAPES = (
    "a Kraken connection needs login = API key and password = API secret: as JSON "
    '{"conn_type": "kraken", "login": "<key>", "password": "<secret>", "host": "<url>", "extra": {...}}, '
    "as a URI kraken://<key>:<url-encoded secret>@<host>, or a secrets-backend entry using those "
    "standard names (keys such as api_key/api_secret are not read)"
)

_HEADER_SAFE = re.compile(r"[\x21-\x7e]+")


@dataclass(frozen=True, repr=False)
class ConnectionSettings:
    """A parsed, validated Kraken connection. Its repr shows no secret."""

    conn_id: str
    base_url: str
    api_key: str
    secret: bytes = field(repr=False)
    otp: str | None = field(default=None, repr=False)
    timeout: float = 30.0
    connect_timeout: float = 5.0
    rate_tier: str = "starter"
    max_retry_seconds: float = 60.0

    def __repr__(self) -> str:
        return (
            f"ConnectionSettings(conn_id={self.conn_id!r}, base_url={self.base_url!r}, "
            f"api_key={self.api_key[:4]!r}..., rate_tier={self.rate_tier!r})"
        )


def parse_connection(
    conn_id: str,
    *,
    login: str | None,
    password: str | None,
    host: str | None,
    port: int | None = None,
    extra: Mapping[str, Any] | None = None,
) -> ConnectionSettings:
    """Validate the connection's fields and return settings, or raise ``KrakenConnectionConfigError``."""
    extra = dict(extra or {})
    api_key = _api_key(conn_id, login)
    secret = _secret(conn_id, password)
    otp = extra.get("otp_password") or None
    if otp is not None and (not isinstance(otp, str) or len(otp) < MIN_MASKED_LENGTH):
        raise KrakenConnectionConfigError(
            conn_id,
            f"extra 'otp_password' must be a string of at least {MIN_MASKED_LENGTH} characters "
            "(Airflow cannot mask shorter values in logs)",
        )
    tier = extra.get("rate_tier") or "starter"
    if tier not in RATE_TIERS:
        raise KrakenConnectionConfigError(
            conn_id, f"extra 'rate_tier' must be one of {', '.join(sorted(RATE_TIERS))}, got {tier!r}"
        )
    return ConnectionSettings(
        conn_id=conn_id,
        base_url=_base_url(conn_id, host, port),
        api_key=api_key,
        secret=secret,
        otp=otp,
        timeout=_positive(conn_id, extra, "timeout"),
        connect_timeout=_positive(conn_id, extra, "connect_timeout"),
        rate_tier=tier,
        max_retry_seconds=_positive(conn_id, extra, "max_retry_seconds"),
    )


def _api_key(conn_id: str, login: str | None) -> str:
    if not login:
        raise KrakenConnectionConfigError(conn_id, f"no API key (login) is set; {ACCEPTED_SHAPES}")
    if not _HEADER_SAFE.fullmatch(login):
        raise KrakenConnectionConfigError(
            conn_id, "the API key (login) contains whitespace or non-printable characters (a pasted newline?)"
        )
    return login


def _secret(conn_id: str, password: str | None) -> bytes:
    if not password:
        raise KrakenConnectionConfigError(conn_id, f"no API secret (password) is set; {ACCEPTED_SHAPES}")
    if password != password.strip():
        raise KrakenConnectionConfigError(
            conn_id, "the API secret (password) has leading or trailing whitespace (a pasted newline?)"
        )
    try:
        secret = base64.b64decode(password, validate=True)
    except (binascii.Error, ValueError):
        raise KrakenConnectionConfigError(
            conn_id, "the API secret (password) is not valid base64; paste it exactly as Kraken shows it"
        ) from None
    if not secret:
        raise KrakenConnectionConfigError(conn_id, "the API secret (password) decodes to nothing")
    return secret


def _base_url(conn_id: str, host: str | None, port: int | None) -> str:
    if not host:
        return DEFAULT_BASE_URL
    url = host if "://" in host else f"{'http' if _is_loopback(host) else 'https'}://{host}"
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise KrakenConnectionConfigError(conn_id, f"host {host!r} is not an http(s) base URL")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise KrakenConnectionConfigError(
            conn_id, "plain http is allowed only for loopback (the sandbox); use https for Kraken"
        )
    netloc = parts.netloc
    if port and parts.port is None:
        netloc = f"{netloc}:{port}"
    return f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}"


def _is_loopback(hostname: str) -> bool:
    name = hostname.split(":")[0].strip("[]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _positive(conn_id: str, extra: Mapping[str, Any], name: str) -> float:
    value = extra.get(name)
    if value is None or value == "":
        return float(EXTRA_FIELDS[name][1])
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = -1.0
    if isinstance(value, bool) or not number > 0:
        raise KrakenConnectionConfigError(conn_id, f"extra {name!r} must be a positive number, got {value!r}")
    return number
