"""A private PostgreSQL server for Airflow's metadata database: own data dir, loopback, a free port.

Installed with apt when the binaries are missing and we are root (as a user of Airflow would). The
server refuses to run as root, so under root it runs as the `postgres` user the package creates.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg2

from .network import free_port
from .processes import ManagedProcess, ProcessRegistry

DATABASE = "airflow"
ROLE = "airflow"


def find_binaries() -> Path | None:
    """The directory holding initdb and postgres (PATH first, then Debian's versioned dirs)."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("postgres"):
        return Path(os.path.realpath(on_path)).parent
    for directory in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (directory / "initdb").exists() and (directory / "postgres").exists():
            return directory
    return None


def ensure_installed() -> Path:
    """Find PostgreSQL, installing it with apt-get when missing and allowed (root)."""
    found = find_binaries()
    if found is not None:
        return found
    if os.geteuid() != 0:
        raise RuntimeError(
            "PostgreSQL is not installed; install it (apt-get install postgresql) or run as root"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", "postgresql"],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    found = find_binaries()
    if found is None:
        raise RuntimeError("apt-get installed postgresql but initdb/postgres were not found")
    return found


@dataclass
class Postgres:
    """One running server with an `airflow` role and database (trust auth on loopback only)."""

    bin_dir: Path
    data_dir: Path
    port: int
    process: ManagedProcess

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://{ROLE}@127.0.0.1:{self.port}/{DATABASE}"

    @property
    def dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user={ROLE} dbname={DATABASE}"

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        """Run one statement in a fresh connection and return its rows."""
        conn = psycopg2.connect(self.dsn)
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
                return list(cur.fetchall())
        finally:
            conn.close()


def start_postgres(registry: ProcessRegistry, root: Path, env: dict[str, str]) -> Postgres:
    """initdb a fresh cluster under `root`, start it, create the Airflow database; ready when it returns."""
    bin_dir = ensure_installed()
    user = "postgres" if os.geteuid() == 0 else None
    root.mkdir(parents=True, exist_ok=True)
    data_dir, socket_dir = root / "data", root / "run"
    socket_dir.mkdir(exist_ok=True)
    if user:
        shutil.chown(root, user, user)
        shutil.chown(socket_dir, user, user)
    subprocess.run(
        [str(bin_dir / "initdb"), "-D", str(data_dir), "-U", ROLE, "-A", "trust", "-E", "UTF8", "--no-sync"],
        check=True,
        env={**env, "LC_ALL": "C.UTF-8"},
        stdout=subprocess.DEVNULL,
        user=user,
        group=user,
        extra_groups=[] if user else None,
    )
    port = free_port()
    settings = {
        "listen_addresses": "127.0.0.1",
        "port": str(port),
        "unix_socket_directories": str(socket_dir),
        "max_connections": "200",
        "fsync": "off",
        "synchronous_commit": "off",
        "full_page_writes": "off",
        "shared_buffers": "64MB",
    }
    argv = [str(bin_dir / "postgres"), "-D", str(data_dir)]
    for name, value in settings.items():
        argv += ["-c", f"{name}={value}"]
    process = registry.start("postgres", argv, env, user=user, stop_signal=signal.SIGINT)
    server = Postgres(bin_dir, data_dir, port, process)
    _wait_ready(server)
    return server


def _wait_ready(server: Postgres, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    admin_dsn = f"host=127.0.0.1 port={server.port} user={ROLE} dbname=postgres"
    while True:
        try:
            conn = psycopg2.connect(admin_dsn, connect_timeout=2)
            break
        except psycopg2.OperationalError:
            if not server.process.alive() or time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL did not start:\n{server.process.tail()}") from None
            time.sleep(0.2)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE {DATABASE}")
    conn.close()
