"""Money parsing and formatting: refuse floats, never round, never emit exponent notation."""

from __future__ import annotations

from decimal import Decimal

import pytest

from airflow_provider_kraken.amounts import format_amount, format_wire_amount, to_decimal, validate_amount
from airflow_provider_kraken.exceptions import KrakenInputError


@pytest.mark.parametrize("value", [0.1, 1.0, True, False])
def test_floats_and_bools_are_type_errors(value: object) -> None:
    with pytest.raises(TypeError, match="amount: got") as info:
        to_decimal(value, "amount")
    assert "decimal string" in str(info.value)


@pytest.mark.parametrize(
    "value",
    [
        "",
        " ",
        " 1 ",
        "1,000",
        "1e-3",
        "1E3",
        "-1",
        "+1",
        ".5",
        "1.",
        "NaN",
        "Infinity",
        "0x10",
        "1_000",
        "\uff11",  # a full-width digit one
    ],
)
def test_garbled_strings_name_the_parameter(value: str) -> None:
    with pytest.raises(KrakenInputError) as info:
        to_decimal(value, "max_fee")
    assert info.value.parameter == "max_fee"
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    "value", [Decimal("NaN"), Decimal("sNaN"), Decimal("Infinity"), Decimal("-Infinity")]
)
def test_non_finite_decimals_are_refused(value: Decimal) -> None:
    with pytest.raises(KrakenInputError, match="finite"):
        to_decimal(value, "amount")


@pytest.mark.parametrize("value", [0, "0", "0.000", Decimal("-0"), Decimal("-1"), -5])
def test_non_positive_amounts_are_refused(value: object) -> None:
    with pytest.raises(KrakenInputError, match="greater than zero"):
        validate_amount(value, "amount", 8)


def test_over_precise_amounts_are_refused_not_rounded() -> None:
    with pytest.raises(KrakenInputError, match="more than the 8 decimals"):
        validate_amount("0.000000001", "amount", 8)
    assert validate_amount("1.500000000", "amount", 8) == Decimal("1.5")


@pytest.mark.parametrize(
    ("value", "wire"),
    [
        (Decimal("0.0000001"), "0.0000001"),
        (Decimal("1E+3"), "1000"),
        (Decimal("1e-8"), "0.00000001"),
        ("100", "100"),
        (7, "7"),
        ("96.00000000", "96.00000000"),
    ],
)
def test_wire_format_is_plain_positional(value: object, wire: str) -> None:
    assert format_wire_amount(validate_amount(value, "amount", 8), 8) == wire


def test_trailing_zeros_beyond_the_asset_are_trimmed_exactly() -> None:
    assert format_wire_amount(Decimal("1.5000000000"), 8) == "1.50000000"
    assert format_amount(Decimal("-0")) == "0"
