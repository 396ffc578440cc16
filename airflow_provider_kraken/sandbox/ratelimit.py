"""Kraken's per-key REST call counter: +cost per call, decaying per second, refused above the tier's max."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class TierLimits:
    """Counter ceiling and decay per second of a verification tier."""

    max_counter: float
    decay_per_second: float


TIERS: Final[dict[str, TierLimits | None]] = {
    "starter": TierLimits(15, 0.33),
    "intermediate": TierLimits(20, 0.5),
    "pro": TierLimits(20, 1.0),
    "unlimited": None,
}
"""Kraken's tiers (docs: rate limits) plus the sandbox-only `unlimited` tier for benchmarks."""

PENALTY_CAP_FACTOR: Final = 2.0
"""Refused calls keep counting (as on Kraken), up to this multiple of the ceiling."""


class RateCounter:
    """One key's counter; `charge()` returns False when the call must be refused."""

    __slots__ = ("_last", "_level", "limits")

    def __init__(self, limits: TierLimits | None, now: float) -> None:
        self.limits = limits
        self._level = 0.0
        self._last = now

    def level(self, now: float) -> float:
        """The counter after decay up to `now`."""
        if self.limits is None:
            return 0.0
        return max(0.0, self._level - (now - self._last) * self.limits.decay_per_second)

    def charge(self, now: float, cost: int = 1) -> bool:
        """Add the call's cost; True if the call stays within the tier's ceiling."""
        if self.limits is None:
            return True
        level = self.level(now) + cost
        self._level = min(level, self.limits.max_counter * PENALTY_CAP_FACTOR)
        self._last = now
        return level <= self.limits.max_counter
