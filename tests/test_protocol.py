"""The shared protocol: Kraken's signature vector, encoding, parsing and the retry decision table."""

from __future__ import annotations

import base64
import urllib.parse
from decimal import Decimal

import pytest

from airflow_provider_kraken.exceptions import (
    KrakenAPIError,
    KrakenEAPIError,
    KrakenEFundingError,
    KrakenEGeneralError,
    KrakenEQueryError,
    KrakenEServiceError,
    KrakenTransportError,
    api_error,
)
from airflow_provider_kraken.protocol import (
    CallKind,
    Verdict,
    call_kind,
    decide,
    encode_private,
    parse_response,
    sign,
)

VECTOR_SECRET = "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg=="
VECTOR_BODY = "nonce=1616492376594&ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25"
VECTOR_SIGN = "4/dpxb3iT4tp/ZCVEwSnEsLxx0bqyhLpdfOpc6fn7OR8+UClSV5n9E6aSS8MPtnRfp32bAb0nmbRn6H8ndwLUQ=="


def test_official_signature_vector() -> None:
    secret = base64.b64decode(VECTOR_SECRET)
    assert sign("/0/private/AddOrder", 1616492376594, VECTOR_BODY, secret) == VECTOR_SIGN


def test_signature_changes_with_the_nonce() -> None:
    secret = base64.b64decode(VECTOR_SECRET)
    assert sign("/0/private/AddOrder", 1616492376595, VECTOR_BODY, secret) != VECTOR_SIGN


def test_encode_puts_nonce_first_and_otp_in_the_body_and_hides_headers_from_repr() -> None:
    request = encode_private(
        "Withdraw", {"asset": "XXDG", "amount": "1.5"}, api_key="k", secret=b"s", nonce=42, otp="hunter22"
    )
    assert urllib.parse.parse_qsl(request.body.decode()) == [
        ("nonce", "42"),
        ("asset", "XXDG"),
        ("amount", "1.5"),
        ("otp", "hunter22"),
    ]
    assert request.path == "/0/private/Withdraw"
    assert request.signature == sign(request.path, 42, request.body, b"s")
    assert request.signature not in repr(request)


def test_deposit_addresses_with_new_is_a_write() -> None:
    assert call_kind("DepositAddresses", {"new": "true"}) is CallKind.WRITE
    assert call_kind("DepositAddresses", {}) is CallKind.READ
    assert call_kind("Withdraw", {}) is CallKind.WRITE


def test_parse_success_keeps_decimals_exact_and_returns_warnings() -> None:
    parsed = parse_response(
        "BalanceEx", 200, b'{"error":["WGeneral:Note"],"result":{"b":0.1000000000000000001}}'
    )
    assert parsed.result == {"b": Decimal("0.1000000000000000001")}
    assert parsed.warnings == ("WGeneral:Note",)


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        ("EAPI:Invalid key", KrakenEAPIError),
        ("EGeneral:Permission denied", KrakenEGeneralError),
        ("EFunding:Unknown withdraw key", KrakenEFundingError),
        ("EService:Unavailable", KrakenEServiceError),
        ("EQuery:Unknown asset", KrakenEQueryError),
        ("EOrder:Something new", KrakenAPIError),
    ],
)
def test_errors_map_to_one_class_per_prefix_and_keep_the_raw_code(
    code: str, cls: type[KrakenAPIError]
) -> None:
    with pytest.raises(cls) as info:
        parse_response("Withdraw", 200, f'{{"error":["{code}"]}}'.encode())
    assert type(info.value) is cls
    assert info.value.code == code
    assert code in str(info.value)


@pytest.mark.parametrize(
    ("status", "body"), [(502, b"<html>Bad gateway</html>"), (200, b"<html>oops</html>"), (200, b"[1,2]")]
)
def test_non_kraken_answers_are_transport_errors_that_were_sent(status: int, body: bytes) -> None:
    with pytest.raises(KrakenTransportError) as info:
        parse_response("Withdraw", status, body, "text/html")
    assert info.value.sent
    assert b"oops" not in str(info.value).encode()


def test_throttled_timestamp_is_parsed() -> None:
    assert api_error("X", ["EService:Throttled: 1700000000"]).throttled_until == 1700000000
    assert api_error("X", ["EService: Throttled: [1700000001]"]).throttled_until == 1700000001
    assert api_error("X", ["EService:Unavailable"]).throttled_until is None


READ, WRITE = CallKind.READ, CallKind.WRITE
NOT_SENT = KrakenTransportError("M", "refused", sent=False)
LOST = KrakenTransportError("M", "reset", sent=True)


@pytest.mark.parametrize(
    ("kind", "error", "verdict"),
    [
        (READ, NOT_SENT, Verdict.RETRY),
        (WRITE, NOT_SENT, Verdict.RETRY),
        (READ, LOST, Verdict.RETRY),
        (WRITE, LOST, Verdict.UNKNOWN),
        (READ, api_error("M", ["EAPI:Invalid nonce"]), Verdict.RETRY),
        (WRITE, api_error("M", ["EAPI:Invalid nonce"]), Verdict.RETRY),
        (READ, api_error("M", ["EService:Unavailable"]), Verdict.RETRY),
        (WRITE, api_error("M", ["EService:Busy"]), Verdict.UNKNOWN),
        (WRITE, api_error("M", ["EGeneral:Internal error"]), Verdict.UNKNOWN),
        (READ, api_error("M", ["EAPI:Rate limit exceeded"]), Verdict.RETRY),
        (WRITE, api_error("M", ["EAPI:Rate limit exceeded"]), Verdict.RAISE),
        (READ, api_error("M", ["EFunding:Unknown withdraw key"]), Verdict.RAISE),
        (WRITE, api_error("M", ["EFunding:Unknown withdraw key"]), Verdict.RAISE),
        (WRITE, api_error("M", ["EGeneral:Temporary lockout"]), Verdict.RAISE),
        (READ, api_error("M", ["EAPI:Invalid signature"]), Verdict.RAISE),
    ],
)
def test_retry_decision_table(kind: CallKind, error: Exception, verdict: Verdict) -> None:
    assert decide(kind, error) is verdict  # type: ignore[arg-type]


def test_retry_safe_means_provably_not_executed() -> None:
    assert NOT_SENT.retry_safe and not LOST.retry_safe
    assert api_error("M", ["EAPI:Invalid nonce"]).retry_safe
    assert not api_error("M", ["EService:Unavailable"]).retry_safe
