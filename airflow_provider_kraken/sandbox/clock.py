"""The sandbox clock: real time plus an adjustable offset, optionally frozen; drives lifecycles and `time`.

Rate counters use `elapsed()` instead (real monotonic time plus every admin advance), so freezing the clock to
replay a literal timestamp never stops a key's rate counter from decaying.
"""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ClockState:
    """What the admin API reports about the clock."""

    now: float
    frozen: bool
    offset: float


class SandboxClock:
    """Real time shifted by `offset`; when frozen, time stands still at `frozen_at` until moved explicitly."""

    def __init__(self, *, start: float | None = None, frozen: bool = False) -> None:
        self._offset = 0.0 if start is None else start - time.time()
        self._frozen_at: float | None = None
        self._advanced = 0.0
        if frozen:
            self._frozen_at = time.time() if start is None else start

    def now(self) -> float:
        """Current sandbox time (unix seconds)."""
        if self._frozen_at is not None:
            return self._frozen_at
        return time.time() + self._offset

    def elapsed(self) -> float:
        """A monotonic reading that also includes every `advance()`: what rate counters decay on."""
        return time.monotonic() + self._advanced

    def advance(self, seconds: float) -> None:
        """Move the clock forward (frozen or not)."""
        if seconds < 0:
            raise ValueError("the sandbox clock only moves forward")
        self._advanced += seconds
        if self._frozen_at is not None:
            self._frozen_at += seconds
        else:
            self._offset += seconds

    def set(self, epoch: float) -> None:
        """Jump to an epoch (backwards too: only history `time` fields are affected)."""
        if self._frozen_at is not None:
            self._frozen_at = epoch
        else:
            self._offset = epoch - time.time()

    def freeze(self) -> None:
        """Stop time at the current sandbox time."""
        if self._frozen_at is None:
            self._frozen_at = self.now()

    def unfreeze(self) -> None:
        """Let time run again from where it stood."""
        if self._frozen_at is not None:
            self._offset = self._frozen_at - time.time()
            self._frozen_at = None

    def state(self) -> ClockState:
        """A snapshot for inspection."""
        return ClockState(now=self.now(), frozen=self._frozen_at is not None, offset=self._offset)
