"""Run one example DAG under ``dag.test()`` against the sandbox and collect what happened."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from airflow_provider_kraken.sandbox.admin import AccountLedger, AdminClient, CallRecord

from .actors import Actor
from .home import EXAMPLE_DAGS

#: Sensors poll this often here (the DAGs say a minute): the sandbox settles in seconds.
POKE_INTERVAL_SECONDS = 0.5
#: And give up after this long instead of hours, so a broken run ends instead of hanging.
SENSOR_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class TaskRun:
    """One task instance of the run: final state, tries and its ``return_value`` XCom."""

    task_id: str
    state: str | None
    tries: int
    result: Any = None
    asked: bool = False  # a Human-in-the-loop task that put its question to a human
    answer: tuple[str, ...] | None = None  # and what the human chose


@dataclass(frozen=True)
class RunResult:
    """A DAG run and its traces: task states, Kraken calls made, the ledger before and after."""

    dag_id: str
    run_id: str
    state: str
    seconds: float
    tasks: tuple[TaskRun, ...]
    calls: tuple[CallRecord, ...]
    before: AccountLedger
    after: AccountLedger
    notes: tuple[str, ...] = ()
    errors: tuple[str, ...] = field(default=())

    def task(self, task_id: str) -> TaskRun:
        """A task instance by id."""
        for run in self.tasks:
            if run.task_id == task_id:
                return run
        raise KeyError(task_id)

    def state_of(self, task_id: str) -> str | None:
        """A task instance's final state."""
        return self.task(task_id).state

    def result_of(self, task_id: str) -> Any:
        """A task's ``return_value`` XCom."""
        return self.task(task_id).result

    def answer_of(self, task_id: str) -> tuple[str, ...] | None:
        """What the human answered to a Human-in-the-loop task (None: never asked, or no answer)."""
        return self.task(task_id).answer

    def was_asked(self, task_id: str) -> bool:
        """Whether a Human-in-the-loop task put its question to a human."""
        return self.task(task_id).asked

    def calls_to(self, method: str) -> list[CallRecord]:
        """The Kraken calls of one API method made during the run."""
        return [call for call in self.calls if call.method == method]

    def new_withdrawals(self) -> list[dict[str, Any]]:
        """Withdrawals the ledger holds after the run and did not before (their state after)."""
        known = {record["refid"] for record in self.before.withdrawals}
        return [record for record in self.after.withdrawals if record["refid"] not in known]

    def new_deposits(self) -> list[dict[str, Any]]:
        """Deposits that arrived during the run (their state after)."""
        known = {record["refid"] for record in self.before.deposits}
        return [record for record in self.after.deposits if record["refid"] not in known]


@cache
def example_dag(dag_id: str) -> Any:
    """An example DAG, parsed from the example DAGs folder, with its sensors sped up (see below)."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=EXAMPLE_DAGS)
    if bag.import_errors:
        raise RuntimeError(f"example DAGs failed to import: {bag.import_errors}")
    dag = bag.dags[dag_id]
    speed_up_sensors(dag)
    return dag


def speed_up_sensors(dag: Any) -> None:
    """Poll every half second and time out after a minute: the sandbox moves in seconds, not hours.

    Only the loaded DAG object changes (``dag.test()`` runs these task objects); the files keep
    the intervals a real deployment should use.
    """
    from airflow.sdk import BaseSensorOperator

    for task in dag.tasks:
        if isinstance(task, BaseSensorOperator):
            task.poke_interval = POKE_INTERVAL_SECONDS
            task.timeout = SENSOR_TIMEOUT_SECONDS


def run_example(
    dag_id: str,
    admin: AdminClient,
    *,
    conf: Mapping[str, Any] | None = None,
    actors: Sequence[Actor] = (),
    account: str = "main",
) -> RunResult:
    """Run ``dag_id`` once (a manual run: no logical date) with ``actors`` alongside; collect the traces."""
    dag = example_dag(dag_id)
    last_call = _last_call_seq(admin)
    before = admin.account(account)
    for actor in actors:
        actor.start()
    started = time.monotonic()
    try:
        dag_run = dag.test(logical_date=None, run_conf=dict(conf or {}))
    finally:
        for actor in actors:
            actor.stop()
    seconds = time.monotonic() - started
    return RunResult(
        dag_id=dag_id,
        run_id=dag_run.run_id,
        state=str(dag_run.state),
        seconds=seconds,
        tasks=_task_runs(dag, dag_run.run_id),
        calls=tuple(admin.calls(since=last_call)),
        before=before,
        after=admin.account(account),
        notes=tuple(note for actor in actors for note in actor.notes),
        errors=tuple(f"{actor.name}: {actor.error!r}" for actor in actors if actor.error is not None),
    )


def _last_call_seq(admin: AdminClient) -> int:
    calls = admin.calls()
    return calls[-1].seq if calls else 0


def _task_runs(dag: Any, run_id: str) -> tuple[TaskRun, ...]:
    """Every task of the run in the DAG's order, with state, tries and XCom result."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select
    from sqlalchemy.orm import joinedload

    with create_session() as session:
        instances = {
            ti.task_id: ti
            for ti in session.scalars(
                select(TaskInstance)
                .where(TaskInstance.dag_id == dag.dag_id, TaskInstance.run_id == run_id)
                .options(joinedload(TaskInstance.hitl_detail))
            )
        }
        results = {
            row.task_id: XComModel.deserialize_value(row)
            for row in session.scalars(
                select(XComModel).where(
                    XComModel.dag_id == dag.dag_id,
                    XComModel.run_id == run_id,
                    XComModel.key == "return_value",
                )
            )
        }
        return tuple(
            TaskRun(
                task_id=task.task_id,
                state=None if (ti := instances.get(task.task_id)) is None else _state(ti),
                tries=0 if ti is None else ti.try_number,
                result=results.get(task.task_id),
                asked=ti is not None and ti.hitl_detail is not None,
                answer=_answer(ti),
            )
            for task in dag.tasks
        )


def _state(ti: Any) -> str | None:
    return None if ti.state is None else str(ti.state)


def _answer(ti: Any) -> tuple[str, ...] | None:
    """The options a human chose for a Human-in-the-loop task instance (None if not one, or unanswered)."""
    detail = None if ti is None else ti.hitl_detail
    if detail is None or not detail.response_received:
        return None
    return tuple(detail.chosen_options or ())
