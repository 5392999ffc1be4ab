"""The side-by-side benchmark's pure helpers: percentiles, log parsing, report rendering."""

from __future__ import annotations

from benchmarks.conversations import fill
from benchmarks.load import LoadResult, percentile
from benchmarks.sidebyside import TARGETS, ratio, render, verdicts
from benchmarks.sql_timing import statement_key
from benchmarks.training import component_spans
from benchmarks.turn_profile import Recorder, node_label

H = "INFO     rasa.engine.training.hooks  - "
LOG = f"""\
2026-12-07 03:49:24 {H}Starting to train component 'KefuTokenizer'.
2026-12-07 03:49:25 {H}Finished training component 'KefuTokenizer'.
Epochs: 100%|██████████| 100/100 [00:10<00:00]
\x1b[0m2026-12-07 03:49:32 {H}Starting to train component 'CountVectorsFeaturizer'.
2026-12-07 03:49:33 {H}Finished training component 'CountVectorsFeaturizer'.
2026-12-07 03:49:40 {H}Starting to train component 'CountVectorsFeaturizer'.
2026-12-07 03:49:41 {H}Restored component 'RulePolicy' from cache.
2026-12-07 03:52:41 {H}Finished training component 'CountVectorsFeaturizer'.
"""


def test_percentile_is_nearest_rank():
    values = list(range(1, 101))
    assert percentile(values, 50) == 50
    assert percentile(values, 95) == 95
    assert percentile(values, 99) == 99
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 50) == 0.0


def test_load_summary():
    result = LoadResult(clients=2, elapsed_s=2.0, latencies_ms=[10.0, 20.0, 30.0, 40.0])
    result.outcomes.update({"ok": 3, "empty": 1})
    summary = result.summary()
    assert summary["msgs_per_s"] == 2.0
    assert summary["p50_ms"] == 20.0 and summary["p99_ms"] == 40.0
    assert summary["outcomes"] == {"empty": 1, "ok": 3}


def test_training_log_spans_run_from_one_component_to_the_next():
    spans = component_spans(LOG)
    assert spans["components_s"] == {
        "KefuTokenizer": 8.0,
        "CountVectorsFeaturizer": 8.0,
        "CountVectorsFeaturizer (2)": 1.0,
        "RulePolicy": 0.0,  # restored from the cache
    }
    assert spans["logged_s"] == 197.0


def test_conversations_are_filled_with_orders_in_turn():
    chats = [["查订单 {order_no}", "{last4}"], ["你好"], ["where is {order_no}"]]
    orders = [{"order_no": "A1", "last4": "1234"}, {"order_no": "B2", "last4": "5678"}]
    assert fill(chats, orders) == [["查订单 A1", "1234"], ["你好"], ["where is A1"]]


def test_statement_keys_name_the_database_file_and_verb():
    assert statement_key("/work/.kefu/shop.db", "  select * from x") == "shop.db SELECT"
    assert statement_key(None, "INSERT INTO t") == "memory INSERT"


def test_node_labels_drop_module_and_run_prefix():
    assert node_label("run_kefu_rasa.tokenizer.KefuTokenizer0") == "KefuTokenizer0"
    assert node_label("run_RulePolicy1") == "RulePolicy1"
    assert node_label("nlu_message_converter") == "nlu_message_converter"


def test_recorder_means_count_messages_a_step_did_not_run_in():
    recorder = Recorder()
    recorder.add("a", 2.0)
    recorder.add("a", 1.0)
    recorder.end_message()
    recorder.end_message()
    assert recorder.summary(2)["a"] == {
        "mean_ms": 1.5,
        "p50_ms": 3.0,
        "p95_ms": 3.0,
        "runs": 1,
        "calls_per_message": 1.0,
    }


def test_verdicts_and_report():
    kefu = {"p50_1_ms": 50.0, "p95_20_ms": 900.0, "rss_mb": 1000.0, "throughput_20_msgs_per_s": 30}
    ratios = {"throughput_20_msgs_per_s": ratio(30.0, 20.0)}
    targets = verdicts(kefu, ratios)
    assert [t["met"] for t in targets] == [True, False, True, True, None]
    assert len(targets) == len(TARGETS)
    assert ratio(1.0, None) is None and ratio(None, 2.0) is None
    report = {
        "date": "2026-12-07T05:00:00+00:00",
        "machine": {"cpu": "Xeon", "cores": 2, "ram_gb": 23.5, "rasa": "3.6.21", "python": "3.10"},
        "load_average": {"start": [5.0, 5.0, 5.0], "end": [6.0, 6.0, 6.0]},
        "headline": {"kefu": kefu, "stock": {"throughput_20_msgs_per_s": 20}},
        "ratios": ratios,
        "targets": targets,
        "bots": {"kefu": {"load": {"20": {"outcomes": {"ok": 3}}}}, "stock": {"load": {}}},
    }
    text = render(report)
    assert "| throughput, 20 clients (msg/s) | 30 | 20 | 1.5 |" in text
    assert "| p95 at 20 clients (ms) | 900 | <= 800 | **no** |" in text
    assert "| training from scratch (s) | – | <= 360 | not measured |" in text
    assert "2 cores, 23.5 GB RAM" in text
