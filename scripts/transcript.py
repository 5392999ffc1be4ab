"""Record a real conversation with the running bot (started here) as Markdown.

    .venv/bin/python -m scripts.transcript [--out docs/transcript.md]

The messages below are sent over the REST channel; product cards are shown as their title,
price and reasons, as the web chat would render them.  The after-sales conversations use a
shipped, an unshipped and a delivered order of the demo shop (``{shipped}``, ``{paid}``,
``{delivered}``) and the last 4 digits of their phones; ``{code}`` is the confirmation code
that went to the phone on the order (the development outbox).
"""

from __future__ import annotations

import argparse
import uuid
from datetime import date
from pathlib import Path

import requests

from scripts.stack import ROOT, running_stack
from tests.outbox import latest_code

CONVERSATIONS = {
    "中文": [
        "有什么新款手机推荐？",
        "第二个怎么样",
        "比较一下前两个",
        "有没有更便宜的",
        "换个牌子",
        "还有吗",
        "第一个黑色有货吗",
        "怎么买",
        "想买个耳机，推荐一下",
        "两千以内",
        "有诺基亚手机吗",
        "0元的电视推荐一个",
    ],
    "English": [
        "any good laptops under 5000 yuan?",
        "tell me more about the first one",
        "compare the first two",
        "any coupons right now?",
    ],
    "售后 (after-sales, 中文)": [
        "我的快递到哪了",
        "{shipped}",
        "{wrong_last4}",
        "{shipped}",
        "{shipped_last4}",
        "七天无理由退货怎么算",
        "订单 {paid} 不想要了，帮我取消",
        "{paid_last4}",
        "确认",
        "{code}",
    ],
    "After-sales (English)": [
        "I need an invoice for order {delivered}",
        "{delivered_last4}",
        "personal",
        "/deny",
        "how long is the warranty on laptops?",
        "I forgot my password",
    ],
}


def demo_orders() -> dict[str, str]:
    """Shipped, unshipped and delivered orders of the demo shop, with their phones' last digits."""
    from sqlalchemy import select

    from kefu.db import make_engine, make_session_factory
    from kefu.models import Order

    def last4(order: Order) -> str:
        phone = (order.shipping_address or {}).get("phone") or order.customer.phone
        return "".join(c for c in phone if c.isdigit())[-4:]

    engine = make_engine()
    with make_session_factory(engine)() as session:
        shipped = session.scalars(
            select(Order).where(Order.status == "shipped").order_by(Order.id)
        ).first()
        paid = session.scalars(
            select(Order)
            .where(Order.status == "paid", Order.shipped_at.is_(None))
            .order_by(Order.id.desc())
        ).first()
        delivered = session.scalars(
            select(Order).where(Order.status == "delivered").order_by(Order.id.desc())
        ).first()
        values = {
            "delivered": delivered.order_no,
            "delivered_last4": last4(delivered),
            "shipped": shipped.order_no,
            "shipped_last4": last4(shipped),
            "wrong_last4": "0000" if last4(shipped) != "0000" else "1111",
            "paid": paid.order_no,
            "paid_last4": last4(paid),
        }
    engine.dispose()
    return values


def render(message: dict) -> list[str]:
    """One bot message as Markdown lines."""
    lines = []
    if message.get("text"):
        lines += [f"> {line}" if line else ">" for line in message["text"].split("\n")]
    for card in (message.get("custom") or {}).get("cards", []):
        was = f" ~~{card['list_price']}~~" if card.get("list_price") else ""
        reasons = f" — {'; '.join(card['reasons'])}" if card.get("reasons") else ""
        lines.append(f"> 🛒 **{card['position']}. {card['title']}** {card['price']}{was}{reasons}")
    if message.get("buttons"):
        lines.append("> " + " ".join(f"[{b['title']}]" for b in message["buttons"]))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "transcript.md"))
    args = parser.parse_args()
    out = [
        "# A real conversation",
        "",
        f"Recorded {date.today()} with `python -m scripts.transcript` against the demo shop; "
        "nothing here is edited. Cards are shown as title, price and reasons.",
    ]
    with running_stack() as stack:
        orders = demo_orders()
        for title, messages in CONVERSATIONS.items():
            sender = uuid.uuid4().hex
            out += ["", f"## {title}", ""]
            for template in messages:
                if "{code}" in template:  # the code that went to the phone on the order
                    orders["code"] = latest_code(stack.outbox, orders["paid"])
                text = template.format(**orders)
                reply = requests.post(
                    f"{stack.url}/webhooks/rest/webhook",
                    json={"sender": sender, "message": text},
                    timeout=60,
                ).json()
                out += [f"**Customer:** {text}", ""]
                for message in reply:
                    out += render(message)
                out.append("")
    Path(args.out).write_text("\n".join(out) + "\n", encoding="utf-8")
    print(f"transcript: {args.out}")


if __name__ == "__main__":
    main()
