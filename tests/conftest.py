"""Fixtures shared by every test folder: a real PostgreSQL database (see ``_postgres.py``)."""

from __future__ import annotations

from _postgres import postgres_database, postgres_url

__all__ = ["postgres_database", "postgres_url"]
