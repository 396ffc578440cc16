"""Child processes of the deployment: started in their own session, logged to files, stopped for sure.

Every process gets a marker in its environment, inherited by everything it forks (executor workers,
task processes, PostgreSQL backends, triggerer runners). Teardown and the watchdog find leftovers by
that marker, so nothing survives the harness even when a middle process died first.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil

MARKER = "KRAKEN_DEPLOYMENT_ID"


@dataclass
class ManagedProcess:
    """One started process with its log file."""

    name: str
    argv: list[str]
    log_path: Path
    popen: subprocess.Popen[bytes]
    stop_signal: int = signal.SIGTERM

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 40) -> str:
        """The last lines of the process's output."""
        return tail(self.log_path, lines)

    def stop(self, timeout: float = 20.0) -> None:
        """Signal the process group and wait; then kill whatever of its process tree is left."""
        tree = self.tree()
        if self.alive():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, self.stop_signal)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=timeout)
        _kill_all(tree)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=10)

    def kill(self) -> None:
        """SIGKILL the process and all its descendants at once (what a crash or an OOM kill looks like)."""
        _kill_all(self.tree())
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=10)

    def tree(self) -> list[psutil.Process]:
        """The process and its descendants (some run in process groups of their own)."""
        try:
            root = psutil.Process(self.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []


@dataclass
class ProcessRegistry:
    """Starts processes tagged with one deployment id and reaps every process carrying it."""

    log_dir: Path
    deployment_id: str
    processes: list[ManagedProcess] = field(default_factory=list)
    _watchdog: subprocess.Popen[bytes] | None = None

    def start(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str],
        *,
        user: str | None = None,
        cwd: Path | None = None,
        stop_signal: int = signal.SIGTERM,
    ) -> ManagedProcess:
        """Start `argv` in a new session with its output in `<log_dir>/<name>.log`."""
        self._ensure_watchdog()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{name}.log"
        with open(log_path, "ab") as log:
            popen = subprocess.Popen(
                list(argv),
                env={**env, MARKER: self.deployment_id},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                user=user,
                group=user,
                extra_groups=[] if user else None,
                cwd=cwd,
            )
        process = ManagedProcess(name, list(argv), log_path, popen, stop_signal)
        self.processes.append(process)
        return process

    def get(self, name: str) -> ManagedProcess:
        """The most recently started process of that name."""
        for process in reversed(self.processes):
            if process.name == name:
                return process
        raise KeyError(name)

    def stop_all(self) -> list[int]:
        """Stop everything, newest first, then kill any marked leftover; returns the leftovers' pids."""
        for process in reversed(self.processes):
            process.stop()
        leftovers = reap(self.deployment_id)
        if self._watchdog is not None:
            self._watchdog.kill()
            self._watchdog.wait(timeout=10)
            self._watchdog = None
        return leftovers

    def _ensure_watchdog(self) -> None:
        """A detached process that reaps the deployment if this process dies without tearing down."""
        if self._watchdog is None:
            self._watchdog = subprocess.Popen(
                [sys.executable, __file__, "--watch", str(os.getpid()), self.deployment_id],
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )


def marked_processes(deployment_id: str) -> list[psutil.Process]:
    """Live processes whose environment carries this deployment's marker."""
    found = []
    me = os.getpid()
    for proc in psutil.process_iter(["pid"]):
        if proc.pid == me:
            continue
        try:
            if proc.environ().get(MARKER) == deployment_id:
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def reap(deployment_id: str) -> list[int]:
    """SIGKILL every process of the deployment still alive; returns their pids."""
    leftovers = marked_processes(deployment_id)
    _kill_all(leftovers)
    return [proc.pid for proc in leftovers]


def _kill_all(processes: list[psutil.Process]) -> None:
    for proc in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    psutil.wait_procs(processes, timeout=10)


def tail(path: Path, lines: int = 40) -> str:
    """The last lines of a text file (empty if missing); Airflow's JSON log lines shown briefly."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 2000 * lines))
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(_brief(line) for line in text.splitlines()[-lines:])


def _brief(line: str) -> str:
    """`time level event | exception: message` for a structured log line, the line itself otherwise."""
    try:
        record = json.loads(line)
    except ValueError:
        return line
    if not isinstance(record, dict) or "event" not in record:
        return line
    errors = [f"{e.get('exc_type')}: {e.get('exc_value')}" for e in record.get("error_detail") or []]
    return " | ".join(
        [f"{str(record.get('timestamp', ''))[11:23]} {record.get('level', '')} {record['event']}", *errors]
    )


def _watch(parent_pid: int, deployment_id: str) -> None:
    """Wait for the harness process to go away, then reap what it left behind."""
    while _alive(parent_pid):
        time.sleep(1)
    reap(deployment_id)


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


if __name__ == "__main__" and sys.argv[1:2] == ["--watch"]:
    _watch(int(sys.argv[2]), sys.argv[3])
