"""Identifiers in Kraken's shapes: refids (`AXXXXXX-XXXXXX-XXXXXX`), chain txids and deposit addresses."""

from __future__ import annotations

import random
import string

_REFID_CHARS = string.ascii_uppercase + string.digits
_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_HEX = "0123456789abcdef"

WITHDRAWAL_PREFIX = "A"
DEPOSIT_PREFIX = "Q"
TRANSFER_PREFIX = "B"


class IdFactory:
    """Random identifiers from one seeded generator (a world `seed` makes runs reproducible)."""

    def __init__(self, seed: int | None) -> None:
        self._rng = random.Random(seed)

    def _pick(self, alphabet: str, length: int) -> str:
        return "".join(self._rng.choice(alphabet) for _ in range(length))

    def refid(self, prefix: str, taken: set[str]) -> str:
        """A fresh `PXXXXXX-XXXXXX-XXXXXX` reference id not in `taken`."""
        while True:
            groups = [self._pick(_REFID_CHARS, 6) for _ in range(3)]
            refid = f"{prefix}{groups[0]}-{groups[1]}-{groups[2]}"
            if refid not in taken:
                return refid

    def txid(self, prefix: str = "") -> str:
        """A 64-hex-digit transaction id, optionally prefixed (`0x` for EVM chains)."""
        return prefix + self._pick(_HEX, 64)

    def address(self, prefix: str, length: int, alphabet: str) -> str:
        """A deposit address of the method's format."""
        chars = _HEX if alphabet == "hex" else _BASE58
        return prefix + self._pick(chars, max(1, length - len(prefix)))
