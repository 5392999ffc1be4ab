"""A small NLU-only model for the review loop's end-to-end test: trained on a folder of NLU
files with kefu's tokenizer, word and character n-gram counts and a logistic regression (seconds,
not the project model's minutes), then asked what some messages mean.

Run in its own process (TensorFlow and Rasa's event loop stay out of the browser test's)::

    python -m tests.browser.review_training <nlu folder> <model folder> <message>...

prints ``{"message": "intent", …}`` as JSON.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONFIG = f"""\
recipe: default.v1
language: zh
assistant_id: kefu-review-loop-test
pipeline:
  - name: kefu_rasa.tokenizer.KefuTokenizer
    dictionary_path: {ROOT / "data" / "dictionaries" / "jieba"}
  - name: CountVectorsFeaturizer
  - name: CountVectorsFeaturizer
    analyzer: char_wb
    min_ngram: 1
    max_ngram: 3
  - name: LogisticRegressionClassifier
policies: []
"""


def train_and_parse(nlu: Path, out: Path, messages: list[str]) -> dict[str, str]:
    """Train on ``nlu`` into ``out``; the intent of each message."""
    from rasa.core.agent import Agent
    from rasa.model_training import train_nlu

    out.mkdir(parents=True, exist_ok=True)
    config = out / "config.yml"
    config.write_text(CONFIG, encoding="utf-8")
    model = train_nlu(str(config), str(nlu), str(out), fixed_model_name="review-loop")
    agent = Agent.load(model)

    async def parse() -> dict[str, str]:
        return {m: (await agent.parse_message(m))["intent"]["name"] for m in messages}

    return asyncio.run(parse())


if __name__ == "__main__":
    folder, models, *texts = sys.argv[1:]
    print(json.dumps(train_and_parse(Path(folder), Path(models), texts), ensure_ascii=False))
