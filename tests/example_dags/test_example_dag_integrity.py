"""Every example DAG imports cleanly: no import errors and not a single warning, in a fresh interpreter."""

from __future__ import annotations

import json
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
FOLDER = ROOT / "example_dags"
DAG_FILES = {
    "kraken_sweep.py": "kraken_sweep_to_cold_wallet",
    "kraken_gated_withdrawal.py": "kraken_gated_withdrawal",
    "kraken_wait_for_deposit.py": "kraken_wait_for_deposit",
    "kraken_cancel_withdrawal.py": "kraken_cancel_withdrawal",
}
# Airflow's own modules are imported first. Then each DAG file runs on its own, with every warning
# recorded (whatever the DAG files import - the provider, the standard provider's HITL operator -
# is imported here for the first time). Then Airflow's DagBag parses the folder as a dag-processor does.
PARSE = """
import json, pathlib, runpy, warnings
from airflow.dag_processing.dagbag import DagBag
folder = pathlib.Path({folder!r})
files, file_warnings = [], []
for path in sorted(folder.glob("*.py")):
    if path.name in ("__init__.py", "demo.py"):
        continue
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        runpy.run_path(str(path), run_name="example_" + path.stem)
    files.append(path.name)
    file_warnings += [f"{{w.filename}}:{{w.lineno}}: {{w.category.__name__}}: {{w.message}}" for w in caught]
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    bag = DagBag(dag_folder=str(folder))
print(json.dumps({{
    "files": files,
    "file_warnings": file_warnings,
    "bag": {{dag_id: sorted(dag.task_ids) for dag_id, dag in bag.dags.items()}},
    "import_errors": bag.import_errors,
    "captured": {{path: list(w) for path, w in bag.captured_warnings.items()}},
    "bag_warnings": [f"{{w.filename}}: {{w.category.__name__}}: {{w.message}}" for w in caught],
}}))
"""
# Airflow 3.3's .airflowignore matcher uses pathspec's GitWildMatchPattern, deprecated in pathspec 1.x:
# a warning of the folder scan itself (any DAGs folder with an .airflowignore), not of a DAG file.
DISCOVERY = "GitWildMatchPattern ('gitwildmatch') is deprecated"


@cache
def parsed() -> dict[str, Any]:
    """The example DAGs folder, parsed in a new interpreter (so import-time warnings fire again)."""
    done = subprocess.run(
        [sys.executable, "-c", PARSE.format(folder=str(FOLDER))],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        timeout=180,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_each_example_dag_file_imports_without_warnings() -> None:
    assert set(parsed()["files"]) == set(DAG_FILES)
    assert parsed()["file_warnings"] == []


def test_the_dag_processor_parses_the_folder_without_errors_or_warnings() -> None:
    assert parsed()["import_errors"] == {}
    assert parsed()["captured"] == {}
    assert [w for w in parsed()["bag_warnings"] if DISCOVERY not in w] == []
    assert set(parsed()["bag"]) == set(DAG_FILES.values())


def test_the_demo_and_its_harness_are_not_parsed_as_dags() -> None:
    """.airflowignore keeps the parser off demo.py and harness/ (they would not import as DAG files)."""
    ignored = (FOLDER / ".airflowignore").read_text(encoding="utf-8").split()
    assert {"demo.py", "harness/", "__init__.py"} <= set(ignored)
    assert parsed()["bag"]["kraken_gated_withdrawal"] == sorted(
        ["reconcile", "check_limit", "approve", "withdraw", "wait_for_withdrawal"]
    )
