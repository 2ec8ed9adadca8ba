"""The store: tables, engine set-up, migrations and repositories."""

from __future__ import annotations

from syncengine.store.database import Database

__all__ = ["Database"]
