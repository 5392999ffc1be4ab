"""kefu.change_request: every change request we were given reads as one; questions do not."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from kefu.change_request import CHANGE_TASKS, asks_for_change

ROOT = Path(__file__).resolve().parents[2]
ANNOTATION = re.compile(r"\[([^\]]*)\]\([^)]*\)")


def examples(intents) -> list[tuple[str, str]]:
    """(intent, text) of every training and held-out example of ``intents``."""
    found = []
    for path in sorted([*ROOT.glob("data/nlu/*/*.yml"), *ROOT.glob("tests/nlu/*/*.yml")]):
        for block in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu", []):
            if block.get("intent") in intents:
                for line in block["examples"].splitlines():
                    if line.startswith("- "):
                        found.append((block["intent"], ANNOTATION.sub(r"\1", line[2:])))
    return found


def test_change_requests_in_our_data_ask_for_their_change():
    requests = examples(CHANGE_TASKS)
    missed = [(intent, text) for intent, text in requests if not asks_for_change(intent, text)]
    assert len(requests) > 600
    assert missed == []


@pytest.mark.parametrize(
    "task,text",
    [
        ("cancel_order", "这个订单买了什么，寄到哪里？"),
        ("cancel_order", "what did I buy in this order and where is it going?"),
        ("get_refund", "订单 2603020900000004 现在什么状态"),
        ("request_return", "我的快递到哪了"),
        ("change_shipping_address", "这单什么时候到"),
    ],
)
def test_questions_about_an_order_are_not_changes(task, text):
    assert not asks_for_change(task, text)


def test_tracking_questions_rarely_name_a_cancellation():
    questions = [text for _, text in examples({"track_order"})]
    named = [q for q in questions if asks_for_change("cancel_order", q)]
    assert len(questions) > 50 and named == []


def test_tasks_that_change_nothing_and_button_payloads_are_taken_as_asked():
    assert asks_for_change("track_order", "随便")
    assert asks_for_change("cancel_order", "/cancel_order")
