"""kefu's action server: rasa-sdk's, refusing every call that lacks the shared secret.

Rasa sends ``Authorization: Bearer <KEFU_ACTION_SECRET>`` with each action call (see
``endpoints.yml``).  Without the right secret the server answers 401 and runs nothing, so an
action server reachable from elsewhere cannot be used to read orders or change them.  Only
``/health`` is open.  Run with ``python -m actions.server --port 5055``.
"""

from __future__ import annotations

import argparse
import hmac
import logging
import os
import sys

from rasa_sdk.endpoint import create_app as create_sdk_app
from sanic import Sanic, response
from sanic.request import Request

from kefu.notify import notifier_from_env

logger = logging.getLogger(__name__)

SECRET_ENV = "KEFU_ACTION_SECRET"
MIN_SECRET_CHARS = 32
OPEN_PATHS = frozenset({"/health"})


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

    return app


def main(argv: list[str] | None = None) -> int:
    """Start the action server on ``--host``/``--port``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=os.environ.get("KEFU_ACTIONS_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=5055)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
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
