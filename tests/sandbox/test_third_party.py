"""Third-party Kraken clients work against the sandbox unchanged but for the base URL."""

from __future__ import annotations

import time
from typing import Any

import krakenex
import pytest
from kraken.exceptions import (
    KrakenInvalidReferenceIdError,
    KrakenPermissionDeniedError,
    KrakenUnknownWithdrawKeyError,
)
from kraken.spot import Funding, User

from airflow_provider_kraken.sandbox.pytest_plugin import KrakenSandbox

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the SDK flags the legacy funding API


def krakenex_call(api: krakenex.API, method: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
    """krakenex uses millisecond nonces: two calls in one millisecond collide (as on Kraken), so pace them."""
    time.sleep(0.002)
    answer: dict[str, Any] = api.query_private(method, data)
    return answer


def test_krakenex(sandbox: KrakenSandbox) -> None:
    api = krakenex.API(sandbox.api_key, sandbox.api_secret)
    api.uri = sandbox.url
    assert krakenex_call(api, "Balance")["result"]["XXDG"] == "100.00000000"
    info = krakenex_call(api, "WithdrawInfo", {"asset": "doge", "key": "XDG_Wallet", "amount": "100"})
    assert info == {
        "error": [],
        "result": {"method": "XXDG", "limit": "100.00000000", "amount": "96.00000000", "fee": "4.00000000"},
    }
    refid = krakenex_call(api, "Withdraw", {"asset": "doge", "key": "XDG_Wallet", "amount": "100"})["result"][
        "refid"
    ]
    assert refid == "ASBG2IX-OQZTG5-CRWGN3"
    statuses = krakenex_call(api, "WithdrawStatus", {"asset": "doge", "cursor": True})["result"][
        "withdrawals"
    ]
    assert [w["refid"] for w in statuses] == [refid]
    assert krakenex_call(api, "WithdrawInfo", {"asset": "doge", "key": "invalid", "amount": "1"}) == {
        "error": ["EFunding:Unknown withdraw key"]
    }
    assert api.query_public("Assets", {"asset": "xbt"})["result"]["XXBT"]["altname"] == "XBT"
    assert isinstance(api.query_public("Time")["result"]["unixtime"], int)


def test_krakenex_same_millisecond_collision_is_kraken_behaviour(sandbox: KrakenSandbox) -> None:
    api = krakenex.API(sandbox.api_key, sandbox.api_secret)
    api.uri = sandbox.url
    api._nonce = lambda: 1_700_000_000_000  # freeze krakenex's ms nonce: a collision
    assert api.query_private("Balance")["error"] == []
    assert api.query_private("Balance") == {"error": ["EAPI:Invalid nonce"]}


def test_python_kraken_sdk_user_and_funding(sandbox: KrakenSandbox) -> None:
    user = User(key=sandbox.api_key, secret=sandbox.api_secret, url=sandbox.url)
    funding = Funding(key=sandbox.api_key, secret=sandbox.api_secret, url=sandbox.url)
    assert user.get_account_balance()["XXDG"] == "100.00000000"
    assert user.get_balances()["ZUSD"] == {"balance": "10000.0000", "hold_trade": "250.0000"}
    assert funding.get_deposit_methods(asset="DOGE") == [
        {"method": "Dogecoin", "limit": False, "gen-address": True}
    ]
    assert funding.get_deposit_address(asset="DOGE", method="Dogecoin") == []  # the SDK sends new=False
    created = funding.get_deposit_address(asset="DOGE", method="Dogecoin", new=True)
    assert created == [{"address": "DFSHkVSQycPZDu8CkiNvx8ymHKHoMLteUD", "expiretm": "0", "new": True}]
    deposits = funding.get_recent_deposits_status(asset="DOGE")
    assert [d["refid"] for d in deposits] == ["QSBALMX-YTM4MI-REMLWN"]
    info = funding.get_withdrawal_info(asset="DOGE", key="XDG_Wallet", amount=100)
    assert info["amount"] == "96.00000000"
    sandbox.admin.freeze()
    first = funding.withdraw_funds(asset="DOGE", key="XDG_Wallet", amount=20, max_fee="4")["refid"]
    second = funding.withdraw_funds(asset="DOGE", key="XDG_Wallet", amount=20)["refid"]
    assert funding.cancel_withdraw(asset="DOGE", refid=second) is True
    listed = funding.get_recent_withdraw_status(asset="DOGE", cursor=False)
    assert {w["refid"]: w.get("status-prop") for w in listed} == {first: None, second: "cancel-pending"}
    sandbox.admin.advance(5)
    with pytest.raises(KrakenInvalidReferenceIdError):
        funding.cancel_withdraw(asset="DOGE", refid=first)
    with pytest.raises(KrakenUnknownWithdrawKeyError):
        funding.withdraw_funds(asset="DOGE", key="invalid", amount=20)
    transfer = funding.wallet_transfer(asset="XBT", from_="Spot Wallet", to_="Futures Wallet", amount="0.1")
    assert transfer["refid"].startswith("B")
    assert user.get_account_balance()["XXBT"] == "2.4000000000"


def test_python_kraken_sdk_permissions(sandbox: KrakenSandbox) -> None:
    creds = sandbox.world_key("sandbox-query")
    funding = Funding(key=creds.key, secret=creds.secret, url=sandbox.url)
    with pytest.raises(KrakenPermissionDeniedError):
        funding.withdraw_funds(asset="DOGE", key="XDG_Wallet", amount=20)


def test_high_resolution_nonces_lock_out_millisecond_clients(sandbox: KrakenSandbox) -> None:
    """python-kraken-sdk uses 10-ns ticks (~1.7e17); once a key saw them, krakenex's ms nonces are too low."""
    user = User(key=sandbox.api_key, secret=sandbox.api_secret, url=sandbox.url)
    assert "XXDG" in user.get_account_balance()
    assert int(sandbox.admin.calls()[-1].nonce or 0) > 10**17
    api = krakenex.API(sandbox.api_key, sandbox.api_secret)
    api.uri = sandbox.url
    assert krakenex_call(api, "Balance") == {"error": ["EAPI:Invalid nonce"]}
    assert krakenex_call(api, "Balance") == {"error": ["EAPI:Invalid nonce"]}  # and stays locked out
    assert "XXDG" in user.get_account_balance()  # while the high-resolution client carries on
