"""Per-call latency of KrakenHook next to a raw signed requests.Session, krakenex and python-kraken-sdk.

All clients call the same private endpoint (Balance) of one sandbox started as a subprocess with an
unlimited rate tier, in one run, sequentially. The async hook reads are compared with a raw signed
aiohttp client. Goal: the hook within 1.2x of the raw session and faster than both third-party clients;
the async reads near aiohttp.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from pathlib import Path

os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="kraken-bench-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

import aiohttp
import krakenex
import requests
from kraken.spot import User

from airflow_provider_kraken.hooks.kraken import KrakenHook
from airflow_provider_kraken.pacing import NONCES
from airflow_provider_kraken.sandbox.server import SandboxProcess

CALLS = int(os.environ.get("BENCH_CALLS", "1500"))
WARMUP = 100


def raw_signer(key: str, secret: str) -> Callable[[str], tuple[bytes, dict[str, str]]]:
    """A minimal Kraken signer written from the docs, for the raw baselines."""
    secret_bytes = base64.b64decode(secret)

    def signed(path: str) -> tuple[bytes, dict[str, str]]:
        nonce = str(NONCES.next())
        body = urllib.parse.urlencode({"nonce": nonce}).encode()
        digest = hashlib.sha256(nonce.encode() + body).digest()
        sign = base64.b64encode(
            hmac.new(secret_bytes, path.encode() + digest, hashlib.sha512).digest()
        ).decode()
        return body, {"API-Key": key, "API-Sign": sign, "Content-Type": "application/x-www-form-urlencoded"}

    return signed


def measure_interleaved(calls: dict[str, Callable[[], object]]) -> dict[str, list[float]]:
    """Time the clients call by call in turns, so drift on the machine affects all of them alike."""
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for round_number in range(WARMUP + CALLS):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            if round_number >= WARMUP:
                samples[name].append(time.perf_counter() - start)
    return samples


async def ameasure_interleaved(calls: dict[str, Callable[[], Awaitable[object]]]) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for round_number in range(WARMUP + CALLS):
        for name, call in calls.items():
            start = time.perf_counter()
            await call()
            if round_number >= WARMUP:
                samples[name].append(time.perf_counter() - start)
    return samples


def p(samples: list[float], q: float) -> float:
    return statistics.quantiles(samples, n=100)[q - 1] * 1e6 if q < 100 else max(samples) * 1e6


def main() -> int:
    with SandboxProcess(tier="unlimited") as sandbox:
        url, key, secret = sandbox.url, sandbox.api_key, sandbox.api_secret
        os.environ["AIRFLOW_CONN_KRAKEN_BENCH"] = json.dumps(
            {
                "conn_type": "kraken",
                "login": key,
                "password": secret,
                "host": url,
                "extra": {"rate_tier": "unlimited"},
            }
        )
        path = "/0/private/Balance"
        sign = raw_signer(key, secret)
        session = requests.Session()

        def raw_call() -> object:
            body, headers = sign(path)
            response = session.post(url + path, data=body, headers=headers, timeout=10)
            assert response.json()["error"] == []
            return response

        hook = KrakenHook("kraken_bench")
        # One key for all: every client gets a strictly increasing nanosecond nonce (krakenex's own
        # millisecond nonces collide below 1 ms per call, a known krakenex limitation).
        kx = krakenex.API(key, secret)
        kx.uri = url
        kx._nonce = lambda: NONCES.next()
        sdk = User(key=key, secret=secret, url=url)
        sdk.get_nonce = lambda: str(NONCES.next())  # type: ignore[method-assign]

        def krakenex_call() -> object:
            answer = kx.query_private("Balance")
            assert answer["error"] == [], answer
            return answer

        results = measure_interleaved(
            {
                "raw requests.Session": raw_call,
                "KrakenHook.balance()": hook.balance,
                "krakenex query_private": krakenex_call,
                "python-kraken-sdk User": sdk.get_account_balance,
            }
        )

        async def async_runs() -> None:
            async with aiohttp.ClientSession() as client:

                async def raw_async() -> object:
                    body, headers = sign(path)
                    async with client.post(url + path, data=body, headers=headers) as response:
                        payload = await response.json()
                        assert payload["error"] == []
                        return payload

                results.update(
                    await ameasure_interleaved(
                        {
                            "raw aiohttp (async)": raw_async,
                            "KrakenHook async read": lambda: hook._aprivate("Balance", {}),
                        }
                    )
                )
            await hook.aclose()

        asyncio.run(async_runs())

    raw = statistics.median(results["raw requests.Session"])
    print(
        f"Per-call latency, one sandbox, one key: {CALLS} Balance calls per client, "
        f"interleaved, after {WARMUP} warm-up"
    )
    print(f"{'client':<26}{'p50 (us)':>10}{'p99 (us)':>10}{'x raw p50':>11}")
    for name, samples in results.items():
        print(
            f"{name:<26}{p(samples, 50):>10.0f}{p(samples, 99):>10.0f}"
            f"{statistics.median(samples) / raw:>11.2f}"
        )
    hook_ratio = statistics.median(results["KrakenHook.balance()"]) / raw
    faster = all(
        statistics.median(results["KrakenHook.balance()"]) < statistics.median(results[name])
        for name in ("krakenex query_private", "python-kraken-sdk User")
    )
    async_ratio = statistics.median(results["KrakenHook async read"]) / statistics.median(
        results["raw aiohttp (async)"]
    )
    print(f"goal: hook <= 1.20x raw session -> {hook_ratio:.2f}x {'MET' if hook_ratio <= 1.2 else 'MISSED'}")
    print(f"async hook read vs raw aiohttp -> {async_ratio:.2f}x (reference: aiohttp ~370 us sequential)")
    print(f"goal: hook faster than krakenex and python-kraken-sdk -> {'MET' if faster else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sys.exit(main())
