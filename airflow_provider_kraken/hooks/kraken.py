"""KrakenHook: signed, typed, safely retried calls to Kraken's funding API.

Reads are retried with backoff on transient trouble. Writes (Withdraw, WithdrawCancel,
WalletTransfer, DepositAddresses with ``new=true``) are sent again only when the request provably
did not execute; when the answer is lost they raise ``KrakenOutcomeUnknown`` instead.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

import requests
import urllib3.exceptions
from airflow.sdk import BaseHook
from airflow.sdk.log import amask_secret, mask_secret
from pydantic import BaseModel
from requests.adapters import HTTPAdapter
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential_jitter,
)

from airflow_provider_kraken.amounts import format_wire_amount, to_decimal, validate_amount
from airflow_provider_kraken.connection import ConnectionSettings, parse_connection
from airflow_provider_kraken.exceptions import (
    KrakenAPIError,
    KrakenError,
    KrakenInputError,
    KrakenOutcomeUnknown,
    KrakenTransportError,
)
from airflow_provider_kraken.models import (
    AssetInfo,
    BalanceEx,
    Deposit,
    DepositAddress,
    DepositMethod,
    TransferReceipt,
    WithdrawAddress,
    Withdrawal,
    WithdrawalReceipt,
    WithdrawInfo,
    WithdrawMethod,
)
from airflow_provider_kraken.pacing import NONCES, pacer_for
from airflow_provider_kraken.protocol import (
    ENDPOINTS,
    PUBLIC_PREFIX,
    USER_AGENT,
    CallKind,
    SignedRequest,
    Verdict,
    call_kind,
    decide,
    encode_private,
    parse_response,
)

if TYPE_CHECKING:
    import aiohttp

M = TypeVar("M", bound=BaseModel)

#: How often a write is sent when Kraken provably did not execute it (connect refused, bad nonce).
WRITE_ATTEMPTS = 3
#: Upper bound on attempts of one read, on top of the connection's ``max_retry_seconds``.
READ_ATTEMPTS = 8
ASSETS_TTL_SECONDS = 3600.0
#: Common tickers Kraken accepts besides asset ids and altnames.
TICKER_ALIASES = {"btc": "xbt", "doge": "xdg"}

_assets_cache: dict[str, tuple[float, dict[str, AssetInfo]]] = {}
_assets_lock = threading.Lock()
_backoff = wait_exponential_jitter(multiplier=0.25, max=8, jitter=0.25)


class KrakenHook(BaseHook):
    """Interact with Kraken's funding API through an Airflow connection of type ``kraken``.

    :param kraken_conn_id: connection with login = API key, password = API secret (base64),
        host = base URL (empty for ``https://api.kraken.com``), extras ``otp_password``,
        ``timeout``, ``connect_timeout``, ``rate_tier``, ``max_retry_seconds``.
    """

    conn_name_attr = "kraken_conn_id"
    default_conn_name = "kraken_default"
    conn_type = "kraken"
    hook_name = "Kraken"

    def __init__(self, kraken_conn_id: str = default_conn_name) -> None:
        super().__init__()
        self.kraken_conn_id = kraken_conn_id
        self._settings: ConnectionSettings | None = None
        self._session: requests.Session | None = None
        self._aclient: tuple[asyncio.AbstractEventLoop, aiohttp.ClientSession] | None = None

    def __repr__(self) -> str:
        return f"KrakenHook(kraken_conn_id={self.kraken_conn_id!r})"

    # ----------------------------------------------------------------- connection

    @property
    def settings(self) -> ConnectionSettings:
        """The validated connection (read once); a malformed one raises before any request."""
        if self._settings is None:
            conn = self.get_connection(self.kraken_conn_id)
            settings = self._parse(conn, conn.extra_dejson)
            mask_secret(conn.password or "")
            if settings.otp:
                mask_secret(settings.otp)
            self._settings = settings
        return self._settings

    async def aget_settings(self) -> ConnectionSettings:
        """Async twin of :attr:`settings` for triggers, using Airflow's async connection lookup."""
        if self._settings is None:
            conn = await self.aget_connection(self.kraken_conn_id)
            settings = self._parse(conn, await conn.aextra_dejson())
            await amask_secret(conn.password or "")
            if settings.otp:
                await amask_secret(settings.otp)
            self._settings = settings
        return self._settings

    def _parse(self, conn: Any, extra: Mapping[str, Any]) -> ConnectionSettings:
        return parse_connection(
            self.kraken_conn_id,
            login=conn.login,
            password=conn.password,
            host=conn.host,
            port=conn.port,
            extra=extra,
        )

    def get_conn(self) -> requests.Session:
        """The pooled HTTP session used for reads (one per hook)."""
        if self._session is None:
            self._session = self._new_session(pool_size=16)
        return self._session

    def _new_session(self, pool_size: int = 1) -> requests.Session:
        """A session whose proxies come from the environment once, not on every call (it costs ~10%)."""
        session = requests.Session()
        session.proxies = requests.utils.get_environ_proxies(self.settings.base_url)
        session.trust_env = False
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.headers["User-Agent"] = USER_AGENT
        return session

    def close(self) -> None:
        """Release the pooled connections."""
        if self._session is not None:
            self._session.close()
            self._session = None

    async def aclose(self) -> None:
        """Release the async client."""
        if self._aclient is not None:
            client, self._aclient = self._aclient[1], None
            await client.close()

    def test_connection(self) -> tuple[bool, str]:
        """Check key, secret and permissions with two reads; says which of them is wrong."""
        try:
            self.balance()
        except KrakenAPIError as exc:
            return False, _explain_auth_error(exc)
        except KrakenError as exc:
            return False, str(exc)
        try:
            self._private("WithdrawMethods", {})
        except KrakenAPIError as exc:
            if exc.code.startswith("EGeneral:Permission denied"):
                return True, (
                    "Connected; the key can query funds but lacks the Withdraw funding permission "
                    f"({exc.code}): deposits can be watched; withdrawals will be refused, "
                    "and so will their status"
                )
            return False, _explain_auth_error(exc)
        return True, "Connected; the key can query funds and withdraw"

    # ----------------------------------------------------------------- assets

    def assets(self, *, asset: str | Sequence[str] | None = None) -> dict[str, AssetInfo]:
        """Kraken's public asset list (cached for an hour), optionally only the named assets."""
        table = self._assets_table()
        if asset is None:
            return dict(table)
        names = [asset] if isinstance(asset, str) else list(asset)
        found = (self._resolve(table, name, "asset") for name in names)
        return {info.asset_id: info for info in found}

    def asset_info(self, asset: str) -> AssetInfo:
        """Resolve an asset id, altname or common ticker (``doge``, ``btc``) or raise ``KrakenInputError``."""
        return self._resolve(self._assets_table(), asset, "asset")

    async def aasset_info(self, asset: str) -> AssetInfo:
        """Async twin of :meth:`asset_info`."""
        return self._resolve(await self._aassets_table(), asset, "asset")

    def _assets_table(self) -> dict[str, AssetInfo]:
        base_url = self.settings.base_url
        cached = _cached_assets(base_url)
        if cached is not None:
            return cached
        for attempt in self._retrying(CallKind.READ):
            with attempt:
                response = self._public_get("Assets")
        return _store_assets(base_url, response)

    async def _aassets_table(self) -> dict[str, AssetInfo]:
        base_url = (await self.aget_settings()).base_url
        cached = _cached_assets(base_url)
        if cached is not None:
            return cached
        async for attempt in self._aretrying():
            with attempt:
                response = await self._apublic_get("Assets")
        return _store_assets(base_url, response)

    @staticmethod
    def _resolve(table: Mapping[str, AssetInfo], name: object, parameter: str) -> AssetInfo:
        wanted = _text(name, parameter).lower()
        wanted = TICKER_ALIASES.get(wanted, wanted)
        for info in table.values():
            if wanted in (info.asset_id.lower(), info.altname.lower()):
                return info
        raise KrakenInputError(
            parameter, f"unknown asset {name!r}: Kraken lists no asset with that id or name"
        )

    # ----------------------------------------------------------------- balances

    def balance(self) -> dict[str, Decimal]:
        """All cash balances, net of pending withdrawals."""
        result = self._private("Balance", {})
        return {asset: to_decimal(str(amount), asset) for asset, amount in result.items()}

    def balance_ex(self) -> dict[str, BalanceEx]:
        """Extended balances; ``BalanceEx.available`` is what can be withdrawn."""
        result = self._private("BalanceEx", {})
        return {asset: BalanceEx.model_validate(entry) for asset, entry in result.items()}

    # ----------------------------------------------------------------- deposits

    def deposit_methods(self, *, asset: str) -> list[DepositMethod]:
        """The deposit methods of an asset."""
        info = self.asset_info(asset)
        return _models(DepositMethod, self._private("DepositMethods", {"asset": info.asset_id}))

    def deposit_addresses(
        self, *, asset: str, method: str, new: bool = False, amount: object = None
    ) -> list[DepositAddress]:
        """List deposit addresses, or create one with ``new=True`` (a write: never sent twice blindly)."""
        info = self.asset_info(asset)
        params = {"asset": info.asset_id, "method": _text(method, "method")}
        if new:
            params["new"] = "true"
        if amount is not None:
            params["amount"] = format_wire_amount(
                validate_amount(amount, "amount", info.decimals), info.decimals
            )
        identity = {"asset": info.asset_id, "key": params["method"], "amount": None}
        return _models(DepositAddress, self._private("DepositAddresses", params, identity=identity))

    def deposit_status(
        self,
        *,
        asset: str | None = None,
        method: str | None = None,
        start: int | datetime | None = None,
        end: int | datetime | None = None,
        max_records: int | None = None,
    ) -> list[Deposit]:
        """Recent deposits, newest first, following Kraken's cursor pages (up to ``max_records``)."""
        params = self._status_params(asset, method, start, end)
        return _models(Deposit, self._paged("DepositStatus", params, "deposits", max_records))

    async def adeposit_status(
        self,
        *,
        asset: str | None = None,
        method: str | None = None,
        start: int | datetime | None = None,
        end: int | datetime | None = None,
        max_records: int | None = None,
    ) -> list[Deposit]:
        """Async twin of :meth:`deposit_status`."""
        params = await self._astatus_params(asset, method, start, end)
        return _models(Deposit, await self._apaged("DepositStatus", params, "deposits", max_records))

    # ----------------------------------------------------------------- withdrawals

    def withdraw_methods(
        self, *, asset: str | None = None, network: str | None = None
    ) -> list[WithdrawMethod]:
        """Withdraw methods, optionally of one asset or network."""
        params: dict[str, str] = {}
        if asset is not None:
            params["asset"] = self.asset_info(asset).asset_id
        if network is not None:
            params["network"] = _text(network, "network")
        return _models(WithdrawMethod, self._private("WithdrawMethods", params))

    def withdraw_addresses(
        self, *, asset: str | None = None, method: str | None = None, key: str | None = None
    ) -> list[WithdrawAddress]:
        """Withdraw keys (approved addresses) of the account."""
        params: dict[str, str] = {}
        if asset is not None:
            params["asset"] = self.asset_info(asset).asset_id
        if method is not None:
            params["method"] = _text(method, "method")
        if key is not None:
            params["key"] = _text(key, "key")
        return _models(WithdrawAddress, self._private("WithdrawAddresses", params))

    def withdraw_info(self, *, asset: str, key: str, amount: object) -> WithdrawInfo:
        """Fee, net amount and limit of a withdrawal of ``amount`` (gross) to ``key``, without sending it."""
        info = self.asset_info(asset)
        params = {
            "asset": info.asset_id,
            "key": _text(key, "key"),
            "amount": format_wire_amount(validate_amount(amount, "amount", info.decimals), info.decimals),
        }
        return WithdrawInfo.model_validate(self._private("WithdrawInfo", params))

    def withdraw(
        self,
        *,
        asset: str,
        key: str,
        amount: object,
        address: str | None = None,
        max_fee: object = None,
    ) -> WithdrawalReceipt:
        """Request a withdrawal of ``amount`` (fee included) to the approved withdraw key ``key``.

        Sent at most once unless Kraken provably did not execute it; a lost answer raises
        ``KrakenOutcomeUnknown`` carrying the request's identity for reconciliation.
        """
        info = self.asset_info(asset)
        gross = validate_amount(amount, "amount", info.decimals)
        params = {
            "asset": info.asset_id,
            "key": _text(key, "key"),
            "amount": format_wire_amount(gross, info.decimals),
        }
        if address is not None:
            params["address"] = _text(address, "address")
        if max_fee is not None:
            fee = to_decimal(max_fee, "max_fee")
            if fee < 0:
                raise KrakenInputError("max_fee", "must not be negative")
            params["max_fee"] = format_wire_amount(fee, info.decimals)
        sent_at = time.time()
        identity = {"asset": info.asset_id, "key": params["key"], "amount": gross}
        result = self._private("Withdraw", params, identity=identity)
        receipt = WithdrawalReceipt(
            refid=result["refid"], asset=info.asset_id, key=params["key"], amount=gross, sent_at=sent_at
        )
        self.log.info(
            "Kraken accepted withdrawal %s: %s %s to key %s",
            receipt.refid,
            params["amount"],
            info.asset_id,
            key,
        )
        return receipt

    def withdraw_status(
        self,
        *,
        asset: str | None = None,
        method: str | None = None,
        start: int | datetime | None = None,
        end: int | datetime | None = None,
        max_records: int | None = None,
    ) -> list[Withdrawal]:
        """Recent withdrawals, newest first, following Kraken's cursor pages (up to ``max_records``)."""
        params = self._status_params(asset, method, start, end)
        return _models(Withdrawal, self._paged("WithdrawStatus", params, "withdrawals", max_records))

    async def awithdraw_status(
        self,
        *,
        asset: str | None = None,
        method: str | None = None,
        start: int | datetime | None = None,
        end: int | datetime | None = None,
        max_records: int | None = None,
    ) -> list[Withdrawal]:
        """Async twin of :meth:`withdraw_status`."""
        params = await self._astatus_params(asset, method, start, end)
        return _models(Withdrawal, await self._apaged("WithdrawStatus", params, "withdrawals", max_records))

    def withdraw_cancel(self, *, asset: str, refid: str) -> bool:
        """Ask Kraken to cancel a withdrawal still being checked; True means the request was accepted."""
        info = self.asset_info(asset)
        params = {"asset": info.asset_id, "refid": _text(refid, "refid")}
        identity = {"asset": info.asset_id, "key": params["refid"], "amount": None}
        return bool(self._private("WithdrawCancel", params, identity=identity))

    def wallet_transfer(
        self, *, asset: str, from_wallet: str, to_wallet: str, amount: object
    ) -> TransferReceipt:
        """Move funds between Kraken wallets (Kraken allows Spot Wallet -> Futures Wallet)."""
        info = self.asset_info(asset)
        gross = validate_amount(amount, "amount", info.decimals)
        params = {
            "asset": info.asset_id,
            "from": _text(from_wallet, "from_wallet"),
            "to": _text(to_wallet, "to_wallet"),
            "amount": format_wire_amount(gross, info.decimals),
        }
        identity = {"asset": info.asset_id, "key": params["to"], "amount": gross}
        return TransferReceipt.model_validate(self._private("WalletTransfer", params, identity=identity))

    # ----------------------------------------------------------------- parameters

    def _status_params(
        self, asset: str | None, method: str | None, start: int | datetime | None, end: int | datetime | None
    ) -> dict[str, str]:
        asset_id = self.asset_info(asset).asset_id if asset is not None else None
        return _status_params(asset_id, method, start, end)

    async def _astatus_params(
        self, asset: str | None, method: str | None, start: int | datetime | None, end: int | datetime | None
    ) -> dict[str, str]:
        asset_id = (await self.aasset_info(asset)).asset_id if asset is not None else None
        return _status_params(asset_id, method, start, end)

    # ----------------------------------------------------------------- sync transport

    def _private(
        self, method: str, params: Mapping[str, str], *, identity: Mapping[str, Any] | None = None
    ) -> Any:
        """One private call with the retry rules of its kind; returns Kraken's ``result``."""
        kind = call_kind(method, params)
        first_sent_at = time.time()
        try:
            for attempt in self._retrying(kind):
                with attempt:
                    return self._send_once(method, params, kind)
        except KrakenError as exc:
            raise _outcome_unknown(method, kind, exc, identity, first_sent_at) from exc
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover

    def _send_once(self, method: str, params: Mapping[str, str], kind: CallKind) -> Any:
        settings = self.settings
        pacer = pacer_for(settings.base_url, settings.api_key, settings.rate_tier)
        with pacer.lock:
            self._pace(pacer.counter.reserve(ENDPOINTS[method].cost))
            request = self._sign(method, params)
            if kind is CallKind.WRITE:
                mask_secret(request.signature)
            started = time.perf_counter()
            try:
                if kind is CallKind.WRITE:
                    # A fresh connection for writes: a pooled one closed by the server mid-send
                    # would turn a sure "not sent" into an unknown outcome.
                    with self._new_session() as session:
                        response = self._post(session, settings, request)
                else:
                    response = self._post(self.get_conn(), settings, request)
            except requests.RequestException as exc:
                raise _requests_error(method, exc) from None
        parsed = parse_response(
            method, response.status_code, response.content, response.headers.get("Content-Type", "")
        )
        self._log_call(method, started, parsed.warnings)
        return parsed.result

    @staticmethod
    def _post(
        session: requests.Session, settings: ConnectionSettings, request: SignedRequest
    ) -> requests.Response:
        return session.post(
            settings.base_url + request.path,
            data=request.body,
            headers=dict(request.headers),
            timeout=(settings.connect_timeout, settings.timeout),
            allow_redirects=False,
        )

    def _public_get(self, method: str) -> Any:
        settings = self.settings
        try:
            response = self.get_conn().get(
                settings.base_url + PUBLIC_PREFIX + method,
                timeout=(settings.connect_timeout, settings.timeout),
            )
        except requests.RequestException as exc:
            raise _requests_error(method, exc) from None
        return parse_response(method, response.status_code, response.content).result

    def _paged(self, method: str, params: Mapping[str, str], key: str, max_records: int | None) -> list[Any]:
        records: list[Any] = []
        cursor: str | None = "true"
        while cursor:
            page, cursor = _page(self._private(method, {**params, "cursor": cursor}), key)
            records.extend(page)
            if not page or (max_records is not None and len(records) >= max_records):
                break
        return records[:max_records] if max_records is not None else records

    def _retrying(self, kind: CallKind) -> Retrying:
        return Retrying(
            stop=self._stop(kind),
            wait=_wait,
            retry=retry_if_exception(lambda exc: _may_retry(kind, exc)),
            before_sleep=self._log_retry,
            reraise=True,
        )

    # ----------------------------------------------------------------- async transport (reads)

    async def _aprivate(self, method: str, params: Mapping[str, str]) -> Any:
        kind = call_kind(method, params)
        if kind is not CallKind.READ:
            raise ValueError(f"{method}: the async path only reads; writes go through the worker's sync path")
        async for attempt in self._aretrying():
            with attempt:
                return await self._asend_once(method, params)
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover

    async def _asend_once(self, method: str, params: Mapping[str, str]) -> Any:
        settings = await self.aget_settings()
        pacer = pacer_for(settings.base_url, settings.api_key, settings.rate_tier)
        client = self._async_client(settings)
        async with pacer.async_lock():
            await self._apace(pacer.counter.reserve(ENDPOINTS[method].cost))
            request = self._sign(method, params)
            started = time.perf_counter()
            try:
                async with client.post(
                    settings.base_url + request.path, data=request.body, headers=dict(request.headers)
                ) as response:
                    status, content = response.status, await response.read()
                    content_type = response.headers.get("Content-Type", "")
            except (_aiohttp_client_error(), TimeoutError) as exc:
                raise _aiohttp_error(method, exc) from None
        parsed = parse_response(method, status, content, content_type)
        self._log_call(method, started, parsed.warnings)
        return parsed.result

    async def _apublic_get(self, method: str) -> Any:
        settings = await self.aget_settings()
        try:
            async with self._async_client(settings).get(
                settings.base_url + PUBLIC_PREFIX + method
            ) as response:
                status, content = response.status, await response.read()
        except (_aiohttp_client_error(), TimeoutError) as exc:
            raise _aiohttp_error(method, exc) from None
        return parse_response(method, status, content).result

    async def _apaged(
        self, method: str, params: Mapping[str, str], key: str, max_records: int | None
    ) -> list[Any]:
        records: list[Any] = []
        cursor: str | None = "true"
        while cursor:
            page, cursor = _page(await self._aprivate(method, {**params, "cursor": cursor}), key)
            records.extend(page)
            if not page or (max_records is not None and len(records) >= max_records):
                break
        return records[:max_records] if max_records is not None else records

    def _async_client(self, settings: ConnectionSettings) -> aiohttp.ClientSession:
        """One aiohttp session per event loop (dag.test() runs each trigger in its own loop)."""
        import aiohttp  # only the async path (triggers) pays for importing it

        loop = asyncio.get_running_loop()
        if self._aclient is None or self._aclient[0] is not loop or self._aclient[1].closed:
            client = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=settings.timeout, sock_connect=settings.connect_timeout),
                headers={"User-Agent": USER_AGENT},
            )
            self._aclient = (loop, client)
        return self._aclient[1]

    def _aretrying(self) -> AsyncRetrying:
        return AsyncRetrying(
            stop=self._stop(CallKind.READ),
            wait=_wait,
            retry=retry_if_exception(lambda exc: _may_retry(CallKind.READ, exc)),
            before_sleep=self._log_retry,
            reraise=True,
        )

    # ----------------------------------------------------------------- shared helpers

    def _sign(self, method: str, params: Mapping[str, str]) -> SignedRequest:
        settings = self._settings
        if settings is None:  # pragma: no cover - callers resolve settings first
            raise RuntimeError("connection not resolved")
        return encode_private(
            method,
            params,
            api_key=settings.api_key,
            secret=settings.secret,
            nonce=NONCES.next(),
            otp=settings.otp,
        )

    def _stop(self, kind: CallKind) -> Any:
        if kind is CallKind.WRITE:
            return stop_after_attempt(WRITE_ATTEMPTS)
        budget = self._settings.max_retry_seconds if self._settings else 60.0
        return stop_after_attempt(READ_ATTEMPTS) | stop_after_delay(budget)

    def _pace(self, delay: float) -> None:
        if delay > 0:
            self.log.info("Pacing Kraken calls under the key's rate tier: waiting %.1f s", delay)
            time.sleep(delay)

    async def _apace(self, delay: float) -> None:
        if delay > 0:
            self.log.info("Pacing Kraken calls under the key's rate tier: waiting %.1f s", delay)
            await asyncio.sleep(delay)

    def _log_call(self, method: str, started: float, warnings: Iterable[str]) -> None:
        self.log.debug("Kraken %s answered in %.1f ms", method, (time.perf_counter() - started) * 1000)
        for warning in warnings:
            self.log.warning("Kraken %s warning: %s", method, warning)

    def _log_retry(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        self.log.warning(
            "Kraken call failed (%s); attempt %d, retrying in %.2f s",
            error,
            state.attempt_number,
            state.next_action.sleep if state.next_action else 0.0,
        )


# --------------------------------------------------------------------- module helpers


def _text(value: object, name: str) -> str:
    """Require a non-blank string parameter."""
    if not isinstance(value, str) or not value.strip():
        raise KrakenInputError(name, f"must be a non-empty string, got {value!r}")
    return value


def _timestamp(value: int | datetime, name: str) -> str:
    if isinstance(value, datetime):
        return str(int(value.timestamp()))
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise KrakenInputError(name, f"must be a unix time in seconds or a datetime, got {value!r}")
    return str(value)


def _status_params(
    asset_id: str | None, method: str | None, start: int | datetime | None, end: int | datetime | None
) -> dict[str, str]:
    params: dict[str, str] = {}
    if asset_id is not None:
        params["asset"] = asset_id
    if method is not None:
        params["method"] = _text(method, "method")
    if start is not None:
        params["start"] = _timestamp(start, "start")
    if end is not None:
        params["end"] = _timestamp(end, "end")
    return params


def _models(model: type[M], records: Any) -> list[M]:
    return [model.model_validate(record) for record in records]


def _page(result: Any, key: str) -> tuple[list[Any], str | None]:
    """Split one answer into records and the next cursor (plain lists have no further page)."""
    if isinstance(result, list):
        return result, None
    records = result.get(key, result.get(key.rstrip("s"), []))
    if isinstance(records, dict):
        records = [records]
    cursor = result.get("next_cursor")
    return list(records), (str(cursor) if cursor else None)


def _cached_assets(base_url: str) -> dict[str, AssetInfo] | None:
    with _assets_lock:
        entry = _assets_cache.get(base_url)
    if entry and time.monotonic() - entry[0] < ASSETS_TTL_SECONDS:
        return entry[1]
    return None


def _store_assets(base_url: str, result: Mapping[str, Any]) -> dict[str, AssetInfo]:
    table = {
        asset_id: AssetInfo.model_validate({**fields, "asset_id": asset_id})
        for asset_id, fields in result.items()
    }
    with _assets_lock:
        _assets_cache[base_url] = (time.monotonic(), table)
    return table


def _may_retry(kind: CallKind, exc: BaseException) -> bool:
    return isinstance(exc, KrakenError) and decide(kind, exc) is Verdict.RETRY


def _wait(state: RetryCallState) -> float:
    """Backoff: honour ``EService:Throttled: <ts>``, wait out rate limits, re-sign nonce races at once."""
    error = state.outcome.exception() if state.outcome else None
    if isinstance(error, KrakenAPIError):
        until = error.throttled_until
        if until is not None:
            return max(0.0, until - time.time()) + random.uniform(0, 0.5)
        if error.code == "EAPI:Invalid nonce":
            return random.uniform(0, 0.05)
        if error.code.startswith("EAPI:Rate limit exceeded"):
            return min(15.0, 2.0 ** (state.attempt_number - 1)) + random.uniform(0, 0.5)
    return float(_backoff(state))


def _outcome_unknown(
    method: str, kind: CallKind, exc: KrakenError, identity: Mapping[str, Any] | None, sent_at: float
) -> KrakenError:
    """Turn an ambiguous failure of a write into ``KrakenOutcomeUnknown``; other errors stay as they are."""
    if kind is not CallKind.WRITE or decide(kind, exc) is not Verdict.UNKNOWN:
        return exc
    identity = identity or {}
    return KrakenOutcomeUnknown(
        method,
        asset=identity.get("asset"),
        key=identity.get("key"),
        amount=identity.get("amount"),
        sent_at=sent_at,
        cause=str(exc),
    )


def _requests_error(method: str, exc: requests.RequestException) -> KrakenTransportError:
    """Describe a requests failure without header values; decide whether it surely never left."""
    never_sent = isinstance(exc, requests.ConnectTimeout) or (
        isinstance(exc, requests.ConnectionError) and _connect_failed(exc)
    )
    detail = str(exc)[:300] if isinstance(exc, requests.ConnectionError | requests.Timeout) else ""
    return KrakenTransportError(method, f"{type(exc).__name__} {detail}".strip(), sent=not never_sent)


def _connect_failed(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return False
        if isinstance(seen, urllib3.exceptions.ConnectTimeoutError):  # includes NewConnectionError
            return True
        reason = getattr(seen, "reason", None)
        seen = reason if isinstance(reason, BaseException) else (seen.args[0] if seen.args else None)
        if not isinstance(seen, BaseException):
            return False
    return False


def _aiohttp_client_error() -> type[Exception]:
    import aiohttp

    return aiohttp.ClientError


def _aiohttp_error(method: str, exc: BaseException) -> KrakenTransportError:
    import aiohttp

    never_sent = isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError)
    return KrakenTransportError(method, f"{type(exc).__name__} {str(exc)[:300]}".strip(), sent=not never_sent)


def _explain_auth_error(exc: KrakenAPIError) -> str:
    code = exc.code
    if code.startswith("EAPI:Invalid key"):
        return f"Kraken does not know this API key ({code}): check the connection's login"
    if code.startswith("EAPI:Invalid signature"):
        return f"Kraken rejected the signature ({code}): the API secret (password) or OTP is wrong"
    if code.startswith("EGeneral:Permission denied"):
        return (
            f"The API key lacks the funding permissions this needs ({code}): enable 'Funds - Query', "
            "or, if the key has a two-factor password, set it in the connection's extra 'otp_password'"
        )
    if code.startswith("EAPI:Invalid nonce"):
        return f"Nonce rejected ({code}): another client with a higher nonce used this key"
    return f"Kraken refused the call ({code})"
