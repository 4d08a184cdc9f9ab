"""Erreichbar: travel-time accessibility of family offers from real open data."""

from __future__ import annotations

__version__ = "0.1.0"
