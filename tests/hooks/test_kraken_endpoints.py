"""Every KrakenHook method against the sandbox, over real HTTP, with typed results."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from airflow_provider_kraken.exceptions import (
    KrakenEFundingError,
    KrakenEGeneralError,
    KrakenInputError,
)
from airflow_provider_kraken.hooks.kraken import KrakenHook
from airflow_provider_kraken.models import TransactionStatus


def test_assets_resolve_aliases_to_ids(hook: KrakenHook) -> None:
    assert hook.asset_info("doge").asset_id == "XXDG"
    assert hook.asset_info("XDG").asset_id == "XXDG"
    assert hook.asset_info("btc").asset_id == "XXBT"
    assert hook.asset_info("usdc").decimals == 8
    assert set(hook.assets(asset=["doge", "xbt"])) == {"XXDG", "XXBT"}
    with pytest.raises(KrakenInputError, match="unknown asset 'dogg'"):
        hook.asset_info("dogg")


def test_balances_are_decimals(hook: KrakenHook, kraken_sandbox: Any) -> None:
    balances = hook.balance()
    assert all(isinstance(v, Decimal) for v in balances.values())
    assert balances["XXDG"] == kraken_sandbox.admin.account().balance("XXDG")
    extended = hook.balance_ex()
    assert extended["XXDG"].available <= extended["XXDG"].balance


def test_deposit_methods_literal_example(hook: KrakenHook) -> None:
    [method] = hook.deposit_methods(asset="doge")
    assert (method.method, method.limit, method.gen_address) == ("Dogecoin", None, True)


def test_deposit_addresses_list_then_create(hook: KrakenHook) -> None:
    assert hook.deposit_addresses(asset="doge", method="Dogecoin") == []
    [created] = hook.deposit_addresses(asset="doge", method="Dogecoin", new=True)
    assert created.address == "DFSHkVSQycPZDu8CkiNvx8ymHKHoMLteUD" and created.expiretm == 0 and created.new
    assert [a.address for a in hook.deposit_addresses(asset="doge", method="Dogecoin")] == [created.address]
    with pytest.raises(KrakenEFundingError, match="EFunding:No funding method"):
        hook.deposit_addresses(asset="doge", method="invalid")


def test_deposit_status_literal_examples(hook: KrakenHook) -> None:
    [doge] = hook.deposit_status(asset="doge")
    assert (doge.refid, doge.amount, doge.status) == (
        "QSBALMX-YTM4MI-REMLWN",
        Decimal("95"),
        TransactionStatus.SUCCESS,
    )
    [usdc] = hook.deposit_status(asset="usdc")
    assert usdc.originators and usdc.originators[0].startswith("0x9d7f5e4b")


def test_deposit_status_follows_cursor_pages_and_bounds(hook: KrakenHook, kraken_sandbox: Any) -> None:
    for i in range(60):
        kraken_sandbox.admin.inject_deposit(asset="XXDG", method="Dogecoin", amount=f"{i + 1}.5")
    everything = hook.deposit_status(asset="doge")
    assert len(everything) == 61
    assert len({d.refid for d in everything}) == 61
    assert len(hook.deposit_status(asset="doge", max_records=10)) == 10
    pages = [
        c for c in kraken_sandbox.admin.calls(method="DepositStatus") if c.params.get("cursor") != "true"
    ]
    assert pages, "the hook followed next_cursor"


def test_withdraw_methods_and_addresses(hook: KrakenHook) -> None:
    methods = hook.withdraw_methods(asset="doge")
    assert methods and all(m.asset == "XXDG" for m in methods)
    keys = {a.key for a in hook.withdraw_addresses(asset="doge")}
    assert "XDG_Wallet" in keys
    [wallet] = hook.withdraw_addresses(key="XDG_Wallet")
    assert wallet.address == "DNtxrbNnPWf9RZQMYcrqLL6QRgHoozabwM"


def test_withdraw_info_literal_example(hook: KrakenHook) -> None:
    info = hook.withdraw_info(asset="doge", key="XDG_Wallet", amount="100")
    assert (info.method, info.limit, info.amount, info.fee) == (
        "XXDG",
        Decimal("100.00000000"),
        Decimal("96.00000000"),
        Decimal("4.00000000"),
    )
    with pytest.raises(KrakenEFundingError, match="EFunding:Unknown withdraw key"):
        hook.withdraw_info(asset="doge", key="invalid", amount="100")


def test_withdraw_books_once_and_shows_in_status(hook: KrakenHook, kraken_sandbox: Any) -> None:
    before = kraken_sandbox.admin.account().balance("XXDG")
    receipt = hook.withdraw(asset="doge", key="XDG_Wallet", amount=Decimal("100"))
    assert receipt.refid == "ASBG2IX-OQZTG5-CRWGN3"
    assert (receipt.asset, receipt.key, receipt.amount) == ("XXDG", "XDG_Wallet", Decimal(100))
    ledger = kraken_sandbox.admin.account()
    assert [w["refid"] for w in ledger.withdrawals].count(receipt.refid) == 1
    assert ledger.balance("XXDG") == before - 100
    [record] = [w for w in hook.withdraw_status(asset="doge") if w.refid == receipt.refid]
    assert (record.amount, record.fee, record.key) == (Decimal("96"), Decimal("4"), "XDG_Wallet")


def test_withdraw_beneficiary_example_is_a_general_error(hook: KrakenHook) -> None:
    with pytest.raises(KrakenEGeneralError) as info:
        hook.withdraw(asset="btc", key="BTC_Wallet", amount="1.5")
    assert info.value.code == "EGeneral:Invalid arguments:beneficiary_recipient"
    assert not info.value.retry_safe


def test_withdraw_cancel_while_initial_then_too_late(hook: KrakenHook, kraken_sandbox: Any) -> None:
    kraken_sandbox.admin.set_lifecycle(manual=True)
    receipt = hook.withdraw(asset="doge", key="XDG_Wallet", amount="10")
    assert hook.withdraw_cancel(asset="doge", refid=receipt.refid) is True
    kraken_sandbox.admin.set_withdrawal_status(receipt.refid, status="Success", status_prop=None)
    with pytest.raises(KrakenEFundingError, match="EFunding:Invalid reference id"):
        hook.withdraw_cancel(asset="doge", refid=receipt.refid)


def test_wallet_transfer(hook: KrakenHook, kraken_sandbox: Any) -> None:
    receipt = hook.wallet_transfer(
        asset="usdc", from_wallet="Spot Wallet", to_wallet="Futures Wallet", amount="5"
    )
    assert receipt.refid
    assert kraken_sandbox.admin.account().transfers[-1]["refid"] == receipt.refid


def test_test_connection_succeeds(hook: KrakenHook) -> None:
    ok, message = hook.test_connection()
    assert ok, message
    assert "withdraw" in message
