"""Shared fixtures: real servers on loopback ports, real databases (SQLite, and PostgreSQL when one runs)."""

from __future__ import annotations

import datetime as dt
import itertools
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from guard import server as guard_server
from guard.client import Connection, connect
from guard.config import Limits, Settings
from guard.observability import configure_logging

POSTGRES_URL = os.environ.get("GUARD_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _postgres_reason() -> str | None:
    try:
        engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return None
    except Exception as exc:  # any failure to reach it is a reason to skip, stated
        return f"no PostgreSQL at {POSTGRES_URL}: {type(exc).__name__}: {str(exc).splitlines()[0]}"


_PG_SKIP = _postgres_reason()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a private schema in the machine's PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'guard.db'}"
        return
    if _PG_SKIP:
        pytest.skip(_PG_SKIP)
    schema = f"guard_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'create schema "{schema}"'))
    sep = "&" if "?" in POSTGRES_URL else "?"
    yield f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f'drop schema "{schema}" cascade'))
    admin.dispose()


class FixedClock:
    """Time passed in: starts at a fixed instant and advances a second per reading."""

    def __init__(self, start: dt.datetime = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.timezone.utc)) -> None:
        self._ticks = itertools.count()
        self._start = start

    def __call__(self) -> dt.datetime:
        return self._start + dt.timedelta(seconds=next(self._ticks))


@dataclass
class Guard:
    """A running server and a connection per role."""

    running: guard_server.RunningServer
    settings: Settings

    @property
    def address(self) -> str:
        return f"localhost:{self.running.port}"

    def connect(self, role: str) -> Connection:
        return connect(self.settings.data_dir, role, server=self.address)


class SettableClock:
    """Time passed in and moved by the test: advances a millisecond per reading so records stay ordered."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(milliseconds=1)
        return self.now


def start_guard(data_dir: Path, database_url: str | None = None, limits: Limits | None = None,
                clock=None, first_id: int = 0) -> Guard:
    """A server on a loopback port; screening ids count from `first_id` (a restarted server over the same
    data directory must not hand out ids it handed out before)."""
    settings = Settings(
        data_dir=data_dir,
        listen="127.0.0.1:0",
        database_url=database_url,
        metrics_listen="127.0.0.1:0",
        limits=limits or Limits(),
    )
    ids = (f"scr_test{n:06d}" for n in itertools.count(first_id))
    running = guard_server.start(settings, clock=clock or FixedClock(), new_id=lambda: next(ids))
    return Guard(running, settings)


@pytest.fixture(scope="session", autouse=True)
def _logging() -> None:
    configure_logging()


@pytest.fixture
def guard(tmp_path: Path) -> Iterator[Guard]:
    g = start_guard(tmp_path / "data")
    yield g
    g.running.stop(grace=1)


@pytest.fixture
def guard_on_each_database(tmp_path: Path, database_url: str) -> Iterator[Guard]:
    g = start_guard(tmp_path / "data", database_url)
    yield g
    g.running.stop(grace=1)
