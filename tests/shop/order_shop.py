"""Zhang's five orders in the mini shop (the ``shop`` fixture), shared by the order tests."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from kefu.db import session_scope
from kefu.models import (
    Brand,
    Category,
    Customer,
    Order,
    OrderItem,
    Payment,
    Product,
    Shipment,
    ShipmentEvent,
)

NOW = datetime(2026, 3, 3, 2, 0)  # 10:00 on 3 March, Beijing time
DELIVERED = datetime(2026, 3, 1, 2, 0)  # no-reason returns until the end of 8 March
AFTER_WINDOW = datetime(2026, 3, 9, 2, 0)
PHONE = "13812346093"
DETAIL = "科技园路1号"
ADDRESS = {
    "recipient": "张三丰",
    "phone": PHONE,
    "province": "广东省",
    "city": "深圳市",
    "district": "南山区",
    "detail": DETAIL,
}
NEW_PHONE = "13900001111"
NEW_DETAIL = "南山大道2号"
NEW_ADDRESS = {**ADDRESS, "phone": NEW_PHONE, "district": "福田区", "detail": NEW_DETAIL}
SECRETS = (PHONE, DETAIL, NEW_PHONE, NEW_DETAIL, "张三丰", "zhang@example.com")
LANGUAGES = ("zh", "en")
TAX_ID = "91110108MA01ABCD2X"


@dataclass
class Shop:
    factory: object
    customer_id: int
    orders: dict[str, int]  # name → order id
    items: dict[str, int]  # "order/sku" → order item id


def _snack(session) -> Product:
    """A product in food › snacks, a category without no-reason returns."""
    food = Category(key="food", name_zh="食品", name_en="Food", synonyms={})
    snacks = Category(key="snacks", parent=food, name_zh="零食", name_en="Snacks", synonyms={})
    brand = session.scalars(select(Brand)).first()
    return Product(
        sku="FD-NUTS",
        title_zh="每日坚果",
        title_en="Daily Nuts",
        brand=brand,
        category=snacks,
        price=Decimal("50.00"),
    )


def _order(customer, order_no, status, lines, created, method=None, discount="0", **times):
    items = [
        OrderItem(
            product=product,
            title_zh=product.title_zh,
            title_en=product.title_en,
            unit_price=product.price,
            quantity=quantity,
        )
        for product, quantity in lines
    ]
    items_total = sum((i.unit_price * i.quantity for i in items), Decimal("0"))
    order = Order(
        order_no=order_no,
        customer=customer,
        status=status,
        items_total=items_total,
        discount=Decimal(discount),
        total=items_total - Decimal(discount),
        shipping_address=dict(ADDRESS),
        created_at=created,
        items=items,
        **times,
    )
    if method:
        paid_at = times.get("paid_at")
        order.payments.append(
            Payment(
                method=method,
                amount=order.total,
                status="succeeded" if paid_at else "pending",
                created_at=paid_at or created,
            )
        )
    return order


def _ship(order, status, events):
    """A parcel with ``events`` (hours after shipping, description), stored out of order."""
    shipment = Shipment(
        carrier="SF",
        tracking_no="SF1234567890",
        status=status,
        shipped_at=order.shipped_at,
        delivered_at=order.delivered_at,
    )
    shipment.events = [
        ShipmentEvent(
            at=order.shipped_at + timedelta(hours=hours),
            location="深圳",
            description_zh=zh,
            description_en=en,
        )
        for hours, zh, en in events
    ]
    order.shipments.append(shipment)


@pytest.fixture
def shop(mini_shop) -> Shop:
    """Zhang's five orders: delivered (with a discount), shipped, cancelled-but-unrefunded,
    paid and unpaid (newest)."""
    with session_scope(mini_shop) as session:
        product = {p.sku: p for p in session.scalars(select(Product))}
        product["FD-NUTS"] = _snack(session)
        zhang = Customer(name="张三丰", phone=PHONE, email="zhang@example.com")
        day = timedelta(days=1)
        delivered = _order(
            zhang,
            "2602260900000001",
            "delivered",
            [(product["PH-XM-15"], 1), (product["FD-NUTS"], 2)],
            NOW - 5 * day,
            "wechat_pay",
            discount="100",
            paid_at=NOW - 5 * day,
            shipped_at=NOW - 4 * day,
            delivered_at=DELIVERED,
        )
        _ship(delivered, "delivered", [(0, "已揽件", "Picked up"), (40, "已签收", "Delivered")])
        shipped = _order(
            zhang,
            "2602280900000002",
            "shipped",
            [(product["LT-HW-XP"], 1)],
            NOW - 3 * day,
            "alipay",
            paid_at=NOW - 3 * day,
            shipped_at=NOW - day,
        )
        _ship(
            shipped,
            "in_transit",
            [
                (0, "快递员已揽件", "Picked up"),
                (12, "到达深圳转运中心", "Arrived at the Shenzhen hub"),
                (6, "离开广州转运中心", "Left the Guangzhou hub"),
            ],
        )
        cancelled = _order(
            zhang,
            "2603010900000003",
            "cancelled",
            [(product["SH-NK-AF1"], 1)],
            NOW - 2 * day,
            "alipay",
            paid_at=NOW - 2 * day,
            cancelled_at=NOW - day,
            cancel_reason="拍错了",
        )
        paid = _order(
            zhang,
            "2603020900000004",
            "paid",
            [(product["PH-HW-M80"], 1), (product["SH-NK-AF1"], 2)],
            NOW - day,
            "alipay",
            paid_at=NOW - day,
        )
        unpaid = _order(
            zhang, "2603030900000005", "pending_payment", [(product["PH-AP-18"], 1)], NOW, "alipay"
        )
        named = {
            "delivered": delivered,
            "shipped": shipped,
            "cancelled": cancelled,
            "paid": paid,
            "unpaid": unpaid,
        }
        session.add_all(named.values())
        session.flush()
        items = {
            f"{name}/{item.product.sku}": item.id
            for name, order in named.items()
            for item in order.items
        }
        return Shop(mini_shop, zhang.id, {n: o.id for n, o in named.items()}, items)
