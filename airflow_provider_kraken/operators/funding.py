"""Funding operators: withdraw exactly once, get a deposit address, cancel a withdrawal, sweep a balance.

Kraken's Withdraw has no client reference id, and Airflow retries tasks whose workers die or whose
answers get lost. These operators still book each intended withdrawal once: the intent is stored in
the task's ``task_state_store`` before sending, and a lost answer is reconciled through
WithdrawStatus instead of being sent again (see :mod:`airflow_provider_kraken.operators.once`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from enum import StrEnum
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator, conf
from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSkipException

from airflow_provider_kraken.amounts import format_amount, to_decimal, validate_amount
from airflow_provider_kraken.exceptions import (
    KrakenAPIError,
    KrakenConnectionConfigError,
    KrakenError,
    KrakenInputError,
    KrakenOutcomeUnknown,
)
from airflow_provider_kraken.models import DepositAddress, StatusProp, TransactionStatus, Withdrawal
from airflow_provider_kraken.operators.claims import ClaimRegistry, Owner
from airflow_provider_kraken.operators.intents import (
    Intent,
    IntentState,
    IntentStore,
    canonical_parameters,
    fingerprint,
    new_intent,
)
from airflow_provider_kraken.operators.once import (
    DepositAddressOnce,
    Outcome,
    ReconcilePolicy,
    WithdrawOnce,
    is_definitive,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_kraken.hooks.kraken import KrakenHook

WITHDRAW_INTENT_KEY = "kraken_withdraw_intent"
DEPOSIT_ADDRESS_INTENT_KEY = "kraken_deposit_address_intent"
CANCEL_INTENT_KEY = "kraken_withdraw_cancel_intent"
DEFAULT_GRACE = timedelta(minutes=2)
DEFAULT_SKEW = timedelta(minutes=1)
DEFAULT_WAIT_TIMEOUT = timedelta(hours=24)
#: How far before the send time a status lookup starts (Kraken's clock may differ from ours).
LOOKUP_SKEW_SECONDS = 300


def _default_deferrable() -> bool:
    return conf.getboolean("operators", "default_deferrable", fallback=False)


class _KrakenOperator(BaseOperator):
    """Shared plumbing: the hook (built on first use, never in the constructor) and input checks."""

    ui_color = "#e8e0f8"

    def __init__(self, *, kraken_conn_id: str = "kraken_default", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kraken_conn_id = kraken_conn_id

    @cached_property
    def hook(self) -> KrakenHook:
        """The Kraken hook of ``kraken_conn_id``."""
        from airflow_provider_kraken.hooks.kraken import KrakenHook

        return KrakenHook(kraken_conn_id=self.kraken_conn_id)

    def _checked(self, check: Any) -> Any:
        """Run a local check; a refused input fails the task without retries, before any request."""
        try:
            return check()
        except (KrakenInputError, KrakenConnectionConfigError, TypeError) as exc:
            raise AirflowFailException(f"{type(self).__name__}: {exc}") from exc
        except KrakenAPIError as exc:
            if is_definitive(exc):
                raise AirflowFailException(f"{type(self).__name__}: Kraken refused: {exc}") from exc
            raise

    def _owner(self, context: Context) -> Owner:
        ti = context["ti"]
        return Owner(ti.dag_id, ti.run_id, ti.task_id, ti.map_index if ti.map_index is not None else -1)


@dataclass(frozen=True)
class WithdrawalRequest:
    """A validated withdrawal: the operator ``parameters`` it came from and the ``request`` to send."""

    parameters: dict[str, object]
    asset_id: str
    key: str
    amount: Decimal
    address: str | None = None
    max_fee: Decimal | None = None

    @property
    def request(self) -> dict[str, object]:
        return {
            "asset": self.asset_id,
            "key": self.key,
            "amount": format_amount(self.amount.normalize()),
            "address": self.address,
            "max_fee": None if self.max_fee is None else format_amount(self.max_fee),
        }


class _WithdrawingOperator(_KrakenOperator):
    """Withdraws exactly once, then optionally waits for the withdrawal to reach a final state."""

    def __init__(
        self,
        *,
        wait_for_completion: bool = False,
        deferrable: bool | None = None,
        poll_interval: float = 30.0,
        wait_timeout: timedelta | float = DEFAULT_WAIT_TIMEOUT,
        resend_if_absent: bool = False,
        reconcile_grace: timedelta | float = DEFAULT_GRACE,
        reconcile_skew: timedelta | float = DEFAULT_SKEW,
        cancel_on_kill: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.wait_for_completion = wait_for_completion
        self.deferrable = _default_deferrable() if deferrable is None else deferrable
        self.poll_interval = poll_interval
        self.wait_timeout = wait_timeout
        self.resend_if_absent = resend_if_absent
        self.reconcile_grace = reconcile_grace
        self.reconcile_skew = reconcile_skew
        self.cancel_on_kill = cancel_on_kill
        self._refid: str | None = None
        self._asset_id: str | None = None

    # ------------------------------------------------------------------ the protocol

    def _withdraw_once(self, context: Context, fresh: WithdrawalRequest | None) -> Outcome[Withdrawal]:
        """Resume this task instance's withdrawal intent or start ``fresh`` (computed if None)."""
        once = self._protocol(context, fresh)
        parameters = fresh.parameters if fresh is not None else self._parameters()
        intent = once.resume(_fingerprint_of(parameters), _canonical(parameters))
        if intent is None:
            fresh = fresh or self._fresh_request()
            intent = new_intent(WithdrawOnce.kind, parameters, fresh.request)
        outcome = once.complete(intent)
        self._refid = outcome.result
        self._asset_id = str(outcome.intent.request["asset"])
        return outcome

    def _protocol(self, context: Context, request: WithdrawalRequest | None) -> WithdrawOnce:
        asset_id, key = self._destination(request)
        policy = self._checked(
            lambda: ReconcilePolicy.build(
                grace=self.reconcile_grace, skew=self.reconcile_skew, resend_if_absent=self.resend_if_absent
            )
        )
        return WithdrawOnce(
            self.hook,
            store=IntentStore(context["task_state_store"], WITHDRAW_INTENT_KEY),
            registry=ClaimRegistry(WithdrawOnce.kind, (asset_id, key), self._owner(context)),
            policy=policy,
            try_number=context["ti"].try_number,
            log=self.log,
            run_after=_run_after(context),
        )

    def _parameters(self) -> dict[str, object]:
        """The operator parameters an intent is bound to (a retry with other values is refused)."""
        raise NotImplementedError

    def _destination(self, request: WithdrawalRequest | None) -> tuple[str, str]:
        raise NotImplementedError

    def _fresh_request(self) -> WithdrawalRequest:
        raise NotImplementedError

    # ------------------------------------------------------------------ results

    def _result(self, outcome: Outcome[Withdrawal]) -> dict[str, Any]:
        """The XCom: request, Kraken's record (fee, status) when listed, and how the refid was learnt."""
        record = outcome.record or self._find(outcome.intent)
        result = withdrawal_result(outcome.intent, record)
        result["how"] = outcome.how
        return result

    def _find(self, intent: Intent) -> Withdrawal | None:
        """Best effort: the withdrawal's record (the refid is stored already, so a failed read is fine)."""
        refid = intent.result
        start = int((intent.sent_at or time.time()) - LOOKUP_SKEW_SECONDS)
        try:
            records = self.hook.withdraw_status(asset=str(intent.request["asset"]), start=start)
        except KrakenError as exc:
            self.log.warning("Could not read withdrawal %s's status yet (%s)", refid, exc)
            return None
        return next((r for r in records if r.refid == refid), None)

    def _publish_refid(self, context: Context, result: Mapping[str, Any]) -> None:
        """Push the refid (and the record so far) before waiting, so downstream tasks can see it."""
        ti = context["ti"]
        ti.xcom_push(key="refid", value=result["refid"])
        ti.xcom_push(key="withdrawal", value=dict(result))

    # ------------------------------------------------------------------ waiting

    def _finish(self, context: Context, outcome: Outcome[Withdrawal]) -> dict[str, Any]:
        result = self._result(outcome)
        self.log.info(
            "Withdrawal %s (%s): %s %s to key %s, fee %s, status %s",
            result["refid"],
            outcome.how,
            result["amount"],
            result["asset"],
            result["key"],
            result["fee"],
            result["status"],
        )
        self._publish_refid(context, result)
        if not self.wait_for_completion:
            return result
        return self._wait(context, outcome.intent, result)

    def _wait(self, context: Context, intent: Intent, result: dict[str, Any]) -> dict[str, Any]:
        from airflow_provider_kraken.triggers.funding import (
            HISTORY_LIMIT,
            KrakenWithdrawalTrigger,
            WaitEvent,
            WaitOutcome,
            withdrawal_verdict,
        )

        refid = str(intent.result)
        asset = str(intent.request["asset"])
        start = int((intent.sent_at or time.time()) - LOOKUP_SKEW_SECONDS)
        deadline = time.time() + _seconds(self.wait_timeout)
        said = ""
        while True:
            records = self.hook.withdraw_status(asset=asset, start=start, max_records=HISTORY_LIMIT)
            verdict, record = withdrawal_verdict(records, refid)
            if verdict.is_final:
                event = WaitEvent.from_verdict(verdict, record)
                return self._conclude(intent, event.status.value, event.message, record)
            if verdict.outcome is WaitOutcome.WAITING and verdict.reason != said:
                self.log.info("Waiting for withdrawal %s: %s", refid, verdict.reason)
                said = verdict.reason
            if self.deferrable:
                self.defer(
                    trigger=KrakenWithdrawalTrigger(
                        kraken_conn_id=self.kraken_conn_id,
                        asset=asset,
                        refid=refid,
                        end_time=deadline,
                        start=start,
                        poll_interval=self.poll_interval,
                    ),
                    method_name="execute_complete",
                    # The trigger reports the deadline itself; this is only a backstop.
                    timeout=timedelta(
                        seconds=_seconds(self.wait_timeout) + max(60.0, 2 * self.poll_interval)
                    ),
                )
            if time.time() + self.poll_interval > deadline:
                return self._conclude(intent, "timeout", f"withdrawal {refid} not final in time", record)
            time.sleep(self.poll_interval)

    def execute_complete(self, context: Context, event: Any = None) -> dict[str, Any]:
        """Resume after the trigger: everything needed comes from the stored intent and the event."""
        from airflow_provider_kraken.triggers.funding import validate_trigger_event

        checked = validate_trigger_event(event)
        intent = IntentStore(context["task_state_store"], WITHDRAW_INTENT_KEY).load()
        if intent is None or intent.state is not IntentState.DONE or intent.result is None:
            raise AirflowFailException("Kraken wait resumed but this task has no completed withdrawal intent")
        self._refid, self._asset_id = intent.result, str(intent.request["asset"])
        record = None if checked.record is None else Withdrawal.model_validate(checked.record)
        return self._conclude(intent, checked.status.value, checked.message, record)

    def _conclude(
        self, intent: Intent, status: str, message: str, record: Withdrawal | None
    ) -> dict[str, Any]:
        """The task's result once the wait is over: the final record, or the sensors' exceptions."""
        from airflow_provider_kraken.triggers.funding import KrakenWaitError, KrakenWaitFailed

        if status == "success":
            self.log.info("Withdrawal %s completed: %s", intent.result, message)
            return withdrawal_result(intent, record) | {"how": intent.note}
        if status == "timeout":
            # A retry sends nothing (the refid is stored) and resumes waiting.
            raise AirflowException(f"Kraken wait timed out: {message}; the withdrawal was NOT cancelled")
        if status == "error":
            raise KrakenWaitError(
                f"Kraken wait for withdrawal {intent.result} could not read its status: {message}"
            )
        raise KrakenWaitFailed(f"Kraken withdrawal {intent.result} did not complete ({status}): {message}")

    def on_kill(self) -> None:
        """Never cancels a withdrawal unless ``cancel_on_kill=True`` (a cancel also moves money)."""
        if not self.cancel_on_kill or self._refid is None or self._asset_id is None:
            if self._refid is not None:
                self.log.warning("Task killed; withdrawal %s keeps going (cancel_on_kill=False)", self._refid)
            return
        try:
            accepted = self.hook.withdraw_cancel(asset=self._asset_id, refid=self._refid)
            self.log.warning("Task killed; asked Kraken to cancel withdrawal %s: %s", self._refid, accepted)
        except Exception as exc:  # noqa: BLE001 - on_kill must never raise
            self.log.error("Task killed; cancelling withdrawal %s failed: %s", self._refid, exc)


class KrakenWithdrawOperator(_WithdrawingOperator):
    """Withdraw ``amount`` (fee included) of ``asset`` to the withdraw key ``key``, exactly once.

    Every input is checked locally first. The intent is stored in the task state store before
    sending; a retry, a Clear or a lost answer never sends a second withdrawal: it returns the
    stored refid or finds the withdrawal through WithdrawStatus (see the exactly-once docs).

    :param kraken_conn_id: Kraken connection id.
    :param asset: asset id, altname or ticker (``XXDG``, ``XDG``, ``doge``). Templated.
    :param key: name of a withdraw key (approved address) on the account. Templated.
    :param amount: amount to withdraw, fee included, as a decimal string or ``Decimal``; a float
        (e.g. from an XCom) is refused. Templated.
    :param address: optional address that must match the key's address. Templated.
    :param max_fee: refuse the withdrawal if Kraken's fee would exceed this. Templated.
    :param wait_for_completion: after sending, wait for Kraken's final status (Success/Failure).
    :param deferrable: wait in the triggerer instead of polling on the worker.
    :param poll_interval: seconds between status checks while waiting.
    :param wait_timeout: how long to wait for a final status (timedelta or seconds).
    :param resend_if_absent: after a lost answer, send again when reconciliation proves no
        withdrawal was made; by default the task fails and leaves that decision to a human.
    :param reconcile_grace: how long after sending a withdrawal may take to be listed.
    :param reconcile_skew: allowed difference between this machine's clock and Kraken's.
    :param cancel_on_kill: ask Kraken to cancel the withdrawal if the task is killed while waiting.
    """

    template_fields: Sequence[str] = ("asset", "key", "amount", "address", "max_fee")

    def __init__(
        self,
        *,
        kraken_conn_id: str = "kraken_default",
        asset: str,
        key: str,
        amount: str | Decimal,
        address: str | None = None,
        max_fee: str | Decimal | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(kraken_conn_id=kraken_conn_id, **kwargs)
        self.asset = asset
        self.key = key
        self.amount = amount
        self.address = address
        self.max_fee = max_fee

    def execute(self, context: Context) -> dict[str, Any]:
        """Validate, withdraw exactly once (send, resume or reconcile), push the refid, maybe wait."""
        request = self._fresh_request()
        outcome = self._withdraw_once(context, request)
        return self._finish(context, outcome)

    def _fresh_request(self) -> WithdrawalRequest:
        return self._checked(self._validate)  # type: ignore[no-any-return]

    def _validate(self) -> WithdrawalRequest:
        info = self.hook.asset_info(self.asset)
        amount = validate_amount(self.amount, "amount", info.decimals)
        max_fee = None if self.max_fee is None else to_decimal(self.max_fee, "max_fee")
        address = None if self.address is None else _text(self.address, "address")
        key = _text(self.key, "key")
        parameters = {
            "asset": info.asset_id,
            "key": key,
            "amount": amount,
            "address": address,
            "max_fee": max_fee,
        }
        return WithdrawalRequest(parameters, info.asset_id, key, amount, address, max_fee)

    def _parameters(self) -> dict[str, object]:
        return self._fresh_request().parameters

    def _destination(self, request: WithdrawalRequest | None) -> tuple[str, str]:
        request = request or self._fresh_request()
        return request.asset_id, request.key


class KrakenSweepOperator(_WithdrawingOperator):
    """Withdraw what sits above ``reserve`` of ``asset`` to ``key``, exactly once; skip if not worth it.

    The amount is what BalanceEx says is available (balance + credit - credit_used - hold_trade)
    minus ``reserve``, capped at WithdrawInfo's limit. The task is skipped (with a log line saying
    why) when that is not above the fee, below the method's minimum or below ``min_amount``. The
    amount is fixed in the intent on the first try, so retries reconcile that same withdrawal.

    :param reserve: amount to leave on Kraken (decimal string or ``Decimal``). Templated.
    :param min_amount: skip unless at least this much would be withdrawn. Templated.

    The other parameters are those of :class:`KrakenWithdrawOperator`.
    """

    template_fields: Sequence[str] = ("asset", "key", "reserve", "min_amount", "address", "max_fee")

    def __init__(
        self,
        *,
        kraken_conn_id: str = "kraken_default",
        asset: str,
        key: str,
        reserve: str | Decimal,
        min_amount: str | Decimal | None = None,
        address: str | None = None,
        max_fee: str | Decimal | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(kraken_conn_id=kraken_conn_id, **kwargs)
        self.asset = asset
        self.key = key
        self.reserve = reserve
        self.min_amount = min_amount
        self.address = address
        self.max_fee = max_fee

    def execute(self, context: Context) -> dict[str, Any]:
        """Resume an earlier try's sweep, or size a new one (skip if not worth it); withdraw once."""
        outcome = self._withdraw_once(context, None)
        return self._finish(context, outcome)

    def _parameters(self) -> dict[str, object]:
        return self._checked(self._validated_parameters)  # type: ignore[no-any-return]

    def _validated_parameters(self) -> dict[str, object]:
        info = self.hook.asset_info(self.asset)
        reserve = to_decimal(self.reserve, "reserve")
        if reserve < 0:
            raise KrakenInputError("reserve", "must not be negative")
        min_amount = None if self.min_amount is None else validate_amount(self.min_amount, "min_amount")
        return {
            "asset": info.asset_id,
            "key": _text(self.key, "key"),
            "reserve": reserve,
            "min_amount": min_amount,
            "address": None if self.address is None else _text(self.address, "address"),
            "max_fee": None if self.max_fee is None else to_decimal(self.max_fee, "max_fee"),
        }

    def _destination(self, request: WithdrawalRequest | None) -> tuple[str, str]:
        parameters = self._parameters()
        return str(parameters["asset"]), str(parameters["key"])

    def _fresh_request(self) -> WithdrawalRequest:
        return self._checked(self._size)  # type: ignore[no-any-return]

    def _size(self) -> WithdrawalRequest:
        parameters = self._validated_parameters()
        asset_id, key = str(parameters["asset"]), str(parameters["key"])
        reserve = parameters["reserve"]
        min_amount = parameters["min_amount"]
        assert isinstance(reserve, Decimal)
        balance = self.hook.balance_ex().get(asset_id)
        available = balance.available if balance is not None else Decimal(0)
        amount = available - reserve
        what = f"{asset_id}: available {format_amount(available)}, reserve {format_amount(reserve)}"
        if amount <= 0:
            self._skip(f"{what}: nothing above the reserve")
        minimum = self._method_minimum(asset_id, key)
        if minimum is not None and amount < minimum:
            self._skip(
                f"{what}: {format_amount(amount)} is below the method minimum {format_amount(minimum)}"
            )
        if isinstance(min_amount, Decimal) and amount < min_amount:
            self._skip(f"{what}: {format_amount(amount)} is below min_amount {format_amount(min_amount)}")
        info = self.hook.withdraw_info(asset=asset_id, key=key, amount=amount)
        if amount > info.limit:
            self.log.info(
                "Sweep capped at Kraken's withdraw limit %s (wanted %s)",
                format_amount(info.limit),
                format_amount(amount),
            )
            amount = info.limit
        if amount <= info.fee:
            self._skip(f"{what}: {format_amount(amount)} does not cover the fee {format_amount(info.fee)}")
        self.log.info("Sweeping %s %s to key %s (fee %s)", format_amount(amount), asset_id, key, info.fee)
        max_fee = parameters["max_fee"]
        address = parameters["address"]
        return WithdrawalRequest(
            parameters,
            asset_id,
            key,
            amount,
            None if address is None else str(address),
            max_fee if isinstance(max_fee, Decimal) else None,
        )

    def _method_minimum(self, asset_id: str, key: str) -> Decimal | None:
        keys = self.hook.withdraw_addresses(asset=asset_id, key=key)
        if not keys:
            raise KrakenInputError("key", f"no withdraw key {key!r} for {asset_id} on this account")
        methods = self.hook.withdraw_methods(asset=asset_id)
        return next((m.minimum for m in methods if m.method == keys[0].method), None)

    def _skip(self, reason: str) -> None:
        self.log.info("Nothing worth sweeping, skipping: %s", reason)
        raise AirflowSkipException(f"Nothing worth sweeping: {reason}")


class KrakenDepositAddressOperator(_KrakenOperator):
    """Return a deposit address of ``asset`` for ``method``; with ``new=True`` create one, exactly once.

    ``new=True`` is not idempotent on Kraken: the intent (with the addresses listed before) is
    stored first, and a retry after a lost answer adopts the one address that appeared since
    instead of creating another. XCom: ``{"asset", "method", "address", "expiretm", "tag"?, "memo"?,
    "new", "how"}``.
    """

    template_fields: Sequence[str] = ("asset", "method")

    def __init__(
        self,
        *,
        kraken_conn_id: str = "kraken_default",
        asset: str,
        method: str,
        new: bool = False,
        resend_if_absent: bool = False,
        reconcile_grace: timedelta | float = DEFAULT_GRACE,
        reconcile_skew: timedelta | float = DEFAULT_SKEW,
        **kwargs: Any,
    ) -> None:
        super().__init__(kraken_conn_id=kraken_conn_id, **kwargs)
        self.asset = asset
        self.method = method
        self.new = new
        self.resend_if_absent = resend_if_absent
        self.reconcile_grace = reconcile_grace
        self.reconcile_skew = reconcile_skew

    def execute(self, context: Context) -> dict[str, Any]:
        """List (``new=False``) or create exactly once (``new=True``) and return the address record."""
        asset_id, method = self._checked(
            lambda: (self.hook.asset_info(self.asset).asset_id, _text(self.method, "method"))
        )
        if not self.new:
            listed = self._checked(lambda: self.hook.deposit_addresses(asset=asset_id, method=method))
            if not listed:
                raise AirflowFailException(
                    f"Kraken lists no {asset_id} deposit address for {method!r}; use new=True to create one"
                )
            return address_result(asset_id, method, listed[0], "listed")
        parameters = {"asset": asset_id, "method": method}
        once = DepositAddressOnce(
            self.hook,
            store=IntentStore(context["task_state_store"], DEPOSIT_ADDRESS_INTENT_KEY),
            registry=ClaimRegistry(DepositAddressOnce.kind, (asset_id, method), self._owner(context)),
            policy=self._checked(
                lambda: ReconcilePolicy.build(
                    grace=self.reconcile_grace,
                    skew=self.reconcile_skew,
                    resend_if_absent=self.resend_if_absent,
                )
            ),
            try_number=context["ti"].try_number,
            log=self.log,
        )
        intent = once.resume(_fingerprint_of(parameters, DepositAddressOnce.kind), _canonical(parameters))
        outcome = once.complete(intent or new_intent(DepositAddressOnce.kind, parameters, parameters))
        record = outcome.record or self._find(asset_id, method, outcome.result)
        self.log.info("Deposit address of %s (%s): %s (%s)", asset_id, method, outcome.result, outcome.how)
        return address_result(asset_id, method, record or DepositAddress(address=outcome.result), outcome.how)

    def _find(self, asset_id: str, method: str, address: str) -> DepositAddress | None:
        try:
            listed = self.hook.deposit_addresses(asset=asset_id, method=method)
        except KrakenError as exc:
            self.log.warning("Could not list deposit addresses to describe %s (%s)", address, exc)
            return None
        return next((a for a in listed if a.address == address), None)


class CancelState(StrEnum):
    """Where a withdrawal stands after a cancel request."""

    CANCEL_PENDING = "cancel-pending"  # Kraken accepted the cancel; the withdrawal is not final yet
    CANCELED = "canceled"  # Failure + canceled: the money did not move
    TOO_LATE = "too-late"  # already processed, or the cancel was denied: the money moves
    FAILED = "failed"  # the withdrawal failed for another reason: nothing left to cancel


class KrakenWithdrawCancelOperator(_KrakenOperator):
    """Ask Kraken to cancel withdrawal ``refid`` and report where it stands; never re-sends blindly.

    The cancel request is recorded before sending; if its answer is lost, WithdrawStatus tells
    whether it took effect (``cancel-pending``/``canceled``), or that it is too late. A cancel whose
    effect never shows is not sent again unless ``resend_if_absent=True``.

    :param refid: the withdrawal's reference id. Templated.
    :param fail_if_too_late: fail the task when the withdrawal can no longer be cancelled
        (default); with False the task succeeds and reports ``too-late``.

    XCom: ``{"refid", "asset", "state", "status", "status_prop", "how"}``.
    """

    template_fields: Sequence[str] = ("asset", "refid")

    def __init__(
        self,
        *,
        kraken_conn_id: str = "kraken_default",
        asset: str,
        refid: str,
        fail_if_too_late: bool = True,
        resend_if_absent: bool = False,
        reconcile_grace: timedelta | float = timedelta(seconds=30),
        **kwargs: Any,
    ) -> None:
        super().__init__(kraken_conn_id=kraken_conn_id, **kwargs)
        self.asset = asset
        self.refid = refid
        self.fail_if_too_late = fail_if_too_late
        self.resend_if_absent = resend_if_absent
        self.reconcile_grace = reconcile_grace

    def execute(self, context: Context) -> dict[str, Any]:
        """Send the cancel once (or learn what an earlier try's cancel did) and report the state."""
        asset_id, refid = self._checked(
            lambda: (self.hook.asset_info(self.asset).asset_id, _text(self.refid, "refid"))
        )
        store = IntentStore(context["task_state_store"], CANCEL_INTENT_KEY)
        parameters = {"asset": asset_id, "refid": refid}
        intent = store.load()
        if intent is not None and intent.fingerprint != _fingerprint_of(parameters, "withdraw_cancel"):
            raise AirflowFailException(
                "Kraken withdraw_cancel: parameters changed since an earlier try ("
                + "; ".join(intent.changes_from(_canonical(parameters)))
                + "); nothing sent"
            )
        intent = intent or new_intent("withdraw_cancel", parameters, parameters)
        if intent.state is IntentState.DONE:
            self.log.info("An earlier try already cancelled %s (%s): reading its status", refid, intent.note)
            record = self._record(asset_id, refid)
            state, how = cancel_state(record, accepted=True) or CancelState.CANCEL_PENDING, "stored"
        elif intent.state is IntentState.SENDING:
            self.log.warning(
                "An earlier try sent this cancel and its answer was not recorded: reading the status"
            )
            state, record, how = self._reconcile(store, intent)
        else:
            state, record, how = self._send(store, intent)
        return self._report(refid, asset_id, state, record, how)

    def _send(self, store: IntentStore, intent: Intent) -> tuple[CancelState, Withdrawal | None, str]:
        asset_id, refid = str(intent.request["asset"]), str(intent.request["refid"])
        intent = store.save(intent.sending())
        try:
            accepted = self.hook.withdraw_cancel(asset=asset_id, refid=refid)
        except KrakenOutcomeUnknown as exc:
            self.log.warning("Cancel answer lost (%s): reading the withdrawal's status instead", exc.cause)
            return self._reconcile(store, intent)
        except KrakenAPIError as exc:
            store.save(intent.unsent(exc.code))
            record = self._record(asset_id, refid)
            if record is None:
                raise AirflowFailException(
                    f"Kraken refused to cancel {refid} ({', '.join(exc.codes)}) and lists no such withdrawal"
                ) from exc
            self.log.info(
                "Kraken refused the cancel (%s); withdrawal %s is %s", exc.code, refid, record.status
            )
            state = cancel_state(record, accepted=False)
            if state is None:
                if is_definitive(exc):
                    raise AirflowFailException(
                        f"Kraken refused to cancel {refid}: {', '.join(exc.codes)}"
                    ) from exc
                raise
            return state, record, "refused"
        store.save(intent.done(refid, note="accepted" if accepted else "not accepted"))
        record = self._record(asset_id, refid)
        return cancel_state(record, accepted=accepted) or CancelState.CANCEL_PENDING, record, "received"

    def _reconcile(self, store: IntentStore, intent: Intent) -> tuple[CancelState, Withdrawal | None, str]:
        asset_id, refid = str(intent.request["asset"]), str(intent.request["refid"])
        deadline = (intent.sent_at or time.time()) + _seconds(self.reconcile_grace)
        while True:
            record = self._record(asset_id, refid)
            if record is None:
                raise AirflowFailException(
                    f"Kraken lists no withdrawal {refid} of {asset_id}; cannot tell the cancel's fate"
                )
            state = cancel_state(record, accepted=False)
            if state is not None:
                store.save(intent.done(refid, note=f"reconciled: {state.value}"))
                return state, record, "adopted"
            if time.time() >= deadline:
                break
            time.sleep(min(2.0, max(0.0, deadline - time.time())))
        if self.resend_if_absent:
            self.log.warning(
                "No sign of the lost cancel on %s: sending it again (resend_if_absent=True)", refid
            )
            return self._send(store, intent)
        raise AirflowFailException(
            f"Kraken cancel OUTCOME UNKNOWN: the answer to cancelling {refid} was lost and the withdrawal "
            f"still shows {record.status} with no cancellation. Not sending a second cancel blindly: "
            "check Kraken, then clear this task with resend_if_absent=True to cancel again."
        )

    def _record(self, asset_id: str, refid: str) -> Withdrawal | None:
        records = self.hook.withdraw_status(asset=asset_id, max_records=1000)
        return next((r for r in records if r.refid == refid), None)

    def _report(
        self, refid: str, asset_id: str, state: CancelState, record: Withdrawal | None, how: str
    ) -> dict[str, Any]:
        result = {
            "refid": refid,
            "asset": asset_id,
            "state": state.value,
            "status": None if record is None else record.status.value,
            "status_prop": None if record is None or record.status_prop is None else record.status_prop.value,
            "how": how,
        }
        self.log.info("Cancel of withdrawal %s: %s (%s)", refid, state.value, how)
        if state is CancelState.TOO_LATE and self.fail_if_too_late:
            raise AirflowFailException(
                f"Withdrawal {refid} can no longer be cancelled (status {result['status']}, "
                f"{result['status_prop']}): the money moves. Set fail_if_too_late=False to report instead."
            )
        return result


def cancel_state(record: Withdrawal | None, *, accepted: bool) -> CancelState | None:
    """Where a withdrawal stands for a cancel; None when the record shows no effect of a cancel yet."""
    if record is None:
        return CancelState.CANCEL_PENDING if accepted else None
    prop = record.status_prop
    if record.is_cancelled:
        return CancelState.CANCELED
    if record.status is TransactionStatus.FAILURE:
        return CancelState.FAILED
    if prop is StatusProp.CANCEL_PENDING:
        return CancelState.CANCEL_PENDING
    if prop in (StatusProp.CANCEL_DENIED, StatusProp.RETURN):
        return CancelState.TOO_LATE
    if record.status in (TransactionStatus.PENDING, TransactionStatus.SETTLED, TransactionStatus.SUCCESS):
        return CancelState.TOO_LATE
    return CancelState.CANCEL_PENDING if accepted else None


def withdrawal_result(intent: Intent, record: Withdrawal | None) -> dict[str, Any]:
    """The withdraw XCom: the request as sent plus Kraken's record; amounts are decimal strings."""
    request = intent.request
    return {
        "refid": intent.result,
        "asset": request["asset"],
        "key": request["key"],
        "amount": request["amount"],
        "net_amount": None if record is None else format_amount(record.amount),
        "fee": None if record is None or record.fee is None else format_amount(record.fee),
        "status": None if record is None else record.status.value,
        "status_prop": None if record is None or record.status_prop is None else record.status_prop.value,
        "time": None if record is None else record.time,
        "sent_at": intent.sent_at,
    }


def address_result(asset_id: str, method: str, record: DepositAddress, how: str) -> dict[str, Any]:
    """The deposit-address XCom; ``tag``/``memo`` only where Kraken gives them."""
    result: dict[str, Any] = {
        "asset": asset_id,
        "method": method,
        "address": record.address,
        "expiretm": record.expiretm,
        "new": record.new,
        "how": how,
    }
    if record.tag is not None:
        result["tag"] = record.tag
    if record.memo is not None:
        result["memo"] = record.memo
    return result


def _text(value: object, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise KrakenInputError(name, f"must be a non-empty string, got {value!r}")
    return value


def _canonical(parameters: Mapping[str, object]) -> dict[str, str | None]:
    return canonical_parameters(parameters)


def _fingerprint_of(parameters: Mapping[str, object], kind: str = WithdrawOnce.kind) -> str:
    return fingerprint(kind, canonical_parameters(parameters))


def _run_after(context: Context) -> float | None:
    """When the DAG run became due: no try of it can have sent anything before."""
    dag_run = context.get("dag_run")
    run_after = getattr(dag_run, "run_after", None)
    return None if run_after is None else float(run_after.timestamp())


def _seconds(value: timedelta | float) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)
