"""The migrations as SQLite runs them (rendered from the one definition in ``__init__``)."""

from __future__ import annotations

from vc_issuer.store.migrations import rendered

MIGRATIONS = rendered("sqlite")
