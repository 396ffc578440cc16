"""Judging waits on withdrawals and deposits, and the trigger event contract.

Shared by the sensors (every mode), the withdraw operator's wait and the triggers, so that all of
them reach the same conclusion from the same record. Kept apart from the triggers so that parsing a
DAG that uses the sensors does not import Airflow's trigger machinery.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_kraken.amounts import format_amount, to_decimal
from airflow_provider_kraken.exceptions import (
    KrakenAPIError,
    KrakenError,
    KrakenInputError,
    KrakenTransportError,
)
from airflow_provider_kraken.models import Deposit, StatusProp, Transaction, TransactionStatus, Withdrawal

#: Most records one status lookup reads; a refid older than this many newer records is "not found".
HISTORY_LIMIT = 1000
#: Allowance for the difference between this machine's clock and Kraken's when a time bounds a query.
CLOCK_SKEW_SECONDS = 300
DEFAULT_POLL_INTERVAL = 30.0

PollKind = Literal["withdrawal", "deposit"]

# --------------------------------------------------------------------------------------- verdicts


class WaitOutcome(StrEnum):
    """Where a wait stands after looking at one record."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"  # Kraken's Failure, cancelled included: final, the money did not move
    WAITING = "waiting"
    UNKNOWN = "unknown"  # a status this provider does not know: never guess, fail loudly


@dataclass(frozen=True)
class WaitVerdict:
    """A judgement of one record, with a reason fit for the task log."""

    outcome: WaitOutcome
    reason: str

    @property
    def is_final(self) -> bool:
        """True when waiting longer cannot change the conclusion."""
        return self.outcome is not WaitOutcome.WAITING


def judge_withdrawal(record: Withdrawal) -> WaitVerdict:
    """Judge a withdrawal for waiting purposes: succeeded, failed, keep waiting, or unknown.

    Contract: ``Success`` succeeds (also with ``cancel-denied`` or ``return``); ``Failure`` fails,
    a cancelled one included; ``Initial``/``Pending``/``Settled`` keep waiting, and so does any
    status while ``onhold`` or ``cancel-pending`` (a pending cancel may still turn it into a
    Failure). An unknown status or status-prop, or ``Success`` marked ``canceled``, is UNKNOWN:
    never reported as success.
    """
    what = f"withdrawal {record.refid}"
    unknown = _unknown_status(record, what)
    if unknown is not None:
        return unknown
    prop = record.status_prop
    if record.status is TransactionStatus.FAILURE:
        if record.is_cancelled:
            return WaitVerdict(WaitOutcome.FAILED, f"{what} was cancelled (Failure, canceled)")
        return WaitVerdict(WaitOutcome.FAILED, f"{what} failed{_prop_note(prop)}")
    if prop is StatusProp.ONHOLD:
        return WaitVerdict(WaitOutcome.WAITING, f"{what} is {record.status} and on hold pending review")
    if prop is StatusProp.CANCEL_PENDING:
        return WaitVerdict(
            WaitOutcome.WAITING,
            f"{what} is {record.status} with a cancellation pending; waiting for its outcome",
        )
    if record.status is TransactionStatus.SUCCESS:
        if prop is StatusProp.CANCELED:
            return WaitVerdict(WaitOutcome.UNKNOWN, f"{what} reports Success yet canceled; refusing to guess")
        return WaitVerdict(WaitOutcome.SUCCEEDED, f"{what} succeeded{_prop_note(prop)}")
    return WaitVerdict(WaitOutcome.WAITING, f"{what} is {record.status}{_prop_note(prop)}")


def judge_deposit(record: Deposit, *, settled_is_enough: bool) -> WaitVerdict:
    """Judge a deposit for waiting purposes: succeeded, failed, keep waiting, or unknown.

    Contract: ``Success`` succeeds; ``Settled`` succeeds only when ``settled_is_enough`` (the
    funds are seen but not every confirmation is in); ``Failure`` fails; anything ``onhold`` and
    the early states keep waiting. An unknown status or status-prop is UNKNOWN.
    """
    what = f"deposit {record.refid}"
    unknown = _unknown_status(record, what)
    if unknown is not None:
        return unknown
    prop = record.status_prop
    if record.status is TransactionStatus.FAILURE:
        return WaitVerdict(WaitOutcome.FAILED, f"{what} failed{_prop_note(prop)}")
    if prop is StatusProp.ONHOLD:
        return WaitVerdict(WaitOutcome.WAITING, f"{what} is {record.status} and on hold pending review")
    if record.status is TransactionStatus.SUCCESS:
        return WaitVerdict(WaitOutcome.SUCCEEDED, f"{what} succeeded{_prop_note(prop)}")
    if record.status is TransactionStatus.SETTLED:
        if settled_is_enough:
            return WaitVerdict(WaitOutcome.SUCCEEDED, f"{what} is Settled, which this wait accepts")
        return WaitVerdict(WaitOutcome.WAITING, f"{what} is Settled; waiting for all confirmations (Success)")
    return WaitVerdict(WaitOutcome.WAITING, f"{what} is {record.status}{_prop_note(prop)}")


def _unknown_status(record: Transaction, what: str) -> WaitVerdict | None:
    if not record.status.is_known:
        return WaitVerdict(
            WaitOutcome.UNKNOWN, f"{what} has status {record.status.value!r}, unknown to this provider"
        )
    if record.status_prop is not None and not record.status_prop.is_known:
        return WaitVerdict(
            WaitOutcome.UNKNOWN,
            f"{what} has status-prop {record.status_prop.value!r}, unknown to this provider",
        )
    return None


def _prop_note(prop: StatusProp | None) -> str:
    return f" ({prop.value})" if prop is not None else ""


# --------------------------------------------------------------------------------------- finding records


def find_withdrawal(records: Sequence[Withdrawal], refid: str) -> Withdrawal | None:
    """The withdrawal with this refid among WithdrawStatus records, or None."""
    return next((record for record in records if record.refid == refid), None)


@dataclass(frozen=True)
class DepositMatch:
    """Which deposit a wait is about: a ``refid`` or ``txid``, or method/address/minimum after a time.

    Criteria that are None are not checked. ``since`` is a unix time on Kraken's clock; matching
    deposits have ``time >= since``. ``min_amount`` compares with the deposit's ``amount``.
    """

    refid: str | None = None
    txid: str | None = None
    method: str | None = None
    address: str | None = None
    min_amount: Decimal | None = None
    since: int | None = None

    def __post_init__(self) -> None:
        if self.refid is None and self.txid is None and self.since is None:
            raise KrakenInputError(
                "since", "a deposit matched by method/address/amount needs the time after which it arrives"
            )
        if self.min_amount is not None and self.min_amount < 0:
            raise KrakenInputError("min_amount", "must not be negative")

    def matches(self, record: Deposit) -> bool:
        """True when the record meets every given criterion."""
        return (
            (self.refid is None or record.refid == self.refid)
            and (self.txid is None or record.txid == self.txid)
            and (self.method is None or record.method == self.method)
            and (self.address is None or record.info == self.address)
            and (self.min_amount is None or record.amount >= self.min_amount)
            and (self.since is None or record.time >= self.since)
        )

    def describe(self) -> str:
        """The criteria in words, for logs and failure messages."""
        parts = [
            f"{name}={value}"
            for name, value in (
                ("refid", self.refid),
                ("txid", self.txid),
                ("method", self.method),
                ("address", self.address),
                ("min_amount", None if self.min_amount is None else format_amount(self.min_amount)),
                ("since", self.since),
            )
            if value is not None
        ]
        return "deposit " + ", ".join(parts)

    def to_kwargs(self) -> dict[str, Any]:
        """Plain JSON (the amount as a decimal string) for trigger kwargs."""
        return {
            "refid": self.refid,
            "txid": self.txid,
            "method": self.method,
            "address": self.address,
            "min_amount": None if self.min_amount is None else format_amount(self.min_amount),
            "since": self.since,
        }

    @classmethod
    def from_kwargs(cls, data: Mapping[str, Any]) -> DepositMatch:
        """Inverse of :meth:`to_kwargs`."""
        amount = data.get("min_amount")
        return cls(
            refid=data.get("refid"),
            txid=data.get("txid"),
            method=data.get("method"),
            address=data.get("address"),
            min_amount=None if amount is None else to_decimal(amount, "min_amount"),
            since=data.get("since"),
        )


def pick_deposit(
    records: Sequence[Deposit], match: DepositMatch, *, settled_is_enough: bool
) -> tuple[WaitVerdict, Deposit | None]:
    """Judge the deposits matching ``match``: any success wins, then unknown, then waiting, then failure.

    Several deposits can match criteria; one that succeeded ends the wait even when another
    failed, and a failed one ends it only when no other matching deposit is still in progress.
    """
    matching = sorted((r for r in records if match.matches(r)), key=lambda r: (r.time, r.refid))
    if not matching:
        return WaitVerdict(WaitOutcome.WAITING, f"no {match.describe()} listed yet"), None
    judged = [(judge_deposit(record, settled_is_enough=settled_is_enough), record) for record in matching]
    for outcome in (WaitOutcome.SUCCEEDED, WaitOutcome.UNKNOWN, WaitOutcome.WAITING, WaitOutcome.FAILED):
        for verdict, record in judged:
            if verdict.outcome is outcome:
                return verdict, record
    raise AssertionError("unreachable: every verdict has one of the four outcomes")  # pragma: no cover


def withdrawal_verdict(records: Sequence[Withdrawal], refid: str) -> tuple[WaitVerdict, Withdrawal | None]:
    """Find the withdrawal ``refid`` in one WithdrawStatus lookup and judge it (the poke and trigger step)."""
    record = find_withdrawal(records, refid)
    if record is None:
        return not_listed_verdict(f"withdrawal {refid}", len(records)), None
    return judge_withdrawal(record), record


def deposit_verdict(
    records: Sequence[Deposit], match: DepositMatch, *, settled_is_enough: bool
) -> tuple[WaitVerdict, Deposit | None]:
    """Find and judge the deposits matching ``match`` in one DepositStatus lookup."""
    verdict, record = pick_deposit(records, match, settled_is_enough=settled_is_enough)
    if record is None:
        return not_listed_verdict(match.describe(), len(records)), None
    return verdict, record


def not_listed_verdict(what: str, records_read: int) -> WaitVerdict:
    """Verdict for a record absent from a lookup: keep waiting, unless the lookup hit its limit."""
    if records_read >= HISTORY_LIMIT:
        return WaitVerdict(
            WaitOutcome.UNKNOWN,
            f"{what} is not among the newest {HISTORY_LIMIT} records; pass `since` (when it was made) "
            "so the lookup can start there",
        )
    return WaitVerdict(WaitOutcome.WAITING, f"{what} is not listed yet")


def start_bound(value: object, name: str = "since") -> int | None:
    """A query lower bound (unix seconds) from None, a unix time, a datetime or an ISO/numeric string."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise KrakenInputError(name, f"must be a unix time, a datetime or an ISO 8601 string, got {value!r}")
    if isinstance(value, int | float | Decimal):
        return int(value)
    if isinstance(value, datetime):
        return int(value.timestamp())
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(Decimal(text))
        except ArithmeticError:
            pass
        try:
            return int(datetime.fromisoformat(text).timestamp())
        except ValueError:
            pass
    raise KrakenInputError(name, f"must be a unix time, a datetime or an ISO 8601 string, got {value!r}")


# --------------------------------------------------------------------------------------- the event contract


class EventStatus(StrEnum):
    """What a trigger reports; ``unknown`` means Kraken sent a status this provider does not know."""

    SUCCESS = "success"
    FAILURE = "failure"
    UNKNOWN = "unknown"
    TIMEOUT = "timeout"
    ERROR = "error"


class KrakenWaitFailed(AirflowFailException):
    """The awaited withdrawal or deposit failed, was cancelled, or shows a status nobody can vouch for.

    Final: retrying the task cannot change it, and ``soft_fail`` does not turn it into a skip.
    """


class KrakenTriggerEventError(KrakenWaitFailed):
    """A trigger event is missing or malformed: the wait's outcome cannot be trusted."""


class KrakenWaitError(KrakenError):
    """The wait could not read the status: auth, permission, configuration, or a persistent error."""


@dataclass(frozen=True)
class WaitEvent:
    """A validated trigger event: ``record`` is the JSON record (amounts as decimal strings) or None."""

    status: EventStatus
    message: str
    record: dict[str, Any] | None = None

    @classmethod
    def from_verdict(cls, verdict: WaitVerdict, record: Transaction | None) -> WaitEvent:
        """The event for a final verdict (a WAITING verdict is not an event)."""
        status = {
            WaitOutcome.SUCCEEDED: EventStatus.SUCCESS,
            WaitOutcome.FAILED: EventStatus.FAILURE,
            WaitOutcome.UNKNOWN: EventStatus.UNKNOWN,
        }.get(verdict.outcome)
        if status is None:
            raise ValueError("a WAITING verdict does not end a wait")
        return cls(status, verdict.reason, record_json(record))

    @property
    def payload(self) -> dict[str, Any]:
        """The TriggerEvent payload: plain JSON."""
        return {"status": self.status.value, "message": self.message, "record": self.record}


def record_json(record: Transaction | None) -> dict[str, Any] | None:
    """A record as JSON with Kraken's field names and amounts as decimal strings."""
    return None if record is None else record.model_dump(mode="json", by_alias=True, exclude_none=True)


def validate_trigger_event(event: object) -> WaitEvent:
    """Check a trigger event payload before acting on it; raise ``KrakenTriggerEventError`` otherwise.

    Accepts a dict ``{"status": success|failure|unknown|timeout|error, "message": str,
    "record": dict|None}`` (a ``TriggerEvent`` is unwrapped). ``success`` must carry its record.
    None, another shape or an unknown status fails the task loudly: the event crosses a process
    (and possibly a version) boundary, and a wait must never succeed on something it cannot read.
    """
    payload = getattr(event, "payload", event)  # a TriggerEvent, or its payload as resumed tasks get it
    if not isinstance(payload, Mapping):
        raise KrakenTriggerEventError(f"Kraken wait: no usable trigger event (got {type(payload).__name__})")
    try:
        status = EventStatus(str(payload.get("status")))
    except ValueError:
        raise KrakenTriggerEventError(
            f"Kraken wait: trigger event has unknown status {payload.get('status')!r}"
        ) from None
    message = payload.get("message")
    record = payload.get("record")
    if not isinstance(message, str):
        raise KrakenTriggerEventError("Kraken wait: trigger event has no message")
    if record is not None and not isinstance(record, Mapping):
        raise KrakenTriggerEventError("Kraken wait: trigger event record is not a JSON object")
    if status is EventStatus.SUCCESS and record is None:
        raise KrakenTriggerEventError("Kraken wait: trigger reported success without the record")
    return WaitEvent(status, message, None if record is None else dict(record))


# --------------------------------------------------------------------------------------- polling


def is_transient(exc: BaseException) -> bool:
    """True for trouble that may clear by itself (lost answers, 5xx, EService, rate limits)."""
    if isinstance(exc, KrakenTransportError):
        return True
    return isinstance(exc, KrakenAPIError) and exc.transient
