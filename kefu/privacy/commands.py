"""The privacy commands of ``kefu``: ``privacy erase | export | retention | erase-due``,
``keys new | add | rotate``, ``backup`` and ``restore``.  The conversation store is
``--tracker-db``, else ``KEFU_TRACKER_DB_URL``, else ``.kefu/trackers.db``; messages never show
personal data."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kefu.arguments import positive_int
from kefu.db import session_scope
from kefu.privacy.cipher import DecryptionError
from kefu.privacy.keys import (
    KEY_ENV,
    KeyConfigError,
    encode_key,
    key_file_path,
    load_keyring,
    new_key,
    write_key_file,
)
from kefu.privacy.store import StoreMissing, open_vault

ROTATE_BATCH = 500
BACKUP_FOLDER = Path(".kefu") / "backups"
FAILURES = (KeyConfigError, DecryptionError, StoreMissing, ValueError)


def _fail(error: Exception) -> int:
    print(f"error: {error}", file=sys.stderr)
    return 1


@contextmanager
def _store(args: argparse.Namespace) -> Iterator[tuple[Any, Any, Any]]:
    """(shop session, store connection, vault): the store committed first, then the shop.
    A missing default store holds nothing; one named with --tracker-db must exist."""
    with (
        open_vault(args.tracker_db, missing_ok=args.tracker_db is None) as vault,
        session_scope(args.session_factory()) as session,
        vault.engine.begin() as store,
    ):
        yield session, store, vault


def cmd_erase(args: argparse.Namespace) -> int:
    from kefu.clock import utc_now
    from kefu.privacy.erasure import erase_conversations, erase_customer_everywhere

    try:
        with _store(args) as (session, store, vault):
            if args.customer is not None:
                erased = erase_customer_everywhere(session, store, vault, args.customer, utc_now())
            else:
                erased = erase_conversations(session, store, vault, [args.conversation], utc_now())
    except FAILURES as error:
        return _fail(error)
    who = f"customer {args.customer}" if args.customer is not None else "the conversation"
    print(f"erased {who}: {erased.summary()}")
    return 0


def cmd_erase_due(args: argparse.Namespace) -> int:
    from kefu.account import process_due_erasures
    from kefu.clock import utc_now
    from kefu.privacy.erasure import erase_customer_everywhere

    try:
        with _store(args) as (session, store, vault):
            erased = process_due_erasures(
                session,
                utc_now(),
                erase=lambda s, customer, now: erase_customer_everywhere(
                    s, store, vault, customer, now
                ),
            )
    except FAILURES as error:
        return _fail(error)
    print(f"erased the personal data of {len(erased)} customer(s) whose erasure was due")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from kefu.privacy.export import export_customer

    try:
        with _store(args) as (session, store, vault):
            document = export_customer(session, store, vault, args.customer_id)
    except FAILURES as error:
        return _fail(error)
    text = json.dumps(document, ensure_ascii=False, indent=2)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
        args.out.chmod(0o600)
        print(f"wrote everything kefu holds about customer {args.customer_id} to {args.out}")
    else:
        print(text)
    return 0


def cmd_retention(args: argparse.Namespace) -> int:
    from kefu.clock import utc_now
    from kefu.config import shop_config
    from kefu.privacy.retention import apply_retention

    days = args.days or shop_config().privacy.retention_days
    try:
        with _store(args) as (session, store, vault):
            erased = apply_retention(session, store, vault, utc_now(), days)
    except FAILURES as error:
        return _fail(error)
    print(f"retention ({days} days): {erased.summary()}")
    return 0


def cmd_daily(args: argparse.Namespace) -> int:
    """Retention and due erasures now, then every ``--every-hours`` until stopped."""
    import time

    while True:
        failed = cmd_retention(args) | cmd_erase_due(args)
        sys.stdout.flush()
        if args.once:
            return failed
        time.sleep(args.every_hours * 3600)


def cmd_keys_new(args: argparse.Namespace) -> int:
    print(encode_key(new_key()))
    return 0


def cmd_keys_add(args: argparse.Namespace) -> int:
    try:
        ring = load_keyring()
    except KeyConfigError as error:
        return _fail(error)
    if ring.source == KEY_ENV:
        return _fail(
            KeyConfigError(
                f"the keys come from {KEY_ENV}: append a new key (`kefu keys new`) to it, "
                "restart kefu, then run `kefu keys rotate`"
            )
        )
    key = new_key()
    write_key_file(key_file_path(), (*ring.keys, key))
    print(
        f"added key {key.key_id} to {key_file_path()}; it encrypts from now on. Restart the "
        "servers, then run `kefu keys rotate` to re-encrypt what older keys sealed"
    )
    return 0


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    from kefu.models import Base
    from kefu.privacy.fields import reseal_rows

    try:
        ring = load_keyring()
        with open_vault(args.tracker_db, ring, missing_ok=args.tracker_db is None) as vault:
            moved = 0
            while True:
                with vault.engine.begin() as store:  # one batch, one transaction: resumable
                    done = vault.migrate(store, args.batch)
                if not done:
                    break
                moved += done
                print(f"re-encrypted {moved} conversation(s) with key {ring.active.key_id}")
        sealed = 0
        while True:
            with session_scope(args.session_factory()) as session:
                done = reseal_rows(session, Base.metadata, args.batch)
            if not done:
                break
            sealed += done
            print(
                f"re-encrypted {sealed} row(s) of the shop database with key {ring.active.key_id}"
            )
    except FAILURES as error:
        return _fail(error)
    print(f"everything is sealed with key {ring.active.key_id}")
    if len(ring.keys) > 1 and args.retire:
        if ring.source == KEY_ENV:
            print(f"remove the older keys from {KEY_ENV}, keeping only the last one")
        else:
            write_key_file(key_file_path(), (ring.active,))
            print(f"retired {len(ring.keys) - 1} older key(s) from {ring.source}")
    return 0


def _backup_targets(args: argparse.Namespace) -> list:
    """The shop database and the conversation store (once when they are the same database;
    a SQLite conversation store that does not exist holds nothing)."""
    from kefu.db import database_url
    from kefu.privacy.backup import Target
    from kefu.report.sources import tracker_db_url

    shop = Target("shop", database_url())
    store = Target("conversations", tracker_db_url(args.tracker_db))
    if store.url == shop.url or (store.is_sqlite and not store.path.is_file()):
        return [shop]
    return [shop, store]


def cmd_backup(args: argparse.Namespace) -> int:
    from datetime import datetime, timezone

    from kefu.privacy.backup import BackupError, make_backup

    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = args.out or BACKUP_FOLDER / f"kefu-{stamp}.backup"
    try:
        manifest = make_backup(_backup_targets(args), out, load_keyring())
    except (*FAILURES, BackupError, OSError) as error:
        return _fail(error)
    names = ", ".join(manifest["databases"])
    print(f"backed up {names} to {out} (encrypted with key {manifest['key_id']})")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from kefu.privacy.backup import BackupError, restore_backup

    if not args.yes:
        return _fail(ValueError("restoring replaces the current databases; add --yes to go ahead"))
    try:
        manifest = restore_backup(args.file, _backup_targets(args), load_keyring())
    except (*FAILURES, BackupError, OSError) as error:
        return _fail(error)
    names = ", ".join(manifest["databases"])
    print(f"restored {names} from the backup of {manifest['created_at']}")
    return 0


def _tracker_db(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tracker-db",
        help="the conversation store's database URL (default: KEFU_TRACKER_DB_URL, else "
        "sqlite:///.kefu/trackers.db)",
    )


def add_commands(commands: Any, session_factory: Callable[[], Any]) -> None:
    """Add ``privacy``, ``keys``, ``backup`` and ``restore`` to the ``kefu`` command."""
    privacy = commands.add_parser(
        "privacy", help="personal data: erasure, access, retention (see README, Privacy)"
    ).add_subparsers(dest="action", required=True)
    due = privacy.add_parser(
        "erase-due",
        help="erase the personal data and conversations of customers whose erasure request is "
        "due (run daily)",
    )
    due.set_defaults(func=cmd_erase_due)
    erase = privacy.add_parser(
        "erase", help="erase a customer everywhere, or one conversation (any channel)"
    )
    who = erase.add_mutually_exclusive_group(required=True)
    who.add_argument("--customer", type=positive_int, help="customer id")
    who.add_argument("--conversation", help='conversation id, e.g. "telegram:12345"')
    erase.set_defaults(func=cmd_erase)
    export = privacy.add_parser(
        "export", help="write everything kefu holds about a customer as JSON (decrypted)"
    )
    export.add_argument("customer_id", type=positive_int)
    export.add_argument("--out", type=Path, help="file to write, mode 600 (default: stdout)")
    export.set_defaults(func=cmd_export)
    retention = privacy.add_parser(
        "retention", help="erase conversations older than privacy.retention_days (run daily)"
    )
    retention.add_argument("--days", type=positive_int, help="override shop.yml's period")
    retention.set_defaults(func=cmd_retention)
    daily = privacy.add_parser(
        "daily", help="retention and due erasures now and every 24 hours (make run starts it)"
    )
    daily.add_argument("--every-hours", type=positive_int, default=24)
    daily.add_argument("--once", action="store_true", help="run once and stop")
    daily.set_defaults(func=cmd_daily, days=None)
    for parser in (due, erase, export, retention, daily):
        _tracker_db(parser)
        parser.set_defaults(session_factory=session_factory)

    keys = commands.add_parser(
        "keys", help=f"data keys ({KEY_ENV} or the key file .kefu/keys/data.key)"
    ).add_subparsers(dest="action", required=True)
    keys.add_parser("new", help="print a new random key (base64)").set_defaults(func=cmd_keys_new)
    keys.add_parser(
        "add", help="add a new active key to the key file (then restart and rotate)"
    ).set_defaults(func=cmd_keys_add)
    rotate = keys.add_parser(
        "rotate", help="re-encrypt everything with the active key, in resumable batches"
    )
    rotate.add_argument("--batch", type=positive_int, default=ROTATE_BATCH)
    rotate.add_argument(
        "--retire", action="store_true", help="then drop the older keys from the key file"
    )
    _tracker_db(rotate)
    rotate.set_defaults(func=cmd_keys_rotate, session_factory=session_factory)

    backup = commands.add_parser(
        "backup", help="encrypted backup of the shop database and the conversation store"
    )
    backup.add_argument(
        "--out", type=Path, help=f"file (default: {BACKUP_FOLDER}/kefu-<UTC>.backup)"
    )
    _tracker_db(backup)
    backup.set_defaults(func=cmd_backup)
    restore = commands.add_parser("restore", help="put the databases of a backup back")
    restore.add_argument("file", type=Path)
    restore.add_argument("--yes", action="store_true", help="replace the current databases")
    _tracker_db(restore)
    restore.set_defaults(func=cmd_restore)
