"""The production profile's settings (kefu/production.py, endpoints.production.yml)."""

from __future__ import annotations

import re

import pytest
import yaml

from kefu.production import (
    PRODUCTION_ENDPOINTS,
    ROOT,
    ProfileError,
    apply_profile,
    endpoint_environment,
    endpoints_file,
    is_production,
)
from kefu_rasa.server import main

SERVICES = {
    "KEFU_PROFILE": "production",
    "KEFU_TRACKER_DB_URL": "postgresql://kefu:s%40cret@db.internal:6543/conversations",
    "KEFU_REDIS_URL": "redis://:pw@redis.internal:6380/2",
    "KEFU_BROKER_URL": "amqp://rasa:mq@mq.internal:5673/shop",
}


def test_one_setting_chooses_the_profile():
    assert not is_production({}) and endpoints_file({}) == "endpoints.yml"
    assert is_production({"KEFU_PROFILE": " Production "})
    assert endpoints_file(SERVICES) == PRODUCTION_ENDPOINTS
    embedded = {"KEFU_PROFILE": "development"}
    assert apply_profile(embedded) == "endpoints.yml"
    assert embedded == {"KEFU_PROFILE": "development"}


def test_service_urls_become_the_endpoint_variables():
    values = endpoint_environment(SERVICES)
    assert values["KEFU_TRACKER_DB_HOST"] == "db.internal"
    assert values["KEFU_TRACKER_DB_PORT"] == "6543"
    assert values["KEFU_TRACKER_DB_NAME"] == "conversations"
    assert values["KEFU_TRACKER_DB_USER"] == "kefu"
    assert values["KEFU_TRACKER_DB_PASSWORD"] == "s@cret"
    assert (values["KEFU_LOCK_HOST"], values["KEFU_LOCK_PORT"]) == ("redis.internal", "6380")
    assert (values["KEFU_LOCK_DB"], values["KEFU_LOCK_PASSWORD"]) == ("2", "pw")
    assert values["KEFU_BROKER_HOST"] == "amqp://mq.internal/shop"
    assert (values["KEFU_BROKER_PORT"], values["KEFU_BROKER_USER"]) == ("5673", "rasa")
    assert values["KEFU_BROKER_PASSWORD"] == "mq"
    assert values["KEFU_BROKER_QUEUE"] == "kefu_events"


def test_the_shop_database_serves_as_tracker_store_when_it_is_postgresql():
    env = {**SERVICES, "KEFU_DB_URL": "postgresql://shop@pg:5432/shop"}
    del env["KEFU_TRACKER_DB_URL"]
    assert endpoint_environment(env)["KEFU_TRACKER_DB_NAME"] == "shop"
    with pytest.raises(ProfileError, match="KEFU_TRACKER_DB_URL"):
        endpoint_environment({**env, "KEFU_DB_URL": "sqlite:///.kefu/shop.db"})


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("KEFU_REDIS_URL", "", "needs KEFU_REDIS_URL"),
        ("KEFU_BROKER_URL", "http://mq:5672/", "KEFU_BROKER_URL must look like"),
        ("KEFU_BROKER_URL", "amqp://mq:5672/", "must carry the user"),
        ("KEFU_TRACKER_DB_URL", "postgresql://pg:5432/", "must name a database"),
        ("KEFU_REDIS_URL", "redis://r:port/0", "not a number"),
        ("KEFU_REDIS_URL", "redis://r:6379/x", "database number"),
    ],
)
def test_a_missing_or_malformed_service_is_named(name, value, message):
    with pytest.raises(ProfileError, match=message):
        endpoint_environment({**SERVICES, name: value})


def test_the_launcher_refuses_production_without_its_services(monkeypatch, capsys):
    monkeypatch.setenv("KEFU_PROFILE", "production")
    monkeypatch.delenv("KEFU_REDIS_URL", raising=False)
    monkeypatch.setenv("KEFU_TRACKER_DB_URL", SERVICES["KEFU_TRACKER_DB_URL"])
    monkeypatch.setenv("KEFU_BROKER_URL", SERVICES["KEFU_BROKER_URL"])
    assert main(["-m", "models/kefu.tar.gz"]) == 2
    assert "KEFU_REDIS_URL" in capsys.readouterr().err


def _variables(path: str) -> set[str]:
    return set(re.findall(r"\$\{(\w+)\}", (ROOT / path).read_text(encoding="utf-8")))


def test_the_production_endpoints_name_exactly_the_derived_variables():
    derived = set(endpoint_environment(SERVICES))
    assert _variables(PRODUCTION_ENDPOINTS) == derived | {
        "KEFU_ACTION_SERVER_URL",
        "KEFU_ACTION_SECRET",
    }
    endpoints = yaml.safe_load((ROOT / PRODUCTION_ENDPOINTS).read_text(encoding="utf-8"))
    assert endpoints["tracker_store"]["type"] == "kefu_rasa.tracker_store.EncryptedTrackerStore"
    assert endpoints["tracker_store"]["dialect"] == "postgresql"
    assert endpoints["lock_store"]["type"] == "redis"
    assert endpoints["event_broker"]["type"] == "kefu_rasa.broker.PikaEventBroker"


def test_the_embedded_default_needs_no_service():
    endpoints = yaml.safe_load((ROOT / "endpoints.yml").read_text(encoding="utf-8"))
    assert endpoints["lock_store"] == {"type": "in_memory"}
    assert "event_broker" not in endpoints
