"""Per-key call counters with Kraken's tiers; refused-but-authenticated calls count too."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from airflow_provider_kraken.sandbox.pytest_plugin import KrakenSandbox

from .conftest import Kraken

RATE = "EAPI:Rate limit exceeded"
SECRET = "c2FuZGJveCByYXRlIHRlc3Q="


def tiered(**tiers: str) -> pytest.MarkDecorator:
    """A world with one key per requested tier (key string = its name)."""
    keys = {
        name: {"key": name, "secret": SECRET, "permissions": ["funds_query"], "tier": t}
        for name, t in tiers.items()
    }
    return pytest.mark.kraken_world(overrides={"api_keys": keys})


def calls_until_refused(client: Kraken, limit: int) -> int:
    """How many calls succeed before the first rate-limit refusal (at most `limit` tries)."""
    for made in range(limit):
        error = client.call("Balance")["error"]
        if error:
            assert error == [RATE]
            return made
    return limit


@tiered(s="starter", i="intermediate", p="pro")
@pytest.mark.parametrize(("name", "ceiling"), [("s", 15), ("i", 20), ("p", 20)])
def test_tier_ceilings(sandbox: KrakenSandbox, name: str, ceiling: int) -> None:
    client = Kraken(sandbox.url, name, SECRET)
    succeeded = calls_until_refused(client, ceiling + 3)
    assert ceiling <= succeeded < ceiling + 3


@tiered(u="unlimited")
def test_unlimited_tier(sandbox: KrakenSandbox) -> None:
    assert calls_until_refused(Kraken(sandbox.url, "u", SECRET), 60) == 60


@tiered(s="starter")
def test_refused_calls_keep_counting_and_the_counter_decays(sandbox: KrakenSandbox) -> None:
    client = Kraken(sandbox.url, "s", SECRET)
    assert calls_until_refused(client, 20) == 15
    sandbox.admin.advance(3.1)  # decays ~1.02: enough for one call only if the refusal had not counted
    assert client.error("Balance") == RATE
    sandbox.admin.advance(10)
    assert client.call("Balance")["error"] == []


@tiered(i="intermediate", p="pro")
def test_decay_rates_differ(sandbox: KrakenSandbox) -> None:
    pro, intermediate = Kraken(sandbox.url, "p", SECRET), Kraken(sandbox.url, "i", SECRET)
    calls_until_refused(pro, 25)
    calls_until_refused(intermediate, 25)
    sandbox.admin.advance(2.5)  # pro: -2.5, intermediate: -1.25 (and each refusal added 1)
    assert pro.call("Balance")["error"] == []
    assert intermediate.error("Balance") == RATE


@tiered(s="starter")
def test_invalid_nonces_count_against_the_key(sandbox: KrakenSandbox) -> None:
    client = Kraken(sandbox.url, "s", SECRET)
    for _ in range(15):
        assert client.raw("Balance", nonce="1").json()["error"] in (["EAPI:Invalid nonce"], [])
    assert client.error("Balance") == RATE


@pytest.mark.kraken_world(overrides={"api_keys": {"sandbox-nofunds": {"tier": "starter"}}})
def test_permission_denied_calls_count(client_for: Callable[..., Kraken]) -> None:
    client = client_for("sandbox-nofunds")
    errors = [client.error("Balance") for _ in range(16)]
    assert errors[:15] == ["EGeneral:Permission denied"] * 15
    assert errors[15] == RATE


@tiered(s="starter")
def test_unauthenticated_calls_do_not_count(sandbox: KrakenSandbox) -> None:
    impostor = Kraken(sandbox.url, "s", "d3Jvbmcgc2VjcmV0")
    for _ in range(20):
        assert impostor.error("Balance") == "EAPI:Invalid signature"
    assert Kraken(sandbox.url, "s", SECRET).call("Balance")["error"] == []


@tiered(s="starter", p="pro")
def test_counters_are_per_key(sandbox: KrakenSandbox) -> None:
    calls_until_refused(Kraken(sandbox.url, "s", SECRET), 20)
    assert Kraken(sandbox.url, "p", SECRET).call("Balance")["error"] == []
