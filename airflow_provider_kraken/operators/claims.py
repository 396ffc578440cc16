"""The cross-run registry: which task instance is sending, or owns, which Kraken withdrawal or address.

Kraken's Withdraw takes no client reference, so after a lost answer a task recognises its withdrawal
only by asset, key, amount and time, and two runs sending equal amounts look alike. Each intent
therefore publishes itself here *before* sending (``sending``) and again once it knows its refid
(``done``). Reconciliation reads Kraken first and this registry second: any withdrawal it sees was
sent by an intent that had already published itself, so it either belongs to a ``done`` entry
(claimed: not adoptable) or to a ``sending`` one (a rival: wait, then leave it to a human).

Entries live in Airflow Variables, one per intent, so writers never overwrite each other's data and
no compare-and-set is needed: ``kraken.<kind>.<destination>.<day>.<intent id>``, plus a pointer
``kraken.<kind>.task.<intent id>`` naming it, so a task finds its own entry directly. The task
state store cannot serve here (a task can only read its own), and Variables are shared by every
DAG, listable by prefix (Airflow 3.3), survive ``[state_store] clear_on_success`` and can be
audited in the UI.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from airflow_provider_kraken.operators.intents import IntentState

KEY_PREFIX = "kraken"
#: Widest window (seconds) any entry may claim; bounds which day buckets a lookup must read.
MAX_WINDOW_SECONDS = 86400.0
ENTRY_VERSION = 1


class RegistryError(RuntimeError):
    """The registry holds something this provider cannot read, so no safe decision can be made."""


class VariableBackend(Protocol):
    """The part of Airflow's Variable API the registry uses."""

    def keys(self, prefix: str) -> Sequence[str]: ...

    def get(self, key: str) -> str | None: ...

    def set(self, key: str, value: str) -> None: ...

    def delete(self, key: str) -> None: ...


class AirflowVariables:
    """:class:`VariableBackend` on ``airflow.sdk.Variable`` (needs a running task)."""

    def keys(self, prefix: str) -> Sequence[str]:
        from airflow.sdk import Variable

        return list(Variable.keys(prefix=prefix))

    def get(self, key: str) -> str | None:
        from airflow.sdk import Variable

        value = Variable.get(key, default=None)
        return None if value is None else str(value)

    def set(self, key: str, value: str) -> None:
        from airflow.sdk import Variable

        Variable.set(key, value, description="airflow-provider-kraken exactly-once registry entry")

    def delete(self, key: str) -> None:
        from airflow.sdk import Variable

        Variable.delete(key)


@dataclass(frozen=True)
class Owner:
    """The task instance an intent belongs to; its id is stable across tries and Clears."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int = -1

    @property
    def intent_id(self) -> str:
        """A short stable id of this task instance (Variable keys allow no arbitrary run ids)."""
        text = "\x1f".join((self.dag_id, self.run_id, self.task_id, str(self.map_index)))
        return hashlib.sha256(text.encode()).hexdigest()[:24]

    def describe(self) -> str:
        """``dag_id/run_id/task_id[map_index]`` for messages."""
        suffix = f"[{self.map_index}]" if self.map_index >= 0 else ""
        return f"{self.dag_id}/{self.run_id}/{self.task_id}{suffix}"


@dataclass(frozen=True)
class Entry:
    """One intent as the registry shows it to other task instances.

    ``window`` is the span of Kraken times (unix seconds) in which the intent's own request may
    have executed; ``result`` is its refid (or address) once known, which claims it.
    """

    kind: str
    owner: Owner
    state: IntentState
    fingerprint: str
    parameters: dict[str, str | None]
    request: dict[str, str | None]
    sent_at: float
    window: tuple[float, float]
    result: str | None = None
    updated_at: float = field(default_factory=time.time)

    @property
    def is_rival(self) -> bool:
        """True while the entry may own a withdrawal it has not claimed yet."""
        return self.state is IntentState.SENDING

    def to_text(self) -> str:
        data = asdict(self)
        data["state"] = self.state.value
        data["window"] = list(self.window)
        data["version"] = ENTRY_VERSION
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_text(cls, text: str) -> Entry:
        data = json.loads(text)
        if not isinstance(data, Mapping) or data.get("version") != ENTRY_VERSION:
            raise ValueError("not a registry entry of this version")
        return cls(
            kind=str(data["kind"]),
            owner=Owner(**data["owner"]),
            state=IntentState(data["state"]),
            fingerprint=str(data["fingerprint"]),
            parameters=dict(data["parameters"]),
            request=dict(data["request"]),
            sent_at=float(data["sent_at"]),
            window=(float(data["window"][0]), float(data["window"][1])),
            result=data.get("result"),
            updated_at=float(data.get("updated_at", 0.0)),
        )


class ClaimRegistry:
    """The registry entries of one destination (e.g. asset + withdraw key) for one kind of request."""

    def __init__(
        self,
        kind: str,
        destination: Sequence[str],
        owner: Owner,
        *,
        variables: VariableBackend | None = None,
    ) -> None:
        self.kind = kind
        self.owner = owner
        self.destination = destination_id(destination)
        self._variables: VariableBackend = variables if variables is not None else AirflowVariables()

    @property
    def prefix(self) -> str:
        """Key prefix of this destination's entries."""
        return f"{KEY_PREFIX}.{self.kind}.{self.destination}."

    def key_for(self, sent_at: float, intent_id: str | None = None) -> str:
        """The Variable key of an entry sent at ``sent_at``."""
        return f"{self.prefix}{_day(sent_at)}.{intent_id or self.owner.intent_id}"

    def publish(self, entry: Entry, *, previous_sent_at: float | None = None) -> str:
        """Write this task instance's entry (dropping the one of an earlier send on another day)."""
        key = self.key_for(entry.sent_at)
        self._variables.set(key, entry.to_text())
        self._variables.set(self.pointer_key, key)
        if previous_sent_at is not None:
            old = self.key_for(previous_sent_at)
            if old != key:
                self._variables.delete(old)
        return key

    @property
    def pointer_key(self) -> str:
        """The Variable naming this task instance's entry, so it is found without knowing its destination."""
        return f"{KEY_PREFIX}.{self.kind}.task.{self.owner.intent_id}"

    def own(self) -> Entry | None:
        """This task instance's entry for this kind of request, whatever its destination."""
        key = self._variables.get(self.pointer_key)
        if key is None:
            return None
        entry = self._read(key)
        if entry is None or entry.owner != self.owner:
            raise RegistryError(f"registry pointer {self.pointer_key!r} names {key!r}, not this task's entry")
        return entry

    def others(self, window: tuple[float, float]) -> list[Entry]:
        """Entries of other task instances whose window may overlap ``window``."""
        found: list[Entry] = []
        for day in _days(window[0] - MAX_WINDOW_SECONDS, window[1] + MAX_WINDOW_SECONDS):
            for key in self._variables.keys(f"{self.prefix}{day}."):
                entry = self._read(key)
                if entry is not None and entry.owner != self.owner and entry.kind == self.kind:
                    found.append(entry)
        return found

    def _read(self, key: str) -> Entry | None:
        text = self._variables.get(key)
        if text is None:  # deleted since it was listed
            return None
        try:
            return Entry.from_text(text)
        except (ValueError, KeyError, TypeError) as exc:
            # An unreadable entry may be a rival: refuse to reason without it rather than skip it.
            raise RegistryError(f"registry variable {key!r} is not a readable entry ({exc})") from None


def destination_id(parts: Iterable[str]) -> str:
    """A key-safe id of a destination: readable asset id plus a hash (names may hold any character)."""
    values = list(parts)
    digest = hashlib.sha256("\x1f".join(values).encode()).hexdigest()[:16]
    head = "".join(ch for ch in values[0] if ch.isalnum())[:16] if values else ""
    return f"{head}-{digest}" if head else digest


def _day(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y%m%d")


def _days(start: float, end: float) -> list[str]:
    first = datetime.fromtimestamp(start, UTC).date()
    last = datetime.fromtimestamp(end, UTC).date()
    count = (last - first).days + 1
    return [(first + timedelta(days=n)).strftime("%Y%m%d") for n in range(max(count, 1))]
