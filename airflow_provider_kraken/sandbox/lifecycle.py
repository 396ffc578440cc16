"""When a withdrawal or deposit moves to its next status on the sandbox clock (pure functions, no state).

Withdrawals: Initial -> Pending -> [Settled ->] Success; a cancel request while Initial leads to
Failure + `canceled`. Deposits: Settled -> Success once their confirmations have arrived. `onhold` and manual
mode stop automatic progression; the admin API moves things by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

TERMINAL = frozenset({"Success", "Failure"})


@dataclass(slots=True)
class Timings:
    """Current lifecycle settings (a mutable copy of the world's `[lifecycle]`, changeable via admin)."""

    manual: bool
    withdraw_initial_seconds: float
    withdraw_pending_seconds: float
    withdraw_settled_seconds: float
    cancel_seconds: float
    deposit_confirmation_seconds: float


class Staged(Protocol):
    """What the lifecycle needs to know about a record."""

    status: str
    status_prop: str | None
    stage_since: float


class ConfirmingDeposit(Staged, Protocol):
    """A deposit also knows how many confirmations it waits for."""

    confirmations: int


Step = tuple[float, str, str | None]
"""(when, next status, next status-prop)."""


def next_withdrawal_step(record: Staged, timings: Timings) -> Step | None:
    """The next automatic transition of a withdrawal, or None if it waits for someone."""
    if timings.manual or record.status_prop == "onhold" or record.status in TERMINAL:
        return None
    since = record.stage_since
    if record.status == "Initial":
        if record.status_prop == "cancel-pending":
            return since + timings.cancel_seconds, "Failure", "canceled"
        return since + timings.withdraw_initial_seconds, "Pending", record.status_prop
    if record.status == "Pending":
        following = "Settled" if timings.withdraw_settled_seconds > 0 else "Success"
        return since + timings.withdraw_pending_seconds, following, record.status_prop
    if record.status == "Settled":
        return since + timings.withdraw_settled_seconds, "Success", record.status_prop
    return None


def next_deposit_step(record: ConfirmingDeposit, timings: Timings) -> Step | None:
    """A Settled deposit becomes Success after `confirmations` x the per-confirmation time."""
    if timings.manual or record.status_prop == "onhold" or record.status != "Settled":
        return None
    return record.stage_since + record.confirmations * timings.deposit_confirmation_seconds, "Success", None
