"""Pipeline-gated withdrawal: checks, then a human approval, then the withdrawal, then the wait.

Nothing reaches Kraken's Withdraw unless every gate passes: the treasury books must agree with
Kraken's balance (reconciliation), the amount must be within policy and Kraken's limit (limit
check), and a human must approve the request shown with its fee. A rejection skips the
withdrawal; a failed check stops the run before anyone is asked. The fee shown to the approver
is passed to the withdrawal as ``max_fee``, so Kraken cannot charge more than what was approved.
"""

# --8<-- [start:dag]
from __future__ import annotations

from contextlib import closing
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk import DAG, Param, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_kraken.amounts import format_amount, to_decimal
from airflow_provider_kraken.hooks.kraken import KrakenHook
from airflow_provider_kraken.operators.funding import KrakenWithdrawOperator
from airflow_provider_kraken.sensors.funding import KrakenWithdrawStatusSensor

DECIMAL = r"^[0-9]+(\.[0-9]+)?$"
POLICY_LIMIT = Decimal("50")  # the most one run may send without a second approval process

with DAG(
    dag_id="kraken_gated_withdrawal",
    description="Reconcile, check limits, ask a human, then withdraw exactly once and wait",
    schedule=None,  # triggered by the payments pipeline with the amount in the run's conf
    start_date=datetime(2025, 1, 1, tzinfo=UTC),
    catchup=False,
    params={
        "asset": Param("doge", type="string"),
        "key": Param("XDG_Wallet", type="string", description="Kraken withdraw key of the beneficiary"),
        "amount": Param("25", type="string", pattern=DECIMAL, description="gross amount, fee included"),
        "books_balance": Param(
            "100", type="string", pattern=DECIMAL, description="what the treasury books say Kraken holds"
        ),
    },
    tags=["kraken", "example"],
):
    # --8<-- [start:checks]
    @task
    def reconcile() -> dict[str, str]:
        """The treasury books and Kraken's available balance must agree before money moves."""
        params = get_current_context()["params"]
        with closing(KrakenHook(kraken_conn_id="kraken_default")) as hook:
            asset_id = hook.asset_info(params["asset"]).asset_id
            row = hook.balance_ex().get(asset_id)
        on_kraken = row.available if row is not None else Decimal(0)
        books = to_decimal(params["books_balance"], "books_balance")
        if on_kraken != books:
            raise AirflowFailException(f"Books say {books} {asset_id}, Kraken has {on_kraken}: not sending")
        return {"asset": asset_id, "available": format_amount(on_kraken)}

    @task
    def check_limit() -> dict[str, str]:
        """The amount must be within policy and within what Kraken allows; returns Kraken's fee."""
        params = get_current_context()["params"]
        amount = to_decimal(params["amount"], "amount")
        if amount > POLICY_LIMIT:
            raise AirflowFailException(f"{amount} exceeds the policy limit of {POLICY_LIMIT}: not sending")
        with closing(KrakenHook(kraken_conn_id="kraken_default")) as hook:
            info = hook.withdraw_info(asset=params["asset"], key=params["key"], amount=amount)
        if amount > info.limit:
            raise AirflowFailException(f"{amount} exceeds Kraken's withdraw limit of {info.limit}")
        return {
            "amount": format_amount(amount),
            "fee": format_amount(info.fee),
            "receives": format_amount(info.amount),
        }

    checks = [reconcile(), check_limit()]
    # --8<-- [end:checks]

    # --8<-- [start:approval]
    approval = ApprovalOperator(
        task_id="approve",
        subject="Withdraw {{ params.amount }} {{ params.asset | upper }} to {{ params.key }}?",
        body=(
            "Run `{{ run_id }}` asks to send **{{ params.amount }} {{ params.asset | upper }}** "
            "(Kraken's fee {{ ti.xcom_pull(task_ids='check_limit')['fee'] }}, the beneficiary receives "
            "{{ ti.xcom_pull(task_ids='check_limit')['receives'] }}) to withdraw key `{{ params.key }}`. "
            "Books and Kraken agree on {{ ti.xcom_pull(task_ids='reconcile')['available'] }}."
        ),
        defaults="Reject",  # no answer in time means no withdrawal
        response_timeout=timedelta(hours=4),
    )
    # --8<-- [end:approval]

    # --8<-- [start:withdraw]
    withdraw = KrakenWithdrawOperator(
        task_id="withdraw",
        kraken_conn_id="kraken_default",
        asset="{{ params.asset }}",
        key="{{ params.key }}",
        amount="{{ params.amount }}",  # a decimal string from the run's conf
        max_fee="{{ ti.xcom_pull(task_ids='check_limit')['fee'] }}",  # no more than the approver saw
        retries=3,  # safe: a retry never sends a second withdrawal
        retry_delay=timedelta(seconds=30),
    )
    # --8<-- [end:withdraw]

    # --8<-- [start:wait]
    wait = KrakenWithdrawStatusSensor(
        task_id="wait_for_withdrawal",
        kraken_conn_id="kraken_default",
        asset="{{ params.asset }}",
        refid="{{ ti.xcom_pull(task_ids='withdraw')['refid'] }}",
        deferrable=True,
        poke_interval=timedelta(minutes=1).total_seconds(),
        timeout=timedelta(hours=6).total_seconds(),
    )
    # --8<-- [end:wait]

    checks >> approval >> withdraw >> wait
# --8<-- [end:dag]
