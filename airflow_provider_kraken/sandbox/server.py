"""Running the sandbox: the uvicorn server, an in-process runner (background thread) and a subprocess runner.

Both runners bind 127.0.0.1 on a free port by default and expose the same attributes: `url`, `api_key`,
`api_secret` (a default-account key with every funding permission), `admin_token` and `admin`.
"""

from __future__ import annotations

import base64
import json
import os
import queue
import secrets
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

from .admin import AdminClient

READY_PREFIX = "kraken-sandbox ready "
"""The CLI prints exactly one line starting with this, followed by a JSON object, once it serves."""


def random_credentials() -> tuple[str, str]:
    """A Kraken-looking key (56 base64 chars) and secret (base64 of 64 bytes)."""
    return base64.b64encode(secrets.token_bytes(42)).decode(), base64.b64encode(
        secrets.token_bytes(64)
    ).decode()


def bind_socket(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening TCP socket (port 0 = any free port), ready to hand to uvicorn."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


def socket_url(sock: socket.socket) -> str:
    """http://host:port of a bound socket."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def make_server(app: Any) -> Any:
    """A uvicorn server for the app: httptools + uvloop when available, quiet, long keep-alive."""
    import uvicorn

    from .protocol import SandboxHttpProtocol

    config = uvicorn.Config(
        app,
        http=SandboxHttpProtocol,
        loop="auto",
        lifespan="off",
        access_log=False,
        log_config=None,
        log_level="warning",
        server_header=False,
        date_header=False,
        timeout_keep_alive=300,
        timeout_graceful_shutdown=2,
        proxy_headers=False,
    )
    return uvicorn.Server(config)


def build_host(
    *,
    world: str | Path | None = None,
    world_text: str | None = None,
    api_key: str | None = None,
    api_secret: str | None = None,
    tier: str = "pro",
    admin_token: str | None = None,
) -> Any:
    """A SandboxHost for a world file/text (default world otherwise) plus one startup key."""
    from .core import ExtraKey, SandboxHost
    from .world import default_world_text

    if world_text is None:
        world_text = Path(world).read_text(encoding="utf-8") if world is not None else default_world_text()
    extra = (ExtraKey("server", api_key, api_secret, tier),) if api_key and api_secret else ()
    return SandboxHost(world_text, extra_keys=extra, admin_token=admin_token or secrets.token_urlsafe(24))


class _Runner:
    """What both runners expose."""

    url: str
    api_key: str
    api_secret: str
    admin_token: str
    _admin: AdminClient | None = None

    @property
    def admin(self) -> AdminClient:
        """An AdminClient for this server."""
        if self._admin is None:
            self._admin = AdminClient(self.url, self.admin_token)
        return self._admin

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Start serving; returns once the server answers."""
        raise NotImplementedError

    def stop(self) -> None:
        """Stop serving and release the port."""
        raise NotImplementedError


class SandboxServer(_Runner):
    """The sandbox in a background thread of this process (what the pytest fixture uses)."""

    def __init__(
        self,
        *,
        world: str | Path | None = None,
        world_text: str | None = None,
        api_key: str | None = None,
        api_secret: str | None = None,
        tier: str = "pro",
        host: str = "127.0.0.1",
        port: int = 0,
        admin_token: str | None = None,
    ) -> None:
        if api_key is None or api_secret is None:
            api_key, api_secret = random_credentials()
        self.api_key, self.api_secret = api_key, api_secret
        self._kwargs: dict[str, Any] = {
            "world": world,
            "world_text": world_text,
            "api_key": api_key,
            "api_secret": api_secret,
            "tier": tier,
            "admin_token": admin_token,
        }
        self._bind = (host, port)
        self._thread: threading.Thread | None = None
        self._server: Any = None
        self._sock: socket.socket | None = None
        self._error: BaseException | None = None

    def start(self) -> None:
        """Bind, start uvicorn in a daemon thread, wait until it serves."""
        from .app import create_app

        host = build_host(**self._kwargs)
        self.admin_token = host.admin_token
        self._sock = bind_socket(*self._bind)
        self.url = socket_url(self._sock)
        self._server = make_server(create_app(host))
        self._thread = threading.Thread(target=self._run, name=f"kraken-sandbox {self.url}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"kraken sandbox failed to start: {self._error!r}")
            time.sleep(0.005)

    def _run(self) -> None:
        try:
            self._server.run(sockets=[self._sock])
        except BaseException as exc:  # noqa: BLE001 - reported by start(); the thread must not die raising
            self._error = exc

    def stop(self) -> None:
        """Ask uvicorn to exit and wait for the thread."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None


class SandboxProcess(_Runner):
    """The sandbox as a child process started through the CLI (benchmarks, multi-process tests)."""

    def __init__(
        self,
        *,
        world: str | Path | None = None,
        api_key: str | None = None,
        api_secret: str | None = None,
        tier: str = "pro",
        host: str = "127.0.0.1",
        port: int = 0,
        admin_token: str | None = None,
        python: str = sys.executable,
        startup_timeout: float = 30.0,
    ) -> None:
        if api_key is None or api_secret is None:
            api_key, api_secret = random_credentials()
        self.api_key, self.api_secret = api_key, api_secret
        self.admin_token = admin_token or secrets.token_urlsafe(24)
        self._argv = [
            python,
            "-m",
            "airflow_provider_kraken.sandbox",
            "--host",
            host,
            "--port",
            str(port),
            "--api-key",
            api_key,
            "--api-secret",
            api_secret,
            "--tier",
            tier,
            "--admin-token",
            self.admin_token,
        ]
        if world is not None:
            self._argv += ["--config", str(world)]
        self._timeout = startup_timeout
        self.process: subprocess.Popen[str] | None = None
        self.ready: dict[str, Any] = {}

    @property
    def pid(self) -> int:
        """The child's process id."""
        assert self.process is not None
        return self.process.pid

    def start(self) -> None:
        """Launch the CLI and wait for its ready line."""
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            self._argv,
            stdout=subprocess.PIPE,
            stderr=None,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self.process.stdout is not None
        lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=_pump, args=(self.process.stdout, lines), daemon=True).start()
        deadline = time.monotonic() + self._timeout
        while True:
            try:
                line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                line = None
            if line is None:
                self.stop()
                raise RuntimeError("kraken sandbox process did not report ready")
            if line.startswith(READY_PREFIX):
                self.ready = json.loads(line[len(READY_PREFIX) :])
                self.url = self.ready["url"]
                return

    def stop(self) -> None:
        """SIGTERM (graceful), then SIGKILL if it lingers."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None


def _pump(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    """Forward the child's stdout lines (and keep draining it so the pipe never fills)."""
    for line in stream:
        lines.put(line.rstrip("\n"))
    lines.put(None)
