"""Masking end to end: a deferrable withdraw DAG on a real LocalExecutor worker and a real triggerer.

Airflow runs as separate processes in a temporary AIRFLOW_HOME (SQLite, no Fernet key so every row
is readable): the Execution API server, a triggerer, and ``airflow dags test --use-executor`` as the
scheduler loop. The connection lives in the metadata database and uses the sandbox key with a
two-factor password. Every process records the request signatures it computes (a ``sitecustomize``
spy on ``protocol.encode_private``). Then the task and trigger log files, every database table but
``connection`` (XComs, rendered template fields, trigger rows, task state), and the processes'
consoles are searched for the API secret, the OTP and every signature. A canary task logs the secret
and the OTP on purpose, to prove the log files are masked rather than merely quiet.
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest
import requests

pytestmark = pytest.mark.dag

DAG_ID = "kraken_masking_withdraw"
CONN_ID = "kraken_masking"
OTP = "Zq7-masking-otp"
KEY_NAME = "masking-e2e"
#: The key of this test: every funding permission, a two-factor password, '+', '/' and '=' in the secret.
OWN_KEY = {
    "key": base64.b64encode(os.urandom(42)).decode(),
    "secret": base64.b64encode(b"\xfb\xff" + os.urandom(62)).decode(),
    "permissions": ["funds_query", "funds_deposit", "funds_withdraw", "ledger_query"],
    "otp": OTP,
}
CANARY = "masking canary:"
AIRFLOW_BIN = str(Path(sys.executable).with_name("airflow"))
#: A SHA-512 HMAC (an API-Sign) or a 64-byte secret, base64-encoded.
BASE64_88 = re.compile(r"[A-Za-z0-9+/]{86}==")

DAG_SOURCE = textwrap.dedent(
    f'''
    """A deferrable withdrawal, then a canary that logs the secret and the OTP on purpose."""

    from __future__ import annotations

    import pendulum
    from airflow.sdk import dag, task

    from airflow_provider_kraken.operators.funding import KrakenWithdrawOperator


    @dag(
        schedule=None,
        start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
        catchup=False,
        params={{"asset": "doge", "amount": "12"}},
    )
    def {DAG_ID}():
        withdraw = KrakenWithdrawOperator(
            task_id="withdraw",
            kraken_conn_id="{CONN_ID}",
            asset="{{{{ params.asset }}}}",
            key="XDG_Wallet",
            amount="{{{{ params.amount }}}}",
            wait_for_completion=True,
            deferrable=True,
            poll_interval=1,
        )

        @task
        def canary() -> None:
            from airflow_provider_kraken.hooks.kraken import KrakenHook

            hook = KrakenHook("{CONN_ID}")
            password = hook.get_connection("{CONN_ID}").password
            hook.log.info("{CANARY} secret=%s otp=%s", password, hook.settings.otp)
            hook.withdraw_methods(asset="doge")

        withdraw >> canary()


    {DAG_ID}()
    '''
)

SPY_SOURCE = textwrap.dedent(
    '''
    """Test harness: record every Kraken request signature this process computes."""

    import json
    import os
    import sys

    _path = os.environ.get("KRAKEN_SIGNATURE_SPY")
    if _path:
        import airflow_provider_kraken.protocol as _protocol

        _original = _protocol.encode_private

        def encode_private(*args, **kwargs):
            request = _original(*args, **kwargs)
            record = {"pid": os.getpid(), "argv": sys.argv, "method": request.method}
            record["signature"] = request.signature
            with open(_path, "a", encoding="utf-8") as spy:
                spy.write(json.dumps(record) + "\\n")
            return request

        _protocol.encode_private = encode_private
    '''
)

ADD_CONNECTION = """
import json, sys
from airflow.models import Connection
from airflow.utils.session import create_session
fields = json.loads(sys.argv[1])
with create_session() as session:
    session.add(Connection(conn_id=fields.pop("conn_id"), **fields))
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Deployment:
    """The Airflow processes this test starts, in one temporary AIRFLOW_HOME; stops only those."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / "home"
        (self.home / "dags").mkdir(parents=True)
        (root / "spy").mkdir()
        (root / "spy" / "sitecustomize.py").write_text(SPY_SOURCE)
        (self.home / "dags" / f"{DAG_ID}.py").write_text(DAG_SOURCE)
        self.spy_file = root / "signatures.jsonl"
        port = free_port()
        self.api_url = f"http://127.0.0.1:{port}"
        self.env = {name: value for name, value in os.environ.items() if not name.startswith("AIRFLOW")}
        self.env.update(
            AIRFLOW_HOME=str(self.home),
            AIRFLOW__CORE__DAGS_FOLDER=str(self.home / "dags"),
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW__CORE__EXECUTOR="LocalExecutor",
            AIRFLOW__CORE__PARALLELISM="2",
            AIRFLOW__CORE__FERNET_KEY="",
            AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"{self.api_url}/execution/",
            AIRFLOW__API__HOST="127.0.0.1",
            AIRFLOW__API__PORT=str(port),
            AIRFLOW__API__BASE_URL=self.api_url,
            AIRFLOW__LOGGING__LOGGING_LEVEL="DEBUG",
            PYTHONPATH=str(root / "spy"),
            KRAKEN_SIGNATURE_SPY=str(self.spy_file),
        )
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self._outputs: list[IO[bytes]] = []

    def run(self, *argv: str) -> None:
        done = subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=240)
        if done.returncode != 0:
            pytest.fail(f"{argv[:3]} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")

    def start(self, name: str, *argv: str) -> subprocess.Popen[bytes]:
        """Start a process in its own process group (its workers and runners are stopped with it)."""
        output = (self.root / f"{name}.out").open("wb")
        self._outputs.append(output)
        self.processes[name] = subprocess.Popen(
            argv, env=self.env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
        return self.processes[name]

    def wait_for_api(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive("api-server")
            try:
                if requests.get(f"{self.api_url}/execution/health", timeout=5).status_code == 200:
                    return
            except requests.RequestException:  # not listening yet, or still starting up
                pass
            time.sleep(0.3)
        pytest.fail(f"the Execution API did not start:\n{self.output('api-server')[-3000:]}")

    def check_alive(self, *names: str) -> None:
        for name in names:
            code = self.processes[name].poll()
            if code is not None:
                pytest.fail(f"{name} exited {code}:\n{self.output(name)[-5000:]}")

    def output(self, name: str) -> str:
        return (self.root / f"{name}.out").read_text(errors="replace")

    def stop(self, *names: str, grace: float = 30) -> None:
        """Ask the named processes (default: all) and their groups to stop; kill what lingers."""
        chosen = [self.processes[name] for name in names or self.processes]
        for process in chosen:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for process in chosen:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        if not names:
            for output in self._outputs:
                output.close()

    def query(self, sql: str) -> list[sqlite3.Row]:
        with sqlite3.connect(f"file:{self.home / 'airflow.db'}?mode=ro", uri=True, timeout=10) as db:
            db.row_factory = sqlite3.Row
            return db.execute(sql).fetchall()

    def tables(self) -> dict[str, str]:
        """Every table but ``connection`` (which holds the connection itself), rendered as text."""
        names = [row["name"] for row in self.query("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {
            name: "\n".join(repr(tuple(row)) for row in self.query(f'SELECT * FROM "{name}"'))
            for name in names
            if name != "connection"
        }

    def signatures(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.spy_file.read_text().splitlines()]


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    started = Deployment(tmp_path)
    try:
        yield started
    finally:
        started.stop()


def leaks(text: str, forbidden: dict[str, str]) -> list[str]:
    """Names of the forbidden values found in ``text``."""
    return [name for name, value in forbidden.items() if value in text]


def wait_for_trigger_row(deployment: Deployment, timeout: float = 180) -> sqlite3.Row:
    """The trigger row of the deferred withdraw task, read while it is deferred."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        deployment.check_alive("api-server", "triggerer", "dags-test")
        try:
            rows = deployment.query("SELECT classpath, kwargs FROM trigger")
        except sqlite3.OperationalError:  # the scheduler loop may hold a write lock for a moment
            rows = []
        if rows:
            [row] = rows
            return row
        time.sleep(0.5)
    pytest.fail(f"the withdraw task never deferred:\n{deployment.output('dags-test')[-5000:]}")


def wait_for_run(deployment: Deployment, timeout: float = 240) -> str:
    """The final state of the DAG run (read from the database, so a slow executor shutdown cannot block)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        dags_test = deployment.processes["dags-test"]
        if dags_test.poll() not in (None, 0):
            pytest.fail(f"dags test exited {dags_test.returncode}:\n{deployment.output('dags-test')[-5000:]}")
        try:
            states = [
                row["state"]
                for row in deployment.query(f"SELECT state FROM dag_run WHERE dag_id = '{DAG_ID}'")
            ]
        except sqlite3.OperationalError:
            states = []
        if states and states[0] in ("success", "failed"):
            return str(states[0])
        time.sleep(0.5)
    pytest.fail(f"the DAG run did not finish:\n{deployment.output('dags-test')[-5000:]}")


@pytest.mark.kraken_world(overrides={"api_keys": {KEY_NAME: OWN_KEY}, "lifecycle": {"manual": True}})
def test_withdraw_dag_leaks_no_secret(kraken_sandbox: Any, deployment: Deployment) -> None:
    creds = kraken_sandbox.world_key(KEY_NAME)
    assert creds.otp == OTP and {"+", "/", "="} <= set(creds.secret)
    deployment.run(AIRFLOW_BIN, "db", "migrate")
    deployment.start("api-server", AIRFLOW_BIN, "api-server", "--apps", "execution", "--workers", "1")
    deployment.start("triggerer", AIRFLOW_BIN, "triggerer", "--skip-serve-logs")
    connection = {
        "conn_id": CONN_ID,
        "conn_type": "kraken",
        "login": creds.key,
        "password": creds.secret,
        "host": kraken_sandbox.url,
        "extra": json.dumps({"otp_password": OTP, "rate_tier": "pro"}),
    }
    deployment.run(sys.executable, "-c", ADD_CONNECTION, json.dumps(connection))
    deployment.wait_for_api()

    deployment.start("dags-test", AIRFLOW_BIN, "dags", "test", DAG_ID, "--use-executor")
    # The withdrawal stays Initial (manual lifecycle) until released, so the trigger row can be read.
    trigger = wait_for_trigger_row(deployment)
    [withdrawal] = kraken_sandbox.admin.account().withdrawals
    kraken_sandbox.admin.set_withdrawal_status(withdrawal["refid"], "Success")
    assert wait_for_run(deployment) == "success", deployment.output("dags-test")[-5000:]
    # Let the scheduler loop shut its executor down (closing the task logs); stop it if that hangs.
    try:
        deployment.processes["dags-test"].wait(timeout=60)
    except subprocess.TimeoutExpired:
        deployment.stop("dags-test")
    deployment.stop()

    # What was searched for: the secret (also URL-encoded), the OTP and every signature computed.
    signatures = deployment.signatures()
    forbidden = {
        "API secret": creds.secret,
        "URL-encoded API secret": urllib.parse.quote(creds.secret, safe=""),
    }
    forbidden["OTP"] = OTP
    forbidden.update({f"API-Sign of {s['method']} #{i}": s["signature"] for i, s in enumerate(signatures)})
    written = [s for s in signatures if s["method"] == "Withdraw"]
    in_triggerer = [s for s in signatures if "triggerer" in s["argv"]]
    assert len(written) == 1 and in_triggerer, signatures

    # The trigger row, as the triggerer received it while the task was deferred.
    assert trigger["classpath"] == "airflow_provider_kraken.triggers.funding.KrakenWithdrawalTrigger"
    assert withdrawal["refid"] in trigger["kwargs"] and CONN_ID in trigger["kwargs"]
    assert leaks(trigger["kwargs"], forbidden) == [] and not BASE64_88.search(trigger["kwargs"])

    # Task and trigger log files.
    log_dir = deployment.home / "logs"
    logs = {
        "/".join(path.relative_to(log_dir).parts[-2:]): path.read_text() for path in log_dir.rglob("*.log")
    }
    expected = {"task_id=withdraw/attempt=1.log", "task_id=withdraw/attempt=1.log.trigger.1.log"}
    assert expected | {"task_id=canary/attempt=1.log"} <= set(logs), sorted(logs)
    task_logs = "\n".join(logs.values())
    assert "Kraken accepted withdrawal" in task_logs and "urllib3.connectionpool" in task_logs
    assert f"{CANARY} secret=*** otp=***" in task_logs
    assert leaks(task_logs, forbidden) == []
    assert BASE64_88.findall(task_logs) == []

    # XComs, rendered template fields, task state, trigger leftovers: every table but `connection`.
    tables = deployment.tables()
    assert withdrawal["refid"] in tables["xcom"] and '"status": "Success"' in tables["xcom"]
    assert '"asset": "doge"' in tables["rendered_task_instance_fields"]
    assert {name: found for name, text in tables.items() if (found := leaks(text, forbidden))} == {}
    for name in ("xcom", "rendered_task_instance_fields", "trigger", "task_state_store", "task_instance"):
        assert BASE64_88.findall(tables[name]) == [], name

    # The consoles (Airflow copies task logs to the executor's stdout without masking them): the
    # provider itself never prints a secret, so only the canary's deliberate line may carry one.
    for name in deployment.processes:
        console = "\n".join(line for line in deployment.output(name).splitlines() if CANARY not in line)
        assert leaks(console, forbidden) == [], name
