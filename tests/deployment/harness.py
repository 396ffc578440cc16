"""Bring the deployment of the deployment tests up by hand: `.venv/bin/python tests/deployment/harness.py`.

Starts PostgreSQL, the Airflow components and the sandbox exactly as the test session does, runs the
smoke DAG, prints how long each phase took, and stops everything. With `--hold` it stays up (UI
and REST API on loopback, credentials printed) until Ctrl-C.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

from kraken_deployment import Deployment

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--hold", action="store_true", help="keep the deployment up until Ctrl-C")
    args = parser.parse_args(argv)
    started = time.monotonic()
    deployment = Deployment(HERE / "dags")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        deployment.start(sorted(path.stem for path in (HERE / "dags").glob("kraken_*.py")))
        print(f"up in {time.monotonic() - started:.1f} s: {deployment.timings}", flush=True)
        run = deployment.trigger("kraken_smoke", f"smoke-{int(time.time())}")
        state = run.wait(120)
        outcome = run.xcom("doge_balance") if state == "success" else run.logs("doge_balance")
        print(f"smoke DAG: {state} ({outcome})")
        if args.hold:
            assert deployment.sandbox is not None
            print(f"Airflow {deployment.api.base_url}  user admin  password {deployment.admin_password}")
            print(
                f"sandbox {deployment.sandbox.url}  logs {deployment.root}  (Ctrl-C stops everything)",
                flush=True,
            )
            signal.pause()
        return 0 if state == "success" else 1
    except KeyboardInterrupt:
        return 0
    finally:
        stopping = time.monotonic()
        leftovers = deployment.stop()
        print(
            f"stopped in {time.monotonic() - stopping:.1f} s, total {time.monotonic() - started:.1f} s"
            f"{f', killed leftovers {leftovers}' if leftovers else ''}"
        )


if __name__ == "__main__":
    sys.exit(main())
