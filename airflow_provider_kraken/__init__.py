"""Apache Airflow provider for Kraken's funding API."""

from __future__ import annotations

__version__ = "0.1.0"
