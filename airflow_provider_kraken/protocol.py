"""Kraken's private REST protocol, shared by the sync and async transports.

Encoding, signing, response parsing and the one table that decides whether a failed call may be
sent again. Pure: no HTTP, no Airflow.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import json
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from airflow_provider_kraken.exceptions import (
    KrakenAPIError,
    KrakenError,
    KrakenTransportError,
    api_error,
)

PRIVATE_PREFIX = "/0/private/"
PUBLIC_PREFIX = "/0/public/"
USER_AGENT = "airflow-provider-kraken"


class CallKind(enum.Enum):
    """A read can be repeated freely; a write moves money or creates something."""

    READ = "read"
    WRITE = "write"


@dataclass(frozen=True)
class Endpoint:
    """One private endpoint: its kind and what it costs on Kraken's call counter."""

    name: str
    kind: CallKind
    cost: int = 1


ENDPOINTS: dict[str, Endpoint] = {
    e.name: e
    for e in (
        Endpoint("Balance", CallKind.READ),
        Endpoint("BalanceEx", CallKind.READ),
        Endpoint("DepositMethods", CallKind.READ),
        Endpoint("DepositAddresses", CallKind.READ),  # a write when new=true, see call_kind()
        Endpoint("DepositStatus", CallKind.READ),
        Endpoint("WithdrawMethods", CallKind.READ),
        Endpoint("WithdrawAddresses", CallKind.READ),
        Endpoint("WithdrawInfo", CallKind.READ),
        Endpoint("Withdraw", CallKind.WRITE),
        Endpoint("WithdrawStatus", CallKind.READ),
        Endpoint("WithdrawCancel", CallKind.WRITE),
        Endpoint("WalletTransfer", CallKind.WRITE),
    )
}


def call_kind(method: str, params: Mapping[str, str]) -> CallKind:
    """Return the kind of one call; DepositAddresses with ``new=true`` creates an address."""
    if method == "DepositAddresses" and params.get("new", "").lower() == "true":
        return CallKind.WRITE
    return ENDPOINTS[method].kind


def sign(path: str, nonce: int | str, body: bytes | str, secret: bytes) -> str:
    """Kraken's API-Sign: base64(HMAC-SHA512(secret, path + SHA256(nonce + body)))."""
    raw_body = body.encode() if isinstance(body, str) else body
    digest = hashlib.sha256(str(nonce).encode() + raw_body).digest()
    mac = hmac.new(secret, path.encode() + digest, hashlib.sha512)
    return base64.b64encode(mac.digest()).decode()


@dataclass(frozen=True)
class SignedRequest:
    """A private request ready to send; its repr never shows the headers (they hold the signature)."""

    method: str
    path: str
    body: bytes
    nonce: int
    headers: Mapping[str, str] = field(repr=False)

    @property
    def signature(self) -> str:
        return self.headers["API-Sign"]


def encode_private(
    method: str,
    params: Mapping[str, str],
    *,
    api_key: str,
    secret: bytes,
    nonce: int,
    otp: str | None = None,
) -> SignedRequest:
    """Form-encode ``params`` with the nonce (and OTP) and sign them for ``/0/private/<method>``."""
    fields: dict[str, str] = {"nonce": str(nonce)}
    fields.update(params)
    if otp:
        fields["otp"] = otp
    body = urllib.parse.urlencode(fields).encode()
    path = PRIVATE_PREFIX + method
    headers = {
        "API-Key": api_key,
        "API-Sign": sign(path, nonce, body, secret),
        "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
        "User-Agent": USER_AGENT,
    }
    return SignedRequest(method=method, path=path, body=body, nonce=nonce, headers=headers)


@dataclass(frozen=True)
class KrakenResponse:
    """A successful answer: ``result`` plus any ``W...`` warnings Kraken attached."""

    result: Any
    warnings: tuple[str, ...] = ()


def parse_response(method: str, status_code: int, content: bytes, content_type: str = "") -> KrakenResponse:
    """Turn an HTTP answer into a result or the matching error; numbers become ``Decimal``, never float."""
    if status_code != 200:
        kind = content_type.split(";")[0] or "no content type"
        raise KrakenTransportError(
            method, f"HTTP {status_code} ({kind}, {len(content)} bytes)", sent=True, status_code=status_code
        )
    try:
        payload = json.loads(content, parse_float=Decimal)
    except ValueError:
        raise KrakenTransportError(
            method, f"HTTP 200 but the body is not JSON ({len(content)} bytes)", sent=True, status_code=200
        ) from None
    if not isinstance(payload, dict) or not isinstance(payload.get("error", []), list):
        raise KrakenTransportError(
            method, "HTTP 200 but not Kraken's response shape", sent=True, status_code=200
        )
    messages = [str(m) for m in payload.get("error", [])]
    errors = [m for m in messages if not m.startswith("W")]
    if errors:
        raise api_error(method, errors)
    if "result" not in payload:
        raise KrakenTransportError(method, "Kraken answered without a result", sent=True, status_code=200)
    return KrakenResponse(result=payload["result"], warnings=tuple(m for m in messages if m.startswith("W")))


class Verdict(enum.Enum):
    """What to do after a failed attempt."""

    RETRY = "retry"  # send again (with a fresh nonce)
    RAISE = "raise"  # a definitive answer: surface it
    UNKNOWN = "unknown"  # a write may have executed: never send again, reconcile


def decide(kind: CallKind, error: KrakenError) -> Verdict:
    """The one place that decides whether a failed call may be sent again.

    ==========================================  =========  ==========
    outcome                                     read       write
    ==========================================  =========  ==========
    refused before sending (connect failed)     retry      retry
    lost after sending (timeout, reset, 5xx)    retry      unknown
    ``EAPI:Invalid nonce`` (not executed)       retry      retry
    ``EService:*``, internal errors             retry      unknown
    rate limit, other transient codes           retry      raise
    any other Kraken error                      raise      raise
    ==========================================  =========  ==========
    """
    if isinstance(error, KrakenTransportError):
        if not error.sent or kind is CallKind.READ:
            return Verdict.RETRY
        return Verdict.UNKNOWN
    if isinstance(error, KrakenAPIError):
        if error.retry_safe:
            return Verdict.RETRY
        if kind is CallKind.READ:
            return Verdict.RETRY if error.transient else Verdict.RAISE
        return Verdict.UNKNOWN if error.ambiguous else Verdict.RAISE
    return Verdict.RAISE
