"""One withdrawal per run, amount from the run's conf; retried by Airflow like a production task."""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Param, dag

from airflow_provider_kraken.operators.funding import KrakenWithdrawOperator


@dag(
    dag_id="kraken_withdraw_once",
    schedule=None,
    catchup=False,
    params={"amount": Param("0", type="string")},
    default_args={"retries": 2, "retry_delay": timedelta(seconds=1), "pool": "kraken"},
    tags=["kraken-deployment"],
)
def kraken_withdraw_once() -> None:
    KrakenWithdrawOperator(
        task_id="withdraw",
        asset="doge",
        key="XDG_Wallet",
        amount="{{ params.amount }}",
        reconcile_grace=timedelta(seconds=20),
    )


kraken_withdraw_once()
