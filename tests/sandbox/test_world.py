"""World files: validated strictly, amounts never floats, overrides deep-merged."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from airflow_provider_kraken.sandbox.world import deep_merge, default_world_text, load_world


def test_default_world() -> None:
    world = load_world()
    assert world.name == "default"
    assert {a: c.decimals for a, c in world.assets.items()} == {
        "XXBT": 10,
        "XXDG": 8,
        "USDC": 8,
        "XETH": 10,
        "ZUSD": 4,
    }
    main = world.accounts["main"]
    assert main.balances["XXDG"] == Decimal("100")
    assert set(main.withdraw_keys) == {"XDG_Wallet", "XDG_Savings", "BTC_Wallet", "USDC_Cold"}
    assert main.withdraw_keys["BTC_Wallet"].beneficiary is None
    assert world.withdraw_methods["USDC"]["USDC"].fee == Decimal("1.00")
    assert world.api_keys["sandbox-query"].permissions == ["funds_query"]


def test_world_from_file(tmp_path: Path) -> None:
    path = tmp_path / "w.toml"
    path.write_text(default_world_text())
    assert load_world(path) == load_world()


def test_toml_decimals_become_decimal_not_float() -> None:
    world = load_world(text=default_world_text().replace('fee = "4"', "fee = 4.10"))
    fee = world.withdraw_methods["XXDG"]["Dogecoin"].fee
    assert isinstance(fee, Decimal) and fee == Decimal("4.10")


def bad(overrides: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as info:
        load_world(overrides=overrides)
    return str(info.value)


def test_python_floats_are_refused() -> None:
    assert "not floats" in bad({"accounts": {"main": {"balances": {"XXDG": 1.5}}}})


def test_validation_errors() -> None:
    assert "Extra inputs are not permitted" in bad({"accounts": {"main": {"balanse": {}}}})
    assert "more than 8 decimals" in bad({"accounts": {"main": {"balances": {"XXDG": "1.123456789"}}}})
    assert "must be keyed by asset id" in bad({"accounts": {"main": {"balances": {"DOGE": "1"}}}})
    assert "non-negative" in bad({"withdraw_methods": {"XXDG": {"Dogecoin": {"fee": "-1"}}}})
    assert "no withdraw method" in bad(
        {"accounts": {"main": {"withdraw_keys": {"K": {"asset": "doge", "method": "Nope", "address": "x"}}}}}
    )
    assert "unknown permission" in bad({"api_keys": {"sandbox-query": {"permissions": ["trade"]}}})
    assert "base64" in bad({"api_keys": {"sandbox-query": {"secret": "not base64!"}}})
    assert "unknown account" in bad({"api_keys": {"sandbox-query": {"account": "other"}}})
    assert "duplicate key" in bad(
        {"api_keys": {"copy": {"key": load_world().api_keys["sandbox-full"].key, "secret": "eA=="}}}
    )
    assert "default_account" in bad({"default_account": "nobody"})


def test_kraken_permission_labels_are_accepted() -> None:
    world = load_world(
        overrides={"api_keys": {"sandbox-query": {"permissions": ["Funds permissions - Withdraw"]}}}
    )
    assert world.api_keys["sandbox-query"].permissions == ["funds_withdraw"]


def test_deep_merge() -> None:
    base = {"a": {"b": 1, "c": [1, 2]}, "d": 1}
    assert deep_merge(base, {"a": {"c": [3]}, "e": 2}) == {"a": {"b": 1, "c": [3]}, "d": 1, "e": 2}
    assert base == {"a": {"b": 1, "c": [1, 2]}, "d": 1}
