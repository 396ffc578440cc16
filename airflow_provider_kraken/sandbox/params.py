"""Request bodies (form-encoded or JSON) decoded into string parameters, and typed accessors for them.

Every malformed value becomes `EGeneral:Invalid arguments:<field>`; amounts are parsed to `Decimal` from
their text (JSON numbers are read as `Decimal` too), so no float ever touches a value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from .errors import KrakenError, invalid_arguments

_AMOUNT_RE = re.compile(r"\d{1,30}(\.\d{1,30})?")
_INT_RE = re.compile(r"\d{1,18}")
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})


class BodyError(Exception):
    """The body could not be decoded at all (not UTF-8, not JSON object, ...)."""


def decode_body(body: bytes, content_type: str) -> tuple[dict[str, str], str | None, set[str]]:
    """(params as strings, the nonce text exactly as signed, names whose values are not scalars).

    JSON bodies are recognised by content type; everything else is read as form encoding.
    """
    if "json" in content_type.lower():
        return _decode_json(body)
    try:
        params = _decode_form(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise BodyError(str(exc)) from exc
    return params, params.get("nonce"), set()


def _decode_form(text: str) -> dict[str, str]:
    """`a=1&b=2` to a dict (last value wins), like parse_qsl with blank values kept; quick when nothing is
    percent- or plus-encoded, which is most calls."""
    if "%" in text or "+" in text:
        return dict(parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict"))
    params: dict[str, str] = {}
    for part in text.split("&"):
        if part:
            name, _, value = part.partition("=")
            params[name] = value
    return params


def _decode_json(body: bytes) -> tuple[dict[str, str], str | None, set[str]]:
    if not body.strip():
        return {}, None, set()
    try:
        data = json.loads(body.decode("utf-8"), parse_float=Decimal)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise BodyError(str(exc)) from exc
    if not isinstance(data, dict):
        raise BodyError("JSON body must be an object")
    params: dict[str, str] = {}
    invalid: set[str] = set()
    for name, value in data.items():
        text = _json_scalar(value)
        if text is None:
            if value is not None:
                invalid.add(name)
            continue
        params[name] = text
    return params, params.get("nonce"), invalid


def _json_scalar(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | Decimal):
        return str(value)
    return None


class Params:
    """A request's parameters with Kraken-style validation; unknown extra parameters are simply ignored."""

    __slots__ = ("_invalid", "_values")

    def __init__(self, values: Mapping[str, str], invalid: set[str] | None = None) -> None:
        self._values = dict(values)
        self._invalid = invalid or set()

    def as_dict(self) -> dict[str, str]:
        """All parameters (a copy)."""
        return dict(self._values)

    def optional(self, name: str) -> str | None:
        """The raw value, None when absent or empty."""
        if name in self._invalid:
            raise KrakenError(invalid_arguments(name))
        value = self._values.get(name)
        return value if value not in (None, "") else None

    def required(self, name: str) -> str:
        """The raw value; missing or empty -> `EGeneral:Invalid arguments:<name>`."""
        value = self.optional(name)
        if value is None:
            raise KrakenError(invalid_arguments(name))
        return value

    def boolean(self, name: str, default: bool = False) -> bool:
        """A boolean, case-insensitive (`true`/`True`/`TRUE`/`1` and the false forms)."""
        value = self.optional(name)
        if value is None:
            return default
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise KrakenError(invalid_arguments(name))

    def amount(self, name: str, *, required: bool = True) -> Decimal | None:
        """A plain non-negative decimal (`12`, `0.5`); exponents, signs and junk are invalid arguments."""
        value = self.required(name) if required else self.optional(name)
        if value is None:
            return None
        return parse_amount(value, name)

    def integer(self, name: str, default: int) -> int:
        """A non-negative integer parameter."""
        value = self.optional(name)
        if value is None:
            return default
        if not _INT_RE.fullmatch(value.strip()):
            raise KrakenError(invalid_arguments(name))
        return int(value)

    def timestamp(self, name: str) -> Decimal | None:
        """A unix timestamp filter (`start`/`end`), integer or decimal seconds."""
        value = self.optional(name)
        if value is None:
            return None
        return parse_amount(value, name)


def parse_amount(value: str, field: str) -> Decimal:
    """Text to Decimal for amounts; rejects anything but digits with an optional fraction."""
    text = value.strip()
    if not _AMOUNT_RE.fullmatch(text):
        raise KrakenError(invalid_arguments(field))
    return Decimal(text)
