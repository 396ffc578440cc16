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
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_kraken.exceptions import (
    KrakenError,
)
from airflow_provider_kraken.models import Deposit, Transaction, Withdrawal
from airflow_provider_kraken.waiting import (  # the wait logic lives in waiting.py; re-exported here
    CLOCK_SKEW_SECONDS,
    DEFAULT_POLL_INTERVAL,
    HISTORY_LIMIT,
    DepositMatch,
    EventStatus,
    KrakenTriggerEventError,
    KrakenWaitError,
    KrakenWaitFailed,
    PollKind,
    WaitEvent,
    WaitOutcome,
    WaitVerdict,
    deposit_verdict,
    find_withdrawal,
    is_transient,
    judge_deposit,
    judge_withdrawal,
    not_listed_verdict,
    pick_deposit,
    record_json,
    start_bound,
    validate_trigger_event,
    withdrawal_verdict,
)

__all__ = [
    "CLOCK_SKEW_SECONDS",
    "DEFAULT_POLL_INTERVAL",
    "HISTORY_LIMIT",
    "POLLERS",
    "DepositMatch",
    "EventStatus",
    "KrakenDepositTrigger",
    "KrakenTriggerEventError",
    "KrakenWaitError",
    "KrakenWaitFailed",
    "KrakenWithdrawalTrigger",
    "PollKind",
    "PollerRegistry",
    "Snapshot",
    "StatusPoller",
    "Subscription",
    "WaitEvent",
    "WaitOutcome",
    "WaitVerdict",
    "deposit_verdict",
    "find_withdrawal",
    "is_transient",
    "judge_deposit",
    "judge_withdrawal",
    "new_poller",
    "not_listed_verdict",
    "pick_deposit",
    "record_json",
    "start_bound",
    "validate_trigger_event",
    "withdrawal_verdict",
]


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
