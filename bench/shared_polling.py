"""What shared status polling saves: WithdrawStatus calls per poll interval and memory per deferred wait.

Starts the sandbox as a child process (its CLI, unlimited rate tier) with 500 DOGE withdrawals that
stay Pending (manual lifecycle), then for N = 1, 50, 500 runs N KrakenWithdrawalTriggers for distinct
refids in one event loop for a fixed window, once sharing one poller and once each polling alone.
Calls are counted from the sandbox's call log; memory is the process's resident-set growth per
trigger (psutil). Goal: about one call per interval at N = 500 with sharing. Bounded: about a minute.

Run: .venv/bin/python bench/shared_polling.py [--interval 0.5] [--window 4]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
# An isolated Airflow home before anything imports airflow.
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="kraken-bench-airflow-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")

from airflow_provider_kraken.sandbox.server import SandboxProcess  # noqa: E402

CONN_ID = "kraken_bench"
ADMIN_URL, ADMIN_TOKEN = "KRAKEN_BENCH_ADMIN_URL", "KRAKEN_BENCH_ADMIN_TOKEN"
EPOCH = "KRAKEN_BENCH_EPOCH"
SIZES = (1, 50, 500)


@dataclass(frozen=True)
class Figures:
    """One run: N triggers, sharing on or off."""

    size: int
    shared: bool
    calls_per_interval: float
    seconds_between_looks: float
    rss_kib_per_trigger: float
    all_waiting: bool


async def measure(
    refids: list[str], *, shared: bool, interval: float, window: float, admin: object
) -> Figures:
    """Run one trigger per refid for ``window`` seconds, then cancel them (the triggerer's cleanup).

    Each trigger gets its record's time as ``start``, as the sensors pass it once they have seen
    the record, so a lookup never pages further back than the oldest waiter needs.
    """
    from airflow_provider_kraken.triggers.funding import POLLERS, KrakenWithdrawalTrigger

    process = psutil.Process()
    gc.collect()
    baseline = process.memory_info().rss
    before = await asyncio.to_thread(_last_seq, admin)
    triggers = [
        KrakenWithdrawalTrigger(
            kraken_conn_id=CONN_ID,
            asset="doge",
            refid=refid,
            start=seeded_time(refid),
            end_time=time.time() + 3600,
            poll_interval=interval,
            share_polls=shared,
        )
        for refid in refids
    ]
    tasks = [asyncio.create_task(anext(t.run())) for t in triggers]
    peak = baseline
    stop = time.monotonic() + window
    while time.monotonic() < stop:
        await asyncio.sleep(min(0.1, interval / 2))
        peak = max(peak, process.memory_info().rss)
    all_waiting = not any(task.done() for task in tasks)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert len(POLLERS) == 0, "every poller must be gone once its waiters are"
    calls = await asyncio.to_thread(_count_calls, admin, before)
    return Figures(
        size=len(refids),
        shared=shared,
        calls_per_interval=calls / (window / interval),
        seconds_between_looks=window / ((calls if shared else calls / len(refids)) or 1),
        rss_kib_per_trigger=(peak - baseline) / 1024 / len(refids),
        all_waiting=all_waiting,
    )


def _last_seq(admin: object) -> int:
    calls = admin.calls()  # type: ignore[attr-defined]
    return int(calls[-1].seq) if calls else 0


def _count_calls(admin: object, since: int) -> int:
    return len(admin.calls(since=since, method="WithdrawStatus"))  # type: ignore[attr-defined]


def refid_of(index: int) -> str:
    """The refid of the index-th seeded withdrawal."""
    return f"ABENCH{index:04d}-SHARED-POLLS"


def seeded_time(refid: str) -> int:
    """When the seeded withdrawal was made: one per second, newest first, back from the run's start."""
    return int(os.environ[EPOCH]) - int(refid[6:10])


def seed_withdrawals(admin: object, count: int) -> list[str]:
    """A fresh sandbox world holding ``count`` Pending DOGE withdrawals (manual lifecycle: they stay so)."""
    os.environ[EPOCH] = str(int(time.time()))
    records = [
        {
            "refid": refid_of(i),
            "key": "XDG_Wallet",
            "amount": "16",
            "fee": "4",
            "time": seeded_time(refid_of(i)),
            "status": "Pending",
        }
        for i in range(count)
    ]
    overrides = {"lifecycle": {"manual": True}, "accounts": {"main": {"withdrawals": records}}}
    admin.reset(overrides=overrides)  # type: ignore[attr-defined]
    return [record["refid"] for record in records]


def table(rows: list[tuple[Figures, Figures]], interval: float, window: float) -> str:
    """One line per N, sharing on next to sharing off."""
    columns = ("calls/interval", "s between looks", "RSS KiB/trigger")
    head = " | ".join(f"{name:>33}" for name in columns)
    sub = " | ".join(f"{'shared':>16} {'not shared':>16}" for _ in columns)
    lines = [
        f"N triggers on distinct refids, one asset, one event loop; poll interval {interval:g} s, "
        f"{window:g} s per run.",
        "calls/interval: WithdrawStatus calls in the sandbox call log per poll interval.",
        "s between looks: how stale a waiter's status gets (the interval, unless calls cannot keep up).",
        "RSS KiB/trigger: peak resident-set growth of the process during the run, divided by N.",
        "",
        f"{'N':>5} | {head}",
        f"{'':>5} | {sub}",
        "-" * (8 + len(sub)),
    ]
    for shared, alone in rows:
        cells = (
            (shared.calls_per_interval, alone.calls_per_interval, ".2f"),
            (shared.seconds_between_looks, alone.seconds_between_looks, ".2f"),
            (shared.rss_kib_per_trigger, alone.rss_kib_per_trigger, ".1f"),
        )
        line = " | ".join(f"{a:>16{fmt}} {b:>16{fmt}}" for a, b, fmt in cells)
        lines.append(f"{shared.size:>5} | {line}")
    return "\n".join(lines)


def run_one(size: int, shared: bool, interval: float, window: float) -> Figures:
    """One configuration in this (fresh) process: warm up on a spare refid, then measure."""
    from airflow_provider_kraken.sandbox.admin import AdminClient

    admin = AdminClient(os.environ[ADMIN_URL], os.environ[ADMIN_TOKEN])
    refids = [refid_of(i) for i in range(size + 1)]
    # Warm up imports, the asset cache and the first connection on a refid not measured.
    asyncio.run(measure(refids[-1:], shared=True, interval=interval, window=0.5, admin=admin))
    return asyncio.run(measure(refids[:size], shared=shared, interval=interval, window=window, admin=admin))


def spawn(size: int, shared: bool, interval: float, window: float) -> Figures:
    """Run one configuration in a child process, so no run inherits another's heap."""
    argv = [sys.executable, __file__, "--interval", str(interval), "--window", str(window)]
    argv += ["--one", str(size), "--shared" if shared else "--alone"]
    done = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=120)
    return Figures(**json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interval", type=float, default=0.5, help="trigger poll interval in seconds")
    parser.add_argument("--window", type=float, default=3.0, help="seconds each configuration runs")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--shared", dest="shared", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--alone", dest="shared", action="store_false", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(asdict(run_one(args.one, args.shared, args.interval, args.window))))
        return 0

    started = time.monotonic()
    with SandboxProcess(tier="unlimited") as sandbox:
        extra = {"rate_tier": "unlimited", "timeout": 30}
        conn = {"conn_type": "kraken", "login": sandbox.api_key, "password": sandbox.api_secret}
        os.environ[f"AIRFLOW_CONN_{CONN_ID.upper()}"] = json.dumps(
            {**conn, "host": sandbox.url, "extra": extra}
        )
        os.environ[ADMIN_URL], os.environ[ADMIN_TOKEN] = sandbox.url, sandbox.admin_token
        seed_withdrawals(sandbox.admin, max(SIZES) + 1)
        rows = []
        for size in SIZES:
            shared, alone = (spawn(size, flag, args.interval, args.window) for flag in (True, False))
            rows.append((shared, alone))
            for figures in (shared, alone):
                if not figures.all_waiting:
                    print(f"warning: a wait ended early (N={size}, shared={figures.shared})", file=sys.stderr)
    print(table(rows, args.interval, args.window))
    print(f"\n(finished in {time.monotonic() - started:.0f} s; sandbox and each run in its own process)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
