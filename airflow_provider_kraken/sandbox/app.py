"""The web layer (Starlette on uvicorn): Kraken's URL space, body limits, and how faults reach the wire.

Every API error is HTTP 200 with `{"error": [...]}`; nothing a client sends can produce a traceback page.
Admin routes live under `/_sandbox/` (see `adminapi.py`), outside anything the signed API dispatches.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.types import Message, Receive, Scope, Send

from . import errors
from .adminapi import admin_routes
from .calllog import CallRecord
from .core import SandboxHost, error_body, reply_body
from .faults import Fault, FaultKind
from .protocol import transport_for

log = logging.getLogger(__name__)

JSON_TYPE = (b"content-type", b"application/json; charset=utf-8")
CLOSE = (b"connection", b"close")
DRAIN_LIMIT = 64 * 1024 * 1024
"""Bodies above the world's cap are read and discarded up to this size (so the client still gets the JSON
error); beyond it the connection is closed after the error."""

_REASONS = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Temporarily Unavailable",
    504: "Gateway Time-out",
    520: "Web server is returning an unknown error",
    521: "Web server is down",
    522: "Connection timed out",
    524: "A timeout occurred",
}


def html_error_page(status: int) -> bytes:
    """A Cloudflare-style HTML error page, as clients see when Kraken's edge fails."""
    reason = _REASONS.get(status, "Error")
    return (
        f"<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
        f"<center><h1>{status} {reason}</h1></center>\r\n<hr><center>cloudflare</center>\r\n"
        "</body>\r\n</html>\r\n"
    ).encode()


async def send_bytes(
    send: Send, body: bytes, *, status: int = 200, content_type: bytes | None = None, close: bool = False
) -> None:
    """One response: status line + headers, then the body."""
    headers = [
        (b"content-type", content_type) if content_type else JSON_TYPE,
        (b"content-length", b"%d" % len(body)),
    ]
    if close:
        headers.append(CLOSE)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def read_body(receive: Receive, declared: bytes | None, cap: int) -> tuple[bytes, bool, bool]:
    """(body, larger than the cap, connection must close). Oversized bodies are drained, not kept."""
    if declared is not None and declared.isdigit() and int(declared) > DRAIN_LIMIT:
        return b"", True, True
    message = await receive()
    if message["type"] == "http.request" and not message.get("more_body") and len(message["body"]) <= cap:
        return message["body"], False, False  # the usual case: the whole body in one message
    return await _read_rest(receive, message, cap)


async def _read_rest(receive: Receive, message: Message, cap: int) -> tuple[bytes, bool, bool]:
    """The general case of read_body, from its first message on."""
    chunks: list[bytes] = []
    size = 0
    while True:
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size <= cap:
            chunks.append(chunk)
        elif size > DRAIN_LIMIT:
            return b"", True, True
        if not message.get("more_body", False):
            break
        message = await receive()
    return (b"".join(chunks), False, False) if size <= cap else (b"", True, False)


def _text(value: bytes | None) -> str | None:
    """A header value as text (HTTP headers are latin-1)."""
    return None if value is None else value.decode("latin-1")


async def drop_connection(scope: Scope, receive: Receive, send: Send, mode: str) -> None:
    """Close the client's connection without writing a byte of response (FIN, or RST with mode='reset')."""
    transport = transport_for(scope)
    if transport is None:  # pragma: no cover - only when served without the sandbox's protocol class
        # Promise a body, then fail mid-response: the server aborts the connection, the client surely errors.
        await send({"type": "http.response.start", "status": 502, "headers": [(b"content-length", b"64")]})
        raise ConnectionAbortedError("sandbox fault: response dropped")
    if mode == "reset":
        transport.abort()
    else:
        transport.close()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(2):
            while (await receive())["type"] != "http.disconnect":
                pass


def _mark(record: CallRecord, fault: Fault) -> None:
    record.fault, record.fault_id = fault.kind.value, fault.id


async def _deliver(send: Send, record: CallRecord, close: bool = False) -> None:
    record.reply, record.http_status = record.outcome, 200
    await send_bytes(send, reply_body(record), close=close)


async def serve_call(
    fault: Fault,
    process: Callable[[], CallRecord],
    skip: Callable[[], CallRecord],
    scope: Scope,
    receive: Receive,
    send: Send,
) -> None:
    """Run one call with a fault applied before or after processing, as the fault specifies."""
    if fault.kind is FaultKind.DELAY:
        if fault.execute:
            record = process()
            _mark(record, fault)
            await asyncio.sleep(fault.seconds)
        else:
            await asyncio.sleep(fault.seconds)
            record = process()
            _mark(record, fault)
        await _deliver(send, record)
        return
    record = process() if fault.execute else skip()
    _mark(record, fault)
    if fault.kind is FaultKind.DROP:
        record.reply, record.http_status = "dropped", None
        await drop_connection(scope, receive, send, fault.mode)
    elif fault.kind is FaultKind.HTTP_ERROR:
        record.reply, record.http_status = f"http {fault.status}", fault.status
        await send_bytes(send, html_error_page(fault.status), status=fault.status, content_type=b"text/html")
    else:
        code = fault.error_code() or errors.INTERNAL_ERROR
        record.reply, record.http_status = code, 200
        await send_bytes(send, error_body(code))


class _Endpoint:
    """Base of the API endpoints: an exception escaping a handler becomes Kraken's `EGeneral:Internal error`
    (or, once the answer has started, a closed connection) - never a traceback page."""

    def __init__(self, host: SandboxHost) -> None:
        self.host = host

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.handle(scope, receive, send)
        except Exception as exc:
            log.exception("sandbox: unhandled error for %s", scope.get("path"))
            try:
                await send_bytes(send, error_body(errors.INTERNAL_ERROR), close=True)
            except RuntimeError:  # the answer had started: let uvicorn close the connection
                raise exc from None

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request."""
        raise NotImplementedError


class PrivateApi(_Endpoint):
    """`POST /0/private/<Method>`."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one private call."""
        state = self.host.state
        method = scope["path_params"]["method"]
        headers = dict(scope["headers"])
        api_key = _text(headers.get(b"api-key"))
        try:
            body, too_large, close = await read_body(
                receive, headers.get(b"content-length"), self.host.max_body_bytes
            )
        except ClientDisconnect:
            return
        if scope["method"] != "POST":
            await send_bytes(send, error_body(errors.UNKNOWN_METHOD), close=close)
            return
        content_type = _text(headers.get(b"content-type")) or ""
        api_sign = _text(headers.get(b"api-sign"))

        def process() -> CallRecord:
            return state.call_private(
                method,
                path=scope.get("raw_path") or scope["path"].encode(),
                api_key=api_key,
                api_sign=api_sign,
                content_type=content_type,
                body=body,
                too_large=too_large,
            )

        def skip() -> CallRecord:
            return state.skipped(method, api_key=api_key, content_type=content_type, body=body)

        fault = state.faults.take(method, api_key)
        if fault is None:
            await _deliver(send, process(), close=close)
        else:
            await serve_call(fault, process, skip, scope, receive, send)


class PublicApi(_Endpoint):
    """`GET /0/public/<Method>` (Assets, Time)."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one public call."""
        state = self.host.state
        method = scope["path_params"]["method"]
        if scope["method"] not in ("GET", "HEAD"):
            await send_bytes(send, error_body(errors.UNKNOWN_METHOD))
            return
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))

        def process() -> CallRecord:
            return state.call_public(method, query)

        def skip() -> CallRecord:
            record = state.skipped(method, api_key=None, content_type="", body=b"")
            record.params = query
            return record

        fault = state.faults.take(method, None)
        if fault is None:
            await _deliver(send, process())
        else:
            await serve_call(fault, process, skip, scope, receive, send)


async def not_found(request: Request) -> Response:
    """Anything outside Kraken's URL space: 404 with Kraken's error shape."""
    return Response(error_body(errors.UNKNOWN_METHOD), status_code=404, media_type="application/json")


class SandboxApp:
    """The ASGI application: Kraken's two API prefixes are dispatched straight to their endpoints (the hot
    path skips Starlette's middleware stack, ~15 us a call); everything else - the admin API and the 404
    catch-all - is a regular Starlette application."""

    def __init__(self, host: SandboxHost) -> None:
        self.host = host
        self.private = PrivateApi(host)
        self.public = PublicApi(host)
        self.starlette = Starlette(
            routes=[
                Route("/0/private/{method}", self.private, methods=None),
                Route("/0/public/{method}", self.public, methods=None),
                Mount("/_sandbox", routes=admin_routes(host)),
                Route(
                    "/{path:path}",
                    not_found,
                    methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
                ),
            ]
        )
        self.starlette.state.host = host

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            endpoint: _Endpoint | None = None
            if path.startswith("/0/private/"):
                endpoint, method = self.private, path[11:]
            elif path.startswith("/0/public/"):
                endpoint, method = self.public, path[10:]
            if endpoint is not None and method and "/" not in method:
                scope["path_params"] = {"method": method}
                await endpoint(scope, receive, send)
                return
        await self.starlette(scope, receive, send)


def create_app(host: SandboxHost) -> SandboxApp:
    """The ASGI application serving one SandboxHost."""
    return SandboxApp(host)
