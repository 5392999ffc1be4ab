"""Schema migrations (Alembic) for the shop database."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from kefu.db import database_url

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str | None = None) -> Config:
    """Alembic configuration pointing at kefu's migrations and database."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", (url or database_url()).replace("%", "%%"))
    return config


def upgrade(url: str | None = None, revision: str = "head") -> None:
    """Bring the database schema up to ``revision``."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str | None = None, revision: str = "base") -> None:
    """Undo migrations down to ``revision``."""
    command.downgrade(alembic_config(url), revision)
