"""The funding endpoints: parameters in, Kraken-shaped results out (amounts as fixed-decimal strings).

Each handler runs after authentication, nonce, rate and permission checks (see `core.py`); it raises
`KrakenError` to refuse. Unknown extra parameters are ignored, as Kraken does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from email.utils import formatdate
from typing import Any

from . import errors
from .assets import Asset, AssetBook
from .auth import ApiKey, PermissionRule
from .errors import KrakenError, invalid_arguments
from .ledger import ZERO, Account, Deposit, Ledger, Withdrawal
from .paging import in_window, newest_first, page
from .params import Params
from .world import WorldConfig

QUERY = "funds_query"
DEPOSIT = "funds_deposit"
WITHDRAW = "funds_withdraw"
LEDGER = "ledger_query"

SPOT_WALLET = "Spot Wallet"
FUTURES_WALLET = "Futures Wallet"


@dataclass(slots=True)
class Context:
    """Everything a handler may use for one call."""

    world: WorldConfig
    assets: AssetBook
    ledger: Ledger
    account: Account
    key: ApiKey
    now: float


Handler = Callable[[Context, Params], Any]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A private method: its handler, the permissions it needs (Kraken's table) and its counter cost."""

    handler: Handler
    permissions: PermissionRule
    cost: int = 1


def _rule(*alternatives: tuple[str, ...]) -> PermissionRule:
    return tuple(frozenset(a) for a in alternatives)


# -- shared parameter helpers
def _asset(ctx: Context, p: Params, error: str, *, required: bool = True) -> Asset | None:
    name = p.required("asset") if required else p.optional("asset")
    if name is None:
        return None
    asset = ctx.assets.resolve(name, error)
    aclass = p.optional("aclass")
    if aclass is not None and aclass != asset.config.aclass:
        raise KrakenError(error)
    return asset


def _required_asset(ctx: Context, p: Params, error: str) -> Asset:
    asset = _asset(ctx, p, error)
    assert asset is not None
    return asset


def _amount(p: Params, asset: Asset, name: str = "amount") -> Decimal:
    """A positive amount representable with the asset's decimals (else `EFunding:Invalid amount`)."""
    amount = p.amount(name)
    assert amount is not None
    if amount <= 0 or not asset.fits(amount):
        raise KrakenError(errors.INVALID_AMOUNT)
    return amount


def _cursor(p: Params) -> tuple[bool, str | None]:
    """(paging requested, cursor to continue from): `cursor` is a boolean or a cursor string."""
    raw = p.optional("cursor")
    if raw is None:
        return False, None
    lowered = raw.strip().lower()
    if lowered in ("false", "0"):
        return False, None
    if lowered in ("true", "1"):
        return True, None
    return True, raw


def _limit(p: Params, default: int, ceiling: int) -> int:
    limit = p.integer("limit", default)
    if limit < 1:
        raise KrakenError(invalid_arguments("limit"))
    return min(limit, ceiling)


def _opt(record: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        record[key] = value


# -- views
def deposit_view(record: Deposit) -> dict[str, Any]:
    """A DepositStatus record."""
    view: dict[str, Any] = {
        "method": record.method,
        "aclass": record.asset.config.aclass,
        "asset": record.asset.id,
        "refid": record.refid,
        "txid": record.txid,
        "info": record.info,
        "amount": record.asset.fmt(record.amount),
    }
    if record.fee is not None:
        view["fee"] = record.asset.fmt(record.fee)
    view["time"] = record.time
    view["status"] = record.status
    _opt(view, "status-prop", record.status_prop)
    _opt(view, "originators", record.originators)
    return view


def withdrawal_view(record: Withdrawal, extra_fields: Sequence[str]) -> dict[str, Any]:
    """A WithdrawStatus record: net `amount`, `fee`, destination in `info`, `network`/`key` if enabled."""
    view: dict[str, Any] = {"method": record.method}
    if "network" in extra_fields:
        view["network"] = record.network
    view.update(
        {
            "aclass": record.asset.config.aclass,
            "asset": record.asset.id,
            "refid": record.refid,
            "txid": record.txid,
            "info": record.address,
            "amount": record.asset.fmt(record.net),
            "fee": record.asset.fmt(record.fee),
            "time": record.time,
            "status": record.status,
        }
    )
    _opt(view, "status-prop", record.status_prop)
    if "key" in extra_fields:
        view["key"] = record.key
    return view


# -- balances
def balance(ctx: Context, p: Params) -> dict[str, str]:
    """Balance: every asset's balance, net of pending withdrawals."""
    acct = ctx.account
    return {aid: ctx.assets.by_id(aid).fmt(amount) for aid, amount in acct.balances.items()}


def balance_ex(ctx: Context, p: Params) -> dict[str, dict[str, str]]:
    """BalanceEx: balance and hold_trade per asset, plus credit/credit_used where a credit line exists."""
    acct = ctx.account
    out: dict[str, dict[str, str]] = {}
    for aid in dict.fromkeys([*acct.balances, *acct.hold_trade, *acct.credit]):
        asset = ctx.assets.by_id(aid)
        row = {
            "balance": asset.fmt(acct.balances.get(aid, ZERO)),
            "hold_trade": asset.fmt(acct.hold_trade.get(aid, ZERO)),
        }
        if aid in acct.credit:
            row["credit"] = asset.fmt(acct.credit[aid])
            row["credit_used"] = asset.fmt(acct.credit_used.get(aid, ZERO))
        out[aid] = row
    return out


# -- deposits
def deposit_methods(ctx: Context, p: Params) -> list[dict[str, Any]]:
    """DepositMethods for one asset; `EFunding:No funding method` if it has none."""
    asset = _required_asset(ctx, p, errors.QUERY_UNKNOWN_ASSET)
    methods = ctx.world.deposit_methods.get(asset.id, {})
    if not methods:
        raise KrakenError(errors.NO_FUNDING_METHOD)
    rows: list[dict[str, Any]] = []
    for name, cfg in methods.items():
        row: dict[str, Any] = {"method": name, "limit": False if cfg.limit is False else asset.fmt(cfg.limit)}
        _opt(row, "fee", None if cfg.fee is None else asset.fmt(cfg.fee))
        _opt(
            row,
            "address-setup-fee",
            None if cfg.address_setup_fee is None else asset.fmt(cfg.address_setup_fee),
        )
        _opt(row, "gen-address", cfg.gen_address)
        _opt(row, "minimum", None if cfg.minimum is None else asset.fmt(cfg.minimum))
        rows.append(row)
    return rows


def deposit_addresses(ctx: Context, p: Params) -> list[dict[str, Any]]:
    """DepositAddresses: list the method's addresses, or create one with `new=true`."""
    asset = _required_asset(ctx, p, errors.QUERY_UNKNOWN_ASSET)
    method = p.optional("method")
    cfg = ctx.world.deposit_methods.get(asset.id, {}).get(method or "")
    if method is None or cfg is None:
        raise KrakenError(errors.NO_FUNDING_METHOD)
    if p.boolean("new"):
        if cfg.gen_address is False:
            raise KrakenError(invalid_arguments("new"))
        created = ctx.ledger.new_address(ctx.account, asset, method, ctx.now)
        return [{"address": created.address, "expiretm": created.expiretm, "new": True}]
    mine = [a for a in ctx.account.addresses if a.asset == asset.id and a.method == method]
    return [{"address": a.address, "expiretm": a.expiretm, "new": not a.used} for a in reversed(mine)]


def deposit_status(ctx: Context, p: Params) -> list[dict[str, Any]] | dict[str, Any]:
    """DepositStatus: newest first, filtered, `limit` (default 25), optional cursor paging."""
    asset = _asset(ctx, p, errors.QUERY_UNKNOWN_ASSET, required=False)
    method, start, end = p.optional("method"), p.timestamp("start"), p.timestamp("end")
    aclass = p.optional("aclass") or "currency"
    paged, cursor = _cursor(p)
    limit = _limit(p, 25, 1000)
    records = newest_first(
        ctx.account.deposits,
        lambda d: (
            (asset is None or d.asset.id == asset.id)
            and (method is None or d.method == method)
            and d.asset.config.aclass == aclass
            and in_window(d.time, start, end)
        ),
    )
    chunk = page(records, limit, cursor)
    views = [deposit_view(d) for d in chunk.records]
    if not paged:
        return views
    result: dict[str, Any] = {"deposits": views}
    _opt(result, "next_cursor", chunk.next_cursor)
    return result


# -- withdrawals
def withdraw_methods(ctx: Context, p: Params) -> list[dict[str, Any]]:
    """WithdrawMethods, optionally for one asset / network."""
    asset = _asset(ctx, p, errors.QUERY_UNKNOWN_ASSET, required=False)
    network = p.optional("network")
    aclass = p.optional("aclass") or "currency"
    rows: list[dict[str, Any]] = []
    for aid, methods in ctx.world.withdraw_methods.items():
        current = ctx.assets.by_id(aid)
        if (asset is not None and aid != asset.id) or current.config.aclass != aclass:
            continue
        for name, cfg in methods.items():
            if network is not None and cfg.network != network:
                continue
            rows.append(
                {"asset": aid, "method": name, "network": cfg.network, "minimum": current.fmt(cfg.minimum)}
            )
    return rows


def withdraw_addresses(ctx: Context, p: Params) -> list[dict[str, Any]]:
    """WithdrawAddresses: the account's withdraw keys, filtered (asset as altname, like Kraken's example)."""
    asset = _asset(ctx, p, errors.QUERY_UNKNOWN_ASSET, required=False)
    method, key = p.optional("method"), p.optional("key")
    verified = p.boolean("verified") if p.optional("verified") is not None else None
    aclass = p.optional("aclass") or "currency"
    as_altname = ctx.world.output.withdraw_addresses_asset == "altname"
    rows: list[dict[str, Any]] = []
    for name, cfg in ctx.account.config.withdraw_keys.items():
        current = ctx.assets.resolve(cfg.asset, errors.QUERY_UNKNOWN_ASSET)
        if (
            (asset is not None and current.id != asset.id)
            or current.config.aclass != aclass
            or (method is not None and cfg.method != method)
            or (key is not None and name != key)
            or (verified is not None and cfg.verified != verified)
        ):
            continue
        row: dict[str, Any] = {
            "address": cfg.address,
            "asset": current.config.altname if as_altname else current.id,
            "method": cfg.method,
            "key": name,
        }
        _opt(row, "tag", cfg.tag)
        row["verified"] = cfg.verified
        rows.append(row)
    return rows


@dataclass(frozen=True, slots=True)
class _Quote:
    """A validated withdrawal request: key, gross amount, fee and the most that could be requested now."""

    asset: Asset
    key_name: str
    method: str
    gross: Decimal
    fee: Decimal
    limit: Decimal
    info_method: str


def _quote(ctx: Context, p: Params) -> _Quote:
    """The checks WithdrawInfo and Withdraw share (asset, key, amount format, minimum, fee)."""
    asset = _required_asset(ctx, p, errors.FUNDING_UNKNOWN_ASSET)
    key_name = p.required("key")
    key = ctx.account.withdraw_key(key_name, asset.id, ctx.assets)
    if key is None:
        raise KrakenError(errors.UNKNOWN_WITHDRAW_KEY)
    gross = _amount(p, asset)
    method = ctx.world.withdraw_methods[asset.id][key.method]
    if gross <= method.fee or gross < method.minimum:
        raise KrakenError(errors.INVALID_AMOUNT)
    limit = max(ZERO, ctx.account.available(asset.id))
    if method.limit is not None:
        limit = min(limit, method.limit)
    return _Quote(asset, key_name, key.method, gross, method.fee, limit, method.info_method or key.method)


def withdraw_info(ctx: Context, p: Params) -> dict[str, str]:
    """WithdrawInfo: net amount and fee for a gross request, and the most that can be requested now."""
    q = _quote(ctx, p)
    return {
        "method": q.info_method,
        "limit": q.asset.fmt(q.limit),
        "amount": q.asset.fmt(q.gross - q.fee),
        "fee": q.asset.fmt(q.fee),
    }


def withdraw(ctx: Context, p: Params) -> dict[str, str]:
    """Withdraw (gross amount, fee included) to a registered key; returns the new refid."""
    q = _quote(ctx, p)
    key = ctx.account.config.withdraw_keys[q.key_name]
    address = p.optional("address")
    if address is not None and address != key.address:
        raise KrakenError(errors.INVALID_WITHDRAWAL_ADDRESS)
    required = {
        ctx.assets.resolve(a, errors.FUNDING_UNKNOWN_ASSET).id
        for a in ctx.account.config.beneficiary_required
    }
    if q.asset.id in required and not key.beneficiary:
        raise KrakenError(invalid_arguments("beneficiary_recipient"))
    method = ctx.world.withdraw_methods[q.asset.id][q.method]
    if method.limit is not None and q.gross > method.limit:
        raise KrakenError(errors.INVALID_AMOUNT)
    max_fee = p.amount("max_fee", required=False)
    if max_fee is not None and q.fee > max_fee:
        raise KrakenError(errors.MAX_FEE_EXCEEDED)
    record = ctx.ledger.withdraw(ctx.account, q.asset, q.key_name, key, q.gross, q.fee, ctx.now)
    return {"refid": record.refid}


def withdraw_status(ctx: Context, p: Params) -> list[dict[str, Any]] | dict[str, Any]:
    """WithdrawStatus: newest first, filtered, `limit` (default 500), optional cursor paging."""
    asset = _asset(ctx, p, errors.QUERY_UNKNOWN_ASSET, required=False)
    method, start, end = p.optional("method"), p.timestamp("start"), p.timestamp("end")
    aclass = p.optional("aclass") or "currency"
    paged, cursor = _cursor(p)
    limit = _limit(p, 500, 1000)
    records = newest_first(
        ctx.account.withdrawals,
        lambda w: (
            (asset is None or w.asset.id == asset.id)
            and (method is None or w.method == method)
            and w.asset.config.aclass == aclass
            and in_window(w.time, start, end)
        ),
    )
    chunk = page(records, limit, cursor)
    extra = list(ctx.world.output.withdrawal_extra_fields)
    views = [withdrawal_view(w, extra) for w in chunk.records]
    if not paged:
        return views
    result: dict[str, Any] = {"withdrawals": views}
    _opt(result, "next_cursor", chunk.next_cursor)
    return result


def withdraw_cancel(ctx: Context, p: Params) -> bool:
    """WithdrawCancel: true while the withdrawal is still Initial, else `EFunding:Invalid reference id`."""
    asset = _required_asset(ctx, p, errors.FUNDING_UNKNOWN_ASSET)
    refid = p.required("refid")
    is_transfer = any(t.refid == refid for t in ctx.account.transfers)
    if not is_transfer and not ctx.key.allows(_rule((WITHDRAW,))):
        raise KrakenError(errors.PERMISSION_DENIED)
    ctx.ledger.cancel_withdrawal(ctx.account, asset, refid, ctx.now)
    return True


def wallet_transfer(ctx: Context, p: Params) -> dict[str, str]:
    """WalletTransfer: only from `Spot Wallet` to `Futures Wallet`, else `EGeneral:Invalid arguments`."""
    asset = _required_asset(ctx, p, errors.FUNDING_UNKNOWN_ASSET)
    source, destination = p.required("from"), p.required("to")
    if source != SPOT_WALLET or destination != FUTURES_WALLET:
        raise KrakenError(errors.INVALID_ARGUMENTS)
    amount = _amount(p, asset)
    record = ctx.ledger.transfer(ctx.account, asset, amount, source, destination, ctx.now)
    return {"refid": record.refid}


ENDPOINTS: dict[str, Endpoint] = {
    "Balance": Endpoint(balance, _rule((QUERY,))),
    "BalanceEx": Endpoint(balance_ex, _rule((QUERY,))),
    "DepositMethods": Endpoint(deposit_methods, _rule((QUERY, DEPOSIT))),
    "DepositAddresses": Endpoint(deposit_addresses, _rule((QUERY,))),
    "DepositStatus": Endpoint(deposit_status, _rule((QUERY,))),
    "WithdrawMethods": Endpoint(withdraw_methods, _rule((QUERY, WITHDRAW))),
    "WithdrawAddresses": Endpoint(withdraw_addresses, _rule((QUERY, WITHDRAW))),
    "WithdrawInfo": Endpoint(withdraw_info, _rule((QUERY, WITHDRAW))),
    "Withdraw": Endpoint(withdraw, _rule((WITHDRAW,))),
    "WithdrawStatus": Endpoint(withdraw_status, _rule((WITHDRAW,), (LEDGER,))),
    "WithdrawCancel": Endpoint(withdraw_cancel, ()),
    "WalletTransfer": Endpoint(wallet_transfer, _rule((QUERY,))),
}
"""Private methods and the permissions Kraken documents for them (reference §1.5). WithdrawCancel checks
its permission itself: none is needed to cancel a WalletTransfer."""


# -- public
def assets_info(assets: AssetBook, query: dict[str, str]) -> dict[str, dict[str, Any]]:
    """GET /0/public/Assets: all assets or a comma-separated list of names (else `EQuery:Unknown asset`)."""
    wanted = query.get("asset")
    aclass = query.get("aclass") or None
    if wanted:
        chosen = [
            assets.resolve(name, errors.QUERY_UNKNOWN_ASSET) for name in wanted.split(",") if name.strip()
        ]
    else:
        chosen = assets.all()
    return {
        a.id: {
            "aclass": a.config.aclass,
            "altname": a.config.altname,
            "decimals": a.config.decimals,
            "display_decimals": a.config.display_decimals,
            "status": a.config.status,
        }
        for a in chosen
        if aclass is None or a.config.aclass == aclass
    }


def server_time(now: float) -> dict[str, Any]:
    """GET /0/public/Time: unix seconds and Kraken's RFC 1123 string (two-digit year, `+0000`)."""
    seconds = int(now)
    text = formatdate(seconds, usegmt=False)  # 'Sun, 21 Mar 2021 14:23:14 -0000'
    day, rest = text.split(", ", 1)
    parts = rest.split(" ")
    return {"unixtime": seconds, "rfc1123": f"{day}, {parts[0]} {parts[1]} {parts[2][2:]} {parts[3]} +0000"}
