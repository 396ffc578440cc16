"""Many calls on one key: threads, processes and async tasks see no nonce error and trip no rate limit."""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from airflow_provider_kraken.hooks.kraken import KrakenHook

REJECTED = ("EAPI:Invalid nonce", "EAPI:Rate limit exceeded")


def test_16_concurrent_calls_from_4_threads(hook: KrakenHook, calls_since: Callable[[], list[Any]]) -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: hook.withdraw_status(asset="doge"), range(16)))
    assert len(results) == 16 and all(isinstance(r, list) for r in results)
    seen = calls_since()
    assert [c.outcome for c in seen if c.method == "WithdrawStatus"] == ["ok"] * 16
    nonces = [int(c.nonce) for c in seen if c.method == "WithdrawStatus"]
    assert nonces == sorted(nonces), "in-process calls on one key reach Kraken in nonce order"


def _eight_balance_calls(conn_id: str) -> int:
    hook = KrakenHook(conn_id)
    return sum(1 for _ in range(8) if "XXDG" in hook.balance())


def test_3_processes_times_8_calls_on_one_key(
    kraken_conn_id: str, calls_since: Callable[[], list[Any]]
) -> None:
    context = multiprocessing.get_context("spawn")
    with context.Pool(3) as pool:
        assert pool.map(_eight_balance_calls, [kraken_conn_id] * 3) == [8, 8, 8]
    accepted = [c for c in calls_since() if c.method == "Balance" and c.outcome == "ok"]
    assert len(accepted) == 24


def test_16_concurrent_async_reads_on_one_key(hook: KrakenHook, calls_since: Callable[[], list[Any]]) -> None:
    async def burst() -> list[Any]:
        try:
            return await asyncio.gather(*(hook.awithdraw_status(asset="doge") for _ in range(16)))
        finally:
            await hook.aclose()

    results = asyncio.run(burst())
    assert len(results) == 16
    outcomes = [c.outcome for c in calls_since() if c.method == "WithdrawStatus"]
    assert outcomes == ["ok"] * 16, "no attempt was rejected, so none burned the key's rate counter"


def test_async_deposit_status_matches_sync(hook: KrakenHook) -> None:
    async def read() -> list[Any]:
        try:
            return await hook.adeposit_status(asset="doge")
        finally:
            await hook.aclose()

    assert asyncio.run(read()) == hook.deposit_status(asset="doge")


def test_client_side_pacing_keeps_a_burst_under_the_tier(
    make_hook: Callable[..., KrakenHook], calls_since: Callable[[], list[Any]]
) -> None:
    # The world's "sandbox-full" key is on Kraken's pro tier (counter max 20, decay 1/s) in the sandbox too.
    hook = make_hook("kraken_paced", key_name="sandbox-full", rate_tier="pro")
    for _ in range(24):
        hook.balance()
    outcomes = [c.outcome for c in calls_since() if c.method == "Balance"]
    assert len(outcomes) == 24 and not [o for o in outcomes if o in REJECTED]
