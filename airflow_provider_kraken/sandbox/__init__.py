"""A local Kraken funding API simulator (a real HTTP server) for tests, demos and benchmarks.

Independent of the provider's client code on purpose: it imports nothing else from the package. Exports
load lazily, so importing this package (or its pytest plugin) stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .admin import AdminClient as AdminClient
    from .admin import AdminError as AdminError
    from .admin import Credentials as Credentials
    from .faults import FaultKind as FaultKind
    from .server import SandboxProcess as SandboxProcess
    from .server import SandboxServer as SandboxServer
    from .signing import sign as sign
    from .world import load_world as load_world

_EXPORTS = {
    "AdminClient": ".admin",
    "AdminError": ".admin",
    "Credentials": ".admin",
    "FaultKind": ".faults",
    "SandboxProcess": ".server",
    "SandboxServer": ".server",
    "sign": ".signing",
    "load_world": ".world",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(module, __name__), name)
