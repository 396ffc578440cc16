"""The world config model: a TOML file describing assets, methods, accounts, API keys and seeded history.

Parsed with stdlib `tomllib` (TOML floats become `Decimal`, never `float`) and validated with pydantic, so a
typo in a world file fails loudly with the offending field's path instead of silently changing behaviour.
"""

from __future__ import annotations

import base64
import binascii
import tomllib
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

PERMISSIONS: dict[str, str] = {
    "funds_query": "Funds permissions - Query",
    "funds_deposit": "Funds permissions - Deposit",
    "funds_withdraw": "Funds permissions - Withdraw",
    "ledger_query": "Data - Query ledger entries",
}
"""Canonical permission ids and Kraken's labels for them (either spelling is accepted in a world file)."""

_PERMISSION_BY_LABEL = {label.lower(): pid for pid, label in PERMISSIONS.items()}

Tier = Literal["starter", "intermediate", "pro", "unlimited"]
WithdrawStatusName = Literal["Initial", "Pending", "Settled", "Success", "Failure"]
DepositStatusName = Literal["Initial", "Pending", "Settled", "Success", "Failure"]
StatusProp = Literal["cancel-pending", "canceled", "cancel-denied", "return", "onhold"]


def _to_amount(value: object) -> Decimal:
    """Amounts in a world file: strings, integers or TOML decimals (already `Decimal`); never floats."""
    if isinstance(value, bool | float):
        raise ValueError("amounts must be strings, integers or decimals, not floats/booleans")
    if isinstance(value, int | Decimal):
        amount = Decimal(value)
    elif isinstance(value, str):
        try:
            amount = Decimal(value.strip())
        except InvalidOperation as exc:
            raise ValueError(f"not a decimal amount: {value!r}") from exc
    else:
        raise ValueError(f"not an amount: {value!r}")
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"amount must be finite and non-negative: {value!r}")
    return amount


Amount = Annotated[Decimal, BeforeValidator(_to_amount)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AssetConfig(_Model):
    """One asset as /0/public/Assets shows it, plus the extra names accepted on input."""

    altname: str
    aliases: list[str] = []
    decimals: int = Field(ge=0, le=18)
    display_decimals: int = Field(ge=0, le=18)
    aclass: str = "currency"
    status: Literal["enabled", "deposit_only", "withdrawal_only", "funding_temporarily_disabled"] = "enabled"


class AddressFormat(_Model):
    """How fresh deposit addresses of a method look once the scripted ones are used up."""

    prefix: str = ""
    length: int = Field(default=34, ge=1, le=128)
    alphabet: Literal["base58", "hex"] = "base58"


class DepositMethodConfig(_Model):
    """A deposit method (DepositMethods row); optional fields are omitted from the output when unset."""

    limit: Literal[False] | Amount = False
    gen_address: bool | None = True
    fee: Amount | None = None
    address_setup_fee: Amount | None = None
    minimum: Amount | None = None
    confirmations: int = Field(default=3, ge=0)
    max_addresses: int = Field(default=5, ge=0)
    expiretm: str = "0"
    address: AddressFormat = AddressFormat()
    txid_prefix: str = ""


class WithdrawMethodConfig(_Model):
    """A withdraw method (WithdrawMethods row) with its fee and bounds on the requested (gross) amount."""

    network: str | None = None
    minimum: Amount = Decimal(0)
    fee: Amount = Decimal(0)
    limit: Amount | None = None
    info_method: str | None = None
    txid_prefix: str = ""


class WithdrawKeyConfig(_Model):
    """A withdrawal address registered under a key name (what Withdraw's `key` refers to)."""

    asset: str
    method: str
    address: str
    tag: str | None = None
    verified: bool = True
    beneficiary: dict[str, str] | None = None


class SeedDeposit(_Model):
    """A deposit already in the history when the world starts (replayed verbatim by DepositStatus)."""

    refid: str
    asset: str
    method: str
    amount: Amount
    fee: Amount | None = Decimal(0)
    txid: str = ""
    info: str = ""
    time: int
    status: DepositStatusName = "Success"
    status_prop: StatusProp | None = None
    originators: list[str] | None = None


class SeedWithdrawal(_Model):
    """A withdrawal already in the history; `amount` is the net amount as WithdrawStatus shows it."""

    refid: str
    key: str
    amount: Amount
    fee: Amount
    txid: str = ""
    time: int
    status: WithdrawStatusName = "Success"
    status_prop: StatusProp | None = None


class ScriptedWithdrawal(_Model):
    """The refid (and optionally the txid) the next Withdraw of the account will get."""

    refid: str
    txid: str | None = None


class ScriptedAddresses(_Model):
    """Addresses that DepositAddresses `new=true` hands out first, in order, for one asset/method."""

    asset: str
    method: str
    addresses: list[str]


class AccountConfig(_Model):
    """An account: balances, withdraw keys, seeded history and scripted identifiers."""

    jurisdiction: str = "US"
    beneficiary_required: list[str] = []
    balances: dict[str, Amount] = {}
    hold_trade: dict[str, Amount] = {}
    credit: dict[str, Amount] = {}
    credit_used: dict[str, Amount] = {}
    futures: dict[str, Amount] = {}
    withdraw_keys: dict[str, WithdrawKeyConfig] = {}
    deposits: list[SeedDeposit] = []
    withdrawals: list[SeedWithdrawal] = []
    scripted_withdrawals: list[ScriptedWithdrawal] = []
    scripted_addresses: list[ScriptedAddresses] = []


class ApiKeyConfig(_Model):
    """An API key: its account, secret, permissions, rate tier, nonce window (in nonce ticks) and otp."""

    account: str = "main"
    key: str = Field(min_length=1)
    secret: str
    permissions: list[str] = []
    tier: Tier = "pro"
    nonce_window: int = Field(default=0, ge=0)
    otp: str | None = None

    @field_validator("secret")
    @classmethod
    def _secret_is_base64(cls, value: str) -> str:
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError("secret must be base64 (as Kraken issues them)") from exc
        return value

    @field_validator("permissions")
    @classmethod
    def _known_permissions(cls, value: list[str]) -> list[str]:
        out: list[str] = []
        for item in value:
            pid = item if item in PERMISSIONS else _PERMISSION_BY_LABEL.get(item.lower())
            if pid is None:
                raise ValueError(f"unknown permission {item!r}; use one of {sorted(PERMISSIONS)}")
            out.append(pid)
        return out


class ClockConfig(_Model):
    """The sandbox clock: real time, optionally started at an epoch and/or frozen."""

    start: float | None = None
    frozen: bool = False


class LifecycleConfig(_Model):
    """Seconds spent in each state before the automatic next step; `manual` stops all automatic steps."""

    manual: bool = False
    withdraw_initial_seconds: float = Field(default=1.0, ge=0)
    withdraw_pending_seconds: float = Field(default=2.0, ge=0)
    withdraw_settled_seconds: float = Field(default=0.0, ge=0)
    cancel_seconds: float = Field(default=1.0, ge=0)
    deposit_confirmation_seconds: float = Field(default=0.5, ge=0)


class OutputConfig(_Model):
    """Response shape choices where Kraken's own outputs differ between API generations."""

    withdrawal_extra_fields: list[Literal["network", "key"]] = ["network", "key"]
    withdraw_addresses_asset: Literal["altname", "id"] = "altname"


class ServerConfig(_Model):
    """Limits of the HTTP layer and of the in-memory call log."""

    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    log_max_entries: int = Field(default=100_000, ge=100)


class WorldConfig(_Model):
    """A whole sandbox world; see docs/sandbox.md for the file format."""

    name: str = "world"
    seed: int | None = None
    default_account: str = "main"
    server: ServerConfig = ServerConfig()
    clock: ClockConfig = ClockConfig()
    lifecycle: LifecycleConfig = LifecycleConfig()
    output: OutputConfig = OutputConfig()
    assets: dict[str, AssetConfig]
    deposit_methods: dict[str, dict[str, DepositMethodConfig]] = {}
    withdraw_methods: dict[str, dict[str, WithdrawMethodConfig]] = {}
    accounts: dict[str, AccountConfig]
    api_keys: dict[str, ApiKeyConfig] = {}

    @model_validator(mode="after")
    def _cross_references(self) -> WorldConfig:
        names = _asset_names(self.assets)

        def asset_id(name: str, where: str) -> str:
            found = names.get(name.lower())
            if found is None:
                raise ValueError(f"{where}: unknown asset {name!r}")
            return found

        def check_amount(asset: str, amount: Decimal | None, where: str) -> None:
            if amount is not None:
                decimals = self.assets[asset].decimals
                if amount != amount.quantize(Decimal(1).scaleb(-decimals)):
                    raise ValueError(f"{where}: {amount} has more than {decimals} decimals")

        for table, label in (
            (self.deposit_methods, "deposit_methods"),
            (self.withdraw_methods, "withdraw_methods"),
        ):
            for asset in table:
                if asset not in self.assets:
                    raise ValueError(f"{label}: {asset!r} must be an asset id")
        for asset, methods in self.withdraw_methods.items():
            for method, wcfg in methods.items():
                for value in (wcfg.fee, wcfg.minimum, wcfg.limit):
                    check_amount(asset, value, f"withdraw_methods.{asset}.{method}")
        if self.default_account not in self.accounts:
            raise ValueError(f"default_account {self.default_account!r} is not an account")
        for acct_name, acct in self.accounts.items():
            where = f"accounts.{acct_name}"
            for asset_map in (acct.balances, acct.hold_trade, acct.credit, acct.credit_used, acct.futures):
                for asset, amount in asset_map.items():
                    if asset not in self.assets:
                        raise ValueError(f"{where}: balances must be keyed by asset id, got {asset!r}")
                    check_amount(asset, amount, f"{where}.{asset}")
            for asset in acct.beneficiary_required:
                asset_id(asset, f"{where}.beneficiary_required")
            for key_name, wkey in acct.withdraw_keys.items():
                aid = asset_id(wkey.asset, f"{where}.withdraw_keys.{key_name}")
                if wkey.method not in self.withdraw_methods.get(aid, {}):
                    raise ValueError(f"{where}.withdraw_keys.{key_name}: no withdraw method {wkey.method!r}")
            for dep in acct.deposits:
                aid = asset_id(dep.asset, f"{where}.deposits.{dep.refid}")
                check_amount(aid, dep.amount, f"{where}.deposits.{dep.refid}")
            for wd in acct.withdrawals:
                if wd.key not in acct.withdraw_keys:
                    raise ValueError(f"{where}.withdrawals.{wd.refid}: unknown withdraw key {wd.key!r}")
            for scripted in acct.scripted_addresses:
                aid = asset_id(scripted.asset, f"{where}.scripted_addresses")
                if scripted.method not in self.deposit_methods.get(aid, {}):
                    raise ValueError(f"{where}.scripted_addresses: no deposit method {scripted.method!r}")
        seen_keys: set[str] = set()
        for key_name, api_key in self.api_keys.items():
            if api_key.account not in self.accounts:
                raise ValueError(f"api_keys.{key_name}: unknown account {api_key.account!r}")
            if api_key.key in seen_keys:
                raise ValueError(f"api_keys.{key_name}: duplicate key string")
            seen_keys.add(api_key.key)
        return self


def _asset_names(assets: Mapping[str, AssetConfig]) -> dict[str, str]:
    """Lower-cased id, altname and aliases -> asset id."""
    names: dict[str, str] = {}
    for aid, cfg in assets.items():
        for name in (aid, cfg.altname, *cfg.aliases):
            names.setdefault(name.lower(), aid)
    return names


DEFAULT_WORLD_FILE = "default_world.toml"


def default_world_text() -> str:
    """The TOML text of the world shipped with the package (replays Kraken's documented examples)."""
    return (
        resources.files("airflow_provider_kraken.sandbox")
        .joinpath(DEFAULT_WORLD_FILE)
        .read_text(encoding="utf-8")
    )


def deep_merge(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """`base` with `overrides` applied: tables merge recursively, every other value (lists too) replaces."""
    merged = dict(base)
    for key, value in overrides.items():
        current = merged.get(key)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            merged[key] = deep_merge(current, value)
        else:
            merged[key] = value
    return merged


def parse_toml(text: str) -> dict[str, Any]:
    """TOML to plain data with decimals as `Decimal`."""
    return tomllib.loads(text, parse_float=Decimal)


def load_world(
    source: str | Path | None = None,
    *,
    text: str | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> WorldConfig:
    """A validated world from a file path, TOML text, or the default world, with optional overrides."""
    if text is None:
        text = Path(source).read_text(encoding="utf-8") if source is not None else default_world_text()
    data = parse_toml(text)
    if overrides:
        data = deep_merge(data, overrides)
    return WorldConfig.model_validate(data)
