"""Provider registration: metadata, Airflow's schemas, the CLI and the connection form, as Airflow sees them.

The CLI and form checks run Airflow in subprocesses with their own temporary AIRFLOW_HOME, the way a
user meets the provider after ``pip install``.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import airflow
import jsonschema
import pytest
from airflow._shared.secrets_masker import should_hide_value_for_key as api_hides
from airflow.sdk._shared.secrets_masker import should_hide_value_for_key as worker_hides

import airflow_provider_kraken
from airflow_provider_kraken.connection import EXTRA_FIELDS, parse_connection
from airflow_provider_kraken.get_provider_info import get_provider_info
from airflow_provider_kraken.pacing import RATE_TIERS

AIRFLOW_BIN = str(Path(sys.executable).with_name("airflow"))
AIRFLOW_DIR = Path(airflow.__file__).parent
SECRET = "c2VjcmV0K2tleS8/PT0+PT0+cGFkZGluZw=="  # base64 holding '+', '/' and '='
OTP = "otp-4242-secret"


def airflow_env(home: Path, **settings: str) -> dict[str, str]:
    """A clean environment for an Airflow subprocess: nothing inherited from this test process's Airflow."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("AIRFLOW")}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(home / "dags"),
        **settings,
    )
    return env


def run(env: dict[str, str], *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a command and return its result; on an unexpected exit code, fail with its output."""
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=240)
    if check and done.returncode != 0:
        pytest.fail(f"{argv[:3]} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done


def json_output(done: subprocess.CompletedProcess[str]) -> Any:
    """The JSON document an ``airflow ... -o json`` command printed (log lines around it are skipped)."""
    line = next(line for line in done.stdout.splitlines() if line.startswith(("[", "{")))
    return json.loads(line)


@pytest.fixture(scope="module")
def migrated_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A temporary AIRFLOW_HOME with a migrated SQLite metadata database."""
    home = tmp_path_factory.mktemp("airflow-home")
    (home / "dags").mkdir()
    run(airflow_env(home), AIRFLOW_BIN, "db", "migrate")
    return home


# ------------------------------------------------------------------------------ the metadata itself


def test_entry_point_registers_the_distribution() -> None:
    [entry] = [
        ep
        for ep in importlib.metadata.entry_points(group="apache_airflow_provider")
        if ep.dist is not None and ep.dist.name == "airflow-provider-kraken"
    ]
    assert entry.value == "airflow_provider_kraken.get_provider_info:get_provider_info"
    info = entry.load()()
    assert info == get_provider_info()
    # Airflow refuses a provider whose package-name differs from the canonical distribution name.
    assert info["package-name"] == "airflow-provider-kraken"
    assert importlib.metadata.version(info["package-name"]) == airflow_provider_kraken.__version__


def test_provider_info_is_valid_for_airflow_schemas() -> None:
    info = get_provider_info()
    runtime_schema = json.loads((AIRFLOW_DIR / "provider_info.schema.json").read_text())
    jsonschema.validate(info, runtime_schema)

    yaml_schema = json.loads((AIRFLOW_DIR / "provider.yaml.schema.json").read_text())["properties"]
    jsonschema.validate(info["integrations"], yaml_schema["integrations"])
    jsonschema.validate(info["connection-types"], yaml_schema["connection-types"])
    for group in ("hooks", "operators", "sensors", "triggers"):
        jsonschema.validate(info[group], yaml_schema[group])

    behaviour = info["connection-types"][0]["ui-field-behaviour"]
    form_schema = json.loads((AIRFLOW_DIR / "customized_form_field_behaviours.schema.json").read_text())
    jsonschema.validate({key.replace("-", "_"): value for key, value in behaviour.items()}, form_schema)


def test_connection_type_matches_the_hook() -> None:
    [conn_type] = get_provider_info()["connection-types"]
    module_name, _, class_name = conn_type["hook-class-name"].rpartition(".")
    hook_class = getattr(importlib.import_module(module_name), class_name)
    assert (conn_type["connection-type"], conn_type["hook-name"]) == (
        hook_class.conn_type,
        hook_class.hook_name,
    )
    assert hook_class.conn_name_attr == "kraken_conn_id"
    assert hook_class.default_conn_name == "kraken_default"


@pytest.mark.parametrize("group", ["hooks", "operators", "sensors", "triggers"])
def test_listed_modules_exist(group: str) -> None:
    [entry] = get_provider_info()[group]
    for module in entry["python-modules"]:
        assert importlib.import_module(module).__name__ == module


def test_conn_fields_mirror_the_connection_parser() -> None:
    fields = get_provider_info()["connection-types"][0]["conn-fields"]
    assert list(fields) == list(EXTRA_FIELDS)
    for name, (description, default) in EXTRA_FIELDS.items():
        assert fields[name]["description"] == description
        assert fields[name]["schema"].get("default") == default
        assert fields[name]["label"]
    assert fields["rate_tier"]["schema"]["enum"] == list(RATE_TIERS)
    assert fields["otp_password"]["schema"]["format"] == "password"

    # A form saved with every default parses exactly like a connection without extras.
    defaults = {name: field["schema"].get("default") for name, field in fields.items()}
    with_defaults = parse_connection("c", login="k", password=SECRET, host=None, extra=defaults)
    bare = parse_connection("c", login="k", password=SECRET, host=None, extra=None)
    assert with_defaults == bare
    for tier in fields["rate_tier"]["schema"]["enum"]:
        assert (
            parse_connection("c", login="k", password=SECRET, host=None, extra={"rate_tier": tier}).rate_tier
            == tier
        )


def test_secret_extras_are_hidden_by_name() -> None:
    """Airflow masks extras by key name; only the OTP is secret, the others stay readable in the UI."""
    fields = get_provider_info()["connection-types"][0]["conn-fields"]
    secret = {name for name, field in fields.items() if field["schema"].get("format") == "password"}
    assert secret == {"otp_password"}
    for name in fields:
        assert api_hides(name) == worker_hides(name) == (name in secret), name


def test_importing_the_metadata_stays_light() -> None:
    """ProvidersManager imports it in every Airflow process: stdlib and small provider modules only."""
    code = (
        "import sys, json; before = set(sys.modules); import airflow_provider_kraken.get_provider_info; "
        "print(json.dumps(sorted(set(sys.modules) - before)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = json.loads(done.stdout)
    ours = {name for name in loaded if name.startswith("airflow_provider_kraken")}
    foreign = {name for name in loaded if name.split(".")[0] not in sys.stdlib_module_names} - ours
    assert ours == {
        "airflow_provider_kraken",
        "airflow_provider_kraken.connection",
        "airflow_provider_kraken.exceptions",
        "airflow_provider_kraken.get_provider_info",
        "airflow_provider_kraken.pacing",
    }
    assert foreign == set()


# ------------------------------------------------------------------------------ the CLI


def test_cli_providers_get(tmp_path: Path) -> None:
    env = airflow_env(tmp_path)
    [summary] = json_output(
        run(env, AIRFLOW_BIN, "providers", "get", "airflow-provider-kraken", "-o", "json")
    )
    assert summary == {"Provider": "airflow-provider-kraken", "Version": airflow_provider_kraken.__version__}
    [full] = json_output(
        run(env, AIRFLOW_BIN, "providers", "get", "airflow-provider-kraken", "--full", "-o", "json")
    )
    assert full["connection-types"][0]["connection-type"] == "kraken"


def test_cli_providers_hooks(tmp_path: Path) -> None:
    hooks = json_output(run(airflow_env(tmp_path), AIRFLOW_BIN, "providers", "hooks", "-o", "json"))
    [kraken] = [hook for hook in hooks if hook["connection_type"] == "kraken"]
    assert kraken == {
        "connection_type": "kraken",
        "class": "airflow_provider_kraken.hooks.kraken.KrakenHook",
        "conn_id_attribute_name": "kraken_conn_id",
        "package_name": "airflow-provider-kraken",
        "hook_name": "Kraken",
    }


def test_cli_connections_add_and_get(migrated_home: Path) -> None:
    env = airflow_env(migrated_home)
    extra = json.dumps({"otp_password": OTP, "rate_tier": "pro", "timeout": 10})
    added = run(
        env,
        AIRFLOW_BIN,
        "connections",
        "add",
        "kraken_cli",
        "--conn-type",
        "kraken",
        "--conn-login",
        "API-KEY-1",
        "--conn-password",
        SECRET,
        "--conn-host",
        "https://api.kraken.com",
        "--conn-extra",
        extra,
    )
    assert "Successfully added `conn_id`=kraken_cli" in added.stdout
    assert OTP not in added.stdout + added.stderr  # the CLI echoes the extras, masked by name
    [stored] = json_output(run(env, AIRFLOW_BIN, "connections", "get", "kraken_cli", "-o", "json"))
    assert (stored["conn_type"], stored["login"], stored["password"]) == ("kraken", "API-KEY-1", SECRET)
    assert stored["extra_dejson"]["otp_password"] == OTP


def test_cli_connections_test_reports_each_outcome(kraken_sandbox: Any, tmp_path: Path) -> None:
    """``airflow connections test`` (when enabled) runs KrakenHook.test_connection against the sandbox."""
    keys = kraken_sandbox.admin.keys()
    good, other = keys["sandbox-full"], keys["sandbox-query"]
    env = airflow_env(tmp_path, AIRFLOW__CORE__TEST_CONNECTION="Enabled")
    for conn_id, key, secret in (("good", good.key, good.secret), ("bad_secret", good.key, other.secret)):
        env[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(
            {"conn_type": "kraken", "login": key, "password": secret, "host": kraken_sandbox.url}
        )

    ok = run(env, AIRFLOW_BIN, "connections", "test", "good")
    assert "Connection success!" in ok.stdout
    refused = run(env, AIRFLOW_BIN, "connections", "test", "bad_secret", check=False)
    assert refused.returncode == 1
    assert "Connection failed!" in refused.stdout
    assert "EAPI:Invalid signature" in refused.stdout
    assert other.secret not in refused.stdout + refused.stderr


# ------------------------------------------------------------------------------ the connection form

HOOK_META_SCRIPT = """
import json
from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService
[meta] = [m for m in HookMetaService.hook_meta_data() if m.connection_type == "kraken"]
print("HOOK-META " + meta.model_dump_json())
"""


def test_connection_form_metadata(tmp_path: Path) -> None:
    """What the UI's connection form receives (HookMetaService, fed by ProvidersManager)."""
    done = run(airflow_env(tmp_path), sys.executable, "-c", HOOK_META_SCRIPT)
    [line] = [line for line in done.stdout.splitlines() if line.startswith("HOOK-META ")]
    meta = json.loads(line.removeprefix("HOOK-META "))

    assert (meta["hook_class_name"], meta["hook_name"]) == (
        "airflow_provider_kraken.hooks.kraken.KrakenHook",
        "Kraken",
    )
    standard = meta["standard_fields"]
    assert standard["login"]["title"] == "API key"
    assert standard["password"]["title"] == "API secret (base64)"
    assert standard["host"]["title"] == "Base URL"
    assert "https://api.kraken.com" in standard["host"]["placeholder"]
    assert standard["url_schema"]["hidden"] and standard["port"]["hidden"]
    assert not (standard["login"]["hidden"] or standard["password"]["hidden"] or standard["host"]["hidden"])

    extra = meta["extra_fields"]
    assert list(extra) == list(EXTRA_FIELDS)
    for name, (description, default) in EXTRA_FIELDS.items():
        assert extra[name]["value"] == default
        assert extra[name]["description"] == description
        assert extra[name]["schema"]["title"]
    assert extra["otp_password"]["schema"] == {
        "type": ["string", "null"],
        "format": "password",
        "title": "Two-factor password (OTP)",
    }
    assert extra["timeout"]["schema"]["type"] == ["number", "null"]
    assert extra["rate_tier"]["schema"]["enum"] == list(RATE_TIERS)
