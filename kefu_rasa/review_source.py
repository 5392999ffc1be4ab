"""The conversations ``kefu review collect`` reads: Rasa's tracker store as the endpoints file
configures it (``endpoints.yml``, or ``endpoints.production.yml`` with
``KEFU_PROFILE=production``), opened and read through Rasa's TrackerStore API (``keys`` and
``retrieve_full_tracker``), so an encrypted or remote store is read the way the Rasa server
reads it.  Nothing is written."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import yaml
from rasa.core.tracker_store import InMemoryTrackerStore, TrackerStore, create_tracker_store
from rasa.shared.core.domain import Domain
from rasa.utils.endpoints import EndpointConfig

from kefu.review.settings import ReviewSettings
from kefu.review.turns import Turn, review_turns

T = TypeVar("T")
TRACKER_URL_ENV = "KEFU_TRACKER_DB_URL"  # kefu_rasa.tracker_store's database, when set
_UNSET = re.compile(r"\$\{[^}]*\}")


class TrackerSourceError(RuntimeError):
    """The endpoints file names no usable tracker store."""


def _expanded(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _expanded(v) for k, v in value.items()}
    if isinstance(value, str):
        expanded = os.path.expandvars(value)
        unset = _UNSET.search(expanded)
        if unset:
            raise TrackerSourceError(f"the tracker store needs {unset.group()} to be set")
        return expanded
    return value


def tracker_store_config(endpoints: Path) -> dict[str, Any]:
    """The ``tracker_store`` section of an endpoints file, environment variables filled in
    (only this section's: the action server's secrets are not needed)."""
    try:
        data = yaml.safe_load(endpoints.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise TrackerSourceError(f"cannot read {endpoints}: {error}") from None
    section = data.get("tracker_store") if isinstance(data, dict) else None
    if not isinstance(section, dict) or not section.get("type"):
        raise TrackerSourceError(f"{endpoints} configures no tracker store")
    config = _expanded(section)
    sqlite = str(config.get("dialect") or "sqlite") == "sqlite" and not config.get("url")
    if sqlite and config.get("db") and not os.environ.get(TRACKER_URL_ENV):
        # a SQLite file is where the Rasa server (started in the endpoints file's folder) has it
        path = endpoints.parent / str(config["db"])
        if not path.is_file():
            raise TrackerSourceError(f"there is no tracker store at {path}")
        config["db"] = str(path)
    return config


def source_name(config: dict[str, Any]) -> str:
    """A name for the store that shows no password: its type and a hash of its settings."""
    digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]
    return f"{config.get('type')}:{digest}"


def open_store(config: dict[str, Any], domain: Domain) -> TrackerStore:
    """The tracker store of ``config``, as Rasa creates it."""
    store = create_tracker_store(EndpointConfig.from_dict(config), domain)
    inner = getattr(store, "_tracker_store", store)
    if isinstance(inner, InMemoryTrackerStore):  # Rasa's fallback for an unknown type
        raise TrackerSourceError(f"tracker store type {config.get('type')!r} not found")
    return store


async def _conversations(store: TrackerStore) -> list[list[dict[str, Any]]]:
    found = []
    for key in sorted(await store.keys()):
        tracker = await store.retrieve_full_tracker(key)
        if tracker is not None:
            found.append([event.as_dict() for event in tracker.events])
    return found


def run_coroutine(coroutine: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run``, on a worker thread when this thread already runs an event loop (a
    caller inside an application or a test with one)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def conversations(config: dict[str, Any], domain: Domain) -> list[list[dict[str, Any]]]:
    """Every stored conversation's events (all its sessions), as dictionaries."""
    store = open_store(config, domain)
    try:
        return run_coroutine(_conversations(store))
    finally:
        engine = getattr(getattr(store, "_tracker_store", store), "engine", None)
        if engine is not None:
            engine.dispose()


def read_turns(
    endpoints: Path, domain_path: Path, settings: ReviewSettings
) -> tuple[str, Iterator[list[Turn]]]:
    """The store's name and, per conversation, the messages worth a review."""
    config = tracker_store_config(endpoints)
    domain = Domain.load(str(domain_path))
    found = conversations(config, domain)
    return source_name(config), (review_turns(events, settings) for events in found)
