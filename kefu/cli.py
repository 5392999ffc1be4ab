"""``kefu``: the merchant's command line (database, demo shop, catalog import/export, search,
recommendation evaluation, customer tokens, privacy: erasure, export, retention, data keys)."""

from __future__ import annotations

import argparse
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path

from kefu import migrate
from kefu.arguments import positive_int
from kefu.db import database_url, make_engine, make_session_factory, session_scope
from kefu.privacy.commands import add_commands as add_privacy_commands
from kefu.review.commands import add_commands as add_review_commands


def _session_factory():
    migrate.upgrade()
    return make_session_factory(make_engine())


def _safe_url(url: str) -> str:
    """The database URL without its password, for messages."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        credentials, host = rest.rsplit("@", 1)
        user = credentials.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return url


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    migrate.upgrade()
    print(f"database schema is up to date ({_safe_url(database_url())})")
    return 0


def cmd_demo_load(args: argparse.Namespace) -> int:
    from sqlalchemy import func, select

    from kefu.demo.generate import load_demo_shop
    from kefu.models import Product

    factory = _session_factory()
    with session_scope(factory) as session:
        if args.if_empty and session.scalar(select(func.count()).select_from(Product)):
            print("demo shop: the database already has products; nothing loaded")
            return 0
        summary = load_demo_shop(session, seed=args.seed)
    print(
        f"demo shop loaded: {summary.products} products in {summary.categories} categories, "
        f"{summary.brands} brands, {summary.customers} customers, {summary.orders} orders, "
        f"{summary.events} browse/purchase events"
    )
    return 0


def cmd_demo_serve(args: argparse.Namespace) -> int:
    from kefu.demo.site import DemoRefused, resolve_bot_url, serve

    try:
        bot_url = resolve_bot_url(args.bot_url)
        serve(_session_factory(), host=args.host, port=args.port, bot_url=bot_url)
    except (ValueError, DemoRefused) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


def cmd_agent_serve(args: argparse.Namespace) -> int:
    from kefu.agent_console import ConsoleConfigError, load_settings, serve

    try:
        settings = load_settings(args.rasa_url)
    except ConsoleConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    serve(_session_factory(), settings, host=args.host, port=args.port)
    return 0


def cmd_agent_hash_password(args: argparse.Namespace) -> int:
    from getpass import getpass

    from kefu.agent_console import MIN_PASSWORD_CHARS, hash_password

    # from the terminal without echo, or the first line piped in
    tty = sys.stdin.isatty()
    password = getpass("password: ") if tty else sys.stdin.readline().rstrip("\r\n")
    if len(password) < MIN_PASSWORD_CHARS:
        print(f"error: a password needs at least {MIN_PASSWORD_CHARS} characters", file=sys.stderr)
        return 1
    print(hash_password(password))
    return 0


def cmd_agent_audit(args: argparse.Namespace) -> int:
    from datetime import datetime, timezone

    from kefu.console.guard import audit_lines

    now = datetime.now(timezone.utc)
    try:
        with session_scope(_session_factory()) as session:
            lines = audit_lines(
                session, args.since, now, agent=args.agent, ticket_id=args.ticket, limit=args.limit
            )
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print("\n".join(lines))
    return 0


def cmd_catalog_import(args: argparse.Namespace) -> int:
    from kefu.importer import CatalogFileError, import_catalog

    factory = _session_factory()
    try:
        with session_scope(factory) as session:
            report = import_catalog(
                session, args.file, skip_invalid=args.skip_invalid, progress=not args.no_progress
            )
            if not report.written:
                session.rollback()
    except CatalogFileError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if report.encoding != "utf-8":
        print(f"note: {args.file} was read as {report.encoding.upper()} (GBK-compatible)")
    for error in report.errors:
        print(f"error: {error}", file=sys.stderr)
    if report.invalid > len(report.errors):
        print(f"error: … and {report.invalid - len(report.errors)} more", file=sys.stderr)
    if not report.written:
        print(
            f"import cancelled: {report.invalid} invalid row(s); nothing was changed. "
            "Fix them, or use --skip-invalid to import the valid rows only.",
            file=sys.stderr,
        )
        return 1
    skipped = f", {report.invalid} invalid row(s) skipped" if report.invalid else ""
    print(f"imported: {report.created} created, {report.updated} updated{skipped}")
    return 1 if report.invalid else 0


def cmd_catalog_export(args: argparse.Namespace) -> int:
    from kefu.importer import export_records, write_export

    factory = _session_factory()
    with session_scope(factory) as session:
        if args.out:
            with open(args.out, "w", encoding="utf-8", newline="") as out:
                count = write_export(export_records(session), out, args.format)
            print(f"exported {count} products to {args.out}", file=sys.stderr)
        else:
            write_export(export_records(session), sys.stdout, args.format)
    return 0


def _decimal(value: str) -> Decimal:
    try:
        return Decimal(value)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"'{value}' is not a number") from None


def cmd_search(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from kefu.models import Product
    from kefu.search import SearchError, SearchQuery, search

    factory = _session_factory()
    query = SearchQuery(
        text=" ".join(args.text),
        category=args.category,
        brands=args.brand or [],
        min_price=args.min_price,
        max_price=args.max_price,
        in_stock_only=args.in_stock,
        sort=args.sort,
        limit=args.limit,
    )
    with session_scope(factory) as session:
        try:
            result = search(session, query)
        except SearchError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        products = {
            p.id: p
            for p in session.scalars(select(Product).where(Product.id.in_(result.product_ids)))
        }
        for product_id in result.product_ids:
            p = products[product_id]
            print(f"{p.sku:<22} ¥{p.price:>10}  {p.release_date}  {p.title_zh} / {p.title_en}")
    ignored = f" (ignored: {', '.join(result.ignored_words)})" if result.ignored_words else ""
    print(f"{result.total} match(es){ignored}", file=sys.stderr)
    return 0


def cmd_recommend_evaluate(args: argparse.Namespace) -> int:
    import json

    from kefu.evaluation import LogFileError, evaluate, format_report, read_log

    try:
        rows = read_log(args.log)
    except LogFileError as error:
        for line in error.errors:
            print(f"error: {line}", file=sys.stderr)
        return 1
    report = evaluate(rows, k=args.k)
    print(json.dumps(report.to_dict(), indent=2) if args.json else format_report(report))
    return 0


def _event_kinds(value: str) -> list[str]:
    from kefu.models import EVENT_KINDS

    kinds = [k.strip() for k in value.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in EVENT_KINDS]
    if unknown or not kinds:
        raise argparse.ArgumentTypeError(
            f"'{value}': give comma-separated event kinds of {', '.join(EVENT_KINDS)}"
        )
    return kinds


def cmd_recommend_export_log(args: argparse.Namespace) -> int:
    from kefu.evaluation import export_log

    factory = _session_factory()
    with (
        session_scope(factory) as session,
        open(args.out, "w", encoding="utf-8", newline="") as out,
    ):
        count = export_log(session, out, args.kinds)
    print(f"exported {count} events ({', '.join(args.kinds)}) to {args.out}", file=sys.stderr)
    return 0


def cmd_identity_token(args: argparse.Namespace) -> int:
    from kefu.identity import IdentitySecretError, identity_secret, issue_token
    from kefu.models import Customer

    try:
        secret = identity_secret()
    except IdentitySecretError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    factory = _session_factory()
    with session_scope(factory) as session:
        if session.get(Customer, args.customer_id) is None:
            print(f"error: there is no customer with id {args.customer_id}", file=sys.stderr)
            return 1
    print(issue_token(args.customer_id, secret, ttl_seconds=args.ttl))
    print(f"token for customer {args.customer_id}, valid for {args.ttl} seconds", file=sys.stderr)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from kefu.report import ReportError, run_report

    out = args.out or (None if args.json else Path("report.html"))
    try:
        written = run_report(
            since=args.since,
            until=args.until,
            out=out,
            json_out=args.json,
            session_factory=_session_factory,
            tracker_db=args.tracker_db,
            shop_url=database_url(),
        )
    except ReportError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"error: cannot write the report: {error}", file=sys.stderr)
        return 1
    print(written.summary())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kefu", description="kefu shop tools (database from KEFU_DB_URL, SQLite by default)"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    db = commands.add_parser("db", help="database schema").add_subparsers(
        dest="action", required=True
    )
    db.add_parser("upgrade", help="create or migrate the schema").set_defaults(func=cmd_db_upgrade)

    demo = commands.add_parser("demo", help="the demo shop").add_subparsers(
        dest="action", required=True
    )
    load = demo.add_parser("load", help="load the demo shop into an empty database")
    load.add_argument("--seed", type=int, default=20261130)
    load.add_argument("--if-empty", action="store_true", help="do nothing if products exist")
    load.set_defaults(func=cmd_demo_load)
    site = demo.add_parser("serve", help="serve the demo shop's web site with the web chat")
    site.add_argument("--host", default="127.0.0.1")
    site.add_argument("--port", type=positive_int, default=8000)
    site.add_argument(
        "--bot-url",
        help="the kefu server the web chat talks to (default: KEFU_BOT_URL, else "
        "http://127.0.0.1:5005)",
    )
    site.set_defaults(func=cmd_demo_serve)

    agent = commands.add_parser(
        "agent", help="the agents' console for human hand-off"
    ).add_subparsers(dest="action", required=True)
    console = agent.add_parser(
        "serve",
        help="serve the agents' console (agents from KEFU_AGENTS, cookie secret from "
        "KEFU_AGENT_SECRET, Rasa API token from KEFU_API_TOKEN)",
    )
    console.add_argument("--host", default="127.0.0.1")
    console.add_argument("--port", type=positive_int, default=8100)
    console.add_argument(
        "--rasa-url",
        default="http://127.0.0.1:5005",
        help="the Rasa server's HTTP API (default http://127.0.0.1:5005)",
    )
    console.set_defaults(func=cmd_agent_serve)
    agent.add_parser(
        "hash-password",
        help="read a password from standard input and print its hash for KEFU_AGENTS",
    ).set_defaults(func=cmd_agent_hash_password)
    audit = agent.add_parser(
        "audit", help="who logged in, read, claimed, answered or closed which ticket (UTC)"
    )
    audit.add_argument("--since", default="7d", help="7d, 12h, 2w or a date (default: 7d)")
    audit.add_argument("--agent", help="only this agent")
    audit.add_argument("--ticket", type=positive_int, help="only this ticket")
    audit.add_argument("--limit", type=positive_int, default=1000, help="latest rows shown")
    audit.set_defaults(func=cmd_agent_audit)

    catalog = commands.add_parser("catalog", help="import or export products").add_subparsers(
        dest="action", required=True
    )
    importer = catalog.add_parser("import", help="upsert products from a CSV or JSON Lines file")
    importer.add_argument("file", type=Path)
    importer.add_argument(
        "--skip-invalid", action="store_true", help="import valid rows, report invalid ones"
    )
    importer.add_argument("--no-progress", action="store_true", help="no progress bar")
    importer.set_defaults(func=cmd_catalog_import)
    exporter = catalog.add_parser("export", help="write every product as CSV or JSON Lines")
    exporter.add_argument("--format", choices=("csv", "jsonl"), default="csv")
    exporter.add_argument("--out", help="file to write (default: standard output)")
    exporter.set_defaults(func=cmd_catalog_export)

    finder = commands.add_parser("search", help="search the catalog")
    finder.add_argument("text", nargs="*")
    finder.add_argument("--category")
    finder.add_argument("--brand", action="append")
    finder.add_argument("--min-price", type=_decimal)
    finder.add_argument("--max-price", type=_decimal)
    finder.add_argument("--in-stock", action="store_true")
    finder.add_argument(
        "--sort",
        default="relevance",
        choices=("relevance", "newest", "price_asc", "price_desc", "rating", "sales"),
    )
    finder.add_argument("--limit", type=int, default=10)
    finder.set_defaults(func=cmd_search)

    recommend = commands.add_parser(
        "recommend", help="recommendations: offline evaluation and its interaction log"
    ).add_subparsers(dest="action", required=True)
    evaluator = recommend.add_parser(
        "evaluate", help="leave-last-out HR@k / NDCG@k of CF and popularity on a CSV log"
    )
    evaluator.add_argument("log", type=Path, help="CSV with the columns user,item,timestamp")
    evaluator.add_argument("--k", type=positive_int, default=10, help="list length")
    evaluator.add_argument("--json", action="store_true", help="print the report as JSON")
    evaluator.set_defaults(func=cmd_recommend_evaluate)
    log = recommend.add_parser(
        "export-log", help="write the customer events as a user,item,timestamp CSV log"
    )
    log.add_argument("--out", required=True, help="file to write")
    log.add_argument(
        "--kinds",
        type=_event_kinds,
        default=["purchase", "add_to_cart", "view"],
        help="comma-separated event kinds (default: purchase,add_to_cart,view)",
    )
    log.set_defaults(func=cmd_recommend_export_log)

    identity = commands.add_parser(
        "identity", help="customer identity (secret from KEFU_IDENTITY_SECRET)"
    ).add_subparsers(dest="action", required=True)
    token = identity.add_parser(
        "token", help="print a signed login token for a customer (for front-end developers)"
    )
    token.add_argument("customer_id", type=positive_int)
    token.add_argument("--ttl", type=positive_int, default=3600, help="seconds (default 3600)")
    token.set_defaults(func=cmd_identity_token)

    add_privacy_commands(commands, _session_factory)  # privacy …, keys … (kefu.privacy)
    add_review_commands(commands, _session_factory)  # review … (kefu.review)

    report = commands.add_parser(
        "report", help="customer-needs and satisfaction report (HTML and/or JSON)"
    )
    report.add_argument(
        "--since", default="30d", help="30d, 12h, 2w before --until, or a date (default: 30d)"
    )
    report.add_argument(
        "--until", help="end: a date (that day included) or date-time on the shop's clock; now"
    )
    report.add_argument("--out", type=Path, help="HTML file (default: report.html)")
    report.add_argument("--json", type=Path, help="also (or only) write the figures as JSON")
    report.add_argument(
        "--tracker-db",
        help="the Rasa tracker store's database URL (default: KEFU_TRACKER_DB_URL, else "
        "sqlite:///.kefu/trackers.db)",
    )
    report.set_defaults(func=cmd_report)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``kefu`` command."""
    from kefu.privacy.cipher import DecryptionError
    from kefu.privacy.keys import KeyConfigError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (KeyConfigError, DecryptionError) as error:  # missing or wrong data keys
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
