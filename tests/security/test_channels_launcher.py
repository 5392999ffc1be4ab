"""Attacks on the Rasa server's HTTP API and its secrets, against the real launcher
(``python -m kefu_rasa.server``, started here without a model: every request below is decided
before a model would be needed; Rasa answers 409 "no agent" once authentication passed).

* ``ps`` / ``/proc/<pid>/cmdline`` shows no API token or JWT secret;
* a ``role: user`` JWT (Rasa's per-conversation JWT) cannot write to its conversation (events,
  replacing the tracker, executing actions, triggering intents, messages, predictions) or the
  model, while the token and an admin JWT can; it may still read its own conversation;
* the launcher refuses secrets on its command line.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import jwt
import pytest
import requests

from kefu_rasa import server
from scripts.stack import ROOT, free_port

TOKEN = secrets.token_urlsafe(24)
JWT_SECRET = secrets.token_hex(32)
CONVERSATION = "rest:customer-1"


def bearer(role: str, username: str = CONVERSATION) -> dict[str, str]:
    token = jwt.encode({"user": {"username": username, "role": role}}, JWT_SECRET, "HS256")
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def launched(tmp_path_factory):
    """The launcher on a free port, as scripts/run.sh starts it (secrets in the environment)."""
    where = tmp_path_factory.mktemp("launcher")
    (where / "credentials.yml").write_text("kefu_rasa.channels.builtin.RestChannel:\n")
    (where / "endpoints.yml").write_text("{}\n")
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "RASA_TELEMETRY_ENABLED": "false",
        "KEFU_API_TOKEN": TOKEN,
        "KEFU_JWT_SECRET": JWT_SECRET,
    }
    args = [sys.executable, "-m", "kefu_rasa.server", "--enable-api", "-m", str(where / "models")]
    args += ["--credentials", "credentials.yml", "--endpoints", "endpoints.yml"]
    args += ["--interface", "127.0.0.1", "--port", str(port)]
    log = (where / "rasa.out").open("w")
    process = subprocess.Popen(
        args, cwd=where, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                pytest.fail(f"the launcher exited: {(where / 'rasa.out').read_text()[-2000:]}")
            if time.monotonic() > deadline:
                pytest.fail("the launcher did not answer within 180 s")
            with contextlib.suppress(requests.ConnectionError):
                if requests.get(f"{url}/version", timeout=2).ok:
                    break
            time.sleep(0.5)
        yield url, process.pid
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


def test_no_secret_on_the_command_line(launched):
    _, pid = launched
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode()
    assert "kefu_rasa.server" in cmdline
    assert TOKEN not in cmdline and JWT_SECRET not in cmdline
    listing = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert TOKEN not in listing and JWT_SECRET not in listing


WRITES = [
    ("POST", "/conversations/{id}/tracker/events", [{"event": "slot", "name": "x", "value": 1}]),
    ("PUT", "/conversations/{id}/tracker/events", []),
    ("POST", "/conversations/{id}/execute", {"name": "action_restart"}),
    ("POST", "/conversations/{id}/trigger_intent", {"name": "affirm"}),
    ("POST", "/conversations/{id}/messages", {"text": "/affirm", "sender": "user"}),
    ("POST", "/conversations/{id}/predict", None),
    ("PUT", "/model", {"model_file": "models/evil.tar.gz"}),
    ("POST", "/model/parse", {"text": "hi"}),
    ("DELETE", "/model", None),
]


@pytest.mark.parametrize("method, path, body", WRITES)
def test_a_user_jwt_cannot_write_to_its_own_conversation(launched, method, path, body):
    url, _ = launched
    target = url + path.format(id=CONVERSATION)
    refused = requests.request(method, target, json=body, headers=bearer("user"), timeout=10)
    assert refused.status_code == 403
    assert refused.json()["reason"] == "NotAuthorized"


def test_the_token_and_an_admin_jwt_may_write(launched):
    url, _ = launched
    events = f"{url}/conversations/{CONVERSATION}/tracker/events"
    body = [{"event": "restart"}]
    by_admin = requests.post(events, json=body, headers=bearer("admin", "ops"), timeout=10)
    by_token = requests.post(events, json=body, params={"token": TOKEN}, timeout=10)
    # past authentication: only the missing model stops them here
    assert by_admin.status_code == 409 and by_token.status_code == 409
    nobody = requests.post(events, json=body, timeout=10)
    forged = jwt.encode({"user": {"username": "x", "role": "admin"}}, "not-the-secret" * 4, "HS256")
    with_forged = requests.post(
        events, json=body, headers={"Authorization": f"Bearer {forged}"}, timeout=10
    )
    assert nobody.status_code == 401 and with_forged.status_code == 401


def test_a_user_jwt_may_read_only_its_own_conversation(launched):
    url, _ = launched
    own = requests.get(
        f"{url}/conversations/rest%3Acustomer-1/tracker", headers=bearer("user"), timeout=10
    )
    assert own.status_code == 409  # allowed (the encoded id is the same conversation)
    other = requests.get(
        f"{url}/conversations/telegram:42/tracker", headers=bearer("user"), timeout=10
    )
    assert other.status_code == 403


def test_the_channels_stay_open(launched):
    url, _ = launched
    reply = requests.post(
        f"{url}/webhooks/rest/webhook", json={"sender": "s", "message": "hi"}, timeout=10
    )
    assert reply.status_code == 200


def test_secrets_on_the_command_line_are_refused(capsys, monkeypatch):
    monkeypatch.setenv("KEFU_API_TOKEN", TOKEN)
    for argv in (
        ["--enable-api", "--auth-token", "s3cret"],
        ["--auth-token=s3cret"],
        ["-ts3cret"],
        ["--jwt-secret", "s3cret"],
        ["--ssl-password", "s3cret"],
    ):
        assert server.main(argv) == 2
    assert "s3cret" not in capsys.readouterr().err
    monkeypatch.delenv("KEFU_API_TOKEN")
    assert server.main(["--enable-api"]) == 2
    assert "KEFU_API_TOKEN" in capsys.readouterr().err


def test_the_access_log_masks_the_token():
    record = logging.LogRecord("sanic.access", logging.INFO, "", 0, "", None, None)
    record.request = f"GET http://bot/status?token={TOKEN}&x=1"
    server._MaskTokens().filter(record)
    assert TOKEN not in record.request and "token=***&x=1" in record.request
