"""Kraken sensors."""
