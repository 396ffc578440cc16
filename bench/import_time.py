"""What importing the provider's operators and sensors adds to DAG parsing, next to the http provider.

Each figure is the median, over ``--runs`` fresh interpreters, of the time to import the module in a
process that has already imported ``airflow.sdk`` and its operator base classes (every DAG file with
an operator pays those anyway). Targets are interleaved round by round so machine noise spreads
evenly. A last ``python -X importtime`` run per target names the modules that cost the most.
Goal: the provider's operators and sensors together add at most 30 ms.

Run: .venv/bin/python bench/import_time.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict

GOAL_MS = 30.0
BASELINE = "import airflow.sdk\nfrom airflow.sdk import BaseOperator, BaseSensorOperator\n"
TARGETS: dict[str, tuple[str, ...]] = {
    "kraken operators": ("airflow_provider_kraken.operators.funding",),
    "kraken sensors": ("airflow_provider_kraken.sensors.funding",),
    "kraken operators + sensors": (
        "airflow_provider_kraken.operators.funding",
        "airflow_provider_kraken.sensors.funding",
    ),
    "http operator (reference)": ("airflow.providers.http.operators.http",),
}
PROVIDER_TARGET = "kraken operators + sensors"
TIMED = BASELINE + (
    "import importlib, sys, time\n"
    "start = time.perf_counter()\n"
    "for name in sys.argv[1:]:\n"
    "    importlib.import_module(name)\n"
    "print((time.perf_counter() - start) * 1000)\n"
)
MARKER = "----- baseline imported -----"
PROFILED = (
    BASELINE
    + f"import importlib, sys\nprint({MARKER!r}, file=sys.stderr, flush=True)\n"
    + ("for name in sys.argv[1:]:\n    importlib.import_module(name)\n")
)


def child_env() -> dict[str, str]:
    """A throwaway AIRFLOW_HOME, so importing Airflow touches nothing of the user's."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("AIRFLOW")}
    env.update(AIRFLOW_HOME=tempfile.mkdtemp(prefix="import-bench-"), AIRFLOW__CORE__LOAD_EXAMPLES="False")
    return env


def timed(modules: tuple[str, ...], env: dict[str, str]) -> float:
    """Milliseconds to import ``modules`` on top of the baseline, in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", TIMED, *modules], env=env, capture_output=True, text=True, check=True
    )
    return float(done.stdout.strip().splitlines()[-1])


def heaviest(modules: tuple[str, ...], env: dict[str, str], top: int = 6) -> list[tuple[str, float]]:
    """Self time (ms) of the newly imported modules, summed per package (per module for the provider)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", PROFILED, *modules],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    lines = done.stderr.split(MARKER, 1)[-1].splitlines()
    cost: defaultdict[str, float] = defaultdict(float)
    for line in lines:
        if not line.startswith("import time:") or "|" not in line:
            continue
        fields = line.removeprefix("import time:").split("|")
        if not fields[0].strip().isdigit():
            continue  # the header line
        name = fields[2].strip()
        group = name if name.startswith("airflow_provider_kraken") else _package(name)
        cost[group] += int(fields[0]) / 1000
    return sorted(cost.items(), key=lambda item: item[1], reverse=True)[:top]


def _package(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:3]) if parts[0] == "airflow" else parts[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11, help="fresh interpreters per target (default 11)")
    args = parser.parse_args()
    env = child_env()

    samples: dict[str, list[float]] = {name: [] for name in TARGETS}
    for round_number in range(args.runs):
        for name, modules in TARGETS.items():
            samples[name].append(timed(modules, env))
        print(f"round {round_number + 1}/{args.runs} done", file=sys.stderr, flush=True)

    medians = {name: statistics.median(values) for name, values in samples.items()}
    print(
        f"\nImport time on top of airflow.sdk + BaseOperator/BaseSensorOperator, median of {args.runs} runs"
    )
    print(f"{'target':<30} {'median ms':>10} {'min ms':>8} {'max ms':>8}")
    for name, values in samples.items():
        print(f"{name:<30} {medians[name]:>10.1f} {min(values):>8.1f} {max(values):>8.1f}")

    verdict = "within" if medians[PROVIDER_TARGET] <= GOAL_MS else "OVER"
    print(f"\n{PROVIDER_TARGET}: {medians[PROVIDER_TARGET]:.1f} ms, {verdict} the {GOAL_MS:.0f} ms goal")

    print("\nHeaviest new imports (self time, one -X importtime run each):")
    report: dict[str, list[tuple[str, float]]] = {}
    for name, modules in TARGETS.items():
        report[name] = heaviest(modules, env)
        costs = ", ".join(f"{module} {ms:.1f}" for module, ms in report[name])
        print(f"  {name}: {costs}")
    print("\n" + json.dumps({"medians_ms": medians, "goal_ms": GOAL_MS, "heaviest": report}))


if __name__ == "__main__":
    main()
