"""The shop's knowledge and the answers kefu gives from it (plain Python, no Rasa imports).

What lives here:

* :mod:`~kefu.knowledge.faq` — the merchant's FAQ folder (``faq/*.yml``, zh and en per entry,
  validated with file and line);
* :mod:`~kefu.knowledge.facts` — every fact the shop knows, bilingual, from ``policies.yml``,
  ``shop.yml``, the catalog (product descriptions, prices, specifications, options) and the
  FAQ, and the cheap fingerprint that says when they changed;
* :mod:`~kefu.knowledge.embed` — USE multilingual v3 sentence embeddings (offline, pure numpy)
  with their cache under ``.kefu/knowledge/`` (Traditional Chinese is read as Simplified by
  :mod:`kefu.hanzi`);
* :mod:`~kefu.knowledge.index` — hybrid retrieval (jieba BM25 + embeddings, reciprocal-rank
  fusion) and :class:`KnowledgeBase`, the index rebuilt when a source changes;
* :mod:`~kefu.knowledge.products` — questions about a named product ("小米 15 电池多大");
* :mod:`~kefu.knowledge.answer` — :func:`answer` (extractive: the facts with citations, or an
  honest decline offering a person) and :func:`answer_with_llm`;
* :mod:`~kefu.knowledge.llm` — any OpenAI-compatible chat endpoint (``KEFU_LLM_*``), with a
  timeout, personal data redacted, facts and question passed as data;
* :mod:`~kefu.knowledge.guardrails` — the checks an LLM answer must pass to be sent.
"""

from kefu.knowledge.answer import KnowledgeAnswer, answer, answer_with_llm
from kefu.knowledge.index import KnowledgeBase

__all__ = ["KnowledgeAnswer", "KnowledgeBase", "answer", "answer_with_llm"]
