"""Injected faults: what the next matching call(s) suffer, and whether the call executes before the fault.

`execute=True`: the call is processed normally (and booked), then the client gets the fault instead of the
answer. `execute=False`: the call is never processed (nothing booked, nonce not consumed) - except `delay`,
where `execute=False` means the call is processed only after the delay.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from . import errors


class FaultKind(StrEnum):
    """Every fault the sandbox can inject."""

    DROP = "drop"
    HTTP_ERROR = "http_error"
    SERVICE_UNAVAILABLE = "service_unavailable"
    SERVICE_BUSY = "service_busy"
    INVALID_NONCE = "invalid_nonce"
    RATE_LIMIT = "rate_limit"
    KRAKEN_ERROR = "kraken_error"
    DELAY = "delay"


FIXED_ERRORS: dict[FaultKind, str] = {
    FaultKind.SERVICE_UNAVAILABLE: errors.SERVICE_UNAVAILABLE,
    FaultKind.SERVICE_BUSY: errors.SERVICE_BUSY,
    FaultKind.INVALID_NONCE: errors.INVALID_NONCE,
    FaultKind.RATE_LIMIT: errors.RATE_LIMIT_EXCEEDED,
}

DEFAULT_EXECUTE: dict[FaultKind, bool] = {FaultKind.DROP: True, FaultKind.DELAY: True}
"""Defaults when a fault is added without `execute`: a lost answer after execution, else a refusal."""


@dataclass(slots=True)
class Fault:
    """One armed fault and how often it has fired."""

    id: int
    kind: FaultKind
    method: str = "*"
    times: int = 1
    execute: bool = False
    api_key: str | None = None
    status: int = 502
    error: str | None = None
    seconds: float = 0.0
    mode: str = "close"
    fired: int = 0

    @property
    def remaining(self) -> int:
        """How many more calls it will hit."""
        return self.times - self.fired

    def error_code(self) -> str | None:
        """The Kraken error the client receives, for the error-answer kinds."""
        if self.kind is FaultKind.KRAKEN_ERROR:
            return self.error
        return FIXED_ERRORS.get(self.kind)

    def matches(self, method: str, api_key: str | None) -> bool:
        """Whether this fault applies to a call of `method` made with `api_key`."""
        return (
            self.remaining > 0
            and (self.method == "*" or self.method == method)
            and (self.api_key is None or self.api_key == api_key)
        )

    def to_json(self) -> dict[str, Any]:
        """Plain data for the admin API."""
        data = asdict(self)
        data["kind"] = self.kind.value
        data["remaining"] = self.remaining
        return data


def build_fault(fault_id: int, spec: dict[str, Any]) -> Fault:
    """Validate an admin request into a Fault (ValueError with a readable message when wrong)."""
    known = {"kind", "method", "times", "execute", "api_key", "status", "error", "seconds", "mode"}
    unknown = set(spec) - known
    if unknown:
        raise ValueError(f"unknown fault fields: {sorted(unknown)}")
    kind = FaultKind(spec["kind"])
    times = int(spec.get("times", 1))
    if times < 1:
        raise ValueError("times must be >= 1")
    execute = spec.get("execute")
    fault = Fault(
        id=fault_id,
        kind=kind,
        method=str(spec.get("method") or "*"),
        times=times,
        execute=DEFAULT_EXECUTE.get(kind, False) if execute is None else bool(execute),
        api_key=spec.get("api_key"),
        status=int(spec.get("status", 502)),
        error=spec.get("error"),
        seconds=float(spec.get("seconds", 0.0)),
        mode=str(spec.get("mode", "close")),
    )
    if kind is FaultKind.HTTP_ERROR and not 400 <= fault.status <= 599:
        raise ValueError("http_error status must be 4xx/5xx")
    if kind is FaultKind.KRAKEN_ERROR and not fault.error:
        raise ValueError("kraken_error needs an `error` string such as 'EGeneral:Internal error'")
    if kind is FaultKind.DELAY and not 0 < fault.seconds <= 600:
        raise ValueError("delay needs 0 < seconds <= 600")
    if fault.mode not in ("close", "reset"):
        raise ValueError("drop mode is 'close' (FIN) or 'reset' (RST)")
    return fault


class FaultBook:
    """Armed faults, matched first-added-first."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._next_id = 1

    def add(self, spec: dict[str, Any]) -> Fault:
        """Arm a fault from its admin spec."""
        fault = build_fault(self._next_id, spec)
        self._next_id += 1
        self._faults.append(fault)
        return fault

    def take(self, method: str, api_key: str | None) -> Fault | None:
        """The fault that fires for this call (its counter is consumed), or None."""
        if not self._faults:
            return None
        for fault in self._faults:
            if fault.matches(method, api_key):
                fault.fired += 1
                return fault
        return None

    def all(self) -> list[Fault]:
        """Every fault ever armed since the last reset, spent ones included."""
        return list(self._faults)

    def remove(self, fault_id: int) -> bool:
        """Disarm one fault."""
        before = len(self._faults)
        self._faults = [f for f in self._faults if f.id != fault_id]
        return len(self._faults) != before

    def clear(self) -> None:
        """Disarm everything."""
        self._faults.clear()
