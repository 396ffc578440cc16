"""Finding what a request with a lost answer produced on Kraken: adopt exactly one match, or say why not.

Pure: the caller reads Kraken (first) and the claims registry (second) and hands both over.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum
from typing import Generic, TypeVar

from airflow_provider_kraken.amounts import format_amount
from airflow_provider_kraken.models import DepositAddress, Withdrawal
from airflow_provider_kraken.operators.claims import Entry

T = TypeVar("T")


class Finding(StrEnum):
    """What reconciliation concluded."""

    ADOPT = "adopt"  # exactly one unclaimed match and nobody else could own it
    ABSENT = "absent"  # no unclaimed match (yet)
    SEVERAL = "several"  # more than one unclaimed match: a human must decide
    CONTESTED = "contested"  # another unresolved intent could own a match: wait for it, then a human


@dataclass(frozen=True)
class Reconciliation(Generic[T]):
    """The conclusion, the record to adopt (for ADOPT), and what led there."""

    finding: Finding
    adopted: T | None
    candidates: tuple[T, ...]
    rivals: tuple[Entry, ...]
    claimed: tuple[str, ...]


@dataclass(frozen=True)
class WithdrawalMatch:
    """What a withdrawal produced by one request looks like in WithdrawStatus.

    Same asset and key (or, when Kraken omits ``key``, the key's address in ``info``), a Kraken
    time inside ``window``, an amount equal to the requested (gross) amount or to it minus the fee
    (WithdrawStatus shows the net amount and the fee), and a fee within ``max_fee``.
    """

    asset_id: str
    key: str
    amount: Decimal
    window: tuple[float, float]
    max_fee: Decimal | None = None
    key_address: str | None = None

    def matches(self, record: Withdrawal) -> bool:
        return (
            self.same_destination(record)
            and self.window[0] <= record.time <= self.window[1]
            and self._same_amount(record)
            and (self.max_fee is None or record.fee is None or record.fee <= self.max_fee)
        )

    def same_destination(self, record: Withdrawal) -> bool:
        """Same asset and withdraw key (by ``key``, or by its address when Kraken omits ``key``)."""
        if record.asset != self.asset_id:
            return False
        if record.key is not None:
            return record.key == self.key
        return self.key_address is not None and record.info == self.key_address

    def _same_amount(self, record: Withdrawal) -> bool:
        if record.amount == self.amount:
            return True
        return record.fee is not None and record.amount + record.fee == self.amount

    def for_entry(self, entry: Entry) -> WithdrawalMatch:
        """The match of another intent to the same destination, from its registry entry."""
        max_fee = entry.request.get("max_fee")
        return replace(
            self,
            amount=Decimal(entry.request.get("amount") or "0"),
            max_fee=None if max_fee is None else Decimal(max_fee),
            window=entry.window,
        )

    def describe(self) -> str:
        fee = "" if self.max_fee is None else f", fee <= {format_amount(self.max_fee)}"
        return (
            f"{format_amount(self.amount)} {self.asset_id} (or that minus the fee) to key {self.key!r}{fee}, "
            f"listed between {int(self.window[0])} and {int(self.window[1])} (unix time)"
        )


def reconcile_withdrawal(
    match: WithdrawalMatch, records: Iterable[Withdrawal], others: Sequence[Entry]
) -> Reconciliation[Withdrawal]:
    """Judge WithdrawStatus ``records`` against one request, given the other intents' registry entries."""
    claimed = _claimed(others)
    matching = [r for r in records if match.matches(r)]
    candidates = tuple(r for r in matching if r.refid not in claimed)
    rivals = tuple(e for e in others if e.is_rival and any(match.for_entry(e).matches(c) for c in candidates))
    return _decide(candidates, rivals, tuple(r.refid for r in matching if r.refid in claimed))


def reconcile_address(
    known: Iterable[str],
    listed: Iterable[DepositAddress],
    others: Sequence[Entry],
    *,
    rival_since: float,
) -> Reconciliation[DepositAddress]:
    """Judge DepositAddresses after a lost ``new=true``: adopt the one address that appeared since.

    ``known`` are the addresses listed before sending; an unresolved intent of another task that
    started sending after ``rival_since`` could have created any new address, so it is a rival.
    """
    before = set(known)
    claimed = _claimed(others)
    new = [a for a in listed if a.address not in before]
    candidates = tuple(a for a in new if a.address not in claimed)
    rivals = tuple(e for e in others if e.is_rival and e.sent_at >= rival_since) if candidates else ()
    return _decide(candidates, rivals, tuple(a.address for a in new if a.address in claimed))


def _claimed(others: Sequence[Entry]) -> frozenset[str]:
    return frozenset(e.result for e in others if e.result is not None)


def _decide(
    candidates: tuple[T, ...], rivals: tuple[Entry, ...], claimed: tuple[str, ...]
) -> Reconciliation[T]:
    if not candidates:
        return Reconciliation(Finding.ABSENT, None, candidates, rivals, claimed)
    if rivals:
        return Reconciliation(Finding.CONTESTED, None, candidates, rivals, claimed)
    if len(candidates) > 1:
        return Reconciliation(Finding.SEVERAL, None, candidates, rivals, claimed)
    return Reconciliation(Finding.ADOPT, candidates[0], candidates, rivals, claimed)


def describe_rivals(rivals: Iterable[Entry]) -> str:
    """The other task instances a decision waits on, for messages."""
    return ", ".join(sorted(e.owner.describe() for e in rivals)) or "none"


def describe_each(items: Iterable[T], name: Callable[[T], str]) -> str:
    """Comma-separated names of records, for messages."""
    return ", ".join(name(item) for item in items) or "none"
