"""The money: per-account balances (Decimal only), withdrawals, deposits, deposit addresses and transfers.

Withdraw debits the gross amount at once, so Balance is net of pending withdrawals; a withdrawal that ends in
Failure (cancelled or failed) gives the gross amount back. Deposits are credited when they reach Success.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal

from . import errors
from .assets import Asset, AssetBook
from .errors import KrakenError
from .ids import DEPOSIT_PREFIX, TRANSFER_PREFIX, WITHDRAWAL_PREFIX, IdFactory
from .lifecycle import TERMINAL, Timings, next_deposit_step, next_withdrawal_step
from .world import AccountConfig, ScriptedWithdrawal, WithdrawKeyConfig, WorldConfig

ZERO = Decimal(0)


@dataclass(eq=False, slots=True)
class Withdrawal:
    """A withdrawal; `gross` is what was requested (and debited), the record shows `gross - fee`."""

    seq: int
    refid: str
    account: str
    asset: Asset
    method: str
    network: str | None
    key: str
    address: str
    gross: Decimal
    fee: Decimal
    time: int
    status: str
    status_prop: str | None
    stage_since: float
    txid: str = ""
    txid_prefix: str = ""
    scripted_txid: str | None = None
    refunded: bool = False

    @property
    def net(self) -> Decimal:
        """The amount that leaves Kraken (WithdrawStatus `amount`)."""
        return self.gross - self.fee


@dataclass(eq=False, slots=True)
class Deposit:
    """A deposit; credited (amount - fee) once it reaches Success."""

    seq: int
    refid: str
    account: str
    asset: Asset
    method: str
    amount: Decimal
    fee: Decimal | None
    txid: str
    info: str
    time: int
    status: str
    status_prop: str | None
    stage_since: float
    confirmations: int = 0
    originators: list[str] | None = None
    credited: bool = False


@dataclass(eq=False, slots=True)
class DepositAddress:
    """A deposit address handed out by DepositAddresses."""

    asset: str
    method: str
    address: str
    expiretm: str
    created: float
    used: bool = False


@dataclass(eq=False, slots=True)
class Transfer:
    """A WalletTransfer from the spot wallet to the futures wallet."""

    refid: str
    asset: Asset
    amount: Decimal
    source: str
    destination: str
    time: int


@dataclass(eq=False)
class Account:
    """One account's state."""

    name: str
    config: AccountConfig
    balances: dict[str, Decimal]
    hold_trade: dict[str, Decimal]
    credit: dict[str, Decimal]
    credit_used: dict[str, Decimal]
    futures: dict[str, Decimal]
    withdrawals: list[Withdrawal] = field(default_factory=list)
    deposits: list[Deposit] = field(default_factory=list)
    addresses: list[DepositAddress] = field(default_factory=list)
    transfers: list[Transfer] = field(default_factory=list)
    scripted_withdrawals: deque[ScriptedWithdrawal] = field(default_factory=deque)
    scripted_addresses: dict[tuple[str, str], deque[str]] = field(default_factory=dict)

    def available(self, asset_id: str) -> Decimal:
        """What can be withdrawn now: balance + credit - credit_used - hold_trade."""
        return (
            self.balances.get(asset_id, ZERO)
            + self.credit.get(asset_id, ZERO)
            - self.credit_used.get(asset_id, ZERO)
            - self.hold_trade.get(asset_id, ZERO)
        )

    def credit_balance(self, asset_id: str, amount: Decimal) -> None:
        """Add (or with a negative amount, remove) funds."""
        self.balances[asset_id] = self.balances.get(asset_id, ZERO) + amount

    def withdraw_key(self, name: str, asset_id: str, assets: AssetBook) -> WithdrawKeyConfig | None:
        """The withdraw key of that name registered for that asset."""
        cfg = self.config.withdraw_keys.get(name)
        if cfg is None:
            return None
        resolved = assets.get(cfg.asset)
        return cfg if resolved is not None and resolved.id == asset_id else None


class Ledger:
    """Every account of the world, plus the lifecycle engine that moves records on the sandbox clock."""

    def __init__(
        self, world: WorldConfig, assets: AssetBook, ids: IdFactory, timings: Timings, now: float
    ) -> None:
        self.assets = assets
        self.timings = timings
        self._world = world
        self._ids = ids
        self._seq = 0
        self._active_withdrawals: dict[str, Withdrawal] = {}
        self._active_deposits: dict[str, Deposit] = {}
        self.accounts: dict[str, Account] = {}
        self._refids: set[str] = set()
        for name, cfg in world.accounts.items():
            self.accounts[name] = self._build_account(name, cfg, now)

    # -- construction
    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _build_account(self, name: str, cfg: AccountConfig, now: float) -> Account:
        account = Account(
            name=name,
            config=cfg,
            balances=dict(cfg.balances),
            hold_trade=dict(cfg.hold_trade),
            credit=dict(cfg.credit),
            credit_used=dict(cfg.credit_used),
            futures=dict(cfg.futures),
            scripted_withdrawals=deque(cfg.scripted_withdrawals),
        )
        for scripted in cfg.scripted_addresses:
            asset = self.assets.resolve(scripted.asset, errors.QUERY_UNKNOWN_ASSET)
            account.scripted_addresses[(asset.id, scripted.method)] = deque(scripted.addresses)
        for dep in sorted(cfg.deposits, key=lambda d: d.time):
            asset = self.assets.resolve(dep.asset, errors.QUERY_UNKNOWN_ASSET)
            record = Deposit(
                seq=self._next_seq(),
                refid=dep.refid,
                account=name,
                asset=asset,
                method=dep.method,
                amount=dep.amount,
                fee=dep.fee,
                txid=dep.txid,
                info=dep.info,
                time=dep.time,
                status=dep.status,
                status_prop=dep.status_prop,
                stage_since=now,
                confirmations=self._deposit_confirmations(asset.id, dep.method),
                originators=list(dep.originators) if dep.originators is not None else None,
                credited=dep.status == "Success",
            )
            self._refids.add(dep.refid)
            account.deposits.append(record)
            self._track_deposit(record)
        for wd in sorted(cfg.withdrawals, key=lambda w: w.time):
            key = cfg.withdraw_keys[wd.key]
            asset = self.assets.resolve(key.asset, errors.QUERY_UNKNOWN_ASSET)
            method = self._world.withdraw_methods[asset.id][key.method]
            withdrawal = Withdrawal(
                seq=self._next_seq(),
                refid=wd.refid,
                account=name,
                asset=asset,
                method=key.method,
                network=method.network,
                key=wd.key,
                address=key.address,
                gross=wd.amount + wd.fee,
                fee=wd.fee,
                time=wd.time,
                status=wd.status,
                status_prop=wd.status_prop,
                stage_since=now,
                txid=wd.txid,
                txid_prefix=method.txid_prefix,
                refunded=wd.status == "Failure",
            )
            self._refids.add(wd.refid)
            account.withdrawals.append(withdrawal)
            self._track_withdrawal(withdrawal)
        return account

    def _deposit_confirmations(self, asset_id: str, method: str) -> int:
        cfg = self._world.deposit_methods.get(asset_id, {}).get(method)
        return cfg.confirmations if cfg is not None else 0

    def account(self, name: str) -> Account:
        """An account by name (KeyError for an unknown one: callers pass names from the world)."""
        return self.accounts[name]

    # -- lifecycle
    def _track_withdrawal(self, record: Withdrawal) -> None:
        if record.status in TERMINAL:
            self._active_withdrawals.pop(record.refid, None)
        else:
            self._active_withdrawals[record.refid] = record

    def _track_deposit(self, record: Deposit) -> None:
        if record.status in TERMINAL:
            self._active_deposits.pop(record.refid, None)
        else:
            self._active_deposits[record.refid] = record

    def tick(self, now: float) -> None:
        """Apply every automatic transition that is due by `now` (called before each request is served)."""
        for record in list(self._active_withdrawals.values()):
            step = next_withdrawal_step(record, self.timings)
            while step is not None and step[0] <= now:
                self.set_withdrawal_status(record, step[1], step[2], step[0])
                step = next_withdrawal_step(record, self.timings)
        for deposit in list(self._active_deposits.values()):
            dstep = next_deposit_step(deposit, self.timings)
            if dstep is not None and dstep[0] <= now:
                self.set_deposit_status(deposit, dstep[1], dstep[2], dstep[0])

    def restart_timers(self, now: float) -> None:
        """Let in-flight records progress from `now` (used when leaving manual mode)."""
        for record in self._active_withdrawals.values():
            record.stage_since = now
        for deposit in self._active_deposits.values():
            deposit.stage_since = now

    def set_withdrawal_status(self, record: Withdrawal, status: str, prop: str | None, at: float) -> None:
        """Move a withdrawal; money follows (Failure refunds the gross amount, leaving Failure re-debits)."""
        account = self.accounts[record.account]
        if status == "Failure" and not record.refunded:
            account.credit_balance(record.asset.id, record.gross)
            record.refunded = True
        elif status != "Failure" and record.refunded:
            account.credit_balance(record.asset.id, -record.gross)
            record.refunded = False
        if status in ("Pending", "Settled", "Success") and not record.txid:
            record.txid = record.scripted_txid or self._ids.txid(record.txid_prefix)
        record.status = status
        record.status_prop = prop
        record.stage_since = at
        self._track_withdrawal(record)

    def set_deposit_status(self, record: Deposit, status: str, prop: str | None, at: float) -> None:
        """Move a deposit, crediting (amount - fee) on Success and taking it back if it leaves Success."""
        account = self.accounts[record.account]
        credit = record.amount - (record.fee or ZERO)
        if status == "Success" and not record.credited:
            account.credit_balance(record.asset.id, credit)
            record.credited = True
        elif status != "Success" and record.credited:
            account.credit_balance(record.asset.id, -credit)
            record.credited = False
        record.status = status
        record.status_prop = prop
        record.stage_since = at
        self._track_deposit(record)

    # -- lookups
    def find_withdrawal(self, refid: str) -> Withdrawal | None:
        """Any account's withdrawal by refid."""
        for account in self.accounts.values():
            for record in account.withdrawals:
                if record.refid == refid:
                    return record
        return None

    def find_deposit(self, refid: str) -> Deposit | None:
        """Any account's deposit by refid."""
        for account in self.accounts.values():
            for record in account.deposits:
                if record.refid == refid:
                    return record
        return None

    # -- operations
    def withdraw(
        self,
        account: Account,
        asset: Asset,
        key_name: str,
        key: WithdrawKeyConfig,
        gross: Decimal,
        fee: Decimal,
        now: float,
    ) -> Withdrawal:
        """Book a withdrawal (gross debited now); `EFunding:Insufficient funds` if not available."""
        if gross > account.available(asset.id):
            raise KrakenError(errors.INSUFFICIENT_FUNDS)
        method = self._world.withdraw_methods[asset.id][key.method]
        scripted = account.scripted_withdrawals.popleft() if account.scripted_withdrawals else None
        refid = scripted.refid if scripted else self._ids.refid(WITHDRAWAL_PREFIX, self._refids)
        self._refids.add(refid)
        record = Withdrawal(
            seq=self._next_seq(),
            refid=refid,
            account=account.name,
            asset=asset,
            method=key.method,
            network=method.network,
            key=key_name,
            address=key.address,
            gross=gross,
            fee=fee,
            time=int(now),
            status="Initial",
            status_prop=None,
            stage_since=now,
            txid_prefix=method.txid_prefix,
            scripted_txid=scripted.txid if scripted else None,
        )
        account.credit_balance(asset.id, -gross)
        account.withdrawals.append(record)
        self._track_withdrawal(record)
        return record

    def cancel_withdrawal(self, account: Account, asset: Asset, refid: str, now: float) -> None:
        """Request cancellation: only a withdrawal still `Initial` (and not already cancelling) qualifies."""
        record = next((w for w in account.withdrawals if w.refid == refid and w.asset.id == asset.id), None)
        if record is None:
            if any(t.refid == refid for t in account.transfers):
                raise KrakenError(errors.INVALID_REFERENCE_ID)
            raise KrakenError(errors.UNKNOWN_REFERENCE_ID)
        if record.status != "Initial" or record.status_prop in ("cancel-pending", "canceled", "return"):
            raise KrakenError(errors.INVALID_REFERENCE_ID)
        record.status_prop = "cancel-pending"
        record.stage_since = now

    def new_address(self, account: Account, asset: Asset, method: str, now: float) -> DepositAddress:
        """A new deposit address (scripted ones first); `EFunding:Too many addresses` past the cap."""
        cfg = self._world.deposit_methods[asset.id][method]
        existing = [a for a in account.addresses if a.asset == asset.id and a.method == method]
        if len(existing) >= cfg.max_addresses:
            raise KrakenError(errors.TOO_MANY_ADDRESSES)
        queue = account.scripted_addresses.get((asset.id, method))
        if queue:
            address = queue.popleft()
        else:
            taken = {a.address for a in account.addresses}
            address = self._ids.address(cfg.address.prefix, cfg.address.length, cfg.address.alphabet)
            while address in taken:
                address = self._ids.address(cfg.address.prefix, cfg.address.length, cfg.address.alphabet)
        record = DepositAddress(
            asset=asset.id, method=method, address=address, expiretm=cfg.expiretm, created=now
        )
        account.addresses.append(record)
        return record

    def inject_deposit(
        self,
        account: Account,
        asset: Asset,
        method: str,
        amount: Decimal,
        *,
        now: float,
        fee: Decimal | None = ZERO,
        address: str | None = None,
        txid: str | None = None,
        refid: str | None = None,
        status: str = "Settled",
        confirmations: int | None = None,
        originators: list[str] | None = None,
    ) -> Deposit:
        """A deposit arriving now (admin API); it settles, then succeeds as confirmations arrive."""
        cfg = self._world.deposit_methods[asset.id][method]
        if address is None:
            mine = [a for a in account.addresses if a.asset == asset.id and a.method == method]
            address = mine[-1].address if mine else ""
        for known in account.addresses:
            if known.address == address:
                known.used = True
        if refid is None:
            refid = self._ids.refid(DEPOSIT_PREFIX, self._refids)
        elif refid in self._refids:
            raise ValueError(f"refid {refid} already exists")
        self._refids.add(refid)
        record = Deposit(
            seq=self._next_seq(),
            refid=refid,
            account=account.name,
            asset=asset,
            method=method,
            amount=amount,
            fee=fee,
            txid=txid if txid is not None else self._ids.txid(cfg.txid_prefix),
            info=address,
            time=int(now),
            status="Initial",
            status_prop=None,
            stage_since=now,
            confirmations=cfg.confirmations if confirmations is None else confirmations,
            originators=originators,
        )
        account.deposits.append(record)
        self.set_deposit_status(record, status, None, now)
        if record.status == "Settled" and record.confirmations == 0 and not self.timings.manual:
            self.set_deposit_status(record, "Success", None, now)
        return record

    def transfer(
        self, account: Account, asset: Asset, amount: Decimal, source: str, destination: str, now: float
    ) -> Transfer:
        """Move funds from the spot wallet to the futures wallet."""
        if amount > account.available(asset.id):
            raise KrakenError(errors.INSUFFICIENT_FUNDS)
        refid = self._ids.refid(TRANSFER_PREFIX, self._refids)
        self._refids.add(refid)
        account.credit_balance(asset.id, -amount)
        account.futures[asset.id] = account.futures.get(asset.id, ZERO) + amount
        record = Transfer(
            refid=refid, asset=asset, amount=amount, source=source, destination=destination, time=int(now)
        )
        account.transfers.append(record)
        return record
