"""credentials.yml → the channels this deployment has (scripts/credentials.py)."""

import re
from pathlib import Path

import pytest
import yaml

from scripts.credentials import CredentialsError, effective_credentials, main

ROOT = Path(__file__).resolve().parents[2]
SOURCE = """
rest:
webchat:
  origins: ${ORIGINS}
  size: 100
telegram:
  access_token: ${TG_TOKEN}
  secret_token: ${TG_SECRET}
  api_base: ${TG_API:-}
wechat:
  token: ${WX_TOKEN}
  aes: ${WX_AES:-}
  api_base: ${WX_API:-https://api.weixin.qq.com}
"""


def test_a_channel_is_on_only_when_all_its_variables_are_set():
    enabled, choices = effective_credentials(SOURCE, {"ORIGINS": "x", "TG_TOKEN": "t"})
    assert list(enabled) == ["rest", "webchat"]
    off = {c.channel: c.missing for c in choices if not c.enabled}
    assert off == {"telegram": ["TG_SECRET"], "wechat": ["WX_TOKEN"]}


def test_secrets_stay_references_and_optional_values_settle():
    env = {"ORIGINS": "x", "WX_TOKEN": "s3cret", "WX_AES": "k" * 43}
    enabled, _ = effective_credentials(SOURCE, env)
    assert enabled["webchat"] == {"origins": "${ORIGINS}", "size": 100}
    assert enabled["wechat"] == {
        "token": "${WX_TOKEN}",
        "aes": "${WX_AES}",
        "api_base": "https://api.weixin.qq.com",
    }
    assert "s3cret" not in yaml.safe_dump(enabled)


def test_an_empty_optional_value_is_left_out():
    env = {"ORIGINS": "x", "TG_TOKEN": "t", "TG_SECRET": "s"}
    enabled, _ = effective_credentials(SOURCE, env)
    assert enabled["telegram"] == {"access_token": "${TG_TOKEN}", "secret_token": "${TG_SECRET}"}


def test_bad_files_are_reported_with_their_line():
    with pytest.raises(CredentialsError, match=r"creds.yml:\d+: not valid YAML"):
        effective_credentials("rest:\n  a: [1\n", {}, "creds.yml")
    with pytest.raises(CredentialsError, match="must be a mapping"):
        effective_credentials("rest: 5\n", {}, "creds.yml")


def test_the_projects_file_gives_rest_and_webchat_by_default(tmp_path, monkeypatch, capsys):
    for name in (
        "TELEGRAM_TOKEN",
        "WECHAT_TOKEN",
        "SLACK_BOT_TOKEN",
        "FACEBOOK_APP_SECRET",
        "KEFU_PROFILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KEFU_ALLOWED_ORIGINS", "http://127.0.0.1:8000")
    target = tmp_path / "credentials.yml"
    assert main([str(ROOT / "credentials.yml"), str(target)]) == 0
    written = yaml.safe_load(target.read_text(encoding="utf-8"))
    assert list(written) == [
        "kefu_rasa.channels.builtin.RestChannel",
        "kefu_rasa.channels.webchat.WebChatInput",
    ]
    assert re.search(r"WeChatInput +off \(set WECHAT_TOKEN", capsys.readouterr().out)


def test_rest_needs_its_token_in_production():
    source = "kefu_rasa.channels.builtin.RestChannel:\n  token: ${KEFU_REST_TOKEN:-}\n"
    enabled, _ = effective_credentials(source, {})
    assert enabled == {"kefu_rasa.channels.builtin.RestChannel": None}  # embedded: open
    enabled, choices = effective_credentials(source, {"KEFU_PROFILE": "production"})
    assert enabled == {} and choices[0].missing == ["KEFU_REST_TOKEN"]
    env = {"KEFU_PROFILE": "production", "KEFU_REST_TOKEN": "t" * 32}
    enabled, _ = effective_credentials(source, env)
    assert enabled == {"kefu_rasa.channels.builtin.RestChannel": {"token": "${KEFU_REST_TOKEN}"}}


def test_the_projects_file_keeps_the_channel_secrets_in_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("KEFU_ALLOWED_ORIGINS", "http://127.0.0.1:8000")
    monkeypatch.setenv("KEFU_REST_TOKEN", "rest-token-" + "x" * 20)
    monkeypatch.setenv("KEFU_WEBCHAT_SECRET", "webchat-secret-" + "y" * 20)
    target = tmp_path / "credentials.yml"
    assert main([str(ROOT / "credentials.yml"), str(target)]) == 0
    text = target.read_text(encoding="utf-8")
    assert "x" * 20 not in text and "y" * 20 not in text
    written = yaml.safe_load(text)
    assert written["kefu_rasa.channels.builtin.RestChannel"] == {"token": "${KEFU_REST_TOKEN}"}
    webchat = written["kefu_rasa.channels.webchat.WebChatInput"]
    assert webchat["session_key"] == "${KEFU_WEBCHAT_SECRET}"
