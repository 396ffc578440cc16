"""`make demo`: run each example DAG end to end against a local Kraken sandbox and tell what happened.

Everything is local and throwaway: an Airflow home in a temporary directory (SQLite), the sandbox
on a free 127.0.0.1 port, the Kraken connection in an environment variable. Airflow's own output
goes to a file so the report stays readable. Exits non-zero if any story does not go as told.

    python -m example_dags.demo                 # every story
    python -m example_dags.demo deposit cancel  # only these (story keys, see harness/stories.py)
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from example_dags.harness.home import use_airflow_home

if TYPE_CHECKING:
    from example_dags.harness.stories import Story


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo (every story, or the ones named); 0 when every story passed."""
    from example_dags.harness.stories import STORIES  # imports no airflow

    wanted = list(sys.argv[1:] if argv is None else argv)
    stories = [story for story in STORIES if not wanted or story.key in wanted]
    if not stories or len(stories) < len(set(wanted)):
        print(f"Unknown story in {' '.join(wanted)}; the stories are: {' '.join(s.key for s in STORIES)}")
        return 2
    home = Path(tempfile.mkdtemp(prefix="kraken-demo-"))
    use_airflow_home(home)  # before anything below imports airflow
    from example_dags.harness.console import output_to_file

    log_file = home / "airflow-output.log"
    with output_to_file(log_file) as out:
        try:
            passed = tell(stories, out)
        except Exception:  # noqa: BLE001 - shown to the user, then a non-zero exit
            out.write("\nThe demo itself broke:\n" + traceback.format_exc())
            passed = False
        if passed and not os.environ.get("KRAKEN_DEMO_KEEP"):
            shutil.rmtree(home, ignore_errors=True)
        else:
            out.write(f"\nAirflow's own output (task logs included) is in {log_file}\n")
    return 0 if passed else 1


def tell(stories: Sequence[Story], out: TextIO) -> bool:
    """Migrate the database, start the sandbox, play each story and print its report."""
    from airflow_provider_kraken.sandbox.server import SandboxServer
    from example_dags.harness.connection import CONN_ID, connection_env
    from example_dags.harness.home import migrate_db
    from example_dags.harness.report import render, summary_line
    from example_dags.harness.stories import play

    started = time.monotonic()
    out.write("airflow-provider-kraken demo: the example DAGs against a local Kraken sandbox\n")
    out.write("Preparing a throwaway Airflow database...\n")
    migrate_db()
    played = []
    with SandboxServer() as sandbox:
        os.environ.update(connection_env(sandbox.url, sandbox.api_key, sandbox.api_secret))
        out.write(f"Kraken sandbox listening on {sandbox.url}; connection `{CONN_ID}` points at it.\n")
        for number, story in enumerate(stories, start=1):
            sandbox.admin.reset()  # every story starts from the sandbox's default world
            played.append(play(story, sandbox.admin))
            out.write(render(played[-1], number, len(stories)) + "\n")
    out.write("\nSummary\n")
    out.write("".join(summary_line(p) + "\n" for p in played))
    failed = sum(not p.passed for p in played)
    verdict = "all passed" if not failed else f"{failed} FAILED"
    count = f"{len(played)} {'story' if len(played) == 1 else 'stories'}"
    out.write(f"{count}, {verdict}, in {time.monotonic() - started:.0f} s\n")
    return not failed


if __name__ == "__main__":
    sys.exit(main())
