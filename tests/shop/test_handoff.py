"""Hand-off tickets (kefu.handoff) on SQLite and PostgreSQL, and the office hours behind them."""

import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, inspect, select
from sqlalchemy.exc import IntegrityError

from kefu import migrate
from kefu.config import ConfigError, HandoffSettings, load_shop_config
from kefu.db import make_engine, session_scope
from kefu.handoff import (
    MAX_TRANSCRIPT,
    TicketClosed,
    TicketForbidden,
    TicketLimitReached,
    TicketNotFound,
    TicketTaken,
    abandon,
    add_message,
    claim,
    close,
    handoff_reason,
    is_open,
    mask_proofs,
    may_see,
    next_opening,
    open_ticket,
    open_tickets,
    queue_page,
    queue_position,
    summarise,
    ticket,
    ticket_for,
    waiting_since_before,
)
from kefu.models import Base, Customer, HandoffTicket, TicketMessage

NOW = datetime(2026, 3, 3, 2, 0)  # Tuesday 10:00 in Shanghai, stored as naive UTC
PHONE = "13812346093"
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def customer(factory) -> int:
    with session_scope(factory) as session:
        zhang = Customer(name="张三丰", phone=PHONE, email="zhang@example.com")
        session.add(zhang)
        session.flush()
        return zhang.id


def transcript(*texts: str) -> list[dict]:
    """Alternating customer / bot messages, a minute apart."""
    return [
        {
            "who": "customer" if n % 2 == 0 else "bot",
            "text": text,
            "at": (NOW + timedelta(minutes=n)).isoformat(),
        }
        for n, text in enumerate(texts)
    ]


def open_(factory, conversation="conv-1", now=NOW, **overrides):
    arguments = {
        "conversation_id": conversation,
        "channel": "webchat",
        "language": "zh",
        "reason": "requested",
        "transcript": transcript("我要退货", "好的，请提供订单号", "2602260900000001"),
        "intents": ["request_return", "inform"],
        "entities": {"order_id": "2602260900000001"},
        "sentiment": -0.2,
        "now": now,
        **overrides,
    }
    with session_scope(factory) as session:
        return open_ticket(session, **arguments)


def run(factory, operation, *args, **kwargs):
    with session_scope(factory) as session:
        return operation(session, *args, **kwargs)


def count(factory, model=HandoffTicket) -> int:
    with session_scope(factory) as session:
        return session.scalar(select(func.count()).select_from(model))


# ----------------------------------------------------------------------------- tickets


def test_a_ticket_keeps_what_the_agent_needs(factory, customer):
    opened = open_(factory, customer_id=customer, reason="complaint", sentiment=-0.7)
    assert opened.status == "open" and opened.active
    assert (opened.reason, opened.channel, opened.language) == ("complaint", "webchat", "zh")
    assert opened.customer_id == customer and opened.created_at == NOW
    assert opened.agent is None and opened.claimed_at is None and opened.closed_at is None
    assert opened.intents == ("request_return", "inform")
    assert opened.entities == {"order_id": "2602260900000001"}
    assert opened.sentiment == -0.7
    assert [item["who"] for item in opened.transcript] == ["customer", "bot", "customer"]
    assert opened.summary.startswith("客户询问退货（订单 2602260900000001），情绪很负面")
    assert run(factory, ticket, opened.id) == opened


def test_one_open_ticket_per_conversation(factory):
    first = open_(factory)
    again = open_(factory, reason="frustration", now=NOW + timedelta(minutes=5))
    assert again == first  # the open ticket, unchanged
    other = open_(factory, conversation="conv-2")
    assert other.id != first.id
    run(factory, claim, first.id, "alice")
    assert open_(factory).id == first.id  # claimed is still active
    run(factory, close, first.id, "alice")
    reopened = open_(factory, now=NOW + timedelta(hours=1))
    assert reopened.id not in (first.id, other.id) and reopened.status == "open"
    run(factory, abandon, reopened.id)
    assert open_(factory).id not in (first.id, reopened.id)
    assert count(factory) == 4


def test_opening_at_once_from_two_workers_makes_one_ticket(factory):
    barrier = threading.Barrier(2)
    opened, errors = [], []

    def worker(reason: str) -> None:
        try:
            barrier.wait(timeout=10)
            opened.append(open_(factory, reason=reason))
        except Exception as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(r,)) for r in ("requested", "fallbacks")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert len(opened) == 2 and opened[0].id == opened[1].id
    assert count(factory) == 1


def test_a_bad_reason_or_transcript_is_refused(factory):
    with pytest.raises(ValueError, match="reason"):
        open_(factory, reason="bored")
    with pytest.raises(ValueError, match="'who'"):
        open_(factory, transcript=[{"who": "agent", "text": "hi", "at": ""}])
    with pytest.raises(ValueError, match="conversation id"):
        open_(factory, conversation="")
    assert count(factory) == 0


def test_the_transcript_keeps_the_last_messages_with_proofs_masked(factory):
    long = transcript(*(f"第{n}条消息" for n in range(MAX_TRANSCRIPT + 10)))
    long[-2]["text"] = f"我的电话是{PHONE}，邮箱 zhang@example.com"  # the customer's last
    long[-4]["text"] = "6093"  # the last 4 digits, given as the proof of an order
    opened = open_(factory, transcript=long)
    assert len(opened.transcript) == MAX_TRANSCRIPT
    assert opened.transcript[0]["text"] == "第10条消息"
    assert opened.transcript[0]["at"] == long[10]["at"]
    # the last digits of a phone prove an order: never kept, not even masked ones
    assert opened.transcript[-2]["text"] == "我的电话是138****，邮箱 z***@example.com"
    assert opened.transcript[-4]["text"] == "****"
    assert "6093" not in opened.summary and "138****" in opened.summary


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("手机 13812346093", "手机 138****"),
        ("+86 138-1234-6093 是我", "138**** 是我"),
        ("尾号6093", "尾号****"),
        ("the last 4 digits are 6093", "the last 4 digits are ****"),
        (" ６０９３ ", " **** "),
        ("已脱敏的 138****6093 和 ***6093", "已脱敏的 138**** 和 ****"),
        ("邮箱 zhang.san@example.com", "邮箱 z***@example.com"),
        ("订单 2602260900000001 预算 5000 元", "订单 2602260900000001 预算 5000 元"),
    ],
)
def test_proofs_of_identity_are_masked(text, masked):
    assert mask_proofs(text) == masked


def test_contact_entities_are_kept_only_masked(factory):
    opened = open_(
        factory,
        entities=[
            {"entity": "phone", "value": PHONE},
            {"entity": "email", "value": "zhang@example.com"},
            {"entity": "order_id", "value": "2602260900000001"},
        ],
    )
    assert opened.entities == {
        "phone": "138****",
        "email": "z***@example.com",
        "order_id": "2602260900000001",
    }


def test_queue_positions_follow_creation_time(factory):
    first = open_(factory, "a", now=NOW)
    second = open_(factory, "b", now=NOW + timedelta(minutes=1))
    third = open_(factory, "c", now=NOW + timedelta(minutes=1))  # same time: by id
    fourth = open_(factory, "d", now=NOW + timedelta(minutes=2))
    positions = [run(factory, queue_position, t.id) for t in (first, second, third, fourth)]
    assert positions == [1, 2, 3, 4]

    run(factory, claim, second.id, "alice")
    run(factory, abandon, first.id)
    positions = [run(factory, queue_position, t.id) for t in (first, second, third, fourth)]
    assert positions == [0, 0, 1, 2]  # claimed and abandoned tickets wait no more
    with pytest.raises(TicketNotFound):
        run(factory, queue_position, fourth.id + 100)
    assert [t.id for t in run(factory, open_tickets)] == [second.id, third.id, fourth.id]


def test_claiming(factory):
    opened = open_(factory)
    claimed = run(factory, claim, opened.id, "alice", now=NOW + timedelta(minutes=3))
    assert (claimed.status, claimed.agent) == ("claimed", "alice")
    assert claimed.claimed_at == NOW + timedelta(minutes=3)
    assert run(factory, claim, opened.id, "alice") == claimed  # her own, again
    with pytest.raises(TicketTaken):
        run(factory, claim, opened.id, "bob")
    with pytest.raises(TicketNotFound):
        run(factory, claim, opened.id + 100, "bob")
    with pytest.raises(ValueError):
        run(factory, claim, opened.id, "")
    assert run(factory, ticket, opened.id).agent == "alice"


def test_two_agents_claiming_at_once_one_waits_then_loses(factory):
    """Alice's claim holds the row (PostgreSQL) or the database (SQLite) until she commits; Bob's
    conditional UPDATE then finds the ticket no longer open."""
    opened = open_(factory)
    outcome = []

    def bob() -> None:
        try:
            outcome.append(run(factory, claim, opened.id, "bob"))
        except Exception as error:  # checked below
            outcome.append(error)

    with session_scope(factory) as alice:
        assert claim(alice, opened.id, "alice").agent == "alice"
        contender = threading.Thread(target=bob)
        contender.start()
        contender.join(timeout=0.5)
        assert contender.is_alive()  # blocked by Alice's uncommitted claim
    contender.join(timeout=30)
    assert len(outcome) == 1 and isinstance(outcome[0], TicketTaken)
    assert run(factory, ticket, opened.id).agent == "alice"


def test_of_concurrent_claims_exactly_one_wins(factory):
    tickets = [open_(factory, f"conv-{n}") for n in range(5)]
    for opened in tickets:
        barrier = threading.Barrier(2)
        winners, losers = [], []

        def agent(name: str, ticket_id: int = opened.id, barrier=barrier, w=winners, lo=losers):
            barrier.wait(timeout=10)
            try:
                w.append(run(factory, claim, ticket_id, name).agent)
            except TicketTaken:
                lo.append(name)

        threads = [threading.Thread(target=agent, args=(name,)) for name in ("alice", "bob")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert len(winners) == 1 and len(losers) == 1
        assert run(factory, ticket, opened.id).agent == winners[0]


def test_messages_on_a_claimed_ticket(factory):
    opened = open_(factory)
    run(factory, add_message, opened.id, "customer", "有人吗")
    with pytest.raises(ValueError, match="claimed before"):
        run(factory, add_message, opened.id, "agent", "您好", agent="alice")
    run(factory, claim, opened.id, "alice")
    reply = run(factory, add_message, opened.id, "agent", "您好，我是客服小爱", agent="alice")
    assert (reply.author, reply.agent) == ("agent", "alice")
    run(factory, add_message, opened.id, "customer", f"我的电话 {PHONE}")
    with pytest.raises(TicketTaken):
        run(factory, add_message, opened.id, "agent", "我来", agent="bob")
    with pytest.raises(ValueError, match="needs the agent"):
        run(factory, add_message, opened.id, "agent", "hi")
    with pytest.raises(ValueError, match="author"):
        run(factory, add_message, opened.id, "bot", "hi")
    with pytest.raises(ValueError, match="text"):
        run(factory, add_message, opened.id, "customer", "  ")

    messages = run(factory, ticket, opened.id).messages
    assert [(m.author, m.agent, m.text) for m in messages] == [
        ("customer", None, "有人吗"),
        ("agent", "alice", "您好，我是客服小爱"),
        ("customer", None, "我的电话 138****"),
    ]
    assert [t.messages for t in run(factory, open_tickets)] == [messages]


def test_a_closed_ticket_refuses_claims_and_messages(factory):
    opened = open_(factory)
    run(factory, claim, opened.id, "alice")
    with pytest.raises(TicketTaken):
        run(factory, close, opened.id, "bob")
    later = NOW + timedelta(minutes=9)
    closed = run(factory, close, opened.id, "alice", now=later)
    assert (closed.status, closed.closed_at, closed.active) == ("closed", later, False)
    with pytest.raises(TicketClosed):
        run(factory, claim, opened.id, "bob")
    with pytest.raises(TicketClosed):
        run(factory, add_message, opened.id, "customer", "还在吗")
    with pytest.raises(TicketClosed):
        run(factory, add_message, opened.id, "agent", "再见", agent="alice")
    with pytest.raises(TicketClosed):
        run(factory, close, opened.id, "alice")
    assert run(factory, open_tickets) == []
    assert run(factory, queue_position, opened.id) == 0
    assert count(factory, TicketMessage) == 0


def test_an_unclaimed_ticket_can_be_closed_by_any_agent(factory):
    opened = open_(factory)
    closed = run(factory, close, opened.id, "carol")
    assert (closed.status, closed.agent) == ("closed", "carol")


def test_the_customer_leaving_abandons_the_ticket(factory):
    waiting, served, done = (open_(factory, f"conv-{n}") for n in range(3))
    run(factory, claim, served.id, "alice")
    run(factory, claim, done.id, "bob")
    run(factory, close, done.id, "bob", now=NOW)
    later = NOW + timedelta(minutes=20)
    for opened in (waiting, served, done):
        run(factory, abandon, opened.id, now=later)
    states = [run(factory, ticket, t.id) for t in (waiting, served, done)]
    assert [(t.status, t.closed_at) for t in states] == [
        ("abandoned", later),
        ("abandoned", later),
        ("closed", NOW),  # a closed ticket stays closed
    ]
    assert states[1].agent == "alice"
    assert run(factory, abandon, waiting.id, now=later + timedelta(hours=1)) == states[0]
    with pytest.raises(TicketClosed):
        run(factory, claim, waiting.id, "alice")
    with pytest.raises(TicketClosed):
        run(factory, add_message, served.id, "agent", "您好", agent="alice")
    with pytest.raises(TicketNotFound):
        run(factory, abandon, done.id + 100)


def test_times_with_a_time_zone_are_stored_as_utc(factory):
    opened = open_(factory, now=datetime(2026, 3, 3, 10, 0, tzinfo=SHANGHAI))
    assert opened.created_at == NOW


# ----------------------------------------------------------------------------- summary

TURNS = transcript("我要退货", "请提供订单号", "2602260900000001", "已为您查询", "到底能不能退？？")
INTENTS = ["greet", "request_return", "inform", "nlu_fallback", "request_return"]
ENTITIES = [
    {"entity": "order_id", "value": "2602260900000001"},
    {"entity": "phone", "value": PHONE},
    {"entity": "product", "value": "小米15"},
]


def test_the_summary_in_chinese():
    assert summarise(TURNS, INTENTS, ENTITIES, "zh", -0.4) == (
        "客户询问退货（订单 2602260900000001，商品 小米15），情绪偏负面，已尝试 2 次未解决，"
        "机器人 1 次没听懂。最后一句：「到底能不能退？？」"
    )


def test_the_summary_in_english():
    assert summarise(TURNS, INTENTS, ENTITIES, "en", -0.4) == (
        "Customer asked about a return (order 2602260900000001, product 小米15); mood: negative; "
        "asked 2 times without a resolution; the bot did not understand 1 time. "
        'Last message: "到底能不能退？？"'
    )


def test_the_summary_without_a_topic_or_sentiment():
    assert summarise([], ["greet", "affirm"], {}, "en") == "Customer needs a person's help."
    assert summarise([], [], {}, "zh") == "客户需要人工协助。"
    assert summarise([], ["track_order"], {"order_id": "1"}, "en", 0.6) == (
        "Customer asked about tracking an order (order 1); mood: positive."
    )
    assert summarise([], ["check_warranty_status"], {}, "zh", 0.0) == (
        "客户询问check warranty status，情绪平稳。"
    )


def test_the_summary_leaves_contact_details_out_and_is_stable():
    once = summarise(TURNS, INTENTS, ENTITIES, "zh", -0.8)
    assert PHONE not in once and "情绪很负面" in once
    assert summarise(TURNS, INTENTS, ENTITIES, "zh", -0.8) == once


# ----------------------------------------------------------------------------- office hours

SHOP = """
shop:
  name: {zh: 小店, en: Little Shop}
customer_service:
  hotline: "400-000-0000"
  email: help@example.com
  hours: {zh: 全天, en: all day}
storefront:
  how_to_buy: {zh: [下单], en: [Order it]}
"""
WEEK = """
handoff:
  timezone: Asia/Shanghai
  office_hours:
    mon: "09:00-21:00"
    tue: "09:00-21:00"
    wed: "09:00-21:00"
    thu: "09:00-21:00"
    fri: "09:00-02:00"   # past midnight into Saturday
    sat: closed
    sun: "10:00-18:00"
  fallbacks_before_handoff: 3
  complaint_sentiment: -0.6
"""


def shop_file(tmp_path, handoff: str):
    path = tmp_path / "shop.yml"
    path.write_text(SHOP + handoff, encoding="utf-8")
    return path


def settings(tmp_path, handoff: str = WEEK) -> HandoffSettings:
    return load_shop_config(shop_file(tmp_path, handoff)).handoff


def shanghai(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=SHANGHAI)  # 2 March 2026 is a Monday


def test_the_projects_shop_config_has_the_handoff_section():
    handoff = load_shop_config().handoff
    assert handoff.timezone == "Asia/Shanghai"
    assert handoff.office_hours == {day: (540, 1260) for day in handoff.office_hours}
    assert len(handoff.office_hours) == 7
    assert (handoff.fallbacks_before_handoff, handoff.complaint_sentiment) == (2, -0.5)
    domain = yaml.safe_load(Path("domain.yml").read_text(encoding="utf-8"))
    # the console's "customer left" and the bot's new session mean the same silence
    assert handoff.customer_gone_minutes == domain["session_config"]["session_expiration_time"]


def test_a_missing_section_means_the_defaults(tmp_path):
    assert settings(tmp_path, "") == HandoffSettings()


def test_office_hours_on_weekdays_with_naive_utc_and_aware_times(tmp_path):
    hours = settings(tmp_path)
    assert shanghai(2, 9).weekday() == 0
    assert hours.is_open(NOW)  # naive = UTC: Tuesday 10:00 in Shanghai
    assert hours.is_open(shanghai(3, 9, 0)) and hours.is_open(shanghai(3, 20, 59))
    assert not hours.is_open(shanghai(3, 8, 59)) and not hours.is_open(shanghai(3, 21, 0))
    assert not hours.is_open(datetime(2026, 3, 3, 13, 0))  # 21:00 in Shanghai
    # the same instant written in another zone
    assert hours.is_open(datetime(2026, 3, 2, 21, 0, tzinfo=ZoneInfo("America/New_York")))
    assert hours.next_opening(shanghai(3, 10)) == shanghai(3, 10)  # open: now
    assert hours.next_opening(shanghai(3, 21, 30)) == shanghai(4, 9)
    assert hours.next_opening(datetime(2026, 3, 3, 0, 30)) == shanghai(3, 9)  # 08:30 local
    assert hours.next_opening(NOW + timedelta(hours=12)).tzinfo == SHANGHAI


def test_office_hours_across_midnight_and_the_weekend(tmp_path):
    hours = settings(tmp_path)
    assert hours.is_open(shanghai(6, 23, 59))  # Friday night
    assert hours.is_open(shanghai(7, 1, 59))  # Saturday early: still Friday's hours
    assert not hours.is_open(shanghai(7, 2, 0))
    assert not hours.is_open(shanghai(7, 12, 0))  # Saturday is closed
    assert hours.next_opening(shanghai(7, 2, 0)) == shanghai(8, 10)  # Sunday 10:00
    assert hours.next_opening(shanghai(8, 18, 0)) == shanghai(9, 9)  # Sunday evening → Monday
    assert not hours.is_open(shanghai(9, 1, 0))  # Sunday's hours do not run past midnight


def test_office_hours_are_wall_clock_times_across_daylight_saving(tmp_path):
    london = settings(
        tmp_path,
        "handoff:\n  timezone: Europe/London\n"
        "  office_hours: {mon: '09:00-17:00', fri: '09:00-17:00'}\n",
    )
    # 08:30 UTC is 08:30 in London on Friday 27 March, 09:30 (BST) on Monday 30 March
    assert not london.is_open(datetime(2026, 3, 27, 8, 30))
    assert london.is_open(datetime(2026, 3, 30, 8, 30))
    opening = london.next_opening(datetime(2026, 3, 27, 18, 0))
    assert opening == datetime(2026, 3, 30, 9, 0, tzinfo=ZoneInfo("Europe/London"))
    assert opening.astimezone(timezone.utc) == datetime(2026, 3, 30, 8, 0, tzinfo=timezone.utc)


def test_the_module_functions_default_to_the_shop_config(tmp_path):
    assert is_open(NOW) and not is_open(datetime(2026, 3, 3, 14, 0))
    assert next_opening(datetime(2026, 3, 3, 14, 0)) == shanghai(4, 9)
    assert is_open(shanghai(7, 1, 0), settings(tmp_path))


@pytest.mark.parametrize(
    ("handoff", "message"),
    [
        ("handoff: [1, 2]", r"'handoff' must be a mapping"),
        ("handoff: {timezone: Mars/Olympus}", r"'handoff\.timezone'.*Mars/Olympus"),
        ("handoff: {timezone: 8}", r"'handoff\.timezone'"),
        ("handoff: {office_hours: {monday: '09:00-21:00'}}", r"'handoff\.office_hours\.monday'"),
        ("handoff: {office_hours: {mon: '9-21'}}", r"'handoff\.office_hours\.mon'.*HH:MM"),
        (
            "handoff: {office_hours: {mon: '09:00-25:00'}}",
            r"'handoff\.office_hours\.mon'.*does not exist",
        ),
        (
            "handoff: {office_hours: {mon: '09:00-09:00'}}",
            r"'handoff\.office_hours\.mon'.*same time",
        ),
        ("handoff: {office_hours: {mon: closed}}", r"'handoff\.office_hours' needs at least"),
        ("handoff: {office_hours: [mon]}", r"'handoff\.office_hours' must map"),
        ("handoff: {fallbacks_before_handoff: 0}", r"'handoff\.fallbacks_before_handoff'"),
        ("handoff: {fallbacks_before_handoff: true}", r"'handoff\.fallbacks_before_handoff'"),
        ("handoff: {complaint_sentiment: -1.5}", r"'handoff\.complaint_sentiment'"),
        ("handoff: {complaint_sentiment: high}", r"'handoff\.complaint_sentiment'"),
        ("handoff: {customer_gone_minutes: 0}", r"'handoff\.customer_gone_minutes'"),
        ("handoff: {customer_gone_minutes: soon}", r"'handoff\.customer_gone_minutes'"),
    ],
)
def test_invalid_handoff_settings_name_the_file_and_key(tmp_path, handoff, message):
    with pytest.raises(ConfigError, match=r"shop\.yml: " + message):
        load_shop_config(shop_file(tmp_path, handoff + "\n"))


def test_when_to_hand_off(tmp_path):
    week = settings(tmp_path)  # 3 fallbacks, complaints at -0.6
    assert handoff_reason(settings=week) is None
    assert handoff_reason(requested=True, fallbacks=5, settings=week) == "requested"
    assert handoff_reason(complaint=True, sentiment=-0.6, settings=week) == "complaint"
    assert handoff_reason(complaint=True, sentiment=-0.5, settings=week) is None
    assert handoff_reason(complaint=True, sentiment=None, settings=week) is None
    assert handoff_reason(sentiment=-0.9, settings=week) is None  # not a complaint
    assert handoff_reason(frustrated=True, fallbacks=3, settings=week) == "frustration"
    assert handoff_reason(fallbacks=2, settings=week) is None
    assert handoff_reason(fallbacks=3, settings=week) == "fallbacks"
    assert handoff_reason(fallbacks=2) == "fallbacks"  # shop.yml: 2


# ----------------------------------------------------------------------------- migration

TABLES = ("handoff_tickets", "ticket_messages", "csat_ratings")


def test_the_migration_creates_the_tables_as_the_models_define_them(database_url):
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            diffs = compare_metadata(MigrationContext.configure(connection), Base.metadata)
            inspector = inspect(connection)
            columns = {t: {c["name"] for c in inspector.get_columns(t)} for t in TABLES}
            indexes = {i["name"]: i for i in inspector.get_indexes("handoff_tickets")}
    finally:
        engine.dispose()
    assert [d for d in diffs if any(t in repr(d) for t in TABLES)] == []
    for table in TABLES:
        assert columns[table] == {c.name for c in Base.metadata.tables[table].columns}
    active = indexes["uq_handoff_tickets_active_conversation"]
    assert active["unique"] and active["column_names"] == ["conversation_ref"]


def test_the_migration_downgrades_and_upgrades(database_url):
    engine = make_engine(database_url)
    try:
        migrate.downgrade(database_url, "0004")
        assert not set(TABLES) & set(inspect(engine).get_table_names())
    finally:
        migrate.upgrade(database_url)
    assert set(TABLES) <= set(inspect(engine).get_table_names())
    engine.dispose()


def ticket_row(conversation_id: str, status: str) -> HandoffTicket:
    return HandoffTicket(
        conversation_id=conversation_id,
        channel="webchat",
        language="zh",
        reason="requested",
        status=status,
        summary="",
        created_at=NOW,
    )


def test_the_database_allows_one_active_ticket_per_conversation(factory):
    opened = open_(factory)
    with pytest.raises(IntegrityError), session_scope(factory) as session:
        session.add(ticket_row(opened.conversation_id, "claimed"))
        session.flush()
    # closed tickets of the same conversation are not limited
    with session_scope(factory) as session:
        session.add(ticket_row(opened.conversation_id, "closed"))
    assert count(factory) == 2


# ----------------------------------------------------------------------------- agents' access


def test_an_agent_sees_queued_tickets_and_their_own(factory):
    queued = open_(factory, conversation="conv-queued")
    alices = open_(factory, conversation="conv-alice")
    run(factory, claim, alices.id, "alice")
    left = open_(factory, conversation="conv-left")
    run(factory, abandon, left.id)
    for name in ("alice", "bob"):
        assert run(factory, ticket_for, queued.id, name).id == queued.id
    assert run(factory, ticket_for, alices.id, "alice").agent == "alice"
    with pytest.raises(TicketForbidden):
        run(factory, ticket_for, alices.id, "bob")
    with pytest.raises(TicketForbidden):  # ended before anyone took it
        run(factory, ticket_for, left.id, "alice")
    with pytest.raises(TicketNotFound):
        run(factory, ticket_for, alices.id + 1000, "alice")
    run(factory, close, alices.id, "alice")
    closed = run(factory, ticket, alices.id)
    assert may_see(closed, "alice") and not may_see(closed, "bob") and not may_see(closed, "")


def test_the_queue_is_read_a_page_at_a_time_without_messages(factory):
    opened = [
        open_(factory, conversation=f"conv-{n}", now=NOW + timedelta(minutes=n)) for n in range(7)
    ]
    run(factory, add_message, opened[0].id, "customer", "有人吗")
    run(factory, claim, opened[1].id, "bob")
    run(factory, claim, opened[2].id, "alice")
    first = run(factory, queue_page, "alice", 1, 4)
    assert [t.id for t in first.tickets] == [opened[n].id for n in (0, 2, 3, 4)]
    assert (first.page, first.pages, first.total, first.with_others) == (1, 2, 6, 1)
    assert all(t.messages == () for t in first.tickets)  # no messages loaded
    second = run(factory, queue_page, "alice", 2, 4)
    assert [t.id for t in second.tickets] == [opened[5].id, opened[6].id]
    assert run(factory, queue_page, "alice", 99, 4).page == 2  # clipped
    assert [t.id for t in run(factory, queue_page, "bob", 1, 3).tickets] == [
        opened[n].id for n in (0, 1, 3)
    ]


def test_departed_customers_are_looked_for_in_turns(factory):
    opened = [
        open_(factory, conversation=f"conv-{n}", now=NOW + timedelta(minutes=n)) for n in range(5)
    ]
    cutoff = NOW + timedelta(minutes=4)  # the last one is too fresh
    first = run(factory, waiting_since_before, cutoff, 0, 3)
    assert [t.id for t in first] == [t.id for t in opened[:3]]
    rest = run(factory, waiting_since_before, cutoff, first[-1].id, 3)
    assert [t.id for t in rest] == [opened[3].id]


# ----------------------------------------------------------------------------- ticket flood

LIMITS = """
handoff:
  limits:
    per_client_per_hour: 2
    per_channel_per_hour: 3
    per_hour: 4
"""


def limited(tmp_path):
    return load_shop_config(shop_file(tmp_path, LIMITS)).handoff


def test_tickets_per_client_are_limited_per_hour(factory, tmp_path):
    settings = limited(tmp_path)
    for n in range(2):
        open_(factory, conversation=f"c{n}", client="203.0.113.7", settings=settings)
    with pytest.raises(TicketLimitReached) as refused:
        open_(factory, conversation="c9", client="203.0.113.7", settings=settings)
    assert refused.value.scope == "client"
    assert refused.value.retry_after == timedelta(hours=1) and refused.value.minutes == 60
    assert count(factory) == 2
    # a conversation that has its ticket gets it again, limits or not
    assert open_(factory, conversation="c0", client="203.0.113.7", settings=settings).status
    # an hour later the client may ask again
    later = NOW + timedelta(hours=1, seconds=1)
    open_(factory, conversation="c9", client="203.0.113.7", settings=settings, now=later)


def test_without_an_address_the_customer_or_the_conversation_is_the_client(
    factory, customer, tmp_path
):
    settings = load_shop_config(
        shop_file(tmp_path, "handoff:\n  limits: {per_client_per_hour: 2}")
    ).handoff
    for _ in range(2):  # one conversation abandoned and opened again
        run(factory, abandon, open_(factory, conversation="anon", settings=settings).id)
    with pytest.raises(TicketLimitReached):
        open_(factory, conversation="anon", settings=settings)
    for n in range(2):  # one customer in two conversations
        open_(factory, conversation=f"mine-{n}", customer_id=customer, settings=settings)
    with pytest.raises(TicketLimitReached):
        open_(factory, conversation="mine-9", customer_id=customer, settings=settings)
    open_(factory, conversation="someone-else", settings=settings)


def test_tickets_per_channel_and_in_all_are_limited(factory, tmp_path):
    settings = limited(tmp_path)
    for n in range(3):
        open_(factory, conversation=f"w{n}", client=f"10.0.0.{n}", settings=settings)
    with pytest.raises(TicketLimitReached) as refused:
        open_(factory, conversation="w9", client="10.0.0.9", settings=settings)
    assert refused.value.scope == "channel"
    open_(factory, conversation="t1", client="10.0.1.1", channel="telegram", settings=settings)
    with pytest.raises(TicketLimitReached) as refused:
        open_(factory, conversation="t2", client="10.0.1.2", channel="telegram", settings=settings)
    assert refused.value.scope == "global"
    assert count(factory) == 4


def test_ticket_limits_in_shop_yml(tmp_path):
    project = load_shop_config().handoff.limits
    assert (project.per_client_per_hour, project.per_channel_per_hour, project.per_hour) == (
        5,
        300,
        600,
    )
    for language in ("zh", "en"):
        text = project.busy.get(language).format(
            minutes=3, hotline="400", hours="9-21", email="a@b"
        )
        assert "3" in text and "400" in text and "a@b" in text
    for bad, message in [
        ("  limits: {per_hour: 0}", "handoff.limits.per_hour"),
        ("  limits: {busy: {zh: '{secret}', en: x}}", "handoff.limits.busy"),
    ]:
        with pytest.raises(ConfigError, match=message):
            load_shop_config(shop_file(tmp_path, "handoff:\n" + bad))


# ----------------------------------------------------------------------------- migration 0007

SECURITY_TABLES = (
    "console_login_failures",
    "console_revoked_sessions",
    "console_audit",
    "handoff_ticket_openings",
)


def test_the_console_security_migration_matches_the_models(database_url):
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            diffs = compare_metadata(MigrationContext.configure(connection), Base.metadata)
            inspector = inspect(connection)
            columns = {t: {c["name"] for c in inspector.get_columns(t)} for t in SECURITY_TABLES}
        assert [d for d in diffs if any(t in repr(d) for t in SECURITY_TABLES)] == []
        for table in SECURITY_TABLES:
            assert columns[table] == {c.name for c in Base.metadata.tables[table].columns}
        migrate.downgrade(database_url, "0006")
        assert not set(SECURITY_TABLES) & set(inspect(engine).get_table_names())
    finally:
        migrate.upgrade(database_url)
        engine.dispose()
    assert set(SECURITY_TABLES) <= set(inspect(make_engine(database_url)).get_table_names())
