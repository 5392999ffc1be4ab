"""Keys and tracker databases (SQLite and PostgreSQL) for the privacy tests."""

from __future__ import annotations

import base64
import os
import subprocess

import pytest
from sqlalchemy.engine import make_url

from tests.shop.conftest import _drop_postgres, _postgres_url

CUSTOMER_NAME = "欧阳明月"
CUSTOMER_PHONE = "13912345678"
CUSTOMER_ADDRESS = "北京市朝阳区建国路88号"
CUSTOMER_EMAIL = "mingyue.ouyang@example.com"
SECRETS = (CUSTOMER_NAME, CUSTOMER_PHONE, CUSTOMER_ADDRESS, CUSTOMER_EMAIL)
IDENTITY_SECRET = "privacy-tests-identity-secret-0123456789abcdef"


def new_key_text() -> str:
    return base64.b64encode(os.urandom(32)).decode()


@pytest.fixture(autouse=True)
def own_shop_database(monkeypatch, tmp_path):
    """Never the developer's .kefu/shop.db: commands that open the shop database (kefu keys
    rotate re-encrypts it) get a fresh one unless the test sets KEFU_DB_URL itself."""
    monkeypatch.setenv("KEFU_DB_URL", f"sqlite:///{tmp_path}/own-shop.db")
    monkeypatch.setenv("KEFU_DATA_KEY_FILE", str(tmp_path / "own-keys" / "data.key"))


@pytest.fixture
def data_key(monkeypatch, tmp_path):
    """A fresh data key in KEFU_DATA_KEY (no key file is touched), and the identity secret."""
    key = new_key_text()
    monkeypatch.setenv("KEFU_DATA_KEY", key)
    monkeypatch.setenv("KEFU_DATA_KEY_FILE", str(tmp_path / "unused.key"))
    monkeypatch.setenv("KEFU_IDENTITY_SECRET", IDENTITY_SECRET)
    monkeypatch.delenv("KEFU_TRACKER_DB_URL", raising=False)
    return key


@pytest.fixture(params=["sqlite", "postgresql"])
def tracker_db(request, tmp_path):
    """An empty tracker database URL on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/trackers.db"
        return
    url = _postgres_url()
    yield url
    _drop_postgres(url)


def raw_bytes(url: str) -> bytes:
    """Everything the database holds, as an attacker with the files or a dump sees it."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database
        return b"".join(
            open(path + suffix, "rb").read()
            for suffix in ("", "-wal", "-journal")
            if os.path.exists(path + suffix)
        )
    return subprocess.run(
        ["pg_dump", "--no-owner", url], check=True, capture_output=True, timeout=60
    ).stdout


def assert_absent(blob: bytes, values=SECRETS) -> None:
    for value in values:
        assert value.encode("utf-8") not in blob, f"{value!r} found in the raw data"


from tests.shop.conftest import database_url, factory, mini_shop  # noqa: E402, F401 (fixtures)


@pytest.fixture
def tracker_for_shop(database_url, tmp_path):  # noqa: F811 (the imported fixture)
    """A fresh tracker database on the shop database's backend."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path}/trackers.db"
        return
    url = _postgres_url()
    yield url
    _drop_postgres(url)
