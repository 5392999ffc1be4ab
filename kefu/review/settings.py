"""What the review queue collects: thresholds and the domain's names, from ``review.yml``
(``KEFU_REVIEW_CONFIG`` names another file)."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
CONFIG_ENV = "KEFU_REVIEW_CONFIG"
REASONS = ("fallback", "low_confidence", "handoff", "negative_sentiment", "bad_rating")


class ReviewConfigError(ValueError):
    """review.yml is malformed."""


@dataclass(frozen=True)
class ReviewSettings:
    low_confidence: float = 0.7
    negative_sentiment: float = -0.5
    bad_rating: int = 2
    context_messages: int = 3
    reasons: tuple[str, ...] = REASONS
    fallback_intent: str = "nlu_fallback"
    fallback_action: str = "action_default_fallback"
    handoff_slot: str = "handoff_ticket"
    rating_intent: str = "rate_satisfaction"
    rating_action: str = "action_record_csat"

    def __post_init__(self) -> None:
        unknown = set(self.reasons) - set(REASONS)
        if unknown:
            raise ReviewConfigError(f"unknown reasons {sorted(unknown)}; known: {REASONS}")
        if not 0 <= self.low_confidence <= 1:
            raise ReviewConfigError("low_confidence must be between 0 and 1")
        if not -1 <= self.negative_sentiment <= 1:
            raise ReviewConfigError("negative_sentiment must be between -1 and 1")
        if not 1 <= self.bad_rating <= 5 or self.context_messages < 1:
            raise ReviewConfigError("bad_rating must be 1-5 and context_messages at least 1")


def load_settings(path: str | Path | None = None) -> ReviewSettings:
    """The settings in ``path`` (default: ``KEFU_REVIEW_CONFIG``, else ``review.yml``);
    a missing file gives the defaults."""
    path = Path(path or os.environ.get(CONFIG_ENV) or ROOT / "review.yml")
    if not path.exists():
        return ReviewSettings()
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    known = {f.name for f in fields(ReviewSettings)}
    if not isinstance(raw, dict) or set(raw) - known:
        extra = sorted(set(raw) - known) if isinstance(raw, dict) else raw
        raise ReviewConfigError(f"{path}: unknown settings {extra}")
    if "reasons" in raw:
        raw["reasons"] = tuple(raw["reasons"] or ())
    try:
        return ReviewSettings(**raw)
    except TypeError as error:
        raise ReviewConfigError(f"{path}: {error}") from None
