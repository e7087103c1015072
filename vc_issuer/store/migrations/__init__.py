"""Versioned schema migrations, one ordered tuple per backend.

A migration is never edited once released: a schema change is a new, higher version. Each backend
records applied versions in ``schema_version`` and applies the missing ones in order, in one
transaction, under a lock (SQLite: BEGIN IMMEDIATE; PostgreSQL: an advisory lock).
"""

from __future__ import annotations

from dataclasses import dataclass

from vc_issuer.errors import StoreError


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


def check_ordered(migrations: tuple[Migration, ...]) -> tuple[Migration, ...]:
    """Versions must be 1..n without gaps, so "applied up to v" is meaningful."""
    for expected, m in enumerate(migrations, start=1):
        if m.version != expected:
            raise RuntimeError(f"migration {m.name} has version {m.version}, expected {expected}")
    return migrations


def pending(migrations: tuple[Migration, ...], version: int) -> tuple[Migration, ...]:
    """The migrations a store at ``version`` still needs; refuses a store newer than this code."""
    if version > len(migrations):
        raise StoreError(
            f"the store has schema version {version}, newer than this software"
            f" (knows up to {len(migrations)}); upgrade vc-issuer"
        )
    return migrations[version:]
