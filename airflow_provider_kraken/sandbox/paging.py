"""History filtering and cursor paging for DepositStatus / WithdrawStatus (newest first).

A cursor is opaque base64 (as Kraken's look) naming the last record of the previous page, so pages stay
stable when new records arrive at the top while a client is paging.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Generic, Protocol, TypeVar

from .errors import KrakenError, invalid_arguments


class Record(Protocol):
    """What paging needs: a creation time and a global sequence number."""

    @property
    def time(self) -> int: ...

    @property
    def seq(self) -> int: ...


R = TypeVar("R", bound=Record)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of records and the cursor for the next one (None on the last page)."""

    records: list[T]
    next_cursor: str | None


def encode_cursor(record: Record) -> str:
    """An opaque cursor positioned after `record`."""
    raw = json.dumps({"t": record.time, "s": record.seq}, separators=(",", ":")).encode()
    return base64.b64encode(b"\x1e\x00" + raw).decode()


def decode_cursor(cursor: str) -> tuple[int, int]:
    """(time, seq) of the last record already returned; `EGeneral:Invalid arguments:cursor` if garbage."""
    try:
        raw = base64.b64decode(cursor, validate=True)
        data = json.loads(raw[2:].decode())
        return int(data["t"]), int(data["s"])
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise KrakenError(invalid_arguments("cursor")) from exc


def in_window(time: int, start: Decimal | None, end: Decimal | None) -> bool:
    """Kraken's `start`/`end`: records created strictly before start or strictly after end are excluded."""
    return (start is None or time >= start) and (end is None or time <= end)


def newest_first(records: Sequence[R], keep: Callable[[R], bool]) -> list[R]:
    """The kept records, newest first (ties broken by creation order)."""
    return sorted((r for r in records if keep(r)), key=lambda r: (r.time, r.seq), reverse=True)


def page(records: list[R], limit: int, cursor: str | None) -> Page[R]:
    """Up to `limit` records after the cursor position (records must already be newest first)."""
    if cursor is not None:
        position = decode_cursor(cursor)
        records = [r for r in records if (r.time, r.seq) < position]
    chunk = records[:limit]
    more = len(records) > limit
    return Page(chunk, encode_cursor(chunk[-1]) if more and chunk else None)
