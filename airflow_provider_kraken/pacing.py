"""Per-key pacing inside one process: strictly increasing nonces and a mirror of Kraken's call counter.

Kraken keeps one high-water nonce and one decaying call counter per API key. Requests of one
process are ordered per key (so their nonces arrive in order). The counter is mirrored in a small
locked file shared by every process of the host (parallel task processes of one worker, the
triggerer), so a burst waits here instead of being rejected there. Processes on other hosts are
covered by the hook's retries and by a pool per key; the docs ask for one key per connection.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import os
import tempfile
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass

#: Kraken's tiers: (counter maximum, decay per second). ``unlimited`` is for the sandbox only.
RATE_TIERS: dict[str, tuple[float, float]] = {
    "starter": (15, 0.33),
    "intermediate": (20, 0.5),
    "pro": (20, 1.0),
    "unlimited": (float("inf"), 1.0),
}
#: Points kept free below the maximum, for Kraken's coarse decay steps and clock differences.
HEADROOM = 2


class NonceSource:
    """Nanosecond nonces, strictly increasing across threads, also when the wall clock steps back."""

    def __init__(self, clock: Callable[[], int] = time.time_ns) -> None:
        self._clock = clock
        self._last = 0
        self._lock = threading.Lock()

    def next(self) -> int:
        with self._lock:
            self._last = max(self._clock(), self._last + 1)
            return self._last


def book(level: float, elapsed: float, cost: float, limit: float, decay: float) -> tuple[float, float]:
    """Kraken's leaky bucket: decay ``level`` over ``elapsed`` seconds, book ``cost``: (wait, level)."""
    level = max(0.0, level - max(0.0, elapsed) * decay)
    wait = max(0.0, (level + cost - limit) / decay)
    return wait, level + cost


class CallCounter:
    """A leaky bucket mirroring Kraken's per-key counter: it books calls and says how long to wait.

    Written here rather than taken from a rate-limit library because it must mirror Kraken's
    counter exactly (maximum and decay per tier) and be shared by threads, event loops and, through
    :class:`HostCallCounter`, processes alike.
    """

    def __init__(self, maximum: float, decay_per_second: float, clock: Callable[[], float] = time.monotonic):
        self.limit = max(1.0, maximum - HEADROOM)
        self.decay = decay_per_second
        self._clock = clock
        self._level = 0.0
        self._updated = clock()
        self._lock = threading.Lock()

    def tighten(self, maximum: float, decay_per_second: float) -> None:
        """Adopt a stricter tier (a key is shared by connections that disagree about its tier)."""
        with self._lock:
            self.limit = min(self.limit, max(1.0, maximum - HEADROOM))
            self.decay = min(self.decay, decay_per_second)

    def reserve(self, cost: float = 1) -> float:
        """Book ``cost`` points and return the seconds to wait before sending the call."""
        with self._lock:
            now = self._clock()
            wait, self._level = book(self._level, now - self._updated, cost, self.limit, self.decay)
            self._updated = now
            return wait


class HostCallCounter(CallCounter):
    """The same counter kept in a locked file, so every process of this host books against one count.

    Each task runs in its own process: without this, every one of them would start with an empty
    counter and twenty parallel withdrawals would overrun the key together. The file holds only the
    level and a time, under a name derived from a hash of the endpoint and key. The descriptor stays
    open (one per process: a forked child reopens it, since ``flock`` locks belong to the open file).
    """

    RECORD_SIZE = 64

    def __init__(self, path: str, maximum: float, decay_per_second: float) -> None:
        super().__init__(maximum, decay_per_second, clock=time.time)
        self.path = path
        self._fd = -1
        self._pid = -1

    def reserve(self, cost: float = 1) -> float:
        with self._lock:
            fd = self._descriptor()
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                level, updated = _read_state(os.pread(fd, self.RECORD_SIZE, 0).decode("ascii", "replace"))
                now = time.time()
                wait, level = book(level, now - updated if updated else 0.0, cost, self.limit, self.decay)
                os.pwrite(fd, f"{level!r} {now!r}".ljust(self.RECORD_SIZE).encode("ascii"), 0)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
            return wait

    def _descriptor(self) -> int:
        if self._pid != os.getpid():
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            self._pid = os.getpid()
        return self._fd


def _read_state(text: str) -> tuple[float, float]:
    try:
        level, updated = (float(part) for part in text.split())
    except ValueError:  # a new or unreadable file: start empty
        return 0.0, 0.0
    return level, updated


def host_counter_path(base_url: str, api_key: str) -> str:
    """Where this host keeps the counter of one key (named by a hash: the key never appears)."""
    folder = os.path.join(HOST_STATE_DIR or tempfile.gettempdir(), "airflow-provider-kraken")
    os.makedirs(folder, mode=0o700, exist_ok=True)
    digest = hashlib.sha256(f"{base_url}\n{api_key}".encode()).hexdigest()[:32]
    return os.path.join(folder, f"calls-{digest}")


#: Folder for the host-wide counters (None: the system's temporary folder). Tests point it elsewhere.
HOST_STATE_DIR: str | None = None


@dataclass
class KeyPacer:
    """Everything one process shares about one API key: ordering locks and the call counter."""

    counter: CallCounter
    lock: threading.Lock
    _async_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock]

    def async_lock(self) -> asyncio.Lock:
        """The lock ordering this key's calls on the running event loop."""
        loop = asyncio.get_running_loop()
        lock = self._async_locks.get(loop)
        if lock is None:
            lock = self._async_locks[loop] = asyncio.Lock()
        return lock


NONCES = NonceSource()
_PACERS: dict[tuple[str, str], KeyPacer] = {}
_PACERS_LOCK = threading.Lock()


def pacer_for(base_url: str, api_key: str, tier: str) -> KeyPacer:
    """Return the process-wide pacer of one key on one Kraken endpoint.

    Kraken counts calls per key, so connections sharing a key share one counter; when they name
    different tiers, the stricter one wins.
    """
    maximum, decay = RATE_TIERS[tier]
    with _PACERS_LOCK:
        pacer = _PACERS.get((base_url, api_key))
        if pacer is None:
            counter = HostCallCounter(host_counter_path(base_url, api_key), maximum, decay)
            pacer = KeyPacer(counter, threading.Lock(), weakref.WeakKeyDictionary())
            _PACERS[(base_url, api_key)] = pacer
        else:
            pacer.counter.tighten(maximum, decay)
        return pacer
