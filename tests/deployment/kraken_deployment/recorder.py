"""A transparent TCP relay in front of the sandbox that keeps every `API-Sign` header it forwards.

The sandbox's call log stores no signatures, yet the leak scan must look for every signature the
workers and the triggerer computed. Relaying bytes unchanged keeps the sandbox's faults intact: a
dropped connection upstream is dropped downstream, a delayed answer arrives late.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
from collections.abc import Callable

SIGN_HEADER = re.compile(rb"(?im)^api-sign:[ \t]*([A-Za-z0-9+/=]+)[ \t]*\r?$")


class SignatureRecorder:
    """Relays 127.0.0.1:<port> to the sandbox and records signatures and request counts."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.signatures: set[str] = set()
        self.needles: dict[bytes, int] = {}
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Serve in a daemon thread; returns once listening."""
        self._thread = threading.Thread(target=self._run, name="kraken-signature-recorder", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("signature recorder did not start")

    def stop(self) -> None:
        """Stop relaying (again is fine)."""
        if self._thread is None or not self._thread.is_alive():
            return
        assert self._loop is not None and self._server is not None
        self._loop.call_soon_threadsafe(self._server.close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def watch(self, needle: bytes) -> None:
        """Count how often `needle` (e.g. the OTP) appears in what clients send from now on."""
        with self._lock:
            self.needles.setdefault(needle, 0)

    def count(self, needle: bytes) -> int:
        """How often a watched needle was seen."""
        with self._lock:
            return self.needles.get(needle, 0)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._server = loop.run_until_complete(asyncio.start_server(self._relay, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    async def _relay(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            up_r, up_w = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_w.close()
            return
        pending = bytearray()

        def scan(chunk: bytes) -> None:
            pending.extend(chunk)
            cut = pending.rfind(b"\n") + 1
            lines, pending[:cut] = bytes(pending[:cut]), b""
            with self._lock:
                self.signatures.update(m.decode() for m in SIGN_HEADER.findall(lines))
                for needle in self.needles:
                    self.needles[needle] += chunk.count(needle)

        await asyncio.gather(_pump(client_r, up_w, scan), _pump(up_r, client_w, None))


async def _pump(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, keep: Callable[[bytes], None] | None
) -> None:
    """Copy until EOF or error, then close the other side (so a drop upstream is a drop downstream)."""
    try:
        while chunk := await reader.read(65536):
            if keep is not None:
                keep(chunk)
            writer.write(chunk)
            await writer.drain()
    except OSError:
        pass
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
