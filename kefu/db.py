"""Database connection: one URL from configuration, SQLite by default, PostgreSQL in production.

The URL comes from ``KEFU_DB_URL``; without it kefu uses the SQLite file ``.kefu/shop.db`` in the
project.  Every write goes through :func:`session_scope`, one transaction per unit of work.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

# SQLite has no DECIMAL type: SQLAlchemy stores money as REAL and rounds it back to 2 decimals on
# read, which is exact for every amount below 10^13 yuan.  PostgreSQL stores NUMERIC(12, 2).
warnings.filterwarnings("ignore", message=r"Dialect sqlite\+pysqlite does \*not\* support Decimal")

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SQLITE_PATH = PROJECT_ROOT / ".kefu" / "shop.db"


def database_url() -> str:
    """``KEFU_DB_URL`` or the embedded SQLite file."""
    return os.environ.get("KEFU_DB_URL") or f"sqlite:///{DEFAULT_SQLITE_PATH}"


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    # erased personal data is overwritten in the file, not left in free pages (kefu.privacy)
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # bulk imports insert into several indexes at once; SQLite's 2 MB default cache thrashes
    cursor.execute("PRAGMA cache_size=-131072")
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.close()


def make_engine(url: str | None = None) -> Engine:
    """An engine for ``url`` (default :func:`database_url`), with foreign keys on for SQLite."""
    url = url or database_url()
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, future=True, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, future=True, pool_pre_ping=True)


def make_session_factory(engine: Engine) -> sessionmaker:
    """Sessions bound to ``engine`` that keep loaded objects usable after commit."""
    return sessionmaker(bind=engine, future=True, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any exception."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
