"""The deployment harness: a real Airflow (PostgreSQL, LocalExecutor, scheduler, dag-processor, triggerer,
API server) on loopback with the Kraken sandbox as Kraken."""

from __future__ import annotations

from .api import AirflowApi, ApiError, wait_until
from .deployment import AIRFLOW_COMPONENTS, DagRun, Deployment

__all__ = ["AIRFLOW_COMPONENTS", "AirflowApi", "ApiError", "DagRun", "Deployment", "wait_until"]
