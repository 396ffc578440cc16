"""Typed results of Kraken's funding endpoints (pydantic v2), and the status enums.

Amounts are ``Decimal`` and dump to plain decimal strings in JSON mode (``model_dump(mode="json")``),
so results go to XCom without floats. Unknown statuses from Kraken parse instead of crashing; only
this module interprets status strings. This module imports nothing else of the provider.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, field_validator

Amount = Annotated[Decimal, PlainSerializer(lambda d: format(d, "f"), return_type=str, when_used="json")]


class _OpenStrEnum(StrEnum):
    """A string enum that keeps values it does not know as ``UNKNOWN`` pseudo-members."""

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if not isinstance(value, str):
            return None
        member = str.__new__(cls, value)
        member._name_ = "UNKNOWN"
        member._value_ = value
        return member

    @property
    def is_known(self) -> bool:
        """False for a value Kraken sent that this version of the provider does not know."""
        return self._name_ != "UNKNOWN"


class TransactionStatus(_OpenStrEnum):
    """Kraken's deposit/withdrawal status (IFEX states): Success and Failure are final."""

    INITIAL = "Initial"
    PENDING = "Pending"
    SETTLED = "Settled"
    SUCCESS = "Success"
    FAILURE = "Failure"

    @property
    def is_terminal(self) -> bool:
        """True for the final states; an unknown status is never terminal."""
        return self in (TransactionStatus.SUCCESS, TransactionStatus.FAILURE)


class StatusProp(_OpenStrEnum):
    """Kraken's ``status-prop`` modifier of a deposit or withdrawal."""

    RETURN = "return"
    ONHOLD = "onhold"
    CANCEL_PENDING = "cancel-pending"
    CANCELED = "canceled"
    CANCEL_DENIED = "cancel-denied"

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if value == "on-hold":  # spelling seen in third-party clients
            return cls.ONHOLD
        return super()._missing_(value)


class KrakenModel(BaseModel):
    """Base of every result model: immutable, tolerant of new fields, snake_case attributes."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore", defer_build=True)


class AssetInfo(KrakenModel):
    """One entry of public ``Assets``; ``asset_id`` is the key Kraken uses in results (``XXDG``)."""

    asset_id: str
    altname: str
    aclass: str = "currency"
    decimals: int
    display_decimals: int | None = None
    status: str | None = None
    collateral_value: Decimal | None = None


class BalanceEx(KrakenModel):
    """One asset of ``BalanceEx``."""

    balance: Amount
    hold_trade: Amount = Decimal(0)
    credit: Amount = Decimal(0)
    credit_used: Amount = Decimal(0)

    @property
    def available(self) -> Decimal:
        """What can be withdrawn: balance + credit - credit_used - hold_trade (Kraken's definition)."""
        return self.balance + self.credit - self.credit_used - self.hold_trade


class DepositMethod(KrakenModel):
    """One deposit method; ``limit`` is None when Kraken says ``false`` (no limit)."""

    method: str
    limit: Amount | None = None
    fee: Amount | None = None
    address_setup_fee: Amount | None = Field(default=None, alias="address-setup-fee")
    gen_address: bool | None = Field(default=None, alias="gen-address")
    minimum: Amount | None = None

    @field_validator("limit", mode="before")
    @classmethod
    def _false_is_no_limit(cls, value: Any) -> Any:
        return None if value is False else value


class DepositAddress(KrakenModel):
    """A deposit address; ``expiretm`` 0 means it never expires."""

    address: str
    expiretm: int = 0
    new: bool | None = None
    tag: str | None = None
    memo: str | None = None


class Transaction(KrakenModel):
    """Fields shared by deposits and withdrawals as DepositStatus/WithdrawStatus report them."""

    method: str
    aclass: str | None = None
    asset: str
    refid: str
    txid: str | None = None
    info: str | None = None
    amount: Amount
    fee: Amount | None = None
    time: int
    status: TransactionStatus
    status_prop: StatusProp | None = Field(default=None, alias="status-prop")
    network: str | None = None


class Deposit(Transaction):
    """A deposit; ``originators`` are the sending transaction ids of a swept ERC20 deposit."""

    originators: list[str] | None = None


class Withdrawal(Transaction):
    """A withdrawal; ``amount`` is net of ``fee`` and ``key`` names the withdraw key used."""

    key: str | None = None

    @property
    def is_cancelled(self) -> bool:
        """True once Kraken reports the withdrawal failed because it was cancelled."""
        return self.status is TransactionStatus.FAILURE and self.status_prop is StatusProp.CANCELED


class WithdrawMethod(KrakenModel):
    """One withdraw method of an asset (``network`` is None for fiat)."""

    asset: str
    method: str
    network: str | None = None
    minimum: Amount | None = None


class WithdrawAddress(KrakenModel):
    """A withdraw key (address) registered on the account."""

    address: str
    asset: str
    method: str
    key: str
    tag: str | None = None
    memo: str | None = None
    verified: bool | None = None


class WithdrawInfo(KrakenModel):
    """What a withdrawal would do now: net ``amount`` after ``fee``, and the ``limit`` available."""

    method: str
    limit: Amount
    amount: Amount
    fee: Amount


class WithdrawalReceipt(KrakenModel):
    """Kraken accepted a withdrawal: its ``refid`` and the request that produced it."""

    refid: str
    asset: str
    key: str
    amount: Amount
    sent_at: float


class TransferReceipt(KrakenModel):
    """Kraken accepted a wallet transfer."""

    refid: str
