"""kefu.zh_sentiment gives SnowNLP's sentiment scores exactly, from its compact arrays."""

from __future__ import annotations

import glob
import re

import pytest
import yaml

from kefu.zh_sentiment import NaiveBayesSentiment, arrays_path, snownlp_data_dir

EDGE_CASES = [
    "",
    "   ",
    "？？？",
    "太差了！！！退货退款",
    "這個東西質量太差了，我要退貨",  # Traditional characters
    "iPhone 15 到底什么时候发货 ？？",
    "𠀀𠀁 不认识的字 㐀㐁",  # characters outside SnowNLP's range and unseen ones
    "好" * 64,
    "我上个月买的扫地机器人用了三天就坏了，客服一直不回，物流也慢，真的很失望，要求退款",
]


def messages() -> list[str]:
    texts = []
    for path in sorted(glob.glob("data/nlu/zh/*.yml")):
        with open(path, encoding="utf-8") as stream:
            for item in yaml.safe_load(stream).get("nlu", []):
                lines = (item.get("examples") or "").splitlines()
                texts += [line[2:].strip()[:64] for line in lines if line.startswith("- ")]
    return [t for t in texts if re.search("[\u4e00-\u9fff]", t)][::4] + EDGE_CASES


@pytest.fixture(scope="module")
def ours(tmp_path_factory):
    import os

    os.environ["KEFU_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    try:
        model = NaiveBayesSentiment()  # makes the arrays in a child process
        assert arrays_path(snownlp_data_dir()).exists()
        yield model
    finally:
        del os.environ["KEFU_CACHE_DIR"]


def test_the_scores_and_words_are_snownlps(ours):
    from snownlp import seg, sentiment

    texts = messages()
    assert len(texts) > 500
    for text in texts:
        assert ours.segmenter.words(text) == seg.seg(text), text
        assert ours.classify(text) == sentiment.classify(text), text


def test_a_second_model_reads_the_kept_arrays(ours):
    again = NaiveBayesSentiment()
    assert again.classify("质量很好，很满意") == ours.classify("质量很好，很满意")
