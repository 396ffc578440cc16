"""Airflow's public REST API (v2), as the harness uses it: trigger runs, read states, clear, pools."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

import requests

TERMINAL_RUN_STATES = frozenset({"success", "failed"})
FINISHED_TI_STATES = frozenset({"success", "failed", "skipped", "upstream_failed", "removed"})


class ApiError(RuntimeError):
    """The API answered with an error status."""


class AirflowApi:
    """A logged-in client of one API server (token from the SimpleAuthManager)."""

    def __init__(self, base_url: str, username: str, password: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._credentials = {"username": username, "password": password}
        self._session = requests.Session()

    def login(self) -> None:
        response = self._session.post(f"{self.base_url}/auth/token", json=self._credentials, timeout=30)
        if response.status_code not in (200, 201):
            raise ApiError(f"login failed: {response.status_code} {response.text[:300]}")
        self._session.headers["Authorization"] = f"Bearer {response.json()['access_token']}"

    def call(self, verb: str, path: str, *, ok: Iterable[int] = (200, 201), **kwargs: Any) -> Any:
        response = self._session.request(verb, f"{self.base_url}/api/v2{path}", timeout=30, **kwargs)
        if response.status_code == 401:
            self.login()
            response = self._session.request(verb, f"{self.base_url}/api/v2{path}", timeout=30, **kwargs)
        if response.status_code not in set(ok):
            raise ApiError(f"{verb} {path}: {response.status_code} {response.text[:500]}")
        return response.json() if response.content else None

    # -- DAGs and runs ------------------------------------------------------------------------------------
    def dag(self, dag_id: str) -> dict[str, Any] | None:
        """The DAG once the dag-processor has parsed it, else None."""
        response = self._session.get(f"{self.base_url}/api/v2/dags/{dag_id}", timeout=30)
        if response.status_code == 404:
            return None
        if response.status_code == 401:
            self.login()
            return self.dag(dag_id)
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data

    def import_errors(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.call("GET", "/importErrors")["import_errors"]
        return result

    def trigger(self, dag_id: str, run_id: str, conf: dict[str, Any] | None = None) -> dict[str, Any]:
        """Start a run now (no logical date, as a manual trigger in Airflow 3)."""
        body = {"dag_run_id": run_id, "logical_date": None, "conf": conf or {}}
        result: dict[str, Any] = self.call("POST", f"/dags/{dag_id}/dagRuns", json=body)
        return result

    def run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}")
        return result

    def wait_for_run(
        self, dag_id: str, run_id: str, *, timeout: float, diagnostics: Callable[[], str] = lambda: ""
    ) -> dict[str, Any]:
        """The run once it finished (success or failed)."""
        result: dict[str, Any] = wait_until(
            f"DAG run {dag_id}/{run_id} to finish",
            lambda: (run := self.run(dag_id, run_id))["state"] in TERMINAL_RUN_STATES and run,
            timeout=timeout,
            diagnostics=lambda: f"task states: {self.states(dag_id, run_id)}\n{diagnostics()}",
        )
        return result

    def states(self, dag_id: str, run_id: str) -> dict[str, int]:
        """How many task instances of a run are in each state."""
        counts: dict[str, int] = {}
        for ti in self.task_instances(dag_id, run_id):
            state = str(ti["state"])
            counts[state] = counts.get(state, 0) + 1
        return counts

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        """Every task instance of a run, mapped ones included (one entry per map index)."""
        items: list[dict[str, Any]] = []
        while True:
            page = self.call(
                "GET",
                f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances",
                params={"limit": 100, "offset": len(items)},
            )
            items += page["task_instances"]
            if len(items) >= page["total_entries"] or not page["task_instances"]:
                return items

    def task_instance(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> dict[str, Any]:
        suffix = f"/{map_index}" if map_index >= 0 else ""
        result: dict[str, Any] = self.call(
            "GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}{suffix}"
        )
        return result

    def tries(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> list[dict[str, Any]]:
        """Every try of a task instance (the tries history)."""
        suffix = f"/{map_index}" if map_index >= 0 else ""
        result: list[dict[str, Any]] = self.call(
            "GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}{suffix}/tries"
        )["task_instances"]
        return result

    def xcom(
        self, dag_id: str, run_id: str, task_id: str, key: str = "return_value", map_index: int = -1
    ) -> Any:
        """An XCom value as stored (the API's `deserialize` would re-parse "1.50" into a float)."""
        result = self.call(
            "GET",
            f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}",
            params={"map_index": map_index},
        )
        return result["value"]

    def clear(self, dag_id: str, run_id: str, task_ids: list[str]) -> list[dict[str, Any]]:
        """Clear task instances of a run (also successful ones), as a user does in the UI."""
        body = {"dry_run": False, "only_failed": False, "dag_run_id": run_id, "task_ids": task_ids}
        result: list[dict[str, Any]] = self.call("POST", f"/dags/{dag_id}/clearTaskInstances", json=body)[
            "task_instances"
        ]
        return result

    def set_variable(self, key: str, value: str) -> None:
        self.call("POST", "/variables", json={"key": key, "value": value})

    def ensure_pool(self, name: str, slots: int) -> None:
        body = {"name": name, "slots": slots, "description": "Kraken API key (deployment tests)"}
        response = self._session.post(f"{self.base_url}/api/v2/pools", json=body, timeout=30)
        if response.status_code == 409:
            self.call("PATCH", f"/pools/{name}", json=body)
        elif response.status_code not in (200, 201):
            raise ApiError(f"pool {name}: {response.status_code} {response.text[:300]}")


def wait_until(
    what: str,
    check: Callable[[], Any],
    *,
    timeout: float,
    interval: float = 1.0,
    diagnostics: Callable[[], str] = lambda: "",
) -> Any:
    """Poll `check` until it returns something truthy; on timeout fail with `what` and diagnostics."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}\n{diagnostics()}")
        time.sleep(interval)
