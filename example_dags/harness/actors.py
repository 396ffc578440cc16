"""The people around a DAG run, played from background threads while ``dag.test()`` runs.

``Approver`` answers a Human-in-the-loop approval the way Airflow's API does; ``Payer`` sends a
deposit to the address the pipeline handed out, through the sandbox's admin API.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from airflow_provider_kraken.sandbox.admin import AdminClient

POLL_SECONDS = 0.1


class Actor:
    """Something happening beside a DAG run, in its own thread; ``notes`` tell what it did."""

    name = "actor"

    def __init__(self) -> None:
        self.notes: list[str] = []
        self.error: Exception | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.started_at = datetime.now(UTC)

    def start(self) -> None:
        """Begin acting (in a daemon thread)."""
        self.started_at = datetime.now(UTC)
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Ask the thread to finish and wait for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    @property
    def stopping(self) -> bool:
        """True once the run is over."""
        return self._stop.is_set()

    def pause(self) -> None:
        """Wait a little before looking again."""
        self._stop.wait(POLL_SECONDS)

    def _run(self) -> None:
        try:
            self.act()
        except Exception as exc:  # noqa: BLE001 - reported by the runner, never lost in a thread
            self.error = exc
            self.notes.append(f"{self.name} failed: {exc!r}")
            try:
                self.on_error()
            except Exception as cleanup:  # noqa: BLE001 - same
                self.notes.append(f"{self.name} could not clean up: {cleanup!r}")

    def act(self) -> None:
        """What the actor does until it is done or ``stopping``."""
        raise NotImplementedError

    def on_error(self) -> None:
        """Make sure a failure here cannot leave the DAG run waiting forever."""


class Approver(Actor):
    """Answers the approval task of a DAG as a user would through Airflow's HITL API.

    ``dag.test()`` never resolves a Human-in-the-loop task by itself (the scheduler applies
    timeouts and defaults); it waits until a response is recorded. This calls the Core API's own
    handler for ``PATCH .../taskInstances/{task_id}/{map_index}/hitlDetails``, which validates the
    answer, records it and resumes the waiting task instance.
    """

    name = "approver"

    def __init__(self, dag_id: str, task_id: str, choice: str, *, user: str = "treasury-approver") -> None:
        super().__init__()
        self.dag_id = dag_id
        self.task_id = task_id
        self.choice = choice
        self.user = user
        self.asked: dict[str, Any] | None = None
        # Importing the API module is slow (seconds); do it now rather than while a run waits.
        from airflow.api_fastapi.core_api.routes.public import hitl  # noqa: F401

    def act(self) -> None:
        while not self.stopping:
            if self.answer_waiting_task():
                return
            self.pause()
        self.notes.append("approver: no approval was requested")

    def answer_waiting_task(self) -> bool:
        """Record ``choice`` for the task instance awaiting input, if there is one."""
        from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
        from airflow.api_fastapi.core_api.datamodels.hitl import UpdateHITLDetailPayload
        from airflow.api_fastapi.core_api.routes.public.hitl import update_hitl_detail
        from airflow.utils.session import create_session

        with create_session() as session:
            ti = _awaiting_input(session, self.dag_id, self.task_id, since=self.started_at)
            if ti is None:
                return False
            detail = ti.hitl_detail
            self.asked = {"subject": detail.subject, "body": detail.body, "options": list(detail.options)}
            update_hitl_detail(
                dag_id=ti.dag_id,
                dag_run_id=ti.run_id,
                task_id=ti.task_id,
                update_hitl_detail_payload=UpdateHITLDetailPayload(chosen_options=[self.choice]),
                user=SimpleAuthManagerUser(username=self.user, role="admin"),
                session=session,
                map_index=ti.map_index,
            )
        self.notes.append(f'approver: asked "{self.asked["subject"]}", answered {self.choice} as {self.user}')
        return True

    def on_error(self) -> None:
        """Fail the waiting task instance, or ``dag.test()`` would wait for an answer forever."""
        from airflow.utils.session import create_session
        from airflow.utils.state import TaskInstanceState

        with create_session() as session:
            ti = _awaiting_input(session, self.dag_id, self.task_id, since=self.started_at)
            if ti is not None:
                ti.set_state(TaskInstanceState.FAILED, session=session)


def _awaiting_input(session: Any, dag_id: str, task_id: str, *, since: datetime) -> Any:
    """The task instance (started after ``since``) waiting for a human, with its question loaded."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.state import TaskInstanceState
    from sqlalchemy import select
    from sqlalchemy.orm import joinedload

    return session.scalar(
        select(TaskInstance)
        .where(
            TaskInstance.dag_id == dag_id,
            TaskInstance.task_id == task_id,
            TaskInstance.state == TaskInstanceState.AWAITING_INPUT,
            TaskInstance.start_date >= since,
        )
        .options(joinedload(TaskInstance.hitl_detail))
    )


class Payer(Actor):
    """A customer paying in: waits for the address the pipeline published, then deposits to it.

    The sandbox plays the blockchain: each deposit is ``Settled`` at once and ``Success`` once its
    confirmations have arrived.
    """

    name = "payer"

    def __init__(
        self,
        admin: AdminClient,
        *,
        dag_id: str,
        task_id: str,
        asset: str,
        method: str,
        amounts: Sequence[str],
    ) -> None:
        super().__init__()
        self.admin = admin
        self.dag_id = dag_id
        self.task_id = task_id
        self.asset = asset
        self.method = method
        self.amounts = tuple(amounts)
        self.refids: list[str] = []

    def act(self) -> None:
        address = self.wait_for_address()
        if address is None:
            self.notes.append("payer: no deposit address was published")
            return
        for amount in self.amounts:
            deposit = self.admin.inject_deposit(self.asset, amount, method=self.method, address=address)
            self.refids.append(deposit["refid"])
            self.notes.append(f"payer: sent {amount} {self.asset} to {address} (deposit {deposit['refid']})")

    def wait_for_address(self) -> str | None:
        """The address in the deposit-address task's XCom of this run, once it is there."""
        while not self.stopping:
            result = _latest_result(self.dag_id, self.task_id, since=self.started_at)
            if isinstance(result, dict) and result.get("address"):
                return str(result["address"])
            self.pause()
        return None


def _latest_result(dag_id: str, task_id: str, *, since: datetime) -> Any:
    """The newest ``return_value`` XCom of a task pushed after ``since`` (None if there is none)."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        row = session.scalar(
            select(XComModel)
            .where(
                XComModel.dag_id == dag_id,
                XComModel.task_id == task_id,
                XComModel.key == "return_value",
                XComModel.timestamp >= since,
            )
            .order_by(XComModel.timestamp.desc())
            .limit(1)
        )
        return None if row is None else XComModel.deserialize_value(row)
