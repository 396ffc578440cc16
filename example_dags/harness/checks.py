"""Checks: claims about a finished run, judged from its task states, the call log and the ledger."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from .runner import RunResult


@dataclass(frozen=True)
class Check:
    """One claim about a run and whether it held (``seen`` says what was found when it did not)."""

    claim: str
    ok: bool
    seen: str = ""


def expect(claim: str, actual: object, expected: object) -> Check:
    """A check that ``actual == expected``."""
    return Check(
        claim, actual == expected, "" if actual == expected else f"got {actual!r}, expected {expected!r}"
    )


def states(result: RunResult, expected: Mapping[str, str], run_state: str) -> list[Check]:
    """The run's state and each named task's final state."""
    checks = [expect(f"the run ends {run_state}", result.state, run_state)]
    checks += [
        expect(f"{task} ends {state}", result.state_of(task), state) for task, state in expected.items()
    ]
    return checks


def withdraw_calls(result: RunResult, count: int) -> Check:
    """How many Withdraw requests reached Kraken."""
    claims = {0: "no Withdraw request reaches Kraken", 1: "exactly one Withdraw request reaches Kraken"}
    claim = claims.get(count, f"{count} Withdraw requests reach Kraken")
    return expect(claim, len(result.calls_to("Withdraw")), count)


def balance_change(result: RunResult, asset: str, change: Decimal) -> Check:
    """The ledger balance of ``asset`` moved by ``change`` (zero: untouched)."""
    moved = result.after.balance(asset) - result.before.balance(asset)
    shown = format(change.normalize(), "f")
    claim = f"the {asset} balance is untouched" if change == 0 else f"the {asset} balance moves by {shown}"
    return expect(claim, moved, change)
