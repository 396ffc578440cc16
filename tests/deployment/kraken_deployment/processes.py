"""Child processes of the deployment: started in their own session, logged to files, stopped for sure.

Each process starts a new session, and what it forks stays in that session: executor workers, task
processes (in process groups of their own), the triggerer's runner. Stopping a process kills its
session, orphans included, and its descendants (PostgreSQL's backends open sessions of their own). A
watchdog does the same for every session if the harness itself dies. (An environment marker would
not do: setproctitle overwrites what /proc/<pid>/environ shows.)
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil


@dataclass
class ManagedProcess:
    """One started process (the leader of its own session) with its log file."""

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
        """Signal the process group and wait; then kill whatever is left of its session."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, self.stop_signal)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=timeout)
        self.kill()

    def kill(self) -> None:
        """SIGKILL the process, its descendants and its session at once (as a crash or an OOM kill would).

        Descendants count too: PostgreSQL's backends start sessions of their own.
        """
        try:
            descendants = psutil.Process(self.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            descendants = []
        _kill_all([*descendants, *session_members({self.pid})])
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=10)


@dataclass
class ProcessRegistry:
    """Starts processes in sessions of their own, listed in a file the watchdog reads if we die."""

    log_dir: Path
    cleanup_dir: Path | None = None
    """Removed by the watchdog after reaping, when the harness died before removing it itself."""
    processes: list[ManagedProcess] = field(default_factory=list)
    _watchdog: subprocess.Popen[bytes] | None = None

    @property
    def sessions_file(self) -> Path:
        return self.log_dir / "sessions"

    def start(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str],
        *,
        user: str | None = None,
        stop_signal: int = signal.SIGTERM,
    ) -> ManagedProcess:
        """Start `argv` in a new session with its output in `<log_dir>/<name>.log`."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._ensure_watchdog()
        log_path = self.log_dir / f"{name}.log"
        with open(log_path, "ab") as log:
            popen = subprocess.Popen(
                list(argv),
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                user=user,
                group=user,
                extra_groups=[] if user else None,
            )
        with open(self.sessions_file, "a", encoding="ascii") as sessions:
            sessions.write(f"{popen.pid}\n")
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
        """Stop everything, newest first, then kill any straggler of their sessions; returns its pids."""
        for process in reversed(self.processes):
            process.stop()
        leftovers = reap({process.pid for process in self.processes})
        if self._watchdog is not None:
            self._watchdog.kill()
            self._watchdog.wait(timeout=10)
            self._watchdog = None
        return leftovers

    def _ensure_watchdog(self) -> None:
        """A detached process that reaps every session (and removes `cleanup_dir`) if this process dies."""
        if self._watchdog is None:
            argv = [sys.executable, __file__, "--watch", str(os.getpid()), str(self.sessions_file)]
            argv.append(str(self.cleanup_dir or ""))
            self._watchdog = subprocess.Popen(argv, stdin=subprocess.DEVNULL, start_new_session=True)


def session_members(sessions: set[int]) -> list[psutil.Process]:
    """Live processes (other than this one) belonging to any of these sessions."""
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.pid != os.getpid() and os.getsid(proc.pid) in sessions:
                found.append(proc)
        except (ProcessLookupError, PermissionError):
            continue
    return found


def reap(sessions: set[int]) -> list[int]:
    """SIGKILL every live process of these sessions; returns their pids."""
    members = session_members(sessions)
    _kill_all(members)
    return [proc.pid for proc in members]


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


def _watch(parent_pid: int, sessions_file: Path, cleanup_dir: str) -> None:
    """Wait for the harness process to go away, then reap its sessions and remove its temp dir."""
    while _alive(parent_pid):
        time.sleep(1)
    with contextlib.suppress(FileNotFoundError):
        reap({int(line) for line in sessions_file.read_text(encoding="ascii").split()})
    if cleanup_dir:
        shutil.rmtree(cleanup_dir, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


if __name__ == "__main__" and sys.argv[1:2] == ["--watch"]:
    _watch(int(sys.argv[2]), Path(sys.argv[3]), sys.argv[4])
