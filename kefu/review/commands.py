"""``kefu review``: collect, list, annotate (from a file) and export (registered by kefu.cli)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from kefu.arguments import positive_int
from kefu.clock import utc_now
from kefu.db import session_scope
from kefu.models import REVIEW_STATUSES
from kefu.review.settings import ROOT, ReviewConfigError, load_settings

LIST_LIMIT = 50


def _domain(args: argparse.Namespace):
    from kefu.review.nlu_files import load_domain

    return load_domain(args.domain)


def cmd_collect(args: argparse.Namespace) -> int:
    from kefu.production import ProfileError, apply_profile
    from kefu.review import queue
    from kefu_rasa.review_source import TrackerSourceError, read_turns

    try:
        settings = load_settings(args.config)
        endpoints = args.endpoints or ROOT / apply_profile()
        source, conversations = read_turns(Path(endpoints), args.domain, settings)
    except (ReviewConfigError, ProfileError, TrackerSourceError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    with session_scope(args.session_factory()) as session:
        since = queue.cursor(session, source)
        done, until = queue.collect(session, conversations, since)
        queue.move_cursor(session, source, until)
        waiting = queue.counts(session)[queue.PENDING]
    print(
        f"read {done.conversations} conversation(s): {done.messages} message(s) to review, "
        f"{done.added} new in the queue, {done.merged} already there; {waiting} pending"
    )
    return 0


def _status(value: str) -> str | None:
    if value == "all":
        return None
    if value not in REVIEW_STATUSES:
        raise argparse.ArgumentTypeError(f"one of {', '.join(REVIEW_STATUSES)}, all")
    return value


def cmd_list(args: argparse.Namespace) -> int:
    from kefu.review import queue
    from kefu.review.annotation_file import dump_items

    with session_scope(args.session_factory()) as session:
        found = queue.items(session, args.status, limit=args.limit)
        counts = queue.counts(session)
        if args.out:
            args.out.write_text(dump_items(found), encoding="utf-8")
        lines = [
            f"{item.id:>5}  {item.status:<9} {item.language}  ×{item.seen:<3} "
            f"{','.join(item.reasons):<28} {item.intent or item.predicted_intent or '-':<26} "
            f"{item.text}"
            for item in found
        ]
    if args.out:
        print(f"wrote {len(found)} item(s) to {args.out}")
    else:
        print("\n".join(lines) if lines else "no items")
    print(", ".join(f"{count} {status}" for status, count in counts.items()))
    return 0


def cmd_annotate(args: argparse.Namespace) -> int:
    from kefu.review.annotation_file import AnnotationFileError, apply_entries, read_entries

    try:
        entries = read_entries(args.file.read_text(encoding="utf-8"))
    except (OSError, AnnotationFileError) as error:
        print(f"error: {args.file}: {error}", file=sys.stderr)
        return 2
    with session_scope(args.session_factory()) as session:
        done = apply_entries(session, entries, args.by, _domain(args), utc_now())
    for error in done.errors:
        print(f"error: {error}", file=sys.stderr)
    print(
        f"annotated {done.annotated}, discarded {done.discarded}, "
        f"left for later {done.skipped}, refused {len(done.errors)}"
    )
    return 1 if done.errors else 0


def cmd_export(args: argparse.Namespace) -> int:
    from kefu.review.export import export
    from kefu.review.nlu_files import load_nlu_data

    nlu = load_nlu_data(args.data, args.tests, args.stories)
    with session_scope(args.session_factory()) as session:
        report = export(session, nlu, utc_now(), write=not args.dry_run)
    for line in report.lines():
        print(line)
    print(("dry run: " if args.dry_run else "") + report.summary())
    if report.written and not args.dry_run:
        print("next: make train, then make test-nlu gate")
    return 1 if report.conflicts else 0


def add_commands(commands: argparse._SubParsersAction, session_factory: Callable) -> None:
    """``kefu review …`` on the shop database of ``session_factory()``."""
    review = commands.add_parser(
        "review", help="review-and-retrain: messages the bot may have misunderstood"
    ).add_subparsers(dest="action", required=True)
    domain = {"type": Path, "default": ROOT / "domain.yml", "help": "default: domain.yml"}

    collect = review.add_parser("collect", help="queue messages from the tracker store")
    collect.add_argument("--endpoints", type=Path, help="default: the profile's (endpoints.yml)")
    collect.add_argument("--config", type=Path, help="default: KEFU_REVIEW_CONFIG or review.yml")
    collect.add_argument("--domain", **domain)
    collect.set_defaults(session_factory=session_factory, func=cmd_collect)

    lister = review.add_parser("list", help="show the queue, or write it for annotating")
    lister.add_argument("--status", type=_status, default="pending", help="or all")
    lister.add_argument("--limit", type=positive_int, default=LIST_LIMIT)
    lister.add_argument("--out", type=Path, help="write an annotation file (YAML)")
    lister.set_defaults(session_factory=session_factory, func=cmd_list)

    annotate = review.add_parser("annotate", help="store the annotations of a file")
    annotate.add_argument("file", type=Path)
    annotate.add_argument("--by", required=True, help="who annotated")
    annotate.add_argument("--domain", **domain)
    annotate.set_defaults(session_factory=session_factory, func=cmd_annotate)

    exporter = review.add_parser("export", help="write the annotations into data/nlu")
    exporter.add_argument("--data", type=Path, default=ROOT / "data" / "nlu")
    exporter.add_argument(
        "--tests", type=Path, default=ROOT / "tests" / "nlu", help="held-out NLU examples"
    )
    exporter.add_argument(
        "--stories", type=Path, default=ROOT / "tests" / "stories", help="held-out test stories"
    )
    exporter.add_argument("--dry-run", action="store_true", help="report only")
    exporter.set_defaults(session_factory=session_factory, func=cmd_export)
