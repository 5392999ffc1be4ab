"""``kefu review`` end to end on files: conversations saved in a tracker store (Rasa's SQL store
and kefu's encrypted one, through Rasa's TrackerStore API) → collect → list → annotate in a
file → export into a copy of the NLU data."""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
from pathlib import Path

import pytest
import yaml
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ConversationPaused,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from kefu.cli import main
from kefu_rasa.review_source import (
    TrackerSourceError,
    open_store,
    source_name,
    tracker_store_config,
)

ROOT = Path(__file__).resolve().parents[2]
PHONE = "13912345678"
ORDER = "2602260900000001"


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(ROOT / "domain.yml"))


@pytest.fixture
def shop_db(tmp_path, monkeypatch):
    monkeypatch.setenv("KEFU_DB_URL", f"sqlite:///{tmp_path}/shop.db")
    monkeypatch.setenv("KEFU_DATA_KEY", base64.b64encode(os.urandom(32)).decode())
    monkeypatch.setenv("KEFU_DATA_KEY_FILE", str(tmp_path / "unused.key"))
    monkeypatch.delenv("KEFU_TRACKER_DB_URL", raising=False)
    monkeypatch.delenv("KEFU_PROFILE", raising=False)
    return tmp_path


def said(text, intent, confidence, at, sentiment=0.0, language="zh"):
    parse = {
        "text": text,
        "intent": {"name": intent, "confidence": confidence},
        "entities": [],
        "language": language,
        "sentiment": sentiment,
    }
    return UserUttered(
        text, intent=parse["intent"], parse_data=parse, timestamp=at, input_channel="webchat"
    )


def conversations(start: float) -> dict[str, list]:
    return {
        "webchat:one": [
            SessionStarted(timestamp=start),
            ActionExecuted("action_listen", timestamp=start),
            said("忘记密码进不去账号了", "nlu_fallback", 0.41, start + 1),
            ActionExecuted("action_default_fallback", timestamp=start + 2),
            said(f"订单{ORDER}到哪了", "track_order", 0.61, start + 3),
            said("转人工", "contact_human_agent", 0.99, start + 4),
            ActionExecuted("action_handoff", timestamp=start + 5),
            SlotSet("handoff_ticket", 3, timestamp=start + 5),
            ConversationPaused(timestamp=start + 5),
            said(f"我的手机{PHONE}", "inform", 0.2, start + 6),
        ],
        "rest:two": [
            SessionStarted(timestamp=start),
            said("forgot my pw cant get in", "greet", 0.35, start + 1, language="en"),
            said("忘记密码进不去账号了！", "nlu_fallback", 0.4, start + 2),
            said("谢谢", "thank", 0.99, start + 3, sentiment=0.8),
        ],
    }


def save(config: dict, domain: Domain, stories: dict[str, list]) -> None:
    store = open_store(config, domain)

    async def write():
        for sender, events in stories.items():
            tracker = await store.retrieve(sender) or DialogueStateTracker(sender, domain.slots)
            for event in events:
                tracker.update(event)
            await store.save(tracker)

    asyncio.run(write())
    getattr(store, "engine", None) and store.engine.dispose()


@pytest.mark.parametrize(
    "store_type", ["sql", "kefu_rasa.tracker_store.SQLiteTrackerStore"], ids=["rasa", "kefu"]
)
def test_collect_list_annotate_and_export(shop_db, domain, capsys, store_type):
    db = shop_db / "trackers.db"
    config = {"type": store_type, "db": str(db)}
    if store_type == "sql":
        config["dialect"] = "sqlite"
    endpoints = shop_db / "endpoints.yml"
    endpoints.write_text(yaml.safe_dump({"tracker_store": config}), encoding="utf-8")
    save(config, domain, conversations(1_700_000_000))

    assert main(["review", "collect", "--endpoints", str(endpoints)]) == 0
    out = capsys.readouterr().out
    assert (
        "read 2 conversation(s): 5 message(s) to review, 4 new in the queue, 1 already there" in out
    )

    assert main(["review", "list"]) == 0
    listing = capsys.readouterr().out
    assert "忘记密码进不去账号了" in listing and "订单<order_no>到哪了" in listing
    assert PHONE not in listing and ORDER not in listing and "我的手机" not in listing
    assert "4 pending, 0 annotated" in listing

    # again: nothing new; a new message later is
    assert main(["review", "collect", "--endpoints", str(endpoints)]) == 0
    assert "0 message(s) to review" in capsys.readouterr().out
    save(config, domain, {"rest:two": [said("asdfgh", "nlu_fallback", 0.2, 1_700_000_100)]})
    assert main(["review", "collect", "--endpoints", str(endpoints)]) == 0
    assert "1 message(s) to review, 1 new" in capsys.readouterr().out

    # annotate in a file
    sheet = shop_db / "review.yml"
    assert main(["review", "list", "--out", str(sheet)]) == 0
    capsys.readouterr()
    entries = yaml.safe_load(sheet.read_text("utf-8"))
    for entry in entries:
        if entry["text"] == "忘记密码进不去账号了！":  # the text first read (rest:two)
            assert entry["reasons"] == ["fallback", "handoff"] and entry["seen"] == 2
            entry["intent"] = "recover_password"
        elif entry["text"] == "forgot my pw cant get in":
            entry["intent"] = "recover_password"
        elif entry["text"] == "asdfgh":
            entry["discard"] = True
    sheet.write_text(yaml.safe_dump(entries, allow_unicode=True), encoding="utf-8")
    assert main(["review", "annotate", str(sheet), "--by", "designer"]) == 0
    assert "annotated 2, discarded 1, left for later 2, refused 0" in capsys.readouterr().out

    # export into a copy of the project's NLU data
    data = shop_db / "nlu"
    shutil.copytree(ROOT / "data" / "nlu", data)
    before = (data / "zh" / "account.yml").read_text("utf-8")
    assert main(["review", "export", "--data", str(data), "--dry-run"]) == 0
    assert "dry run: exported 2 example(s)" in capsys.readouterr().out
    assert (data / "zh" / "account.yml").read_text("utf-8") == before
    assert main(["review", "export", "--data", str(data)]) == 0
    out = capsys.readouterr().out
    assert "exported 2 example(s); 0 duplicate(s), 0 conflict(s)" in out
    assert f"→ {data / 'zh' / 'account.yml'}" in out and "make train" in out
    zh = yaml.safe_load((data / "zh" / "account.yml").read_text("utf-8"))
    examples = {b["intent"]: b["examples"] for b in zh["nlu"] if "intent" in b}
    assert "- 忘记密码进不去账号了！\n" in examples["recover_password"]
    en = (data / "en" / "account.yml").read_text("utf-8")
    assert "- forgot my pw cant get in\n" in en
    assert main(["review", "list", "--status", "exported"]) == 0
    assert "2 exported" in capsys.readouterr().out


def test_the_tracker_store_comes_from_the_endpoints_file(tmp_path, monkeypatch):
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(
        "action_endpoint:\n  url: ${NOT_SET_FOR_THE_ACTIONS}\n"
        "tracker_store:\n  type: sql\n  dialect: postgresql\n  url: ${KEFU_T_HOST}\n"
        "  password: ${KEFU_T_PASSWORD}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("KEFU_T_HOST", "db.example")
    monkeypatch.delenv("KEFU_T_PASSWORD", raising=False)
    with pytest.raises(TrackerSourceError, match="KEFU_T_PASSWORD"):
        tracker_store_config(endpoints)
    monkeypatch.setenv("KEFU_T_PASSWORD", "s3cret")
    config = tracker_store_config(endpoints)
    assert config == {
        "type": "sql", "dialect": "postgresql", "url": "db.example", "password": "s3cret"
    }  # fmt: skip
    assert "s3cret" not in source_name(config) and source_name(config).startswith("sql:")
    # a SQLite file is found next to the endpoints file, as the Rasa server started there has it
    endpoints.write_text("tracker_store:\n  type: sql\n  db: .kefu/trackers.db\n", "utf-8")
    monkeypatch.delenv("KEFU_TRACKER_DB_URL", raising=False)
    with pytest.raises(TrackerSourceError, match="no tracker store at"):
        tracker_store_config(endpoints)  # and none is created
    assert not (tmp_path / ".kefu").exists()
    (tmp_path / ".kefu").mkdir()
    (tmp_path / ".kefu" / "trackers.db").write_bytes(b"")
    assert tracker_store_config(endpoints)["db"] == str(tmp_path / ".kefu" / "trackers.db")
    endpoints.write_text("lock_store:\n  type: in_memory\n", encoding="utf-8")
    with pytest.raises(TrackerSourceError, match="no tracker store"):
        tracker_store_config(endpoints)


def test_an_unknown_tracker_store_is_an_error_not_an_empty_queue(shop_db, capsys):
    endpoints = shop_db / "endpoints.yml"
    endpoints.write_text("tracker_store:\n  type: no.such.Store\n", encoding="utf-8")
    assert main(["review", "collect", "--endpoints", str(endpoints)]) == 2
    assert "not found" in capsys.readouterr().err


def test_list_wants_a_positive_limit_and_export_reports_an_empty_queue(shop_db, capsys):
    with pytest.raises(SystemExit):
        main(["review", "list", "--limit", "0"])
    data = shop_db / "nlu"
    shutil.copytree(ROOT / "data" / "nlu", data)
    assert main(["review", "export", "--data", str(data)]) == 0
    out = capsys.readouterr().out
    assert "exported 0 example(s); 0 duplicate(s), 0 conflict(s)" in out and "make train" not in out
