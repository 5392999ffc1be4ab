"""Satisfaction ratings stored on SQLite and PostgreSQL (kefu.csat)."""

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from kefu.csat import MAX_COMMENT_CHARS, add_comment, already_rated, record_rating
from kefu.db import session_scope
from kefu.models import CsatRating, Customer

NOW = datetime(2026, 3, 3, 2, 0)
PHONE, EMAIL = "13812346093", "zhang@example.com"


@pytest.fixture
def customer(factory) -> int:
    with session_scope(factory) as session:
        zhang = Customer(name="张三丰", phone=PHONE, email=EMAIL)
        session.add(zhang)
        session.flush()
        return zhang.id


def rate(factory, rating=5, conversation="conv-1", now=NOW, **overrides) -> CsatRating:
    arguments = {
        "conversation_id": conversation,
        "rating": rating,
        "comment": None,
        "intents": ["track_order", "thank"],
        "language": "zh",
        "channel": "webchat",
        "human_involved": False,
        "now": now,
        **overrides,
    }
    with session_scope(factory) as session:
        return record_rating(session, **arguments)


def stored(factory, rating_id: int) -> CsatRating:
    with session_scope(factory) as session:
        return session.get(CsatRating, rating_id)


def test_a_rating_is_stored_with_its_context(factory, customer):
    row = rate(factory, 4, customer_id=customer, human_involved=True, comment="  物流很快  ")
    saved = stored(factory, row.id)
    assert (saved.rating, saved.comment, saved.customer_id) == (4, "物流很快", customer)
    assert saved.intents == ["track_order", "thank"]
    assert (saved.language, saved.channel, saved.human_involved) == ("zh", "webchat", True)
    assert saved.created_at == NOW and saved.conversation_id == "conv-1"
    assert stored(factory, rate(factory, 1, "conv-2", comment=" ").id).comment is None


@pytest.mark.parametrize("rating", [0, 6, -1, 10, "5", 4.0, True, None])
def test_only_whole_ratings_from_one_to_five(factory, rating):
    with pytest.raises(ValueError, match="rating"):
        rate(factory, rating)
    with session_scope(factory) as session:
        assert session.scalar(select(func.count()).select_from(CsatRating)) == 0


def test_the_database_also_checks_the_range(factory):
    with pytest.raises(IntegrityError), session_scope(factory) as session:
        session.add(
            CsatRating(
                conversation_id="c",
                rating=6,
                intents=[],
                language="en",
                channel="rest",
                human_involved=False,
                created_at=NOW,
            )
        )


def test_once_per_session(factory):
    session_start = NOW - timedelta(minutes=30)
    with session_scope(factory) as session:
        assert not already_rated(session, "conv-1", session_start)
    rate(factory, 5, now=NOW)
    with session_scope(factory) as session:
        assert already_rated(session, "conv-1", session_start)
        assert already_rated(session, "conv-1", NOW)  # at the very moment counts
        assert not already_rated(session, "conv-2", session_start)  # another conversation
        assert not already_rated(session, "conv-1", NOW + timedelta(hours=2))  # a new session
        # a time-zone-aware start is the same instant
        aware = datetime(2026, 3, 3, 9, 30, tzinfo=timezone(timedelta(hours=8)))
        assert already_rated(session, "conv-1", aware)


def test_comments_are_redacted_and_added(factory):
    row = rate(factory, 2, comment=f"太慢了，打我电话 {PHONE}")
    with session_scope(factory) as session:
        add_comment(session, row.id, f"或者发邮件 {EMAIL}")
        add_comment(session, row.id, "   ")  # nothing to add
    comment = stored(factory, row.id).comment
    assert comment == "太慢了，打我电话 138****6093\n或者发邮件 z***@example.com"
    assert PHONE not in comment and EMAIL not in comment


def test_comments_are_capped_without_leaking_a_cut_phone_number(factory):
    row = rate(factory, 3)
    text = "很" * (MAX_COMMENT_CHARS - 5) + PHONE  # the phone straddles the cap
    with session_scope(factory) as session:
        add_comment(session, row.id, text)
    comment = stored(factory, row.id).comment
    assert len(comment) == MAX_COMMENT_CHARS
    assert comment.endswith("很138**") and "6093" not in comment
    with session_scope(factory) as session:
        add_comment(session, row.id, "more")  # already full: nothing more fits
    assert stored(factory, row.id).comment == comment


def test_a_comment_for_an_unknown_rating_is_an_error(factory):
    with pytest.raises(ValueError, match="no rating"), session_scope(factory) as session:
        add_comment(session, 12345, "hello")
