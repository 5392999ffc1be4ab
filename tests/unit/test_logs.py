"""JSON log lines with personal data masked (kefu/logs.py)."""

from __future__ import annotations

import io
import json
import logging

from kefu.logs import configure


def test_json_lines_mask_phones_and_emails():
    logger = logging.getLogger("kefu.test.logs")
    stream = io.StringIO()
    logger.addHandler(logging.StreamHandler(stream))
    logger.propagate = False
    try:
        assert configure({"KEFU_LOG_FORMAT": "json"}, logger)
        logger.warning("customer %s wrote from 13812345678", "3f2a9c")
        try:
            raise ValueError("bad address li.lei@example.com")
        except ValueError:
            logger.exception("failed")
    finally:
        logger.handlers.clear()
    first, second = (json.loads(line) for line in stream.getvalue().splitlines() if line[:1] == "{")
    assert first["level"] == "WARNING" and first["logger"] == "kefu.test.logs"
    assert "3f2a9c" in first["message"] and "13812345678" not in first["message"]
    assert first["at"].endswith("+00:00")
    assert "ValueError" in second["exception"] and "li.lei@example.com" not in second["exception"]


def test_plain_logs_stay_unless_asked():
    logger = logging.getLogger("kefu.test.plain")
    assert not configure({}, logger) and not logger.handlers
