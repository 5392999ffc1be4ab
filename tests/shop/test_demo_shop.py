"""The demo shop: big enough, in every state, consistent, reproducible (both backends)."""

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from kefu.db import session_scope
from kefu.demo.generate import DemoShopError, load_demo_shop
from kefu.models import (
    ORDER_STATUSES,
    Category,
    Customer,
    CustomerEvent,
    Invoice,
    Order,
    OrderItem,
    Product,
    Refund,
    ReturnRequest,
    Shipment,
    ShipmentEvent,
)
from kefu.search import SearchQuery, search

NOW = datetime(2026, 11, 30, 12, 0, 0)


@pytest.fixture(scope="module")
def demo(database_url):
    from kefu.db import make_engine, make_session_factory
    from kefu.models import Base

    engine = make_engine(database_url)
    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        summary = load_demo_shop(session, seed=11, now=NOW)
    yield factory, summary
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())
    engine.dispose()


def count(session, model, *where):
    return session.scalar(select(func.count()).select_from(model).where(*where))


def test_size(demo):
    factory, summary = demo
    assert summary.products >= 1000
    assert summary.customers >= 300
    assert summary.orders >= 5000
    with session_scope(factory) as session:
        leaves = [c for c in session.scalars(select(Category)) if not c.children]
        assert len(leaves) >= 15
        assert count(session, CustomerEvent, CustomerEvent.kind == "view") > 5000


def test_orders_cover_every_status_over_twelve_months(demo):
    factory, _ = demo
    with session_scope(factory) as session:
        statuses = dict(
            session.execute(select(Order.status, func.count()).group_by(Order.status)).all()
        )
        assert set(statuses) == set(ORDER_STATUSES)
        oldest, newest = session.execute(
            select(func.min(Order.created_at), func.max(Order.created_at))
        ).one()
        assert NOW - oldest <= timedelta(days=366) and NOW - oldest > timedelta(days=300)
        assert newest <= NOW
        assert count(session, Order, Order.total <= 0) == 0


def test_order_timelines_are_consistent(demo):
    factory, _ = demo
    with session_scope(factory) as session:
        shipped = count(session, Order, Order.status.in_(("shipped", "delivered", "completed")))
        assert count(session, Shipment) == shipped
        assert count(session, Order, Order.status == "delivered", Order.delivered_at.is_(None)) == 0
        assert (
            count(session, Order, Order.status == "pending_payment", Order.paid_at.isnot(None)) == 0
        )
        assert count(session, Order, Order.shipped_at < Order.paid_at) == 0
        assert count(session, ShipmentEvent) >= 3 * shipped
        assert count(session, ShipmentEvent, ShipmentEvent.at > NOW) == 0


def test_after_sales_records_exist(demo):
    factory, _ = demo
    with session_scope(factory) as session:
        assert count(session, ReturnRequest) >= 100
        assert count(session, Refund) >= 100
        assert count(session, Invoice, Invoice.status == "issued") >= 500
        returned = session.scalars(select(ReturnRequest.order_id)).all()
        statuses = set(session.scalars(select(Order.status).where(Order.id.in_(returned))))
        assert statuses <= {"delivered", "completed"}


def test_every_order_item_is_a_real_product(demo):
    factory, _ = demo
    with session_scope(factory) as session:
        orphans = session.scalar(
            select(func.count())
            .select_from(OrderItem)
            .outerjoin(Product, Product.id == OrderItem.product_id)
            .where(Product.id.is_(None))
        )
        assert orphans == 0
        assert count(session, Customer, Customer.phone.is_(None)) == 0


def test_newest_phones_are_answerable(demo):
    factory, _ = demo
    with session_scope(factory) as session:
        result = search(session, SearchQuery(text="手机", sort="newest", limit=3))
        newest = session.scalars(select(Product).where(Product.id.in_(result.product_ids))).all()
        assert len(newest) == 3
        assert all(p.release_date.year == 2026 for p in newest)


def test_demo_refuses_a_database_with_products(demo):
    factory, _ = demo
    with session_scope(factory) as session, pytest.raises(DemoShopError):
        load_demo_shop(session)


def test_same_seed_same_shop(tmp_path):
    from kefu import migrate
    from kefu.db import make_engine, make_session_factory

    numbers = []
    for n in range(2):
        url = f"sqlite:///{tmp_path}/demo{n}.db"
        migrate.upgrade(url)
        factory = make_session_factory(make_engine(url))
        with session_scope(factory) as session:
            load_demo_shop(session, seed=5, now=NOW)
            numbers.append(
                session.scalars(select(Order.order_no).order_by(Order.id).limit(50)).all()
            )
    assert numbers[0] == numbers[1]
