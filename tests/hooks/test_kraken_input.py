"""Bad input is refused with a specific error before any private request leaves the process."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from airflow_provider_kraken.exceptions import KrakenInputError
from airflow_provider_kraken.hooks.kraken import KrakenHook


def private_calls(calls: list[Any]) -> list[str]:
    return [c.method for c in calls if c.method not in ("Assets", "Time")]


@pytest.mark.parametrize("amount", [0.5, 1.0, True])
def test_float_and_bool_amounts_are_type_errors(
    hook: KrakenHook, calls_since: Callable[[], list[Any]], amount: object
) -> None:
    with pytest.raises(TypeError, match="decimal string"):
        hook.withdraw(asset="doge", key="XDG_Wallet", amount=amount)
    assert private_calls(calls_since()) == []


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        (Decimal("NaN"), "finite"),
        (Decimal("Infinity"), "finite"),
        ("0", "greater than zero"),
        ("-1", "plain decimal"),
        (-1, "greater than zero"),
        ("1e-3", "plain decimal"),
        ("", "plain decimal"),
        ("  ", "plain decimal"),
        ("12,5", "plain decimal"),
        ("0.000000001", "more than the 8 decimals"),
    ],
)
def test_bad_amounts_name_the_parameter(
    hook: KrakenHook, calls_since: Callable[[], list[Any]], amount: object, message: str
) -> None:
    with pytest.raises(KrakenInputError, match=message) as info:
        hook.withdraw(asset="doge", key="XDG_Wallet", amount=amount)
    assert info.value.parameter == "amount"
    assert private_calls(calls_since()) == []


@pytest.mark.parametrize(
    ("call", "parameter"),
    [
        (lambda h: h.withdraw(asset="", key="XDG_Wallet", amount="1"), "asset"),
        (lambda h: h.withdraw(asset="doge", key=" ", amount="1"), "key"),
        (lambda h: h.withdraw(asset="nope", key="XDG_Wallet", amount="1"), "asset"),
        (lambda h: h.withdraw_cancel(asset="doge", refid=""), "refid"),
        (lambda h: h.deposit_addresses(asset="doge", method="  "), "method"),
        (lambda h: h.withdraw(asset="doge", key="XDG_Wallet", amount="1", max_fee="-1"), "max_fee"),
        (lambda h: h.withdraw_status(asset="doge", start=-5), "start"),
    ],
)
def test_blank_or_unknown_text_parameters(
    hook: KrakenHook, calls_since: Callable[[], list[Any]], call: Callable[[KrakenHook], Any], parameter: str
) -> None:
    with pytest.raises(KrakenInputError) as info:
        call(hook)
    assert info.value.parameter == parameter
    assert private_calls(calls_since()) == []


def test_amounts_go_on_the_wire_in_plain_notation(
    hook: KrakenHook, calls_since: Callable[[], list[Any]]
) -> None:
    for amount in (Decimal("1E+1"), Decimal("1.25E+1"), Decimal("10.00000010")):
        hook.withdraw_info(asset="doge", key="XDG_Wallet", amount=amount)
    amounts = [c.params["amount"] for c in calls_since() if c.method == "WithdrawInfo"]
    assert amounts == ["10", "12.5", "10.00000010"]
