"""Start the Rasa server like ``rasa run``, with its secrets from the environment.

    KEFU_API_TOKEN=… [KEFU_JWT_SECRET=…] python -m kefu_rasa.server -m models/kefu.tar.gz \\
        --enable-api --credentials .kefu/credentials.yml --endpoints endpoints.yml …

Every ``rasa run`` option works, except those that carry a secret: a command line is readable
by every local user (``ps``, ``/proc/<pid>/cmdline``), so ``--auth-token``, ``--jwt-secret``
and ``--ssl-password`` are refused and read from the environment instead:

``KEFU_API_TOKEN``      the HTTP API token (required with ``--enable-api``)
``KEFU_JWT_SECRET``     optional: JWTs signed with it are accepted too (``KEFU_JWT_METHOD``,
                        default HS256)
``KEFU_SSL_PASSWORD``   optional: the password of ``--ssl-keyfile``

With ``KEFU_PROFILE=production`` the shared services' URLs are split into the variables of
``endpoints.production.yml`` (:mod:`kefu.production`), which is the default ``--endpoints``.
``/metrics`` (Prometheus) and ``/health`` are added (:mod:`kefu_rasa.metrics`).

On top of Rasa's own checks the server refuses every request that changes something
(POST, PUT, PATCH, DELETE outside the channels' ``/webhooks/`` and ``/socket.io``) unless it
carries the API token or a JWT with ``role: admin``.  Rasa lets a ``role: user`` JWT whose
``username`` is a conversation id post events to, replace, execute actions in, trigger intents
in and send messages to that conversation: enough to forge a verification.  Such a JWT may
still read its own conversation.  The ``token`` query parameter is masked in the access log.
Conversation ids in API paths may be percent-encoded ("rest%3A12345" is "rest:12345"; Sanic
would pass the encoded form on).
"""

from __future__ import annotations

import hmac
import logging
import os
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import unquote

API_TOKEN_ENV = "KEFU_API_TOKEN"
JWT_SECRET_ENV = "KEFU_JWT_SECRET"
JWT_METHOD_ENV = "KEFU_JWT_METHOD"
SSL_PASSWORD_ENV = "KEFU_SSL_PASSWORD"
SECRET_OPTIONS = {
    "--auth-token": API_TOKEN_ENV,
    "-t": API_TOKEN_ENV,
    "--jwt-secret": JWT_SECRET_ENV,
    "--ssl-password": SSL_PASSWORD_ENV,
}
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CHANNEL_PATHS = ("/webhooks/", "/socket.io")  # the channels answer for themselves
_TOKEN_PARAM = re.compile(r"([?&]token=)[^&\s\"]*")

logger = logging.getLogger(__name__)


class LaunchError(Exception):
    """The server cannot be started as asked; ``str()`` says what to do."""


def refuse_secret_options(argv: Sequence[str]) -> None:
    """LaunchError when an option that carries a secret is on the command line."""
    for arg in argv:
        for option, variable in SECRET_OPTIONS.items():
            joined = arg.startswith(option + "=") or (option == "-t" and arg.startswith("-t"))
            if arg == option or joined:
                raise LaunchError(
                    f"{option} puts a secret on the command line, where any local user can "
                    f"read it; set {variable} in the environment instead"
                )


def secrets_from_environment(environ: dict[str, str], enable_api: bool) -> dict[str, Any]:
    """The ``rasa run`` arguments that carry secrets, from the environment."""
    token = environ.get(API_TOKEN_ENV, "").strip()
    if enable_api and not token:
        raise LaunchError(
            f"--enable-api without {API_TOKEN_ENV} would leave Rasa's HTTP API open: set it"
        )
    values: dict[str, Any] = {"auth_token": token or None}
    jwt_secret = environ.get(JWT_SECRET_ENV, "").strip()
    if jwt_secret:
        values["jwt_secret"] = jwt_secret
        values["jwt_method"] = environ.get(JWT_METHOD_ENV, "").strip() or "HS256"
    ssl_password = environ.get(SSL_PASSWORD_ENV, "")
    if ssl_password:
        values["ssl_password"] = ssl_password
    return values


def _refused() -> Any:
    from sanic import response

    return response.json(
        {
            "status": "failure",
            "reason": "NotAuthorized",
            "message": "Only the API token or an admin JWT may change conversations or the "
            "model; a user JWT may only read its own conversation.",
            "code": 403,
        },
        status=403,
    )


async def _admin(request: Any, token: str | None) -> bool | None:
    """True: the API token or an admin JWT; False: a valid JWT of another role; None: no valid
    credentials (Rasa answers 401 itself)."""
    given = request.args.get("token")
    if token and given is not None and hmac.compare_digest(given.encode(), token.encode()):
        return True
    auth = getattr(request.app.ctx, "auth", None)
    if not request.app.config.get("USE_JWT") or auth is None:
        return None
    try:
        if not await auth.is_authenticated(request):
            return None
        payload = await auth.extract_payload(request)
    except Exception:  # a malformed Authorization header, an expired or forged JWT
        return None
    user = payload.get("user") if isinstance(payload, dict) else None
    return isinstance(user, dict) and user.get("role") == "admin"


def install_api_guard(app: Any, token: str | None) -> None:
    """Refuse changes through Rasa's HTTP API to anyone but the token or an admin JWT, and
    read percent-encoded conversation ids as what they encode."""

    @app.middleware("request")
    async def decoded_conversation_ids(request: Any) -> None:
        # Sanic passes path parameters on still encoded: "/conversations/webchat%3Aabc/…"
        # would name a conversation "webchat%3Aabc", not the customer's "webchat:abc"
        conversation_id = request.match_info.get("conversation_id")
        if isinstance(conversation_id, str) and "%" in conversation_id:
            request.match_info = {**request.match_info, "conversation_id": unquote(conversation_id)}

    @app.middleware("request")
    async def admin_only_changes(request: Any) -> Any:
        if request.method not in WRITE_METHODS or request.path.startswith(CHANNEL_PATHS):
            return None
        if await _admin(request, token) is False:
            logger.warning("refused %s %s to a non-admin JWT", request.method, request.path)
            return _refused()
        return None


class _MaskTokens(logging.Filter):
    """Sanic's access log prints the URL, and the API token may be in its query."""

    def filter(self, record: logging.LogRecord) -> bool:
        url = getattr(record, "request", None)
        if isinstance(url, str) and "token=" in url:
            record.request = _TOKEN_PARAM.sub(r"\1***", url)
        return True


def mask_tokens_in_access_log() -> None:
    access_log = logging.getLogger("sanic.access")
    if not any(isinstance(f, _MaskTokens) for f in access_log.filters):
        access_log.addFilter(_MaskTokens())


def _configure_app_with_guard(original: Callable[..., Any]) -> Callable[..., Any]:
    def configure_app(*args: Any, **kwargs: Any) -> Any:
        from kefu import logs
        from kefu_rasa import broker, metrics, speedups

        app = original(*args, **kwargs)
        token = kwargs.get("auth_token", args[2] if len(args) > 2 else None)
        install_api_guard(app, token)
        metrics.add_routes(app)
        metrics.instrument()
        broker.install()  # a turn's events are on RabbitMQ before its reply goes out
        logs.configure()  # after Rasa set up its handlers: JSON lines with KEFU_LOG_FORMAT=json
        mask_tokens_in_access_log()
        app.register_listener(speedups.close_sessions, "after_server_stop")
        return app

    return configure_app


def _run_with_secrets(original: Callable[[Any], Any], environ: dict[str, str]) -> Callable:
    def run(args: Any) -> Any:
        for key, value in secrets_from_environment(environ, bool(args.enable_api)).items():
            setattr(args, key, value)
        return original(args)

    return run


def main(argv: Sequence[str] | None = None) -> int:
    """``rasa run`` with ``argv``, the secrets from the environment and the API guard."""
    from kefu.production import ProfileError, apply_profile

    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        refuse_secret_options(argv)
        secrets_from_environment(dict(os.environ), "--enable-api" in argv)
        endpoints = apply_profile(os.environ)
    except (LaunchError, ProfileError) as error:
        print(f"kefu: {error}", file=sys.stderr)
        return 2

    import rasa.__main__
    import rasa.cli.run
    import rasa.core.run

    rasa.cli.run.run = _run_with_secrets(rasa.cli.run.run, dict(os.environ))
    rasa.core.run.configure_app = _configure_app_with_guard(rasa.core.run.configure_app)
    if "--endpoints" not in argv and not any(a.startswith("--endpoints=") for a in argv):
        argv += ["--endpoints", endpoints]
    sys.argv = ["rasa", "run", *argv]
    rasa.__main__.main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
