"""Money as ``Decimal``: strict parsing of user input and plain positional formatting for the wire."""

from __future__ import annotations

import re
from decimal import Context, Decimal, InvalidOperation

from airflow_provider_kraken.exceptions import KrakenInputError

_PLAIN_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?")

FLOAT_HINT = (
    "pass a decimal string such as '0.1' or a decimal.Decimal; a float is refused because it cannot "
    "hold most decimal amounts exactly (in templates and XComs, keep amounts as strings)"
)


def to_decimal(value: object, name: str) -> Decimal:
    """Parse a finite amount from ``Decimal``, ``int`` or a plain decimal string; refuse anything else.

    Floats and bools raise ``TypeError``; exponent strings, blanks, signs, separators and
    non-finite values raise ``KrakenInputError`` (a ``ValueError``) naming the parameter.
    """
    if isinstance(value, bool | float):
        raise TypeError(f"{name}: got {type(value).__name__} {value!r}; {FLOAT_HINT}")
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, str):
        if not _PLAIN_DECIMAL.fullmatch(value):
            raise KrakenInputError(
                name, f"{value!r} is not a plain decimal string (digits with an optional '.' part, no sign)"
            )
        try:
            number = Decimal(value)
        except InvalidOperation as exc:  # pragma: no cover - the pattern already guarantees a number
            raise KrakenInputError(name, f"{value!r} is not a decimal number") from exc
    else:
        raise TypeError(f"{name}: got {type(value).__name__}; {FLOAT_HINT}")
    if not number.is_finite():
        raise KrakenInputError(name, f"{value!r} is not a finite number")
    return number


def validate_amount(value: object, name: str, decimals: int | None = None) -> Decimal:
    """Return a positive amount that the asset can represent exactly; never rounds."""
    number = to_decimal(value, name)
    if number <= 0:
        raise KrakenInputError(name, f"must be greater than zero, got {format_amount(number)}")
    if decimals is not None:
        exponent = number.normalize().as_tuple().exponent
        if isinstance(exponent, int) and -exponent > decimals:
            raise KrakenInputError(
                name,
                f"{format_amount(number)} has more than the {decimals} decimals this asset allows "
                "(amounts are never rounded)",
            )
    return number


def format_amount(amount: Decimal) -> str:
    """Format for the wire: plain positional notation, never ``1E-7``; trailing zeros kept as given."""
    text = format(amount, "f")
    return "0" if text in {"-0", "0"} else text


def format_wire_amount(amount: Decimal, decimals: int | None) -> str:
    """Format an already validated amount, trimming zeros beyond the asset's decimals only."""
    if decimals is not None:
        exponent = amount.as_tuple().exponent
        if isinstance(exponent, int) and -exponent > decimals:
            amount = amount.quantize(Decimal(1).scaleb(-decimals), context=Context(prec=200))
    return format_amount(amount)
