"""Nonces stay strictly increasing; the call counter mirrors Kraken's leaky bucket."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from airflow_provider_kraken import pacing
from airflow_provider_kraken.pacing import (
    HEADROOM,
    RATE_TIERS,
    CallCounter,
    HostCallCounter,
    NonceSource,
    host_counter_path,
    pacer_for,
)


def test_nonces_increase_when_the_clock_steps_back() -> None:
    readings = iter([1_000, 2_000, 500, 500, 2_500])
    source = NonceSource(clock=lambda: next(readings))
    assert [source.next() for _ in range(5)] == [1_000, 2_000, 2_001, 2_002, 2_500]


def test_nonces_are_unique_across_threads() -> None:
    source = NonceSource(clock=lambda: 7)
    seen: list[int] = []
    lock = threading.Lock()

    def take() -> None:
        values = [source.next() for _ in range(500)]
        with lock:
            seen.extend(values)

    threads = [threading.Thread(target=take) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(seen)) == len(seen) == 4000


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("tier", ["starter", "intermediate", "pro"])
def test_counter_lets_a_burst_through_then_spaces_calls_by_the_decay(tier: str) -> None:
    maximum, decay = RATE_TIERS[tier]
    clock = FakeClock()
    counter = CallCounter(maximum, decay, clock=clock)
    burst = int(maximum - HEADROOM)
    assert [counter.reserve() for _ in range(burst)] == [0.0] * burst
    assert counter.reserve() == pytest.approx(1 / decay)
    assert counter.reserve() == pytest.approx(2 / decay)


def test_counter_decays_with_time() -> None:
    clock = FakeClock()
    counter = CallCounter(15, 0.33, clock=clock)
    for _ in range(13):
        counter.reserve()
    clock.now += 10  # 3.3 points decayed
    assert [counter.reserve() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert counter.reserve() > 0


def test_a_key_seen_with_two_tiers_is_paced_by_the_stricter_one() -> None:
    first = pacer_for("http://pacing-test", "key-1", "pro")
    again = pacer_for("http://pacing-test", "key-1", "starter")
    assert again is first
    assert (first.counter.limit, first.counter.decay) == (15 - HEADROOM, 0.33)
    assert pacer_for("http://pacing-test", "key-1", "pro").counter.decay == 0.33


def test_host_counter_is_shared_through_its_file(tmp_path: Path) -> None:
    path = str(tmp_path / "calls")
    first, second = HostCallCounter(path, 20, 1.0), HostCallCounter(path, 20, 1.0)
    assert [first.reserve() for _ in range(18)] == [0.0] * 18
    assert second.reserve() == pytest.approx(1.0, abs=0.05), "the second counter sees the first one's calls"


def test_host_counter_is_shared_by_another_process(tmp_path: Path) -> None:
    path = str(tmp_path / "calls")
    burst = (
        "from airflow_provider_kraken.pacing import HostCallCounter\n"
        f"counter = HostCallCounter({path!r}, 20, 1.0)\n"
        "print(sum(counter.reserve() for _ in range(18)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", burst], capture_output=True, text=True, check=True, timeout=60
    )
    assert float(done.stdout) == 0.0
    assert HostCallCounter(path, 20, 1.0).reserve() > 0.5


def test_host_counter_file_names_no_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pacing, "HOST_STATE_DIR", str(tmp_path))
    path = host_counter_path("https://api.kraken.com", "MY-API-KEY")
    assert "MY-API-KEY" not in path and path.startswith(str(tmp_path))
    assert path == host_counter_path("https://api.kraken.com", "MY-API-KEY")
    assert path != host_counter_path("https://api.kraken.com", "OTHER-KEY")
