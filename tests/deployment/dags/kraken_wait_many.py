"""Many deferred waits at once: one withdrawal-status sensor per refid given in the run's conf."""

from __future__ import annotations

from typing import Any

from airflow.sdk import dag, task

from airflow_provider_kraken.sensors.funding import KrakenWithdrawStatusSensor


@dag(dag_id="kraken_wait_many", schedule=None, catchup=False, max_active_tasks=64, tags=["kraken-deployment"])
def kraken_wait_many() -> None:
    @task
    def refids(**context: Any) -> list[str]:
        return list(context["dag_run"].conf["refids"])

    KrakenWithdrawStatusSensor.partial(
        task_id="wait",
        pool="kraken",
        asset="doge",
        deferrable=True,
        poke_interval=10,
        timeout=900,
    ).expand(refid=refids())


kraken_wait_many()
