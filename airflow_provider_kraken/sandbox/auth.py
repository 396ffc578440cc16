"""API keys at run time: signature check, otp, strictly increasing nonces (with an optional window),
permissions and the rate counter - each failure mapped to Kraken's exact error string."""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from . import errors
from .errors import KrakenError
from .ratelimit import TIERS, RateCounter
from .signing import decode_secret, verify
from .world import ApiKeyConfig

MAX_NONCE = 2**64 - 1

PermissionRule = tuple[frozenset[str], ...]
"""Any one of the sets must be fully granted (e.g. WithdrawStatus: Withdraw, or Query ledger entries)."""


def parse_nonce(text: str | None) -> int | None:
    """The nonce as an unsigned 64-bit integer, None if missing or malformed."""
    if text is None or not text.isascii() or not text.isdigit() or len(text) > 20:
        return None
    value = int(text)
    return value if value <= MAX_NONCE else None


class NonceTracker:
    """Strictly increasing nonces per key; a window lets an unused nonce up to `window` ticks lower pass."""

    __slots__ = ("_seen", "highest", "window")

    def __init__(self, window: int = 0) -> None:
        self.window = window
        self.highest: int | None = None
        self._seen: set[int] = set()

    def accept(self, nonce: int) -> bool:
        """Record the nonce if acceptable; False means `EAPI:Invalid nonce`."""
        if self.highest is None or nonce > self.highest:
            self.highest = nonce
            if self.window:
                self._seen.add(nonce)
                if len(self._seen) > 4096:
                    floor = nonce - self.window
                    self._seen = {n for n in self._seen if n > floor}
            return True
        if self.window and nonce > self.highest - self.window and nonce not in self._seen:
            self._seen.add(nonce)
            return True
        return False


@dataclass(eq=False)
class ApiKey:
    """A key of the world with its mutable nonce and rate state."""

    name: str
    config: ApiKeyConfig
    secret_bytes: bytes
    nonces: NonceTracker
    rate: RateCounter
    permissions: frozenset[str] = field(default_factory=frozenset)

    @property
    def account(self) -> str:
        """The account the key acts on."""
        return self.config.account

    def allows(self, rule: PermissionRule) -> bool:
        """Whether the key's permissions satisfy the rule (empty rule = no permission needed)."""
        return not rule or any(needed <= self.permissions for needed in rule)

    def check_otp(self, otp: str | None) -> None:
        """As observed on Kraken: missing otp -> Permission denied; wrong/unexpected -> Invalid signature."""
        expected = self.config.otp
        if expected is None:
            if otp:
                raise KrakenError(errors.INVALID_SIGNATURE)
            return
        if not otp:
            raise KrakenError(errors.PERMISSION_DENIED)
        if not hmac.compare_digest(otp.encode(), expected.encode()):
            raise KrakenError(errors.INVALID_SIGNATURE)


class KeyStore:
    """All API keys of a world, by key string and by name."""

    def __init__(self, keys: Mapping[str, ApiKeyConfig], now: float) -> None:
        self._by_key: dict[str, ApiKey] = {}
        self._by_name: dict[str, ApiKey] = {}
        for name, cfg in keys.items():
            self.add(name, cfg, now)

    def add(self, name: str, cfg: ApiKeyConfig, now: float) -> ApiKey:
        """Register a key (used for world keys and for keys given to the server on the command line)."""
        key = ApiKey(
            name=name,
            config=cfg,
            secret_bytes=decode_secret(cfg.secret),
            nonces=NonceTracker(cfg.nonce_window),
            rate=RateCounter(TIERS[cfg.tier], now),
            permissions=frozenset(cfg.permissions),
        )
        self._by_key[cfg.key] = key
        self._by_name[name] = key
        return key

    def all(self) -> Iterable[ApiKey]:
        """Every key."""
        return self._by_name.values()

    def name_of(self, api_key: str | None) -> str | None:
        """The world name of a key string, if it is one."""
        key = self._by_key.get(api_key) if api_key else None
        return key.name if key else None

    def lookup(self, api_key: str | None) -> ApiKey:
        """The key named by the API-Key header, or `EAPI:Invalid key`."""
        key = self._by_key.get(api_key) if api_key else None
        if key is None:
            raise KrakenError(errors.INVALID_KEY)
        return key

    @staticmethod
    def check_signature(
        key: ApiKey, path: bytes, nonce_text: str | None, body: bytes, api_sign: str | None
    ) -> None:
        """`EAPI:Invalid signature` unless API-Sign is the HMAC of exactly these bytes."""
        nonce = (nonce_text or "").encode()
        if not api_sign or not verify(key.secret_bytes, path, nonce, body, api_sign):
            raise KrakenError(errors.INVALID_SIGNATURE)
