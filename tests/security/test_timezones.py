"""Times do not depend on the host's time zone.

kefu keeps time in UTC: aware datetimes in the code, naive UTC in the shop database's
``DateTime`` columns (:mod:`kefu.clock`).  A host in Beijing or New York, or a PostgreSQL session
in either, must give the same cancellation windows, return deadlines, erasure dates, running
promotions and report periods.  ``datetime.utcnow().timestamp()`` once read a 30-minute lock as
8.5 hours on a UTC+8 host; ``datetime.now()`` or ``date.today()`` would shift a deadline by a day.

:func:`test_time_sensitive_tests_pass_in_zone` runs the time-sensitive tests (those below and
the unit and shop tests of orders, policies, accounts, promotions, ratings and the report) in a
subprocess under ``TZ`` (and ``PGTZ``) set to each zone in :data:`ZONES`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from kefu.clock import UTC, as_utc, from_timestamp, to_db, utc_now, utc_today
from kefu.policies import can_cancel, can_return, erasure_due, erasure_is_due, policies

ROOT = Path(__file__).resolve().parents[2]
ZONES = ("Asia/Shanghai", "America/New_York")
TIME_SENSITIVE = (
    "tests/unit/test_policies.py",
    "tests/unit/test_report_metrics.py",
    "tests/unit/test_evaluation.py",
    "tests/shop/test_orders.py",
    "tests/shop/test_account.py",
    "tests/shop/test_products.py",
    "tests/shop/test_csat.py",
    "tests/shop/test_report.py",
    "tests/security/test_timezones.py",
)
_CHILD = "KEFU_TZ_TEST_ZONE"  # set in the subprocess: the zone it runs in

SHANGHAI, NEW_YORK = ZoneInfo("Asia/Shanghai"), ZoneInfo("America/New_York")


@pytest.fixture(scope="module")
def zone_runs():
    """One subprocess per zone, all started at once (they run side by side)."""
    runs = {}
    for zone in ZONES:
        env = {**os.environ, "TZ": zone, "PGTZ": zone, _CHILD: zone}
        runs[zone] = subprocess.Popen(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *TIME_SENSITIVE],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
    yield runs
    for run in runs.values():
        if run.poll() is None:
            run.kill()
            run.wait()


@pytest.mark.skipif(bool(os.environ.get(_CHILD)), reason="runs in the parent only")
@pytest.mark.parametrize("zone", ZONES)
def test_time_sensitive_tests_pass_in_zone(zone, zone_runs):
    output, _ = zone_runs[zone].communicate(timeout=1200)
    summary = output.strip().splitlines()[-1:] or [""]
    assert zone_runs[zone].returncode == 0, f"TZ={zone}: {summary[0]}\n{output[-4000:]}"
    assert " passed" in summary[0], summary[0]


def test_the_zone_asked_for_is_in_effect():
    zone = os.environ.get(_CHILD)
    if not zone:
        pytest.skip("checked in the subprocesses")
    january = time.localtime(datetime(2026, 1, 15, tzinfo=UTC).timestamp())
    assert january.tm_gmtoff == {"Asia/Shanghai": 8, "America/New_York": -5}[zone] * 3600


# ---- kefu.clock -------------------------------------------------------------------------------


def test_clock_is_utc_whatever_the_host():
    now = utc_now()
    assert now.tzinfo is UTC and abs(now.timestamp() - time.time()) < 5
    assert utc_today() in {now.date(), (now + timedelta(seconds=5)).date()}
    assert from_timestamp(0) == datetime(1970, 1, 1, tzinfo=UTC)
    naive = datetime(2026, 3, 1, 16, 0)  # as the database returns it: UTC
    shanghai = datetime(2026, 3, 2, 0, 0, tzinfo=SHANGHAI)
    new_york = datetime(2026, 3, 1, 11, 0, tzinfo=NEW_YORK)
    assert as_utc(naive) == as_utc(shanghai) == as_utc(new_york) == naive.replace(tzinfo=UTC)
    assert to_db(shanghai) == to_db(new_york) == to_db(naive) == naive
    assert to_db(shanghai).tzinfo is None
    # comparing what the database returns with what the code holds does not raise
    assert as_utc(naive) <= utc_now()


# ---- order-time decisions ---------------------------------------------------------------------


def test_cancellation_window_with_naive_and_aware_times():
    p = policies()
    shipped_at = to_db(utc_now() + timedelta(minutes=10))  # stored: ships in 10 minutes
    assert can_cancel(p, "paid", to_db(utc_now()), shipped_at).allowed  # now: the default
    soon = utc_now().astimezone(SHANGHAI) + timedelta(minutes=5)
    assert can_cancel(p, "paid", to_db(utc_now()), shipped_at, soon).allowed
    later = (utc_now() + timedelta(minutes=11)).astimezone(NEW_YORK)
    assert not can_cancel(p, "paid", to_db(utc_now()), shipped_at, later).allowed
    assert not can_cancel(
        p, "paid", None, shipped_at, to_db(utc_now() + timedelta(hours=1))
    ).allowed


def test_address_change_window_in_orders():
    from kefu.orders import _check_address, _shop_time

    p = policies()
    order = SimpleNamespace(status="paid", shipped_at=to_db(utc_now() + timedelta(minutes=10)))
    for now in (utc_now(), utc_now().astimezone(SHANGHAI), to_db(utc_now())):
        assert _check_address(p, order, {}, now).allowed
    shipped = utc_now().astimezone(NEW_YORK) + timedelta(minutes=11)
    assert not _check_address(p, order, {}, shipped).allowed
    # shown on the shop's clock (UTC+8): 16:30 UTC on 1 March is 00:30 on 2 March
    assert p.utc_offset_hours == 8
    shown = datetime(2026, 3, 2, 0, 30)
    assert _shop_time(p, datetime(2026, 3, 1, 16, 30)) == shown
    assert _shop_time(p, datetime(2026, 3, 1, 11, 30, tzinfo=NEW_YORK)) == shown


@pytest.mark.parametrize(
    ("delivered", "deadline"),
    [
        (datetime(2026, 3, 1, 15, 59), date(2026, 3, 8)),  # 23:59 on 1 March, shop time
        (datetime(2026, 3, 1, 16, 1), date(2026, 3, 9)),  # 00:01 on 2 March, shop time
        (datetime(2026, 3, 1, 10, 59, tzinfo=NEW_YORK), date(2026, 3, 8)),  # = 15:59 UTC
        (datetime(2026, 3, 2, 0, 1, tzinfo=SHANGHAI), date(2026, 3, 9)),  # = 16:01 UTC
    ],
)
def test_return_window_is_counted_in_shop_days(delivered, deadline):
    p = policies()
    assert p.returns.no_reason_days == 7
    # the last moment of the deadline, shop time, is 15:59:59 UTC that day
    last = datetime.combine(deadline, datetime.min.time(), tzinfo=UTC) + timedelta(
        hours=16, seconds=-1
    )
    for now in (last, last.astimezone(NEW_YORK), to_db(last)):
        decision = can_return(p, "delivered", delivered, ["phones"], "no_reason", now)
        assert decision.allowed and decision.params["deadline"] == deadline
    for now in (last + timedelta(seconds=2), (last + timedelta(seconds=2)).astimezone(SHANGHAI)):
        assert not can_return(p, "delivered", delivered, ["phones"], "no_reason", now).allowed


def test_erasure_dates_are_shop_days():
    p = policies()
    requested = datetime(2026, 3, 1, 16, 30, tzinfo=UTC)  # 00:30 on 2 March, shop time
    due = erasure_due(p, requested)
    assert due == erasure_due(p, requested.astimezone(NEW_YORK)) == erasure_due(p, to_db(requested))
    assert due == date(2026, 3, 2) + timedelta(days=p.account.erasure_grace_days)
    end_of_due = datetime.combine(due, datetime.min.time(), tzinfo=UTC) + timedelta(hours=16)
    assert not erasure_is_due(p, due, end_of_due - timedelta(seconds=1))
    assert erasure_is_due(p, due, (end_of_due + timedelta(seconds=1)).astimezone(NEW_YORK))


# ---- the database boundary --------------------------------------------------------------------


def test_running_promotions_are_found_at_the_current_utc_time(tmp_path):
    from kefu import migrate
    from kefu.db import make_engine, make_session_factory, session_scope
    from kefu.models import Promotion
    from kefu.promotions import active_offers

    url = f"sqlite:///{tmp_path}/shop.db"
    migrate.upgrade(url)
    factory = make_session_factory(make_engine(url))
    now = utc_now()
    # running for the next hour only: a clock off by the host's offset misses it
    rows = {"NOW": (now - timedelta(minutes=5), now + timedelta(hours=1))}
    rows["SOON"] = (now + timedelta(hours=1), now + timedelta(hours=30))
    rows["OVER"] = (now - timedelta(hours=30), now - timedelta(hours=1))
    with session_scope(factory) as session:
        for code, (start, end) in rows.items():
            session.add(
                Promotion(
                    code=code,
                    title_zh=code,
                    title_en=code,
                    kind="amount_off",
                    value=Decimal(10),
                    min_spend=Decimal(0),
                    starts_at=to_db(start),
                    ends_at=to_db(end),
                )
            )
    with session_scope(factory) as session:
        stored = session.query(Promotion).filter_by(code="NOW").one()
        assert stored.starts_at.tzinfo is None  # naive UTC, as written
        assert as_utc(stored.starts_at) == now - timedelta(minutes=5)
        offers = {o.code: o for o in active_offers(session, "zh")}
        assert set(offers) == {"NOW"}
        assert offers["NOW"].ends_at.tzinfo is not None  # aware UTC out of kefu
        in_new_york = {o.code for o in active_offers(session, "zh", now.astimezone(NEW_YORK))}
        in_shanghai = {o.code for o in active_offers(session, "zh", to_db(now))}
        assert in_new_york == in_shanghai == {"NOW"}


def test_no_host_local_time_in_the_shop_library():
    """``datetime.utcnow()`` (naive, and misread by ``.timestamp()``), ``datetime.now()``
    without a zone and ``date.today()`` depend on the host; kefu uses :mod:`kefu.clock`."""
    import re

    pattern = re.compile(r"datetime\.utcnow\(|datetime\.now\(\)|date\.today\(\)")
    mine = [
        "customer_input",
        "address",
        "budget",
        "references",
        "orders",
        "policies",
        "account",
        "promotions",
        "importer",
        "recommend",
        "csat",
        "cli",
        "demo/generate",
        "report/__init__",
        "report/metrics",
        "report/sources",
    ]
    found = [
        f"kefu/{name}.py:{number}"
        for name in mine
        for number, line in enumerate((ROOT / f"kefu/{name}.py").read_text().splitlines(), 1)
        if pattern.search(line) and not line.lstrip().startswith("#")
    ]
    assert not found, f"host-dependent time in {found}"
    assert datetime.now(timezone.utc).tzinfo is not None  # what to write instead
