"""The review queue (kefu.review.queue), annotations in a file and the export into NLU topic
files (kefu.review.export), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from kefu.db import session_scope
from kefu.models import ReviewItem
from kefu.review import queue
from kefu.review.annotation_file import apply_entries, dump_items, read_entries
from kefu.review.export import example_line, export, insert_examples
from kefu.review.nlu_files import Domain, load_domain, load_nlu_data
from kefu.review.turns import Turn
from scripts.nlu_gate import plain_text

NOW = datetime(2026, 12, 7, 4, 0, tzinfo=timezone.utc)
DOMAIN = Domain(
    intents=("recover_password", "track_order", "greet", "get_invoice", "out_of_scope"),
    entities=("order_id", "product", "phone"),
)

ZH_ACCOUNT = """\
version: "3.1"
nlu:
# 找回密码：客户忘了密码
- intent: recover_password
  examples: |
    - 忘记密码了怎么办
    - 密码忘了

- intent: get_invoice
  examples: |
    - 我要开发票
"""
ZH_ORDERS = """\
version: "3.1"
nlu:
- intent: track_order
  examples: |
    - 订单[2510231847305512](order_id)到哪了
    - 我的快递呢
"""
EN_CONVERSATION = """\
version: "3.1"
nlu:
- intent: greet
  examples: |
    - hello
"""
HELD_OUT = """\
version: "3.1"
nlu:
- intent: recover_password
  examples: |
    - 密码想不起来了
"""


STORY = """\
version: "3.1"
stories:
- story: a question in the middle
  steps:
  - user: |
      付款[老是](nothing)失败
    intent: payment_issue
  - action: utter_payment_help
"""


@pytest.fixture
def nlu_dirs(tmp_path) -> tuple[Path, Path]:
    data, tests = tmp_path / "data" / "nlu", tmp_path / "tests" / "nlu"
    for path, content in {
        data / "zh" / "account.yml": ZH_ACCOUNT,
        data / "zh" / "orders.yml": ZH_ORDERS,
        data / "en" / "conversation.yml": EN_CONVERSATION,
        tests / "zh" / "account.yml": HELD_OUT,
        tests.parent / "stories" / "payment.yml": STORY,
    }.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    return data, tests


def turn(text, at=100.0, reasons=("fallback",), language="zh", intent="nlu_fallback", **extra):
    return Turn(
        text=text,
        timestamp=at,
        language=language,
        intent=intent,
        confidence=extra.pop("confidence", 0.4),
        entities=extra.pop("entities", []),
        sentiment=extra.pop("sentiment", 0.0),
        session=1,
        reasons={reason: at for reason in reasons},
    )


def add(factory, *turns, since=0.0) -> queue.Collected:
    with session_scope(factory) as session:
        return queue.collect(session, [list(turns)], since)[0]


def annotate(factory, text, intent, entities=(), agent="alice"):
    with session_scope(factory) as session:
        item = session.scalar(select(ReviewItem).where(ReviewItem.text == text))
        queue.annotate(
            session, item.id, intent, entities, agent, DOMAIN.intents, DOMAIN.entities, NOW
        )
        return item.id


def all_items(factory) -> dict[str, ReviewItem]:
    with session_scope(factory) as session:
        found = {i.text: i for i in queue.items(session, None)}
        session.expunge_all()
        return found


# ---- the queue --------------------------------------------------------------------------------


def test_messages_are_queued_masked_once_per_text_with_their_reasons_and_count(factory):
    done = add(
        factory,
        turn(
            "订单2602260900000001到哪了", at=100, reasons=("low_confidence",), intent="track_order"
        ),
        turn("订单 2601151230000002 到哪了？", at=200, reasons=("handoff",), intent="track_order"),
        turn("忘记密码进不去账号了", at=150),
        turn("hello???", at=160, language=None),  # another language: not queued
    )
    assert (done.messages, done.added, done.merged) == (3, 2, 1)
    found = all_items(factory)
    assert set(found) == {"订单<order_no>到哪了", "忘记密码进不去账号了"}
    order = found["订单<order_no>到哪了"]
    assert order.reasons == ["handoff", "low_confidence"] and order.seen == 2
    assert order.first_seen_at < order.last_seen_at
    assert order.status == "pending" and order.predicted_intent == "track_order"
    with session_scope(factory) as session:
        assert queue.counts(session) == {
            "pending": 2, "annotated": 0, "discarded": 0, "exported": 0
        }  # fmt: skip
        assert queue.items(session)[0].text == "订单<order_no>到哪了"  # the most seen first


def test_collecting_again_counts_nothing_twice_but_adds_later_reasons(factory):
    first = turn("忘记密码进不去账号了", at=100)
    add(factory, first)
    assert add(factory, first, since=100).messages == 0  # already read
    later = turn("忘记密码进不去账号了", at=100, reasons=("fallback",))
    later.reasons["bad_rating"] = 300  # a rating after the last collection
    assert add(factory, later, since=100).merged == 1
    item = all_items(factory)["忘记密码进不去账号了"]
    assert item.seen == 1 and item.reasons == ["bad_rating", "fallback"]
    with session_scope(factory) as session:
        assert queue.cursor(session, "store") == 0.0
        queue.move_cursor(session, "store", 300.0)
        queue.move_cursor(session, "store", 200.0)  # never back
    with session_scope(factory) as session:
        assert queue.cursor(session, "store") == 300.0


def test_predicted_entities_are_kept_as_masked_words_of_the_text(factory):
    entities = [
        {"entity": "order_id", "text": "2602260900000001"},
        {"entity": "product", "text": "iPhone 17"},
        {"entity": "product", "text": "not in the text"},
    ]
    add(factory, turn("iPhone 17 订单2602260900000001 没到", entities=entities))
    (item,) = all_items(factory).values()
    assert item.predicted_entities == [
        {"entity": "order_id", "text": "<order_no>"},
        {"entity": "product", "text": "iPhone 17"},
    ]


def test_annotations_are_checked_against_the_domain_and_the_text(factory):
    add(factory, turn("iPhone 17 到哪了"))
    item_id = annotate(
        factory, "iPhone 17 到哪了", "track_order", [{"entity": "product", "text": "iPhone 17"}]
    )
    with session_scope(factory) as session:
        for intent, entities, problem in [
            ("no_such_intent", [], "unknown intent"),
            ("track_order", [{"entity": "colour", "text": "iPhone"}], "unknown entity"),
            ("track_order", [{"entity": "product", "text": "Galaxy"}], "words of the message"),
        ]:
            with pytest.raises(queue.ReviewError, match=problem):
                queue.annotate(
                    session, item_id, intent, entities, "bob", DOMAIN.intents, DOMAIN.entities, NOW
                )
        with pytest.raises(queue.ItemNotFound):
            queue.discard(session, 999_999, "bob", NOW)
    item = all_items(factory)["iPhone 17 到哪了"]
    assert (item.status, item.intent, item.annotated_by) == ("annotated", "track_order", "alice")
    assert item.entities == [{"entity": "product", "text": "iPhone 17"}]


def test_an_annotation_file_round_trips(factory):
    add(factory, turn("忘记密码进不去账号了"), turn("asdf qwer", language="en"), turn("再说吧"))
    with session_scope(factory) as session:
        text = dump_items(queue.items(session))
    entries = read_entries(text)
    by_text = {e["text"]: e for e in entries}
    by_text["忘记密码进不去账号了"]["intent"] = "recover_password"
    by_text["asdf qwer"]["discard"] = True
    entries.append({"id": 999_999, "intent": "greet"})
    entries.append({"id": by_text["再说吧"]["id"], "intent": "nonsense"})
    with session_scope(factory) as session:
        done = apply_entries(session, entries, "designer", DOMAIN, NOW)
    assert (done.annotated, done.discarded, done.skipped) == (1, 1, 1)
    assert len(done.errors) == 2 and "unknown intent" in done.errors[1]
    statuses = {t: i.status for t, i in all_items(factory).items()}
    assert statuses == {
        "忘记密码进不去账号了": "annotated", "asdf qwer": "discarded", "再说吧": "pending"
    }  # fmt: skip


# ---- the export -------------------------------------------------------------------------------


def test_examples_go_into_the_intents_block_and_the_rest_of_the_file_stays():
    changed = insert_examples(ZH_ACCOUNT, "recover_password", ["新的一句"])
    assert changed.splitlines()[:8] == [*ZH_ACCOUNT.splitlines()[:7], "    - 新的一句"]
    assert changed.count("# 找回密码") == 1 and changed.endswith("- 我要开发票\n")
    added = insert_examples(ZH_ACCOUNT, "out_of_scope", ["今天天气"])
    assert added.endswith("- intent: out_of_scope\n  examples: |\n    - 今天天气\n")
    assert yaml.safe_load(added)["nlu"][-1]["intent"] == "out_of_scope"


def test_an_example_has_made_up_values_for_placeholders_and_the_annotated_entities(factory):
    add(factory, turn("iPhone 17 [急] 订单2602260900000001 没到"))
    product = [{"entity": "product", "text": "iPhone 17"}]
    annotate(factory, "iPhone 17 [急] 订单<order_no> 没到", "track_order", product)
    (item,) = all_items(factory).values()
    line = example_line(item)
    assert line.startswith("[iPhone 17](product) ［急］ 订单[26")
    assert line.endswith("](order_id) 没到") and "<" not in line
    assert plain_text(line).startswith("iPhone 17 ［急］ 订单26")


def test_export_writes_the_right_files_and_reports_duplicates_conflicts_and_held_out(
    factory, nlu_dirs
):
    data, tests = nlu_dirs
    add(
        factory,
        turn("忘记密码进不去账号了"),
        turn("my password is gone", language="en"),
        turn("订单2602260900000009到哪了"),  # the same as an example, another order number
        turn("我要开发票！"),  # an example of get_invoice
        turn("密码想不起来了"),  # a held-out test example
        turn("帮我看看订单", intent="track_order"),
        turn("付款老是失败。", intent="payment_issue"),  # a test story's message
    )
    annotate(factory, "忘记密码进不去账号了", "recover_password")
    annotate(factory, "my password is gone", "recover_password")  # no en file has it yet
    annotate(factory, "订单<order_no>到哪了", "track_order")
    annotate(factory, "我要开发票！", "recover_password")
    annotate(factory, "密码想不起来了", "recover_password")
    annotate(factory, "帮我看看订单", "greet")  # greet lives in conversation.yml (en only)
    annotate(factory, "付款老是失败。", "recover_password")
    nlu = load_nlu_data(data, tests, tests.parent / "stories")

    with session_scope(factory) as session:
        dry = export(session, nlu, NOW, write=False)
    assert len(dry.written) == 3 and (data / "zh" / "account.yml").read_text("utf-8") == ZH_ACCOUNT
    assert {i.status for i in all_items(factory).values()} == {"annotated"}

    nlu = load_nlu_data(data, tests, tests.parent / "stories")
    with session_scope(factory) as session:
        report = export(session, nlu, NOW)
    assert {(e.intent, Path(e.path).relative_to(data).as_posix()) for e in report.written} == {
        ("recover_password", "zh/account.yml"),
        ("recover_password", "en/account.yml"),
        ("greet", "zh/conversation.yml"),
    }
    assert len(report.duplicates) == 1 and report.duplicates[0].intent == "track_order"
    (conflict,) = report.conflicts
    assert conflict.intent == "recover_password" and conflict.other.startswith("get_invoice (")
    assert sorted(e.text for e in report.held_out) == ["付款老是失败。", "密码想不起来了"]
    assert "CONFLICT recover_password vs get_invoice" in "\n".join(report.lines())

    zh = yaml.safe_load((data / "zh" / "account.yml").read_text("utf-8"))
    blocks = {b["intent"]: b["examples"] for b in zh["nlu"]}
    assert blocks["recover_password"].splitlines()[-1] == "- 忘记密码进不去账号了"
    en = (data / "en" / "account.yml").read_text("utf-8")
    assert en.startswith('version: "3.1"\nnlu:\n- intent: recover_password')
    assert "- 帮我看看订单" in (data / "zh" / "conversation.yml").read_text("utf-8")

    items = all_items(factory)
    assert items["忘记密码进不去账号了"].status == "exported"
    assert items["订单<order_no>到哪了"].status == "exported"  # already in the data
    assert items["我要开发票！"].status == "annotated"
    assert items["我要开发票！"].export_note.startswith("already labelled get_invoice")
    assert items["密码想不起来了"].export_note == "held-out test example"

    # a second export writes nothing again
    with session_scope(factory) as session:
        again = export(session, load_nlu_data(data, tests, tests.parent / "stories"), NOW)
    assert again.written == [] and len(again.conflicts) == 1
    text = (data / "zh" / "account.yml").read_text("utf-8")
    assert text.count("忘记密码进不去账号了") == 1


def test_the_project_domain_and_data_are_read():
    root = Path(__file__).resolve().parents[2]
    domain = load_domain(root / "domain.yml")
    assert "recover_password" in domain.intents and "order_id" in domain.entities
    nlu = load_nlu_data(root / "data" / "nlu", root / "tests" / "nlu", root / "tests" / "stories")
    assert nlu.file_for("zh", "track_order") == root / "data" / "nlu" / "zh" / "orders.yml"
    assert nlu.file_for("en", "recover_password").name == "account.yml"
    assert nlu.held_out and len(nlu.labelled) > 1000
