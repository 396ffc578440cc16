"""Kraken hooks."""
