"""Every example of Kraken's "Funding via the API" article, replayed on the default world byte for byte."""

from __future__ import annotations

import pytest

from airflow_provider_kraken.sandbox.pytest_plugin import KrakenSandbox

from .conftest import Kraken

EXAMPLE_EPOCH = 1676713821  # `time` of the article's withdrawal

DOGE_DEPOSIT = (
    '{"method":"Dogecoin","aclass":"currency","asset":"XXDG","refid":"QSBALMX-YTM4MI-REMLWN",'
    '"txid":"f0cf9b21eeabb87cd240b61ce813490bf03ae96427f5874a55768e7299a9ac9c",'
    '"info":"DFSHkVSQycPZDu8CkiNvx8ymHKHoMLteUD","amount":"95.00000000","fee":"0.00000000",'
    '"time":1676727227,"status":"Success"}'
)
USDC_DEPOSIT = (
    '{"method":"USDC","aclass":"currency","asset":"USDC","refid":"Q4FTRAH-KPUTB7-ATW3UH",'
    '"txid":"0x2756a446fa1bd75c4bb84b151a12456e52e0a65ff0aa5f35d7231cd25856058b",'
    '"info":"0xc2ed795f33ed0b8b43fa8165de0107438237161e","amount":"10.00000000","fee":"0.00000000",'
    '"time":1679452779,"status":"Success",'
    '"originators":["0x9d7f5e4b07d8f3fb9456128191e4bc517d3d706da1b1dcf52037d0c93ecae3cc"]}'
)
DOGE_WITHDRAWAL = (
    '{"method":"Dogecoin","aclass":"currency","asset":"XXDG","refid":"ASBG2IX-OQZTG5-CRWGN3",'
    '"txid":"86b9bbee8775793d0ef420e3c374a2e7913ad8ba9e1a4939cf3044a09c533e44",'
    '"info":"DNtxrbNnPWf9RZQMYcrqLL6QRgHoozabwM","amount":"96.00000000","fee":"4.00000000",'
    '"time":1676713821,"status":"Success"}'
)


@pytest.mark.parametrize(
    ("method", "params", "expected"),
    [
        pytest.param(
            "DepositMethods",
            {"asset": "doge"},
            '{"error":[],"result":[{"method":"Dogecoin","limit":false,"gen-address":true}]}',
            id="DepositMethods",
        ),
        pytest.param(
            "DepositAddresses",
            {"asset": "doge", "method": "Dogecoin"},
            '{"error":[],"result":[]}',
            id="DepositAddresses-none-yet",
        ),
        pytest.param(
            "DepositAddresses",
            {"asset": "doge", "method": "Dogecoin", "new": "true"},
            '{"error":[],"result":[{"address":"DFSHkVSQycPZDu8CkiNvx8ymHKHoMLteUD","expiretm":"0","new":true}]}',
            id="DepositAddresses-new",
        ),
        pytest.param(
            "DepositStatus",
            {"asset": "doge"},
            f'{{"error":[],"result":[{DOGE_DEPOSIT}]}}',
            id="DepositStatus-doge",
        ),
        pytest.param(
            "DepositStatus",
            {"asset": "usdc"},
            f'{{"error":[],"result":[{USDC_DEPOSIT}]}}',
            id="DepositStatus-usdc",
        ),
        pytest.param(
            "WithdrawInfo",
            {"asset": "doge", "key": "XDG_Wallet", "amount": "100"},
            '{"error":[],"result":{"method":"XXDG","limit":"100.00000000","amount":"96.00000000","fee":"4.00000000"}}',
            id="WithdrawInfo",
        ),
        pytest.param(
            "Withdraw",
            {"asset": "doge", "key": "XDG_Wallet", "amount": "100"},
            '{"error":[],"result":{"refid":"ASBG2IX-OQZTG5-CRWGN3"}}',
            id="Withdraw",
        ),
        pytest.param(
            "DepositAddresses",
            {"asset": "doge", "method": "invalid"},
            '{"error":["EFunding:No funding method"]}',
            id="DepositAddresses-invalid-method",
        ),
        pytest.param(
            "WithdrawInfo",
            {"asset": "doge", "key": "invalid", "amount": "100"},
            '{"error":["EFunding:Unknown withdraw key"]}',
            id="WithdrawInfo-invalid-key",
        ),
        pytest.param(
            "Withdraw",
            {"asset": "btc", "key": "BTC_Wallet", "amount": "1.5"},
            '{"error":["EGeneral:Invalid arguments:beneficiary_recipient"]}',
            id="Withdraw-missing-beneficiary",
        ),
    ],
)
def test_single_call_examples(kraken: Kraken, method: str, params: dict[str, str], expected: str) -> None:
    assert kraken.text(method, **params) == expected


def test_new_address_is_listed_afterwards(kraken: Kraken) -> None:
    created = kraken.result("DepositAddresses", asset="doge", method="Dogecoin", new="true")
    assert kraken.result("DepositAddresses", asset="doge", method="Dogecoin") == created


@pytest.mark.kraken_world(
    overrides={"clock": {"start": EXAMPLE_EPOCH, "frozen": True}, "output": {"withdrawal_extra_fields": []}}
)
def test_withdraw_status_example_literally(kraken: Kraken, sandbox: KrakenSandbox) -> None:
    """World config starts a frozen clock at the article's epoch and prints the article's record shape."""
    assert kraken.result("Withdraw", asset="doge", key="XDG_Wallet", amount="100") == {
        "refid": "ASBG2IX-OQZTG5-CRWGN3"
    }
    sandbox.admin.advance(10)
    assert kraken.text("WithdrawStatus", asset="doge") == f'{{"error":[],"result":[{DOGE_WITHDRAWAL}]}}'


def test_withdraw_status_example_with_current_fields(kraken: Kraken, sandbox: KrakenSandbox) -> None:
    """The default world adds the newer `network` and `key` fields to the same record (admin clock)."""
    sandbox.admin.set_clock(EXAMPLE_EPOCH, frozen=True)
    kraken.result("Withdraw", asset="doge", key="XDG_Wallet", amount="100")
    sandbox.admin.advance(10)
    expected = DOGE_WITHDRAWAL.replace('"method":"Dogecoin",', '"method":"Dogecoin","network":"Dogecoin",')
    expected = expected[:-1] + ',"key":"XDG_Wallet"}'
    assert kraken.text("WithdrawStatus", asset="doge") == f'{{"error":[],"result":[{expected}]}}'


def test_withdraw_cancel_examples(kraken: Kraken, sandbox: KrakenSandbox) -> None:
    """The second withdrawal gets the article's cancellable refid; the first, once processing, cannot be."""
    sandbox.admin.freeze()
    first = kraken.result("Withdraw", asset="doge", key="XDG_Wallet", amount="20")
    second = kraken.result("Withdraw", asset="doge", key="XDG_Wallet", amount="20")
    assert (first["refid"], second["refid"]) == ("ASBG2IX-OQZTG5-CRWGN3", "ASBTV5V-STE7C7-MIQUAC")
    sandbox.admin.set_withdrawal_status(first["refid"], "Pending")
    assert (
        kraken.text("WithdrawCancel", asset="doge", refid="ASBTV5V-STE7C7-MIQUAC")
        == '{"error":[],"result":true}'
    )
    assert (
        kraken.text("WithdrawCancel", asset="doge", refid="ASBG2IX-OQZTG5-CRWGN3")
        == '{"error":["EFunding:Invalid reference id"]}'
    )


def test_doge_balance_matches_the_limit_example(kraken: Kraken) -> None:
    assert kraken.result("Balance")["XXDG"] == "100.00000000"
