"""Keeping Airflow's own output out of the demo's story."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO


@contextmanager
def output_to_file(path: Path) -> Iterator[TextIO]:
    """Send everything written to stdout/stderr (Airflow's logs, warnings) to ``path``.

    Redirects the file descriptors, so output from any thread or library lands in the file too.
    Yields a stream on the original stdout for the report.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    report = open(os.dup(saved[1]), "w", encoding="utf-8", buffering=1)  # noqa: SIM115 - closed below
    with path.open("ab") as log:
        for fd in (1, 2):
            os.dup2(log.fileno(), fd)
    try:
        yield report
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, original in saved.items():
            os.dup2(original, fd)
            os.close(original)
        report.close()
