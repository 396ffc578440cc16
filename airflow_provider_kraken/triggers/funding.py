"""Waiting on withdrawals and deposits: verdicts, the trigger event contract, and the triggers.

Three things here are shared by the sensors and the withdraw operator's wait, so that every mode
(poke, reschedule, deferrable, the operator's own wait) reaches the same conclusion:

* :func:`judge_withdrawal` / :func:`judge_deposit` turn one record into a :class:`WaitVerdict`;
* :func:`validate_trigger_event` checks what a trigger sent before anyone acts on it;
* :class:`KrakenWithdrawalTrigger` / :class:`KrakenDepositTrigger` poll in the triggerer.

Triggers only read (``WithdrawStatus`` / ``DepositStatus``), so a triggerer restart that re-runs
them from their serialised kwargs cannot move money. Deferred triggers on the same connection and
asset share one status poll per interval through :class:`StatusPoller`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from airflow.sdk.exceptions import AirflowFailException
from airflow.triggers.base import BaseTrigger, TriggerEvent

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
    payload = event.payload if isinstance(event, TriggerEvent) else event
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


@dataclass(frozen=True)
class Snapshot:
    """One status lookup: the records (newest first) or the error, and the ``start`` bound used."""

    start: int | None
    records: tuple[Transaction, ...] = ()
    error: BaseException | None = None

    def covers(self, start: int | None) -> bool:
        """True when this lookup reached back at least to ``start``."""
        return self.start is None or (start is not None and self.start <= start)


Fetch = Callable[[int | None], Awaitable[Sequence[Transaction]]]


class Subscription:
    """One waiter's mailbox on a poller: the latest snapshot covering its ``start``."""

    def __init__(self, start: int | None, poll_interval: float) -> None:
        self.start = start
        self.poll_interval = poll_interval
        self._latest: Snapshot | None = None
        self._ready = asyncio.Event()

    def offer(self, snapshot: Snapshot) -> None:
        """Hand over a snapshot if it reached back far enough for this waiter."""
        if snapshot.covers(self.start):
            self._latest = snapshot
            self._ready.set()

    async def next(self) -> Snapshot:
        """Wait for the next snapshot (the latest one if several arrived meanwhile)."""
        await self._ready.wait()
        self._ready.clear()
        assert self._latest is not None
        return self._latest


class StatusPoller:
    """One polling task fanning one status lookup per interval out to every subscriber.

    The lookup starts at the earliest ``start`` any subscriber needs, and runs at the shortest
    interval any subscriber asked for. The task starts with the first subscriber; the last one
    out calls :meth:`close_if_idle`, which stops the task and closes the client.
    """

    def __init__(self, fetch: Fetch, *, close: Callable[[], Awaitable[None]] | None = None) -> None:
        self._fetch = fetch
        self._close = close
        self._subscribers: list[Subscription] = []
        self._task: asyncio.Task[None] | None = None
        self.loop = asyncio.get_running_loop()
        self.polls = 0

    @property
    def alive(self) -> bool:
        """True while this poller can serve subscribers on the running event loop."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            return False
        return running is self.loop and not self.loop.is_closed()

    def subscribe(self, start: int | None, poll_interval: float) -> Subscription:
        """Join the poll; the task starts with the first subscriber."""
        subscription = Subscription(start, poll_interval)
        self._subscribers.append(subscription)
        if self._task is None or self._task.done():
            self._task = self.loop.create_task(self._run(), name="kraken-status-poller")
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Leave the poll (call :meth:`close_if_idle` afterwards to release the task and client)."""
        with contextlib.suppress(ValueError):
            self._subscribers.remove(subscription)

    async def close_if_idle(self) -> None:
        """With no subscriber left: stop the polling task and close the client, awaiting both."""
        if self._subscribers:
            return
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait([task])
        if self._close is not None:
            await self._close()

    @property
    def subscriber_count(self) -> int:
        """How many waiters share this poll."""
        return len(self._subscribers)

    async def _run(self) -> None:
        while self._subscribers:
            start = _earliest(s.start for s in self._subscribers)
            snapshot = await self._poll(start)
            for subscription in list(self._subscribers):
                subscription.offer(snapshot)
            await asyncio.sleep(min((s.poll_interval for s in self._subscribers), default=0.0))

    async def _poll(self, start: int | None) -> Snapshot:
        self.polls += 1
        try:
            return Snapshot(start, tuple(await self._fetch(start)))
        except Exception as exc:  # noqa: BLE001 - every waiter must hear about any failure, not hang
            return Snapshot(start, error=exc)


def _earliest(starts: Iterable[int | None]) -> int | None:
    """The earliest bound, or None (no bound) if any waiter has none."""
    values = list(starts)
    bounded = [v for v in values if v is not None]
    return None if len(bounded) < len(values) else min(bounded, default=None)


class PollerRegistry:
    """Pollers of one process keyed by (connection, asset, kind); rebuilt for each new event loop."""

    def __init__(self) -> None:
        self._pollers: dict[tuple[str, str, PollKind], StatusPoller] = {}

    def poller(self, conn_id: str, asset: str, kind: PollKind) -> StatusPoller:
        """The live poller for this key, created on first use in the running loop."""
        key = (conn_id, asset.lower(), kind)
        poller = self._pollers.get(key)
        if poller is None or not poller.alive:
            poller = new_poller(conn_id, asset, kind)
            self._pollers[key] = poller
        return poller

    def forget(self, poller: StatusPoller) -> None:
        """Drop a poller once its last subscriber left."""
        for key, known in list(self._pollers.items()):
            if known is poller and poller.subscriber_count == 0:
                del self._pollers[key]

    def __len__(self) -> int:
        return len(self._pollers)


#: The triggerer's shared pollers (one triggerer process runs all its triggers in one loop).
POLLERS = PollerRegistry()


def new_poller(conn_id: str, asset: str, kind: PollKind) -> StatusPoller:
    """A poller reading WithdrawStatus or DepositStatus of one asset through its own hook."""
    from airflow_provider_kraken.hooks.kraken import KrakenHook

    hook = KrakenHook(kraken_conn_id=conn_id)

    async def fetch(start: int | None) -> Sequence[Transaction]:
        if kind == "withdrawal":
            return await hook.awithdraw_status(asset=asset, start=start, max_records=HISTORY_LIMIT)
        return await hook.adeposit_status(asset=asset, start=start, max_records=HISTORY_LIMIT)

    return StatusPoller(fetch, close=hook.aclose)


# --------------------------------------------------------------------------------------- triggers


class _StatusTrigger(BaseTrigger):
    """Polls a status until a final verdict or the wall-clock deadline; yields exactly one event."""

    kind: PollKind

    def __init__(
        self,
        *,
        kraken_conn_id: str,
        asset: str,
        end_time: float,
        start: int | None = None,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        share_polls: bool = True,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.kraken_conn_id = kraken_conn_id
        self.asset = asset
        self.end_time = float(end_time)
        self.start = start
        self.poll_interval = float(poll_interval)
        self.share_polls = share_polls

    def _common_kwargs(self) -> dict[str, Any]:
        return {
            "kraken_conn_id": self.kraken_conn_id,
            "asset": self.asset,
            "end_time": self.end_time,
            "start": self.start,
            "poll_interval": self.poll_interval,
            "share_polls": self.share_polls,
        }

    def _judge(self, records: Sequence[Transaction]) -> tuple[WaitVerdict, Transaction | None]:
        raise NotImplementedError

    def _what(self) -> str:
        raise NotImplementedError

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Wait on the shared (or a private) poller and yield the one event that ends the wait."""
        event = await self._wait()
        self.log.info("Kraken wait over: %s (%s)", event.status.value, event.message)
        yield TriggerEvent(event.payload)  # type: ignore[no-untyped-call]

    async def _wait(self) -> WaitEvent:
        shared = self.share_polls
        poller = POLLERS.poller(self.kraken_conn_id, self.asset, self.kind) if shared else None
        if poller is None:
            poller = new_poller(self.kraken_conn_id, self.asset, self.kind)
        subscription = poller.subscribe(self.start, self.poll_interval)
        last: Transaction | None = None
        reason = ""
        try:
            while True:
                remaining = self.end_time - time.time()
                if remaining <= 0:
                    return self._timeout_event(last)
                try:
                    # Not asyncio.wait_for: on Python 3.11 it can swallow a cancellation that races
                    # with the snapshot's arrival, leaving a trigger Airflow cancelled still running.
                    async with asyncio.timeout(remaining):
                        snapshot = await subscription.next()
                except TimeoutError:
                    return self._timeout_event(last)
                if snapshot.error is not None:
                    if is_transient(snapshot.error):
                        self.log.warning("Kraken status lookup failed, will poll again: %s", snapshot.error)
                        continue
                    return WaitEvent(EventStatus.ERROR, _error_message(snapshot.error), record_json(last))
                verdict, record = self._judge(snapshot.records)
                last = record or last
                if verdict.is_final:
                    return WaitEvent.from_verdict(verdict, record)
                if verdict.reason != reason:
                    self.log.info("Still waiting: %s", verdict.reason)
                    reason = verdict.reason
        finally:
            poller.unsubscribe(subscription)
            if shared:
                POLLERS.forget(poller)  # before any await, so nobody joins a poller being closed
            await poller.close_if_idle()

    def _timeout_event(self, last: Transaction | None) -> WaitEvent:
        deadline = datetime.fromtimestamp(self.end_time).isoformat(timespec="seconds")
        return WaitEvent(
            EventStatus.TIMEOUT,
            f"{self._what()} did not reach a final state by {deadline}",
            record_json(last),
        )


def _error_message(exc: BaseException) -> str:
    if isinstance(exc, KrakenError):
        return f"Kraken status lookup failed for good: {exc}"
    return f"Kraken status lookup failed unexpectedly: {type(exc).__name__}: {exc}"


class KrakenWithdrawalTrigger(_StatusTrigger):
    """Wait in the triggerer for a withdrawal (by refid) to succeed or fail, reading WithdrawStatus only.

    :param kraken_conn_id: Airflow connection id (resolved inside ``run()``; no secret travels).
    :param asset: asset of the withdrawal (id, altname or ticker).
    :param refid: the withdrawal's reference id from Kraken.
    :param end_time: wall-clock deadline (unix seconds); a ``timeout`` event is sent then.
    :param start: lower bound of the lookups (unix seconds, Kraken's clock), None for no bound.
    :param poll_interval: seconds between lookups.
    :param share_polls: share lookups with other triggers on the same connection and asset.
    """

    kind: PollKind = "withdrawal"

    def __init__(self, *, refid: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.refid = refid

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Classpath and plain-JSON kwargs."""
        return f"{__name__}.KrakenWithdrawalTrigger", {**self._common_kwargs(), "refid": self.refid}

    def _what(self) -> str:
        return f"withdrawal {self.refid}"

    def _judge(self, records: Sequence[Transaction]) -> tuple[WaitVerdict, Transaction | None]:
        return withdrawal_verdict([r for r in records if isinstance(r, Withdrawal)], self.refid)


class KrakenDepositTrigger(_StatusTrigger):
    """Wait in the triggerer for a matching deposit, reading DepositStatus only.

    :param match: :meth:`DepositMatch.to_kwargs` of the deposit waited for.
    :param settled_is_enough: accept ``Settled`` instead of requiring ``Success``.

    The other parameters are those of :class:`KrakenWithdrawalTrigger`.
    """

    kind: PollKind = "deposit"

    def __init__(self, *, match: Mapping[str, Any], settled_is_enough: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.match = DepositMatch.from_kwargs(match)
        self.settled_is_enough = settled_is_enough

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Classpath and plain-JSON kwargs (the minimum amount as a decimal string)."""
        return f"{__name__}.KrakenDepositTrigger", {
            **self._common_kwargs(),
            "match": self.match.to_kwargs(),
            "settled_is_enough": self.settled_is_enough,
        }

    def _what(self) -> str:
        return self.match.describe()

    def _judge(self, records: Sequence[Transaction]) -> tuple[WaitVerdict, Transaction | None]:
        deposits = [r for r in records if isinstance(r, Deposit)]
        return deposit_verdict(deposits, self.match, settled_is_enough=self.settled_is_enough)
