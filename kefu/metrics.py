"""Prometheus metrics of every kefu server, and their ``/metrics`` and ``/health`` routes.

The Rasa server counts turns (per channel and outcome), their latency and the messages the NLU
did not understand (``kefu_rasa.metrics``); the action server counts each action's calls,
errors and latency, and the hand-offs it opens; the agent console counts its requests.  Labels
are bounded sets (channel names, registered action names, hand-off reasons, HTTP status
classes): never a conversation id, a customer or a text.  Each process exposes its own registry
(one Rasa or action server process per instance, as kefu runs them), scraped per instance.

``/metrics`` is meant for the monitoring network: the load balancer's configuration
(``deploy/haproxy/haproxy.cfg``) does not route it from outside.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
METRICS_PATH = "/metrics"
HEALTH_PATH = "/health"

TURNS = Counter("kefu_turns", "Customer messages the bot handled", ["channel", "outcome"])
TURN_SECONDS = Histogram(
    "kefu_turn_seconds", "Time from a customer message to the bot's last reply", ["channel"],
    buckets=LATENCY_BUCKETS,
)  # fmt: skip
FALLBACKS = Counter("kefu_fallbacks", "Customer messages the NLU did not understand", ["language"])
HANDOFFS = Counter("kefu_handoffs", "Hand-offs to people (tickets opened or rejoined)", ["reason"])
ACTIONS = Counter("kefu_actions", "Custom actions run by the action server", ["action", "outcome"])
ACTION_SECONDS = Histogram(
    "kefu_action_seconds", "Time a custom action took", ["action"], buckets=LATENCY_BUCKETS
)
ACTION_ERRORS = Counter("kefu_action_errors", "Custom actions that failed", ["action"])
HTTP_REQUESTS = Counter("kefu_http_requests", "HTTP requests answered", ["service", "status"])
HTTP_SECONDS = Histogram(
    "kefu_http_request_seconds", "Time to answer an HTTP request", ["service"],
    buckets=LATENCY_BUCKETS,
)  # fmt: skip

OTHER = "other"  # the label of a name outside the bounded set


def status_class(status: int) -> str:
    """``2xx`` … ``5xx``: the status label (bounded)."""
    return f"{max(1, min(5, status // 100))}xx"


def exposition() -> tuple[bytes, str]:
    """The metrics in Prometheus' text format, and its content type."""
    return generate_latest(), CONTENT_TYPE_LATEST


def health(service: str) -> dict[str, str]:
    return {"status": "ok", "service": service}


class Timer:
    """Seconds since it was made."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.start


def add_sanic_routes(app: Any, service: str, *, health_route: bool = True) -> None:
    """``/metrics`` (and ``/health``) on a Sanic app (the Rasa and action servers)."""
    from sanic import response

    async def metrics(_: Any) -> Any:
        body, content_type = exposition()
        return response.raw(body, content_type=content_type)

    app.add_route(metrics, METRICS_PATH, methods=["GET"], name="kefu_metrics")
    if health_route:

        async def healthy(_: Any) -> Any:
            return response.json(health(service))

        app.add_route(healthy, HEALTH_PATH, methods=["GET"], name="kefu_health")


def add_aiohttp_routes(app: Any, service: str) -> None:
    """``/metrics``, ``/health`` and a request counter on an aiohttp app (the agent console);
    the middleware must be in the app's list: :func:`aiohttp_middleware`."""
    from aiohttp import web

    async def metrics(_: web.Request) -> web.Response:
        body, content_type = exposition()
        return web.Response(body=body, headers={"Content-Type": content_type})

    async def healthy(_: web.Request) -> web.Response:
        return web.json_response(health(service))

    app.router.add_get(METRICS_PATH, metrics, name="metrics")
    app.router.add_get(HEALTH_PATH, healthy, name="health")


def aiohttp_middleware(service: str) -> Any:
    """Counts and times every request of an aiohttp app, by status class."""
    from aiohttp import web

    @web.middleware
    async def measured(request: web.Request, handler: Any) -> web.StreamResponse:
        timer = Timer()
        status = 500
        try:
            answer = await handler(request)
            status = answer.status
            return answer
        except web.HTTPException as error:
            status = error.status
            raise
        finally:
            if request.path != METRICS_PATH:
                HTTP_REQUESTS.labels(service, status_class(status)).inc()
                HTTP_SECONDS.labels(service).observe(timer.seconds)

    return measured
