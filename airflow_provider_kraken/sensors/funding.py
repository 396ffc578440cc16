"""Sensors waiting on Kraken withdrawals and deposits, in poke, reschedule or deferrable mode.

Every mode ends the same way: one status lookup (or the trigger's event) becomes a validated
:class:`~airflow_provider_kraken.waiting.WaitEvent`, and :meth:`_KrakenStatusSensor.finish`
turns it into the task's result. Success returns the record (JSON, amounts as decimal strings);
a failed, cancelled or unknown outcome fails the task even with ``soft_fail``; only running out
of time honours ``soft_fail``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, NoReturn

from airflow.sdk import BaseSensorOperator, Context, PokeReturnValue, conf
from airflow.sdk.exceptions import AirflowSensorTimeout, AirflowSkipException

from airflow_provider_kraken.amounts import to_decimal
from airflow_provider_kraken.exceptions import KrakenError, KrakenInputError
from airflow_provider_kraken.models import Transaction
from airflow_provider_kraken.waiting import (
    CLOCK_SKEW_SECONDS,
    HISTORY_LIMIT,
    DepositMatch,
    EventStatus,
    KrakenWaitError,
    KrakenWaitFailed,
    WaitEvent,
    WaitVerdict,
    deposit_verdict,
    is_transient,
    start_bound,
    validate_trigger_event,
    withdrawal_verdict,
)

#: task_state_store key remembering where lookups may start once the record was seen.
START_KEY = "kraken_lookup_start"


if TYPE_CHECKING:
    from airflow_provider_kraken.triggers.funding import KrakenDepositTrigger, KrakenWithdrawalTrigger

#: Same as ``KrakenHook.default_conn_name``; the hook (HTTP clients included) loads only when a sensor runs.
DEFAULT_CONN_ID = "kraken_default"


class _KrakenStatusSensor(BaseSensorOperator):
    """What both sensors share: one lookup per poke, deferral, and turning outcomes into results."""

    ui_color = "#e0d9f6"

    def __init__(
        self,
        *,
        kraken_conn_id: str = DEFAULT_CONN_ID,
        asset: str,
        since: object = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.kraken_conn_id = kraken_conn_id
        self.asset = asset
        self.since = since
        self.deferrable = deferrable
        self._learned_start: int | None = None

    # ------------------------------------------------------------------ modes

    def execute(self, context: Context) -> dict[str, Any]:
        """Poke until final (poke/reschedule), or look once and defer to the trigger (deferrable)."""
        if not self.deferrable:
            return self.finish(validate_trigger_event(super().execute(context)))
        event = self.check(context)
        if event is None:
            self._defer(context)
        return self.finish(event)

    def poke(self, context: Context) -> PokeReturnValue:
        """One lookup: done with the event payload when the outcome is final, else keep waiting."""
        event = self.check(context)
        if event is None:
            return PokeReturnValue(is_done=False)
        return PokeReturnValue(is_done=True, xcom_value=event.payload)

    def execute_complete(self, context: Context, event: object = None) -> dict[str, Any]:
        """Resume after deferral: validate the trigger's event and conclude like the other modes."""
        return self.finish(validate_trigger_event(event))

    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None, context: Context) -> Any:
        """As Airflow's, except that a failed or unknown outcome stays a failure under soft_fail."""
        try:
            return super().resume_execution(next_method, next_kwargs, context)
        except AirflowSkipException as skip:
            if isinstance(skip.__cause__, KrakenWaitFailed):
                raise skip.__cause__ from None
            raise

    def _defer(self, context: Context) -> NoReturn:
        trigger = self.trigger(end_time=time.time() + self.timeout, start=self.start(context))
        # The trigger enforces the deadline itself and reports a timeout event; Airflow's own
        # deferral timeout is only a backstop, a little later, for a trigger that never reports.
        backstop = self.timeout + max(60.0, 2 * self.poke_interval)
        self.defer(trigger=trigger, method_name="execute_complete", timeout=timedelta(seconds=backstop))

    # ------------------------------------------------------------------ outcome

    def finish(self, event: WaitEvent) -> dict[str, Any]:
        """The task's result for a final event: the record on success, otherwise an exception."""
        if event.status is EventStatus.SUCCESS:
            assert event.record is not None  # guaranteed by validate_trigger_event
            self.log.info("%s", event.message)
            return event.record
        if event.status is EventStatus.TIMEOUT:
            raise AirflowSensorTimeout(event.message)  # Airflow applies soft_fail, as in poke mode
        if event.status is EventStatus.ERROR:
            raise KrakenWaitError(event.message)
        raise KrakenWaitFailed(event.message)

    # ------------------------------------------------------------------ one lookup

    def check(self, context: Context) -> WaitEvent | None:
        """Look once: the final event, or None to keep waiting (transient trouble included).

        Parameters are checked first, so a bad one fails before any request, in every mode.
        """
        self.validate()
        start = self.start(context)
        try:
            verdict, record = self.lookup(start)
        except KrakenError as exc:
            if is_transient(exc):
                self.log.warning("Kraken status lookup failed, will look again: %s", exc)
                return None
            return WaitEvent(EventStatus.ERROR, f"Kraken status lookup failed for good: {exc}")
        if record is not None and start is None:
            self._learn_start(context, record)
        if verdict.is_final:
            return WaitEvent.from_verdict(verdict, record)
        self.log.info("Still waiting: %s", verdict.reason)
        return None

    def start(self, context: Context) -> int | None:
        """Where lookups begin: from ``since`` if given, else from the record once it was seen."""
        if self.since_start() is not None:
            return self.since_start()
        if self._learned_start is None:
            store = context.get("task_state_store")
            value = store.get(START_KEY) if store is not None else None
            self._learned_start = value if isinstance(value, int) else None
        return self._learned_start

    def _learn_start(self, context: Context, record: Transaction) -> None:
        self._learned_start = record.time
        store = context.get("task_state_store")
        if store is not None:
            store.set(START_KEY, record.time)

    def validate(self) -> None:
        """Check the rendered parameters; raise ``KrakenInputError`` naming the bad one."""
        raise NotImplementedError

    def since_start(self) -> int | None:
        """The lookup bound implied by ``since`` (None when not given)."""
        raise NotImplementedError

    def lookup(self, start: int | None) -> tuple[WaitVerdict, Transaction | None]:
        """One status lookup from ``start``, judged."""
        raise NotImplementedError

    def trigger(self, *, end_time: float, start: int | None) -> Any:
        """The trigger that continues this wait in the triggerer."""
        raise NotImplementedError


class KrakenWithdrawStatusSensor(_KrakenStatusSensor):
    """Wait until a withdrawal succeeds on Kraken; fail if it fails, is cancelled, or shows an unknown status.

    Keeps waiting (and logs why) while the withdrawal is ``Initial``, ``Pending``, ``Settled``,
    on hold, or has a cancellation pending. Returns the WithdrawStatus record as JSON.
    Kraken answers WithdrawStatus only with the "Funds permissions - Withdraw" permission.

    :param kraken_conn_id: Kraken connection id.
    :param asset: asset of the withdrawal (``doge``, ``XXDG``, ...).
    :param refid: the withdrawal's reference id (templated, e.g. from the withdraw task's XCom).
    :param since: optional time the withdrawal was requested at or after (unix seconds, datetime or
        ISO string); lookups start there instead of paging back through history.
    :param deferrable: wait in the triggerer (default ``[operators] default_deferrable``).
    """

    template_fields: Sequence[str] = ("kraken_conn_id", "asset", "refid", "since")

    def __init__(self, *, refid: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.refid = refid

    def validate(self) -> None:
        """A refid is required (an empty one usually means a template rendered nothing)."""
        if not isinstance(self.refid, str) or not self.refid.strip():
            raise KrakenInputError("refid", f"must name the withdrawal, got {self.refid!r}")
        start_bound(self.since)

    def since_start(self) -> int | None:
        """``since`` minus an allowance for clock skew: it only narrows the lookup."""
        bound = start_bound(self.since)
        return None if bound is None else max(bound - CLOCK_SKEW_SECONDS, 0)

    def lookup(self, start: int | None) -> tuple[WaitVerdict, Transaction | None]:
        """Read WithdrawStatus from ``start`` and judge the withdrawal ``refid``."""
        from airflow_provider_kraken.hooks.kraken import KrakenHook  # lazy: DAG parsing stays cheap

        hook = KrakenHook(kraken_conn_id=self.kraken_conn_id)
        try:
            records = hook.withdraw_status(asset=self.asset, start=start, max_records=HISTORY_LIMIT)
        finally:
            hook.close()
        return withdrawal_verdict(records, self.refid)

    def trigger(self, *, end_time: float, start: int | None) -> KrakenWithdrawalTrigger:
        """The withdrawal trigger for this wait."""
        from airflow_provider_kraken.triggers.funding import KrakenWithdrawalTrigger  # only when deferring

        return KrakenWithdrawalTrigger(
            kraken_conn_id=self.kraken_conn_id,
            asset=self.asset,
            refid=self.refid,
            end_time=end_time,
            start=start,
            poll_interval=self.poke_interval,
        )


class KrakenDepositStatusSensor(_KrakenStatusSensor):
    """Wait until a deposit reaches Kraken: by ``refid`` or ``txid``, or by method, address and amount.

    Succeeds on ``Success`` (every confirmation in), or already on ``Settled`` with
    ``settled_is_enough=True``. Fails if the deposit fails or shows an unknown status. Returns the
    DepositStatus record as JSON. Needs the API key's "Funds permissions - Query" permission.

    :param kraken_conn_id: Kraken connection id.
    :param asset: asset of the deposit.
    :param refid: Kraken's reference id of the deposit.
    :param txid: the deposit's blockchain transaction id.
    :param method: deposit method name (``Dogecoin``), when matching by criteria.
    :param address: the deposit address (Kraken's ``info``), when matching by criteria.
    :param min_amount: smallest ``amount`` that counts (decimal string or Decimal, never a float).
    :param since: only deposits at or after this time (unix seconds, datetime or ISO string; Kraken's
        clock); required when matching by criteria rather than refid/txid.
    :param settled_is_enough: accept ``Settled`` instead of waiting for ``Success``.
    :param deferrable: wait in the triggerer (default ``[operators] default_deferrable``).
    """

    template_fields: Sequence[str] = (
        "kraken_conn_id",
        "asset",
        "refid",
        "txid",
        "method",
        "address",
        "min_amount",
        "since",
    )

    def __init__(
        self,
        *,
        refid: str | None = None,
        txid: str | None = None,
        method: str | None = None,
        address: str | None = None,
        min_amount: object = None,
        settled_is_enough: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if min_amount is not None and not isinstance(min_amount, str):
            to_decimal(min_amount, "min_amount")  # refuse a float now; strings may be templates
        self.refid = refid
        self.txid = txid
        self.method = method
        self.address = address
        self.min_amount = min_amount
        self.settled_is_enough = settled_is_enough

    def match(self) -> DepositMatch:
        """The rendered criteria (validated when first used, after templating)."""
        return DepositMatch(
            refid=self.refid or None,
            txid=self.txid or None,
            method=self.method or None,
            address=self.address or None,
            min_amount=None if self.min_amount in (None, "") else to_decimal(self.min_amount, "min_amount"),
            since=start_bound(self.since),
        )

    def validate(self) -> None:
        """The criteria must identify a deposit (see :class:`DepositMatch`)."""
        self.match()

    def since_start(self) -> int | None:
        """``since`` itself: deposits before it never match."""
        return start_bound(self.since)

    def lookup(self, start: int | None) -> tuple[WaitVerdict, Transaction | None]:
        """Read DepositStatus from ``start`` and judge the matching deposits."""
        match = self.match()
        from airflow_provider_kraken.hooks.kraken import KrakenHook  # lazy: DAG parsing stays cheap

        hook = KrakenHook(kraken_conn_id=self.kraken_conn_id)
        try:
            records = hook.deposit_status(asset=self.asset, start=start, max_records=HISTORY_LIMIT)
        finally:
            hook.close()
        return deposit_verdict(records, match, settled_is_enough=self.settled_is_enough)

    def trigger(self, *, end_time: float, start: int | None) -> KrakenDepositTrigger:
        """The deposit trigger for this wait."""
        from airflow_provider_kraken.triggers.funding import KrakenDepositTrigger  # only when deferring

        return KrakenDepositTrigger(
            kraken_conn_id=self.kraken_conn_id,
            asset=self.asset,
            match=self.match().to_kwargs(),
            settled_is_enough=self.settled_is_enough,
            end_time=end_time,
            start=start,
            poll_interval=self.poke_interval,
        )
