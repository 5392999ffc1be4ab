"""Retention: conversations older than ``privacy.retention_days`` are erased from the
conversation store and from the tickets and ratings that named them; newer ones stay."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from kefu.cli import main
from kefu.config import DEFAULT_CONFIG_PATH, ConfigError, load_shop_config
from kefu.db import session_scope
from kefu.models import CsatRating, HandoffTicket
from kefu.privacy.store import open_vault
from tests.privacy.conftest import CUSTOMER_ADDRESS, CUSTOMER_PHONE, assert_absent, raw_bytes
from tests.privacy.people import make_people


@pytest.fixture
def old_people(data_key, mini_shop, database_url, tracker_for_shop, monkeypatch):
    """The customer's conversations and ticket 200 days old; the other customer's from now."""
    monkeypatch.setenv("KEFU_DB_URL", database_url)
    return make_people(mini_shop, tracker_for_shop, datetime.now() - timedelta(days=200))


def test_retention_erases_only_conversations_older_than_the_period(
    old_people, mini_shop, tracker_for_shop, capsys
):
    assert main(["privacy", "retention", "--tracker-db", tracker_for_shop]) == 0
    out = capsys.readouterr().out
    assert "retention (180 days): 2 conversation(s) deleted" in out
    with open_vault(tracker_for_shop) as vault, vault.engine.connect() as connection:
        kept = [c.conversation_id for c in vault.conversations(connection)]
    assert kept == [old_people.other_conversation]
    assert_absent(raw_bytes(tracker_for_shop), [old_people.anonymous])
    with session_scope(mini_shop) as session:
        tickets = session.scalars(select(HandoffTicket).order_by(HandoffTicket.id)).all()
        # the tickets were opened on 1 December 2026 (tests/privacy/people.py): older than
        # 180 days only after June 2027, so they go with their conversations only
        assert tickets[0].conversation_id.startswith("erased:")
        assert CUSTOMER_ADDRESS not in tickets[0].summary
        assert tickets[1].conversation_id == old_people.other_conversation
        ratings = session.scalars(select(CsatRating).order_by(CsatRating.id)).all()
        assert ratings[0].comment is None and ratings[0].rating == 2  # the figure stays
        assert ratings[1].comment is not None

    assert main(["privacy", "retention", "--days", "400", "--tracker-db", tracker_for_shop]) == 0
    assert "0 conversation(s) deleted" in capsys.readouterr().out


def test_a_shorter_period_erases_more(old_people, tracker_for_shop, capsys):
    assert main(["privacy", "retention", "--days", "1", "--tracker-db", tracker_for_shop]) == 0
    assert "retention (1 days): 2 conversation(s) deleted" in capsys.readouterr().out
    assert CUSTOMER_PHONE.encode() not in raw_bytes(tracker_for_shop)


@pytest.mark.parametrize("value", ["0", "-3", "soon", "{}"])
def test_a_bad_retention_period_is_a_configuration_error(tmp_path, value):
    source = DEFAULT_CONFIG_PATH.read_text(encoding="utf-8")
    path = tmp_path / "shop.yml"
    path.write_text(source.replace("retention_days: 180", f"retention_days: {value}"), "utf-8")
    with pytest.raises(ConfigError, match=r"privacy\.retention_days"):
        load_shop_config(path)


def test_the_shop_keeps_conversations_180_days_by_default():
    assert load_shop_config().privacy.retention_days == 180


def test_the_daily_job_runs_retention_and_due_erasures(old_people, tracker_for_shop, capsys):
    command = ["privacy", "daily", "--once", "--tracker-db", tracker_for_shop]
    assert main(command) == 0
    out = capsys.readouterr().out
    assert "retention (180 days): 2 conversation(s) deleted" in out
    assert "erased the personal data of 0 customer(s) whose erasure was due" in out
