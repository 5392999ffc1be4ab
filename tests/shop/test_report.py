"""``kefu report`` end to end: a Rasa tracker store with bilingual conversations, ratings and
hand-off tickets in the shop database (SQLite and PostgreSQL), the HTML page and its JSON."""

import base64
import json
import re
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import (
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    insert,
)

import kefu.report
from kefu.cli import main
from kefu.db import session_scope
from kefu.models import CsatRating, HandoffTicket

# 2026-11-28 10:00 in Beijing; the report covers 24-30 November on the shop's clock (UTC+8)
BASE = datetime(2026, 11, 28, 2, 0, tzinfo=timezone.utc).timestamp()
HOUR = 3600.0
PERIOD = ["--since", "2026-11-24", "--until", "2026-11-30"]
SECRETS = ("13812346093", "2611300709568588")


def fake_scorer(text, language):
    """A deterministic sentiment for messages stored without one."""
    return -0.8 if "terrible" in text else 0.0


def events_table(metadata):
    """Rasa's SQLTrackerStore table, as Rasa 3.6 creates it."""
    return Table(
        "events",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("sender_id", String(255), nullable=False, index=True),
        Column("type_name", String(255), nullable=False),
        Column("timestamp", Float),
        Column("intent_name", String(255)),
        Column("action_name", String(255)),
        Column("data", Text),
    )


class Conversation:
    """Tracker rows of one sender, written the way Rasa writes them."""

    def __init__(self, sender, channel):
        self.sender, self.channel, self.rows = sender, channel, []
        self.clock = 0.0

    def _row(self, type_name, at, intent=None, action=None, **data):
        self.clock = at
        payload = {"event": type_name, "timestamp": at, "metadata": {"assistant_id": "kefu"}}
        payload.update(data)
        self.rows.append(
            {
                "sender_id": self.sender,
                "type_name": type_name,
                "timestamp": at,
                "intent_name": intent,
                "action_name": action,
                "data": json.dumps(payload, ensure_ascii=False),
            }
        )
        return self

    def start(self, at, language=None):
        self._row("action", at, action="action_session_start", name="action_session_start")
        self._row("session_started", at + 0.001)
        if language:
            self.slot("language", language)
        return self._row("action", at + 0.002, action="action_listen", name="action_listen")

    def slot(self, name, value):
        return self._row("slot", self.clock + 0.001, action=name, name=name, value=value)

    def user(self, text, intent, entities=(), sentiment=None, language=None, after=30.0):
        parse_data = {
            "intent": {"name": intent, "confidence": 0.93},
            "entities": [
                {"entity": e, "value": v, "start": 0, "end": 1, "extractor": "ShopEntityExtractor"}
                for e, v in entities
            ],
            "text": text,
            "language": language,
        }
        if sentiment is not None:
            parse_data["sentiment"] = sentiment
        self._row(
            "user",
            self.clock + after,
            intent=intent,
            text=text,
            parse_data=parse_data,
            input_channel=self.channel,
            message_id="m",
        )
        self._row("user_featurization", self.clock + 0.001, use_text_for_featurization=False)
        if language:
            self.slot("language", language)
        return self

    def action(self, name):
        return self._row("action", self.clock + 0.5, action=name, name=name, policy="RulePolicy")

    def bot(self, text):
        self.action("utter_answer")
        return self._row("bot", self.clock + 0.01, text=text, data={})

    def pause(self):
        return self._row("pause", self.clock + 1)


def conversations():
    a = Conversation("zh-happy", "webchat")
    a.start(BASE, "zh").user("你好", "greet", sentiment=0.1, language="zh").bot("您好！")
    a.user(
        "有什么新款手机推荐？预算5000以内",
        "recommend_product",
        entities=[("product_category", "phones"), ("price", "-5000 CNY")],
        sentiment=0.0,
        language="zh",
    ).bot("为您推荐这几款：")
    a.user("谢谢", "thank", sentiment=0.7, language="zh").bot("不客气")

    b = Conversation("zh-cat", "wechat")
    b.start(BASE + HOUR, "zh")
    b.user("我的订单2611300709568588到哪了", "track_order", entities=[("order_id", SECRETS[1])])
    b.bot("您的订单已发货")
    b.user("你们卖猫粮吗 我电话13812346093", "nlu_fallback").action("action_default_fallback")
    b.bot("抱歉，我没听懂")
    b.user("有没有猫粮", "nlu_fallback").action("action_default_fallback").bot("抱歉")
    b.pause()

    c = Conversation("en-laptop", "rest")
    c.start(BASE + 2 * HOUR, "en").user("hi", "greet", sentiment=0.0, language="en").bot("Hello!")
    c.user(
        "any good Apple laptops under 8000 yuan?",
        "recommend_product",
        entities=[
            ("product_category", "laptops"),
            ("brand", "Apple"),
            ("price", {"min": None, "max": 8000, "currency": "CNY"}),
        ],
    ).bot("Here are some:")
    c.user("do you sell cat food?", "out_of_scope", sentiment=0.0).bot("Sorry, we don't.")
    c.user("Great, thanks!", "thank", sentiment=0.8).bot("You're welcome!")

    d = Conversation("en-late", "telegram")
    d.start(BASE + 3 * HOUR, "en")
    d.user(f"where is my order {SECRETS[1]}", "track_order").bot("It's on the way.")
    d.start(BASE + 23 * HOUR)  # the next morning: a re-contact within 24 hours
    d.user("still not delivered, this is terrible", "complain").bot("A colleague will help.")
    d.pause()

    e = Conversation("zh-human", "webchat")
    e.start(BASE + 4 * HOUR, "zh").user("我要找人工客服", "human_handoff", sentiment=-0.2)
    e.bot("正在为您转接").pause()

    widget = Conversation("widget", "webchat")
    widget.start(BASE + 5 * HOUR).bot("您好！有什么可以帮您？")  # no customer message

    old = Conversation("zh-old", "webchat")
    old.start(BASE - 10 * 24 * HOUR).user("你好", "greet").bot("您好！")  # before the period
    return [a, b, c, d, e, widget, old]


def write_tracker(url):
    engine = create_engine(url, future=True)
    metadata = MetaData()
    table = events_table(metadata)
    metadata.create_all(engine)
    rows = [row for conversation in conversations() for row in conversation.rows]
    with engine.begin() as connection:
        connection.execute(insert(table), rows)
    engine.dispose()


def at(offset_hours):
    """A naive UTC datetime ``offset_hours`` after BASE, as the models store them."""
    return datetime.fromtimestamp(BASE, timezone.utc).replace(tzinfo=None) + timedelta(
        hours=offset_hours
    )


def rating(conversation_id, value, hours, intents, language, channel, human=False):
    return CsatRating(
        conversation_id=conversation_id,
        rating=value,
        intents=intents,
        language=language,
        channel=channel,
        human_involved=human,
        comment="太慢了" if value < 3 else None,
        created_at=at(hours),
    )


def ticket(conversation_id, reason, status, hours, channel, language, claimed_after=None):
    """A hand-off ticket opened ``hours`` after BASE, claimed ``claimed_after`` minutes later."""
    return HandoffTicket(
        conversation_id=conversation_id,
        reason=reason,
        status=status,
        channel=channel,
        language=language,
        created_at=at(hours),
        claimed_at=at(hours + claimed_after / 60) if claimed_after is not None else None,
        closed_at=at(hours + 0.5) if status in ("closed", "abandoned") else None,
    )


def fill_shop(factory):
    with session_scope(factory) as session:
        session.add_all(
            [
                rating("zh-happy", 5, 0.1, ["recommend_product"], "zh", "webchat"),
                rating("zh-cat", 2, 1.5, ["track_order", "nlu_fallback"], "zh", "wechat", True),
                rating("zh-human", 4, 4.5, ["human_handoff"], "zh", "webchat", True),
                rating("ghost", 4, 6, ["order_status"], "en", "rest"),  # not in the tracker
                rating("zh-old", 1, -240, ["greet"], "zh", "webchat"),  # before the period
                ticket("zh-cat", "fallbacks", "closed", 1.05, "wechat", "zh", claimed_after=5),
                ticket("en-late", "complaint", "open", 23.01, "telegram", "en"),
                ticket("zh-human", "requested", "claimed", 4.01, "webchat", "zh", claimed_after=9),
                ticket("gone", "frustration", "abandoned", 6, "rest", "en"),
            ]
        )


@pytest.fixture
def report_env(mini_shop, database_url, tmp_path, monkeypatch):
    """The shop database with ratings and tickets, a SQLite tracker store, a fixed scorer."""
    monkeypatch.setenv("KEFU_DB_URL", database_url)
    monkeypatch.delenv("KEFU_TRACKER_DB_URL", raising=False)
    monkeypatch.setattr(kefu.report, "default_scorer", lambda: fake_scorer)
    fill_shop(mini_shop)
    tracker = f"sqlite:///{tmp_path}/trackers.db"
    write_tracker(tracker)
    return tmp_path, tracker


def run(tmp_path, *arguments):
    html, data = tmp_path / "report.html", tmp_path / "report.json"
    code = main(["report", *arguments, "--out", str(html), "--json", str(data)])
    assert code == 0
    return html.read_text("utf-8"), json.loads(data.read_text("utf-8"))


def comparable(data):
    return {k: v for k, v in data.items() if k not in ("generated_at", "sources")}


def test_report_end_to_end(report_env, capsys):
    tmp_path, tracker = report_env
    page, data = run(tmp_path, *PERIOD, "--tracker-db", tracker)
    assert "report: 6 conversations, 26 messages, 4 ratings" in capsys.readouterr().out

    assert list(data) == [
        "schema", "period", "generated_at", "has_data", "volume", "per_day", "containment",
        "handoff", "fallback", "csat", "estimated_satisfaction", "satisfaction", "intents",
        "demand", "unmet_needs", "topics", "resolution", "sources",
    ]  # fmt: skip
    assert data["schema"] == "kefu.report/1" and data["has_data"] is True
    assert data["period"] == {
        "start": "2026-11-24T00:00+08:00",
        "end": "2026-12-01T00:00+08:00",
        "days": 7.0,
        "utc_offset_hours": 8,
    }
    assert data["sources"]["tracker_store"] == tracker

    volume = data["volume"]
    assert (volume["conversations"], volume["customers"]) == (6, 5)
    assert (volume["customer_messages"], volume["bot_messages"], volume["messages"]) == (13, 13, 26)
    assert volume["sessions_without_customer_messages"] == 1
    assert [(c["key"], c["count"]) for c in volume["by_channel"]] == [
        ("telegram", 2), ("webchat", 2), ("rest", 1), ("wechat", 1),
    ]  # fmt: skip
    assert [(c["key"], c["count"]) for c in volume["by_language"]] == [("en", 3), ("zh", 3)]
    per_day = {d["date"]: d["conversations"] for d in data["per_day"]}
    assert (min(per_day), max(per_day), len(per_day)) == ("2026-11-24", "2026-11-30", 7)
    assert (per_day["2026-11-28"], per_day["2026-11-29"], sum(per_day.values())) == (5, 1, 6)

    assert data["containment"] == {"conversations": 6, "contained": 3, "rate": 0.5}
    handoff = data["handoff"]
    assert (handoff["conversations"], handoff["rate"], handoff["tickets"]) == (3, 0.5, 4)
    assert handoff["paused_in_tracker"] == 3
    assert {r["key"]: r["count"] for r in handoff["reasons"]} == {
        "requested": 1, "fallbacks": 1, "complaint": 1, "frustration": 1,
    }  # fmt: skip
    assert {s["key"]: s["count"] for s in handoff["statuses"]} == {
        "open": 1, "claimed": 1, "closed": 1, "abandoned": 1,
    }  # fmt: skip
    assert handoff["median_minutes_to_claim"] == 7.0

    assert data["fallback"] == {
        "customer_messages": 13,
        "messages": 2,
        "message_rate": 0.1538,
        "conversations": 1,
        "conversation_rate": 0.1667,
        "out_of_scope_messages": 1,
        "out_of_scope_rate": 0.0769,
    }

    csat = data["csat"]
    assert (csat["count"], csat["average"]) == (4, 3.75)
    assert csat["distribution"] == {"1": 0, "2": 1, "3": 0, "4": 2, "5": 1}
    assert [(g["key"], g["average"]) for g in csat["by_intent"]] == [
        ("human_handoff", 4.0), ("nlu_fallback", 2.0), ("order_status", 4.0),
        ("recommend_product", 5.0), ("track_order", 2.0),
    ]  # fmt: skip
    assert [(g["key"], g["count"], g["average"]) for g in csat["by_language"]] == [
        ("zh", 3, 3.667), ("en", 1, 4.0),
    ]  # fmt: skip
    assert [(g["key"], g["average"]) for g in csat["by_channel"]] == [
        ("webchat", 4.5), ("rest", 4.0), ("wechat", 2.0),
    ]  # fmt: skip
    assert (csat["linked_to_conversations"], csat["without_conversation"]) == (3, 1)

    estimate = data["estimated_satisfaction"]
    assert estimate["is_estimate"] is True
    assert (estimate["conversations_without_rating"], estimate["conversations_covered"]) == (3, 3)
    assert (estimate["average_sentiment"], estimate["estimated_rating"]) == (-0.2, 2.6)
    assert estimate["distribution"] == {"negative": 1, "neutral": 2, "positive": 0}
    assert (estimate["messages_scored_stored"], estimate["messages_scored_estimated"]) == (3, 3)

    assert [(i["key"], i["count"]) for i in data["intents"]] == [
        ("greet", 2), ("nlu_fallback", 2), ("recommend_product", 2), ("thank", 2),
        ("track_order", 2), ("complain", 1), ("human_handoff", 1), ("out_of_scope", 1),
    ]  # fmt: skip
    demand = data["demand"]
    assert [(c["key"], c["label"]) for c in demand["categories"]] == [
        ("laptops", "笔记本电脑 Laptops"), ("phones", "手机 Mobile Phones"),
    ]  # fmt: skip
    assert [(b["key"], b["label"], b["count"]) for b in demand["brands"]] == [
        ("apple", "苹果 Apple", 1)
    ]
    assert {b["key"]: b["count"] for b in demand["price_bands"]} == {
        "<500": 0, "500-1000": 0, "1000-2000": 0, "2000-5000": 1, "5000+": 1,
    }  # fmt: skip

    unmet = data["unmet_needs"]
    assert (unmet["messages"], unmet["fallback_messages"], unmet["out_of_scope_messages"]) == (
        3, 2, 1,
    )  # fmt: skip
    assert [(t["label"], t["count"]) for t in unmet["topics"]] == [("猫 · 粮", 2), ("other", 1)]
    assert unmet["topics"][0]["examples"] == ["有没有猫粮", "你们卖猫粮吗 我电话138****6093"]
    assert unmet["topics"][1]["examples"] == ["do you sell cat food?"]

    assert data["resolution"] == {
        "conversations": 6,
        "contained": 3,
        "rated": 3,
        "good_rating": 2,
        "contained_with_good_rating": 1,
        "handed_off": 3,
        "recontacted_24h": 1,
        "contained_recontacted_24h": 1,
    }

    # every conversation has a satisfaction score; the unanswered questions grouped by meaning
    satisfaction = data["satisfaction"]
    assert (satisfaction["conversations"], satisfaction["rated"]) == (6, 3)
    assert satisfaction["agreement"]["rated"] == 3 and len(satisfaction["lowest"]) == 6
    topics = data["topics"]
    assert topics["method"] == "embeddings" and topics["topics"][0]["label"] == "猫 · 粮"
    assert "do you sell cat food?" in topics["topics"][0]["examples"]  # with 猫粮, by meaning
    # the page shows the same figures, in both languages, with charts as SVG images
    for secret in SECRETS:
        assert secret not in page and secret not in json.dumps(data, ensure_ascii=False)
    assert "会话 Conversations" in page and "满意度 Satisfaction (CSAT)" in page
    figures = dict(re.findall(r'id="fig-([a-z]+)">([^<]*)<', page))
    assert figures == {
        "conversations": "6",
        "messages": "26",
        "containment": "50.0%",
        "handoff": "50.0%",
        "fallback": "15.4%",
        "csat": "3.75",
        "satisfaction": "≈ 3.12",
    }
    assert 'id="estimate-rating">≈ 2.6<' in page and "估计 ESTIMATE" in page
    assert 'id="satisfaction-average">3.12<' in page and 'id="satisfaction-lowest"' in page
    assert 'class="gap-topic"' in page and "语义（多语言句向量）" in page
    assert "猫 · 粮" in page and "你们卖猫粮吗 我电话138****6093" in page
    assert "笔记本电脑 Laptops" in page and "5000+" in page
    images = re.findall(r'<img src="data:image/svg\+xml;base64,([^"]+)"', page)
    assert len(images) == 10
    for image in images:
        ET.fromstring(base64.b64decode(image))
    assert "<script" not in page


def test_report_reads_a_postgresql_tracker_store_the_same(report_env, database_url, capsys):
    if not database_url.startswith("postgresql"):
        pytest.skip("the tracker store on PostgreSQL runs with the PostgreSQL shop database")
    tmp_path, sqlite_tracker = report_env
    _, from_sqlite = run(tmp_path, *PERIOD, "--tracker-db", sqlite_tracker)
    write_tracker(database_url)  # Rasa's events table next to the shop's tables
    try:
        _, from_postgres = run(tmp_path, *PERIOD, "--tracker-db", database_url)
    finally:
        engine = create_engine(database_url, future=True)
        events_table(MetaData()).drop(engine)
        engine.dispose()
    assert comparable(from_postgres) == comparable(from_sqlite)


def test_tracker_store_url_from_the_environment(report_env, monkeypatch, capsys):
    tmp_path, tracker = report_env
    monkeypatch.setenv("KEFU_TRACKER_DB_URL", tracker)
    _, data = run(tmp_path, *PERIOD)
    assert data["volume"]["conversations"] == 6


def test_empty_period_is_a_clear_report_without_data(report_env, capsys):
    tmp_path, tracker = report_env
    page, data = run(tmp_path, "--since", "2026-10-01", "--until", "2026-10-07", "--tracker-db",
                     tracker)  # fmt: skip
    assert "no conversations or ratings in this period" in capsys.readouterr().out
    assert data["has_data"] is False
    assert data["volume"]["conversations"] == 0 and data["csat"]["count"] == 0
    assert [d["conversations"] for d in data["per_day"]] == [0] * 7
    assert "此期间没有数据。No data for this period." in page
    assert 'id="fig-conversations"' not in page


def test_json_only(report_env, capsys):
    tmp_path, tracker = report_env
    out = tmp_path / "only.json"
    assert main(["report", *PERIOD, "--tracker-db", tracker, "--json", str(out)]) == 0
    assert json.loads(out.read_text("utf-8"))["volume"]["conversations"] == 6
    assert not (tmp_path / "report.html").exists()


def test_missing_tracker_database_is_a_clear_error(report_env, capsys):
    tmp_path, _ = report_env
    missing = f"sqlite:///{tmp_path}/nowhere/trackers.db"
    assert main(["report", "--tracker-db", missing, "--out", str(tmp_path / "r.html")]) == 1
    assert f"error: there is no tracker database at {missing}" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()
    assert not (tmp_path / "nowhere").exists()  # nothing created


def test_unreadable_tracker_database_is_a_clear_error(report_env, capsys):
    tmp_path, _ = report_env
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"this is not a database" * 100)
    url = f"sqlite:///{broken}"
    assert main(["report", "--tracker-db", url, "--out", str(tmp_path / "r.html")]) == 1
    err = capsys.readouterr().err
    assert f"error: cannot read the tracker store at {url}" in err

    empty = tmp_path / "empty.db"
    create_engine(f"sqlite:///{empty}").connect().close()  # a database without Rasa's table
    assert main(["report", "--tracker-db", f"sqlite:///{empty}"]) == 1
    assert "no such table: events" in capsys.readouterr().err


def test_tracker_error_does_not_show_the_password(report_env, capsys):
    url = "postgresql://kefu:s3cr3t-pw@127.0.0.1:1/trackers"  # nothing listens on port 1
    assert main(["report", "--tracker-db", url]) == 1
    err = capsys.readouterr().err
    assert "cannot read the tracker store at postgresql://kefu:***@127.0.0.1:1/trackers" in err
    assert "s3cr3t-pw" not in err


def test_bad_period_is_a_clear_error(report_env, capsys):
    assert main(["report", "--since", "lately"]) == 1
    assert "'lately' is not a period" in capsys.readouterr().err


def test_malformed_tracker_rows_are_read_defensively():
    from kefu.report.sources import to_event

    broken = to_event("s", "user", 1.0, "greet", None, "{not json")
    assert (broken.intent, broken.text, broken.entities) == ("greet", None, ())
    odd = json.dumps({"text": 5, "parse_data": {"intent": "x", "entities": [{"value": 1}, "e"]}})
    event = to_event("s", "user", 2, None, None, odd)
    assert (event.intent, event.text, event.entities, event.channel) == (None, None, (), None)
    slot = to_event("s", "slot", 3, None, "language", '{"name": "language", "value": "en"}')
    assert (slot.action, slot.value) == ("language", "en")
    assert to_event("s", "pause", 4, None, None, None).type == "pause"
