"""Kraken operators."""
