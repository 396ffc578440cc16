"""`AdminClient`: a typed client (requests) for the sandbox admin API - faults, clock, lifecycle, deposits,
call log, ledger and reset. Imports nothing from the server side, so tests and DAGs can use it cheaply."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import requests

from .faults import FaultKind

__all__ = [
    "AccountLedger",
    "AdminClient",
    "AdminError",
    "BalanceRow",
    "CallRecord",
    "ClockInfo",
    "Credentials",
    "FaultInfo",
    "FaultKind",
]

TOKEN_HEADER = "X-Sandbox-Token"


class AdminError(RuntimeError):
    """The admin API refused a request."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"sandbox admin API {status}: {message}")
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class Credentials:
    """An API key of the world (with everything needed to use or describe it)."""

    name: str
    key: str
    secret: str
    account: str
    permissions: tuple[str, ...]
    tier: str
    nonce_window: int
    otp: str | None


@dataclass(frozen=True, slots=True)
class FaultInfo:
    """An armed fault and its counters."""

    id: int
    kind: FaultKind
    method: str
    times: int
    execute: bool
    fired: int
    remaining: int
    api_key: str | None
    status: int
    error: str | None
    seconds: float
    mode: str


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One logged API call: the verdict (`outcome`, `executed`) and what the client got (`reply`)."""

    seq: int
    time: float
    wall_time: float
    method: str
    api_key: str | None
    key_name: str | None
    nonce: str | None
    params: dict[str, str]
    outcome: str
    executed: bool
    result: Any
    fault: str | None
    fault_id: int | None
    reply: str
    http_status: int | None


@dataclass(frozen=True, slots=True)
class ClockInfo:
    """The sandbox clock."""

    now: float
    frozen: bool
    offset: float


@dataclass(frozen=True, slots=True)
class BalanceRow:
    """One asset's balance in an account."""

    balance: Decimal
    hold_trade: Decimal
    credit: Decimal
    credit_used: Decimal
    available: Decimal


@dataclass(frozen=True, slots=True)
class AccountLedger:
    """An account's ledger; records are plain dicts as the admin API returns them."""

    balances: dict[str, BalanceRow]
    futures: dict[str, Decimal]
    withdrawals: list[dict[str, Any]] = field(default_factory=list)
    deposits: list[dict[str, Any]] = field(default_factory=list)
    addresses: list[dict[str, Any]] = field(default_factory=list)
    transfers: list[dict[str, Any]] = field(default_factory=list)

    def balance(self, asset: str) -> Decimal:
        """An asset's `balance` (zero when absent)."""
        row = self.balances.get(asset)
        return row.balance if row else Decimal(0)

    def withdrawal(self, refid: str) -> dict[str, Any]:
        """A withdrawal by refid (KeyError if absent)."""
        for record in self.withdrawals:
            if record["refid"] == refid:
                return record
        raise KeyError(refid)


_UNSET: Any = object()


class AdminClient:
    """The admin API of one sandbox server."""

    def __init__(
        self, url: str, token: str, *, timeout: float = 30.0, session: requests.Session | None = None
    ) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._session = session or requests.Session()
        self._session.headers[TOKEN_HEADER] = token

    def _call(self, verb: str, path: str, payload: Mapping[str, Any] | None = None, **query: Any) -> Any:
        response = self._session.request(
            verb,
            f"{self.url}/_sandbox{path}",
            json=_plain(payload) if payload is not None else None,
            params={k: v for k, v in query.items() if v is not None} or None,
            timeout=self.timeout,
        )
        if response.status_code != 200:
            try:
                message = str(response.json().get("error"))
            except ValueError:
                message = response.text
            raise AdminError(response.status_code, message)
        return response.json()

    def close(self) -> None:
        """Close the HTTP session."""
        self._session.close()

    # -- world
    def health(self) -> bool:
        """Whether the server answers."""
        return bool(self._call("GET", "/health")["ok"])

    def reset(self, *, world_toml: str | None = None, overrides: Mapping[str, Any] | None = None) -> None:
        """A fresh world (the server's own unless `world_toml`), with optional deep-merged `overrides`."""
        self._call("POST", "/reset", {"world_toml": world_toml, "overrides": overrides})

    def world(self) -> dict[str, Any]:
        """The world in play as data."""
        result: dict[str, Any] = self._call("GET", "/world")
        return result

    def keys(self) -> dict[str, Credentials]:
        """Every API key of the world in play, by name."""
        return {
            item["name"]: Credentials(
                name=item["name"],
                key=item["key"],
                secret=item["secret"],
                account=item["account"],
                permissions=tuple(item["permissions"]),
                tier=item["tier"],
                nonce_window=item["nonce_window"],
                otp=item["otp"],
            )
            for item in self._call("GET", "/keys")
        }

    # -- faults
    def add_fault(
        self,
        kind: FaultKind | str,
        method: str = "*",
        *,
        times: int = 1,
        execute: bool | None = None,
        api_key: str | None = None,
        status: int | None = None,
        error: str | None = None,
        seconds: float | None = None,
        mode: str | None = None,
    ) -> FaultInfo:
        """Arm a fault for the next `times` calls of `method` ("*" = any), optionally only for one API key."""
        spec = {
            "kind": str(kind),
            "method": method,
            "times": times,
            "execute": execute,
            "api_key": api_key,
            "status": status,
            "error": error,
            "seconds": seconds,
            "mode": mode,
        }
        return _fault(self._call("POST", "/faults", {k: v for k, v in spec.items() if v is not None}))

    def drop_response(
        self,
        method: str = "*",
        *,
        times: int = 1,
        execute: bool = True,
        mode: str = "close",
        api_key: str | None = None,
    ) -> FaultInfo:
        """Close the connection without any HTTP response (after executing the call by default);
        `mode="reset"` sends a TCP RST instead of a FIN."""
        return self.add_fault(
            FaultKind.DROP, method, times=times, execute=execute, mode=mode, api_key=api_key
        )

    def http_error(
        self,
        status: int = 502,
        method: str = "*",
        *,
        times: int = 1,
        execute: bool = False,
        api_key: str | None = None,
    ) -> FaultInfo:
        """Answer with an HTTP error status and an HTML page (502, 503, 520, ...)."""
        return self.add_fault(
            FaultKind.HTTP_ERROR, method, times=times, execute=execute, status=status, api_key=api_key
        )

    def service_unavailable(
        self, method: str = "*", *, times: int = 1, execute: bool = False, api_key: str | None = None
    ) -> FaultInfo:
        """Answer `EService:Unavailable`."""
        return self.add_fault(
            FaultKind.SERVICE_UNAVAILABLE, method, times=times, execute=execute, api_key=api_key
        )

    def service_busy(
        self, method: str = "*", *, times: int = 1, execute: bool = False, api_key: str | None = None
    ) -> FaultInfo:
        """Answer `EService:Busy`."""
        return self.add_fault(FaultKind.SERVICE_BUSY, method, times=times, execute=execute, api_key=api_key)

    def invalid_nonce(
        self, method: str = "*", *, times: int = 1, execute: bool = False, api_key: str | None = None
    ) -> FaultInfo:
        """Answer `EAPI:Invalid nonce` (the nonce is not consumed unless `execute`)."""
        return self.add_fault(FaultKind.INVALID_NONCE, method, times=times, execute=execute, api_key=api_key)

    def rate_limit(self, method: str = "*", *, times: int = 1, api_key: str | None = None) -> FaultInfo:
        """Answer `EAPI:Rate limit exceeded` to the next `times` calls (not executed)."""
        return self.add_fault(FaultKind.RATE_LIMIT, method, times=times, execute=False, api_key=api_key)

    def kraken_error(
        self,
        error: str,
        method: str = "*",
        *,
        times: int = 1,
        execute: bool = False,
        api_key: str | None = None,
    ) -> FaultInfo:
        """Answer any Kraken error string, e.g. `EGeneral:Internal error`."""
        return self.add_fault(
            FaultKind.KRAKEN_ERROR, method, times=times, execute=execute, error=error, api_key=api_key
        )

    def delay(
        self,
        seconds: float,
        method: str = "*",
        *,
        times: int = 1,
        execute: bool = True,
        api_key: str | None = None,
    ) -> FaultInfo:
        """Answer late: execute then wait (`execute=True`), or wait then execute (`execute=False`)."""
        return self.add_fault(
            FaultKind.DELAY, method, times=times, execute=execute, seconds=seconds, api_key=api_key
        )

    def faults(self) -> list[FaultInfo]:
        """Armed faults with their counters."""
        return [_fault(item) for item in self._call("GET", "/faults")]

    def clear_faults(self) -> None:
        """Disarm every fault."""
        self._call("DELETE", "/faults")

    def remove_fault(self, fault_id: int) -> None:
        """Disarm one fault."""
        self._call("DELETE", f"/faults/{fault_id}")

    # -- clock and lifecycle
    def clock(self) -> ClockInfo:
        """The sandbox clock."""
        return ClockInfo(**self._call("GET", "/clock"))

    def advance(self, seconds: float) -> ClockInfo:
        """Move time forward (lifecycles progress, rate counters decay)."""
        return ClockInfo(**self._call("POST", "/clock", {"advance": seconds}))

    def set_clock(self, epoch: float, *, frozen: bool | None = None) -> ClockInfo:
        """Jump to an epoch, optionally freezing (True) or releasing (False) the clock."""
        return ClockInfo(**self._call("POST", "/clock", {"set": epoch, "frozen": frozen}))

    def freeze(self, frozen: bool = True) -> ClockInfo:
        """Freeze (or with False, release) the clock."""
        return ClockInfo(**self._call("POST", "/clock", {"frozen": frozen}))

    def lifecycle(self) -> dict[str, Any]:
        """Current lifecycle timings."""
        result: dict[str, Any] = self._call("GET", "/lifecycle")
        return result

    def set_lifecycle(
        self,
        *,
        manual: bool | None = None,
        withdraw_initial_seconds: float | None = None,
        withdraw_pending_seconds: float | None = None,
        withdraw_settled_seconds: float | None = None,
        cancel_seconds: float | None = None,
        deposit_confirmation_seconds: float | None = None,
    ) -> dict[str, Any]:
        """Change timings and/or manual mode (manual: nothing moves unless the admin API moves it)."""
        changes = {
            "manual": manual,
            "withdraw_initial_seconds": withdraw_initial_seconds,
            "withdraw_pending_seconds": withdraw_pending_seconds,
            "withdraw_settled_seconds": withdraw_settled_seconds,
            "cancel_seconds": cancel_seconds,
            "deposit_confirmation_seconds": deposit_confirmation_seconds,
        }
        result: dict[str, Any] = self._call(
            "POST", "/lifecycle", {k: v for k, v in changes.items() if v is not None}
        )
        return result

    def set_withdrawal_status(
        self, refid: str, status: str | None = None, *, status_prop: str | None = _UNSET
    ) -> dict[str, Any]:
        """Force a withdrawal's status and/or status-prop (pass `status_prop=None` to clear it)."""
        return self._set_status("withdrawals", refid, status, status_prop)

    def set_deposit_status(
        self, refid: str, status: str | None = None, *, status_prop: str | None = _UNSET
    ) -> dict[str, Any]:
        """Force a deposit's status and/or status-prop."""
        return self._set_status("deposits", refid, status, status_prop)

    def _set_status(
        self, records: str, refid: str, status: str | None, status_prop: str | None
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {"status": status}
        if status_prop is not _UNSET:
            payload["status_prop"] = status_prop
        result: dict[str, Any] = self._call("POST", f"/{records}/{refid}", payload)
        return result

    def inject_deposit(
        self,
        asset: str,
        amount: str | Decimal | int,
        *,
        method: str | None = None,
        account: str | None = None,
        address: str | None = None,
        txid: str | None = None,
        refid: str | None = None,
        fee: str | Decimal | None = None,
        status: str | None = None,
        confirmations: int | None = None,
        originators: list[str] | None = None,
    ) -> dict[str, Any]:
        """A deposit arriving now: Settled, then Success (and credited) as its confirmations arrive."""
        payload = {
            "asset": asset,
            "amount": _amount_text(amount),
            "method": method,
            "account": account,
            "address": address,
            "txid": txid,
            "refid": refid,
            "fee": None if fee is None else _amount_text(fee),
            "status": status,
            "confirmations": confirmations,
            "originators": originators,
        }
        result: dict[str, Any] = self._call(
            "POST", "/deposits", {k: v for k, v in payload.items() if v is not None}
        )
        return result

    def set_balance(
        self,
        asset: str,
        balance: str | Decimal | int | None = None,
        *,
        account: str | None = None,
        hold_trade: str | Decimal | None = None,
        credit: str | Decimal | None = None,
        credit_used: str | Decimal | None = None,
    ) -> dict[str, Any]:
        """Set balance fields of an asset on an account (default account unless named)."""
        payload = {
            "asset": asset,
            "account": account,
            "balance": balance,
            "hold_trade": hold_trade,
            "credit": credit,
            "credit_used": credit_used,
        }
        result: dict[str, Any] = self._call(
            "POST",
            "/balances",
            {
                k: v if k in ("account", "asset") else _amount_text(v)
                for k, v in payload.items()
                if v is not None
            },
        )
        return result

    # -- inspection
    def calls(self, *, since: int = 0, method: str | None = None) -> list[CallRecord]:
        """The call log (after sequence number `since`), optionally one method's calls only."""
        return [CallRecord(**item) for item in self._call("GET", "/calls", since=since, method=method)]

    def ledger(self) -> dict[str, AccountLedger]:
        """Every account's ledger."""
        return {name: _account(data) for name, data in self._call("GET", "/ledger")["accounts"].items()}

    def account(self, name: str = "main") -> AccountLedger:
        """One account's ledger."""
        return self.ledger()[name]


def _amount_text(value: str | Decimal | int) -> str:
    """An amount as plain decimal text (never `1E+3`), whatever type it came in."""
    return f"{value:f}" if isinstance(value, Decimal) else str(value)


def _plain(value: Any) -> Any:
    """JSON-ready data: Decimals become plain decimal strings, at any depth."""
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _fault(data: dict[str, Any]) -> FaultInfo:
    return FaultInfo(
        id=data["id"],
        kind=FaultKind(data["kind"]),
        method=data["method"],
        times=data["times"],
        execute=data["execute"],
        fired=data["fired"],
        remaining=data["remaining"],
        api_key=data["api_key"],
        status=data["status"],
        error=data["error"],
        seconds=data["seconds"],
        mode=data["mode"],
    )


def _account(data: dict[str, Any]) -> AccountLedger:
    return AccountLedger(
        balances={
            aid: BalanceRow(**{k: Decimal(v) for k, v in row.items()})
            for aid, row in data["balances"].items()
        },
        futures={aid: Decimal(v) for aid, v in data["futures"].items()},
        withdrawals=data["withdrawals"],
        deposits=data["deposits"],
        addresses=data["addresses"],
        transfers=data["transfers"],
    )
