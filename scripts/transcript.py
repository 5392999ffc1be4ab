"""Record a real conversation with the running bot (started here) as Markdown.

    .venv/bin/python -m scripts.transcript [--out docs/transcript.md]

The messages below are sent over the REST channel; product cards are shown as their title,
price and reasons, as the web chat would render them.
"""

from __future__ import annotations

import argparse
import uuid
from datetime import date
from pathlib import Path

import requests

from scripts.stack import ROOT, running_stack

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
}


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
        for title, messages in CONVERSATIONS.items():
            sender = uuid.uuid4().hex
            out += ["", f"## {title}", ""]
            for text in messages:
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
