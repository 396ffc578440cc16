"""uvicorn's HTTP protocol with three additions: TCP_NODELAY on every connection, each response written
in one piece (status line + headers + body in a single send, never a lone header segment that could meet
Nagle + delayed ACK), and a registry of live transports so a fault can close a connection unanswered."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Mapping
from typing import Any, cast

from uvicorn.protocols.utils import get_local_addr, get_remote_addr

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _Base
except ImportError:  # pragma: no cover - httptools is a declared extra of uvicorn[standard]
    from uvicorn.protocols.http.h11_impl import H11Protocol as _Base  # type: ignore[assignment]

ConnectionKey = tuple[Any, Any]

_TRANSPORTS: dict[ConnectionKey, asyncio.Transport] = {}


def transport_for(scope: Mapping[str, Any]) -> asyncio.Transport | None:
    """The (real) transport carrying the request of this ASGI scope, if still open."""
    server, client = scope.get("server"), scope.get("client")
    if server is None or client is None:
        return None
    return _TRANSPORTS.get((tuple(server), tuple(client)))


class CoalescingTransport:
    """Holds a response head (status line + headers) until the body is written, then sends both at once.

    uvicorn writes the head and the body separately; joined, a response is one segment and one syscall.
    A head with no body write after it (HEAD requests) is flushed when the response completes.
    """

    __slots__ = ("_held", "_transport")

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._held: bytes | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Send data, joining it to a held response head."""
        if self._held is not None:
            data, self._held = self._held + bytes(data), None
            self._transport.write(data)
        elif data[:5] == b"HTTP/" and data[-4:] == b"\r\n\r\n" and data[9:10] != b"1":
            self._held = bytes(data)  # a final response head (1xx interim answers go out at once)
        else:
            self._transport.write(data)

    def flush(self) -> None:
        """Send a held head on its own (no body came)."""
        if self._held is not None:
            data, self._held = self._held, None
            if not self._transport.is_closing():
                self._transport.write(data)

    def close(self) -> None:
        """Flush, then close."""
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        """Drop anything held and reset the connection."""
        self._held = None
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class SandboxHttpProtocol(_Base):
    """The default uvicorn protocol, plus TCP_NODELAY, coalesced writes and transport registration."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError, AttributeError):  # not a TCP socket
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._coalescer = CoalescingTransport(transport)
        super().connection_made(cast(asyncio.Transport, self._coalescer))
        self._sandbox_key = _connection_key(transport)
        if self._sandbox_key is not None:
            _TRANSPORTS[self._sandbox_key] = transport

    def on_response_complete(self) -> None:
        self._coalescer.flush()  # a bodiless response (HEAD) must not wait for the next write
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        key = getattr(self, "_sandbox_key", None)
        if key is not None:
            _TRANSPORTS.pop(key, None)
        super().connection_lost(exc)


def _connection_key(transport: asyncio.Transport) -> ConnectionKey | None:
    server, client = get_local_addr(transport), get_remote_addr(transport)
    if server is None or client is None:
        return None
    return (tuple(server), tuple(client))
