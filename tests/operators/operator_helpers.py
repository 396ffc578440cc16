"""Reading what a run left: the DagRun, its task instances, XComs and state store; the sandbox's
bookings and call log."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

_dates = itertools.count()


def new_logical_date() -> datetime:
    """A logical date (hence run id) no other run of this session uses."""
    return datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=next(_dates))


def bookings(sandbox: Any, key: str = "XDG_Wallet") -> list[dict[str, Any]]:
    """Withdrawals the sandbox ledger booked to a withdraw key."""
    return [w for w in sandbox.admin.account().withdrawals if w["key"] == key]


def calls(sandbox: Any, method: str) -> list[Any]:
    """Every logged call of one method (faulted ones included)."""
    return [c for c in sandbox.admin.calls() if c.method == method]


def executed(sandbox: Any, method: str) -> list[Any]:
    """Logged calls of one method that the sandbox executed."""
    return [c for c in calls(sandbox, method) if c.executed]


def task_output(caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> str:
    """Everything the task logged (dag.test() prints task logs through structlog to the console)."""
    out, err = capfd.readouterr()
    return caplog.text + out + err


@dataclass
class RunResult:
    """What one dag.test() call left: the DagRun and accessors for its task instances."""

    dag_run: Any

    @property
    def state(self) -> str:
        return str(self.dag_run.state)

    def ti(self, task_id: str) -> Any:
        from airflow.models.taskinstance import TaskInstance
        from airflow.utils.session import create_session

        with create_session() as session:
            ti = (
                session.query(TaskInstance)
                .filter_by(dag_id=self.dag_run.dag_id, run_id=self.dag_run.run_id, task_id=task_id)
                .one()
            )
            session.expunge(ti)
            return ti

    def xcom(self, task_id: str, key: str = "return_value") -> Any:
        from airflow.models.xcom import XComModel
        from airflow.utils.session import create_session

        with create_session() as session:
            row = session.scalars(
                XComModel.get_many(
                    run_id=self.dag_run.run_id, dag_ids=self.dag_run.dag_id, task_ids=task_id, key=key
                )
            ).first()
            return None if row is None else XComModel.deserialize_value(row)

    def state_store(self, task_id: str) -> dict[str, Any]:
        """The task instance's task_state_store rows as {key: value}."""
        from airflow._shared.state import TaskScope
        from airflow.state import get_state_backend
        from airflow.utils.session import create_session

        scope = TaskScope(
            dag_id=self.dag_run.dag_id, run_id=self.dag_run.run_id, task_id=task_id, map_index=-1
        )
        backend = get_state_backend()
        found: dict[str, Any] = {}
        with create_session() as session:
            for key in (
                "kraken_withdraw_intent",
                "kraken_deposit_address_intent",
                "kraken_withdraw_cancel_intent",
            ):
                value = backend.get(scope, key, session=session)
                if value is not None:
                    found[key] = json.loads(value)
        return found


def clear_and_rerun(run: RunResult, dag: Any) -> RunResult:
    """Clear every task instance of a finished run (what the UI's Clear does) and run them again.

    ``dag.test()`` cannot do this: called again for the same date it deletes the DagRun (and with
    it the task state store) and starts a new one. This re-runs the *same* DagRun with the loop
    ``dag.test()`` uses, so try numbers go up and the task state store survives, as in production.
    """
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance, clear_task_instances
    from airflow.sdk.definitions.dag import _run_task
    from airflow.serialization.serialized_objects import DagSerialization
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState, TaskInstanceState

    scheduler_dag = DagSerialization.deserialize_dag(DagSerialization.serialize_dag(dag))
    with create_session() as session:
        tis = session.query(TaskInstance).filter_by(dag_id=dag.dag_id, run_id=run.dag_run.run_id).all()
        clear_task_instances(tis, session, dag_run_state=DagRunState.RUNNING)
    with create_session() as session:
        dag_run = session.query(DagRun).filter_by(dag_id=dag.dag_id, run_id=run.dag_run.run_id).one()
        dag_run.dag = scheduler_dag
        while dag_run.state == DagRunState.RUNNING:
            session.expire_all()
            schedulable, _ = dag_run.update_state(session=session)
            for ti in schedulable:
                if ti.state != TaskInstanceState.UP_FOR_RESCHEDULE:
                    ti.try_number += 1
                ti.state = TaskInstanceState.SCHEDULED
            session.commit()
            for ti in [
                t
                for t in dag_run.get_task_instances(session=session)
                if t.state == TaskInstanceState.SCHEDULED
            ]:
                _run_task(ti=ti, task=dag.task_dict[ti.task_id], run_triggerer=True)
    with create_session() as session:
        finished = session.query(DagRun).filter_by(dag_id=dag.dag_id, run_id=run.dag_run.run_id).one()
        session.expunge(finished)
    return RunResult(finished)


class MemoryVariables:
    """A thread-safe stand-in for Airflow Variables with the same get/set/keys/delete semantics."""

    def __init__(self) -> None:
        self.data: dict[str, str] = {}
        self._lock = threading.Lock()

    def keys(self, prefix: str) -> Sequence[str]:
        with self._lock:
            return sorted(k for k in self.data if k.startswith(prefix))

    def get(self, key: str) -> str | None:
        with self._lock:
            return self.data.get(key)

    def set(self, key: str, value: str) -> None:
        with self._lock:
            self.data[key] = value

    def delete(self, key: str) -> None:
        with self._lock:
            self.data.pop(key, None)
