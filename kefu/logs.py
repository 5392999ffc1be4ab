"""Structured logs: one JSON object per line when ``KEFU_LOG_FORMAT=json`` (the production
cluster sets it), for a log collector.

Each line has ``at`` (UTC, ISO 8601), ``level``, ``logger``, ``message`` and, for an error with a
traceback, ``exception``.  Log messages name customers by pseudonym already (``pseudonym``,
``pseudonymise``); as a safety net every message and traceback passes through
:func:`kefu.identity.redact`, which masks mobile numbers and e-mail addresses.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from datetime import datetime, timezone

from kefu.identity import redact

FORMAT_ENV = "KEFU_LOG_FORMAT"


class JsonFormatter(logging.Formatter):
    """A log record as one line of JSON, personal data masked."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "at": datetime.fromtimestamp(record.created, timezone.utc).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def configure(
    environ: Mapping[str, str] | None = None, logger: logging.Logger | None = None
) -> bool:
    """Switch ``logger``'s handlers (the root logger's by default; one is added when it has
    none) to JSON when ``KEFU_LOG_FORMAT=json``; whether it did."""
    environ = os.environ if environ is None else environ
    if (environ.get(FORMAT_ENV) or "").strip().lower() != "json":
        return False
    logger = logger or logging.getLogger()
    if not logger.handlers:
        logger.addHandler(logging.StreamHandler())
    for handler in logger.handlers:
        handler.setFormatter(JsonFormatter())
    return True
