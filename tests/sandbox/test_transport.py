"""HTTP-level behaviour: one-piece responses, no Nagle/delayed-ACK stalls, keep-alive, HEAD."""

from __future__ import annotations

import socket
import statistics
import time
import urllib.parse

import requests

from airflow_provider_kraken.sandbox.pytest_plugin import KrakenSandbox

from .conftest import Kraken, kraken_sign, next_nonce


def _address(sandbox: KrakenSandbox) -> tuple[str, int]:
    split = urllib.parse.urlsplit(sandbox.url)
    assert split.hostname is not None and split.port is not None
    return split.hostname, split.port


def _request(sandbox: KrakenSandbox) -> bytes:
    nonce = next_nonce()
    body = f"nonce={nonce}".encode()
    sign = kraken_sign(sandbox.api_secret, "/0/private/Balance", nonce, body)
    head = (
        f"POST /0/private/Balance HTTP/1.1\r\nHost: sandbox\r\nContent-Length: {len(body)}\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\n"
        f"API-Key: {sandbox.api_key}\r\nAPI-Sign: {sign}\r\n\r\n"
    )
    return head.encode() + body


def test_each_response_arrives_in_one_piece_on_a_keep_alive_connection(sandbox: KrakenSandbox) -> None:
    """Head and body leave in one write: the first recv() already holds the complete response."""
    with socket.create_connection(_address(sandbox), timeout=5) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 0)  # a client that leaves Nagle on
        for _ in range(15):
            request = _request(sandbox)
            split = request.index(b"\r\n\r\n") + 4
            sock.sendall(request[:split])  # head and body in separate writes, as http.client does
            sock.sendall(request[split:])
            first = sock.recv(65536)
            head, _, body = first.partition(b"\r\n\r\n")
            length = next(
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            )
            assert len(body) == length, first
            assert body.startswith(b'{"error":[],"result":')


def test_no_delayed_ack_stalls(kraken: Kraken) -> None:
    """Sequential signed calls stay far below the ~40 ms Nagle + delayed-ACK stall."""
    latencies = []
    for _ in range(19):  # within the pro tier's burst
        started = time.perf_counter()
        assert kraken.call("Balance")["error"] == []
        latencies.append(time.perf_counter() - started)
    assert statistics.median(latencies) < 0.02, latencies


def test_head_and_get_on_public_endpoints(sandbox: KrakenSandbox) -> None:
    head = requests.head(sandbox.url + "/0/public/Time", timeout=5)
    assert head.status_code == 200
    assert head.content == b""
    assert requests.get(sandbox.url + "/0/public/Time", timeout=5).json()["error"] == []


def test_expect_100_continue_is_answered_at_once(sandbox: KrakenSandbox) -> None:
    """A client that waits for `100 Continue` before sending its body is not kept waiting."""
    nonce = next_nonce()
    body = f"nonce={nonce}".encode()
    sign = kraken_sign(sandbox.api_secret, "/0/private/Balance", nonce, body)
    head = (
        f"POST /0/private/Balance HTTP/1.1\r\nHost: sandbox\r\nContent-Length: {len(body)}\r\n"
        f"Expect: 100-continue\r\nAPI-Key: {sandbox.api_key}\r\nAPI-Sign: {sign}\r\n\r\n"
    )
    with socket.create_connection(_address(sandbox), timeout=2) as sock:
        sock.sendall(head.encode())
        assert sock.recv(65536).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        sock.sendall(body)
        answer = sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 200 ")
        assert answer.endswith(b"}")
