"""Time in kefu: aware UTC datetimes in the code, naive UTC datetimes in the database.

The shop database stores UTC without a time zone (``DateTime`` columns, see
:mod:`kefu.models`): SQLite and PostgreSQL hand those values back naive.  Everything else works
with aware UTC datetimes, never with the host's local time (``datetime.now()``,
``datetime.utcnow().timestamp()``, ``date.today()`` all depend on the host's time zone):

* :func:`utc_now` is the current time;
* :func:`as_utc` reads a value from either side: a naive one is UTC (as the database and older
  callers write them), an aware one is converted;
* :func:`to_db` is what a ``DateTime`` column is given: naive UTC;
* :func:`utc_today` is today's date in UTC (the shop's calendar date comes from its UTC offset,
  :mod:`kefu.policies`).

Comparing a naive and an aware datetime raises ``TypeError``: compare ``as_utc(a) <= as_utc(b)``.
"""

from __future__ import annotations

from datetime import date, datetime, timezone

UTC = timezone.utc


def utc_now() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


def utc_today() -> date:
    """Today's date in UTC, wherever the host is."""
    return utc_now().date()


def as_utc(moment: datetime) -> datetime:
    """``moment`` as an aware UTC datetime; a naive ``moment`` is taken to be UTC already."""
    if moment.tzinfo is None or moment.tzinfo.utcoffset(moment) is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def to_db(moment: datetime) -> datetime:
    """``moment`` as the database stores it: naive UTC."""
    return as_utc(moment).replace(tzinfo=None)


def from_timestamp(seconds: float) -> datetime:
    """A POSIX timestamp as an aware UTC datetime (``datetime.fromtimestamp`` without a time
    zone would give the host's local time)."""
    return datetime.fromtimestamp(seconds, UTC)
