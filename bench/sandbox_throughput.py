"""Signed-call throughput of the Kraken sandbox vs a minimal stdlib http.server answering the same call.

Both servers run as child processes on 127.0.0.1 (the sandbox through its CLI); clients are requests.Session
objects sending signed `POST /0/private/Balance` calls, first one client sequentially, then 8 concurrent
client threads (each its own session and API key, as Kraken recommends one key per client).
Goal: the sandbox at least as fast as the baseline in both columns. Bounded: finishes in well under a minute.

Run: .venv/bin/python bench/sandbox_throughput.py [--calls N]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import hmac
import itertools
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from airflow_provider_kraken.sandbox.server import SandboxProcess, random_credentials  # noqa: E402
from airflow_provider_kraken.sandbox.world import default_world_text  # noqa: E402

CONCURRENCY = 8
BALANCE = {"XXDG": "100.00000000", "XXBT": "2.5000000000", "ZUSD": "10000.0000"}


# -- the baseline server
class BaselineHandler(BaseHTTPRequestHandler):
    """Verify Kraken's signature and answer Balance; HTTP/1.1 keep-alive, TCP_NODELAY."""

    protocol_version = "HTTP/1.1"
    secrets: dict[str, bytes] = {}
    nonces: dict[str, int] = {}
    lock = threading.Lock()

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        answer: dict[str, object] = {"error": ["EAPI:Invalid key"]}
        secret = self.secrets.get(self.headers.get("API-Key", ""))
        if secret is not None:
            params = dict(urllib.parse.parse_qsl(body.decode()))
            nonce = params.get("nonce", "")
            digest = hmac.new(
                secret, self.path.encode() + hashlib.sha256(nonce.encode() + body).digest(), hashlib.sha512
            ).digest()
            given = base64.b64decode(self.headers.get("API-Sign", ""))
            if not hmac.compare_digest(digest, given):
                answer = {"error": ["EAPI:Invalid signature"]}
            else:
                key = self.headers["API-Key"]
                with self.lock:
                    ok = int(nonce) > self.nonces.get(key, 0)
                    if ok:
                        self.nonces[key] = int(nonce)
                answer = {"error": [], "result": BALANCE} if ok else {"error": ["EAPI:Invalid nonce"]}
        data = json.dumps(answer, separators=(",", ":")).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def run_baseline_server(keys_file: str) -> None:
    """Child-process entry point: serve until killed."""
    keys = json.loads(Path(keys_file).read_text())
    BaselineHandler.secrets = {k: base64.b64decode(s) for k, s in keys}
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaselineHandler)
    server.daemon_threads = True
    print(f"READY http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


# -- the client
class SignedClient:
    """A requests.Session sending signed Balance calls with its own key and strictly increasing nonces."""

    def __init__(self, url: str, key: str, secret: str) -> None:
        self.url = url + "/0/private/Balance"
        self.key = key
        self.secret = base64.b64decode(secret)
        self.session = requests.Session()
        self.nonces = itertools.count(time.time_ns() // 1000)

    def call(self) -> None:
        nonce = str(next(self.nonces))
        body = f"nonce={nonce}"
        message = b"/0/private/Balance" + hashlib.sha256((nonce + body).encode()).digest()
        digest = hmac.new(self.secret, message, hashlib.sha512).digest()
        headers = {
            "API-Key": self.key,
            "API-Sign": base64.b64encode(digest).decode(),
            "Content-Type": "application/x-www-form-urlencoded",
        }
        response = self.session.post(self.url, data=body, headers=headers, timeout=10)
        if response.status_code != 200 or response.json()["error"]:
            raise RuntimeError(f"bad answer: {response.status_code} {response.text}")


@dataclass
class Result:
    """One column for one server."""

    calls_per_second: float
    p50_us: float
    p99_us: float


def _run_clients(clients: list[SignedClient], calls_each: int) -> tuple[float, list[float]]:
    """(elapsed seconds, latency of every call): one client inline, several in one thread each."""
    latencies: list[float] = []
    lock = threading.Lock()

    def work(client: SignedClient) -> None:
        mine: list[float] = []
        for _ in range(calls_each):
            t0 = time.perf_counter()
            client.call()
            mine.append(time.perf_counter() - t0)
        with lock:
            latencies.extend(mine)

    start = time.perf_counter()
    if len(clients) == 1:
        work(clients[0])
    else:
        threads = [threading.Thread(target=work, args=(c,)) for c in clients]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    return time.perf_counter() - start, latencies


@dataclass
class Series:
    """Rounds measured against one server in one mode."""

    rates: list[float]
    latencies: list[float]

    def result(self) -> Result:
        """Median rate over rounds; percentiles over every call."""
        ordered = sorted(self.latencies)
        return Result(
            calls_per_second=statistics.median(self.rates),
            p50_us=statistics.median(ordered) * 1e6,
            p99_us=ordered[max(0, int(len(ordered) * 0.99) - 1)] * 1e6,
        )


def compare(
    urls: dict[str, str], keys: list[tuple[str, str]], calls: int, rounds: int
) -> dict[str, tuple[Result, Result]]:
    """Alternate the servers round by round (machine noise hits both alike): (sequential, concurrent)."""
    sequential = {name: [SignedClient(url, *keys[0])] for name, url in urls.items()}
    concurrent = {
        name: [SignedClient(url, k, s) for k, s in keys[1 : CONCURRENCY + 1]] for name, url in urls.items()
    }
    series = {(name, mode): Series([], []) for name in urls for mode in ("seq", "con")}
    for name in urls:  # warm-up: connections open, code paths hot
        _run_clients(sequential[name], 100)
        _run_clients(concurrent[name], 20)
    per_round = max(1, calls // rounds)
    for _ in range(rounds):
        for name in urls:
            for mode, clients, each in (
                ("seq", sequential[name], per_round),
                ("con", concurrent[name], max(1, per_round // CONCURRENCY)),
            ):
                elapsed, latencies = _run_clients(clients, each)
                series[(name, mode)].rates.append(len(latencies) / elapsed)
                series[(name, mode)].latencies.extend(latencies)
    return {name: (series[(name, "seq")].result(), series[(name, "con")].result()) for name in urls}


@contextlib.contextmanager
def baseline_server(keys: list[tuple[str, str]]) -> Iterator[str]:
    """The baseline server in a child process; yields its URL."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(keys, handle)
    proc = subprocess.Popen(
        [sys.executable, __file__, "--baseline-server", handle.name], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("READY "):
            raise RuntimeError("baseline server did not start")
        yield line.split()[1]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        os.unlink(handle.name)


def bench_world(keys: list[tuple[str, str]]) -> str:
    """The default world plus one unlimited-tier key per concurrent client."""
    extra = "".join(
        f'\n[api_keys.bench-{i}]\naccount = "main"\nkey = "{k}"\nsecret = "{s}"\n'
        f'permissions = ["funds_query"]\ntier = "unlimited"\n'
        for i, (k, s) in enumerate(keys[1:])
    )
    return default_world_text() + extra


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000, help="calls per column and server (default 3000)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds (default 5; median rate)")
    parser.add_argument("--baseline-server", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.baseline_server:
        run_baseline_server(args.baseline_server)
        return 0

    keys = [random_credentials() for _ in range(CONCURRENCY + 1)]
    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as world_file:
        world_file.write(bench_world(keys))
    try:
        with (
            baseline_server(keys) as baseline_url,
            SandboxProcess(
                world=world_file.name, api_key=keys[0][0], api_secret=keys[0][1], tier="unlimited"
            ) as sb,
        ):
            results = compare({"baseline": baseline_url, "sandbox": sb.url}, keys, args.calls, args.rounds)
    finally:
        os.unlink(world_file.name)
    baseline, sandbox = results["baseline"], results["sandbox"]

    print(
        f"signed POST /0/private/Balance over loopback, requests.Session clients, {args.calls} calls "
        f"per column, {args.rounds} alternating rounds (calls/s: median round; latency: all calls)"
    )
    header = f"{'server':<26}{'sequential':>30}{f'{CONCURRENCY} concurrent clients':>34}"
    sub = f"{'':<26}{'calls/s':>10}{'p50 us':>10}{'p99 us':>10}{'calls/s':>14}{'p50 us':>10}{'p99 us':>10}"
    print(header)
    print(sub)
    for name, (seq, con) in (("stdlib http.server", baseline), ("kraken sandbox (CLI)", sandbox)):
        print(
            f"{name:<26}{seq.calls_per_second:>10,.0f}{seq.p50_us:>10,.0f}{seq.p99_us:>10,.0f}"
            f"{con.calls_per_second:>14,.0f}{con.p50_us:>10,.0f}{con.p99_us:>10,.0f}"
        )
    ok_seq = sandbox[0].calls_per_second >= baseline[0].calls_per_second
    ok_con = sandbox[1].calls_per_second >= baseline[1].calls_per_second
    print(
        f"goal: sandbox >= baseline calls/s -> sequential {'MET' if ok_seq else 'MISSED'}, "
        f"concurrent {'MET' if ok_con else 'MISSED'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
