"""`make demo` as a user runs it: a fresh interpreter, its own Airflow home and sandbox, a report."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_demo(*stories: str) -> subprocess.CompletedProcess[str]:
    """``python -m example_dags.demo [stories]`` from the repository root, without the tests' Airflow env."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    return subprocess.run(
        [sys.executable, "-m", "example_dags.demo", *stories],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=240,
    )


@pytest.mark.dag
def test_demo_reports_each_story_and_exits_zero_when_all_pass() -> None:
    done = run_demo("sweep-skipped", "gated-over-limit")
    assert done.returncode == 0, done.stdout + done.stderr
    report = done.stdout
    assert "══ 1/2 Scheduled sweep, an hour later" in report
    assert "══ 2/2 Pipeline-gated withdrawal, over the limit" in report
    assert "Kraken calls (sandbox call log)" in report
    assert "Sandbox ledger, before -> after" in report
    assert "  passed  Pipeline-gated withdrawal, over the limit" in report
    assert "2 stories, all passed" in report
    assert "[info" not in report  # Airflow's own log lines stay out of the story
    assert done.stderr == ""


def test_demo_refuses_an_unknown_story() -> None:
    done = run_demo("sweep", "no-such-story")
    assert done.returncode == 2
    assert "Unknown story in sweep no-such-story" in done.stdout
