"""Reconciliation rules, intents and the claims registry, without Airflow's task runtime."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from operator_helpers import MemoryVariables

from airflow_provider_kraken.models import DepositAddress, Withdrawal
from airflow_provider_kraken.operators.claims import ClaimRegistry, Entry, Owner, RegistryError
from airflow_provider_kraken.operators.intents import Intent, IntentState, canonical_parameters, new_intent
from airflow_provider_kraken.operators.reconcile import (
    Finding,
    WithdrawalMatch,
    reconcile_address,
    reconcile_withdrawal,
)

T0 = 1_800_000_000.0
MATCH = WithdrawalMatch(asset_id="XXDG", key="XDG_Wallet", amount=Decimal("10"), window=(T0 - 60, T0 + 180))
ME = Owner("dag", "run_1", "withdraw")
OTHER = Owner("dag", "run_2", "withdraw")


def record(refid: str, amount: str = "6", fee: str = "4", time: float = T0, **extra: Any) -> Withdrawal:
    data: dict[str, Any] = {
        "method": "Dogecoin",
        "asset": "XXDG",
        "refid": refid,
        "info": "DNtxrbNnPWf9RZQMYcrqLL6QRgHoozabwM",
        "amount": amount,
        "fee": fee,
        "time": int(time),
        "status": "Initial",
        "key": "XDG_Wallet",
    }
    data.update(extra)
    return Withdrawal.model_validate(data)


def entry(owner: Owner, state: IntentState, result: str | None = None, amount: str = "10") -> Entry:
    return Entry(
        kind="withdraw",
        owner=owner,
        state=state,
        fingerprint="f",
        parameters={},
        request={"asset": "XXDG", "key": "XDG_Wallet", "amount": amount, "max_fee": None},
        sent_at=T0,
        window=(T0 - 60, T0 + 180),
        result=result,
    )


# -- matching ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("amount", "fee"), [("6", "4"), ("10", "4"), ("10", "0")])
def test_gross_or_net_amount_matches(amount: str, fee: str) -> None:
    assert MATCH.matches(record("A", amount=amount, fee=fee))


@pytest.mark.parametrize(
    "changes",
    [
        {"key": "XDG_Savings"},
        {"asset": "XXBT"},
        {"amount": "7"},
        {"time": int(T0 - 61)},
        {"time": int(T0 + 181)},
    ],
)
def test_other_withdrawals_do_not_match(changes: dict[str, Any]) -> None:
    time = changes.pop("time", T0)
    assert not MATCH.matches(record("A", time=time, **changes))


def test_fee_above_max_fee_does_not_match() -> None:
    capped = WithdrawalMatch("XXDG", "XDG_Wallet", Decimal("10"), MATCH.window, max_fee=Decimal("3"))
    assert not capped.matches(record("A"))


def test_without_a_key_field_the_key_address_decides() -> None:
    bare = record("A", key=None)
    assert not MATCH.matches(bare)
    assert WithdrawalMatch(**{**MATCH.__dict__, "key_address": "DNtxrbNnPWf9RZQMYcrqLL6QRgHoozabwM"}).matches(
        bare
    )


# -- decisions -----------------------------------------------------------------------------------


def test_exactly_one_unclaimed_match_is_adopted() -> None:
    found = reconcile_withdrawal(MATCH, [record("MINE"), record("OTHER", amount="20")], [])
    assert found.finding is Finding.ADOPT
    assert found.adopted is not None and found.adopted.refid == "MINE"


def test_claimed_withdrawals_are_never_adopted() -> None:
    found = reconcile_withdrawal(MATCH, [record("THEIRS")], [entry(OTHER, IntentState.DONE, "THEIRS")])
    assert found.finding is Finding.ABSENT
    assert found.claimed == ("THEIRS",)


def test_claimed_one_excluded_leaves_mine() -> None:
    found = reconcile_withdrawal(
        MATCH, [record("THEIRS"), record("MINE")], [entry(OTHER, IntentState.DONE, "THEIRS")]
    )
    assert found.finding is Finding.ADOPT
    assert found.adopted is not None and found.adopted.refid == "MINE"


def test_several_unclaimed_matches_are_not_guessed() -> None:
    found = reconcile_withdrawal(MATCH, [record("A"), record("B")], [])
    assert found.finding is Finding.SEVERAL
    assert found.adopted is None


def test_an_unresolved_rival_that_could_own_the_match_blocks_adoption() -> None:
    found = reconcile_withdrawal(MATCH, [record("A")], [entry(OTHER, IntentState.SENDING)])
    assert found.finding is Finding.CONTESTED
    assert [e.owner for e in found.rivals] == [OTHER]


def test_a_rival_of_another_amount_is_no_rival() -> None:
    found = reconcile_withdrawal(MATCH, [record("A")], [entry(OTHER, IntentState.SENDING, amount="25")])
    assert found.finding is Finding.ADOPT


def test_new_address_adoption() -> None:
    listed = [DepositAddress(address="NEW"), DepositAddress(address="OLD")]
    assert reconcile_address(["OLD"], listed, [], rival_since=T0).adopted == DepositAddress(address="NEW")
    assert reconcile_address(["OLD", "NEW"], listed, [], rival_since=T0).finding is Finding.ABSENT
    claimed = [entry(OTHER, IntentState.DONE, "NEW")]
    assert reconcile_address(["OLD"], listed, claimed, rival_since=T0).finding is Finding.ABSENT
    rival = [entry(OTHER, IntentState.SENDING)]
    assert reconcile_address(["OLD"], listed, rival, rival_since=T0 - 1).finding is Finding.CONTESTED


# -- intents -------------------------------------------------------------------------------------


def test_equal_amounts_written_differently_have_one_fingerprint() -> None:
    a = new_intent("withdraw", {"amount": Decimal("10.0"), "key": "K"}, {})
    b = new_intent("withdraw", {"amount": Decimal("10"), "key": "K"}, {})
    c = new_intent("withdraw", {"amount": Decimal("10.01"), "key": "K"}, {})
    assert a.fingerprint == b.fingerprint != c.fingerprint
    assert c.changes_from(canonical_parameters({"amount": Decimal("12"), "key": "K"})) == [
        "amount: '10.01' -> '12'"
    ]


def test_intent_round_trips_and_refuses_foreign_records() -> None:
    intent = new_intent("withdraw", {"amount": Decimal("1")}, {"amount": "1"}).sending(now=T0).done("R")
    assert Intent.from_json(intent.to_json()) == intent
    with pytest.raises(ValueError, match="not a version 1 intent"):
        Intent.from_json({"state": "done"})


# -- registry ------------------------------------------------------------------------------------


def test_registry_finds_its_own_entry_and_others_across_days() -> None:
    variables = MemoryVariables()
    mine = ClaimRegistry("withdraw", ("XXDG", "XDG_Wallet"), ME, variables=variables)
    theirs = ClaimRegistry("withdraw", ("XXDG", "XDG_Wallet"), OTHER, variables=variables)
    elsewhere = ClaimRegistry("withdraw", ("XXDG", "XDG_Savings"), OTHER, variables=variables)
    mine.publish(entry(ME, IntentState.SENDING))
    theirs.publish(_at(entry(OTHER, IntentState.DONE, "R2"), T0 + 86400))  # the next UTC day
    elsewhere.publish(entry(OTHER, IntentState.SENDING))

    own = mine.own()
    assert own is not None and own.owner == ME
    assert [e.result for e in mine.others((T0, T0 + 86400))] == ["R2"]
    assert all(key.startswith("kraken.withdraw.") for key in variables.data)


def test_registry_refuses_to_reason_around_an_unreadable_entry() -> None:
    variables = MemoryVariables()
    registry = ClaimRegistry("withdraw", ("XXDG", "XDG_Wallet"), ME, variables=variables)
    variables.set(registry.key_for(T0, "someone"), "not json")
    with pytest.raises(RegistryError, match="not a readable entry"):
        registry.others((T0, T0))


def _at(item: Entry, sent_at: float) -> Entry:
    from dataclasses import replace

    return replace(item, sent_at=sent_at, window=(sent_at - 60, sent_at + 180))
