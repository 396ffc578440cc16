"""DAGs run by the operator tests (and quoted by the docs): withdraw, sweep, deposit address, cancel.

Amounts, keys and reserves come from the run's conf so one DAG serves many scenarios. Every task
has ``retries`` set with no delay, so ``dag.test()`` really re-runs a failed try in the same call.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, task

from airflow_provider_kraken.operators.funding import (
    KrakenDepositAddressOperator,
    KrakenSweepOperator,
    KrakenWithdrawCancelOperator,
    KrakenWithdrawOperator,
)

DEFAULTS = {"retries": 2, "retry_delay": timedelta(seconds=0)}
#: Short reconciliation windows keep the tests fast; production defaults are minutes.
FAST = {"reconcile_grace": timedelta(seconds=3), "reconcile_skew": timedelta(seconds=30)}


def conf(key: str, default: str) -> str:
    """A template reading the run's conf."""
    return "{{ dag_run.conf.get('" + key + "', '" + default + "') }}"


#: Every DAG of this file by id, for the tests.
DAGS: dict[str, DAG] = {}


def dag(dag_id: str, **kwargs: object) -> DAG:
    options: dict[str, object] = {"default_args": DEFAULTS, **kwargs}
    DAGS[dag_id] = DAG(
        dag_id,
        schedule=None,
        start_date=datetime(2024, 1, 1),
        catchup=False,
        tags=["kraken-operator-tests"],
        **options,  # type: ignore[arg-type]
    )
    return DAGS[dag_id]


# --8<-- [start:withdraw]
with dag("kraken_op_withdraw"):
    KrakenWithdrawOperator(
        task_id="withdraw",
        kraken_conn_id="kraken_default",
        asset="doge",
        key=conf("key", "XDG_Wallet"),
        amount=conf("amount", "10"),  # a decimal string; a float would be refused
        **FAST,
    )
# --8<-- [end:withdraw]

with dag("kraken_op_withdraw_resend"):
    # --8<-- [start:resend]
    KrakenWithdrawOperator(
        task_id="withdraw",
        asset="doge",
        key="XDG_Wallet",
        amount=conf("amount", "10"),
        resend_if_absent=True,  # send again only once Kraken provably has no such withdrawal
        **FAST,
    )
    # --8<-- [end:resend]

with dag("kraken_op_withdraw_var_amount", default_args={"retries": 0}):
    # The amount comes from a Variable so a test can change it between tries of one task instance.
    KrakenWithdrawOperator(
        task_id="withdraw",
        asset="doge",
        key="XDG_Wallet",
        amount="{{ var.value.get('kraken_op_test_amount', '10') }}",
        **FAST,
    )

# --8<-- [start:wait]
with dag("kraken_op_withdraw_wait"):
    KrakenWithdrawOperator(
        task_id="withdraw",
        asset="doge",
        key="XDG_Wallet",
        amount=conf("amount", "10"),
        max_fee="5",
        wait_for_completion=True,  # succeed only once Kraken reports Success
        deferrable=False,
        poll_interval=0.5,
        wait_timeout=timedelta(seconds=30),
        **FAST,
    )
# --8<-- [end:wait]

with dag("kraken_op_withdraw_deferred"):
    KrakenWithdrawOperator(
        task_id="withdraw",
        asset="doge",
        key="XDG_Wallet",
        amount=conf("amount", "10"),
        wait_for_completion=True,
        deferrable=True,  # the wait runs in the triggerer; the Withdraw is sent by the worker only
        poll_interval=0.5,
        wait_timeout=timedelta(seconds=30),
        **FAST,
    )

with dag("kraken_op_withdraw_wait_timeout", default_args={"retries": 1, "retry_delay": timedelta(seconds=0)}):
    KrakenWithdrawOperator(
        task_id="withdraw",
        asset="doge",
        key="XDG_Wallet",
        amount=conf("amount", "10"),
        wait_for_completion=True,
        deferrable=True,
        poll_interval=0.2,
        wait_timeout=timedelta(seconds=1),
        **FAST,
    )

with dag("kraken_op_withdraw_from_xcom", render_template_as_native_obj=True):

    @task
    def upstream_amount() -> float:
        return 10.5  # a float: the operator must refuse it rather than round it

    KrakenWithdrawOperator(
        task_id="withdraw",
        asset="doge",
        key="XDG_Wallet",
        amount="{{ ti.xcom_pull(task_ids='upstream_amount') }}",
        **FAST,
    ).set_upstream(upstream_amount())

# --8<-- [start:sweep]
with dag("kraken_op_sweep"):
    KrakenSweepOperator(
        task_id="sweep",
        asset="doge",
        key="XDG_Wallet",
        reserve=conf("reserve", "50"),  # leave this much on Kraken
        min_amount=conf("min_amount", "20"),  # skip the run unless at least this much would move
        **FAST,
    )
# --8<-- [end:sweep]

# --8<-- [start:deposit_address]
with dag("kraken_op_deposit_address"):
    KrakenDepositAddressOperator(
        task_id="address",
        asset="doge",
        method="Dogecoin",
        new=True,  # creates an address: exactly once, even if Kraken's answer is lost
        **FAST,
    )
# --8<-- [end:deposit_address]

with dag("kraken_op_deposit_address_list"):
    KrakenDepositAddressOperator(task_id="address", asset="doge", method="Dogecoin")

# --8<-- [start:cancel]
with dag("kraken_op_withdraw_then_cancel"):
    withdraw = KrakenWithdrawOperator(
        task_id="withdraw", asset="doge", key="XDG_Wallet", amount=conf("amount", "10"), **FAST
    )
    cancel = KrakenWithdrawCancelOperator(
        task_id="cancel",
        asset="doge",
        refid="{{ ti.xcom_pull(task_ids='withdraw', key='refid') }}",
        fail_if_too_late=False,  # report "too-late" in the XCom instead of failing
        reconcile_grace=timedelta(seconds=2),
    )
    withdraw >> cancel
# --8<-- [end:cancel]
