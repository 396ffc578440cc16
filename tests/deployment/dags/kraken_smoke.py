"""Smoke DAG: proves a worker can run a task and reach Kraken (the sandbox) through the connection."""

from __future__ import annotations

from airflow.sdk import dag, task


@dag(dag_id="kraken_smoke", schedule=None, catchup=False, tags=["kraken-deployment"])
def kraken_smoke() -> None:
    @task
    def doge_balance() -> str:
        from airflow_provider_kraken.hooks.kraken import KrakenHook

        return f"{KrakenHook().balance()['XXDG']:f}"

    doge_balance()


kraken_smoke()
