"""The sandbox engine: one world in play (clock, keys, ledger, faults, call log) and the request pipeline.

A private call goes: method known -> API-Key known -> body decodable -> signature -> rate counter (every
authenticated call counts, refused or not) -> otp -> nonce -> permissions -> handler. All of it runs
synchronously on the event loop thread, so each call is atomic with respect to every other call.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import errors
from .assets import AssetBook
from .auth import KeyStore, parse_nonce
from .calllog import CallLog, CallRecord, loggable_params
from .clock import SandboxClock
from .endpoints import ENDPOINTS, Context, assets_info, server_time
from .errors import KrakenError
from .faults import FaultBook
from .ids import IdFactory
from .ledger import Ledger
from .lifecycle import Timings
from .params import BodyError, Params, decode_body
from .world import PERMISSIONS, ApiKeyConfig, WorldConfig, load_world

log = logging.getLogger(__name__)

PUBLIC_METHODS = frozenset({"Assets", "Time"})
FUNDING_PERMISSIONS = ["funds_query", "funds_deposit", "funds_withdraw", "ledger_query"]
assert set(FUNDING_PERMISSIONS) == set(PERMISSIONS)

_dumps = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode  # answers are never cyclic


def reply_body(record: CallRecord) -> bytes:
    """What Kraken would send for this outcome: `{"error":[],"result":...}` or `{"error":[...]}`."""
    if record.outcome == "ok":
        return _dumps({"error": [], "result": record.result}).encode()
    return error_body(record.outcome)


def error_body(code: str) -> bytes:
    """`{"error":[code]}`."""
    return _dumps({"error": [code]}).encode()


@dataclass(frozen=True, slots=True)
class ExtraKey:
    """A key given to the server at startup (CLI / fixture); it joins the default account of every world."""

    name: str
    key: str
    secret: str
    tier: str = "pro"

    def config(self, account: str) -> ApiKeyConfig:
        """As a world key with every funding permission."""
        return ApiKeyConfig.model_validate(
            {
                "account": account,
                "key": self.key,
                "secret": self.secret,
                "permissions": FUNDING_PERMISSIONS,
                "tier": self.tier,
            }
        )


class SandboxState:
    """A world in play."""

    def __init__(self, world: WorldConfig, extra_keys: tuple[ExtraKey, ...] = ()) -> None:
        self.world = world
        self.clock = SandboxClock(start=world.clock.start, frozen=world.clock.frozen)
        self.assets = AssetBook(world.assets)
        self.ids = IdFactory(world.seed)
        self.timings = Timings(**world.lifecycle.model_dump())
        self.ledger = Ledger(world, self.assets, self.ids, self.timings, self.clock.now())
        self.keys = KeyStore(world.api_keys, self.clock.elapsed())
        for extra in extra_keys:
            self.keys.add(extra.name, extra.config(world.default_account), self.clock.elapsed())
        self.faults = FaultBook()
        self.log = CallLog(world.server.log_max_entries)

    def _record(self, method: str, api_key: str | None) -> CallRecord:
        now = self.clock.now()
        self.ledger.tick(now)
        return CallRecord(
            seq=self.log.next_seq(), time=now, wall_time=time.time(), method=method, api_key=api_key
        )

    def call_private(
        self,
        method: str,
        *,
        path: bytes,
        api_key: str | None,
        api_sign: str | None,
        content_type: str,
        body: bytes,
        too_large: bool = False,
    ) -> CallRecord:
        """Process one private call completely and log it."""
        record = self._record(method, api_key)
        try:
            self._private(record, path, api_sign, content_type, body, too_large)
        except KrakenError as exc:
            record.outcome = exc.code
        except Exception:
            log.exception("sandbox: internal error in %s", method)
            record.outcome = errors.INTERNAL_ERROR
        self.log.append(record)
        return record

    def _private(
        self,
        record: CallRecord,
        path: bytes,
        api_sign: str | None,
        content_type: str,
        body: bytes,
        too_large: bool,
    ) -> None:
        endpoint = ENDPOINTS.get(record.method)
        if endpoint is None:
            raise KrakenError(errors.UNKNOWN_METHOD)
        if too_large:
            raise KrakenError(errors.INVALID_ARGUMENTS)
        body_error: BodyError | None = None
        try:
            values, nonce_text, invalid = decode_body(body, content_type)
        except BodyError as exc:
            values, nonce_text, invalid, body_error = {}, None, set(), exc
        record.params, record.nonce = loggable_params(values), nonce_text
        key = self.keys.lookup(record.api_key)
        record.key_name = key.name
        if body_error is not None:
            raise KrakenError(errors.INVALID_ARGUMENTS)
        KeyStore.check_signature(key, path, nonce_text, body, api_sign)
        if not key.rate.charge(self.clock.elapsed(), endpoint.cost):
            raise KrakenError(errors.RATE_LIMIT_EXCEEDED)
        key.check_otp(values.get("otp"))
        nonce = parse_nonce(nonce_text)
        if nonce is None or not key.nonces.accept(nonce):
            raise KrakenError(errors.INVALID_NONCE)
        if not key.allows(endpoint.permissions):
            raise KrakenError(errors.PERMISSION_DENIED)
        ctx = Context(
            world=self.world,
            assets=self.assets,
            ledger=self.ledger,
            account=self.ledger.account(key.account),
            key=key,
            now=record.time,
        )
        record.result = endpoint.handler(ctx, Params(values, invalid))
        record.outcome = "ok"
        record.executed = True

    def call_public(self, method: str, query: Mapping[str, str]) -> CallRecord:
        """Process one public call (Assets, Time) and log it."""
        record = self._record(method, None)
        record.params = dict(query)
        try:
            if method == "Assets":
                record.result = assets_info(self.assets, dict(query))
            elif method == "Time":
                record.result = server_time(record.time)
            else:
                raise KrakenError(errors.UNKNOWN_METHOD)
            record.outcome, record.executed = "ok", True
        except KrakenError as exc:
            record.outcome = exc.code
        except Exception:
            log.exception("sandbox: internal error in public %s", method)
            record.outcome = errors.INTERNAL_ERROR
        self.log.append(record)
        return record

    def skipped(self, method: str, *, api_key: str | None, content_type: str, body: bytes) -> CallRecord:
        """Log a call that a fault kept from being processed (nothing booked, no nonce consumed)."""
        record = self._record(method, api_key)
        record.key_name = self.keys.name_of(api_key)
        try:
            values, record.nonce, _ = decode_body(body, content_type)
            record.params = loggable_params(values)
        except BodyError:
            pass
        self.log.append(record)
        return record


class SandboxHost:
    """Server-wide state: the world source, keys given at startup, the admin token and the world in play."""

    def __init__(self, world_text: str, *, extra_keys: tuple[ExtraKey, ...] = (), admin_token: str) -> None:
        self.world_text = world_text
        self.extra_keys = extra_keys
        self.admin_token = admin_token
        self.state = SandboxState(load_world(text=world_text), extra_keys)

    @property
    def max_body_bytes(self) -> int:
        """The request body cap of the world in play."""
        return self.state.world.server.max_body_bytes

    def reset(
        self, *, world_toml: str | None = None, overrides: Mapping[str, Any] | None = None
    ) -> SandboxState:
        """Replace the world in play by a fresh one (the server's, or the given TOML), with overrides."""
        world = load_world(
            text=world_toml if world_toml is not None else self.world_text, overrides=overrides
        )
        self.state = SandboxState(world, self.extra_keys)
        return self.state
