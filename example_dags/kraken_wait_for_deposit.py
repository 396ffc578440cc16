"""Wait for a deposit: hand out a deposit address, wait until the payment is confirmed, book it.

A fresh address is created for each expected payment, so the deposit is recognised by its address
(a retry of the task reuses the address the first try created; it never creates a second one).
The sensor waits, deferred, for a deposit of at least the expected amount to that address, made
after the run started, to reach ``Success`` (every confirmation in). The booking task continues
the pipeline with the deposit's refid and amounts.
"""

# --8<-- [start:dag]
from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import DAG, Param, task

from airflow_provider_kraken.amounts import format_amount, to_decimal
from airflow_provider_kraken.operators.funding import KrakenDepositAddressOperator
from airflow_provider_kraken.sensors.funding import KrakenDepositStatusSensor

DECIMAL = r"^[0-9]+(\.[0-9]+)?$"
log = logging.getLogger(__name__)

with DAG(
    dag_id="kraken_wait_for_deposit",
    description="Create a deposit address, wait for the payment to be confirmed, then book it",
    schedule=None,  # triggered per expected payment (e.g. an invoice) with its amount in the conf
    start_date=datetime(2025, 1, 1, tzinfo=UTC),
    catchup=False,
    params={
        "expected_amount": Param("100", type="string", pattern=DECIMAL, description="DOGE expected"),
    },
    tags=["kraken", "example"],
):
    # --8<-- [start:address]
    address = KrakenDepositAddressOperator(
        task_id="deposit_address",
        kraken_conn_id="kraken_default",
        asset="doge",
        method="Dogecoin",
        new=True,  # one address per expected payment; created exactly once, even across retries
        retries=3,
        retry_delay=timedelta(seconds=30),
    )
    # --8<-- [end:address]

    # --8<-- [start:wait]
    deposit = KrakenDepositStatusSensor(
        task_id="wait_for_deposit",
        kraken_conn_id="kraken_default",
        asset="doge",
        method="Dogecoin",
        address="{{ ti.xcom_pull(task_ids='deposit_address')['address'] }}",
        min_amount="{{ params.expected_amount }}",  # smaller deposits do not count
        since="{{ dag_run.run_after }}",  # only deposits made after the run started
        settled_is_enough=False,  # wait for every confirmation (Success)
        deferrable=True,
        poke_interval=timedelta(minutes=1).total_seconds(),
        timeout=timedelta(days=1).total_seconds(),
    )
    # --8<-- [end:wait]

    # --8<-- [start:book]
    @task
    def book_deposit(record: dict[str, Any], run_id: str | None = None) -> dict[str, str]:
        """Continue the pipeline with the deposit: refid, gross amount, fee and net credited."""
        amount = to_decimal(record["amount"], "amount")
        fee = to_decimal(record.get("fee") or "0", "fee")
        booked = {
            "refid": record["refid"],
            "txid": record.get("txid") or "",
            "amount": format_amount(amount),
            "fee": format_amount(fee),
            "net": format_amount(amount - fee),
            "run_id": run_id or "",
        }
        log.info(
            "Booking deposit %s: %s DOGE credited (%s minus fee %s)",
            record["refid"],
            booked["net"],
            booked["amount"],
            booked["fee"],
        )
        return booked

    address >> deposit
    book_deposit(deposit.output)  # type: ignore[arg-type]  # the sensor's record, once it is there
    # --8<-- [end:book]
# --8<-- [end:dag]
