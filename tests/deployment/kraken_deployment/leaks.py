"""Looking for secrets where Airflow keeps things: log files and every table of the metadata database.

A secret counts as leaked when any tell-tale form of it appears: the value itself, URL-encoded,
JSON-escaped, or its first 16 characters (a truncated copy is still a leak).
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from .postgres import Postgres

PREFIX_LENGTH = 16


@dataclass(frozen=True)
class Leak:
    """One secret found in one place."""

    secret: str
    where: str
    context: str

    def __str__(self) -> str:
        return f"{self.secret} in {self.where}: ...{self.context}..."


def forms(value: str) -> set[str]:
    """The spellings under which a secret may show up in text."""
    return {
        value,
        urllib.parse.quote(value, safe=""),
        urllib.parse.quote_plus(value),
        value.replace("/", "\\/"),
        value[:PREFIX_LENGTH],
    }


@dataclass
class LeakScanner:
    """Scans texts for named secrets and remembers what it looked at."""

    secrets: Mapping[str, Iterable[str]]
    scanned: dict[str, int] = field(default_factory=dict)
    leaks: list[Leak] = field(default_factory=list)
    _forms: dict[str, set[str]] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        for name, values in self.secrets.items():
            self._forms[name] = {form for value in values for form in forms(value)}

    def scan(self, where: str, text: str, *, category: str) -> None:
        """Record any secret found in `text` (which came from `where`)."""
        self.scanned[category] = self.scanned.get(category, 0) + 1
        for name, spellings in self._forms.items():
            for spelling in spellings:
                at = text.find(spelling)
                if at >= 0:
                    context = text[max(0, at - 60) : at + len(spelling) + 20].replace(spelling, "<HERE>")
                    self.leaks.append(Leak(name, where, context))
                    break

    def scan_file(self, path: Path, *, category: str) -> None:
        """A text file."""
        self.scan(str(path), path.read_text("utf-8", "replace"), category=category)

    def scan_database(self, postgres: Postgres, fernet_key: str) -> None:
        """Every row of every table of the metadata database as text, encrypted Variables decrypted."""
        tables = postgres.query(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        )
        for (table,) in tables:
            for (row,) in postgres.query(f'SELECT t::text FROM "{table}" t'):
                self.scan(f"table {table}", row, category=f"db:{table}")
        for key, value in postgres.query("SELECT key, val FROM variable WHERE is_encrypted"):
            self.scan(f"variable {key}", decrypt(value, fernet_key), category="db:variable (decrypted)")


def decrypt(value: str, fernet_key: str) -> str:
    """Airflow's Fernet-encrypted column value in clear (unencrypted values pass through)."""
    if value.startswith("{"):
        return value
    try:
        return Fernet(fernet_key.encode()).decrypt(value.encode()).decode()
    except InvalidToken as exc:
        raise AssertionError("a value is not decryptable with the deployment's Fernet key") from exc
