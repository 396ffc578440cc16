"""DAGs for the sensor tests: each sensor in each mode, long or short timeout, with or without soft_fail.

The waited-for refid/txid/criteria come from the run's conf, so one DAG serves every scenario.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG

from airflow_provider_kraken.sensors.funding import KrakenDepositStatusSensor, KrakenWithdrawStatusSensor

MODES = {
    "poke": {"mode": "poke", "deferrable": False},
    "reschedule": {"mode": "reschedule", "deferrable": False},
    "deferrable": {"mode": "poke", "deferrable": True},
}
VARIANTS = {
    "wait": {"timeout": 60, "soft_fail": False},
    "soft": {"timeout": 60, "soft_fail": True},
    "timeout": {"timeout": 2, "soft_fail": False},
    "softtimeout": {"timeout": 2, "soft_fail": True},
}
DEPOSIT_VARIANTS = {
    "wait": {"timeout": 60},
    "settled": {"timeout": 60, "settled_is_enough": True},
    "timeout": {"timeout": 2},
}


def conf(key: str) -> str:
    """A template reading the run's conf, empty when absent."""
    return "{{ dag_run.conf.get('" + key + "') or '' }}"


for mode, mode_args in MODES.items():
    for variant, variant_args in VARIANTS.items():
        with DAG(
            f"kraken_test_withdraw_{mode}_{variant}",
            schedule=None,
            start_date=datetime(2024, 1, 1),
            catchup=False,
            tags=["kraken-tests"],
        ):
            KrakenWithdrawStatusSensor(
                task_id="wait",
                asset="doge",
                refid=conf("refid"),
                since=conf("since"),
                poke_interval=0.2,
                **mode_args,
                **variant_args,
            )

    for variant, variant_args in DEPOSIT_VARIANTS.items():
        with DAG(
            f"kraken_test_deposit_{mode}_{variant}",
            schedule=None,
            start_date=datetime(2024, 1, 1),
            catchup=False,
            tags=["kraken-tests"],
        ):
            KrakenDepositStatusSensor(
                task_id="wait",
                asset="doge",
                refid=conf("refid"),
                txid=conf("txid"),
                method=conf("method"),
                address=conf("address"),
                min_amount=conf("min_amount"),
                since=conf("since"),
                poke_interval=0.2,
                **mode_args,
                **variant_args,
            )
