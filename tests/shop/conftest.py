"""Shop-library tests run on SQLite and on PostgreSQL (127.0.0.1:5432 in CI).

PostgreSQL: ``KEFU_TEST_PG_URL`` (default ``postgresql://postgres@127.0.0.1:5432/postgres``) is
used to create a throw-away database per test session.  When the server cannot be reached the
PostgreSQL variants are skipped, except under CI (``CI=true``), where that is a failure.
"""

from __future__ import annotations

import os
import random
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from kefu import migrate
from kefu.db import make_engine, make_session_factory, session_scope
from kefu.demo.generate import load_catalog_file
from kefu.models import Base

FIXTURES = Path(__file__).resolve().parent / "fixtures"
MINI_CATALOG = FIXTURES / "mini_catalog.yml"
PG_ADMIN_URL = os.environ.get("KEFU_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _postgres_url() -> str:
    name = f"kefu_test_{uuid.uuid4().hex[:8]}"
    try:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", future=True)
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI but unreachable: {error}")
        pytest.skip(f"PostgreSQL not reachable: {error}")
    admin.dispose()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def _drop_postgres(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", future=True)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _database(backend: str, tmp_path_factory) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('db')}/shop.db"
    return _postgres_url()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request, tmp_path_factory):
    """An empty, migrated database on each backend."""
    url = _database(request.param, tmp_path_factory)
    migrate.upgrade(url)
    yield url
    if request.param == "postgresql":
        _drop_postgres(url)


@pytest.fixture
def factory(database_url):
    """A session factory on a clean database (all rows removed after the test)."""
    engine = make_engine(database_url)
    yield make_session_factory(engine)
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())
    engine.dispose()


@pytest.fixture
def mini_shop(factory):
    """The mini catalog loaded; returns the session factory."""
    with session_scope(factory) as session:
        load_catalog_file(session, MINI_CATALOG, random.Random(1))
    return factory


from tests.shop.order_shop import shop  # noqa: E402, F401  (fixture for the order tests)
