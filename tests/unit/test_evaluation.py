"""Offline evaluation (leave-last-out HR / NDCG, checked by hand), the CSV log, and the
item-to-item similarity it evaluates."""

import json
import math
from datetime import datetime, timezone

import pytest

from kefu.cli import main
from kefu.evaluation import LogFileError, evaluate, leave_last_out, parse_timestamp, read_log
from kefu.similarity import ItemSimilarity, recent_items

# u1 a c b → holds out b      u2 a b c → holds out c      u3 a b → holds out b
# u4 c d d → holds out d (both rows)                      u5 e e → one item: not evaluated
LOG = [
    ("u1", "a", 1),
    ("u1", "c", 2),
    ("u1", "b", 3),
    ("u2", "a", 1),
    ("u2", "b", 2),
    ("u2", "c", 3),
    ("u3", "a", 1),
    ("u3", "b", 2),
    ("u4", "c", 1),
    ("u4", "d", 2),
    ("u4", "d", 3),
    ("u5", "e", 1),
    ("u5", "e", 2),
]


def test_leave_last_out_by_hand():
    # training part: u1 {a, c}, u2 {a, b}, u3 {a}, u4 {c}, u5 {e, e}
    # popularity (interactions): a 3, c 2, e 2, b 1 (c before e: seen first)
    #   u1 → [e, b]: b at rank 2;  u2 → [c, e]: rank 1;  u3 → [c, e]: miss;  u4 → [a, e]: miss
    # CF: a–b share u2, a–c share u1 (one user each, shrunk by 1/6); c–d never met in training
    #   u1 {a, c} → [b]: rank 1;  u2 {a, b} → [c]: rank 1;  u3 {a} → [b, c]: rank 1;  u4 → miss
    report = evaluate(LOG, k=2)
    assert (report.k, report.users, report.items, report.interactions) == (2, 4, 5, 13)
    assert report.popularity.hit_rate == pytest.approx(2 / 4)
    assert report.popularity.ndcg == pytest.approx((1 / math.log2(3) + 1) / 4)
    assert report.cf.hit_rate == pytest.approx(3 / 4)
    assert report.cf.ndcg == pytest.approx(3 / 4)
    assert evaluate(LOG, k=2) == report  # deterministic


def test_the_last_interaction_is_held_out_with_all_of_its_item():
    log = [("u", "b", 1), ("u", "a", 5), ("u", "b", 5), ("v", "x", 1), ("v", "x", 2)]
    train, held_out = leave_last_out(log)
    assert held_out == {"u": "b"}  # a and b at the same time: the later row; v has one item
    assert train == [("u", "a", 5), ("v", "x", 1), ("v", "x", 2)]


def test_evaluate_rejects_k_below_one():
    with pytest.raises(ValueError, match="k"):
        evaluate(LOG, k=0)
    assert evaluate([], k=3).users == 0


def test_cosine_with_shrinkage_by_hand():
    # a: u1 weight 4 (a view, then a purchase), u2 weight 1; b: u1 1, u2 1
    rows = [("u1", "a", 1, 1.0), ("u1", "a", 2, 4.0), ("u1", "b", 3, 1.0)]
    rows += [("u2", "a", 1, 1.0), ("u2", "b", 1, 1.0), ("u3", "c", 1, 1.0)]
    cosine = (4 * 1 + 1 * 1) / (math.sqrt(4**2 + 1) * math.sqrt(2))
    similarity = ItemSimilarity.from_interactions(rows)
    assert similarity.similar("a") == [("b", pytest.approx(cosine * 2 / (2 + 5)))]
    assert similarity.similar("c") == [] and similarity.similar("zzz") == []
    plain = ItemSimilarity.from_interactions(rows, shrinkage=0)
    assert plain.similar("b") == [("a", pytest.approx(cosine))]


def test_neighbours_are_capped_and_ties_go_to_the_first_seen_item():
    rows = [("u", item, 1, 1.0) for item in "abcd"]
    similarity = ItemSimilarity.from_interactions(rows, neighbours=2)
    assert [item for item, _ in similarity.similar("c")] == ["a", "b"]
    affinity = similarity.score({"a": 1.0, "b": 2.0})
    assert affinity["c"].source == "b"
    assert affinity["c"].score == pytest.approx(3 * similarity.similar("a")[0][1])


def test_recent_items_keep_the_strongest_weight():
    events = [("a", 1, 4.0), ("b", 2, 1.0), ("a", 3, 1.0), ("c", 3, 2.0)]
    assert recent_items(events) == {"a": 4.0, "c": 2.0, "b": 1.0}
    assert list(recent_items(events, limit=2)) == ["c", "a"]  # equal times: the later event


def test_timestamps():
    utc = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc).timestamp()
    assert parse_timestamp("2026-11-30T12:00:00") == utc
    assert parse_timestamp("2026-11-30 12:00:00Z") == utc
    assert parse_timestamp("2026-11-30T20:00:00+08:00") == utc
    assert parse_timestamp(str(int(utc))) == utc
    assert parse_timestamp("1796040000.5") == 1796040000.5
    for bad in ("yesterday", "nan", "2026-13-01"):
        with pytest.raises(ValueError):
            parse_timestamp(bad)


def test_read_log(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text(
        "User,item,timestamp,kind\n7,12,2026-11-30T12:00:00,view\n\n7,13,1796040000,buy\n",
        encoding="utf-8",
    )
    assert read_log(path) == [("7", "12", 1796040000.0), ("7", "13", 1796040000.0)]


@pytest.mark.parametrize(
    ("text", "errors"),
    [
        ("", ["{f}:1: header: the file is empty"]),
        (
            "user,item,time\n1,2,3\n",
            ["{f}:1: header: missing column(s) timestamp (need user,item,timestamp)"],
        ),
        (
            "user,item,timestamp\n1,2,2026-11-30\n1,,5\n1,2\n2,3,yesterday\n",
            [
                "{f}:3: item: is empty",
                "{f}:4: line: 2 cells, the header has 3",
                "{f}:5: timestamp: 'yesterday' is neither ISO 8601 nor unix seconds",
            ],
        ),
        (
            'user,item,timestamp\n1,"two\nlines",5\n1,2,never\n',
            ["{f}:4: timestamp: 'never' is neither ISO 8601 nor unix seconds"],
        ),
    ],
)
def test_read_log_errors_name_file_and_line(tmp_path, text, errors):
    path = tmp_path / "log.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(LogFileError) as raised:
        read_log(path)
    assert raised.value.errors == [e.format(f=path) for e in errors]


def test_missing_file(tmp_path):
    with pytest.raises(LogFileError, match="cannot read"):
        read_log(tmp_path / "missing.csv")


def test_cli_evaluate(tmp_path, capsys):
    path = tmp_path / "log.csv"
    path.write_text(
        "user,item,timestamp\n" + "".join(f"{u},{i},{t}\n" for u, i, t in LOG), encoding="utf-8"
    )
    assert main(["recommend", "evaluate", str(path), "--k", "2", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["users"] == 4
    assert report["cf"]["hit_rate"] == 0.75 and report["popularity"]["hit_rate"] == 0.5
    assert main(["recommend", "evaluate", str(path), "--k", "2"]) == 0
    table = capsys.readouterr().out
    assert "item-to-item CF" in table and "0.7500" in table and "NDCG@2" in table

    path.write_text("user,item,timestamp\n1,2,soon\n", encoding="utf-8")
    assert main(["recommend", "evaluate", str(path)]) == 1
    assert f"error: {path}:2: timestamp:" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["recommend", "evaluate", str(path), "--k", "0"])
