"""Kraken's error strings (exactly as the API spells them) and the exception that carries one."""

from __future__ import annotations

from typing import Final

INVALID_KEY: Final = "EAPI:Invalid key"
INVALID_SIGNATURE: Final = "EAPI:Invalid signature"
INVALID_NONCE: Final = "EAPI:Invalid nonce"
RATE_LIMIT_EXCEEDED: Final = "EAPI:Rate limit exceeded"
PERMISSION_DENIED: Final = "EGeneral:Permission denied"
INVALID_ARGUMENTS: Final = "EGeneral:Invalid arguments"
UNKNOWN_METHOD: Final = "EGeneral:Unknown method"
INTERNAL_ERROR: Final = "EGeneral:Internal error"
QUERY_UNKNOWN_ASSET: Final = "EQuery:Unknown asset"
FUNDING_UNKNOWN_ASSET: Final = "EFunding:Unknown asset"
NO_FUNDING_METHOD: Final = "EFunding:No funding method"
TOO_MANY_ADDRESSES: Final = "EFunding:Too many addresses"
UNKNOWN_WITHDRAW_KEY: Final = "EFunding:Unknown withdraw key"
INVALID_AMOUNT: Final = "EFunding:Invalid amount"
INSUFFICIENT_FUNDS: Final = "EFunding:Insufficient funds"
MAX_FEE_EXCEEDED: Final = "EFunding:Max fee exceeded"
INVALID_WITHDRAWAL_ADDRESS: Final = "EFunding:Invalid withdrawal address"
INVALID_REFERENCE_ID: Final = "EFunding:Invalid reference id"
UNKNOWN_REFERENCE_ID: Final = "EFunding:Unknown reference id"
SERVICE_UNAVAILABLE: Final = "EService:Unavailable"
SERVICE_BUSY: Final = "EService:Busy"


def invalid_arguments(field: str | None = None) -> str:
    """`EGeneral:Invalid arguments`, optionally naming the offending field as Kraken does."""
    return f"{INVALID_ARGUMENTS}:{field}" if field else INVALID_ARGUMENTS


class KrakenError(Exception):
    """A refused call: becomes `{"error": [code]}` with HTTP 200, like every Kraken API error."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code
