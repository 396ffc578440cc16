"""Kraken triggers."""
