"""The admin API under `/_sandbox/`: faults, clock, lifecycle, deposits, inspection and reset.

Guarded by a per-server token in the `X-Sandbox-Token` header; it is plain JSON over HTTP (not Kraken's
protocol), so HTTP status codes carry its errors. `AdminClient` (admin.py) is the typed client for it.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from .core import SandboxHost, SandboxState
from .errors import KrakenError
from .ledger import ZERO, Account, Deposit, Withdrawal
from .params import parse_amount

TOKEN_HEADER = "x-sandbox-token"
WITHDRAW_STATUSES = frozenset({"Initial", "Pending", "Settled", "Success", "Failure"})
STATUS_PROPS = frozenset({"cancel-pending", "canceled", "cancel-denied", "return", "onhold"})


class AdminError(Exception):
    """A refused admin request (becomes `{"error": message}` with the given HTTP status)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"{value:f}"
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def json_response(data: Any, status: int = 200) -> Response:
    """Compact JSON, Decimal as strings."""
    body = json.dumps(data, default=_default, separators=(",", ":"))
    return Response(body, status_code=status, media_type="application/json")


async def _payload(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw, parse_float=Decimal)
    except ValueError as exc:
        raise AdminError(f"body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise AdminError("body must be a JSON object")
    return data


Handler = Callable[[SandboxHost, Request], Awaitable[Any]]


def _guard(host: SandboxHost, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        token = request.headers.get(TOKEN_HEADER, "")
        if not hmac.compare_digest(token.encode(), host.admin_token.encode()):
            return json_response({"error": "missing or wrong X-Sandbox-Token"}, 401)
        try:
            host.state.ledger.tick(host.state.clock.now())
            return json_response(await handler(host, request))
        except AdminError as exc:
            return json_response({"error": str(exc)}, exc.status)
        except (ValidationError, ValueError, KeyError, TypeError, KrakenError) as exc:
            return json_response({"error": f"{type(exc).__name__}: {exc}"}, 400)

    return endpoint


# -- views
def withdrawal_json(w: Withdrawal) -> dict[str, Any]:
    """Everything the ledger knows about a withdrawal (more than WithdrawStatus shows)."""
    return {
        "refid": w.refid,
        "account": w.account,
        "asset": w.asset.id,
        "method": w.method,
        "network": w.network,
        "key": w.key,
        "address": w.address,
        "amount": w.asset.fmt(w.net),
        "gross": w.asset.fmt(w.gross),
        "fee": w.asset.fmt(w.fee),
        "time": w.time,
        "status": w.status,
        "status_prop": w.status_prop,
        "txid": w.txid,
        "refunded": w.refunded,
    }


def deposit_json(d: Deposit) -> dict[str, Any]:
    """Everything the ledger knows about a deposit."""
    return {
        "refid": d.refid,
        "account": d.account,
        "asset": d.asset.id,
        "method": d.method,
        "amount": d.asset.fmt(d.amount),
        "fee": None if d.fee is None else d.asset.fmt(d.fee),
        "txid": d.txid,
        "info": d.info,
        "time": d.time,
        "status": d.status,
        "status_prop": d.status_prop,
        "originators": d.originators,
        "confirmations": d.confirmations,
        "credited": d.credited,
    }


def account_json(state: SandboxState, account: Account) -> dict[str, Any]:
    """Balances (with available amounts), futures wallet, withdrawals, deposits, addresses and transfers."""
    balances: dict[str, Any] = {}
    for aid in dict.fromkeys([*account.balances, *account.hold_trade, *account.credit]):
        asset = state.assets.by_id(aid)
        balances[aid] = {
            "balance": asset.fmt(account.balances.get(aid, ZERO)),
            "hold_trade": asset.fmt(account.hold_trade.get(aid, ZERO)),
            "credit": asset.fmt(account.credit.get(aid, ZERO)),
            "credit_used": asset.fmt(account.credit_used.get(aid, ZERO)),
            "available": asset.fmt(account.available(aid)),
        }
    return {
        "balances": balances,
        "futures": {aid: state.assets.by_id(aid).fmt(v) for aid, v in account.futures.items()},
        "withdrawals": [withdrawal_json(w) for w in sorted(account.withdrawals, key=lambda w: w.seq)],
        "deposits": [deposit_json(d) for d in sorted(account.deposits, key=lambda d: d.seq)],
        "addresses": [
            {
                "asset": a.asset,
                "method": a.method,
                "address": a.address,
                "expiretm": a.expiretm,
                "used": a.used,
            }
            for a in account.addresses
        ],
        "transfers": [
            {
                "refid": t.refid,
                "asset": t.asset.id,
                "amount": t.asset.fmt(t.amount),
                "from": t.source,
                "to": t.destination,
                "time": t.time,
            }
            for t in account.transfers
        ],
    }


def _clock_json(state: SandboxState) -> dict[str, Any]:
    clock = state.clock.state()
    return {"now": clock.now, "frozen": clock.frozen, "offset": clock.offset}


def _lifecycle_json(state: SandboxState) -> dict[str, Any]:
    t = state.timings
    return {
        "manual": t.manual,
        "withdraw_initial_seconds": t.withdraw_initial_seconds,
        "withdraw_pending_seconds": t.withdraw_pending_seconds,
        "withdraw_settled_seconds": t.withdraw_settled_seconds,
        "cancel_seconds": t.cancel_seconds,
        "deposit_confirmation_seconds": t.deposit_confirmation_seconds,
    }


def _account(state: SandboxState, name: str | None) -> Account:
    name = name or state.world.default_account
    if name not in state.ledger.accounts:
        raise AdminError(f"unknown account {name!r}", 404)
    return state.ledger.account(name)


def _status_update(
    data: dict[str, Any], statuses: frozenset[str], current_prop: str | None
) -> tuple[str | None, str | None]:
    status = data.get("status")
    if status is not None and status not in statuses:
        raise AdminError(f"status must be one of {sorted(statuses)}")
    prop = data.get("status_prop", current_prop)
    if prop is not None and prop not in STATUS_PROPS:
        raise AdminError(f"status_prop must be one of {sorted(STATUS_PROPS)} or null")
    return status, prop


# -- handlers
async def health(host: SandboxHost, request: Request) -> Any:
    """Liveness and the world's name."""
    return {"ok": True, "world": host.state.world.name}


async def reset(host: SandboxHost, request: Request) -> Any:
    """A fresh world: the server's own, or `world_toml`, each with optional deep-merged `overrides`."""
    data = await _payload(request)
    state = host.reset(world_toml=data.get("world_toml"), overrides=data.get("overrides"))
    return {"ok": True, "world": state.world.name}


async def calls(host: SandboxHost, request: Request) -> Any:
    """The call log after sequence number `since`, optionally for one `method`."""
    since = int(request.query_params.get("since", "0"))
    records = host.state.log.since(since, request.query_params.get("method"))
    return [r.to_json() for r in records]


async def ledger(host: SandboxHost, request: Request) -> Any:
    """Every account's ledger."""
    state = host.state
    return {"accounts": {name: account_json(state, acct) for name, acct in state.ledger.accounts.items()}}


async def list_faults(host: SandboxHost, request: Request) -> Any:
    """Armed faults (spent ones included, with their counters)."""
    return [f.to_json() for f in host.state.faults.all()]


async def add_fault(host: SandboxHost, request: Request) -> Any:
    """Arm a fault."""
    return host.state.faults.add(await _payload(request)).to_json()


async def clear_faults(host: SandboxHost, request: Request) -> Any:
    """Disarm every fault."""
    host.state.faults.clear()
    return {"ok": True}


async def remove_fault(host: SandboxHost, request: Request) -> Any:
    """Disarm one fault."""
    if not host.state.faults.remove(int(request.path_params["fault_id"])):
        raise AdminError("no such fault", 404)
    return {"ok": True}


async def clock(host: SandboxHost, request: Request) -> Any:
    """Read the clock, or change it: `set` (epoch), `advance` (seconds), `frozen` (bool)."""
    state = host.state
    if request.method == "POST":
        data = await _payload(request)
        if data.get("frozen") is True:
            state.clock.freeze()
        if data.get("set") is not None:
            state.clock.set(float(data["set"]))
        if data.get("frozen") is False:
            state.clock.unfreeze()
        if data.get("advance") is not None:
            state.clock.advance(float(data["advance"]))
        state.ledger.tick(state.clock.now())
    return _clock_json(state)


async def lifecycle(host: SandboxHost, request: Request) -> Any:
    """Read or change the lifecycle timings / manual mode."""
    state = host.state
    if request.method == "POST":
        data = await _payload(request)
        timings = state.timings
        was_manual = timings.manual
        for name, value in data.items():
            if name == "manual":
                timings.manual = bool(value)
            elif name in _lifecycle_json(state):
                seconds = float(value)
                if seconds < 0:
                    raise AdminError(f"{name} must be >= 0")
                setattr(timings, name, seconds)
            else:
                raise AdminError(f"unknown lifecycle field {name!r}")
        if was_manual and not timings.manual:
            state.ledger.restart_timers(state.clock.now())
        state.ledger.tick(state.clock.now())
    return _lifecycle_json(state)


async def set_withdrawal(host: SandboxHost, request: Request) -> Any:
    """Force a withdrawal's `status` and/or `status_prop` (null clears it); Failure refunds."""
    ledger = host.state.ledger
    record = await _set_status(
        host, request, ledger.find_withdrawal, ledger.set_withdrawal_status, "withdrawal"
    )
    return withdrawal_json(record)


async def set_deposit(host: SandboxHost, request: Request) -> Any:
    """Force a deposit's `status` and/or `status_prop`; crediting follows Success."""
    ledger = host.state.ledger
    record = await _set_status(host, request, ledger.find_deposit, ledger.set_deposit_status, "deposit")
    return deposit_json(record)


async def _set_status(host: SandboxHost, request: Request, find: Any, apply: Any, what: str) -> Any:
    """Find the record named in the path, then apply the requested status and/or status-prop to it."""
    record = find(request.path_params["refid"])
    if record is None:
        raise AdminError(f"unknown {what}", 404)
    status, prop = _status_update(await _payload(request), WITHDRAW_STATUSES, record.status_prop)
    apply(record, status or record.status, prop, host.state.clock.now())
    return record


async def inject_deposit(host: SandboxHost, request: Request) -> Any:
    """A deposit arriving now: Settled, then Success after its confirmations (or the given `status`)."""
    state = host.state
    data = await _payload(request)
    account = _account(state, data.get("account"))
    asset = state.assets.get(str(data["asset"]))
    if asset is None:
        raise AdminError(f"unknown asset {data['asset']!r}")
    methods = state.world.deposit_methods.get(asset.id, {})
    method = data.get("method") or next(iter(methods), None)
    if method not in methods:
        raise AdminError(f"no deposit method {method!r} for {asset.id}")
    amount = parse_amount(str(data["amount"]), "amount")
    fee = parse_amount(str(data["fee"]), "fee") if data.get("fee") is not None else ZERO
    if not asset.fits(amount) or not asset.fits(fee):
        raise AdminError(f"amount has more than {asset.config.decimals} decimals")
    status = str(data.get("status", "Settled"))
    if status not in WITHDRAW_STATUSES:
        raise AdminError(f"status must be one of {sorted(WITHDRAW_STATUSES)}")
    confirmations = data.get("confirmations")
    record = state.ledger.inject_deposit(
        account,
        asset,
        method,
        amount,
        now=state.clock.now(),
        fee=fee,
        address=data.get("address"),
        txid=data.get("txid"),
        refid=data.get("refid"),
        status=status,
        confirmations=None if confirmations is None else int(confirmations),
        originators=data.get("originators"),
    )
    return deposit_json(record)


async def set_balance(host: SandboxHost, request: Request) -> Any:
    """Set an asset's `balance` (and optionally `hold_trade`, `credit`, `credit_used`) on an account."""
    state = host.state
    data = await _payload(request)
    account = _account(state, data.get("account"))
    asset = state.assets.get(str(data["asset"]))
    if asset is None:
        raise AdminError(f"unknown asset {data['asset']!r}")
    for field, target in (
        ("balance", account.balances),
        ("hold_trade", account.hold_trade),
        ("credit", account.credit),
        ("credit_used", account.credit_used),
    ):
        if data.get(field) is not None:
            value = parse_amount(str(data[field]), field)
            if not asset.fits(value):
                raise AdminError(f"{field} has more than {asset.config.decimals} decimals")
            target[asset.id] = value
    return account_json(state, account)["balances"].get(asset.id, {})


async def keys(host: SandboxHost, request: Request) -> Any:
    """Every API key of the world in play, secrets included (the admin API is the sandbox owner's)."""
    return [
        {
            "name": k.name,
            "key": k.config.key,
            "secret": k.config.secret,
            "account": k.account,
            "permissions": sorted(k.permissions),
            "tier": k.config.tier,
            "nonce_window": k.config.nonce_window,
            "otp": k.config.otp,
        }
        for k in host.state.keys.all()
    ]


async def world(host: SandboxHost, request: Request) -> Any:
    """The world in play, as validated data."""
    return host.state.world.model_dump(mode="json")


def admin_routes(host: SandboxHost) -> list[BaseRoute]:
    """Routes to mount under `/_sandbox`."""

    def route(path: str, handler: Handler, methods: list[str]) -> Route:
        return Route(path, _guard(host, handler), methods=methods)

    return [
        route("/health", health, ["GET"]),
        route("/reset", reset, ["POST"]),
        route("/calls", calls, ["GET"]),
        route("/ledger", ledger, ["GET"]),
        route("/faults", list_faults, ["GET"]),
        route("/faults", add_fault, ["POST"]),
        route("/faults", clear_faults, ["DELETE"]),
        route("/faults/{fault_id:int}", remove_fault, ["DELETE"]),
        route("/clock", clock, ["GET", "POST"]),
        route("/lifecycle", lifecycle, ["GET", "POST"]),
        route("/withdrawals/{refid}", set_withdrawal, ["POST"]),
        route("/deposits", inject_deposit, ["POST"]),
        route("/deposits/{refid}", set_deposit, ["POST"]),
        route("/balances", set_balance, ["POST"]),
        route("/keys", keys, ["GET"]),
        route("/world", world, ["GET"]),
    ]
