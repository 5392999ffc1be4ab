"""``kefu report`` on an encrypted tracker store: the same figures as on the plain one, and a
clear error with the wrong key."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from kefu.cli import main
from kefu.privacy.cipher import Cipher
from kefu.privacy.conversations import ConversationVault
from kefu.privacy.keys import load_keyring
from tests.shop.test_report import PERIOD, comparable, report_env, run  # noqa: F401 (a fixture)

LEGACY_BATCH = 100


def seal(url: str) -> None:
    """Encrypt a plain tracker store in place, as the tracker store does at start."""
    engine = create_engine(url, future=True)
    vault = ConversationVault(engine, Cipher(load_keyring()))
    vault.ensure_schema()
    with engine.begin() as connection:
        while vault.seal_legacy(connection, LEGACY_BATCH):
            pass
    engine.dispose()


@pytest.fixture
def data_key(monkeypatch):
    """A data key set before the shop is filled (its personal columns are encrypted)."""
    monkeypatch.setenv("KEFU_DATA_KEY", base64.b64encode(os.urandom(32)).decode())


def test_the_report_reads_an_encrypted_store_the_same(data_key, report_env, monkeypatch, capsys):  # noqa: F811
    tmp_path, tracker = report_env
    _, plain = run(tmp_path, *PERIOD, "--tracker-db", tracker)
    seal(tracker)
    database = Path(tracker.removeprefix("sqlite:///")).read_bytes()
    assert "预算5000以内".encode() not in database and b"zh-happy" not in database
    _, encrypted = run(tmp_path, *PERIOD, "--tracker-db", tracker)
    assert comparable(encrypted) == comparable(plain)

    monkeypatch.setenv("KEFU_DATA_KEY", base64.b64encode(os.urandom(32)).decode())
    code = main(["report", *PERIOD, "--tracker-db", tracker, "--out", str(tmp_path / "r.html")])
    assert code == 1
    assert "not among the keys of KEFU_DATA_KEY" in capsys.readouterr().err
