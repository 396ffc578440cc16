"""The call log: one record per API call, in arrival order, with what was decided and what the client got."""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any

REDACTED_PARAMS = frozenset({"nonce", "otp"})


@dataclass(slots=True)
class CallRecord:
    """What happened to one call.

    `outcome` is the sandbox's own verdict ("ok", a Kraken error, or "skipped" when a fault prevented
    processing); `executed` is True only when the call took effect; `reply` is what the client received
    ("ok", a Kraken error, "http 502", "dropped").
    """

    seq: int
    time: float
    wall_time: float
    method: str
    api_key: str | None
    key_name: str | None = None
    nonce: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    outcome: str = "skipped"
    executed: bool = False
    result: Any = None
    fault: str | None = None
    fault_id: int | None = None
    reply: str = "pending"
    http_status: int | None = None

    def to_json(self) -> dict[str, Any]:
        """Plain data for the admin API."""
        return asdict(self)


def loggable_params(params: dict[str, str]) -> dict[str, str]:
    """Parameters without the nonce (logged separately) and the otp (a secret)."""
    kept = dict(params)
    for name in REDACTED_PARAMS:
        kept.pop(name, None)
    return kept


class CallLog:
    """A bounded in-memory log; sequence numbers keep counting when old records fall off."""

    def __init__(self, max_entries: int) -> None:
        self._records: deque[CallRecord] = deque(maxlen=max_entries)
        self._seq = 0

    def next_seq(self) -> int:
        """The number of the next call."""
        self._seq += 1
        return self._seq

    def append(self, record: CallRecord) -> None:
        """Store a record."""
        self._records.append(record)

    def since(self, seq: int = 0, method: str | None = None) -> list[CallRecord]:
        """Records with a sequence number above `seq`, optionally only one method's."""
        return [r for r in self._records if r.seq > seq and (method is None or r.method == method)]
