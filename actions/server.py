"""kefu's action server: rasa-sdk's, refusing every call that lacks the shared secret.

Rasa sends ``Authorization: Bearer <KEFU_ACTION_SECRET>`` with each action call (see
``endpoints.yml``).  Without the right secret the server answers 401 and runs nothing, so an
action server reachable from elsewhere cannot be used to read orders or change them.  Only
``/health`` and ``/metrics`` (Prometheus: each action's calls, errors and latency,
:mod:`kefu.metrics`) are open.  Run with ``python -m actions.server --port 5055``.
"""

from __future__ import annotations

import argparse
import hmac
import logging
import os
import sys
from typing import Any

from rasa_sdk.endpoint import create_app as create_sdk_app
from rasa_sdk.executor import ActionExecutor
from sanic import Sanic, response
from sanic.request import Request

from kefu import logs
from kefu.metrics import (
    ACTION_ERRORS,
    ACTION_SECONDS,
    ACTIONS,
    METRICS_PATH,
    OTHER,
    Timer,
    add_sanic_routes,
)
from kefu.notify import notifier_from_env

logger = logging.getLogger(__name__)

SECRET_ENV = "KEFU_ACTION_SECRET"
MIN_SECRET_CHARS = 32
OPEN_PATHS = frozenset({"/health", METRICS_PATH})
ACTION_PATH = "/webhook"


def create_app(secret: str, package: str = "actions") -> Sanic:
    """The rasa-sdk app for ``package`` with the shared-secret check in front of it."""
    if len(secret) < MIN_SECRET_CHARS:
        raise ValueError(
            f"{SECRET_ENV} must be at least {MIN_SECRET_CHARS} characters "
            "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    app = create_sdk_app(package, cors_origins=None)  # called by Rasa, never by a browser
    expected = f"Bearer {secret}".encode()

    @app.middleware("request")
    async def require_secret(request: Request):
        if request.path in OPEN_PATHS:
            return None
        given = (request.headers.get("Authorization") or "").encode()
        if not hmac.compare_digest(given, expected):
            logger.warning("refused a call to %s without the shared secret", request.path)
            return response.json({"error": "missing or wrong action server secret"}, status=401)
        return None

    measure_actions(app, package)
    add_sanic_routes(app, "actions", health_route=False)  # rasa-sdk has /health
    return app


def measure_actions(app: Sanic, package: str) -> None:
    """Count and time every action call by action name (the package's actions; any other
    name is ``other``) and outcome (``ok``, ``rejected``, ``not_found``, ``error``)."""
    executor = ActionExecutor()
    executor.register_package(package)
    known = frozenset(executor.actions)
    outcomes = {200: "ok", 400: "rejected", 404: "not_found"}

    @app.middleware("request")
    async def start_timer(request: Request) -> None:
        if request.path == ACTION_PATH and request.method == "POST":
            call = request.json if request.headers.get("Content-Encoding") != "deflate" else None
            name = call.get("next_action") if isinstance(call, dict) else None
            request.ctx.action = name if name in known else OTHER
            request.ctx.timer = Timer()

    @app.middleware("response")
    async def record(request: Request, answer: Any) -> None:
        action = getattr(request.ctx, "action", None)
        if action is None:
            return
        outcome = outcomes.get(answer.status, "error")
        ACTIONS.labels(action, outcome).inc()
        ACTION_SECONDS.labels(action).observe(request.ctx.timer.seconds)
        if outcome == "error":
            ACTION_ERRORS.labels(action).inc()


def main(argv: list[str] | None = None) -> int:
    """Start the action server on ``--host``/``--port``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=os.environ.get("KEFU_ACTIONS_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=5055)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logs.configure()  # JSON lines with KEFU_LOG_FORMAT=json
    secret = os.environ.get(SECRET_ENV, "")
    try:
        app = create_app(secret)
        notifier_from_env()  # production without an SMS / e-mail gateway: refuse to start
    except ValueError as error:
        print(f"action server: {error}", file=sys.stderr)
        return 1
    app.run(host=args.host, port=args.port, workers=1, access_log=False, motd=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
