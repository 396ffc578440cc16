"""Result models: exact Decimals, JSON dumps as decimal strings, open status enums."""

from __future__ import annotations

from decimal import Decimal

import pytest

from airflow_provider_kraken.models import (
    BalanceEx,
    Deposit,
    DepositMethod,
    StatusProp,
    TransactionStatus,
    Withdrawal,
    WithdrawInfo,
)

WITHDRAWAL = {
    "method": "Dogecoin",
    "aclass": "currency",
    "asset": "XXDG",
    "refid": "ASBG2IX-OQZTG5-CRWGN3",
    "txid": "86b9bbee8775793d0ef420e3c374a2e7913ad8ba9e1a4939cf3044a09c533e44",
    "info": "DNtxrbNnPWf9RZQMYcrqLL6QRgHoozabwM",
    "amount": "96.00000000",
    "fee": "4.00000000",
    "time": 1676713821,
    "status": "Success",
}


def test_withdrawal_parses_exactly_and_dumps_decimal_strings() -> None:
    record = Withdrawal.model_validate(WITHDRAWAL)
    assert record.amount + record.fee == Decimal("100.00000000")  # type: ignore[operator]
    assert record.status is TransactionStatus.SUCCESS and record.status.is_terminal
    dumped = record.model_dump(mode="json")
    assert dumped["amount"] == "96.00000000" and dumped["fee"] == "4.00000000"
    assert dumped["status"] == "Success"


def test_tiny_amounts_never_dump_in_exponent_notation() -> None:
    record = Withdrawal.model_validate({**WITHDRAWAL, "amount": Decimal("1E-8")})
    assert record.model_dump(mode="json")["amount"] == "0.00000001"


@pytest.mark.parametrize(
    ("status", "terminal"),
    [("Initial", False), ("Pending", False), ("Settled", False), ("Success", True), ("Failure", True)],
)
def test_terminal_statuses(status: str, terminal: bool) -> None:
    assert TransactionStatus(status).is_terminal is terminal


def test_unknown_status_and_prop_parse_without_crashing() -> None:
    record = Withdrawal.model_validate({**WITHDRAWAL, "status": "Reviewing", "status-prop": "new-thing"})
    assert not record.status.is_known and not record.status.is_terminal
    assert record.status.value == "Reviewing"
    assert record.status_prop is not None and not record.status_prop.is_known
    assert record.model_dump(mode="json")["status"] == "Reviewing"


def test_cancelled_and_onhold_spellings() -> None:
    cancelled = Withdrawal.model_validate({**WITHDRAWAL, "status": "Failure", "status-prop": "canceled"})
    assert cancelled.is_cancelled
    assert StatusProp("on-hold") is StatusProp.ONHOLD


def test_deposit_with_originators_and_string_time() -> None:
    deposit = Deposit.model_validate(
        {
            "method": "USDC",
            "aclass": "currency",
            "asset": "USDC",
            "refid": "Q4FTRAH-KPUTB7-ATW3UH",
            "txid": "0x27",
            "info": "0xc2",
            "amount": "10.00000000",
            "fee": "0.00000000",
            "time": "1679452779",
            "status": "Success",
            "originators": ["0x9d"],
        }
    )
    assert deposit.time == 1679452779 and deposit.originators == ["0x9d"]


def test_deposit_method_false_limit_means_no_limit() -> None:
    method = DepositMethod.model_validate({"method": "Dogecoin", "limit": False, "gen-address": True})
    assert method.limit is None and method.gen_address is True


def test_balance_ex_available_is_krakens_formula() -> None:
    entry = BalanceEx.model_validate(
        {"balance": "10", "hold_trade": "1.5", "credit": "2", "credit_used": "0.5"}
    )
    assert entry.available == Decimal("10.0")


def test_withdraw_info_literal_example() -> None:
    info = WithdrawInfo.model_validate(
        {"method": "XXDG", "limit": "100.00000000", "amount": "96.00000000", "fee": "4.00000000"}
    )
    assert info.amount + info.fee == Decimal(100)
