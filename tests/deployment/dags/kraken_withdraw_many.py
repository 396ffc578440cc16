"""Several withdrawals per run, one mapped task instance per amount in the run's conf."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import dag, task

from airflow_provider_kraken.operators.funding import KrakenWithdrawOperator


@dag(
    dag_id="kraken_withdraw_many",
    schedule=None,
    catchup=False,
    default_args={"retries": 2, "retry_delay": timedelta(seconds=3), "pool": "kraken"},
    tags=["kraken-deployment"],
)
def kraken_withdraw_many() -> None:
    @task
    def amounts(**context: Any) -> list[str]:
        return [str(amount) for amount in context["dag_run"].conf["amounts"]]

    KrakenWithdrawOperator.partial(task_id="withdraw", asset="doge", key="XDG_Wallet").expand(
        amount=amounts()
    )


kraken_withdraw_many()
