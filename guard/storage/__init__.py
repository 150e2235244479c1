"""Storage: SQLModel tables, Alembic migrations, and the engine for SQLite (default) or PostgreSQL."""

from guard.storage.db import create_engine_for, migrate

__all__ = ["create_engine_for", "migrate"]
