"""kefu.notify: the development outbox, the production gateway and the refusal in between."""

from __future__ import annotations

import json
import stat
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar

import pytest

from kefu.notify import (
    GatewayNotifier,
    NotifyError,
    OutboxNotifier,
    Recipient,
    notifier_from_env,
)

ALICE = Recipient("sms", "13800138000", "p-7f3a")


def test_the_outbox_keeps_texts_but_no_phone_number_and_is_private(tmp_path):
    path = tmp_path / "state" / "outbox.jsonl"
    OutboxNotifier(path).send(ALICE, "验证码 123456", tag="code:cancel")
    OutboxNotifier(path).send(ALICE, "已取消", tag="done:cancel")
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [line["tag"] for line in lines] == ["code:cancel", "done:cancel"]
    assert lines[0]["to"] == "p-7f3a" and "13800138000" not in path.read_text(encoding="utf-8")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


class _Gateway(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, dict]]] = []
    status = 200

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Gateway.received.append((self.headers["Authorization"], body))
        self.send_response(_Gateway.status)
        self.end_headers()

    def log_message(self, *args):  # keep test output quiet
        return


@pytest.fixture
def gateway():
    server = HTTPServer(("127.0.0.1", 0), _Gateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Gateway.received, _Gateway.status = [], 200
    yield f"http://127.0.0.1:{server.server_address[1]}/send"
    server.shutdown()


def test_the_gateway_gets_the_message_with_its_token(gateway):
    GatewayNotifier(gateway, "t0ken").send(ALICE, "验证码 654321", tag="code:refund")
    [(auth, body)] = _Gateway.received
    assert auth == "Bearer t0ken"
    assert body == {
        "channel": "sms",
        "to": "13800138000",
        "text": "验证码 654321",
        "tag": "code:refund",
    }


def test_a_failing_gateway_is_an_error_not_a_silent_loss(gateway):
    _Gateway.status = 500
    with pytest.raises(NotifyError):
        GatewayNotifier(gateway, "t0ken").send(ALICE, "x", tag="code:cancel")


def test_production_refuses_the_outbox_and_plain_http(tmp_path):
    assert isinstance(notifier_from_env({"KEFU_OUTBOX": str(tmp_path / "o")}), OutboxNotifier)
    with pytest.raises(ValueError, match="KEFU_NOTIFY_URL"):
        notifier_from_env({"KEFU_PROFILE": "production"})
    with pytest.raises(ValueError, match="KEFU_NOTIFY_TOKEN"):
        notifier_from_env({"KEFU_NOTIFY_URL": "https://sms.example.com/send"})
    with pytest.raises(ValueError, match="https"):
        GatewayNotifier("http://sms.example.com/send", "t")
