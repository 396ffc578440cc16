"""Helpers for trigger tests: run triggers the way Airflow does and watch the sandbox's call log."""

from __future__ import annotations

import asyncio
import importlib
import time
from typing import Any

import pytest
from airflow.sdk.serde import deserialize, serialize
from airflow.triggers.base import BaseTrigger

#: World override lifting the rate limit of the key the tests use: these tests poll fast on purpose,
#: and pacing (tested with the hook) would only make them slow and timing-dependent.
UNPACED = pytest.mark.kraken_world(overrides={"api_keys": {"sandbox-full": {"tier": "unlimited"}}})

#: Calls that change something on Kraken; a trigger must never make one.
WRITE_METHODS = frozenset({"Withdraw", "WithdrawCancel", "WalletTransfer"})


def roundtrip(trigger: BaseTrigger) -> BaseTrigger:
    """What the triggerer does: serialise through airflow.sdk.serde, import the class, rebuild it."""
    classpath, kwargs = trigger.serialize()
    stored = serialize(kwargs)
    module, _, name = classpath.rpartition(".")
    rebuilt: BaseTrigger = getattr(importlib.import_module(module), name)(**deserialize(stored))
    return rebuilt


async def first_event(trigger: BaseTrigger) -> dict[str, Any]:
    """The trigger's first event payload (Airflow uses only the first)."""
    event = await anext(trigger.run())
    payload: dict[str, Any] = event.payload
    return payload


def run_trigger(trigger: BaseTrigger) -> dict[str, Any]:
    """Run a trigger in its own event loop, as dag.test() does, and return its event payload."""
    return asyncio.run(first_event(trigger))


def deadline(seconds: float = 30) -> float:
    """A wall-clock deadline for trigger kwargs."""
    return time.time() + seconds


def last_seq(admin: Any) -> int:
    """The sequence number of the latest logged call (0 when none)."""
    calls = admin.calls()
    return calls[-1].seq if calls else 0


async def polls_seen(admin: Any, method: str, count: int, since: int = 0, limit: float = 30) -> None:
    """Wait (without blocking the loop) until the sandbox logged ``count`` calls of ``method``."""
    give_up = time.monotonic() + limit
    while len(await asyncio.to_thread(admin.calls, since=since, method=method)) < count:
        if time.monotonic() > give_up:
            raise AssertionError(f"the sandbox never saw {count} {method} calls")
        await asyncio.sleep(0.05)
