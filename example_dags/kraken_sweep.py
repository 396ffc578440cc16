"""Scheduled sweep: every hour, send what sits above a reserve in the hot account to the cold wallet.

The sweep reads Kraken's available balance, keeps ``reserve`` on the exchange and withdraws the
rest (Kraken's fee comes out of the withdrawn amount) to the withdraw key of the cold wallet. When
nothing worth sending is left (nothing above the reserve, or less than the method's minimum or
``min_amount``) the task is skipped and nothing is sent. Then the DAG waits, deferred, for Kraken
to report the withdrawal successful.
"""

# --8<-- [start:dag]
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import DAG, Param

from airflow_provider_kraken.operators.funding import KrakenSweepOperator
from airflow_provider_kraken.sensors.funding import KrakenWithdrawStatusSensor

DECIMAL = r"^[0-9]+(\.[0-9]+)?$"

with DAG(
    dag_id="kraken_sweep_to_cold_wallet",
    description="Hourly: withdraw what exceeds the reserve to the cold wallet, then wait for Kraken",
    schedule="@hourly",
    start_date=datetime(2025, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,  # the next sweep must see the balance this one left
    default_args={"retries": 3, "retry_delay": timedelta(minutes=1)},
    params={
        "reserve": Param("1000", type="string", pattern=DECIMAL, description="USDC to keep on Kraken"),
    },
    tags=["kraken", "example"],
):
    # --8<-- [start:sweep]
    sweep = KrakenSweepOperator(
        task_id="sweep",
        kraken_conn_id="kraken_default",
        asset="USDC",
        key="USDC_Cold",  # the cold wallet's withdraw key on Kraken
        reserve="{{ params.reserve }}",  # a decimal string, never a float
        min_amount="100",  # not worth a withdrawal below this
    )
    # --8<-- [end:sweep]

    # --8<-- [start:wait]
    wait = KrakenWithdrawStatusSensor(
        task_id="wait_for_withdrawal",
        kraken_conn_id="kraken_default",
        asset="USDC",
        refid="{{ ti.xcom_pull(task_ids='sweep')['refid'] }}",
        deferrable=True,  # wait in the triggerer, not on a worker slot
        poke_interval=timedelta(minutes=1).total_seconds(),
        timeout=timedelta(hours=6).total_seconds(),
    )
    # --8<-- [end:wait]

    sweep >> wait
# --8<-- [end:dag]
