"""Fill the report with real conversations: start kefu, send the demo customers' messages
(kefu/demo/conversations.yml) through the REST channel, then write the report.

    python -m scripts.demo_report [--out results/report.html]     (make demo-report)
"""

from __future__ import annotations

import argparse
import sys
import uuid
from pathlib import Path

import requests
import yaml

from kefu.cli import main as kefu_main
from scripts.stack import ROOT, running_stack

CONVERSATIONS = ROOT / "kefu" / "demo" / "conversations.yml"


def send_demo_traffic(url: str, path: Path = CONVERSATIONS) -> int:
    """Send every demo conversation to the bot at ``url``; returns the number of messages."""
    conversations = yaml.safe_load(path.read_text(encoding="utf-8"))["conversations"]
    sent = 0
    for messages in conversations:
        sender = f"demo-{uuid.uuid4().hex[:12]}"
        for text in messages:
            response = requests.post(
                f"{url}/webhooks/rest/webhook",
                json={"sender": sender, "message": text},
                timeout=60,
            )
            response.raise_for_status()
            sent += 1
    return sent


def main(argv: list[str] | None = None) -> int:
    """Run the traffic against a fresh kefu and write the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "report.html")
    args = parser.parse_args(argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with running_stack() as stack:
        sent = send_demo_traffic(stack.url)
    print(f"demo: {sent} customer messages sent")
    return kefu_main(
        [
            "report",
            "--since",
            "1d",
            "--out",
            str(args.out),
            "--json",
            str(args.out.with_suffix(".json")),
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
