"""One Airflow deployment on loopback: PostgreSQL, API server, scheduler (LocalExecutor), dag-processor,
triggerer, and the Kraken sandbox (behind the signature recorder) as Kraken.

`Deployment.start()` returns once every component reports healthy and the DAGs are parsed;
`stop()` ends every process it started, also when start-up failed half-way.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import requests
from cryptography.fernet import Fernet

from airflow_provider_kraken.sandbox.admin import AdminClient
from airflow_provider_kraken.sandbox.server import READY_PREFIX, random_credentials

from .api import AirflowApi, wait_until
from .leaks import decrypt
from .network import free_port
from .postgres import Postgres, start_postgres
from .processes import ManagedProcess, ProcessRegistry, tail
from .recorder import SignatureRecorder
from .world import DeploymentKey, world_text

VENV_BIN = Path(sys.executable).parent
COMPONENTS = ("scheduler", "dag-processor", "triggerer")
AIRFLOW_COMPONENTS = ("api-server", *COMPONENTS)
HEALTH_KEYS = ("scheduler", "dag_processor", "triggerer")
"""What `/api/v2/monitor/health` reports on besides the database."""
PARALLELISM = 8
POOL = "kraken"
"""The pool every Kraken task of the deployment's DAGs runs in (one pool per API key, as documented)."""
POOL_SLOTS = 4
"""One Kraken task of the key runs at a time (deferred ones hold no slot): see docs/deployment.md."""
ADMIN_USER = "admin"
DOGE_BALANCE = "1000000"
"""Enough for every withdrawal of every scenario (the default world holds 100 DOGE)."""


@dataclass
class Sandbox:
    """The sandbox CLI process: its URL, admin client and the unlimited-tier key the tests set up with."""

    process: ManagedProcess
    url: str
    admin: AdminClient
    setup_key: str
    setup_secret: str


@dataclass
class Timings:
    """Seconds spent in each start-up phase."""

    phases: dict[str, float] = field(default_factory=dict)

    def mark(self, phase: str, started: float) -> None:
        self.phases[phase] = time.monotonic() - started

    def __str__(self) -> str:
        return ", ".join(f"{name} {seconds:.1f} s" for name, seconds in self.phases.items())


class Deployment:
    """Everything the deployment tests talk to; build with `Deployment(dags_folder)`, then `start()`."""

    def __init__(
        self, dags_folder: Path, *, parallelism: int = PARALLELISM, pool_slots: int = POOL_SLOTS
    ) -> None:
        self.dags_folder = dags_folder
        self.parallelism = parallelism
        self.pool_slots = pool_slots
        self.root = Path(tempfile.mkdtemp(prefix="kraken-deployment-"))
        self.root.chmod(0o711)  # PostgreSQL runs as its own user and must reach its data dir
        self.home = self.root / "airflow-home"
        self.registry = ProcessRegistry(self.root / "process-logs", cleanup_dir=self.root)
        self.key = DeploymentKey.generate()
        self.fernet_key = Fernet.generate_key().decode()
        self.admin_password = secrets.token_urlsafe(16)
        self.api_port = free_port()
        self.timings = Timings()
        self.sandbox: Sandbox | None = None
        self.recorder: SignatureRecorder | None = None
        self.postgres: Postgres | None = None
        self.api = AirflowApi(f"http://127.0.0.1:{self.api_port}", ADMIN_USER, self.admin_password)
        self.captured: list[tuple[str, str]] = []
        self._env: dict[str, str] = {}

    # -- life cycle ---------------------------------------------------------------------------------------
    def start(self, dag_ids: list[str], *, timeout: float = 240.0) -> None:
        """Bring everything up; ready once the components are healthy and `dag_ids` are parsed."""
        started = time.monotonic()
        self.home.mkdir(parents=True)
        self.sandbox = self._start_sandbox()
        self.sandbox.admin.set_balance("XXDG", DOGE_BALANCE)
        self.recorder = SignatureRecorder("127.0.0.1", int(self.sandbox.url.rsplit(":", 1)[1]))
        self.recorder.start()
        self.recorder.watch(self.key.otp.encode())
        self.timings.mark("sandbox", started)
        self.postgres = start_postgres(self.registry, self.root / "postgres", _clean_env())
        self.timings.mark("postgres", started)
        self._env = self._airflow_env()
        self._migrate()
        self.timings.mark("db migrate", started)
        self.registry.start("api-server", [str(VENV_BIN / "airflow"), "api-server"], self._env)
        for name in COMPONENTS:
            self.start_component(name)
        deadline = started + timeout
        wait_until(
            "the API server",
            self._api_up,
            timeout=deadline - time.monotonic(),
            diagnostics=lambda: self.diagnostics(["api-server"]),
        )
        self.api.login()
        self.api.ensure_pool(POOL, self.pool_slots)
        wait_until(
            "scheduler, dag-processor and triggerer to report healthy",
            self._healthy,
            timeout=deadline - time.monotonic(),
            diagnostics=self.diagnostics,
        )
        self.timings.mark("components healthy", started)
        for dag_id in dag_ids:
            wait_until(
                f"DAG {dag_id} to be parsed",
                partial(self.api.dag, dag_id),
                timeout=max(5.0, deadline - time.monotonic()),
                diagnostics=lambda: (
                    f"import errors: {self.api.import_errors()}\n{self.diagnostics(['dag-processor'])}"
                ),
            )
        self.timings.mark("DAGs parsed", started)

    def stop(self) -> list[int]:
        """Stop every process (newest first), the relay, and remove the temp dir; returns leftover pids."""
        leftovers = self.registry.stop_all()
        if self.recorder is not None:
            self.recorder.stop()
        shutil.rmtree(self.root, ignore_errors=True)
        return leftovers

    def start_component(self, name: str) -> ManagedProcess:
        """Start (or restart) `airflow <name>`."""
        return self.registry.start(name, [str(VENV_BIN / "airflow"), name], self._env)

    def component(self, name: str) -> ManagedProcess:
        return self.registry.get(name)

    def trigger(self, dag_id: str, run_id: str, conf: dict[str, Any] | None = None) -> DagRun:
        """Start a DAG run through the REST API."""
        self.api.trigger(dag_id, run_id, conf)
        return DagRun(self, dag_id, run_id)

    # -- what tests read ----------------------------------------------------------------------------------
    @property
    def admin(self) -> AdminClient:
        assert self.sandbox is not None
        return self.sandbox.admin

    @property
    def logs_dir(self) -> Path:
        """Where Airflow writes task and trigger logs."""
        return self.home / "logs"

    def capture_triggers(self) -> int:
        """Keep the trigger table's rows (kwargs decrypted) for the leak scan: rows vanish once used."""
        assert self.postgres is not None
        rows = self.postgres.query("SELECT id, classpath, kwargs FROM trigger")
        for trigger_id, classpath, kwargs in rows:
            self.captured.append((f"trigger {trigger_id} ({classpath})", decrypt(kwargs, self.fernet_key)))
        return len(rows)

    def diagnostics(self, names: Sequence[str] | None = None, lines: int = 30) -> str:
        """The last lines of each component's output, for failure messages."""
        chosen = names or AIRFLOW_COMPONENTS
        parts = []
        for process in self.registry.processes:
            if process.name in chosen:
                state = "running" if process.alive() else f"exited {process.popen.returncode}"
                parts.append(f"--- {process.name} (pid {process.pid}, {state}) ---\n{process.tail(lines)}")
        return "\n".join(parts)

    def task_log_tail(
        self, dag_id: str, run_id: str, task_id: str, lines: int = 40, map_index: int | None = None
    ) -> str:
        """The end of every log file of one task (all tries, triggers included; one map index if given)."""
        base = self.logs_dir / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
        if map_index is not None:
            base /= f"map_index={map_index}"
        return "\n".join(
            f"--- {path.relative_to(self.logs_dir)} ---\n{tail(path, lines)}"
            for path in sorted(base.rglob("*.log"))
        )

    # -- internals ----------------------------------------------------------------------------------------
    def _start_sandbox(self) -> Sandbox:
        world = self.root / "world.toml"
        world.write_text(world_text(self.key), encoding="utf-8")
        setup_key, setup_secret = random_credentials()
        admin_token = secrets.token_urlsafe(24)
        argv = [
            sys.executable, "-m", "airflow_provider_kraken.sandbox", "--config", str(world),
            "--api-key", setup_key, "--api-secret", setup_secret, "--tier", "unlimited",
            "--admin-token", admin_token,
        ]  # fmt: skip
        process = self.registry.start("sandbox", argv, {**_clean_env(), "PYTHONUNBUFFERED": "1"})
        ready = wait_until(
            "the sandbox to report ready",
            lambda: _ready_line(process),
            timeout=30,
            interval=0.1,
            diagnostics=lambda: process.tail(),
        )
        return Sandbox(process, ready["url"], AdminClient(ready["url"], admin_token), setup_key, setup_secret)

    def _airflow_env(self) -> dict[str, str]:
        assert self.postgres is not None and self.recorder is not None
        passwords = self.home / "passwords.json"
        passwords.write_text(json.dumps({ADMIN_USER: self.admin_password}), encoding="utf-8")
        api_url = f"http://127.0.0.1:{self.api_port}"
        settings = {
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": str(self.parallelism),
            "AIRFLOW__CORE__FERNET_KEY": self.fernet_key,
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api_url}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.postgres.url,
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.api_port),
            "AIRFLOW__API__BASE_URL": api_url,
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
            "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "2",
            "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "10",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "AIRFLOW_CONN_KRAKEN_DEFAULT": self.key.connection(self.recorder.url),
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONUNBUFFERED": "1",
        }
        return {**_clean_env(), **settings}

    def _migrate(self) -> None:
        result = subprocess.run(
            [str(VENV_BIN / "airflow"), "db", "migrate"],
            env=self._env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"airflow db migrate failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )

    def _api_up(self) -> bool:
        self._require_alive(["api-server"])
        try:
            return self._health() is not None
        except requests.RequestException:
            return False

    def _healthy(self) -> bool:
        self._require_alive(COMPONENTS)
        health = self._health() or {}
        return all(health.get(key, {}).get("status") == "healthy" for key in HEALTH_KEYS)

    def _health(self) -> dict[str, Any] | None:
        response = requests.get(f"{self.api.base_url}/api/v2/monitor/health", timeout=5)
        if response.status_code != 200:
            return None
        health: dict[str, Any] = response.json()
        return health

    def _require_alive(self, names: Sequence[str]) -> None:
        for name in names:
            process = self.registry.get(name)
            if not process.alive():
                raise RuntimeError(f"airflow {name} exited:\n{process.tail()}")


@dataclass(frozen=True)
class DagRun:
    """One DAG run of the deployment, with what tests ask about it."""

    deployment: Deployment
    dag_id: str
    run_id: str

    def wait(self, timeout: float = 180.0) -> str:
        """Wait until the run finished; its state (success or failed)."""
        run = self.deployment.api.wait_for_run(
            self.dag_id, self.run_id, timeout=timeout, diagnostics=self.deployment.diagnostics
        )
        return str(run["state"])

    def ti(self, task_id: str, map_index: int = -1) -> dict[str, Any]:
        """A task instance as the REST API shows it."""
        return self.deployment.api.task_instance(self.dag_id, self.run_id, task_id, map_index)

    def xcom(self, task_id: str, map_index: int = -1, key: str = "return_value") -> Any:
        return self.deployment.api.xcom(self.dag_id, self.run_id, task_id, key, map_index)

    def states(self) -> dict[str, int]:
        """How many task instances are in each state."""
        return self.deployment.api.states(self.dag_id, self.run_id)

    def task_instances(self, task_id: str) -> dict[int, dict[str, Any]]:
        """A task's instances by map index."""
        tis = self.deployment.api.task_instances(self.dag_id, self.run_id)
        return {ti["map_index"]: ti for ti in tis if ti["task_id"] == task_id}

    def logs(self, task_id: str, lines: int = 60, map_index: int | None = None) -> str:
        """The end of the task's log files (every try and trigger log; every map index unless given)."""
        return self.deployment.task_log_tail(self.dag_id, self.run_id, task_id, lines, map_index)


def _clean_env() -> dict[str, str]:
    """This process's environment without any Airflow setting (pytest's conftest sets its own)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}


def _ready_line(process: ManagedProcess) -> dict[str, str] | None:
    if not process.alive():
        raise RuntimeError(f"the sandbox exited:\n{process.tail()}")
    for line in tail(process.log_path, 50).splitlines():
        if line.startswith(READY_PREFIX):
            ready: dict[str, str] = json.loads(line[len(READY_PREFIX) :])
            return ready
    return None
