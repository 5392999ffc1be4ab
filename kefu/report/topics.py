"""Report topics: what customers asked that the bot could not answer, grouped by meaning, so a
shop sees the gaps in its FAQ, policies and catalog.

The questions are the customers' messages that got no answer: out of scope, or a fallback the
knowledge layer declined (:func:`kefu.report.satisfaction.unanswered`), redacted
(:func:`kefu.report.metrics.scrub`).  With an embedder (the knowledge layer's multilingual USE
encoder, :mod:`kefu.knowledge.embed`) they are grouped by meaning, across languages ("cat
food" and "猫粮" together): the question with the most others at cosine ≥ :data:`SIMILAR`
starts a topic with all of those, repeated while a question has :data:`MIN_TOPIC` - 1 such
neighbours; ties go to the earlier question, so the result does not depend on chance.  Without
one, the keyword grouping of :func:`kefu.report.metrics.group_topics` is used.  Each topic is
labelled with the keywords its questions share most and shows its most central question, the
conversations it came from, how many of those were handed off and their mean satisfaction.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from kefu.report.metrics import (
    EXAMPLES_PER_TOPIC,
    MAX_TOPICS,
    OTHER_TOPIC,
    Session,
    _examples,
    group_topics,
    keywords,
    scrub,
)
from kefu.report.satisfaction import _turns, unanswered

logger = logging.getLogger(__name__)

Embedder = Callable[[Sequence[str]], np.ndarray]  # texts → unit vectors, one row each
# cosine of two questions about the same thing (USE multilingual v3): paraphrases, also across
# languages, measured 0.58-0.82 ("快递箱子压坏了" / "包裹外箱破了怎么办", "猫粮" / "cat food"),
# unrelated shop questions at most 0.45
SIMILAR = 0.55
MIN_TOPIC = 2
MAX_QUESTIONS = 2000  # the latest ones, when there are more (the grouping is quadratic)
LABEL_WORDS = 3


@dataclass
class GapTopic:
    label: str
    keywords: list[str]
    questions: int
    conversations: int
    handed_off: int
    average_satisfaction: float | None
    central: str  # the question closest to the others
    examples: list[str]


@dataclass
class Topics:
    questions: int = 0
    conversations: int = 0
    method: str = "keywords"  # or "embeddings"
    topics: list[GapTopic] = field(default_factory=list)


@dataclass(frozen=True)
class Question:
    text: str  # redacted
    conversation: int  # index of its conversation
    at: float


def unanswered_questions(conversations: Sequence[Session]) -> list[Question]:
    found = []
    for index, session in enumerate(conversations):
        for message, after in _turns(session):
            if (message.text or "").strip() and unanswered(message, after):
                found.append(Question(scrub(message.text), index, message.timestamp))
    found.sort(key=lambda q: q.at)
    return found[-MAX_QUESTIONS:]


def _label(texts: Sequence[str]) -> list[str]:
    """The keywords most of the group's questions share (at least two of them)."""
    counts: Counter = Counter()
    for text in texts:
        counts.update(set(keywords(text)))
    return [w for w, n in sorted(counts.items(), key=lambda wn: (-wn[1], wn[0])) if n >= 2][
        :LABEL_WORDS
    ]


def _clusters(vectors: np.ndarray) -> tuple[list[list[int]], list[int]]:
    """Groups of indices by meaning (see the module docstring) and the ungrouped rest."""
    similar = (vectors @ vectors.T) >= SIMILAR
    left = np.ones(len(vectors), dtype=bool)
    groups: list[list[int]] = []
    while left.any() and len(groups) < MAX_TOPICS:
        neighbours = (similar & left[None, :] & left[:, None]).sum(axis=1)
        seed = int(np.argmax(neighbours))  # the first of the largest
        if neighbours[seed] < MIN_TOPIC:
            break
        members = [int(i) for i in np.flatnonzero(similar[seed] & left)]
        left[members] = False
        groups.append(members)
    return groups, [int(i) for i in np.flatnonzero(left)]


def _central(vectors: np.ndarray, members: Sequence[int]) -> int:
    centre = vectors[list(members)].mean(axis=0)
    return members[int(np.argmax(vectors[list(members)] @ centre))]


def report_topics(
    conversations: Sequence[Session],
    handed_off: Callable[[Session], bool],
    score_of: Mapping[int, float],
    embed: Embedder | None = None,
) -> Topics:
    """The unanswered questions of ``conversations`` grouped into topics; ``score_of`` maps a
    conversation's index to its satisfaction (rating or estimate)."""
    questions = unanswered_questions(conversations)
    result = Topics(len(questions), len({q.conversation for q in questions}))
    if not questions:
        return result
    texts = [q.text for q in questions]
    vectors = None
    if embed is not None:
        try:
            vectors = np.asarray(embed(texts), dtype=np.float32)
        except Exception as error:  # no encoder here: keywords still group
            logger.warning("Report topics by keywords, the embeddings failed: %s", error)
    if vectors is None:
        groups = _keyword_groups(texts)
        central = [members[0] for members, _ in groups]
    else:
        result.method = "embeddings"
        found, rest = _clusters(vectors)
        groups = [(m, _label([texts[i] for i in m])) for m in found]
        central = [_central(vectors, m) for m in found]
        if rest:
            groups.append((rest, None))
            central.append(rest[0])
    for (members, words), middle in zip(groups, central, strict=True):
        sessions = sorted({questions[i].conversation for i in members})
        scores = [score_of[c] for c in sessions if c in score_of]
        result.topics.append(
            GapTopic(
                label=OTHER_TOPIC if words is None else (" · ".join(words) or texts[middle]),
                keywords=list(words or []),
                questions=len(members),
                conversations=len(sessions),
                handed_off=sum(handed_off(conversations[c]) for c in sessions),
                average_satisfaction=round(sum(scores) / len(scores), 2) if scores else None,
                central=texts[middle],
                examples=_examples(texts, members, EXAMPLES_PER_TOPIC),
            )
        )
    return result


def _keyword_groups(texts: Sequence[str]) -> list[tuple[list[int], list[str] | None]]:
    """The keyword grouping of the unmet needs, as index groups."""
    groups: list[tuple[list[int], list[str] | None]] = []
    left = list(range(len(texts)))
    for topic in group_topics(texts):
        if topic.label == OTHER_TOPIC:
            groups.append((left, None))
            break
        members = [i for i in left if topic.keywords[0] in keywords(texts[i])]
        left = [i for i in left if i not in members]
        groups.append((members, topic.keywords))
    return [(m, w) for m, w in groups if m]
