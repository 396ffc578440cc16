"""Withdrawal and deposit lifecycles on the sandbox clock, cancellation, and the money that follows."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import pytest

from airflow_provider_kraken.sandbox.pytest_plugin import KrakenSandbox

from .conftest import Kraken


def status(kraken: Kraken, refid: str) -> tuple[str, str | None, str]:
    """(status, status-prop, txid) of one withdrawal as WithdrawStatus shows it."""
    record: dict[str, Any] = next(r for r in kraken.result("WithdrawStatus") if r["refid"] == refid)
    return record["status"], record.get("status-prop"), record["txid"]


def withdraw(kraken: Kraken, amount: str = "50") -> str:
    refid: str = kraken.result("Withdraw", asset="doge", key="XDG_Wallet", amount=amount)["refid"]
    return refid


def test_default_progression(kraken: Kraken, sandbox: KrakenSandbox) -> None:
    sandbox.admin.freeze()
    refid = withdraw(kraken)
    assert status(kraken, refid) == ("Initial", None, "")
    sandbox.admin.advance(0.99)
    assert status(kraken, refid)[0] == "Initial"
    sandbox.admin.advance(0.02)
    assert status(kraken, refid) == (
        "Pending",
        None,
        "86b9bbee8775793d0ef420e3c374a2e7913ad8ba9e1a4939cf3044a09c533e44",
    )
    sandbox.admin.advance(2)
    assert status(kraken, refid)[0] == "Success"
    assert kraken.result("Balance")["XXDG"] == "50.00000000"


def test_generated_txids(kraken: Kraken, sandbox: KrakenSandbox) -> None:
    sandbox.admin.freeze()
    refids = [
        kraken.result("Withdraw", asset="usdc", key="USDC_Cold", amount="10")["refid"] for _ in range(3)
    ]
    sandbox.admin.advance(5)
    txid = status(kraken, refids[2])[2]
    assert txid.startswith("0x") and len(txid) == 66


def test_real_time_progression(kraken: Kraken, sandbox: KrakenSandbox) -> None:
    sandbox.admin.set_lifecycle(withdraw_initial_seconds=0.05, withdraw_pending_seconds=0.05)
    refid = withdraw(kraken)
    deadline = time.monotonic() + 5
    while status(kraken, refid)[0] != "Success":
        assert time.monotonic() < deadline, "no progression on the running clock"
        time.sleep(0.05)


def test_settled_stage_when_configured(kraken: Kraken, sandbox: KrakenSandbox) -> None:
    sandbox.admin.freeze()
    sandbox.admin.set_lifecycle(withdraw_settled_seconds=3)
    refid = withdraw(kraken)
    seen = []
    for _ in range(7):
        seen.append(status(kraken, refid)[0])
        sandbox.admin.advance(1)
    assert seen == ["Initial", "Pending", "Pending", "Settled", "Settled", "Settled", "Success"]


def test_manual_mode(kraken: Kraken, sandbox: KrakenSandbox) -> None:
    sandbox.admin.set_lifecycle(manual=True)
    refid = withdraw(kraken)
    sandbox.admin.advance(3600)
    assert status(kraken, refid)[0] == "Initial"
    sandbox.admin.set_withdrawal_status(refid, "Pending")
    sandbox.admin.advance(3600)
    assert status(kraken, refid)[0] == "Pending"
    sandbox.admin.freeze()
    sandbox.admin.set_lifecycle(manual=False)  # timers restart now: Pending for 2 more seconds
    sandbox.admin.advance(1.9)
    assert status(kraken, refid)[0] == "Pending"
    sandbox.admin.advance(0.2)
    assert status(kraken, refid)[0] == "Success"


@pytest.mark.kraken_world(overrides={"lifecycle": {"manual": True}})
def test_manual_mode_from_the_world_file(kraken: Kraken, sandbox: KrakenSandbox) -> None:
    refid = withdraw(kraken)
    sandbox.admin.advance(600)
    assert status(kraken, refid)[0] == "Initial"
    assert sandbox.admin.lifecycle()["manual"] is True


def test_changed_timings_apply_to_withdrawals_in_flight(kraken: Kraken, sandbox: KrakenSandbox) -> None:
    sandbox.admin.freeze()
    refid = withdraw(kraken)
    sandbox.admin.set_lifecycle(withdraw_initial_seconds=30)
    sandbox.admin.advance(29)
    assert status(kraken, refid)[0] == "Initial"
    sandbox.admin.advance(1)
    assert status(kraken, refid)[0] == "Pending"


def test_cancel_while_initial(kraken: Kraken, sandbox: KrakenSandbox) -> None:
    sandbox.admin.freeze()
    refid = withdraw(kraken, "40")
    assert kraken.result("Balance")["XXDG"] == "60.00000000"
    assert kraken.result("WithdrawCancel", asset="doge", refid=refid) is True
    assert status(kraken, refid) == ("Initial", "cancel-pending", "")
    assert kraken.error("WithdrawCancel", asset="doge", refid=refid) == "EFunding:Invalid reference id"
    sandbox.admin.advance(1)
    assert status(kraken, refid) == ("Failure", "canceled", "")
    assert kraken.result("Balance")["XXDG"] == "100.00000000"
    assert sandbox.admin.account().withdrawal(refid)["refunded"] is True
    sandbox.admin.advance(100)
    assert status(kraken, refid) == ("Failure", "canceled", "")


def test_cancel_too_late(kraken: Kraken, sandbox: KrakenSandbox) -> None:
    sandbox.admin.freeze()
    refid = withdraw(kraken)
    sandbox.admin.advance(1)
    assert kraken.error("WithdrawCancel", asset="doge", refid=refid) == "EFunding:Invalid reference id"
    sandbox.admin.advance(2)
    assert status(kraken, refid)[:2] == ("Success", None)
    assert kraken.error("WithdrawCancel", asset="doge", refid=refid) == "EFunding:Invalid reference id"


def test_cancel_unknown_refid_or_wrong_asset(kraken: Kraken, sandbox: KrakenSandbox) -> None:
    sandbox.admin.freeze()
    refid = withdraw(kraken)
    assert (
        kraken.error("WithdrawCancel", asset="doge", refid="AAAAAAA-BBBBBB-CCCCCC")
        == "EFunding:Unknown reference id"
    )
    assert kraken.error("WithdrawCancel", asset="usdc", refid=refid) == "EFunding:Unknown reference id"
    assert kraken.error("WithdrawCancel", asset="nope", refid=refid) == "EFunding:Unknown asset"
    assert status(kraken, refid)[0] == "Initial"


def test_forced_failure_refunds_and_reversal_rebooks(kraken: Kraken, sandbox: KrakenSandbox) -> None:
    sandbox.admin.set_lifecycle(manual=True)
    refid = withdraw(kraken, "30")
    forced = sandbox.admin.set_withdrawal_status(refid, "Failure")
    assert (forced["status"], forced["refunded"]) == ("Failure", True)
    assert sandbox.admin.account().balance("XXDG") == Decimal(100)
    sandbox.admin.set_withdrawal_status(refid, "Success")
    assert sandbox.admin.account().balance("XXDG") == Decimal(70)


def test_onhold_pauses_progression(kraken: Kraken, sandbox: KrakenSandbox) -> None:
    sandbox.admin.freeze()
    refid = withdraw(kraken)
    sandbox.admin.set_withdrawal_status(refid, status_prop="onhold")
    sandbox.admin.advance(600)
    assert status(kraken, refid) == ("Initial", "onhold", "")
    sandbox.admin.set_withdrawal_status(refid, status_prop=None)
    sandbox.admin.advance(1)
    assert status(kraken, refid)[:2] == ("Pending", None)


def test_cancel_denied_and_return_props(kraken: Kraken, sandbox: KrakenSandbox) -> None:
    sandbox.admin.freeze()
    refid = withdraw(kraken)
    sandbox.admin.set_withdrawal_status(refid, "Pending", status_prop="cancel-denied")
    sandbox.admin.advance(5)
    assert status(kraken, refid)[:2] == ("Success", "cancel-denied")


def test_admin_rejects_unknown_states(sandbox: KrakenSandbox, kraken: Kraken) -> None:
    refid = withdraw(kraken)
    with pytest.raises(RuntimeError, match="status must be one of"):
        sandbox.admin.set_withdrawal_status(refid, "Done")
    with pytest.raises(RuntimeError, match="status_prop must be one of"):
        sandbox.admin.set_withdrawal_status(refid, status_prop="on-hold")
    with pytest.raises(RuntimeError, match="404"):
        sandbox.admin.set_withdrawal_status("AAAAAAA-BBBBBB-CCCCCC", "Success")


def test_deposits_in_manual_mode(kraken: Kraken, sandbox: KrakenSandbox) -> None:
    sandbox.admin.set_lifecycle(manual=True)
    refid = sandbox.admin.inject_deposit("doge", "5")["refid"]
    sandbox.admin.advance(3600)
    assert kraken.result("DepositStatus", asset="doge")[0]["status"] == "Settled"
    sandbox.admin.set_deposit_status(refid, "Success")
    assert kraken.result("Balance")["XXDG"] == "105.00000000"
    sandbox.admin.set_deposit_status(refid, "Failure", status_prop="return")
    record = kraken.result("DepositStatus", asset="doge")[0]
    assert (record["status"], record["status-prop"]) == ("Failure", "return")
    assert kraken.result("Balance")["XXDG"] == "100.00000000"


def test_clock_controls(sandbox: KrakenSandbox) -> None:
    frozen = sandbox.admin.set_clock(1_800_000_000, frozen=True)
    assert (frozen.now, frozen.frozen) == (1_800_000_000, True)
    assert sandbox.admin.advance(30).now == 1_800_000_030
    running = sandbox.admin.freeze(False)
    assert not running.frozen
    assert 1_800_000_030 <= sandbox.admin.clock().now < 1_800_000_040
    with pytest.raises(RuntimeError, match="only moves forward"):
        sandbox.admin.advance(-1)
