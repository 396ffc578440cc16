"""What a task instance set out to do on Kraken and how far it got, kept in its ``task_state_store``.

The record survives Airflow retries (XCom does not): reading it first is what lets a retry adopt
the result of a lost answer instead of sending a second request.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol

from airflow_provider_kraken.amounts import format_amount

#: Version of the stored record; a record of another version is refused rather than guessed at.
INTENT_VERSION = 1


class IntentState(StrEnum):
    """How far an intent got."""

    SENDING = "sending"  # about to send, or sent without a known outcome: reconcile before anything else
    DONE = "done"  # Kraken's reference is known (received, or adopted by reconciliation)
    UNSENT = "unsent"  # Kraken provably did not execute the last send (refused it, or it never left)


class StateStore(Protocol):
    """The part of Airflow's ``TaskStateStoreAccessor`` used here."""

    def get(self, key: str, default: Any = None) -> Any: ...

    def set(self, key: str, value: Any, *, retention: Any = None) -> None: ...


@dataclass(frozen=True)
class Intent:
    """One task instance's request to Kraken and its progress.

    ``request`` holds the request exactly as sent (asset id, key, amounts as decimal strings);
    ``fingerprint`` identifies the operator parameters it came from, so a retry with edited
    parameters is refused. ``result`` is the refid (or address) once known; ``context`` keeps what
    reconciliation needs (e.g. the deposit addresses that existed before sending).
    """

    kind: str
    fingerprint: str
    parameters: dict[str, str | None]
    request: dict[str, str | None]
    state: IntentState
    sent_at: float | None = None
    result: str | None = None
    sends: int = 0
    note: str | None = None
    context: dict[str, Any] = field(default_factory=dict)

    def sending(self, *, now: float | None = None, context: Mapping[str, Any] | None = None) -> Intent:
        """The record to store just before one more send."""
        return replace(
            self,
            state=IntentState.SENDING,
            sent_at=time.time() if now is None else now,
            result=None,
            sends=self.sends + 1,
            note=None,
            context=dict(self.context if context is None else context),
        )

    def done(self, result: str, *, note: str | None = None) -> Intent:
        """The record once Kraken's reference is known."""
        return replace(self, state=IntentState.DONE, result=result, note=note)

    def unsent(self, note: str) -> Intent:
        """The record after Kraken provably did not execute the send."""
        return replace(self, state=IntentState.UNSENT, result=None, note=note)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON for the state store."""
        data = asdict(self)
        data["state"] = self.state.value
        data["version"] = INTENT_VERSION
        return data

    @classmethod
    def from_json(cls, data: object) -> Intent:
        """Parse a stored record; ``ValueError`` when it is not one this version wrote."""
        if not isinstance(data, Mapping) or data.get("version") != INTENT_VERSION:
            raise ValueError(f"not a version {INTENT_VERSION} intent record: {data!r}")
        try:
            return cls(
                kind=str(data["kind"]),
                fingerprint=str(data["fingerprint"]),
                parameters=dict(data["parameters"]),
                request=dict(data["request"]),
                state=IntentState(data["state"]),
                sent_at=None if data.get("sent_at") is None else float(data["sent_at"]),
                result=data.get("result"),
                sends=int(data.get("sends", 0)),
                note=data.get("note"),
                context=dict(data.get("context") or {}),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"unreadable intent record ({exc}): {data!r}") from None

    def changes_from(self, parameters: Mapping[str, str | None]) -> list[str]:
        """The parameters that differ from the stored ones, as ``name: stored -> now`` lines."""
        names = sorted(set(self.parameters) | set(parameters))
        return [
            f"{name}: {self.parameters.get(name)!r} -> {parameters.get(name)!r}"
            for name in names
            if self.parameters.get(name) != parameters.get(name)
        ]


def new_intent(kind: str, parameters: Mapping[str, object], request: Mapping[str, object]) -> Intent:
    """A fresh intent (nothing sent yet) for these operator parameters and request."""
    canonical = canonical_parameters(parameters)
    return Intent(
        kind=kind,
        fingerprint=fingerprint(kind, canonical),
        parameters=canonical,
        request=canonical_parameters(request),
        state=IntentState.UNSENT,
    )


def canonical_parameters(parameters: Mapping[str, object]) -> dict[str, str | None]:
    """Parameters as comparable strings: amounts normalised (``10.0`` equals ``10``), None kept."""
    return {name: _canonical(value) for name, value in sorted(parameters.items())}


def fingerprint(kind: str, parameters: Mapping[str, str | None]) -> str:
    """A stable hash of an intent's kind and canonical parameters."""
    text = json.dumps([kind, sorted(parameters.items())], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _canonical(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return format_amount(value.normalize())
    return str(value)


class IntentStore:
    """One intent per task instance in its ``task_state_store``, kept until deleted (never expires)."""

    def __init__(self, store: StateStore, key: str) -> None:
        self._store = store
        self.key = key

    def load(self) -> Intent | None:
        """The stored intent, None when there is none; ``ValueError`` when the record is unreadable."""
        data = self._store.get(self.key, None)
        return None if data is None else Intent.from_json(data)

    def save(self, intent: Intent) -> Intent:
        """Store (overwrite) the intent and return it."""
        from airflow.sdk.execution_time.context import NEVER_EXPIRE

        self._store.set(self.key, intent.to_json(), retention=NEVER_EXPIRE)
        return intent
