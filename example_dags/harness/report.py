"""The demo's report of a played story: tasks, Kraken calls, refids and amounts, the ledger, the checks."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from typing import Any

from airflow_provider_kraken.sandbox.admin import CallRecord

from .stories import Played

#: What a task result is summed up by, in this order (the rest of the XCom is left out).
RESULT_KEYS = (
    "refid",
    "address",
    "amount",
    "fee",
    "net",
    "receives",
    "available",
    "state",
    "status",
    "status_prop",
    "cancelled",
)
WIDTH = 100


def render(played: Played, number: int, total: int) -> str:
    """The full report of one story."""
    story, result = played.story, played.result
    title = f"══ {number}/{total} {story.title} "
    lines = [
        "",
        title + "═" * max(3, WIDTH - len(title)),
        f"{result.dag_id} · run {result.run_id} · {result.state} in {result.seconds:.1f} s",
    ]
    if story.summary:
        lines.append(story.summary)
    lines += _section("Tasks (state, tries, result)", _tasks(played))
    if result.notes:
        lines += _section("Beside the run", result.notes)
    lines += _section("Kraken calls (sandbox call log)", _calls(result.calls) or ["(none)"])
    lines += _section("Sandbox ledger, before -> after", _ledger(played))
    lines += _section(
        "Checks",
        [f"{'✓' if c.ok else '✗'} {c.claim}{'  -- ' + c.seen if c.seen else ''}" for c in played.checks],
    )
    lines.append(f"=> {'passed' if played.passed else 'FAILED'}")
    return "\n".join(lines)


def summary_line(played: Played) -> str:
    """One line for the final summary."""
    verdict = "passed" if played.passed else "FAILED"
    run = f"run {played.result.state}"
    if played.passed and played.result.state != "success":
        run += ", as it should"
    return f"  {verdict:<7} {played.story.title} ({played.result.dag_id}: {run})"


def _section(title: str, rows: Iterable[str]) -> list[str]:
    return ["", title, *(f"  {row}" for row in rows)]


def _tasks(played: Played) -> Iterator[str]:
    for task in played.result.tasks:
        state = task.state or "not run"
        if task.answer is not None:
            what = "answered " + ",".join(task.answer)
        elif task.asked:
            what = "asked, no answer"
        else:
            what = _describe(task.result)
        yield f"{task.task_id:<20} {state:<15} {task.tries:>2}  {what}".rstrip()


def _describe(value: Any) -> str:
    """A task's result in one line: its key facts, amounts as the decimal strings they are."""
    if value is None:
        return ""
    if isinstance(value, dict):
        facts = [f"{key}={_plain(value[key])}" for key in RESULT_KEYS if value.get(key) not in (None, "")]
        text = " ".join(facts) if facts else json.dumps(value, default=str)
    else:
        text = json.dumps(value, default=str)
    return text if len(text) <= 90 else text[:87] + "..."


def _plain(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def _calls(calls: Sequence[CallRecord]) -> list[str]:
    """One line per call; consecutive identical reads are folded into one line with a count."""
    rows: list[tuple[str, int]] = []
    for call in calls:
        line = _call_line(call)
        if rows and rows[-1][0] == line and call.method not in ("Withdraw", "WithdrawCancel"):
            rows[-1] = (line, rows[-1][1] + 1)
        else:
            rows.append((line, 1))
    return [line if count == 1 else f"{line}  (x{count})" for line, count in rows]


def _call_line(call: CallRecord) -> str:
    params = " ".join(f"{k}={v}" for k, v in call.params.items())
    answer = call.reply if call.reply != "ok" else call.outcome
    line = f"{call.method:<18} {params:<52} {answer}"
    if call.method == "Withdraw" and isinstance(call.result, dict) and call.result.get("refid"):
        line += f" refid={call.result['refid']}"
    if call.method == "DepositAddresses" and isinstance(call.result, list) and call.params.get("new"):
        line += " " + ",".join(str(a.get("address")) for a in call.result)
    return line.rstrip()


def _ledger(played: Played) -> Iterator[str]:
    result = played.result
    for asset in played.story.assets:
        before, after = result.before.balances.get(asset), result.after.balances.get(asset)
        was = before.balance if before else Decimal(0)
        now = after.balance if after else Decimal(0)
        yield f"{asset:<6} balance {_amount(was)} -> {_amount(now)}  ({_signed(now - was)})"
    for record in result.new_withdrawals():
        prop = f"/{record['status_prop']}" if record.get("status_prop") else ""
        yield (
            f"withdrawal {record['refid']} {record['asset']} to {record.get('key')}:"
            f" gross {_amount(record['gross'])} fee {_amount(record['fee'])} net {_amount(record['amount'])}"
            f"  {record['status']}{prop}"
        )
    for record in result.new_deposits():
        yield (
            f"deposit    {record['refid']} {record['asset']} to {record['info']}: {_amount(record['amount'])}"
            f" fee {_amount(record['fee'])}  {record['status']}"
        )


def _amount(value: Any) -> str:
    """An amount without trailing zeros (the ledger keeps the asset's full precision)."""
    return format(Decimal(str(value)).normalize(), "f")


def _signed(value: Decimal) -> str:
    return ("+" if value > 0 else "") + _amount(value) if value != 0 else "unchanged"
