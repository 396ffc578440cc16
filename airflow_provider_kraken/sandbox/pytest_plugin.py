"""pytest plugin (entry point `kraken_sandbox`): the `kraken_sandbox` fixture - a real sandbox HTTP server.

One server per test session (in a background thread), reset to a fresh world before every test that uses
the fixture. Mark a test `@pytest.mark.kraken_world(overrides={...})` (or `world_toml="..."`) to start
it from a different world. Loaded before any conftest, so it imports nothing heavy (and never airflow) at
import time; the server modules load when the fixture is first used.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pytest

if TYPE_CHECKING:
    from .admin import AdminClient, Credentials
    from .server import SandboxServer

MARKER = "kraken_world"
CONN_TYPE = "kraken"


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker (the project runs with --strict-markers)."""
    config.addinivalue_line(
        "markers",
        f"{MARKER}(overrides=None, world_toml=None): start this test's Kraken sandbox from another world",
    )


def kraken_connection_json(url: str, key: str, secret: str, extra: Mapping[str, Any] | None = None) -> str:
    """An Airflow connection (AIRFLOW_CONN_* JSON form) for a Kraken endpoint: login=key, password=secret."""
    data: dict[str, Any] = {"conn_type": CONN_TYPE, "login": key, "password": secret, "host": url}
    if extra:
        data["extra"] = dict(extra)
    return json.dumps(data)


def kraken_connection_uri(url: str, key: str, secret: str, extra: Mapping[str, Any] | None = None) -> str:
    """The same connection as an Airflow URI: the whole URL is the (percent-encoded) host, no port."""
    uri = f"{CONN_TYPE}://{quote(key, safe='')}:{quote(secret, safe='')}@{quote(url, safe='')}"
    if extra:
        uri += "?__extra__=" + quote(json.dumps(dict(extra)), safe="")
    return uri


@dataclass
class KrakenSandbox:
    """What the `kraken_sandbox` fixture yields: a running sandbox and the default account's full key."""

    url: str
    api_key: str
    api_secret: str
    admin_token: str
    admin: AdminClient

    def world_keys(self) -> dict[str, Credentials]:
        """Every API key of the world in play (e.g. "sandbox-query", "sandbox-nofunds", "sandbox-otp")."""
        return self.admin.keys()

    def world_key(self, name: str) -> Credentials:
        """One world key by name."""
        return self.admin.keys()[name]

    def _credentials(self, key_name: str | None) -> tuple[str, str]:
        if key_name is None:
            return self.api_key, self.api_secret
        creds = self.world_key(key_name)
        return creds.key, creds.secret

    def connection_json(self, key_name: str | None = None, extra: Mapping[str, Any] | None = None) -> str:
        """An Airflow connection (JSON) for this sandbox: the fixture's key unless a world key is named."""
        return kraken_connection_json(self.url, *self._credentials(key_name), extra)

    def connection_uri(self, key_name: str | None = None, extra: Mapping[str, Any] | None = None) -> str:
        """The same connection as an Airflow URI string."""
        return kraken_connection_uri(self.url, *self._credentials(key_name), extra)

    def connection_env(
        self,
        conn_id: str = "kraken_default",
        key_name: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> dict[str, str]:
        """`{"AIRFLOW_CONN_<ID>": json}`, ready for monkeypatch.setenv / os.environ.update."""
        return {f"AIRFLOW_CONN_{conn_id.upper()}": self.connection_json(key_name, extra)}


@pytest.fixture(scope="session")
def kraken_sandbox_server() -> Iterator[SandboxServer]:
    """The session's sandbox server (a background thread on a free 127.0.0.1 port)."""
    from .server import SandboxServer

    server = SandboxServer(tier="pro")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def kraken_sandbox(request: pytest.FixtureRequest, kraken_sandbox_server: SandboxServer) -> KrakenSandbox:
    """A sandbox reset to a fresh world for this test (the default world unless marked `kraken_world`)."""
    marker = request.node.get_closest_marker(MARKER)
    options: dict[str, Any] = dict(marker.kwargs) if marker else {}
    kraken_sandbox_server.admin.reset(
        world_toml=options.get("world_toml"), overrides=options.get("overrides")
    )
    return KrakenSandbox(
        url=kraken_sandbox_server.url,
        api_key=kraken_sandbox_server.api_key,
        api_secret=kraken_sandbox_server.api_secret,
        admin_token=kraken_sandbox_server.admin_token,
        admin=kraken_sandbox_server.admin,
    )
