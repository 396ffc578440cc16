"""The funding endpoints beyond the article's examples: validation, money, filters, paging, public calls."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal

import pytest

from airflow_provider_kraken.sandbox.pytest_plugin import KrakenSandbox

from .conftest import Kraken

UNLIMITED = pytest.mark.kraken_world(overrides={"api_keys": {"sandbox-full": {"tier": "unlimited"}}})
REFID = re.compile(r"[A-Z][A-Z0-9]{6}-[A-Z0-9]{6}-[A-Z0-9]{6}")


@pytest.fixture
def fast(client_for: Callable[..., Kraken]) -> Kraken:
    """The world's full key (unlimited tier in tests marked UNLIMITED)."""
    return client_for("sandbox-full")


def test_balances(kraken: Kraken) -> None:
    assert kraken.result("Balance") == {
        "XXDG": "100.00000000",
        "XXBT": "2.5000000000",
        "USDC": "5000.00000000",
        "XETH": "10.0000000000",
        "ZUSD": "10000.0000",
    }
    extended = kraken.result("BalanceEx")
    assert extended["ZUSD"] == {"balance": "10000.0000", "hold_trade": "250.0000"}
    assert extended["XXDG"] == {"balance": "100.00000000", "hold_trade": "0.00000000"}


def test_credit_lines_show_in_balance_ex(kraken: Kraken, sandbox: KrakenSandbox) -> None:
    sandbox.admin.set_balance("usd", credit="500", credit_used="100")
    assert kraken.result("BalanceEx")["ZUSD"] == {
        "balance": "10000.0000",
        "hold_trade": "250.0000",
        "credit": "500.0000",
        "credit_used": "100.0000",
    }


@pytest.mark.parametrize("name", ["doge", "DOGE", "Doge", "xdg", "XDG", "XXDG", "xxdg"])
def test_asset_aliases_in_ids_out(kraken: Kraken, name: str) -> None:
    assert kraken.result("WithdrawMethods", asset=name)[0]["asset"] == "XXDG"


@pytest.mark.parametrize(
    ("name", "asset_id"),
    [("btc", "XXBT"), ("xbt", "XXBT"), ("eth", "XETH"), ("usd", "ZUSD"), ("usdc", "USDC")],
)
def test_common_tickers(kraken: Kraken, name: str, asset_id: str) -> None:
    assert {m["asset"] for m in kraken.result("WithdrawMethods", asset=name)} == {asset_id}


def test_unknown_asset_errors(kraken: Kraken) -> None:
    assert kraken.error("DepositStatus", asset="nope") == "EQuery:Unknown asset"
    assert kraken.error("DepositMethods", asset="nope") == "EQuery:Unknown asset"
    assert kraken.error("Withdraw", asset="nope", key="XDG_Wallet", amount="50") == "EFunding:Unknown asset"
    assert (
        kraken.error("WithdrawInfo", asset="nope", key="XDG_Wallet", amount="50") == "EFunding:Unknown asset"
    )
    assert kraken.error("DepositMethods", asset="usd") == "EFunding:No funding method"


@pytest.mark.parametrize(
    ("amount", "error"),
    [
        ("abc", "EGeneral:Invalid arguments:amount"),
        ("1e2", "EGeneral:Invalid arguments:amount"),
        ("-50", "EGeneral:Invalid arguments:amount"),
        ("50,5", "EGeneral:Invalid arguments:amount"),
        ("0x10", "EGeneral:Invalid arguments:amount"),
        ("", "EGeneral:Invalid arguments:amount"),
        ("50.123456789", "EFunding:Invalid amount"),  # 9 decimals, XXDG keeps 8
        ("0", "EFunding:Invalid amount"),
        ("4", "EFunding:Invalid amount"),  # all fee
        ("9.99", "EFunding:Invalid amount"),  # under the method minimum of 10
    ],
)
def test_amount_validation(kraken: Kraken, amount: str, error: str) -> None:
    assert kraken.error("WithdrawInfo", asset="doge", key="XDG_Wallet", amount=amount) == error
    assert kraken.error("Withdraw", asset="doge", key="XDG_Wallet", amount=amount) == error


def test_trailing_zeros_are_not_extra_precision(kraken: Kraken) -> None:
    info = kraken.result("WithdrawInfo", asset="doge", key="XDG_Wallet", amount="50.0000000000")
    assert info["amount"] == "46.00000000"


def test_missing_arguments(kraken: Kraken) -> None:
    assert kraken.error("WithdrawInfo", asset="doge", key="XDG_Wallet") == "EGeneral:Invalid arguments:amount"
    assert kraken.error("Withdraw", asset="doge", amount="50") == "EGeneral:Invalid arguments:key"
    assert kraken.error("Withdraw", key="XDG_Wallet", amount="50") == "EGeneral:Invalid arguments:asset"
    assert kraken.error("WithdrawCancel", asset="doge") == "EGeneral:Invalid arguments:refid"
    assert kraken.error("DepositMethods") == "EGeneral:Invalid arguments:asset"


def test_withdraw_key_must_belong_to_the_asset(kraken: Kraken) -> None:
    assert (
        kraken.error("Withdraw", asset="doge", key="USDC_Cold", amount="50")
        == "EFunding:Unknown withdraw key"
    )
    assert kraken.error("Withdraw", asset="doge", key="DNtxrbNnPWf9RZQMYcrqLL6QRgHoozabwM", amount="50") == (
        "EFunding:Unknown withdraw key"
    )


def test_withdraw_debits_gross_at_once_and_records_net(kraken: Kraken, sandbox: KrakenSandbox) -> None:
    refid = kraken.result("Withdraw", asset="doge", key="XDG_Savings", amount="30")["refid"]
    assert kraken.result("Balance")["XXDG"] == "70.00000000"
    record = kraken.result("WithdrawStatus", asset="doge")[0]
    assert record["refid"] == refid
    assert (record["amount"], record["fee"], record["status"], record["txid"]) == (
        "26.00000000",
        "4.00000000",
        "Initial",
        "",
    )
    assert (record["key"], record["info"], record["network"]) == (
        "XDG_Savings",
        "DLq5ZqVjC1sEXFx2NntBQAdKqqHg2rYJ7h",
        "Dogecoin",
    )
    ledger = sandbox.admin.account()
    assert ledger.balance("XXDG") == Decimal("70")
    assert ledger.withdrawal(refid)["gross"] == "30.00000000"


def test_refids_are_fresh_after_the_scripted_ones(kraken: Kraken) -> None:
    refids = [
        kraken.result("Withdraw", asset="usdc", key="USDC_Cold", amount="10")["refid"] for _ in range(4)
    ]
    assert refids[:2] == ["ASBG2IX-OQZTG5-CRWGN3", "ASBTV5V-STE7C7-MIQUAC"]
    assert len(set(refids)) == 4
    assert all(REFID.fullmatch(r) and r.startswith("A") for r in refids[2:])


def test_insufficient_funds(kraken: Kraken, sandbox: KrakenSandbox) -> None:
    assert (
        kraken.error("Withdraw", asset="usdc", key="USDC_Cold", amount="5000.00000001")
        == "EFunding:Insufficient funds"
    )
    assert kraken.result("Withdraw", asset="usdc", key="USDC_Cold", amount="5000")["refid"]
    assert (
        kraken.error("Withdraw", asset="usdc", key="USDC_Cold", amount="5") == "EFunding:Insufficient funds"
    )
    assert sandbox.admin.account().balance("USDC") == Decimal(0)


def test_hold_trade_is_not_available(kraken: Kraken, sandbox: KrakenSandbox) -> None:
    sandbox.admin.set_balance("doge", hold_trade="60")
    assert (
        kraken.result("WithdrawInfo", asset="doge", key="XDG_Wallet", amount="50")["limit"] == "40.00000000"
    )
    assert (
        kraken.error("Withdraw", asset="doge", key="XDG_Wallet", amount="50") == "EFunding:Insufficient funds"
    )


@pytest.mark.kraken_world(overrides={"withdraw_methods": {"XXDG": {"Dogecoin": {"limit": "60"}}}})
def test_method_limit_caps_requests(kraken: Kraken) -> None:
    assert (
        kraken.result("WithdrawInfo", asset="doge", key="XDG_Wallet", amount="50")["limit"] == "60.00000000"
    )
    assert kraken.error("Withdraw", asset="doge", key="XDG_Wallet", amount="61") == "EFunding:Invalid amount"


def test_max_fee(kraken: Kraken) -> None:
    assert (
        kraken.error("Withdraw", asset="doge", key="XDG_Wallet", amount="50", max_fee="3.99")
        == "EFunding:Max fee exceeded"
    )
    assert kraken.error("Withdraw", asset="doge", key="XDG_Wallet", amount="50", max_fee="x") == (
        "EGeneral:Invalid arguments:max_fee"
    )
    assert kraken.result("Withdraw", asset="doge", key="XDG_Wallet", amount="50", max_fee="4")["refid"]


def test_address_must_match_the_key(kraken: Kraken) -> None:
    wrong = "DLq5ZqVjC1sEXFx2NntBQAdKqqHg2rYJ7h"
    assert kraken.error("Withdraw", asset="doge", key="XDG_Wallet", amount="50", address=wrong) == (
        "EFunding:Invalid withdrawal address"
    )
    right = "DNtxrbNnPWf9RZQMYcrqLL6QRgHoozabwM"
    assert kraken.result("Withdraw", asset="doge", key="XDG_Wallet", amount="50", address=right)["refid"]


def test_usdc_withdrawal_with_beneficiary_details(kraken: Kraken) -> None:
    info = kraken.result("WithdrawInfo", asset="usdc", key="USDC_Cold", amount="100")
    assert info == {"method": "USDC", "limit": "5000.00000000", "amount": "99.00000000", "fee": "1.00000000"}
    assert kraken.error("Withdraw", asset="usdc", key="USDC_Cold", amount="4.99") == "EFunding:Invalid amount"
    assert kraken.result("Withdraw", asset="usdc", key="USDC_Cold", amount="100")["refid"]


def test_unknown_parameters_are_ignored(kraken: Kraken) -> None:
    assert (
        kraken.result("Balance", since="yesterday", foo="bar", rebase_multiplier="base")["XXDG"]
        == "100.00000000"
    )


def test_withdraw_methods(kraken: Kraken) -> None:
    assert kraken.result("WithdrawMethods", asset="doge") == [
        {"asset": "XXDG", "method": "Dogecoin", "network": "Dogecoin", "minimum": "10.00000000"}
    ]
    assert {m["asset"] for m in kraken.result("WithdrawMethods", network="Ethereum")} == {"USDC", "XETH"}
    fiat = kraken.result("WithdrawMethods", asset="usd")
    assert fiat == [{"asset": "ZUSD", "method": "Bank Frick (SWIFT)", "network": None, "minimum": "100.0000"}]
    assert kraken.result("WithdrawMethods", aclass="tokenized_asset") == []


def test_withdraw_addresses(kraken: Kraken) -> None:
    doge = kraken.result("WithdrawAddresses", asset="doge")
    assert [a["key"] for a in doge] == ["XDG_Wallet", "XDG_Savings"]
    assert doge[0] == {
        "address": "DNtxrbNnPWf9RZQMYcrqLL6QRgHoozabwM",
        "asset": "XDG",
        "method": "Dogecoin",
        "key": "XDG_Wallet",
        "verified": True,
    }
    assert [a["key"] for a in kraken.result("WithdrawAddresses", key="USDC_Cold")] == ["USDC_Cold"]
    assert kraken.result("WithdrawAddresses", method="Bitcoin")[0]["asset"] == "XBT"
    assert kraken.result("WithdrawAddresses", verified="false") == []
    assert len(kraken.result("WithdrawAddresses", verified="TRUE")) == 4


@pytest.mark.parametrize("value", ["true", "True", "TRUE", "1"])
def test_booleans_are_case_insensitive(kraken: Kraken, value: str) -> None:
    assert kraken.result("DepositAddresses", asset="doge", method="Dogecoin", new=value)[0]["new"] is True


def test_malformed_boolean(kraken: Kraken) -> None:
    assert (
        kraken.error("DepositAddresses", asset="doge", method="Dogecoin", new="maybe")
        == "EGeneral:Invalid arguments:new"
    )


def test_deposit_address_cap_and_order(kraken: Kraken) -> None:
    made = [
        kraken.result("DepositAddresses", asset="doge", method="Dogecoin", new="true")[0]["address"]
        for _ in range(5)
    ]
    assert made[0] == "DFSHkVSQycPZDu8CkiNvx8ymHKHoMLteUD"
    assert all(a.startswith("D") and len(a) == 34 for a in made)
    assert len(set(made)) == 5
    assert (
        kraken.error("DepositAddresses", asset="doge", method="Dogecoin", new="true")
        == "EFunding:Too many addresses"
    )
    listed = kraken.result("DepositAddresses", asset="doge", method="Dogecoin")
    assert [a["address"] for a in listed] == made[::-1]
    usdc = kraken.result("DepositAddresses", asset="usdc", method="USDC", new="true")[0]["address"]
    assert re.fullmatch(r"0x[0-9a-f]{40}", usdc)


def test_missing_deposit_method(kraken: Kraken) -> None:
    assert kraken.error("DepositAddresses", asset="doge") == "EFunding:No funding method"


def test_injected_deposit_settles_then_succeeds(kraken: Kraken, sandbox: KrakenSandbox) -> None:
    address = kraken.result("DepositAddresses", asset="doge", method="Dogecoin", new="true")[0]["address"]
    sandbox.admin.freeze()
    deposit = sandbox.admin.inject_deposit("doge", "12.5")
    assert (deposit["status"], deposit["info"], deposit["confirmations"]) == ("Settled", address, 6)
    newest = kraken.result("DepositStatus", asset="doge")[0]
    assert (newest["refid"], newest["status"], newest["amount"]) == (
        deposit["refid"],
        "Settled",
        "12.50000000",
    )
    assert kraken.result("Balance")["XXDG"] == "100.00000000"
    assert kraken.result("DepositAddresses", asset="doge", method="Dogecoin")[0]["new"] is False
    sandbox.admin.advance(2.9)  # 6 confirmations x 0.5 s
    assert kraken.result("DepositStatus", asset="doge")[0]["status"] == "Settled"
    sandbox.admin.advance(0.2)
    assert kraken.result("DepositStatus", asset="doge")[0]["status"] == "Success"
    assert kraken.result("Balance")["XXDG"] == "112.50000000"


def test_deposit_fee_and_originators(kraken: Kraken, sandbox: KrakenSandbox) -> None:
    sandbox.admin.inject_deposit(
        "usdc", "20", fee="0.5", confirmations=0, originators=["0xabc"], txid="0xdef"
    )
    record = kraken.result("DepositStatus", asset="usdc")[0]
    assert (record["fee"], record["status"], record["originators"], record["txid"]) == (
        "0.50000000",
        "Success",
        ["0xabc"],
        "0xdef",
    )
    assert kraken.result("Balance")["USDC"] == "5019.50000000"


@UNLIMITED
def test_deposit_status_filters(fast: Kraken, sandbox: KrakenSandbox) -> None:
    sandbox.admin.set_clock(1_700_000_000, frozen=True)
    first = sandbox.admin.inject_deposit("doge", "1")
    sandbox.admin.advance(100)
    second = sandbox.admin.inject_deposit("doge", "2")
    assert [d["refid"] for d in fast.result("DepositStatus", asset="doge")] == [
        second["refid"],
        first["refid"],
        "QSBALMX-YTM4MI-REMLWN",
    ]
    assert [
        d["refid"] for d in fast.result("DepositStatus", asset="doge", start="1700000000", end="1700000099")
    ] == [first["refid"]]
    assert [d["refid"] for d in fast.result("DepositStatus", start="1700000100")] == [second["refid"]]
    assert len(fast.result("DepositStatus")) == 4
    assert fast.result("DepositStatus", method="USDC")[0]["refid"] == "Q4FTRAH-KPUTB7-ATW3UH"
    assert fast.result("DepositStatus", method="Nope") == []
    assert fast.error("DepositStatus", start="yesterday") == "EGeneral:Invalid arguments:start"


@UNLIMITED
@pytest.mark.parametrize(
    ("endpoint", "page_key"), [("DepositStatus", "deposits"), ("WithdrawStatus", "withdrawals")]
)
def test_cursor_paging(fast: Kraken, sandbox: KrakenSandbox, endpoint: str, page_key: str) -> None:
    sandbox.admin.set_clock(1_700_000_000, frozen=True)
    for i in range(7):
        sandbox.admin.advance(1 + i % 2)  # some records share a second
        if endpoint == "DepositStatus":
            sandbox.admin.inject_deposit("doge", f"{i + 1}")
        else:
            fast.result("Withdraw", asset="doge", key="XDG_Wallet", amount="11")
    everything = [r["refid"] for r in fast.result(endpoint, asset="doge")]
    pages: list[list[str]] = []
    cursor = "true"
    while True:
        page = fast.result(endpoint, asset="doge", cursor=cursor, limit="3")
        assert set(page) <= {page_key, "next_cursor"}
        pages.append([r["refid"] for r in page[page_key]])
        if "next_cursor" not in page:
            break
        cursor = page["next_cursor"]
    assert [len(p) for p in pages] == [3, 3, len(everything) - 6]
    assert [r for p in pages for r in p] == everything
    # A new record arriving mid-paging does not shift later pages.
    first = fast.result(endpoint, asset="doge", cursor="true", limit="3")
    sandbox.admin.advance(5)
    sandbox.admin.inject_deposit("doge", "99") if endpoint == "DepositStatus" else fast.result(
        "Withdraw", asset="doge", key="XDG_Wallet", amount="11"
    )
    second = fast.result(endpoint, asset="doge", cursor=first["next_cursor"], limit="3")
    assert [r["refid"] for r in second[page_key]] == pages[1]


def test_cursor_false_and_bad_cursors(kraken: Kraken) -> None:
    assert isinstance(kraken.result("DepositStatus", cursor="False"), list)
    assert kraken.error("DepositStatus", cursor="garbage!") == "EGeneral:Invalid arguments:cursor"
    assert kraken.error("WithdrawStatus", cursor="bm90IGpzb24=") == "EGeneral:Invalid arguments:cursor"
    assert kraken.error("DepositStatus", limit="0") == "EGeneral:Invalid arguments:limit"
    assert kraken.error("DepositStatus", limit="ten") == "EGeneral:Invalid arguments:limit"


def test_default_page_size_of_deposit_status_is_25(kraken: Kraken, sandbox: KrakenSandbox) -> None:
    for _ in range(30):
        sandbox.admin.inject_deposit("doge", "1")
    assert len(kraken.result("DepositStatus", asset="doge")) == 25
    assert len(kraken.result("DepositStatus", asset="doge", limit="100")) == 31


def test_wallet_transfer(kraken: Kraken, sandbox: KrakenSandbox) -> None:
    result = kraken.result(
        "WalletTransfer", asset="xbt", **{"from": "Spot Wallet", "to": "Futures Wallet"}, amount="0.5"
    )
    assert REFID.fullmatch(result["refid"]) and result["refid"].startswith("B")
    assert kraken.result("Balance")["XXBT"] == "2.0000000000"
    ledger = sandbox.admin.account()
    assert ledger.futures["XXBT"] == Decimal("0.5")
    assert ledger.transfers[-1]["refid"] == result["refid"]
    back = {"from": "Futures Wallet", "to": "Spot Wallet"}
    assert kraken.error("WalletTransfer", asset="xbt", **back, amount="0.1") == "EGeneral:Invalid arguments"
    odd = {"from": "Spot Wallet", "to": "Margin Wallet"}
    assert kraken.error("WalletTransfer", asset="xbt", **odd, amount="0.1") == "EGeneral:Invalid arguments"
    spot = {"from": "Spot Wallet", "to": "Futures Wallet"}
    assert kraken.error("WalletTransfer", asset="xbt", **spot, amount="3") == "EFunding:Insufficient funds"
    assert (
        kraken.error("WithdrawCancel", asset="xbt", refid=result["refid"]) == "EFunding:Invalid reference id"
    )


def test_public_assets(kraken: Kraken) -> None:
    everything = kraken.public("Assets").json()["result"]
    assert list(everything) == ["XXBT", "XXDG", "USDC", "XETH", "ZUSD"]
    assert everything["XXDG"] == {
        "aclass": "currency",
        "altname": "XDG",
        "decimals": 8,
        "display_decimals": 2,
        "status": "enabled",
    }
    assert [everything[a]["decimals"] for a in ("XXBT", "XXDG", "USDC", "XETH", "ZUSD")] == [10, 8, 8, 10, 4]
    chosen = kraken.public("Assets", asset="doge,XBT,usd").json()["result"]
    assert list(chosen) == ["XXDG", "XXBT", "ZUSD"]
    assert kraken.public("Assets", asset="doge,nope").json() == {"error": ["EQuery:Unknown asset"]}


def test_public_time_follows_the_sandbox_clock(kraken: Kraken, sandbox: KrakenSandbox) -> None:
    sandbox.admin.set_clock(1616336594, frozen=True)
    assert kraken.public("Time").json() == {
        "error": [],
        "result": {"unixtime": 1616336594, "rfc1123": "Sun, 21 Mar 21 14:23:14 +0000"},
    }


def test_admin_amounts_accept_any_decimal_form(kraken: Kraken, sandbox: KrakenSandbox) -> None:
    sandbox.admin.set_balance("usdc", Decimal("1E+3"))
    sandbox.admin.inject_deposit("usdc", Decimal("5E+1"), fee=Decimal("1E-2"), confirmations=0)
    assert kraken.result("Balance")["USDC"] == "1049.99000000"
