"""The CLI as users run it (a subprocess), and the subprocess runner built on it."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_kraken.sandbox.server import READY_PREFIX, SandboxProcess, random_credentials
from airflow_provider_kraken.sandbox.world import default_world_text

from .conftest import Kraken

CONSOLE_SCRIPT = Path(sys.executable).with_name("kraken-sandbox")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start(*args: str) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    """Run the CLI; return the process and its parsed ready line."""
    process = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_kraken.sandbox", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.startswith(READY_PREFIX), (line, process.stderr.read() if process.stderr else "")
    return process, json.loads(line[len(READY_PREFIX) :])


def stop(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=10)


def test_cli_serves_the_given_key_on_the_given_port(tmp_path: Path) -> None:
    key, secret = random_credentials()
    port = free_port()
    world = tmp_path / "world.toml"
    world.write_text(default_world_text().replace('XXDG = "100"', 'XXDG = "4242"'))
    process, ready = start(
        "--port", str(port), "--api-key", key, "--api-secret", secret, "--config", str(world)
    )
    try:
        assert ready["url"] == f"http://127.0.0.1:{port}"
        assert (ready["api_key"], ready["api_secret"], ready["pid"]) == (key, secret, process.pid)
        client = Kraken(ready["url"], key, secret)
        assert client.result("Balance")["XXDG"] == "4242.00000000"
        assert (
            client.result("WithdrawInfo", asset="doge", key="XDG_Wallet", amount="100")["fee"] == "4.00000000"
        )
        assert process.stdout is not None
    finally:
        stop(process)
    assert process.stdout is not None and process.stdout.read() == ""  # exactly one line, ever


def test_cli_port_zero_and_random_credentials() -> None:
    process, ready = start("--port", "0", "--tier", "unlimited")
    try:
        assert ready["url"].startswith("http://127.0.0.1:") and not ready["url"].endswith(":0")
        client = Kraken(ready["url"], ready["api_key"], ready["api_secret"])
        assert [client.call("Balance")["error"] for _ in range(30)] == [[]] * 30  # unlimited tier
        from airflow_provider_kraken.sandbox.admin import AdminClient

        admin = AdminClient(ready["url"], ready["admin_token"])
        assert admin.keys()["server"].tier == "unlimited"
    finally:
        stop(process)


def test_cli_refuses_bad_input(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text(default_world_text().replace('fee = "4"', "fee = -4"))
    result = subprocess.run(
        [sys.executable, "-m", "airflow_provider_kraken.sandbox", "--config", str(broken)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "cannot load world" in result.stderr
    assert result.stdout == ""
    lonely = subprocess.run(
        [sys.executable, "-m", "airflow_provider_kraken.sandbox", "--api-key", "abc"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert lonely.returncode == 2
    assert "--api-key and --api-secret go together" in lonely.stderr


def test_cli_reports_a_busy_port() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "airflow_provider_kraken.sandbox", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


def test_console_script_prints_the_default_world() -> None:
    result = subprocess.run(
        [str(CONSOLE_SCRIPT), "--print-default-world"], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0
    assert result.stdout == default_world_text()


def test_subprocess_runner() -> None:
    with SandboxProcess(tier="unlimited") as runner:
        assert runner.admin.health() is True
        client = Kraken(runner.url, runner.api_key, runner.api_secret)
        assert client.result("Balance")["XXDG"] == "100.00000000"
        process = runner.process
        assert process is not None
    assert process.poll() is not None


def test_subprocess_runner_reports_startup_failure(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("this is not toml = = =")
    with pytest.raises(RuntimeError, match="did not report ready"):
        SandboxProcess(world=broken).start()
