"""The exactly-once protocol for requests Kraken cannot deduplicate (Withdraw, DepositAddresses new=true).

1. Read this task instance's stored intent. ``done``: send nothing, return its result. ``sending``:
   a previous try may have sent, so reconcile. Parameters changed since: fail, send nothing.
   No intent: recover it from the claims registry if this task instance ever published one
   (``[state_store] clear_on_success``, a wiped or expired store) before sending anything.
2. Otherwise store ``sending`` (parameters, time) and publish it in the registry, then send once.
3. Answer received: store ``done`` with the result before anything else.
4. Answer lost: reconcile (Kraken first, registry second). One unclaimed match: adopt it. None
   after the grace period: fail without retry, unless ``resend_if_absent``. Several, or another
   unresolved intent could own the match: fail for a human; never guess.
5. Definitive Kraken rejections fail without retry and keep Kraken's raw code.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from decimal import Decimal
from logging import Logger
from typing import Any, Generic, TypeVar

from airflow.sdk.exceptions import AirflowException, AirflowFailException

from airflow_provider_kraken.exceptions import (
    KrakenAPIError,
    KrakenInputError,
    KrakenOutcomeUnknown,
    KrakenTransportError,
)
from airflow_provider_kraken.models import DepositAddress, Withdrawal
from airflow_provider_kraken.operators.claims import ClaimRegistry, Entry, RegistryError
from airflow_provider_kraken.operators.intents import Intent, IntentState, IntentStore
from airflow_provider_kraken.operators.reconcile import (
    Finding,
    Reconciliation,
    WithdrawalMatch,
    describe_each,
    describe_rivals,
    reconcile_address,
    reconcile_withdrawal,
)

R = TypeVar("R")

#: Kraken errors that mean "refused for good": retrying the same request cannot help.
DEFINITIVE_PREFIXES = (
    "EFunding:",
    "EGeneral:Permission denied",
    "EGeneral:Invalid arguments",
    "EAPI:Invalid key",
    "EAPI:Invalid signature",
    "EAPI:Bad request",
    "EAPI:Feature disabled",
    "EQuery:",
)
#: Most sends one intent may make in total, re-sends after proven absence included.
MAX_SENDS = 3


def is_definitive(error: KrakenAPIError) -> bool:
    """True when Kraken refused the request for good (a retry would be refused the same way)."""
    return any(code.startswith(DEFINITIVE_PREFIXES) for code in error.codes)


class KrakenRequestRefused(AirflowException):
    """Kraken refused the request before executing it for a reason that may clear (retry is safe)."""


@dataclass(frozen=True)
class ReconcilePolicy:
    """How long and how widely to look for the result of a request whose answer was lost.

    ``grace``: the longest a request may take to be listed by Kraken after it was sent; absence
    is only concluded after it. ``skew``: allowed difference between this machine's clock and
    Kraken's timestamps. ``resend_if_absent``: send again when reconciliation proves absence.
    """

    grace: float = 120.0
    skew: float = 60.0
    resend_if_absent: bool = False

    @classmethod
    def build(
        cls, *, grace: timedelta | float, skew: timedelta | float, resend_if_absent: bool
    ) -> ReconcilePolicy:
        """Validate user parameters (seconds or timedeltas) into a policy."""
        policy = cls(
            _seconds(grace, "reconcile_grace"), _seconds(skew, "reconcile_skew"), bool(resend_if_absent)
        )
        if policy.grace + 2 * policy.skew > 86400:
            raise KrakenInputError(
                "reconcile_grace", "reconcile_grace + 2 * reconcile_skew must stay within a day"
            )
        return policy

    def window(self, sent_at: float) -> tuple[float, float]:
        """Kraken times at which a request sent at ``sent_at`` may have executed."""
        return (sent_at - self.skew, sent_at + self.grace + self.skew)

    @property
    def poll_interval(self) -> float:
        """Pause between two looks while waiting for the grace period to pass."""
        return max(0.5, min(10.0, self.grace / 6))


def _seconds(value: timedelta | float, name: str) -> float:
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        raise KrakenInputError(
            name, f"must be a non-negative number of seconds or a timedelta, got {value!r}"
        )
    return float(seconds)


@dataclass(frozen=True)
class Outcome(Generic[R]):
    """The result of one exactly-once request: Kraken's reference and how it was learnt.

    ``how`` is ``received`` (answer read), ``adopted`` (found by reconciliation) or ``stored``
    (an earlier try already knew it: nothing was sent now). ``record`` is the Kraken record when
    this try read one.
    """

    result: str
    how: str
    intent: Intent
    record: R | None = None


class SendOnce(ABC, Generic[R]):
    """Runs the protocol for one task instance; subclasses say how to send, read and match."""

    kind: str

    def __init__(
        self,
        *,
        store: IntentStore,
        registry: ClaimRegistry,
        policy: ReconcilePolicy,
        try_number: int,
        log: Logger,
        run_after: float | None = None,
    ) -> None:
        self.store = store
        self.registry = registry
        self.policy = policy
        self.try_number = try_number
        self.log = log
        self.run_after = run_after

    # ------------------------------------------------------------------ steps

    def resume(self, fingerprint: str, parameters: Mapping[str, str | None]) -> Intent | None:
        """Step 1: the intent an earlier try left (store, else registry), checked against the parameters."""
        intent = self._load()
        if intent is None:
            intent = self._recover()
        if intent is not None and intent.fingerprint != fingerprint:
            changes = "; ".join(intent.changes_from(parameters))
            raise AirflowFailException(
                f"Kraken {self.kind}: the parameters changed since an earlier try of this task instance "
                f"({intent.state.value}, sent at {intent.sent_at}) - {changes}. Nothing was sent. If the "
                "earlier request must be replaced, check Kraken first, then run a new DAG run."
            )
        return intent

    def complete(self, intent: Intent) -> Outcome[R]:
        """Steps 2-5 for a resumed or fresh intent."""
        if intent.state is IntentState.DONE and intent.result is not None:
            self.log.info(
                "Kraken %s already done by an earlier try: %s; nothing sent", self.kind, intent.result
            )
            self._publish(intent)  # repairs an entry an interrupted try left at ``sending``
            return Outcome(intent.result, "stored", intent)
        if intent.state is IntentState.UNSENT and intent.sends == 0 and self.try_number > 1:
            self._refuse_if_untracked_traces(intent)
        if intent.state is IntentState.SENDING:
            self.log.warning(
                "An earlier try of this task sent a Kraken %s at %s and its outcome was not recorded: "
                "reconciling before anything else",
                self.kind,
                intent.sent_at,
            )
            return self._reconcile(intent)
        return self._send(intent)

    # ------------------------------------------------------------------ what subclasses provide

    @abstractmethod
    def before_send(self, intent: Intent) -> dict[str, Any]:
        """What reconciliation will need to know about the state before sending (stored with the intent)."""

    @abstractmethod
    def send_request(self, intent: Intent) -> tuple[str, R | None]:
        """Send the request once; return Kraken's reference and its record if the answer has it."""

    @abstractmethod
    def look(self, intent: Intent) -> Reconciliation[R]:
        """Read Kraken, then the registry, and judge what the intent's request produced."""

    def untracked(self, intent: Intent, since: float) -> Sequence[R]:
        """Records since ``since`` that this request may have produced and nobody claims (if knowable)."""
        return ()

    @abstractmethod
    def result_of(self, record: R) -> str:
        """Kraken's reference of a record (refid, address)."""

    @abstractmethod
    def describe(self, intent: Intent) -> str:
        """The request in words, for messages."""

    # ------------------------------------------------------------------ protocol

    def _load(self) -> Intent | None:
        try:
            return self.store.load()
        except ValueError as exc:
            raise AirflowFailException(
                f"Kraken {self.kind}: the stored intent {self.store.key!r} is unreadable ({exc}); "
                "refusing to guess whether anything was sent"
            ) from None

    def _recover(self) -> Intent | None:
        """Guard for a wiped state store: this task instance's registry entry, if it ever published one.

        The store is empty on a first try, but also after ``[state_store] clear_on_success``, a
        manual delete of the task's state or its expiry; the registry survives all of these.
        """
        entry = self._registry_call(self.registry.own)
        if entry is None:
            if self.try_number > 1:
                self.log.info(
                    "Try %d: no stored intent and no registry entry, so no earlier try sent a %s",
                    self.try_number,
                    self.kind,
                )
            return None
        self.log.warning(
            "Try %d found no stored intent, but the claims registry shows this task instance's %s "
            "(%s, %s): the task state store was cleared ([state_store] clear_on_success, a manual "
            "delete or expiry); continuing from the registry instead of sending again",
            self.try_number,
            self.kind,
            entry.state.value,
            entry.result or "no result yet",
        )
        intent = Intent(
            kind=self.kind,
            fingerprint=entry.fingerprint,
            parameters=dict(entry.parameters),
            request=dict(entry.request),
            state=entry.state,
            sent_at=entry.sent_at,
            result=entry.result,
            sends=1,
        )
        return self.store.save(intent)

    def _refuse_if_untracked_traces(self, intent: Intent) -> None:
        """Last guard: an earlier try ran, yet neither the store nor the registry knows of a send.

        Every send is recorded first, so normally nothing was sent. But if both records were
        wiped, an earlier withdrawal would look unsent: refuse while Kraken lists one nobody claims.
        """
        since = (self.run_after or time.time()) - self.policy.skew
        traces = self._registry_call(lambda: self.untracked(intent, since))
        if traces:
            raise AirflowFailException(
                f"Kraken {self.kind}: try {self.try_number} of this task instance finds no record of an "
                f"earlier send, yet Kraken lists {describe_each(traces, self.result_of)} to this "
                "destination since the run began, claimed by no task. Refusing to send: if one of them "
                "is this task's, nothing more is needed; if none is, trigger a new DAG run."
            )

    def _send(self, intent: Intent) -> Outcome[R]:
        previous = intent.sent_at
        intent = self.store.save(intent.sending(context=self.before_send(intent)))
        self._publish(intent, previous_sent_at=previous)
        self.log.info("Sending Kraken %s (send %d): %s", self.kind, intent.sends, self.describe(intent))
        try:
            result, record = self.send_request(intent)
        except KrakenOutcomeUnknown as exc:
            self.log.warning("Kraken %s outcome unknown (%s): reconciling", self.kind, exc.cause)
            return self._reconcile(intent)
        except KrakenAPIError as exc:
            if exc.ambiguous:  # the hook reports these as unknown outcomes; never assume otherwise
                return self._reconcile(intent)
            self._mark_unsent(intent, exc.code)
            if is_definitive(exc):
                raise AirflowFailException(
                    f"Kraken refused the {self.kind} ({', '.join(exc.codes)}): {self.describe(intent)}. "
                    "Nothing was executed; retrying cannot help until the cause is fixed."
                ) from exc
            raise KrakenRequestRefused(
                f"Kraken refused the {self.kind} before executing it ({', '.join(exc.codes)}); "
                "a retry may send it again"
            ) from exc
        except KrakenTransportError as exc:
            if exc.sent:
                self.log.warning("Kraken %s outcome unknown (%s): reconciling", self.kind, exc)
                return self._reconcile(intent)
            self._mark_unsent(intent, str(exc))
            raise KrakenRequestRefused(f"Kraken {self.kind} not sent ({exc}); a retry may send it") from exc
        # Anything else leaves the intent at "sending": the next try reconciles before sending.
        return self._finish(intent, result, "received", record)

    def _reconcile(self, intent: Intent) -> Outcome[R]:
        sent_at = intent.sent_at if intent.sent_at is not None else time.time()
        deadline = sent_at + self.policy.grace
        said = ""
        while True:
            verdict = self._registry_call(lambda: self.look(intent))
            if verdict.finding is Finding.ADOPT and verdict.adopted is not None:
                result = self.result_of(verdict.adopted)
                self.log.warning("Reconciled: adopting %s, the result of the lost request", result)
                return self._finish(intent, result, "adopted", verdict.adopted)
            if verdict.finding is Finding.SEVERAL:
                raise AirflowFailException(self._several_message(intent, verdict))
            now = time.time()
            if now >= deadline:
                if verdict.finding is Finding.CONTESTED:
                    raise AirflowFailException(self._contested_message(intent, verdict))
                return self._absent(intent)
            reason = (
                f"waiting for {describe_rivals(verdict.rivals)} to record their results"
                if verdict.finding is Finding.CONTESTED
                else "no matching record listed yet"
            )
            if reason != said:
                self.log.info("Reconciling %s: %s (until %.0f)", self.describe(intent), reason, deadline)
                said = reason
            time.sleep(min(self.policy.poll_interval, max(0.0, deadline - now)))

    def _absent(self, intent: Intent) -> Outcome[R]:
        if self.policy.resend_if_absent and intent.sends < MAX_SENDS:
            self.log.warning(
                "Reconciliation found no trace of %s after the grace period: sending it again "
                "(resend_if_absent=True)",
                self.describe(intent),
            )
            return self._send(intent)
        raise AirflowFailException(
            f"Kraken {self.kind} OUTCOME UNKNOWN: {self.describe(intent)} was sent at {intent.sent_at} "
            f"but its answer was lost, and Kraken lists no unclaimed match {self.policy.grace:.0f} s later. "
            "It most likely did not execute, but this task will not send it again by itself. Check "
            "Kraken (web UI or WithdrawStatus / DepositAddresses) for it. If it is there, clear this "
            "task: the next try adopts it. If it is not, set resend_if_absent=True and clear this "
            "task: it is sent once more."
        )

    def _finish(self, intent: Intent, result: str, how: str, record: R | None) -> Outcome[R]:
        done = self.store.save(intent.done(result, note=how))
        self._publish(done)
        return Outcome(result, how, done, record)

    def _mark_unsent(self, intent: Intent, note: str) -> None:
        unsent = self.store.save(intent.unsent(note))
        self._publish(unsent)

    def _publish(self, intent: Intent, *, previous_sent_at: float | None = None) -> None:
        if intent.sent_at is None:
            return
        entry = Entry(
            kind=self.kind,
            owner=self.registry.owner,
            state=intent.state,
            fingerprint=intent.fingerprint,
            parameters=dict(intent.parameters),
            request=dict(intent.request),
            sent_at=intent.sent_at,
            window=self.policy.window(intent.sent_at),
            result=intent.result,
        )
        self.registry.publish(entry, previous_sent_at=previous_sent_at)

    def _registry_call(self, call: Any) -> Any:
        try:
            return call()
        except RegistryError as exc:
            raise AirflowFailException(f"Kraken {self.kind}: {exc}; refusing to decide without it") from None

    def _several_message(self, intent: Intent, verdict: Reconciliation[R]) -> str:
        return (
            f"Kraken {self.kind} AMBIGUOUS: the answer to {self.describe(intent)} was lost and Kraken lists "
            f"several unclaimed matches ({describe_each(verdict.candidates, self.result_of)}). Refusing to "
            "guess: find out which one this task sent (or that none is), record it, then clear the task."
        )

    def _contested_message(self, intent: Intent, verdict: Reconciliation[R]) -> str:
        return (
            f"Kraken {self.kind} AMBIGUOUS: the answer to {self.describe(intent)} was lost; the unclaimed "
            f"match(es) {describe_each(verdict.candidates, self.result_of)} could also belong to "
            f"{describe_rivals(verdict.rivals)}, still unresolved after the grace period. Refusing to guess."
        )


class WithdrawOnce(SendOnce[Withdrawal]):
    """Exactly-once Withdraw: ``intent.request`` holds asset id, key, amount, address, max_fee."""

    kind = "withdraw"

    def __init__(self, hook: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.hook = hook

    def before_send(self, intent: Intent) -> dict[str, Any]:
        return {}

    def send_request(self, intent: Intent) -> tuple[str, Withdrawal | None]:
        request = intent.request
        receipt = self.hook.withdraw(
            asset=request["asset"],
            key=request["key"],
            amount=request["amount"],
            address=request.get("address"),
            max_fee=request.get("max_fee"),
        )
        return receipt.refid, None

    def look(self, intent: Intent) -> Reconciliation[Withdrawal]:
        match = self.match(intent)
        records = self.hook.withdraw_status(asset=match.asset_id, start=int(match.window[0]))
        if any(r.key is None for r in records):
            match = self._with_key_address(match)
        return reconcile_withdrawal(match, records, self.registry.others(match.window))

    def match(self, intent: Intent) -> WithdrawalMatch:
        """What this intent's withdrawal looks like in WithdrawStatus."""
        request = intent.request
        sent_at = intent.sent_at if intent.sent_at is not None else time.time()
        return WithdrawalMatch(
            asset_id=str(request["asset"]),
            key=str(request["key"]),
            amount=Decimal(str(request["amount"])),
            window=self.policy.window(sent_at),
            max_fee=None if request.get("max_fee") is None else Decimal(str(request["max_fee"])),
        )

    def _with_key_address(self, match: WithdrawalMatch) -> WithdrawalMatch:
        addresses = self.hook.withdraw_addresses(asset=match.asset_id, key=match.key)
        return replace(match, key_address=addresses[0].address if addresses else None)

    def untracked(self, intent: Intent, since: float) -> Sequence[Withdrawal]:
        match = self.match(intent)
        records = self.hook.withdraw_status(asset=match.asset_id, start=int(since))
        if any(r.key is None for r in records):
            match = self._with_key_address(match)
        records = [r for r in records if match.same_destination(r)]
        claimed = {e.result for e in self.registry.others((since, time.time()))}
        return [r for r in records if r.refid not in claimed]

    def result_of(self, record: Withdrawal) -> str:
        return record.refid

    def describe(self, intent: Intent) -> str:
        r = intent.request
        return f"Withdraw of {r['amount']} {r['asset']} to key {r['key']!r}"


class DepositAddressOnce(SendOnce[DepositAddress]):
    """Exactly-once ``DepositAddresses new=true``: ``intent.request`` holds asset id and method."""

    kind = "deposit_address"

    def __init__(self, hook: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.hook = hook

    def before_send(self, intent: Intent) -> dict[str, Any]:
        return {"known": [a.address for a in self._listed(intent)], "listed_at": time.time()}

    def send_request(self, intent: Intent) -> tuple[str, DepositAddress | None]:
        created = self.hook.deposit_addresses(
            asset=intent.request["asset"], method=intent.request["method"], new=True
        )
        if not created:
            raise KrakenTransportError(
                "DepositAddresses", "Kraken answered new=true with no address", sent=True
            )
        return created[0].address, created[0]

    def look(self, intent: Intent) -> Reconciliation[DepositAddress]:
        listed = self._listed(intent)
        sent_at = intent.sent_at if intent.sent_at is not None else time.time()
        listed_at = float(intent.context.get("listed_at", sent_at))
        others = self.registry.others(self.policy.window(sent_at))
        return reconcile_address(
            _known(intent.context), listed, others, rival_since=listed_at - self.policy.skew
        )

    def _listed(self, intent: Intent) -> Sequence[DepositAddress]:
        request = intent.request
        return list(self.hook.deposit_addresses(asset=request["asset"], method=request["method"]))

    def result_of(self, record: DepositAddress) -> str:
        return record.address

    def describe(self, intent: Intent) -> str:
        r = intent.request
        return f"new {r['asset']} deposit address ({r['method']})"


def _known(context: Mapping[str, Any]) -> list[str]:
    known = context.get("known")
    if not isinstance(known, list):
        raise AirflowFailException(
            "Kraken deposit_address: the stored intent lacks the addresses listed before sending; "
            "refusing to guess which address the lost request created"
        )
    return [str(a) for a in known]
