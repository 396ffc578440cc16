"""Asset names in (id, altname, aliases, any case) and asset ids and fixed-decimal amount strings out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from .errors import KrakenError
from .world import AssetConfig


@dataclass(frozen=True, slots=True)
class Asset:
    """A resolved asset: its id and the precision amounts are kept and printed with."""

    id: str
    config: AssetConfig
    quantum: Decimal = field(init=False)
    """The smallest representable amount (10^-decimals)."""
    _printed: dict[Decimal, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "quantum", Decimal(1).scaleb(-self.config.decimals))
        object.__setattr__(self, "_printed", {})

    def fmt(self, amount: Decimal) -> str:
        """An amount as Kraken prints it: a plain decimal string with exactly `decimals` places."""
        text = self._printed.get(amount)
        if text is None:
            text = f"{amount.quantize(self.quantum):f}"
            if len(self._printed) >= 4096:  # balances repeat; keep the cache of printed values small
                self._printed.clear()
            self._printed[amount] = text
        return text

    def fits(self, amount: Decimal) -> bool:
        """Whether the amount is representable with the asset's decimals (trailing zeros are fine)."""
        return amount == amount.quantize(self.quantum)


class AssetBook:
    """The world's assets, looked up by any accepted name."""

    def __init__(self, assets: Mapping[str, AssetConfig]) -> None:
        self._by_id = {aid: Asset(aid, cfg) for aid, cfg in assets.items()}
        self._by_name: dict[str, Asset] = {}
        for aid, cfg in assets.items():
            for name in (aid, cfg.altname, *cfg.aliases):
                self._by_name.setdefault(name.lower(), self._by_id[aid])

    def all(self) -> list[Asset]:
        """Every asset, in world order."""
        return list(self._by_id.values())

    def get(self, name: str) -> Asset | None:
        """The asset behind a name (case-insensitive id, altname or alias), or None."""
        return self._by_name.get(name.strip().lower())

    def by_id(self, asset_id: str) -> Asset:
        """The asset with this exact id (ids come from the validated world, so it exists)."""
        return self._by_id[asset_id]

    def resolve(self, name: str, error: str) -> Asset:
        """The asset behind a name, or KrakenError(`error`) - EQuery or EFunding flavour, per endpoint."""
        asset = self.get(name)
        if asset is None:
            raise KrakenError(error)
        return asset
