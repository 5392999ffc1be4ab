"""The Rasa server's metrics (:mod:`kefu.metrics`): turns, their latency and NLU fallbacks.

:func:`instrument` wraps Rasa's ``MessageProcessor`` once per process: every customer message
(``handle_message``) is counted by channel and outcome and timed; a message the NLU classified
as ``nlu_fallback`` is counted by its language.  :func:`add_routes` serves ``/metrics`` and
``/health`` on the Rasa app (``kefu_rasa.server`` calls both).
"""

from __future__ import annotations

from functools import wraps
from typing import Any

from kefu.metrics import (
    FALLBACKS,
    HEALTH_PATH,
    TURN_SECONDS,
    TURNS,
    Timer,
    add_sanic_routes,
    health,
)

FALLBACK_INTENT = "nlu_fallback"
LANGUAGES = frozenset({"zh", "en", "other"})
_INSTRUMENTED = "_kefu_metrics"


def _measured_turn(handle_message: Any) -> Any:
    @wraps(handle_message)
    async def handle(self: Any, message: Any) -> Any:
        channel = getattr(message, "input_channel", None) or "unknown"
        timer = Timer()
        try:
            result = await handle_message(self, message)
        except BaseException:
            TURNS.labels(channel, "error").inc()
            raise
        TURNS.labels(channel, "ok").inc()
        TURN_SECONDS.labels(channel).observe(timer.seconds)
        return result

    return handle


def _counted_fallbacks(log_message: Any) -> Any:
    @wraps(log_message)
    async def log(self: Any, message: Any, *args: Any, **kwargs: Any) -> Any:
        tracker = await log_message(self, message, *args, **kwargs)
        latest = getattr(tracker, "latest_message", None)
        if latest is not None and (latest.intent or {}).get("name") == FALLBACK_INTENT:
            language = latest.parse_data.get("language")
            FALLBACKS.labels(language if language in LANGUAGES else "none").inc()
        return tracker

    return log


def instrument() -> None:
    """Measure every turn of every ``MessageProcessor`` in this process (once)."""
    from rasa.core.processor import MessageProcessor

    if getattr(MessageProcessor, _INSTRUMENTED, False):
        return
    MessageProcessor.handle_message = _measured_turn(MessageProcessor.handle_message)
    MessageProcessor.log_message = _counted_fallbacks(MessageProcessor.log_message)
    setattr(MessageProcessor, _INSTRUMENTED, True)


def add_routes(app: Any) -> None:
    """``/metrics`` and ``/health`` on the Rasa server; healthy only with a model loaded (a
    Rasa server starts without one, and could only say it has no model)."""
    from sanic import response

    add_sanic_routes(app, "rasa", health_route=False)

    async def healthy(request: Any) -> Any:
        agent = getattr(request.app.ctx, "agent", None)
        if agent is None or not agent.is_ready():
            return response.json({**health("rasa"), "status": "no model"}, status=503)
        return response.json(health("rasa"))

    app.add_route(healthy, HEALTH_PATH, methods=["GET"], name="kefu_health")
