"""The running servers shared by the integration and browser tests (started once per session)."""

from __future__ import annotations

import os
import secrets

import pytest

from scripts.stack import running_stack
from tests.integration.fake_platforms import TELEGRAM_BOT_NAME, FakePlatforms

# the servers started below accept customer tokens signed with this secret
IDENTITY_SECRET = os.environ.setdefault("KEFU_IDENTITY_SECRET", secrets.token_hex(32))


# Every messaging channel is switched on (credentials.yml), its platform played by a local fake.
CHANNEL_SECRETS = {
    "TELEGRAM_TOKEN": "123456789:AAHfakeTokenForTestsOnly_abcdefghijk",
    "TELEGRAM_BOT_NAME": TELEGRAM_BOT_NAME,
    "TELEGRAM_WEBHOOK_URL": "https://bot.example/webhooks/telegram/webhook",
    "TELEGRAM_SECRET_TOKEN": secrets.token_urlsafe(24),
    "TELEGRAM_API_BASE": "{platforms}",
    "WECHAT_TOKEN": "kefuWeChatToken2026",
    "WECHAT_APP_ID": "wx0123456789abcdef",
    "WECHAT_APP_SECRET": secrets.token_hex(16),
    "WECHAT_API_BASE": "{platforms}",
    "SLACK_BOT_TOKEN": "xoxb-fake-token",
    "SLACK_SIGNING_SECRET": secrets.token_hex(16),
    "FACEBOOK_VERIFY_TOKEN": secrets.token_hex(8),
    "FACEBOOK_APP_SECRET": secrets.token_hex(16),
    "FACEBOOK_PAGE_ACCESS_TOKEN": "fake-page-token",
    "KEFU_JWT_SECRET": secrets.token_hex(32),  # the HTTP API takes JWTs too
}


def forget_counted_failures() -> None:
    """No failed proofs or codes left from an earlier local run (tests/demo_orders.py)."""
    from kefu.db import make_engine, make_session_factory, session_scope
    from tests.demo_orders import forget_failures

    engine = make_engine()
    with session_scope(make_session_factory(engine)) as session:
        forget_failures(session)
    engine.dispose()


@pytest.fixture(scope="session")
def kefu_stack():
    """One running kefu (scripts/run.sh) for the integration and browser tests of a session."""
    platforms = FakePlatforms().start()
    os.environ.update({k: v.format(platforms=platforms.url) for k, v in CHANNEL_SECRETS.items()})
    try:
        with running_stack() as stack:
            forget_counted_failures()
            yield stack, platforms
    except RuntimeError as error:
        pytest.fail(str(error))
