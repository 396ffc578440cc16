"""The stories told with the example DAGs: the world each starts from, who acts beside the run,
and what must be true afterwards, judged from the task states, XComs, the sandbox's call log and
its ledger. The demo tells ``STORIES``; the tests play those and ``EDGE_STORIES``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from airflow_provider_kraken.sandbox.admin import AdminClient

from .actors import Actor, Approver, Payer
from .checks import Check, balance_change, expect, states, withdraw_calls
from .runner import RunResult, run_example

SWEEP = "kraken_sweep_to_cold_wallet"
GATED = "kraken_gated_withdrawal"
DEPOSIT = "kraken_wait_for_deposit"
CANCEL = "kraken_cancel_withdrawal"


def _nothing(admin: AdminClient) -> None:
    """No change to the default world."""


def _nobody(admin: AdminClient) -> Sequence[Actor]:
    return ()


@dataclass(frozen=True)
class Story:
    """One run of an example DAG: its world, its actors, its conf, and what must hold afterwards."""

    key: str
    title: str
    dag_id: str
    assets: tuple[str, ...]
    checks: Callable[[RunResult], list[Check]]
    conf: Mapping[str, str] = field(default_factory=dict)
    setup: Callable[[AdminClient], None] = _nothing
    cast: Callable[[AdminClient], Sequence[Actor]] = _nobody
    summary: str = ""


@dataclass(frozen=True)
class Played:
    """A story's run and its verdict."""

    story: Story
    result: RunResult
    checks: tuple[Check, ...]

    @property
    def passed(self) -> bool:
        """Every check held."""
        return all(check.ok for check in self.checks)


def play(story: Story, admin: AdminClient) -> Played:
    """Set the world up, run the DAG with its actors, and judge the run."""
    story.setup(admin)
    result = run_example(story.dag_id, admin, conf=story.conf, actors=story.cast(admin))
    checks = [Check(f"nothing went wrong beside the run ({error})", False) for error in result.errors]
    try:
        checks += story.checks(result)
    except (LookupError, TypeError, ValueError, ArithmeticError) as exc:  # a trace is missing or malformed
        checks.append(Check("the run left the traces the story expects", False, repr(exc)))
    return Played(story, result, tuple(checks))


# ----------------------------------------------------------------------------------- the sweep

RESERVE = "1000"


def _sweep_checks(result: RunResult) -> list[Check]:
    checks = states(result, {"sweep": "success", "wait_for_withdrawal": "success"}, "success")
    checks.append(withdraw_calls(result, 1))
    sent = result.calls_to("Withdraw")[0].params
    above_reserve = result.before.balances["USDC"].available - Decimal(RESERVE)
    checks.append(
        expect(
            "it sends what sits above the reserve, to the cold wallet",
            (sent["key"], Decimal(sent["amount"])),
            ("USDC_Cold", above_reserve),
        )
    )
    swept = result.result_of("sweep")
    [withdrawal] = result.new_withdrawals()
    checks.append(expect("the refid in XCom is the one Kraken booked", swept["refid"], withdrawal["refid"]))
    checks.append(expect("Kraken reports the withdrawal Success", withdrawal["status"], "Success"))
    checks.append(
        expect(
            "the sensor returns that record",
            result.result_of("wait_for_withdrawal")["refid"],
            withdrawal["refid"],
        )
    )
    checks.append(expect("the reserve stays on Kraken", result.after.balance("USDC"), Decimal(RESERVE)))
    return checks


def _sweep_skip_checks(result: RunResult) -> list[Check]:
    checks = states(result, {"sweep": "skipped", "wait_for_withdrawal": "skipped"}, "success")
    checks += [withdraw_calls(result, 0), balance_change(result, "USDC", Decimal(0))]
    return checks


def _small_surplus(admin: AdminClient) -> None:
    admin.set_balance("USDC", Decimal(RESERVE) + 50)


SWEEP_STORY = Story(
    key="sweep",
    title="Scheduled sweep",
    dag_id=SWEEP,
    assets=("USDC",),
    conf={"reserve": RESERVE},
    checks=_sweep_checks,
    summary="5000 USDC on Kraken, reserve 1000: the sweep sends 4000 to USDC_Cold and waits for Success.",
)
SWEEP_SKIP_STORY = Story(
    key="sweep-skipped",
    title="Scheduled sweep, an hour later",
    dag_id=SWEEP,
    assets=("USDC",),
    conf={"reserve": RESERVE},
    setup=_small_surplus,
    checks=_sweep_skip_checks,
    summary="Only 50 USDC above the reserve (min_amount is 100): skipped, nothing sent.",
)

# ------------------------------------------------------------------------- the gated withdrawal

GATE_TASKS = ("reconcile", "check_limit", "approve", "withdraw", "wait_for_withdrawal")


def _approver(choice: str) -> Callable[[AdminClient], Sequence[Actor]]:
    def cast(admin: AdminClient) -> Sequence[Actor]:
        return (Approver(GATED, "approve", choice),)

    return cast


def _approved_checks(result: RunResult) -> list[Check]:
    checks = states(result, dict.fromkeys(GATE_TASKS, "success"), "success")
    checks.append(expect("the approver answered Approve", result.answer_of("approve"), ("Approve",)))
    checks.append(withdraw_calls(result, 1))
    sent = result.calls_to("Withdraw")[0].params
    fee = result.result_of("check_limit")["fee"]
    checks.append(
        expect(
            "it sends the conf's amount, capped at the fee the approver saw",
            (sent["key"], sent["amount"], Decimal(sent.get("max_fee", "NaN"))),
            ("XDG_Wallet", "25", Decimal(fee)),
        )
    )
    [withdrawal] = result.new_withdrawals()
    checks.append(
        expect(
            "the refid in XCom is the one Kraken booked",
            result.result_of("withdraw")["refid"],
            withdrawal["refid"],
        )
    )
    checks.append(expect("Kraken reports the withdrawal Success", withdrawal["status"], "Success"))
    checks.append(balance_change(result, "XXDG", Decimal(-25)))
    return checks


def _rejected_checks(result: RunResult) -> list[Check]:
    expected = {
        "reconcile": "success",
        "check_limit": "success",
        "approve": "success",
        "withdraw": "skipped",
        "wait_for_withdrawal": "skipped",
    }
    checks = states(result, expected, "success")
    checks.append(expect("the approver answered Reject", result.answer_of("approve"), ("Reject",)))
    checks += [withdraw_calls(result, 0), balance_change(result, "XXDG", Decimal(0))]
    return checks


def _unasked_checks(failed: str) -> Callable[[RunResult], list[Check]]:
    def checks(result: RunResult) -> list[Check]:
        expected = dict.fromkeys(GATE_TASKS, "upstream_failed")
        expected[failed] = "failed"
        expected.update({t: "success" for t in ("reconcile", "check_limit") if t != failed})
        found = states(result, expected, "failed")
        found.append(expect("nobody is asked to approve", result.was_asked("approve"), False))
        found += [withdraw_calls(result, 0), balance_change(result, "XXDG", Decimal(0))]
        return found

    return checks


GATED_APPROVED = Story(
    key="gated-approved",
    title="Pipeline-gated withdrawal, approved",
    dag_id=GATED,
    assets=("XXDG",),
    conf={"amount": "25", "books_balance": "100"},
    cast=_approver("Approve"),
    checks=_approved_checks,
    summary="Books agree, 25 DOGE is within limits, a human approves: withdrawn once, waited to Success.",
)
GATED_REJECTED = Story(
    key="gated-rejected",
    title="Pipeline-gated withdrawal, rejected",
    dag_id=GATED,
    assets=("XXDG",),
    conf={"amount": "25", "books_balance": "100"},
    cast=_approver("Reject"),
    checks=_rejected_checks,
    summary="Same request, the approver rejects it: the withdrawal is skipped, nothing reaches Kraken.",
)
GATED_OVER_LIMIT = Story(
    key="gated-over-limit",
    title="Pipeline-gated withdrawal, over the limit",
    dag_id=GATED,
    assets=("XXDG",),
    conf={"amount": "75", "books_balance": "100"},
    cast=_approver("Approve"),
    checks=_unasked_checks("check_limit"),
    summary="75 DOGE exceeds the policy limit of 50: the run stops before anyone is asked; nothing sent.",
)
GATED_BOOKS_DISAGREE = Story(
    key="gated-books-disagree",
    title="Pipeline-gated withdrawal, books disagree",
    dag_id=GATED,
    assets=("XXDG",),
    conf={"amount": "25", "books_balance": "120"},
    cast=_approver("Approve"),
    checks=_unasked_checks("reconcile"),
    summary="The books say 120 DOGE, Kraken has 100: reconciliation fails; nothing sent.",
)

# ----------------------------------------------------------------------------- the deposit wait

EXPECTED_DEPOSIT = "100"
PAYMENTS = ("3", "150")  # a dust payment first (below the expected amount), then the real one


def _fast_confirmations(admin: AdminClient) -> None:
    admin.set_lifecycle(deposit_confirmation_seconds=0.2)


def _payer(admin: AdminClient) -> Sequence[Actor]:
    return (
        Payer(
            admin,
            dag_id=DEPOSIT,
            task_id="deposit_address",
            asset="XXDG",
            method="Dogecoin",
            amounts=PAYMENTS,
        ),
    )


def _deposit_checks(result: RunResult) -> list[Check]:
    tasks = {"deposit_address": "success", "wait_for_deposit": "success", "book_deposit": "success"}
    checks = states(result, tasks, "success")
    address = result.result_of("deposit_address")["address"]
    arrived = [d for d in result.new_deposits() if d["info"] == address]
    checks.append(
        expect(
            "both payments reach the new address",
            sorted(Decimal(d["amount"]) for d in arrived),
            sorted(Decimal(a) for a in PAYMENTS),
        )
    )
    [expected] = [d for d in arrived if Decimal(d["amount"]) >= Decimal(EXPECTED_DEPOSIT)]
    waited = result.result_of("wait_for_deposit")
    checks.append(
        expect(
            "the sensor picks the payment of at least the expected amount", waited["refid"], expected["refid"]
        )
    )
    booked = result.result_of("book_deposit")
    net = Decimal(expected["amount"]) - Decimal(expected["fee"])
    checks.append(
        expect(
            "the pipeline books its refid, amount and net",
            (booked["refid"], Decimal(booked["amount"]), Decimal(booked["net"])),
            (expected["refid"], Decimal(expected["amount"]), net),
        )
    )
    checks.append(expect("Kraken reports it Success", expected["status"], "Success"))
    credited = sum(
        (Decimal(d["amount"]) - Decimal(d["fee"]) for d in arrived if d["status"] == "Success"), Decimal(0)
    )
    checks.append(balance_change(result, "XXDG", credited))
    return checks


DEPOSIT_STORY = Story(
    key="deposit",
    title="Wait for a deposit",
    dag_id=DEPOSIT,
    assets=("XXDG",),
    conf={"expected_amount": EXPECTED_DEPOSIT},
    setup=_fast_confirmations,
    cast=_payer,
    checks=_deposit_checks,
    summary="A new DOGE address; the customer pays 3 (dust) then 150: the wait takes the 150 once confirmed.",
)

# ---------------------------------------------------------------------------------- the cancel

CANCEL_AMOUNT = "30"


def _slow_processing(admin: AdminClient) -> None:
    admin.set_lifecycle(withdraw_initial_seconds=30)


def _instant_processing(admin: AdminClient) -> None:
    admin.set_lifecycle(withdraw_initial_seconds=0)


def _cancel_checks(result: RunResult) -> list[Check]:
    checks = states(
        result, {"withdraw": "success", "cancel": "success", "final_outcome": "success"}, "success"
    )
    checks.append(withdraw_calls(result, 1))
    checks.append(expect("exactly one cancel request", len(result.calls_to("WithdrawCancel")), 1))
    [withdrawal] = result.new_withdrawals()
    refid = withdrawal["refid"]
    cancel = result.result_of("cancel")
    checks.append(
        expect(
            "the cancel is accepted for the withdrawal just made",
            (cancel["refid"], cancel["state"] in ("cancel-pending", "canceled")),
            (refid, True),
        )
    )
    outcome = result.result_of("final_outcome")
    checks.append(
        expect(
            "the outcome: cancelled (Failure, canceled)",
            (outcome["refid"], outcome["status"], outcome["status_prop"], outcome["cancelled"]),
            (refid, "Failure", "canceled", True),
        )
    )
    checks.append(balance_change(result, "XXDG", Decimal(0)))
    return checks


def _too_late_checks(result: RunResult) -> list[Check]:
    checks = states(
        result, {"withdraw": "success", "cancel": "failed", "final_outcome": "upstream_failed"}, "failed"
    )
    checks.append(withdraw_calls(result, 1))
    checks.append(expect("exactly one cancel request", len(result.calls_to("WithdrawCancel")), 1))
    [withdrawal] = result.new_withdrawals()
    checks.append(expect("the withdrawal is not cancelled", withdrawal["status_prop"], None))
    checks.append(balance_change(result, "XXDG", -Decimal(CANCEL_AMOUNT)))
    return checks


CANCEL_STORY = Story(
    key="cancel",
    title="Cancel a withdrawal",
    dag_id=CANCEL,
    assets=("XXDG",),
    conf={"amount": CANCEL_AMOUNT},
    setup=_slow_processing,
    checks=_cancel_checks,
    summary="30 DOGE requested, then cancelled while still Initial: Failure/canceled, nothing leaves Kraken.",
)
CANCEL_TOO_LATE = Story(
    key="cancel-too-late",
    title="Cancel a withdrawal, too late",
    dag_id=CANCEL,
    assets=("XXDG",),
    conf={"amount": CANCEL_AMOUNT},
    setup=_instant_processing,
    checks=_too_late_checks,
    summary="Kraken processed the withdrawal at once: the cancel task fails loudly, the money moves.",
)

STORIES: tuple[Story, ...] = (
    SWEEP_STORY,
    SWEEP_SKIP_STORY,
    GATED_APPROVED,
    GATED_REJECTED,
    GATED_OVER_LIMIT,
    DEPOSIT_STORY,
    CANCEL_STORY,
)
"""What `make demo` tells."""

EDGE_STORIES: tuple[Story, ...] = (GATED_BOOKS_DISAGREE, CANCEL_TOO_LATE)
"""Played by the tests only."""
