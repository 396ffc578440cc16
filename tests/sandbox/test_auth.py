"""Authentication exactly as Kraken: signature, keys, nonces (and windows), otp, permissions."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from airflow_provider_kraken.sandbox.pytest_plugin import KrakenSandbox
from airflow_provider_kraken.sandbox.signing import decode_secret, sign, verify

from .conftest import Kraken, kraken_sign, next_nonce

VECTOR_SECRET = "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg=="
VECTOR_BODY = "nonce=1616492376594&ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25"
VECTOR_SIGN = "4/dpxb3iT4tp/ZCVEwSnEsLxx0bqyhLpdfOpc6fn7OR8+UClSV5n9E6aSS8MPtnRfp32bAb0nmbRn6H8ndwLUQ=="


def test_published_signature_vector() -> None:
    assert sign(VECTOR_SECRET, "/0/private/AddOrder", "1616492376594", VECTOR_BODY) == VECTOR_SIGN
    assert (
        kraken_sign(VECTOR_SECRET, "/0/private/AddOrder", "1616492376594", VECTOR_BODY.encode())
        == VECTOR_SIGN
    )


def test_server_verifier_accepts_the_vector_and_nothing_else() -> None:
    secret = decode_secret(VECTOR_SECRET)
    path, nonce, body = b"/0/private/AddOrder", b"1616492376594", VECTOR_BODY.encode()
    assert verify(secret, path, nonce, body, VECTOR_SIGN)
    assert not verify(secret, b"/0/private/Balance", nonce, body, VECTOR_SIGN)
    assert not verify(secret, path, b"1616492376595", body, VECTOR_SIGN)
    assert not verify(secret, path, nonce, body + b"&x=1", VECTOR_SIGN)
    assert not verify(secret, path, nonce, body, VECTOR_SIGN[:-4] + "AAA=")


@pytest.mark.kraken_world(
    overrides={
        "api_keys": {"vector": {"key": "vector-key", "secret": VECTOR_SECRET, "permissions": ["funds_query"]}}
    }
)
def test_server_over_http_with_the_vector_secret(sandbox: KrakenSandbox) -> None:
    """The vector's secret and nonce over HTTP, signed by the tests' own (vector-checked) signer."""
    client = Kraken(sandbox.url, "vector-key", VECTOR_SECRET)
    assert client.raw("Balance", nonce="1616492376594").json()["error"] == []


def test_unknown_and_missing_key(sandbox: KrakenSandbox, kraken: Kraken) -> None:
    stranger = Kraken(sandbox.url, "not-a-key", sandbox.api_secret)
    assert stranger.error("Balance") == "EAPI:Invalid key"
    response = kraken.session.post(sandbox.url + "/0/private/Balance", data=f"nonce={next_nonce()}")
    assert response.json() == {"error": ["EAPI:Invalid key"]}


def test_wrong_secret_and_bad_signatures(sandbox: KrakenSandbox, kraken: Kraken) -> None:
    other_secret = sandbox.world_key("sandbox-full").secret
    assert Kraken(sandbox.url, sandbox.api_key, other_secret).error("Balance") == "EAPI:Invalid signature"
    for bad in ("not base64 at all!", "", "AAAA"):
        response = kraken.raw("Balance", headers={"API-Sign": bad})
        assert response.json() == {"error": ["EAPI:Invalid signature"]}
    body = f"nonce={next_nonce()}"
    response = kraken.session.post(
        sandbox.url + "/0/private/Balance", data=body, headers={"API-Key": sandbox.api_key}
    )
    assert response.json() == {"error": ["EAPI:Invalid signature"]}


def test_signature_covers_path_and_body(sandbox: KrakenSandbox, kraken: Kraken) -> None:
    nonce = next_nonce()
    body = f"nonce={nonce}&asset=doge".encode()
    signed_for_other_path = kraken_sign(sandbox.api_secret, "/0/private/DepositStatus", nonce, body)
    response = kraken.session.post(
        sandbox.url + "/0/private/Balance",
        data=body,
        headers={"API-Key": sandbox.api_key, "API-Sign": signed_for_other_path},
    )
    assert response.json() == {"error": ["EAPI:Invalid signature"]}
    tampered = body + b"&extra=1"
    response = kraken.session.post(
        sandbox.url + "/0/private/DepositStatus",
        data=tampered,
        headers={"API-Key": sandbox.api_key, "API-Sign": signed_for_other_path},
    )
    assert response.json() == {"error": ["EAPI:Invalid signature"]}


@pytest.mark.parametrize("nonce_as", ["string", "number"])
def test_json_bodies_sign_over_the_json_text(sandbox: KrakenSandbox, nonce_as: str) -> None:
    nonce = next_nonce()
    payload = {"nonce": nonce if nonce_as == "string" else int(nonce), "asset": "doge", "cursor": True}
    body = json.dumps(payload).encode()
    response = Kraken(sandbox.url, sandbox.api_key, sandbox.api_secret).session.post(
        sandbox.url + "/0/private/DepositStatus",
        data=body,
        headers={
            "API-Key": sandbox.api_key,
            "API-Sign": kraken_sign(sandbox.api_secret, "/0/private/DepositStatus", nonce, body),
            "Content-Type": "application/json",
        },
    )
    answer = response.json()
    assert answer["error"] == []
    assert [d["refid"] for d in answer["result"]["deposits"]] == ["QSBALMX-YTM4MI-REMLWN"]


def test_json_amount_numbers_are_exact(kraken: Kraken) -> None:
    answer = kraken.raw(
        "WithdrawInfo", {"asset": "doge", "key": "XDG_Wallet", "amount": 12.5}, as_json=True
    ).json()
    assert answer["result"]["amount"] == "8.50000000"


def test_nonce_must_increase_per_key(
    sandbox: KrakenSandbox, kraken: Kraken, client_for: Callable[..., Kraken]
) -> None:
    nonce = next_nonce()
    assert kraken.raw("Balance", nonce=nonce).json()["error"] == []
    assert kraken.raw("Balance", nonce=nonce).json() == {"error": ["EAPI:Invalid nonce"]}
    assert kraken.raw("Balance", nonce=str(int(nonce) - 1)).json() == {"error": ["EAPI:Invalid nonce"]}
    # Another key has its own nonce state: a lower nonce is fine there.
    assert client_for("sandbox-full").raw("Balance", nonce=str(int(nonce) - 5)).json()["error"] == []


@pytest.mark.parametrize("nonce", ["abc", "-5", "1.5", "1e9", "", "18446744073709551616", "١٢٣"])
def test_malformed_nonces(kraken: Kraken, nonce: str) -> None:
    assert kraken.raw("Balance", nonce=nonce).json() == {"error": ["EAPI:Invalid nonce"]}


def test_largest_u64_nonce_is_valid(kraken: Kraken) -> None:
    assert kraken.raw("Balance", nonce="18446744073709551615").json()["error"] == []


@pytest.mark.kraken_world(overrides={"api_keys": {"sandbox-full": {"nonce_window": 1000}}})
def test_nonce_window_in_ticks(client_for: Callable[..., Kraken]) -> None:
    client = client_for("sandbox-full")
    top = int(next_nonce()) + 10_000
    assert client.raw("Balance", nonce=str(top)).json()["error"] == []
    assert client.raw("Balance", nonce=str(top - 999)).json()["error"] == []  # inside the window
    assert client.raw("Balance", nonce=str(top - 999)).json() == {"error": ["EAPI:Invalid nonce"]}  # reused
    assert client.raw("Balance", nonce=str(top - 1000)).json() == {"error": ["EAPI:Invalid nonce"]}  # outside
    assert client.raw("Balance", nonce=str(top)).json() == {"error": ["EAPI:Invalid nonce"]}  # duplicate top
    assert client.raw("Balance", nonce=str(top + 1)).json()["error"] == []


def test_otp(client_for: Callable[..., Kraken]) -> None:
    assert client_for("sandbox-otp").error("Balance") == "EGeneral:Permission denied"
    assert client_for("sandbox-otp", otp="000000").error("Balance") == "EAPI:Invalid signature"
    assert "XXDG" in client_for("sandbox-otp", otp="424242").result("Balance")
    # An otp sent to a key that has none is rejected like a wrong one.
    assert client_for("sandbox-full", otp="424242").error("Balance") == "EAPI:Invalid signature"


ALL_CALLS: dict[str, dict[str, str]] = {
    "Balance": {},
    "BalanceEx": {},
    "DepositMethods": {"asset": "doge"},
    "DepositAddresses": {"asset": "doge", "method": "Dogecoin"},
    "DepositStatus": {"asset": "doge"},
    "WithdrawMethods": {},
    "WithdrawAddresses": {},
    "WithdrawInfo": {"asset": "doge", "key": "XDG_Wallet", "amount": "50"},
    "Withdraw": {"asset": "doge", "key": "XDG_Wallet", "amount": "50"},
    "WithdrawStatus": {"asset": "doge"},
    "WithdrawCancel": {"asset": "doge", "refid": "AAAAAAA-AAAAAA-AAAAAA"},
    "WalletTransfer": {"asset": "doge", "from": "Spot Wallet", "to": "Futures Wallet", "amount": "1"},
}

# Kraken's permission table (reference section 1.5): which calls each key may make.
ALLOWED: dict[str, set[str]] = {
    "sandbox-query": {"Balance", "BalanceEx", "DepositAddresses", "DepositStatus", "WalletTransfer"},
    "sandbox-nofunds": set(),
    "withdraw-only": {"Withdraw", "WithdrawStatus", "WithdrawCancel"},
    "ledger-only": {"WithdrawStatus"},
    "query-deposit": {
        "Balance",
        "BalanceEx",
        "DepositMethods",
        "DepositAddresses",
        "DepositStatus",
        "WalletTransfer",
    },
}


@pytest.mark.kraken_world(
    overrides={
        "api_keys": {
            "withdraw-only": {
                "key": "withdraw-only",
                "secret": "c2VjcmV0",
                "permissions": ["funds_withdraw"],
            },
            "ledger-only": {"key": "ledger-only", "secret": "c2VjcmV0", "permissions": ["ledger_query"]},
            "query-deposit": {
                "key": "query-deposit",
                "secret": "c2VjcmV0",
                "permissions": ["Funds permissions - Query", "Funds permissions - Deposit"],
            },
        }
    }
)
@pytest.mark.parametrize("key_name", sorted(ALLOWED))
def test_permission_table(client_for: Callable[..., Kraken], key_name: str) -> None:
    client = client_for(key_name)
    for method, params in ALL_CALLS.items():
        error = client.call(method, **params)["error"]
        if method in ALLOWED[key_name]:
            assert error != ["EGeneral:Permission denied"], (key_name, method)
        else:
            assert error == ["EGeneral:Permission denied"], (key_name, method)


def test_full_key_may_call_everything(kraken: Kraken) -> None:
    for method, params in ALL_CALLS.items():
        assert kraken.call(method, **params)["error"] != ["EGeneral:Permission denied"], method
