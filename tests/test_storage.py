"""Schema and storage guarantees, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

from guard.storage import create_engine_for, migrate


def test_migrations_build_exactly_the_schema_the_models_describe(database_url: str) -> None:
    engine = create_engine_for(database_url)
    migrate(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == []
    assert {"work", "work_fingerprint", "screening", "screening_fingerprint", "alembic_version"} <= set(
        inspect(engine).get_table_names()
    )
    migrate(engine)  # a second run is a no-op
    engine.dispose()


def test_sqlite_runs_in_wal_mode(tmp_path) -> None:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'g.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
