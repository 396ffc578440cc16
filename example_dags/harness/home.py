"""A throwaway Airflow home for running the example DAGs in this process."""

from __future__ import annotations

import os
import sys
from pathlib import Path

EXAMPLE_DAGS = Path(__file__).resolve().parent.parent
"""The example DAGs folder (the DAGs folder of every run here)."""


def use_airflow_home(home: Path) -> None:
    """Point Airflow at ``home`` with the example DAGs; must happen before anything imports airflow.

    Every other ``AIRFLOW*`` variable is dropped first, so a demo never touches the user's own
    Airflow (its database, connections or secrets backend).
    """
    if "airflow" in sys.modules:
        raise RuntimeError("use_airflow_home() must run before airflow is imported")
    for name in [name for name in os.environ if name.startswith("AIRFLOW")]:
        del os.environ[name]
    home.mkdir(parents=True, exist_ok=True)
    os.environ["AIRFLOW_HOME"] = str(home)
    os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(EXAMPLE_DAGS)
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"


def migrate_db() -> None:
    """Create (or upgrade) the metadata database: ``dag.test()`` needs one."""
    from airflow.utils.db import initdb

    initdb()
