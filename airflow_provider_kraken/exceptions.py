"""Errors raised by the provider: a small hierarchy mirroring Kraken's error prefixes.

Every error knows whether re-sending the same call is safe (``retry_safe``). Messages carry
Kraken's raw codes and never a secret. This module imports nothing else of the provider.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal


class KrakenError(Exception):
    """Base class of every Kraken error raised by this provider."""

    #: True when sending the same call again cannot duplicate an effect and may succeed.
    retry_safe: bool = False


class KrakenInputError(KrakenError, ValueError):
    """A parameter was refused locally, before any request left the process."""

    def __init__(self, parameter: str, message: str) -> None:
        self.parameter = parameter
        super().__init__(f"{parameter}: {message}")


class KrakenConnectionConfigError(KrakenError, ValueError):
    """The Airflow connection is malformed (missing key, secret not base64, bad extra)."""

    def __init__(self, conn_id: str, message: str) -> None:
        self.conn_id = conn_id
        super().__init__(f"Malformed Kraken connection {conn_id!r}: {message}")


class KrakenTransportError(KrakenError):
    """The HTTP exchange failed: no connection, timeout, HTTP 5xx, or a body that is not Kraken JSON.

    ``sent`` is False only when the request provably never reached Kraken (connection refused or
    connect timeout); then re-sending is safe even for a withdrawal.
    """

    def __init__(self, method: str, message: str, *, sent: bool, status_code: int | None = None) -> None:
        self.method = method
        self.sent = sent
        self.status_code = status_code
        super().__init__(f"{method}: {message}")

    @property
    def retry_safe(self) -> bool:  # type: ignore[override]
        return not self.sent


#: Codes that say the request was refused before anything executed, so any call may be re-sent.
NOT_EXECUTED_CODES = frozenset({"EAPI:Invalid nonce"})
#: Codes that may clear by themselves: reads are retried on them with backoff.
TRANSIENT_PREFIXES = (
    "EService:",
    "EAPI:Rate limit exceeded",
    "EAPI:Invalid nonce",
    "EGeneral:Internal error",
    "EGeneral:Too many requests",
    "EDatabase:",
)
#: Codes after which a write may or may not have executed.
AMBIGUOUS_PREFIXES = ("EService:", "EGeneral:Internal error", "EDatabase:")


class KrakenAPIError(KrakenError):
    """Kraken answered with an ``error`` array; ``codes`` holds the raw strings, ``code`` the first."""

    prefix: str = ""

    def __init__(self, method: str, codes: Sequence[str]) -> None:
        self.method = method
        self.codes = tuple(codes)
        self.code = self.codes[0] if self.codes else "E:Unknown error"
        super().__init__(f"{method}: {', '.join(self.codes) or self.code}")

    @property
    def transient(self) -> bool:
        """True when the condition may clear by itself (service trouble, rate limit, nonce race)."""
        return self.code.startswith(TRANSIENT_PREFIXES)

    @property
    def ambiguous(self) -> bool:
        """True when a write answered this way may still have executed on Kraken's side."""
        return self.code.startswith(AMBIGUOUS_PREFIXES)

    @property
    def retry_safe(self) -> bool:  # type: ignore[override]
        return self.code in NOT_EXECUTED_CODES

    @property
    def throttled_until(self) -> int | None:
        """The unix time given by ``EService:Throttled: <ts>``, if that is the error."""
        head, _, tail = self.code.partition("Throttled:")
        if not tail or not head.startswith("EService:"):
            return None
        digits = tail.strip().strip("[]")
        return int(digits) if digits.isdigit() else None


class KrakenEAPIError(KrakenAPIError):
    """``EAPI:*``: authentication, nonce and rate-limit errors."""

    prefix = "EAPI"


class KrakenEGeneralError(KrakenAPIError):
    """``EGeneral:*``: invalid arguments, permission denied, lockouts, internal errors."""

    prefix = "EGeneral"


class KrakenEFundingError(KrakenAPIError):
    """``EFunding:*``: definitive funding rejections (unknown key, invalid amount, ...)."""

    prefix = "EFunding"


class KrakenEServiceError(KrakenAPIError):
    """``EService:*``: Kraken is unavailable, busy or throttling."""

    prefix = "EService"


class KrakenEQueryError(KrakenAPIError):
    """``EQuery:*``: unknown asset and other query errors."""

    prefix = "EQuery"


_BY_PREFIX: dict[str, type[KrakenAPIError]] = {
    cls.prefix: cls
    for cls in (
        KrakenEAPIError,
        KrakenEGeneralError,
        KrakenEFundingError,
        KrakenEServiceError,
        KrakenEQueryError,
    )
}


def api_error(method: str, codes: Sequence[str]) -> KrakenAPIError:
    """Build the error class matching the first code's prefix; unknown prefixes get the base class."""
    first = codes[0] if codes else ""
    return _BY_PREFIX.get(first.partition(":")[0], KrakenAPIError)(method, codes)


class KrakenOutcomeUnknown(KrakenError):
    """A write was sent but its result never arrived: it may or may not have executed.

    Never re-send blindly: reconcile through WithdrawStatus first. Carries the request's identity.
    """

    def __init__(
        self,
        method: str,
        *,
        asset: str | None,
        key: str | None,
        amount: Decimal | None,
        sent_at: float,
        cause: str,
    ) -> None:
        self.method = method
        self.asset = asset
        self.key = key
        self.amount = amount
        self.sent_at = sent_at
        self.cause = cause
        what = ", ".join(
            f"{name}={value}"
            for name, value in (("asset", asset), ("key", key), ("amount", amount and format(amount, "f")))
            if value is not None
        )
        super().__init__(
            f"{method}({what}) sent at {sent_at:.3f} but its outcome is unknown ({cause}); "
            "it may have executed: reconcile before sending again"
        )
