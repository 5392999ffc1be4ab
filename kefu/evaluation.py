"""Offline evaluation of recommendations on an interaction log, and the log's CSV format.

A log is rows of (user, item, timestamp).  Leave-last-out: for every user with at least two
distinct items, the item of their chronologically last interaction is held out (equal timestamps:
the later row counts as later) and all of that user's interactions with it are removed from the
training part; everything else trains.  Each method then recommends ``k`` items the user has not
interacted with in the training part:

* item-to-item CF (:class:`kefu.similarity.ItemSimilarity` on the training part, scored from
  the user's ``RECENT_ITEMS`` most recent training items, as the shop's recommender does; ties
  go to the more popular item).  It only recommends items with a positive score;
* the popularity baseline: the items with the most interactions in the training part.

HR@k is the share of users whose held-out item is among the k; NDCG@k scores a hit at rank r
with 1 / log2(r + 1).  The result depends on the log alone (and its order for equal timestamps).

CSV: a header with the columns ``user,item,timestamp`` (others are ignored), then one
interaction a line; timestamps in ISO 8601 (without a zone: UTC) or unix seconds.
"""

from __future__ import annotations

import csv
import io
import math
from collections import Counter
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.importer import CatalogFileError, RowError, decode
from kefu.models import EVENT_KINDS, CustomerEvent
from kefu.similarity import ItemSimilarity, recent_items

LOG_COLUMNS = ("user", "item", "timestamp")
MAX_LOG_ERRORS = 20  # a broken file is reported this far, then the reading stops
DEFAULT_K = 10
EXPORT_BATCH = 5000

Interaction = tuple[Hashable, Hashable, Any]  # (user, item, timestamp)


class LogFileError(ValueError):
    """The interaction log cannot be used; ``errors`` are the lines to show."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class Metrics:
    hit_rate: float  # HR@k
    ndcg: float  # NDCG@k


@dataclass(frozen=True)
class EvaluationReport:
    k: int
    users: int  # users evaluated (≥ 2 distinct items)
    items: int  # distinct items in the log
    interactions: int
    cf: Metrics
    popularity: Metrics

    def to_dict(self) -> dict[str, Any]:
        """Plain data, for JSON."""
        return asdict(self)


def evaluate(rows: Iterable[Interaction], k: int = DEFAULT_K) -> EvaluationReport:
    """Leave-last-out HR@k and NDCG@k of item-to-item CF and of the popularity baseline."""
    if k < 1:
        raise ValueError("k must be at least 1")
    log = list(rows)
    train, held_out = leave_last_out(log)
    counts = Counter(item for _, item, _ in train)
    first_seen = {item: n for n, item in enumerate(dict.fromkeys(item for _, item, _ in log))}
    popular = sorted(counts, key=lambda item: (-counts[item], first_seen[item]))
    similarity = ItemSimilarity.from_interactions((u, i, t, 1.0) for u, i, t in train)
    histories: dict[Hashable, list[tuple[Hashable, Any, float]]] = {}
    for user, item, timestamp in train:
        if user in held_out:
            histories.setdefault(user, []).append((item, timestamp, 1.0))

    cf_ranks, popularity_ranks = [], []
    for user, target in held_out.items():
        seen = {item for item, _, _ in histories.get(user, ())}
        affinities = similarity.score(recent_items(histories.get(user, ())))
        ranked = sorted(
            (item for item in affinities if item not in seen),
            key=lambda item: (-affinities[item].score, -counts[item], first_seen[item]),
        )
        cf_ranks.append(_rank(ranked[:k], target))
        baseline = [item for item in popular if item not in seen][:k]
        popularity_ranks.append(_rank(baseline, target))
    return EvaluationReport(
        k=k,
        users=len(held_out),
        items=len(first_seen),
        interactions=len(log),
        cf=_metrics(cf_ranks),
        popularity=_metrics(popularity_ranks),
    )


def leave_last_out(
    log: list[Interaction],
) -> tuple[list[Interaction], dict[Hashable, Hashable]]:
    """The training rows, and the held-out item of each user with at least two distinct items.

    The held-out item is that of the user's last interaction (of equal timestamps, the later
    row); all of the user's interactions with it leave the training rows.
    """
    by_user: dict[Hashable, list[tuple[Any, int, Hashable]]] = {}
    for position, (user, item, timestamp) in enumerate(log):
        by_user.setdefault(user, []).append((timestamp, position, item))
    held_out = {
        user: max(events, key=lambda e: (e[0], e[1]))[2]
        for user, events in by_user.items()
        if len({item for _, _, item in events}) >= 2
    }
    train = [row for row in log if row[0] not in held_out or held_out[row[0]] != row[1]]
    return train, held_out


def _rank(recommended: list[Hashable], target: Hashable) -> int | None:
    """1-based position of ``target``, or None when it was not recommended."""
    return recommended.index(target) + 1 if target in recommended else None


def _metrics(ranks: list[int | None]) -> Metrics:
    if not ranks:
        return Metrics(0.0, 0.0)
    hits = [r for r in ranks if r is not None]
    return Metrics(
        hit_rate=len(hits) / len(ranks),
        ndcg=sum(1 / math.log2(r + 1) for r in hits) / len(ranks),
    )


def format_report(report: EvaluationReport) -> str:
    """A small text table of the report."""
    k = report.k
    lines = [
        f"leave-last-out evaluation: {report.users} users, {report.items} items, "
        f"{report.interactions} interactions",
        f"{'method':<22}{'HR@' + str(k):>9}{'NDCG@' + str(k):>10}",
    ]
    for name, metrics in (
        ("item-to-item CF", report.cf),
        ("popularity baseline", report.popularity),
    ):
        lines.append(f"{name:<22}{metrics.hit_rate:>9.4f}{metrics.ndcg:>10.4f}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- the CSV log


def parse_timestamp(value: str) -> float:
    """Unix seconds from unix seconds or ISO 8601 text (no zone: UTC); ValueError otherwise."""
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds):
            raise ValueError(f"'{value}' is not a time")
        return seconds
    try:
        moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        raise ValueError(f"'{value}' is neither ISO 8601 nor unix seconds") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def read_log(path: Path) -> list[tuple[str, str, float]]:
    """The (user, item, unix seconds) rows of a CSV log; LogFileError names file:line."""
    try:
        text, _ = decode(path.read_bytes())
    except OSError as error:
        raise LogFileError([f"cannot read {path}: {error.strerror}"]) from None
    except CatalogFileError as error:
        raise LogFileError([f"{path}: {error}"]) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise LogFileError([str(RowError(str(path), 1, "header", "the file is empty"))]) from None
    except csv.Error as error:
        raise LogFileError(
            [str(RowError(str(path), 1, "header", f"malformed ({error})"))]
        ) from None
    missing = [c for c in LOG_COLUMNS if c not in header]
    if missing:
        reason = f"missing column(s) {', '.join(missing)} (need {','.join(LOG_COLUMNS)})"
        raise LogFileError([str(RowError(str(path), 1, "header", reason))])
    columns = [header.index(c) for c in LOG_COLUMNS]
    rows: list[tuple[str, str, float]] = []
    errors: list[RowError] = []
    line = reader.line_num + 1
    while len(errors) < MAX_LOG_ERRORS:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            errors.append(RowError(str(path), line, "line", f"malformed CSV ({error})"))
            break
        if any(cell.strip() for cell in cells):
            try:
                rows.append(_log_row(cells, header, columns))
            except _BadCell as bad:
                errors.append(RowError(str(path), line, bad.field, bad.reason))
        line = reader.line_num + 1
    if errors:
        raise LogFileError([str(e) for e in errors])
    return rows


class _BadCell(Exception):
    def __init__(self, field_name: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field_name
        self.reason = reason


def _log_row(cells: list[str], header: list[str], columns: list[int]) -> tuple[str, str, float]:
    if len(cells) != len(header):
        raise _BadCell("line", f"{len(cells)} cells, the header has {len(header)}")
    user, item, timestamp = (cells[c].strip() for c in columns)
    for name, value in (("user", user), ("item", item), ("timestamp", timestamp)):
        if not value:
            raise _BadCell(name, "is empty")
    try:
        return user, item, parse_timestamp(timestamp)
    except ValueError as error:
        raise _BadCell("timestamp", str(error)) from None


def export_log(session: Session, out: TextIO, kinds: Sequence[str] = EVENT_KINDS) -> int:
    """Write the shop's customer events of ``kinds`` as a CSV log; returns the row count.

    Users are customer ids and items product ids: no personal data leaves the database.
    """
    unknown = sorted(set(kinds) - set(EVENT_KINDS))
    if unknown:
        raise ValueError(f"unknown event kind(s) {', '.join(unknown)}")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(LOG_COLUMNS)
    statement = (
        select(CustomerEvent.customer_id, CustomerEvent.product_id, CustomerEvent.at)
        .where(CustomerEvent.kind.in_(sorted(set(kinds))))
        .order_by(CustomerEvent.customer_id, CustomerEvent.at, CustomerEvent.id)
        .execution_options(yield_per=EXPORT_BATCH)
    )
    count = 0
    for customer, product, at in session.execute(statement):
        writer.writerow((customer, product, at.isoformat(timespec="seconds")))
        count += 1
    return count
