"""Lines printed in pytest's terminal summary: start-up phases, scenario durations, teardown."""

from __future__ import annotations

REPORT: list[str] = []
