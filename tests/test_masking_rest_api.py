"""The REST API's connection views redact the API secret and the OTP extra (masked by its name).

Airflow's real FastAPI app runs in a subprocess (its own AIRFLOW_HOME and SQLite database, simple
auth manager with everyone admin) and is called through FastAPI's TestClient.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

SECRET = "c2VjcmV0K2tleS8/PT0+cGFkZGluZy1mb3ItdGhlLXJlc3QtYXBp"
OTP = "otp-rest-91827"

API_SCRIPT = """
import json, sys
from fastapi.testclient import TestClient
from airflow.api_fastapi.app import create_app

connection = json.loads(sys.argv[1])
client = TestClient(create_app())
answers = {
    "created": client.post("/api/v2/connections", json=connection),
    "one": client.get(f"/api/v2/connections/{connection['connection_id']}"),
    "all": client.get("/api/v2/connections"),
}
for name, response in answers.items():
    print("ANSWER " + json.dumps({"name": name, "status": response.status_code, "body": response.json()}))
"""


def call_api(home: Path, connection: dict[str, Any]) -> dict[str, Any]:
    """Create ``connection`` through the REST API, read it back; return each answer by name."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("AIRFLOW")}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(home / "dags"),
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="True",
    )
    airflow = str(Path(sys.executable).with_name("airflow"))
    subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True, timeout=240)
    done = subprocess.run(
        [sys.executable, "-c", API_SCRIPT, json.dumps(connection)],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    answers = [
        json.loads(line.removeprefix("ANSWER "))
        for line in done.stdout.splitlines()
        if line.startswith("ANSWER ")
    ]
    return {answer["name"]: answer for answer in answers} | {"raw": done.stdout + done.stderr}


def test_connection_views_redact_secret_and_otp(tmp_path: Path) -> None:
    connection = {
        "connection_id": "kraken_rest",
        "conn_type": "kraken",
        "login": "API-KEY-REST",
        "password": SECRET,
        "host": "https://api.kraken.com",
        "extra": json.dumps({"otp_password": OTP, "rate_tier": "pro", "timeout": 12}),
    }
    answers = call_api(tmp_path, connection)

    assert answers["created"]["status"] == 201
    assert (answers["one"]["status"], answers["all"]["status"]) == (200, 200)
    [listed] = [c for c in answers["all"]["body"]["connections"] if c["connection_id"] == "kraken_rest"]
    for view in (answers["created"]["body"], answers["one"]["body"], listed):
        assert (view["conn_type"], view["login"], view["host"]) == (
            "kraken",
            "API-KEY-REST",
            "https://api.kraken.com",
        )
        assert view["password"] == "***"
        assert json.loads(view["extra"]) == {"otp_password": "***", "rate_tier": "pro", "timeout": 12}
    # Nothing the API process printed or answered carries the secret or the OTP.
    assert SECRET not in answers["raw"] and OTP not in answers["raw"]
