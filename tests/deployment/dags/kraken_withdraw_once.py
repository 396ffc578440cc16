"""One withdrawal per run, amount from the run's conf; retried by Airflow like a production task."""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Param, dag

from airflow_provider_kraken.operators.funding import KrakenWithdrawOperator


# --8<-- [start:deployment]
@dag(
    dag_id="kraken_withdraw_once",
    schedule=None,
    catchup=False,
    params={"amount": Param("0", type="string")},
    # Every task on this key runs in the key's pool; a withdrawal whose worker died is
    # reconciled by the retry. (The tests retry after 3 s; in production wait 30 s or more.)
    default_args={"pool": "kraken", "retries": 2, "retry_delay": timedelta(seconds=3)},
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


# --8<-- [end:deployment]


kraken_withdraw_once()
