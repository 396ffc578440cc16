"""The pytest plugin and the sandbox's independence from the rest of the package."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_kraken.sandbox.pytest_plugin import KrakenSandbox, kraken_connection_uri
from airflow_provider_kraken.sandbox.world import default_world_text

from .conftest import Kraken

SANDBOX_DIR = Path(__file__).resolve().parents[2] / "airflow_provider_kraken" / "sandbox"


def test_connection_strings_parse_in_airflow(sandbox: KrakenSandbox) -> None:
    from airflow.models.connection import Connection

    extra = {"rate_tier": "pro", "timeout": 5}
    from_json = Connection.from_json(sandbox.connection_json(extra=extra), conn_id="kraken_default")
    from_uri = Connection(conn_id="kraken_default", uri=sandbox.connection_uri(extra=extra))
    for conn in (from_json, from_uri):
        assert (conn.conn_type, conn.login, conn.password, conn.host) == (
            "kraken",
            sandbox.api_key,
            sandbox.api_secret,
            sandbox.url,
        )
        assert conn.port is None
        assert conn.extra_dejson == extra
    query = sandbox.world_key("sandbox-query")
    parsed = Connection(conn_id="q", uri=sandbox.connection_uri("sandbox-query"))
    assert (parsed.login, parsed.password, parsed.extra_dejson) == (query.key, query.secret, {})


def test_connection_env(sandbox: KrakenSandbox) -> None:
    env = sandbox.connection_env("my_kraken", key_name="sandbox-nofunds")
    assert list(env) == ["AIRFLOW_CONN_MY_KRAKEN"]
    data = json.loads(env["AIRFLOW_CONN_MY_KRAKEN"])
    assert data == {
        "conn_type": "kraken",
        "login": sandbox.world_key("sandbox-nofunds").key,
        "password": sandbox.world_key("sandbox-nofunds").secret,
        "host": sandbox.url,
    }


def test_uri_escapes_base64_characters() -> None:
    uri = kraken_connection_uri("http://127.0.0.1:1", "a+b/c=", "s/e+c=")
    assert uri == "kraken://a%2Bb%2Fc%3D:s%2Fe%2Bc%3D@http%3A%2F%2F127.0.0.1%3A1"


def test_world_keys(sandbox: KrakenSandbox) -> None:
    keys = sandbox.world_keys()
    assert set(keys) == {"sandbox-full", "sandbox-query", "sandbox-nofunds", "sandbox-otp", "server"}
    assert keys["sandbox-query"].permissions == ("funds_query",)
    assert keys["sandbox-nofunds"].permissions == ()
    assert keys["sandbox-otp"].otp == "424242"
    assert (keys["server"].key, keys["server"].tier) == (sandbox.api_key, "pro")
    assert set(keys["server"].permissions) == {
        "funds_query",
        "funds_deposit",
        "funds_withdraw",
        "ledger_query",
    }


def test_each_test_starts_from_a_fresh_world_part_1(kraken: Kraken) -> None:
    assert (
        kraken.result("Withdraw", asset="doge", key="XDG_Wallet", amount="100")["refid"]
        == "ASBG2IX-OQZTG5-CRWGN3"
    )


def test_each_test_starts_from_a_fresh_world_part_2(kraken: Kraken, sandbox: KrakenSandbox) -> None:
    assert kraken.result("Balance")["XXDG"] == "100.00000000"
    assert sandbox.admin.calls()[0].seq == 1
    assert (
        kraken.result("Withdraw", asset="doge", key="XDG_Wallet", amount="100")["refid"]
        == "ASBG2IX-OQZTG5-CRWGN3"
    )


@pytest.mark.kraken_world(world_toml=default_world_text().replace('name = "default"', 'name = "custom"'))
def test_world_marker_with_toml(sandbox: KrakenSandbox) -> None:
    assert sandbox.admin.world()["name"] == "custom"


@pytest.mark.kraken_world(overrides={"accounts": {"main": {"balances": {"XXDG": "5"}}}})
def test_world_marker_with_overrides(kraken: Kraken) -> None:
    assert kraken.result("Balance")["XXDG"] == "5.00000000"


def test_plugin_import_is_light() -> None:
    code = (
        "import sys, airflow_provider_kraken.sandbox.pytest_plugin as p; "
        "print(sorted(m for m in ('airflow', 'starlette', 'uvicorn', 'pydantic', 'requests', 'fastapi') "
        "if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def test_sandbox_imports_nothing_from_the_provider_or_airflow() -> None:
    modules = sorted(SANDBOX_DIR.glob("*.py"))
    assert len(modules) > 10
    for path in modules:
        for name in _imports(path):
            top = name.split(".")[0]
            assert top != "airflow", (path.name, name)
            if top == "airflow_provider_kraken":
                assert name.startswith("airflow_provider_kraken.sandbox"), (path.name, name)
