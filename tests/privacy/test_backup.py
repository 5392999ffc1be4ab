"""The restore drill: ``kefu backup`` while kefu runs, a disaster (a customer erased, the
conversations gone), ``kefu restore``, and everything is back; on SQLite (online backup API) and
PostgreSQL (pg_dump / pg_restore).  The backup is encrypted: nothing personal in it, and an
altered backup or a wrong key does not open."""

from __future__ import annotations

import asyncio
import base64
import os

import pytest

from kefu.cli import main
from kefu.db import session_scope
from kefu.models import Customer
from kefu_rasa.tracker_store import EncryptedTrackerStore
from tests.privacy.conftest import CUSTOMER_NAME, CUSTOMER_PHONE, SECRETS, assert_absent
from tests.privacy.people import DOMAIN, make_people


@pytest.fixture
def people(data_key, mini_shop, database_url, tracker_for_shop, monkeypatch):
    monkeypatch.setenv("KEFU_DB_URL", database_url)
    return make_people(mini_shop, tracker_for_shop)


def test_restore_drill(people, mini_shop, tracker_for_shop, tmp_path, capsys):
    backup = tmp_path / "kefu.backup"
    assert main(["backup", "--out", str(backup), "--tracker-db", tracker_for_shop]) == 0
    assert "backed up shop, conversations" in capsys.readouterr().out
    assert oct(backup.stat().st_mode & 0o777) == "0o600"
    assert_absent(backup.read_bytes(), SECRETS)

    erase = ["privacy", "erase", "--customer", str(people.customer)]
    assert main([*erase, "--tracker-db", tracker_for_shop]) == 0
    with session_scope(mini_shop) as session:
        assert session.get(Customer, people.customer).name != CUSTOMER_NAME

    assert main(["restore", str(backup), "--tracker-db", tracker_for_shop]) == 1
    assert "add --yes" in capsys.readouterr().err
    assert main(["restore", str(backup), "--yes", "--tracker-db", tracker_for_shop]) == 0
    assert "restored shop, conversations" in capsys.readouterr().out

    mini_shop.kw["bind"].dispose()
    with session_scope(mini_shop) as session:
        customer = session.get(Customer, people.customer)
        assert (customer.name, customer.phone) == (CUSTOMER_NAME, CUSTOMER_PHONE)
    store = EncryptedTrackerStore(domain=DOMAIN, host=tracker_for_shop)
    tracker = asyncio.run(store.retrieve(people.logged_in))
    store.engine.dispose()
    assert tracker.latest_message.text == f"我的电话{CUSTOMER_PHONE}"


def test_an_altered_backup_or_a_wrong_key_does_not_restore(
    people, tracker_for_shop, tmp_path, monkeypatch, capsys
):
    backup = tmp_path / "kefu.backup"
    assert main(["backup", "--out", str(backup), "--tracker-db", tracker_for_shop]) == 0
    data = bytearray(backup.read_bytes())
    altered = tmp_path / "altered.backup"
    data[len(data) // 2] ^= 1
    altered.write_bytes(bytes(data))
    cut = tmp_path / "cut.backup"
    cut.write_bytes(backup.read_bytes()[:-100])
    for broken in (altered, cut):
        assert main(["restore", str(broken), "--yes", "--tracker-db", tracker_for_shop]) == 1
        assert "altered or cut short" in capsys.readouterr().err

    monkeypatch.setenv("KEFU_DATA_KEY", base64.b64encode(os.urandom(32)).decode())
    assert main(["restore", str(backup), "--yes", "--tracker-db", tracker_for_shop]) == 1
    assert "not among the keys" in capsys.readouterr().err
