"""Example DAGs for airflow-provider-kraken, and `make demo`, which runs each of them against the sandbox."""
