"""Knowledge tests run on the shop-library fixtures (tests/shop/conftest.py: the mini catalog
on SQLite and PostgreSQL), with the repository's policies.yml and shop.yml, a FAQ folder copied
per test and an embedding cache in a temporary directory."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kefu.knowledge.embed import EmbeddingCache, default_encoder
from kefu.knowledge.faq import DEFAULT_FAQ_DIR
from kefu.knowledge.index import KnowledgeBase
from tests.shop.conftest import database_url, factory, mini_shop  # noqa: F401  (fixtures)


@pytest.fixture
def faq_folder(tmp_path) -> Path:
    folder = tmp_path / "faq"
    shutil.copytree(DEFAULT_FAQ_DIR, folder)
    return folder


@pytest.fixture
def kb(mini_shop, faq_folder, tmp_path) -> KnowledgeBase:  # noqa: F811
    """The knowledge base of the mini shop, rebuilt on every check (refresh_seconds=0)."""
    cache = EmbeddingCache(tmp_path / "cache", encoder=default_encoder())
    return KnowledgeBase(mini_shop, faq_dir=faq_folder, cache=cache, refresh_seconds=0)
