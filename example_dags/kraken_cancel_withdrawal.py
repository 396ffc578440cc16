"""Cancel: request a withdrawal, cancel it while Kraken still allows it, and show how it ended.

Kraken accepts a cancel only while a withdrawal has not been processed yet (status ``Initial``).
The cancel operator sends the cancel once and reports where the withdrawal stands
(``cancel-pending``, ``canceled``, or ``too-late``, which fails the task: the money moves). The
last step waits until Kraken's outcome is final and reports it: a cancelled withdrawal ends as
``Failure`` with status-prop ``canceled`` and the amount back on the account.
"""

# --8<-- [start:dag]
from __future__ import annotations

from collections.abc import Sequence
from contextlib import closing
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import DAG, BaseSensorOperator, Context, Param, PokeReturnValue

from airflow_provider_kraken.hooks.kraken import KrakenHook
from airflow_provider_kraken.operators.funding import KrakenWithdrawCancelOperator, KrakenWithdrawOperator

DECIMAL = r"^[0-9]+(\.[0-9]+)?$"


# --8<-- [start:outcome_sensor]
class WithdrawalOutcomeSensor(BaseSensorOperator):
    """Wait until Kraken's status for withdrawal ``refid`` is final, then return how it ended.

    Unlike ``KrakenWithdrawStatusSensor`` (which fails on a cancelled withdrawal, since there it
    means the money did not arrive), this reports the outcome whatever it is.
    """

    template_fields: Sequence[str] = ("asset", "refid")

    def __init__(
        self, *, asset: str, refid: str, kraken_conn_id: str = "kraken_default", **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.asset = asset
        self.refid = refid
        self.kraken_conn_id = kraken_conn_id

    def poke(self, context: Context) -> PokeReturnValue:
        with closing(KrakenHook(kraken_conn_id=self.kraken_conn_id)) as hook:
            records = hook.withdraw_status(asset=self.asset)
        record = next((r for r in records if r.refid == self.refid), None)
        if record is None or not record.status.is_terminal:
            return PokeReturnValue(is_done=False)
        outcome = {
            "refid": record.refid,
            "status": record.status.value,
            "status_prop": None if record.status_prop is None else record.status_prop.value,
            "cancelled": record.is_cancelled,
        }
        return PokeReturnValue(is_done=True, xcom_value=outcome)


# --8<-- [end:outcome_sensor]

with DAG(
    dag_id="kraken_cancel_withdrawal",
    description="Request a withdrawal, cancel it while still cancellable, report the outcome",
    schedule=None,
    start_date=datetime(2025, 1, 1, tzinfo=UTC),
    catchup=False,
    params={"amount": Param("30", type="string", pattern=DECIMAL)},
    tags=["kraken", "example"],
):
    # --8<-- [start:withdraw]
    withdraw = KrakenWithdrawOperator(
        task_id="withdraw",
        kraken_conn_id="kraken_default",
        asset="doge",
        key="XDG_Wallet",
        amount="{{ params.amount }}",
    )
    # --8<-- [end:withdraw]

    # --8<-- [start:cancel]
    cancel = KrakenWithdrawCancelOperator(
        task_id="cancel",
        kraken_conn_id="kraken_default",
        asset="doge",
        refid="{{ ti.xcom_pull(task_ids='withdraw')['refid'] }}",
        fail_if_too_late=True,  # a withdrawal that can no longer be stopped turns the task red
    )
    # --8<-- [end:cancel]

    # --8<-- [start:outcome]
    outcome = WithdrawalOutcomeSensor(
        task_id="final_outcome",
        asset="{{ ti.xcom_pull(task_ids='cancel')['asset'] }}",
        refid="{{ ti.xcom_pull(task_ids='cancel')['refid'] }}",
        mode="reschedule",  # free the worker slot between looks
        poke_interval=30,
        timeout=timedelta(hours=1).total_seconds(),
    )

    withdraw >> cancel >> outcome
    # --8<-- [end:outcome]
# --8<-- [end:dag]
